//! Webhook events: [`WebhookEvent`].

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::util::string_enum;
use crate::{Conversation, Message, Timestamp, User};

/// Webhook events, as TalkJS POSTs them to your endpoint. Verify the signature with
/// `talkjs-auth` before trusting an event.
///
/// Every delivery is an envelope `{"id": "evt_…", "createdAt": ms, "type": "<event>",
/// "data": {…}}`. [`WebhookEvent`] decodes the envelope and types `data` by event type into
/// [`WebhookData`]. Decoding a delivery never fails because of its `data`: an event type this
/// crate does not know (TalkJS adds events over time), or a known type whose `data` does not
/// have the expected shape, becomes [`WebhookData::Other`] with the raw JSON, so a webhook
/// endpoint keeps answering 200.
///
/// TalkJS's documentation and official examples name the parts of the common events
/// (`message.sent`: `conversation`, `message`, `sender`; `message.read`: `conversation`,
/// `message`, `recipient`; `user.*`: `user`) but publish no complete payload, so every part
/// is optional and unknown fields are kept in an `extra` map.
///
/// One webhook delivery: `{"id": "evt_…", "createdAt": ms, "type": "message.sent",
/// "data": {…}}`.
///
/// ```
/// use talkjs_models::{WebhookData, WebhookEvent, WebhookEventType};
///
/// let body = r#"{"id":"evt_1","createdAt":1700000000000,"type":"message.sent",
///               "data":{"message":{"id":"msg_1","type":"UserMessage","conversationId":"c1",
///                                  "senderId":"alice","text":"hi","createdAt":1700000000000},
///                       "sender":{"id":"alice","name":"Alice","role":"buyer",
///                                 "createdAt":1600000000000}}}"#;
/// let event: WebhookEvent = serde_json::from_str(body).unwrap();
/// assert_eq!(event.event_type, WebhookEventType::MessageSent);
/// match &event.data {
///     WebhookData::MessageSent(sent) => {
///         assert_eq!(sent.message.as_ref().unwrap().text.as_deref(), Some("hi"));
///         assert_eq!(sent.sender.as_ref().unwrap().role.as_deref(), Some("buyer"));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
///
/// // A type this crate does not know is kept, not refused.
/// let future: WebhookEvent =
///     serde_json::from_str(r#"{"id":"evt_2","type":"reaction.added","data":{"emoji":"👍"}}"#)
///         .unwrap();
/// let WebhookData::Other(raw) = &future.data else { panic!() };
/// assert_eq!(raw.event_type, "reaction.added");
/// assert_eq!(raw.data["emoji"], "👍");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The event's id (TalkJS's `evt_…`), if sent; the same on a retried delivery, so it
    /// serves to drop duplicates.
    pub id: Option<String>,
    /// When the event happened.
    pub created_at: Option<Timestamp>,
    /// What happened (the `type` field). Kept in step with [`data`](Self::data) by
    /// decoding and [`WebhookEvent::new`].
    pub event_type: WebhookEventType,
    /// The payload, typed by event type.
    pub data: WebhookData,
}

impl WebhookEvent {
    /// An event of `event_type` with payload `data`, typed as decoding would (for servers and
    /// tests).
    pub fn new(event_type: WebhookEventType, data: Value) -> Self {
        let data = WebhookData::decode(&event_type, data);
        Self {
            id: None,
            created_at: None,
            event_type,
            data,
        }
    }

    /// The payload as raw JSON (as it would be sent).
    pub fn data_json(&self) -> Value {
        self.data.to_json()
    }

    /// Decodes the payload into a type of your own (or another of this crate's payload
    /// types), via its JSON.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.data_json())
    }
}

/// The envelope as it is on the wire.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    #[serde(rename = "type")]
    event_type: WebhookEventType,
    #[serde(default)]
    data: Value,
}

impl Serialize for WebhookEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Envelope {
            id: self.id.clone(),
            created_at: self.created_at,
            event_type: self.event_type.clone(),
            data: self.data_json(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for WebhookEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let envelope = Envelope::deserialize(d)?;
        let mut event = Self::new(envelope.event_type, envelope.data);
        event.id = envelope.id;
        event.created_at = envelope.created_at;
        Ok(event)
    }
}

