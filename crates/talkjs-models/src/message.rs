//! Messages: the [`Message`] object and the bodies of the send, edit and import calls.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::util::{custom_setters, null_as_default, string_enum};
use crate::{ContentBlock, ConversationId, Custom, MessageId, Patch, Timestamp, UserId};

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
/// `custom: null` decode as empty. Unknown fields are ignored; `content` is decoded into
/// typed blocks (unknown block types kept as they came), and `reactions` is kept as it
/// came.
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
    /// The reactions, as the server sent them (`None` when it sent none): an object keyed by
    /// emoji. TalkJS's official transfer example reads only its keys (then lists who reacted
    /// with each emoji); no TalkJS doc shows the values, so the field stays raw JSON. The
    /// fake server sends the ids of the users who reacted, e.g. `{"👍": ["alice", "bob"]}`.
    /// [`reaction_emojis`](Self::reaction_emojis) gives the keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<serde_json::Value>,
    /// The content blocks (text, files, locations), which newer messages carry next to, or
    /// instead of, `text`, `attachment` and `location`; `None` when the server sent none.
    /// See [`ContentBlock`]: a block of an unknown type is kept, not an error; a `content`
    /// that is not an array decodes as `None`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "content_blocks"
    )]
    pub content: Option<Vec<ContentBlock>>,
}

