//! Webhook event envelopes, as TalkJS POSTs them to your endpoint.
//! Verify the signature with `talkjs-auth` before trusting an event.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// One webhook delivery: `{"id": …, "createdAt": ms, "type": "message.sent", "data": {…}}`.
///
/// `data` is kept as raw JSON; use [`WebhookEvent::data_as`] to decode it into a typed struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The event's id (TalkJS's `evt_…`), if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the event happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: WebhookEventType,
    /// The event's payload (shape depends on the type).
    #[serde(default)]
    pub data: serde_json::Value,
}

impl WebhookEvent {
    /// Decodes [`data`](Self::data) into a typed payload.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

/// The event types TalkJS documents. An unknown type is kept in [`WebhookEventType::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookEventType {
    /// `user.created`
    UserCreated,
    /// `user.updated`
    UserUpdated,
    /// `message.sent`
    MessageSent,
    /// `message.read`
    MessageRead,
    /// `message.updated`
    MessageUpdated,
    /// `message.deleted`
    MessageDeleted,
    /// `conversation.deleted`
    ConversationDeleted,
    /// `notification.triggered`
    NotificationTriggered,
    /// `notification.sent`
    NotificationSent,
    /// `notification.delivered`
    NotificationDelivered,
    /// `notification.bounced`
    NotificationBounced,
    /// `notification.opened`
    NotificationOpened,
    /// `notification.link.clicked`
    NotificationLinkClicked,
    /// A type this version of the crate does not know.
    Other(String),
}

impl WebhookEventType {
    /// The wire name, e.g. `"message.sent"`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::MessageSent => "message.sent",
            Self::MessageRead => "message.read",
            Self::MessageUpdated => "message.updated",
            Self::MessageDeleted => "message.deleted",
            Self::ConversationDeleted => "conversation.deleted",
            Self::NotificationTriggered => "notification.triggered",
            Self::NotificationSent => "notification.sent",
            Self::NotificationDelivered => "notification.delivered",
            Self::NotificationBounced => "notification.bounced",
            Self::NotificationOpened => "notification.opened",
            Self::NotificationLinkClicked => "notification.link.clicked",
            Self::Other(s) => s,
        }
    }

    fn from_wire(s: &str) -> Self {
        match s {
            "user.created" => Self::UserCreated,
            "user.updated" => Self::UserUpdated,
            "message.sent" => Self::MessageSent,
            "message.read" => Self::MessageRead,
            "message.updated" => Self::MessageUpdated,
            "message.deleted" => Self::MessageDeleted,
            "conversation.deleted" => Self::ConversationDeleted,
            "notification.triggered" => Self::NotificationTriggered,
            "notification.sent" => Self::NotificationSent,
            "notification.delivered" => Self::NotificationDelivered,
            "notification.bounced" => Self::NotificationBounced,
            "notification.opened" => Self::NotificationOpened,
            "notification.link.clicked" => Self::NotificationLinkClicked,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for WebhookEventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WebhookEventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_wire(&s))
    }
}
