//! Messages: the [`Message`] object and the bodies of the send, edit and import calls.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::util::{custom_setters, null_as_default, string_enum};
use crate::{ConversationId, Custom, MessageId, Patch, Timestamp, UserId};

string_enum! {
    /// The kind of a message.
    pub enum MessageType {
        /// `"UserMessage"`: sent by a user.
        UserMessage => "UserMessage",
        /// `"SystemMessage"`: sent by your backend, without a sender; never notifies.
        SystemMessage => "SystemMessage",
    }
}

string_enum! {
    /// Where a message came from.
    pub enum MessageOrigin {
        /// `"web"`: a TalkJS UI.
        Web => "web",
        /// `"rest"`: the REST API.
        Rest => "rest",
        /// `"email"`: a reply by email.
        Email => "email",
        /// `"import"`: the import endpoint.
        Import => "import",
    }
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Attachment {
    /// Where to download the file.
    pub url: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
}

impl Attachment {
    /// An attachment at `url` of `size` bytes (for servers and tests).
    pub fn new(url: impl Into<String>, size: Option<u64>) -> Self {
        Self {
            url: url.into(),
            size,
        }
    }
}

/// A geographic location. On the wire it is a `[latitude, longitude]` array.
///
/// TalkJS's Messages concept page calls the pair "the longitude and latitude, respectively",
/// but its example `[51.481083, -3.178306]` (Cardiff) is latitude first, as here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
}

impl Location {
    /// The location at `latitude`, `longitude` (degrees).
    pub const fn new(latitude: f64, longitude: f64) -> Self {
        Self {
            latitude,
            longitude,
        }
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.latitude, self.longitude).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (latitude, longitude) = <(f64, f64)>::deserialize(d)?;
        Ok(Self::new(latitude, longitude))
    }
}

/// A message as the message endpoints (and `Conversation::last_message`) return it.
///
/// Nullable fields decode `null` and a missing field alike as `None`; `readBy: null` and
/// `custom: null` decode as empty. Unknown fields (such as `content` on newer API versions)
/// are ignored; `reactions`, which no TalkJS doc describes, is kept as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Message {
    /// The message's id (`msg_…`).
    pub id: MessageId,
    /// User or system message.
    #[serde(rename = "type")]
    pub message_type: MessageType,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// The sender; `None` for system messages.
    #[serde(default)]
    pub sender_id: Option<UserId>,
    /// The text (with TalkJS formatting markup), if any.
    #[serde(default)]
    pub text: Option<String>,
    /// The attached file, if any.
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// The shared location, if any.
    #[serde(default)]
    pub location: Option<Location>,
    /// Where the message came from.
    #[serde(default)]
    pub origin: Option<MessageOrigin>,
    /// The users who have read the message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_by: Vec<UserId>,
    /// When the message was sent.
    pub created_at: Timestamp,
    /// When the message was last edited, if ever.
    #[serde(default)]
    pub edited_at: Option<Timestamp>,
    /// Your own string data.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom: Custom,
    /// The message this one replies to, if any.
    #[serde(default)]
    pub referenced_message_id: Option<MessageId>,
    /// The reactions, as the server sent them (`None` when it sent none). No official
    /// TalkJS doc describes reactions (this field's shape nor the reaction endpoints), so
    /// this stays raw JSON; the fake server sends an object of emoji to the ids of the users
    /// who reacted, e.g. `{"👍": ["alice", "bob"]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<serde_json::Value>,
}

impl Message {
    /// A message with the given identity and every other field empty (for servers and tests;
    /// clients receive this type).
    pub fn new(
        id: impl Into<MessageId>,
        message_type: MessageType,
        conversation_id: impl Into<ConversationId>,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id: id.into(),
            message_type,
            conversation_id: conversation_id.into(),
            sender_id: None,
            text: None,
            attachment: None,
            location: None,
            origin: None,
            read_by: Vec::new(),
            created_at,
            edited_at: None,
            custom: Custom::new(),
            referenced_message_id: None,
            reactions: None,
        }
    }
}