/// The payload of a [`WebhookEvent`], typed by event type.
///
/// `Other` holds what this crate could not type: an unknown event type, or a known one
/// whose data did not decode (its [`RawWebhookData::error`] says why).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WebhookData {
    /// `user.created`
    UserCreated(UserEventData),
    /// `user.updated`
    UserUpdated(UserEventData),
    /// `message.sent`
    MessageSent(MessageSentData),
    /// `message.read`: [`MessageReadData::recipient`] is the reader.
    MessageRead(MessageReadData),
    /// `message.updated`
    MessageUpdated(MessageEventData),
    /// `message.deleted`
    MessageDeleted(MessageEventData),
    /// `conversation.deleted`
    ConversationDeleted(ConversationEventData),
    /// One of the `notification.*` events ([`WebhookEvent::event_type`] says which).
    Notification(NotificationEventData),
    /// An event this crate does not know, or whose data it could not decode, as sent.
    Other(RawWebhookData),
}

impl WebhookData {
    /// Types `data` according to `event_type`; never fails (see [`WebhookData::Other`]).
    pub fn decode(event_type: &WebhookEventType, data: Value) -> Self {
        use WebhookEventType as T;

        fn typed<P: serde::de::DeserializeOwned>(
            event_type: &WebhookEventType,
            data: Value,
            wrap: fn(P) -> WebhookData,
        ) -> WebhookData {
            // A missing or null `data` is an event with no parts.
            let empty = Value::Object(serde_json::Map::new());
            let input = if data.is_null() { &empty } else { &data };
            match P::deserialize(input) {
                Ok(payload) => wrap(payload),
                Err(e) => WebhookData::Other(RawWebhookData {
                    event_type: event_type.as_str().to_owned(),
                    data,
                    error: Some(e.to_string()),
                }),
            }
        }

        match event_type {
            T::UserCreated => typed(event_type, data, Self::UserCreated),
            T::UserUpdated => typed(event_type, data, Self::UserUpdated),
            T::MessageSent => typed(event_type, data, Self::MessageSent),
            T::MessageRead => typed(event_type, data, Self::MessageRead),
            T::MessageUpdated => typed(event_type, data, Self::MessageUpdated),
            T::MessageDeleted => typed(event_type, data, Self::MessageDeleted),
            T::ConversationDeleted => typed(event_type, data, Self::ConversationDeleted),
            T::NotificationTriggered
            | T::NotificationSent
            | T::NotificationDelivered
            | T::NotificationBounced
            | T::NotificationOpened
            | T::NotificationLinkClicked => typed(event_type, data, Self::Notification),
            T::Other(name) => Self::Other(RawWebhookData {
                event_type: name.clone(),
                data,
                error: None,
            }),
        }
    }

    /// The payload as JSON (typed payloads re-encoded, raw ones as received).
    pub fn to_json(&self) -> Value {
        let encoded = match self {
            Self::UserCreated(d) | Self::UserUpdated(d) => serde_json::to_value(d),
            Self::MessageSent(d) | Self::MessageUpdated(d) | Self::MessageDeleted(d) => {
                serde_json::to_value(d)
            }
            Self::MessageRead(d) => serde_json::to_value(d),
            Self::ConversationDeleted(d) => serde_json::to_value(d),
            Self::Notification(d) => serde_json::to_value(d),
            Self::Other(raw) => return raw.data.clone(),
        };
        // The payload types hold only maps with string keys and plain values, which always
        // encode; `null` is an unreachable fallback.
        encoded.unwrap_or(Value::Null)
    }
}

/// The payload of an event this crate could not type, as sent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RawWebhookData {
    /// The `type` string, e.g. `"reaction.added"`.
    pub event_type: String,
    /// The `data` field as sent (`null` if absent).
    pub data: Value,
    /// For a known event type whose data did not decode: why. `None` for an unknown type.
    pub error: Option<String>,
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

/// Payload of `user.created` and `user.updated`: `{"user": {…}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserEventData {
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// Payload of `message.sent` (`{conversation, message, sender}`), `message.updated` and
/// `message.deleted`.
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
    /// The sender, with their `role` (absent for system messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<User>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The payload of `message.sent` (same shape as the other message events).
pub type MessageSentData = MessageEventData;

/// Payload of `message.read`: `{conversation, message, recipient}`, where `recipient` is
/// the user who read the message (sent at most once per member other than the sender, and
/// only in conversations of at most 300 participants).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageReadData {
    /// The conversation, with its participants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// The message that was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    /// The user who read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<User>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

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
    pub extra: serde_json::Map<String, Value>,
}

/// Payload of the `notification.*` events. No TalkJS doc shows it: the fields below are
/// read when present and everything else is kept in [`extra`](Self::extra).
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
    pub extra: serde_json::Map<String, Value>,
}