/// Decodes `content`: an array of blocks, or `None` for `null` or any other value.
fn content_blocks<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<ContentBlock>>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(items) => {
            Some(items.into_iter().map(ContentBlock::from_value).collect())
        }
        _ => None,
    })
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
            content: None,
        }
    }

    /// The emoji of the message's reactions (the keys of [`reactions`](Self::reactions)),
    /// empty when it has none or they are not an object.
    ///
    /// ```
    /// let m: talkjs_models::Message = serde_json::from_value(serde_json::json!({
    ///     "id": "msg_1", "type": "UserMessage", "conversationId": "c", "createdAt": 1,
    ///     "reactions": {"👍": ["bob"], "🎉": ["carol"]}
    /// })).unwrap();
    /// assert_eq!(m.reaction_emojis(), ["🎉", "👍"]);
    /// ```
    pub fn reaction_emojis(&self) -> Vec<&str> {
        match &self.reactions {
            Some(serde_json::Value::Object(map)) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
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
/// [`NewMessage::user`] and [`NewMessage::system`] both return a `NewMessage`, so user and
/// system messages go in one list as they are, and the builder methods chain on either:
/// [`idempotency_key`](Self::idempotency_key), [`attachment_token`](Self::attachment_token),
/// [`custom`](Self::custom) and [`custom_field`](Self::custom_field) on both;
/// [`referenced_message_id`](Self::referenced_message_id) and [`location`](Self::location)
/// on user messages (TalkJS allows neither on a system message: on one they change
/// nothing). To have the compiler keep those two off system messages, build a
/// [`NewUserMessage`] or [`NewSystemMessage`] instead; both convert into `NewMessage`, and
/// the send calls take either.
///
/// ```
/// use talkjs_models::NewMessage;
///
/// let batch = [
///     NewMessage::user("alice", "hi").idempotency_key("k1"),
///     NewMessage::system("Alice joined").custom([("kind", "join")]),
/// ];
/// assert!(batch[0].has_idempotency_key());
/// assert!(!batch[1].has_idempotency_key());
/// assert_eq!(
///     serde_json::to_string(&batch).unwrap(),
///     r#"[{"type":"UserMessage","sender":"alice","text":"hi","idempotencyKey":"k1"},{"type":"SystemMessage","text":"Alice joined","custom":{"kind":"join"}}]"#
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
    pub fn user(sender: impl Into<UserId>, text: impl Into<String>) -> Self {
        Self::User(NewUserMessage::new(sender, text))
    }

    /// A system message with `text`.
    pub fn system(text: impl Into<String>) -> Self {
        Self::System(NewSystemMessage::new(text))
    }

    /// Whether the message carries an idempotency key. A send request whose messages all
    /// carry one is safe to retry, and to send again after an unknown outcome.
    pub fn has_idempotency_key(&self) -> bool {
        match self {
            Self::User(m) => m.idempotency_key.is_some(),
            Self::System(m) => m.idempotency_key.is_some(),
        }
    }

    /// Sets an idempotency key: re-sending a message with the same key does not create a
    /// duplicate, which makes the POST safe to retry (and to send again after an unknown
    /// outcome, with the same key).
    #[must_use]
    pub fn idempotency_key(self, key: impl Into<String>) -> Self {
        match self {
            Self::User(m) => Self::User(m.idempotency_key(key)),
            Self::System(m) => Self::System(m.idempotency_key(key)),
        }
    }

    /// Attaches an uploaded file (the token from [`UploadedFile`]).
    #[must_use]
    pub fn attachment_token(self, token: impl Into<String>) -> Self {
        match self {
            Self::User(m) => Self::User(m.attachment_token(token)),
            Self::System(m) => Self::System(m.attachment_token(token)),
        }
    }

    /// Sets the whole custom map from any list of pairs (a [`Custom`](crate::Custom) map,
    /// an array of tuples, ...).
    #[must_use]
    pub fn custom<I, K, V>(self, custom: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        match self {
            Self::User(m) => Self::User(m.custom(custom)),
            Self::System(m) => Self::System(m.custom(custom)),
        }
    }

    /// Adds one custom key.
    #[must_use]
    pub fn custom_field(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        match self {
            Self::User(m) => Self::User(m.custom_field(key, value)),
            Self::System(m) => Self::System(m.custom_field(key, value)),
        }
    }

    /// Makes a user message a reply to `message`. A system message cannot be a reply: it is
    /// returned unchanged.
    #[must_use]
    pub fn referenced_message_id(self, message: impl Into<MessageId>) -> Self {
        match self {
            Self::User(m) => Self::User(m.referenced_message_id(message)),
            system @ Self::System(_) => system,
        }
    }

    /// Shares a location (degrees) with a user message. A system message cannot carry one:
    /// it is returned unchanged.
    #[must_use]
    pub fn location(self, latitude: f64, longitude: f64) -> Self {
        match self {
            Self::User(m) => Self::User(m.location(latitude, longitude)),
            system @ Self::System(_) => system,
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

/// One item of `POST /import/conversations/{id}/messages` (an array of at most 10 per the
/// Import reference page; TalkJS's official transfer example sends up to 100).
///
/// Imported messages are user messages with an explicit timestamp and read state; they are
/// **not deduplicated** (re-running an import duplicates messages) and trigger no
/// notifications.
///
/// Two shapes, both from TalkJS:
///
/// * **The reference page's** (the default, [`ImportMessage::new`]): `text`, `timestamp`
///   and `readBy` (always sent, `[]` if empty), optionally `attachmentToken` and `custom`.
/// * **The transfer example's**, used as soon as [`content`](Self::content) blocks are set
///   ([`ImportMessage::with_content`]): `createdAt` instead of `timestamp`, the `content`
///   blocks (a file as `{"type": "file", "fileToken": …}`, see
///   [`FileBlock::from_token`](crate::FileBlock::from_token)), and `text` and `readBy` only
///   when they are not empty (the example sends neither; it restores read state with a
///   participant PATCH of `readUntil`). The reference page does not list these fields:
///   whether TalkJS keeps `readBy` next to them is unconfirmed.
///
/// Decoding accepts both (`timestamp` or `createdAt`; `text` may be missing when `content`
/// is there).
///
/// ```
/// use talkjs_models::{ContentBlock, FileBlock, ImportMessage, LocationBlock, TextBlock, Timestamp};
///
/// let item = ImportMessage::new("alice", "old hello", Timestamp::from_millis(1_600_000_000_000))
///     .read_by(["bob"]);
/// assert_eq!(
///     serde_json::to_string(&item).unwrap(),
///     r#"{"type":"UserMessage","sender":"alice","text":"old hello","timestamp":1600000000000,"readBy":["bob"]}"#
/// );
///
/// let blocks = vec![ContentBlock::from(FileBlock::from_token("tok_1"))];
/// let item = ImportMessage::with_content("alice", blocks, Timestamp::from_millis(1_600_000_000_000));
/// assert_eq!(
///     serde_json::to_string(&item).unwrap(),
///     r#"{"type":"UserMessage","sender":"alice","createdAt":1600000000000,"content":[{"type":"file","fileToken":"tok_1"}]}"#
/// );
/// # let _ = (TextBlock::plain("x"), LocationBlock::new(0.0, 0.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ImportMessage {
    /// The sender (must be a participant).
    pub sender: UserId,
    /// The text (may be empty when [`content`](Self::content) is set).
    pub text: String,
    /// When the message was originally sent (`timestamp`, or `createdAt` in the transfer
    /// example's shape).
    pub timestamp: Timestamp,
    /// Who has read it.
    pub read_by: Vec<UserId>,
    /// An uploaded file to attach.
    pub attachment_token: Option<String>,
    /// Your own string data.
    pub custom: Custom,
    /// Content blocks; when set, the item is sent in the transfer example's shape.
    pub content: Option<Vec<ContentBlock>>,
}

impl ImportMessage {
    /// A message from `sender` with `text`, originally sent at `timestamp`, read by nobody
    /// (the reference page's shape).
    pub fn new(sender: impl Into<UserId>, text: impl Into<String>, timestamp: Timestamp) -> Self {
        Self {
            sender: sender.into(),
            text: text.into(),
            timestamp,
            read_by: Vec::new(),
            attachment_token: None,
            custom: Custom::new(),
            content: None,
        }
    }

    /// A message from `sender` made of content blocks, originally sent at `created_at` (the
    /// transfer example's shape: `createdAt` and `content`).
    pub fn with_content(
        sender: impl Into<UserId>,
        content: Vec<ContentBlock>,
        created_at: Timestamp,
    ) -> Self {
        Self::new(sender, "", created_at).content(content)
    }

    /// Sets who has read the message.
    #[must_use]
    pub fn read_by<I: IntoIterator<Item = U>, U: Into<UserId>>(mut self, users: I) -> Self {
        self.read_by = users.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the content blocks (the item is then sent in the transfer example's shape).
    #[must_use]
    pub fn content(mut self, blocks: Vec<ContentBlock>) -> Self {
        self.content = Some(blocks);
        self
    }

    message_setters!(attachment);
    custom_setters!(map);
}

/// The wire form of an [`ImportMessage`], for encoding.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportOut<'a> {
    #[serde(rename = "type")]
    kind: UserMessageTag,
    sender: &'a UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_by: Option<&'a [UserId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attachment_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Custom::is_empty")]
    custom: &'a Custom,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a [ContentBlock]>,
}

impl Serialize for ImportMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let reference = self.content.is_none();
        ImportOut {
            kind: UserMessageTag,
            sender: &self.sender,
            text: (reference || !self.text.is_empty()).then_some(self.text.as_str()),
            timestamp: reference.then_some(self.timestamp),
            created_at: (!reference).then_some(self.timestamp),
            read_by: (reference || !self.read_by.is_empty()).then_some(self.read_by.as_slice()),
            attachment_token: self.attachment_token.as_deref(),
            custom: &self.custom,
            content: self.content.as_deref(),
        }
        .serialize(s)
    }
}

/// The wire form of an [`ImportMessage`], for decoding (either shape).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportIn {
    #[serde(rename = "type")]
    _kind: UserMessageTag,
    sender: UserId,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    timestamp: Option<Timestamp>,
    #[serde(default)]
    created_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "null_as_default")]
    read_by: Vec<UserId>,
    #[serde(default)]
    attachment_token: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    custom: Custom,
    #[serde(default)]
    content: Option<Vec<ContentBlock>>,
}

