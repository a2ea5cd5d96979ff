//! Conversations: the [`Conversation`] object, the per-user [`UserConversation`] list item,
//! the [`ConversationUpsert`] body of `PUT /conversations/{id}`, and list ordering.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::{custom_setters, null_as_default, patch_setters, string_enum};
use crate::{ConversationId, ConversationParticipant, Custom, Message, Patch, Timestamp, UserId};

/// A conversation as `GET /conversations/{id}` returns it.
///
/// Nullable fields decode `null` and a missing field alike as `None`; `custom` and
/// `participants` decode `null` as empty maps. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Conversation {
    /// The conversation's id.
    pub id: ConversationId,
    /// Subject line.
    #[serde(default)]
    pub subject: Option<String>,
    /// Topic id.
    #[serde(default)]
    pub topic_id: Option<String>,
    /// Conversation photo URL.
    #[serde(default)]
    pub photo_url: Option<String>,
    /// Messages shown as system messages at the start of the conversation.
    #[serde(default)]
    pub welcome_messages: Option<Vec<String>>,
    /// Your own string data.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom: Custom,
    /// The latest message, if any.
    #[serde(default)]
    pub last_message: Option<Message>,
    /// The participants, by user id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub participants: BTreeMap<UserId, ConversationParticipant>,
    /// When the conversation was created.
    pub created_at: Timestamp,
    /// Until when every participant has read the conversation (unconfirmed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub everyone_read_until: Option<Timestamp>,
}

impl Conversation {
    /// A conversation with the given id and creation time, no participants and every other
    /// field empty (for servers and tests; clients receive this type).
    pub fn new(id: impl Into<ConversationId>, created_at: Timestamp) -> Self {
        Self {
            id: id.into(),
            subject: None,
            topic_id: None,
            photo_url: None,
            welcome_messages: None,
            custom: Custom::new(),
            last_message: None,
            participants: BTreeMap::new(),
            created_at,
            everyone_read_until: None,
        }
    }
}

/// One item of `GET /users/{id}/conversations`: the conversation plus that user's own
/// state in it.
///
/// The conversation's fields sit at the top level of the JSON next to the user-specific
/// ones; in Rust they are in [`conversation`](Self::conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserConversation {
    /// The conversation itself.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Whether the conversation has messages this user has not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_unread: Option<bool>,
    /// Until when this user has read the conversation (unconfirmed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_until: Option<Timestamp>,
    /// How many messages this user has not read (unconfirmed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread_message_count: Option<u64>,
}

impl UserConversation {
    /// Wraps a conversation with no user-specific state (for servers and tests).
    pub fn new(conversation: Conversation) -> Self {
        Self {
            conversation,
            is_unread: None,
            read_until: None,
            unread_message_count: None,
        }
    }
}

/// Body of `PUT /conversations/{id}`: create a conversation or **merge** changes into it.
///
/// `subject`, `photo_url`, `welcome_messages` and `custom` are [`Patch`]es (omit / `null` /
/// set). `participants` only **adds** users (with `access: "ReadWrite"`, `notify: true`):
/// users missing from the list are *not* removed. Remove a participant with
/// `DELETE /conversations/{id}/participants/{userId}`, or revoke access with a
/// [`ParticipantPatch`](crate::ParticipantPatch) of [`Access::None`](crate::Access::None).
/// An empty `participants` list is omitted (it is never sent as `null`).
///
/// ```
/// use talkjs_models::ConversationUpsert;
///
/// let body = ConversationUpsert::new().participants(["alice", "bob"]).clear_subject();
/// assert_eq!(
///     serde_json::to_string(&body).unwrap(),
///     r#"{"participants":["alice","bob"],"subject":null}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationUpsert {
    /// Users to add (they must already exist).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub participants: Vec<UserId>,
    /// Subject line.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub subject: Patch<String>,
    /// Conversation photo URL.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub photo_url: Patch<String>,
    /// Welcome messages.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub welcome_messages: Patch<Vec<String>>,
    /// Your own string data.
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub custom: Patch<Custom>,
}

/// An upsert that recreates `conversation`'s own fields (e.g. in another app): subject,
/// photo, welcome messages and custom data, each set where the conversation has it. No
/// participants: add them with [`participants`](ConversationUpsert::participants), and set
/// their access and notify settings through the participant calls, which a conversation
/// `PUT` cannot carry.
///
/// ```
/// use talkjs_models::{Conversation, ConversationUpsert, Patch};
///
/// let conversation: Conversation = serde_json::from_str(
///     r#"{"id":"c1","subject":"Order 1","custom":{},"participants":{"alice":{"access":"ReadWrite","notify":true}},"createdAt":1}"#,
/// ).unwrap();
/// let upsert = ConversationUpsert::from(conversation).participants(["alice"]);
/// assert_eq!(upsert.subject, Patch::Set("Order 1".to_owned()));
/// ```
impl From<Conversation> for ConversationUpsert {
    fn from(conversation: Conversation) -> Self {
        let set = |value: Option<String>| value.map_or(Patch::Unchanged, Patch::Set);
        let mut upsert = Self::new();
        upsert.subject = set(conversation.subject);
        upsert.photo_url = set(conversation.photo_url);
        upsert.welcome_messages = conversation
            .welcome_messages
            .map_or(Patch::Unchanged, Patch::Set);
        if !conversation.custom.is_empty() {
            upsert.custom = Patch::Set(conversation.custom);
        }
        upsert
    }
}

impl ConversationUpsert {
    /// An empty update: `{}` (creates the conversation if it does not exist).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the list of users to add (replacing the list built so far in this body).
    /// Existing participants not listed stay in the conversation.
    #[must_use]
    pub fn participants<I: IntoIterator<Item = U>, U: Into<UserId>>(mut self, users: I) -> Self {
        self.participants = users.into_iter().map(Into::into).collect();
        self
    }

    /// Adds one user to the list of users to add.
    #[must_use]
    pub fn participant(mut self, user: impl Into<UserId>) -> Self {
        self.participants.push(user.into());
        self
    }

    patch_setters! {
        /// Sets the subject.
        subject / clear_subject = "subject";
        /// Sets the photo URL.
        photo_url / clear_photo_url = "photoUrl";
        /// Sets the welcome messages.
        welcome_messages[] / clear_welcome_messages = "welcomeMessages";
    }

    custom_setters!(patch);
}

string_enum! {
    /// The `orderBy` query parameter of conversation lists (API version 2021-02-09 and later).
    ///
    /// The documentation confirms the parameter but not its exact values; this crate sends
    /// `"createdAt"` and `"lastActivity"`. Use [`OrderBy::Other`] for another value.
    pub enum OrderBy {
        /// `"createdAt"`: by creation time.
        CreatedAt => "createdAt",
        /// `"lastActivity"`: by the time of the last activity (the server default).
        LastActivity => "lastActivity",
    }
}

string_enum! {
    /// The `orderDirection` query parameter of conversation lists.
    ///
    /// The documentation confirms the parameter but not its exact values; this crate sends
    /// `"ASC"` and `"DESC"`. Use [`OrderDirection::Other`] for another spelling.
    pub enum OrderDirection {
        /// `"ASC"`: oldest first.
        Asc => "ASC",
        /// `"DESC"`: newest first (the server default).
        Desc => "DESC",
    }
}
