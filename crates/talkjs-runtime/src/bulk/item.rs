//! The pieces of a bulk workload and what a run says about them: [`Item`], [`Kind`],
//! [`Failure`], [`Progress`], [`Report`].

use std::sync::Arc;
use std::time::Duration;

use talkjs_api::Error;
use talkjs_models::{
    ConversationUpsert, ImportMessage, MessageEdit, NewMessage, ParticipantOverwrite,
    ParticipantPatch, UserUpsert,
};

/// An error a hook returns to stop the run ([`Hooks`](crate::bulk::Hooks)).
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// One piece of a bulk workload.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Item {
    /// Create or update a user (sent with up to 99 others in one `PUT /users`).
    User {
        /// The user id.
        id: String,
        /// The fields to set.
        user: UserUpsert,
    },
    /// Create or update a conversation, with its participants (`PUT /conversations/{id}`).
    Conversation {
        /// The conversation id.
        id: String,
        /// The fields to set; `participants` adds those users.
        conversation: ConversationUpsert,
    },
    /// Add a user to a conversation, or overwrite their settings (participant `PUT`).
    Participant {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
        /// Access and notification settings (omitted ones reset to the defaults).
        settings: ParticipantOverwrite,
    },
    /// Change some of a participant's settings (participant `PATCH`: omitted fields are kept;
    /// only a `PATCH` sets access `None` or `readUntil`).
    ParticipantPatch {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
        /// The settings to change.
        patch: ParticipantPatch,
    },
    /// Remove a user from a conversation (participant `DELETE`; removing one who is not a
    /// participant changes nothing).
    RemoveParticipant {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
    },
    /// React to a message for a user (`PUT …/messages/{id}/reactions/{emoji}/{user}`, one
    /// request each; adding a reaction that is there already changes nothing).
    Reaction {
        /// The conversation id.
        conversation: String,
        /// The message id (in the target).
        message: String,
        /// The emoji.
        emoji: String,
        /// The user who reacts.
        user: String,
    },
    /// Edit a message's text or custom data (`PUT …/messages/{id}`, one request each;
    /// sending the same edit twice changes nothing more).
    EditMessage {
        /// The conversation id.
        conversation: String,
        /// The message id.
        message: String,
        /// What to change.
        edit: MessageEdit,
    },
    /// Send a message (with up to 9 other consecutive ones of the same conversation in one
    /// request). Give it an idempotency key to make a retried request safe.
    Send {
        /// The conversation id.
        conversation: String,
        /// The message.
        message: NewMessage,
    },
    /// Import a message with its original time (with up to 99 other consecutive ones of the
    /// same conversation in one request, or 9 once TalkJS refused 100: see [`Bulk`](crate::bulk::Bulk)).
    /// Imports are not de-duplicated by TalkJS.
    Import {
        /// The conversation id.
        conversation: String,
        /// The message.
        message: ImportMessage,
    },
}

/// What kind of work an [`Item`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// [`Item::User`]
    User,
    /// [`Item::Conversation`]
    Conversation,
    /// [`Item::Participant`]
    Participant,
    /// [`Item::ParticipantPatch`]
    ParticipantPatch,
    /// [`Item::RemoveParticipant`]
    RemoveParticipant,
    /// [`Item::Reaction`]
    Reaction,
    /// [`Item::EditMessage`]
    EditMessage,
    /// [`Item::Send`]
    Send,
    /// [`Item::Import`]
    Import,
}

impl Item {
    /// The kind of work.
    pub fn kind(&self) -> Kind {
        match self {
            Self::User { .. } => Kind::User,
            Self::Conversation { .. } => Kind::Conversation,
            Self::Participant { .. } => Kind::Participant,
            Self::ParticipantPatch { .. } => Kind::ParticipantPatch,
            Self::RemoveParticipant { .. } => Kind::RemoveParticipant,
            Self::Reaction { .. } => Kind::Reaction,
            Self::EditMessage { .. } => Kind::EditMessage,
            Self::Send { .. } => Kind::Send,
            Self::Import { .. } => Kind::Import,
        }
    }

    /// What the item is about, for reports: the user id, the conversation id, or
    /// `conversation/user` for a participant.
    pub fn subject(&self) -> String {
        match self {
            Self::User { id, .. } | Self::Conversation { id, .. } => id.clone(),
            Self::Participant {
                conversation, user, ..
            }
            | Self::ParticipantPatch {
                conversation, user, ..
            }
            | Self::RemoveParticipant { conversation, user } => format!("{conversation}/{user}"),
            Self::Send { conversation, .. } | Self::Import { conversation, .. } => {
                conversation.clone()
            }
            Self::Reaction {
                conversation,
                message,
                ..
            }
            | Self::EditMessage {
                conversation,
                message,
                ..
            } => format!("{conversation}/{message}"),
        }
    }

    /// The stage of the dependency order: users, then conversations, then participants,
    /// then messages, then reactions and edits (to messages that exist). Work of one stage
    /// may run concurrently; a stage starts when the one before it has finished.
    pub(super) fn stage(&self) -> u8 {
        match self.kind() {
            Kind::User => 0,
            Kind::Conversation => 1,
            Kind::Participant | Kind::ParticipantPatch | Kind::RemoveParticipant => 2,
            Kind::Send | Kind::Import => 3,
            Kind::Reaction | Kind::EditMessage => 4,
        }
    }