impl<'de> Deserialize<'de> for ImportMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = ImportIn::deserialize(d)?;
        let timestamp = wire
            .timestamp
            .or(wire.created_at)
            .ok_or_else(|| de::Error::missing_field("timestamp"))?;
        let text = match (wire.text, &wire.content) {
            (Some(text), _) => text,
            (None, Some(_)) => String::new(),
            (None, None) => return Err(de::Error::missing_field("text")),
        };
        Ok(Self {
            sender: wire.sender,
            text,
            timestamp,
            read_by: wire.read_by,
            attachment_token: wire.attachment_token,
            custom: wire.custom,
            content: wire.content,
        })
    }
}

/// Response of the file upload (`POST /files`, multipart): the token that attaches the file
/// to a message (a message's `attachmentToken`, or a file content block's `fileToken`).
///
/// No TalkJS reference page shows this answer. TalkJS's official transfer example
/// (talkjs-examples, `rest-api/transfer-data/transferData.js`) reads the token from
/// `fileToken`; third-party specs name it `attachmentToken`. Both decode (`fileToken` wins
/// when both are there); it encodes as `fileToken`, the official example's name.
///
/// ```
/// use talkjs_models::UploadedFile;
///
/// let official: UploadedFile = serde_json::from_str(r#"{"fileToken":"tok_1"}"#).unwrap();
/// let other: UploadedFile = serde_json::from_str(r#"{"attachmentToken":"tok_1"}"#).unwrap();
/// assert_eq!(official, other);
/// assert_eq!(official.token(), "tok_1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadedFile {
    /// The token (sent as `fileToken` or `attachmentToken`); also [`token`](Self::token).
    pub attachment_token: String,
}

impl UploadedFile {
    /// Wraps a token (for servers and tests).
    pub fn new(attachment_token: impl Into<String>) -> Self {
        Self {
            attachment_token: attachment_token.into(),
        }
    }

    /// The token: put it in a message's `attachmentToken`
    /// ([`NewUserMessage::attachment_token`], [`ImportMessage::attachment_token`]) or in a
    /// file block ([`FileBlock::from_token`](crate::FileBlock::from_token)).
    pub fn token(&self) -> &str {
        &self.attachment_token
    }
}

impl Serialize for UploadedFile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("fileToken", &self.attachment_token)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for UploadedFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(default)]
            file_token: Option<String>,
            #[serde(default)]
            attachment_token: Option<String>,
        }
        let wire = Wire::deserialize(d)?;
        wire.file_token
            .or(wire.attachment_token)
            .map(UploadedFile::new)
            .ok_or_else(|| de::Error::missing_field("fileToken"))
    }
}