/// Expands, inside the `impl` of a message body, to shared setters:
/// `message_setters!(attachment)` gives `attachment_token(..)`;
/// `message_setters!(idempotency)` gives `idempotency_key(..)`.
macro_rules! message_setters {
    (attachment) => {
        /// Attaches an uploaded file (the token from [`UploadedFile`]).
        #[must_use]
        pub fn attachment_token(mut self, token: impl Into<String>) -> Self {
            self.attachment_token = Some(token.into());
            self
        }
    };
    (idempotency) => {
        /// Sets an idempotency key: re-sending a message with the same key does not create a
        /// duplicate, which makes the POST safe to retry.
        #[must_use]
        pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
            self.idempotency_key = Some(key.into());
            self
        }
    };
}

/// A user message to send: one item of the `POST /conversations/{id}/messages` array.
/// Build it with [`NewMessage::user`] or [`NewUserMessage::new`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewUserMessage {
    /// The sender (must be a participant).
    pub sender: UserId,
    /// The text (TalkJS formatting markup allowed).
    pub text: String,
    /// Makes the message a reply to this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_message_id: Option<MessageId>,
    /// Your own string data.
    #[serde(default, skip_serializing_if = "Custom::is_empty")]
    pub custom: Custom,
    /// Deduplication key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// An uploaded file to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_token: Option<String>,
    /// A location to share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl NewUserMessage {
    /// A message from `sender` with `text`.
    pub fn new(sender: impl Into<UserId>, text: impl Into<String>) -> Self {
        Self {
            sender: sender.into(),
            text: text.into(),
            referenced_message_id: None,
            custom: Custom::new(),
            idempotency_key: None,
            attachment_token: None,
            location: None,
        }
    }

    /// Makes the message a reply to `message`.
    #[must_use]
    pub fn referenced_message_id(mut self, message: impl Into<MessageId>) -> Self {
        self.referenced_message_id = Some(message.into());
        self
    }

    /// Shares a location (degrees).
    #[must_use]
    pub fn location(mut self, latitude: f64, longitude: f64) -> Self {
        self.location = Some(Location::new(latitude, longitude));
        self
    }

    message_setters!(idempotency);
    message_setters!(attachment);
    custom_setters!(map);
}

/// A system message to send (no sender, never notifies; attachments allowed, location and
/// replies not). Build it with [`NewMessage::system`] or [`NewSystemMessage::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NewSystemMessage {
    /// The text (TalkJS formatting markup allowed).
    pub text: String,
    /// Your own string data.
    #[serde(default, skip_serializing_if = "Custom::is_empty")]
    pub custom: Custom,
    /// Deduplication key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// An uploaded file to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_token: Option<String>,
}

impl NewSystemMessage {
    /// A system message with `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            custom: Custom::new(),
            idempotency_key: None,
            attachment_token: None,
        }
    }

    message_setters!(idempotency);
    message_setters!(attachment);
    custom_setters!(map);
}

/// One item of the `POST /conversations/{id}/messages` body (always sent as an array of at
/// most 10): `{"type": "UserMessage", …}` or `{"type": "SystemMessage", …}`.
///
/// The constructors return the specific builder, so that user-only settings (location,
/// replies) cannot be put on a system message; both convert into `NewMessage`.
///
/// ```
/// use talkjs_models::NewMessage;
///
/// let batch: Vec<NewMessage> = vec![
///     NewMessage::user("alice", "hi").idempotency_key("k1").into(),
///     NewMessage::system("Alice joined").into(),
/// ];
/// assert_eq!(batch[0].idempotency_key(), Some("k1"));
/// assert_eq!(
///     serde_json::to_string(&batch).unwrap(),
///     r#"[{"type":"UserMessage","sender":"alice","text":"hi","idempotencyKey":"k1"},{"type":"SystemMessage","text":"Alice joined"}]"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum NewMessage {
    /// `"type": "UserMessage"`.
    #[serde(rename = "UserMessage")]
    User(NewUserMessage),
    /// `"type": "SystemMessage"`.
    #[serde(rename = "SystemMessage")]
    System(NewSystemMessage),
}

impl NewMessage {
    /// A user message from `sender` with `text`.
    pub fn user(sender: impl Into<UserId>, text: impl Into<String>) -> NewUserMessage {
        NewUserMessage::new(sender, text)
    }

    /// A system message with `text`.
    pub fn system(text: impl Into<String>) -> NewSystemMessage {
        NewSystemMessage::new(text)
    }

    /// The idempotency key, if set. A send request whose messages all carry one is safe to
    /// retry.
    pub fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::User(m) => m.idempotency_key.as_deref(),
            Self::System(m) => m.idempotency_key.as_deref(),
        }
    }
}

