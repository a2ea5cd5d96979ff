//! Participation: a user's access and notification settings in a conversation, and the
//! bodies of the participant PUT (overwrite) and PATCH (merge) calls.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::Timestamp;
use crate::util::string_enum;

string_enum! {
    /// What a participant may do in a conversation (`"ReadWrite"`, `"Read"`, `"None"`).
    pub enum Access {
        /// `"ReadWrite"`: read and send messages (the server default).
        ReadWrite => "ReadWrite",
        /// `"Read"`: read only.
        Read => "Read",
        /// `"None"`: no access, but the conversation stays in the user's list. Only the
        /// participant PATCH accepts it; it is the "soft removal" of a participant.
        None => "None",
    }
}

/// When a participant is notified of new messages.
///
/// On the wire this is `true`, `false` or the string `"MentionsOnly"`; any other string is
/// kept in [`Notify::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notify {
    /// `true`: notify about every message (the server default).
    All,
    /// `false`: never notify.
    Off,
    /// `"MentionsOnly"`: notify only when the participant is @mentioned.
    MentionsOnly,
    /// A string value this version of the crate does not know, kept verbatim.
    Other(String),
}

impl Serialize for Notify {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_bool(true),
            Self::Off => s.serialize_bool(false),
            Self::MentionsOnly => s.serialize_str("MentionsOnly"),
            Self::Other(v) => s.serialize_str(v),
        }
    }
}

impl<'de> Deserialize<'de> for Notify {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NotifyVisitor;

        impl Visitor<'_> for NotifyVisitor {
            type Value = Notify;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or a string such as \"MentionsOnly\"")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Notify, E> {
                Ok(if v { Notify::All } else { Notify::Off })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Notify, E> {
                Ok(match v {
                    "MentionsOnly" => Notify::MentionsOnly,
                    other => Notify::Other(other.to_owned()),
                })
            }
        }

        d.deserialize_any(NotifyVisitor)
    }
}

fn default_access() -> Access {
    Access::ReadWrite
}

fn default_notify() -> Notify {
    Notify::All
}

/// Decodes `access`, taking `null` like a missing field: the server default `ReadWrite`.
fn access_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Access, D::Error> {
    Ok(Option::<Access>::deserialize(d)?.unwrap_or_else(default_access))
}

/// Decodes `notify`, taking `null` like a missing field: the server default `true`.
fn notify_or_default<'de, D: Deserializer<'de>>(d: D) -> Result<Notify, D::Error> {
    Ok(Option::<Notify>::deserialize(d)?.unwrap_or_else(default_notify))
}

/// One entry of [`Conversation::participants`](crate::Conversation::participants).
///
/// A missing or `null` `access` or `notify` decodes as the server defaults (`ReadWrite`,
/// `true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationParticipant {
    /// What the participant may do.
    #[serde(default = "default_access", deserialize_with = "access_or_default")]
    pub access: Access,
    /// When the participant is notified.
    #[serde(default = "default_notify", deserialize_with = "notify_or_default")]
    pub notify: Notify,
    /// Whether the conversation has messages this participant has not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_unread: Option<bool>,
    /// When the participant joined (unconfirmed field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Timestamp>,
    /// Until when the participant has read the conversation. No reference page lists it;
    /// TalkJS's official transfer example reads it from here (and sets it with a participant
    /// PATCH, [`ParticipantPatch::read_until`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_until: Option<Timestamp>,
}

impl ConversationParticipant {
    /// A participant with the given settings and no read state.
    pub fn new(access: Access, notify: Notify) -> Self {
        Self {
            access,
            notify,
            is_unread: None,
            joined_at: None,
            read_until: None,
        }
    }
}

impl Default for ConversationParticipant {
    /// The server defaults: `ReadWrite`, notify `true`.
    fn default() -> Self {
        Self::new(Access::ReadWrite, Notify::All)
    }
}

/// Declares a participant settings body (`access?`, `notify?`) with its builder setters.
macro_rules! participant_body {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            /// The access level, or `None` to omit the field.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub access: Option<Access>,
            /// The notification setting, or `None` to omit the field.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub notify: Option<Notify>,
        }

        impl $name {
            /// An empty body: `{}`.
            pub fn new() -> Self {
                Self::default()
            }

            /// Sets the access level.
            #[must_use]
            pub fn access(mut self, access: Access) -> Self {
                self.access = Some(access);
                self
            }

            /// Sets the notification setting.
            #[must_use]
            pub fn notify(mut self, notify: Notify) -> Self {
                self.notify = Some(notify);
                self
            }
        }
    };
}

participant_body!(
    /// Body of `PUT /conversations/{id}/participants/{userId}`: join a conversation, or
    /// **overwrite** an existing participant's settings.
    ///
    /// The PUT replaces the whole participation: a field left `None` is omitted and the
    /// server resets it to its default (`access: "ReadWrite"`, `notify: true`), even when
    /// the participant had another value before. `ParticipantOverwrite::new()` therefore
    /// means "server defaults". To change one setting and keep the other, use
    /// [`ParticipantPatch`].
    ///
    /// The documentation lists only `"ReadWrite"` and `"Read"` for the PUT; use
    /// [`ParticipantPatch`] for [`Access::None`].
    ParticipantOverwrite
);

/// Body of `PATCH /conversations/{id}/participants/{userId}`: change an existing
/// participant. Only the fields that are `Some` change; the others keep their values.
///
/// Accepts [`Access::None`] (revoke access but keep the conversation in the user's list),
/// and `readUntil`: until when the participant has read the conversation (TalkJS's official
/// transfer example restores read state this way; no reference page lists the field).
///
/// ```
/// use talkjs_models::{ParticipantPatch, Timestamp};
///
/// let body = ParticipantPatch::new().read_until(Timestamp::from_millis(1_700_000_000_000));
/// assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"readUntil":1700000000000}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ParticipantPatch {
    /// The access level, or `None` to omit the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The notification setting, or `None` to omit the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// Until when the participant has read the conversation (ms), or `None` to omit the
    /// field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_until: Option<Timestamp>,
}

impl ParticipantPatch {
    /// An empty body: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the access level.
    #[must_use]
    pub fn access(mut self, access: Access) -> Self {
        self.access = Some(access);
        self
    }

    /// Sets the notification setting.
    #[must_use]
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(notify);
        self
    }

    /// Sets until when the participant has read the conversation.
    #[must_use]
    pub fn read_until(mut self, read_until: Timestamp) -> Self {
        self.read_until = Some(read_until);
        self
    }
}

/// Response of `GET /conversations/{id}/participants/{userId}/email`: the inbound address
/// that posts replies as this participant. Treat it as a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ParticipantEmail {
    /// The reply-by-email address.
    pub email_address: String,
}

impl ParticipantEmail {
    /// Wraps an address (for servers and tests; clients receive this type).
    pub fn new(email_address: impl Into<String>) -> Self {
        Self {
            email_address: email_address.into(),
        }
    }
}
