//! Presence (`POST /presences`): [`Presences`], [`PresenceQuery`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::{null_as_default, string_enum};
use crate::{ConversationId, Custom, Patch, UserId};

/// Body of `POST /presences`: optional conditions on the sessions to report. An empty
/// query (`{}`) reports every user with a visible TalkJS UI.
///
/// `selectedConversationId` has three states: left out (no condition), a conversation id
/// (sessions showing that conversation), or an explicit `null` (users online with **no**
/// conversation selected). The field is a [`Patch`] so the last two stay distinct.
///
/// ```
/// use talkjs_models::PresenceQuery;
///
/// let idle = PresenceQuery::new().no_conversation_selected();
/// assert_eq!(serde_json::to_string(&idle).unwrap(), r#"{"selectedConversationId":null}"#);
///
/// let in_c1 = PresenceQuery::new().selected_conversation_id("c1").is_typing(true);
/// assert_eq!(
///     serde_json::to_string(&in_c1).unwrap(),
///     r#"{"selectedConversationId":"c1","isTyping":true}"#
/// );
/// assert_eq!(serde_json::to_string(&PresenceQuery::new()).unwrap(), "{}");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct PresenceQuery {
    /// Also report users who only have a background session (no visible TalkJS UI). The
    /// server default is `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_background_sessions: Option<bool>,
    /// [`Patch::Unchanged`]: no condition (field left out); [`Patch::Set`]: only users with
    /// that conversation selected; [`Patch::Clear`]: only users online with no conversation
    /// selected (sends `null`).
    #[serde(skip_serializing_if = "Patch::is_unchanged")]
    pub selected_conversation_id: Patch<ConversationId>,
    /// Only users who are (`true`) or are not (`false`) watching a TalkJS UI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_focus: Option<bool>,
    /// Only users who are (or are not) typing.
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

    /// Only users who have `conversation` selected (`"selectedConversationId": "<id>"`).
    #[must_use]
    pub fn selected_conversation_id(mut self, conversation: impl Into<ConversationId>) -> Self {
        self.selected_conversation_id = Patch::Set(conversation.into());
        self
    }

    /// Only users who are online with no conversation selected
    /// (`"selectedConversationId": null`, sent explicitly).
    #[must_use]
    pub fn no_conversation_selected(mut self) -> Self {
        self.selected_conversation_id = Patch::Clear;
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

/// Presence (`POST /presences`): which users are online, and what each of their sessions is
/// doing (focus, typing, selected conversation).
///
/// TalkJS keeps one *background session* per user (a `Talk.Session` on any page) and one
/// *widget session* per visible TalkJS UI (an Inbox, a Chatbox or a Popup). Focus, typing and
/// the selected conversation belong to a session, not to the user: a user can type in one tab
/// while another tab shows a different conversation.
///
/// Response of `POST /presences`: `{"data": {"<userId>": {…}}}`, online users only.
///
/// ```
/// use talkjs_models::Presences;
///
/// let body = r#"{"data": {"alice": {"status": "online", "backgroundSessions": [],
///     "widgets": [{"selectedConversationId": "c1", "custom": {}, "hasFocus": true,
///                  "isTyping": true, "sessionId": "s1"}]}}}"#;
/// let presences: Presences = serde_json::from_str(body).unwrap();
/// assert!(presences.is_online("alice"));
/// assert!(!presences.is_online("bob"));
/// assert_eq!(presences.typing_in("c1").collect::<Vec<_>>(), ["alice"]);
/// assert_eq!(presences.get("alice").unwrap().focused_conversation().unwrap(), "c1");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Presences {
    /// Presence by user id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: BTreeMap<UserId, Presence>,
}

impl Presences {
    /// Wraps presences by user id (for servers and tests).
    pub fn new(data: BTreeMap<UserId, Presence>) -> Self {
        Self { data }
    }

    /// The presence of `user`, if the answer lists them.
    pub fn get(&self, user: &str) -> Option<&Presence> {
        self.data.get(user)
    }

    /// Whether `user` is listed and online (see [`Presence::is_online`]).
    pub fn is_online(&self, user: &str) -> bool {
        self.get(user).is_some_and(Presence::is_online)
    }

    /// The ids of the users listed as online.
    pub fn online_users(&self) -> impl Iterator<Item = &UserId> {
        self.data
            .iter()
            .filter(|(_, p)| p.is_online())
            .map(|(id, _)| id)
    }

    /// The ids of the users with a session typing in `conversation`.
    pub fn typing_in<'a>(&'a self, conversation: &'a str) -> impl Iterator<Item = &'a UserId> {
        self.data
            .iter()
            .filter(move |(_, p)| p.is_typing_in(conversation))
            .map(|(id, _)| id)
    }
}

