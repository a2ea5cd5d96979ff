//! Webhook event envelopes, as TalkJS POSTs them to your endpoint, and typed payloads for
//! the common events. Verify the signature with `talkjs-auth` before trusting an event.
//!
//! The payload shapes are only partly documented, so every payload field is optional and
//! unknown fields are kept in an `extra` map.

use serde::{Deserialize, Serialize};

use crate::util::string_enum;
use crate::{Conversation, Message, Timestamp, User};

/// One webhook delivery: `{"id": …, "createdAt": ms, "type": "message.sent", "data": {…}}`.
///
/// `data` is kept as raw JSON; use [`WebhookEvent::data_as`] to decode it into a typed
/// payload such as [`MessageEventData`].
///
/// ```
/// use talkjs_models::{MessageEventData, WebhookEvent, WebhookEventType};
///
/// let body = r#"{"id":"evt_1","createdAt":1700000000000,"type":"message.sent",
///               "data":{"message":{"id":"msg_1","type":"UserMessage","conversationId":"c1",
///                                  "senderId":"alice","text":"hi","createdAt":1700000000000}}}"#;
/// let event: WebhookEvent = serde_json::from_str(body).unwrap();
/// assert_eq!(event.event_type, WebhookEventType::MessageSent);
/// let data: MessageEventData = event.data_as().unwrap();
/// assert_eq!(data.message.unwrap().text.as_deref(), Some("hi"));
/// ```
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
    /// An event of `event_type` with payload `data` (for servers and tests).
    pub fn new(event_type: WebhookEventType, data: serde_json::Value) -> Self {
        Self {
            id: None,
            created_at: None,
            event_type,
            data,
        }
    }

    /// Decodes [`data`](Self::data) into a typed payload.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}

string_enum! {
    /// The event types TalkJS documents. An unknown type is kept in
    /// [`WebhookEventType::Other`].
    pub enum WebhookEventType {
        /// `user.created`
        UserCreated => "user.created",
        /// `user.updated`
        UserUpdated => "user.updated",
        /// `message.sent`
        MessageSent => "message.sent",
        /// `message.read`
        MessageRead => "message.read",
        /// `message.updated`
        MessageUpdated => "message.updated",
        /// `message.deleted`
        MessageDeleted => "message.deleted",
        /// `conversation.deleted`
        ConversationDeleted => "conversation.deleted",
        /// `notification.triggered`
        NotificationTriggered => "notification.triggered",
        /// `notification.sent`
        NotificationSent => "notification.sent",
        /// `notification.delivered`
        NotificationDelivered => "notification.delivered",
        /// `notification.bounced`
        NotificationBounced => "notification.bounced",
        /// `notification.opened`
        NotificationOpened => "notification.opened",
        /// `notification.link.clicked`
        NotificationLinkClicked => "notification.link.clicked",
    }
}

/// Payload of `user.created` and `user.updated`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserEventData {
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Payload of `message.sent`, `message.read`, `message.updated` and `message.deleted`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageEventData {
    /// The conversation, with its participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// The sender (absent for system messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<User>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The payload of `message.sent` (same shape as the other message events).
pub type MessageSentData = MessageEventData;

/// Payload of `conversation.deleted`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationEventData {
    /// The deleted conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Payload of the `notification.*` events (shape unconfirmed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NotificationEventData {
    /// The user being notified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<User>,
    /// The conversation the notification is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// The messages the notification covers.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::util::null_as_default"
    )]
    pub messages: Vec<Message>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