impl From<NewUserMessage> for NewMessage {
    fn from(m: NewUserMessage) -> Self {
        Self::User(m)
    }
}

impl From<NewSystemMessage> for NewMessage {
    fn from(m: NewSystemMessage) -> Self {
        Self::System(m)
    }
}

/// One item of the send response: the id TalkJS gave the message (same order as sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentMessage {
    /// The new message's id.
    pub id: MessageId,
}

impl SentMessage {
    /// Wraps an id (for servers and tests).
    pub fn new(id: impl Into<MessageId>) -> Self {
        Self { id: id.into() }
    }
}

/// Body of `PUT /conversations/{id}/messages/{messageId}`: edit a message (sets
/// `editedAt`). Both fields are [`Patch`]es: omitted fields keep their values.
///
/// ```
/// use talkjs_models::MessageEdit;
///
/// let body = MessageEdit::new().text("fixed typo").clear_custom();
/// assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"text":"fixed typo","custom":null}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageEdit {
    /// The new text.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub text: Patch<String>,
    /// Your own string data.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub custom: Patch<Custom>,
}

impl MessageEdit {
    /// An empty edit: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the text.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Patch::Set(text.into());
        self
    }

    custom_setters!(patch);
}

/// The `"type": "UserMessage"` of an import item: the only type the import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct UserMessageTag;

impl Serialize for UserMessageTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("UserMessage")
    }
}

impl<'de> Deserialize<'de> for UserMessageTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tag = MessageType::deserialize(d)?;
        if tag == MessageType::UserMessage {
            Ok(Self)
        } else {
            Err(de::Error::invalid_value(
                de::Unexpected::Str(tag.as_str()),
                &"\"UserMessage\" (the import accepts user messages only)",
            ))
        }
    }
}

/// One item of `POST /import/conversations/{id}/messages` (an array of at most 10).
///
/// Imported messages are user messages with an explicit timestamp and read state; they are
/// **not deduplicated** (re-running an import duplicates messages) and trigger no
/// notifications. `readBy` is always sent (`[]` if empty).
///
/// ```
/// use talkjs_models::{ImportMessage, Timestamp};
///
/// let item = ImportMessage::new("alice", "old hello", Timestamp::from_millis(1_600_000_000_000))
///     .read_by(["bob"]);
/// assert_eq!(
///     serde_json::to_string(&item).unwrap(),
///     r#"{"type":"UserMessage","sender":"alice","text":"old hello","timestamp":1600000000000,"readBy":["bob"]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImportMessage {
    #[serde(rename = "type")]
    kind: UserMessageTag,
    /// The sender (must be a participant).
    pub sender: UserId,
    /// The text.
    pub text: String,
    /// When the message was originally sent.
    pub timestamp: Timestamp,
    /// Who has read it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_by: Vec<UserId>,
    /// An uploaded file to attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_token: Option<String>,
    /// Your own string data.
    #[serde(default, skip_serializing_if = "Custom::is_empty")]
    pub custom: Custom,
}

impl ImportMessage {
    /// A message from `sender` with `text`, originally sent at `timestamp`, read by nobody.
    pub fn new(sender: impl Into<UserId>, text: impl Into<String>, timestamp: Timestamp) -> Self {
        Self {
            kind: UserMessageTag,
            sender: sender.into(),
            text: text.into(),
            timestamp,
            read_by: Vec::new(),
            attachment_token: None,
            custom: Custom::new(),
        }
    }

    /// Sets who has read the message.
    #[must_use]
    pub fn read_by<I: IntoIterator<Item = U>, U: Into<UserId>>(mut self, users: I) -> Self {
        self.read_by = users.into_iter().map(Into::into).collect();
        self
    }

    message_setters!(attachment);
    custom_setters!(map);
}

/// Response of the file upload (`POST /files`, multipart): the token to put in a message's
/// `attachmentToken`.
///
/// No official TalkJS doc shows this endpoint or its answer (the shape comes from a
/// third-party spec): if TalkJS answers differently, look here first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UploadedFile {
    /// The attachment token.
    pub attachment_token: String,
}

impl UploadedFile {
    /// Wraps a token (for servers and tests).
    pub fn new(attachment_token: impl Into<String>) -> Self {
        Self {
            attachment_token: attachment_token.into(),
        }
    }
}