string_enum! {
    /// A user's presence status. TalkJS documents `"online"` (the answer lists online users
    /// only); any other value is kept in [`PresenceStatus::Other`].
    pub enum PresenceStatus {
        /// `"online"`
        Online => "online",
    }
}

/// One user's presence: their background sessions and their visible TalkJS UIs (widgets).
///
/// Background sessions are only listed when the query sets `includeBackgroundSessions`; a
/// user without a visible UI then has an empty [`widgets`](Self::widgets) list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Presence {
    /// The status (`"online"`), if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PresenceStatus>,
    /// Sessions without a visible TalkJS UI.
    #[serde(default, deserialize_with = "null_as_default")]
    pub background_sessions: Vec<PresenceSession>,
    /// One session per visible TalkJS UI (Inbox, Chatbox, Popup).
    #[serde(default, deserialize_with = "null_as_default")]
    pub widgets: Vec<PresenceSession>,
}

impl Presence {
    /// An online user with the given sessions (for servers and tests).
    pub fn online(
        background_sessions: Vec<PresenceSession>,
        widgets: Vec<PresenceSession>,
    ) -> Self {
        Self {
            status: Some(PresenceStatus::Online),
            background_sessions,
            widgets,
        }
    }

    /// `true` unless the status is something other than `"online"` (a listed user without a
    /// status counts as online: the answer lists online users only).
    pub fn is_online(&self) -> bool {
        self.status
            .as_ref()
            .is_none_or(|s| *s == PresenceStatus::Online)
    }

    /// Every session: the widgets first, then the background sessions.
    pub fn sessions(&self) -> impl Iterator<Item = &PresenceSession> {
        self.widgets.iter().chain(&self.background_sessions)
    }

    /// Whether any session is typing.
    pub fn is_typing(&self) -> bool {
        self.sessions().any(|s| s.is_typing)
    }

    /// Whether any session is typing in `conversation`.
    pub fn is_typing_in(&self, conversation: &str) -> bool {
        self.sessions().any(|s| {
            s.is_typing
                && s.selected_conversation_id
                    .as_ref()
                    .is_some_and(|c| c == conversation)
        })
    }

    /// Whether any session has focus (the user is looking at a TalkJS UI).
    pub fn has_focus(&self) -> bool {
        self.sessions().any(|s| s.has_focus)
    }

    /// The conversation selected in the first session that has focus, if any: the
    /// conversation the user is looking at right now.
    pub fn focused_conversation(&self) -> Option<&ConversationId> {
        self.sessions()
            .filter(|s| s.has_focus)
            .find_map(|s| s.selected_conversation_id.as_ref())
    }

    /// The conversations selected in any session (possibly with repeats).
    pub fn selected_conversations(&self) -> impl Iterator<Item = &ConversationId> {
        self.sessions()
            .filter_map(|s| s.selected_conversation_id.as_ref())
    }
}

/// One session of an online user: a background session or a visible TalkJS UI.
///
/// `{"selectedConversationId": string | null, "custom": {…}, "hasFocus": bool,
/// "isTyping": bool, "sessionId": string}`. Missing fields decode as empty / `false`;
/// unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PresenceSession {
    /// The conversation shown in this session, if any.
    #[serde(default)]
    pub selected_conversation_id: Option<ConversationId>,
    /// Custom data of the session.
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom: Custom,
    /// Whether the user is looking at this session's UI.
    #[serde(default, deserialize_with = "null_as_default")]
    pub has_focus: bool,
    /// Whether the user is typing in this session.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_typing: bool,
    /// The session's id (`""` if the server sent none).
    #[serde(default, deserialize_with = "null_as_default")]
    pub session_id: String,
}

impl PresenceSession {
    /// A session with id `session_id`, no focus, not typing, nothing selected (for servers
    /// and tests).
    pub fn new(session_id: impl Into<String>) -> Self {
        Self {
            session_id: session_id.into(),
            ..Self::default()
        }
    }

    /// Sets the selected conversation.
    #[must_use]
    pub fn selected_conversation_id(mut self, conversation: impl Into<ConversationId>) -> Self {
        self.selected_conversation_id = Some(conversation.into());
        self
    }

    /// Sets whether the session has focus.
    #[must_use]
    pub fn has_focus(mut self, focus: bool) -> Self {
        self.has_focus = focus;
        self
    }

    /// Sets whether the user is typing in the session.
    #[must_use]
    pub fn is_typing(mut self, typing: bool) -> Self {
        self.is_typing = typing;
        self
    }
}
