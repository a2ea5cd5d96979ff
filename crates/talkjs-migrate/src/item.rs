//! The units of work a plan is made of, as the journal keeps them: what each one is
//! ([`ItemKind`]), its body, its match key, and the marks a migrated message carries in
//! `custom`.

/// The `custom` key under which a migrated message carries the id of the message it
/// replied to, in the source (TalkJS's import takes no `referencedMessageId`, so the link
/// cannot be restored as a reply; it is kept here instead). A message that already has
/// this key (e.g. it was migrated before) keeps its value.
pub const REPLY_TO_KEY: &str = "talkjs-migrate:replyTo";

/// The `custom` key under which a migrated reply carries the id, **in the target**, of the
/// message it replied to, with [`Migration::map_reply_links`](crate::Migration::map_reply_links):
/// added once both messages landed, with a message edit ([`ItemKind::ReplyLink`]). Matching
/// messages again (an uncertain import, a reconcile pass, finding reaction targets) leaves
/// this key out, since it is added after the import.
pub const REPLY_TO_ID_KEY: &str = "talkjs-migrate:replyToId";

/// The `custom` key under which a migrated message carries its id in the source, when
/// [`Migration::mark_source_ids`](crate::Migration::mark_source_ids) is on: resolving an
/// uncertain import and [`Migration::verify`](crate::Migration::verify) then find the
/// message by this marker instead of by sender, time and text. A source message that
/// already has this key (e.g. it was migrated with the marker before) gets this source's id
/// instead.
pub const SOURCE_ID_KEY: &str = "talkjs-migrate:sourceId";

/// What a unit of work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ItemKind {
    /// A user upsert (sent 100 to a `PUT /users`).
    User,
    /// A conversation upsert with its participants.
    Conversation,
    /// A message import (sent 10 to a request, in order, per conversation).
    Message,
    /// A system message, sent (not imported: the import takes user messages only) after
    /// its conversation's imported messages, with an idempotency key; only with
    /// [`Migration::system_messages`](crate::Migration::system_messages).
    SystemMessage,
    /// A participant whose access or notification settings differ from the defaults, or
    /// who has a `readUntil` (set after the messages).
    Participant,
    /// One user's reaction with one emoji to a message (its source id is the message's),
    /// added to the target message once the conversation's messages landed: an idempotent
    /// `PUT`, sent again when its outcome is unknown.
    Reaction,
    /// A reply's link mapped to the target: once the reply and the message it replied to
    /// have landed, the reply is edited (`PUT …/messages/{id}`) to add the target id of the
    /// message it replied to under [`REPLY_TO_ID_KEY`] to its `custom` (sent whole: the
    /// reply's own `custom` and the new key). Idempotent: sent again when its outcome is
    /// unknown. Only with [`Migration::map_reply_links`](crate::Migration::map_reply_links).
    ReplyLink,
}

impl ItemKind {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Conversation => "conversation",
            Self::Message => "message",
            Self::SystemMessage => "system_message",
            Self::Participant => "participant",
            Self::Reaction => "reaction",
            Self::ReplyLink => "reply_link",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "conversation" => Self::Conversation,
            "message" => Self::Message,
            "system_message" => Self::SystemMessage,
            "participant" => Self::Participant,
            "reaction" => Self::Reaction,
            "reply_link" => Self::ReplyLink,
            _ => return None,
        })
    }

    /// Every kind, in the order they are sent (a conversation's system messages follow its
    /// imported messages; reactions follow its messages, and wait for the reconcile pass
    /// where an import's outcome was unknown; so do reply links).
    pub const ALL: [Self; 7] = [
        Self::User,
        Self::Conversation,
        Self::Message,
        Self::SystemMessage,
        Self::Reaction,
        Self::ReplyLink,
        Self::Participant,
    ];
}

/// A message's match key: what finds it again in the target after an uncertain request
/// (imports keep the given timestamp).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MessageKey {
    pub sender: String,
    pub ts: i64,
    pub text: String,
}

/// One unit of work.
#[derive(Debug, Clone)]
pub(crate) struct PlannedItem {
    pub kind: ItemKind,
    pub subject: String,
    pub source_id: String,
    pub line: Option<u64>,
    pub body: String,
    pub key: Option<MessageKey>,
    /// Messages: the URL of the source's attached file (uploaded to the target when sent).
    pub attachment: Option<String>,
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // The bodies are plain data (maps with string keys): serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}
