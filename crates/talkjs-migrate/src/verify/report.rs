//! What [`Migration::verify`](crate::Migration::verify) reports: users, conversations and
//! messages compared, with their differences.

use crate::error::Error;

/// At most this many mismatches are listed per conversation (messages) or record (fields).
pub(super) const MAX_MISMATCHES: usize = 10;

/// One difference between a source message and the target message at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The place in the conversation, oldest first (0-based): the source message's place
    /// among the source's messages, or for `extra`, the target message's among the
    /// target's.
    pub position: usize,
    /// The source message's id, if the source has a message there.
    pub source_id: Option<String>,
    /// The target message's id, if the target has a message there.
    pub target_id: Option<String>,
    /// What differs: `missing`, `extra`, `duplicate` (with the marker: the source id on
    /// several target messages), `type` (user or system message), `sender`, `timestamp`
    /// (not compared for system messages, which get the time they are sent), `text`,
    /// `reply link`, `readBy` (user messages), `custom`, `attachment` (whether the message
    /// has a file: the target's URL is its own), `reactions` (the emoji of the reactions
    /// carried, which the target message must have: `expected` lists them, `found` the
    /// target's).
    pub field: &'static str,
    /// The source's value.
    pub expected: String,
    /// The target's value.
    pub found: String,
}

/// One difference in a field of a user or a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldMismatch {
    /// The field as TalkJS names it (`name`, `email`, `photoUrl`, `custom`, ...); for a
    /// participant, `participants.USER` (in one side only), `participants.USER.access`,
    /// `participants.USER.notify` or `participants.USER.readUntil` (the source's, in ms,
    /// which the target's must be at or after); `exists` when the target has no such
    /// record.
    pub field: String,
    /// The source's value (JSON for lists and maps; empty for none).
    pub expected: String,
    /// The target's value.
    pub found: String,
}

/// One user compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserCheck {
    /// The user id.
    pub user: String,
    /// The fields that differ (at most 10).
    pub mismatches: Vec<FieldMismatch>,
}

impl UserCheck {
    /// Whether the target's user has the source's values.
    pub fn matches(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// One conversation compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationCheck {
    /// The conversation id.
    pub conversation: String,
    /// Messages the source has that migrate (system messages included when they are sent).
    pub expected: usize,
    /// Messages the target has (with
    /// [`Migration::mark_source_ids`](crate::Migration::mark_source_ids): the ones that
    /// carry the marker).
    pub found: usize,
    /// The first differences between the messages (at most 10).
    pub mismatches: Vec<Mismatch>,
    /// The conversation's fields and participants that differ (at most 10).
    pub fields: Vec<FieldMismatch>,
    /// With [`Migration::mark_source_ids`](crate::Migration::mark_source_ids): target
    /// messages without the marker, which are not this migration's (e.g. there before it);
    /// not a difference. Otherwise 0.
    pub unmarked: usize,
}

impl ConversationCheck {
    /// Whether the target has exactly the source's messages, in order, and the source's
    /// conversation fields and participants.
    pub fn matches(&self) -> bool {
        self.expected == self.found && self.mismatches.is_empty() && self.fields.is_empty()
    }
}

/// The outcome of [`Migration::verify`](crate::Migration::verify).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every conversation of the source, in plan order.
    pub conversations: Vec<ConversationCheck>,
    /// Every user of the source, in plan order.
    pub users: Vec<UserCheck>,
}

impl VerifyReport {
    /// Whether every conversation and every user matches.
    pub fn matches(&self) -> bool {
        self.conversations.iter().all(ConversationCheck::matches)
            && self.users.iter().all(UserCheck::matches)
    }

    /// The conversations that do not match.
    pub fn mismatched(&self) -> impl Iterator<Item = &ConversationCheck> {
        self.conversations.iter().filter(|c| !c.matches())
    }

    /// The users that do not match.
    pub fn mismatched_users(&self) -> impl Iterator<Item = &UserCheck> {
        self.users.iter().filter(|u| !u.matches())
    }
}

/// The error of a planned body that does not decode (the plan is this version's own).
pub(super) fn undecodable(what: &str, e: &serde_json::Error) -> Error {
    Error::Target(talkjs_api::Error::InvalidArgument(format!(
        "a planned {what} does not decode: {e}"
    )))
}