    /// Whether sending this item twice does no harm: every upsert (users, conversations,
    /// participants) and a send whose message carries an idempotency key
    /// ([`NewMessage::has_idempotency_key`]). An import, or a send without a key, is created
    /// again each time it is sent: its failure with an unknown outcome
    /// ([`Error::UnknownOutcome`] from the send or import itself) lands in
    /// [`Report::uncertain`]. No key is added for you (see
    /// [`Messages::send`](talkjs_api::Messages::send)): this is the item as you built it.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Self::User { .. }
            | Self::Conversation { .. }
            | Self::Participant { .. }
            | Self::ParticipantPatch { .. }
            | Self::RemoveParticipant { .. }
            | Self::Reaction { .. }
            | Self::EditMessage { .. } => true,
            Self::Send { message, .. } => message.has_idempotency_key(),
            Self::Import { .. } => false,
        }
    }

    /// About how many bytes the item holds, for the engine's memory budget
    /// ([`Bulk::open_budget`](crate::bulk::Bulk::open_budget)): its texts, ids and custom data plus a fixed overhead. An
    /// estimate, not an exact count.
    pub fn weight(&self) -> usize {
        fn custom(c: &talkjs_models::Custom) -> usize {
            c.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
        }
        let heap = match self {
            // Never more than one open chunk of users, and conversations are sent one by one.
            Self::User { id, .. } | Self::Conversation { id, .. } => id.len() + 512,
            Self::Participant {
                conversation, user, ..
            }
            | Self::ParticipantPatch {
                conversation, user, ..
            }
            | Self::RemoveParticipant { conversation, user } => conversation.len() + user.len(),
            Self::Reaction {
                conversation,
                message,
                emoji,
                user,
            } => conversation.len() + message.len() + emoji.len() + user.len(),
            Self::EditMessage {
                conversation,
                message,
                edit,
            } => {
                conversation.len()
                    + message.len()
                    + edit.text.as_set().map_or(0, String::len)
                    + edit.custom.as_set().map_or(0, custom)
            }
            Self::Send {
                conversation,
                message,
            } => {
                conversation.len()
                    + match message {
                        NewMessage::User(m) => m.text.len() + custom(&m.custom),
                        NewMessage::System(m) => m.text.len() + custom(&m.custom),
                        _ => 512,
                    }
            }
            Self::Import {
                conversation,
                message,
            } => {
                conversation.len()
                    + message.text.len()
                    + custom(&message.custom)
                    + message
                        .read_by
                        .iter()
                        .map(|u| u.as_str().len() + 24)
                        .sum::<usize>()
            }
        };
        std::mem::size_of::<Self>() + heap
    }

    /// The conversation whose order this item must keep (messages only).
    pub(super) fn ordered_in(&self) -> Option<&str> {
        match self {
            Self::Send { conversation, .. } | Self::Import { conversation, .. } => {
                Some(conversation)
            }
            _ => None,
        }
    }
}

/// An item that did not land, or whose outcome is unknown, and why: an entry of
/// [`Report::failed`] or [`Report::uncertain`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Failure {
    /// The item's position in the input (0-based).
    pub index: usize,
    /// Its kind.
    pub kind: Kind,
    /// What it is about ([`Item::subject`]).
    pub subject: String,
    /// The error of the request that carried it. Items sent together (e.g. answered by a
    /// 5xx after the retries) share one error.
    pub error: Arc<Error>,
}

/// How far a bulk run is; given to the [progress callback](crate::bulk::Bulk::on_progress) after every
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Items that landed.
    pub landed: usize,
    /// Items that failed: they did not land, or sending them again is safe
    /// ([`Report::failed`]).
    pub failed: usize,
    /// Items whose outcome is unknown: they may have landed, and sending them again may
    /// duplicate them ([`Report::uncertain`]).
    pub uncertain: usize,
    /// Items in the workload, if known ([`Bulk::total`](crate::bulk::Bulk::total)).
    pub total: Option<usize>,
    /// Requests answered so far (successes and failures). The callback runs once per
    /// answer, so this goes up by exactly one from one call to the next; requests still in
    /// flight are not counted until they are answered.
    pub requests: usize,
    /// Time since the run started.
    pub elapsed: Duration,
    /// The time left at the pace so far, if the total is known.
    pub eta: Option<Duration>,
}

/// The outcome of a bulk run: every item of the input is counted in exactly one of
/// `landed`, `failed` and `uncertain`, unless a hook [stopped](Self::stopped) the run or
/// [held](Self::held) a conversation.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Items that landed.
    pub landed: usize,
    /// Items that failed, with their reasons, in the order they failed: items that were
    /// refused (a 4xx, e.g. a bad record or a missing conversation) or never sent, and
    /// idempotent items (upserts, sends with an idempotency key) whatever the error, since
    /// sending those again is safe. Fix the cause and run these items again.
    pub failed: Vec<Failure>,
    /// Items whose outcome is unknown, with their reasons, in the order they failed: imports
    /// and sends without an idempotency key whose request failed in a way that may have
    /// been applied ([`Error::may_have_landed`]: a 5xx, a timeout, a reset connection).
    /// **Do not send these again blindly**: TalkJS may have stored them, and a second copy
    /// is a duplicate. Check the conversation first (or use a journal that resolves them,
    /// like `talkjs migrate`).
    pub uncertain: Vec<Failure>,
    /// Requests sent (splits of refused chunks included).
    pub requests: usize,
    /// How long the run took.
    pub elapsed: Duration,
    /// Why the run stopped early, if a [hook](super::Hooks) stopped it. The items it read
    /// and did not send then are counted in [`not_sent`](Self::not_sent), not in `failed`;
    /// the input after them was not read.
    pub stopped: Option<HookError>,
    /// Items read from the input and not sent because a hook stopped the run.
    pub not_sent: usize,
    /// Items not sent because a hook held their conversation
    /// ([`Next::HoldConversation`](super::Next::HoldConversation)).
    pub held: usize,
}
