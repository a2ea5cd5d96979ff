//! Presence (`POST /presences`, unconfirmed endpoint): which users are online.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ConversationId, UserId};

/// Body of `POST /presences`: optional conditions on the sessions to report. An empty
/// query (`{}`) reports every online user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct PresenceQuery {
    /// Also count sessions that run in the background.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_background_sessions: Option<bool>,
    /// Only sessions with this conversation selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected_conversation_id: Option<ConversationId>,
    /// Only sessions that have (or do not have) focus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_focus: Option<bool>,
    /// Only sessions whose user is (or is not) typing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_typing: Option<bool>,
    /// Only these users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_ids: Option<Vec<UserId>>,
}

impl PresenceQuery {
    /// An empty query: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `includeBackgroundSessions`.
    #[must_use]
    pub fn include_background_sessions(mut self, include: bool) -> Self {
        self.include_background_sessions = Some(include);
        self
    }

    /// Sets `selectedConversationId`.
    #[must_use]
    pub fn selected_conversation_id(mut self, conversation: impl Into<ConversationId>) -> Self {
        self.selected_conversation_id = Some(conversation.into());
        self
    }

    /// Sets `hasFocus`.
    #[must_use]
    pub fn has_focus(mut self, focus: bool) -> Self {
        self.has_focus = Some(focus);
        self
    }

    /// Sets `isTyping`.
    #[must_use]
    pub fn is_typing(mut self, typing: bool) -> Self {
        self.is_typing = Some(typing);
        self
    }

    /// Sets `userIds`.
    #[must_use]
    pub fn user_ids<I: IntoIterator<Item = U>, U: Into<UserId>>(mut self, users: I) -> Self {
        self.user_ids = Some(users.into_iter().map(Into::into).collect());
        self
    }
}

/// Response of `POST /presences`: `{"data": {"<userId>": {…}}}`, online users only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Presences {
    /// Presence by user id.
    #[serde(default, deserialize_with = "crate::util::null_as_default")]
    pub data: BTreeMap<UserId, Presence>,
}

/// One user's presence. The shape is undocumented: the fields below are read when present,
/// and everything else is kept in [`extra`](Self::extra).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Presence {
    /// Whether a session of the user has focus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_focus: Option<bool>,
    /// Whether the user is typing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_typing: Option<bool>,
    /// The conversation the user has selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_conversation_id: Option<ConversationId>,
    /// All other fields, as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
