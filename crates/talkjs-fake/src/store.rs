//! The in-memory data: users, conversations, participants, messages, files.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use serde_json::Value;
use talkjs_models::{
    Access, Conversation, ConversationParticipant, Custom, Message, Notify, Timestamp, User,
    UserConversation,
};
use tokio::time::Instant;

use crate::api::{ApiError, ApiRequest, Event, to_json};
use crate::config::DEFAULT_MAX_IMPORT_BATCH;

/// Sort key of a message: creation time, then insertion sequence.
pub(crate) type MsgKey = (Timestamp, u64);

/// A stored user.
#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub(crate) user: User,
    pub(crate) seq: u64,
}

/// A participant's settings.
#[derive(Debug, Clone)]
pub(crate) struct PartRec {
    pub(crate) access: Access,
    pub(crate) notify: Notify,
    pub(crate) joined_at: Timestamp,
    /// The `readUntil` set with a participant PATCH, if any.
    pub(crate) read_until: Option<Timestamp>,
}

/// A stored message with its reactions.
#[derive(Debug, Clone)]
pub(crate) struct MsgRec {
    pub(crate) message: Message,
    /// Emoji → users who reacted with it.
    pub(crate) reactions: BTreeMap<String, BTreeSet<String>>,
    /// From when the message shows in listings ([`Faults::listing_lag`](crate::config::Faults::listing_lag)).
    pub(crate) listed_at: Instant,
}

impl MsgRec {
    /// The message as the API returns it (with `reactions` when there are any: an object of
    /// emoji to the ids of the users who reacted).
    pub(crate) fn model(&self) -> Message {
        let mut message = self.message.clone();
        if !self.reactions.is_empty() {
            message.reactions = serde_json::to_value(&self.reactions).ok();
        }
        message
    }

    /// [`model`](Self::model) as JSON.
    pub(crate) fn to_json(&self) -> Result<Value, ApiError> {
        to_json(&self.model())
    }
}

/// A stored conversation.
#[derive(Debug, Clone)]
pub(crate) struct ConvRec {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) created_at: Timestamp,
    /// From when the conversation shows in listings
    /// ([`Faults::listing_lag`](crate::config::Faults::listing_lag)).
    pub(crate) listed_at: Instant,
    pub(crate) subject: Option<String>,
    pub(crate) photo_url: Option<String>,
    pub(crate) welcome_messages: Option<Vec<String>>,
    pub(crate) custom: Custom,
    pub(crate) participants: BTreeMap<String, PartRec>,
    /// Users removed with DELETE participant (still listed for API versions before
    /// 2021-07-30).
    pub(crate) removed: BTreeSet<String>,
    pub(crate) messages: BTreeMap<MsgKey, MsgRec>,
    pub(crate) message_keys: HashMap<String, MsgKey>,
    /// Idempotency key → message id.
    pub(crate) idempotency: HashMap<String, String>,
}

impl ConvRec {
    /// An empty conversation, created at `now`, listed from `listed_at`.
    pub(crate) fn new(id: &str, seq: u64, now: Timestamp, listed_at: Instant) -> Self {
        Self {
            id: id.to_owned(),
            seq,
            created_at: now,
            listed_at,
            subject: None,
            photo_url: None,
            welcome_messages: None,
            custom: Custom::new(),
            participants: BTreeMap::new(),
            removed: BTreeSet::new(),
            messages: BTreeMap::new(),
            message_keys: HashMap::new(),
            idempotency: HashMap::new(),
        }
    }

    /// The sort keys of the conversation in listings at `at` (kept as a tombstone when it
    /// is deleted).
    pub(crate) fn keys(&self, at: Instant) -> ConvKeys {
        ConvKeys {
            created_at: self.created_at,
            activity: self.activity_key(at),
            seq: self.seq,
        }
    }

    /// The newest message.
    pub(crate) fn last_message(&self) -> Option<&MsgRec> {
        self.messages.last_key_value().map(|(_, m)| m)
    }

    /// The newest message that shows in listings at `at`, with its key.
    pub(crate) fn last_listed_message(&self, at: Instant) -> Option<(&MsgKey, &MsgRec)> {
        self.messages.iter().rev().find(|(_, m)| m.listed_at <= at)
    }

    /// Sort key of the last activity in listings at `at`: the newest listed message's, or
    /// the creation's (the global sequence number breaks ties within a millisecond).
    pub(crate) fn activity_key(&self, at: Instant) -> MsgKey {
        let created = (self.created_at, self.seq);
        self.last_listed_message(at)
            .map_or(created, |(k, _)| (*k).max(created))
    }

    /// The `readUntil` set for `user` with a participant PATCH, if any.
    fn set_read_until(&self, user: &str) -> Option<Timestamp> {
        self.participants.get(user).and_then(|p| p.read_until)
    }

    /// How many messages `user` has not read (their own do not count, nor those up to the
    /// participant's `readUntil`).
    pub(crate) fn unread_count(&self, user: &str) -> u64 {
        let read_until = self.set_read_until(user);
        let count = self
            .messages
            .values()
            .filter(|m| {
                m.message.sender_id.as_ref().is_none_or(|s| s != user)
                    && !m.message.read_by.iter().any(|r| r == user)
                    && read_until.is_none_or(|t| m.message.created_at > t)
            })
            .count();
        u64::try_from(count).unwrap_or(u64::MAX)
    }

    /// The time of the newest message `user` has read or sent, or the participant's
    /// `readUntil` if that is later.
    pub(crate) fn read_until(&self, user: &str) -> Option<Timestamp> {
        let read = self
            .messages
            .values()
            .rev()
            .find(|m| {
                m.message.sender_id.as_ref().is_some_and(|s| s == user)
                    || m.message.read_by.iter().any(|r| r == user)
            })
            .map(|m| m.message.created_at);
        read.max(self.set_read_until(user))
    }

    /// The conversation object.
    pub(crate) fn model(&self) -> Conversation {
        let mut conv = Conversation::new(self.id.as_str(), self.created_at);
        conv.subject.clone_from(&self.subject);
        conv.photo_url.clone_from(&self.photo_url);
        conv.welcome_messages.clone_from(&self.welcome_messages);
        conv.custom.clone_from(&self.custom);
        conv.last_message = self.last_message().map(|m| m.message.clone());
        conv.participants = self
            .participants
            .iter()
            .map(|(id, p)| (id.as_str().into(), self.participant_model(id, p)))
            .collect();
        conv
    }

    /// One participant as the API returns it.
    pub(crate) fn participant_model(&self, user: &str, p: &PartRec) -> ConversationParticipant {
        let mut part = ConversationParticipant::new(p.access.clone(), p.notify.clone());
        part.is_unread = Some(self.unread_count(user) > 0);
        part.joined_at = Some(p.joined_at);
        part.read_until = p.read_until;
        part
    }

    /// The conversation as one item of a listing at `at`: its `lastMessage` is the newest
    /// message listed by then.
    pub(crate) fn listed_model(&self, at: Instant) -> Conversation {
        let mut conv = self.model();
        conv.last_message = self.last_listed_message(at).map(|(_, m)| m.message.clone());
        conv
    }

    /// The conversation as one item of a user's conversation list at `at`.
    pub(crate) fn user_model(&self, user: &str, at: Instant) -> UserConversation {
        let unread = self.unread_count(user);
        let mut item = UserConversation::new(self.listed_model(at));
        item.is_unread = Some(unread > 0);
        item.unread_message_count = Some(unread);
        item.read_until = self.read_until(user);
        item
    }
}

/// Keys of a deleted conversation, so that a cursor pointing at it still works.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvKeys {
    pub(crate) created_at: Timestamp,
    pub(crate) activity: MsgKey,
    pub(crate) seq: u64,
}

/// An uploaded file, with the optional form fields of its upload.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) filename: String,
    pub(crate) content_type: Option<String>,
    pub(crate) data: Bytes,
    pub(crate) subtype: Option<String>,
    pub(crate) width: Option<u64>,
    pub(crate) height: Option<u64>,
    pub(crate) duration: Option<f64>,
}

/// Everything the fake stores.
#[derive(Debug, Default)]
pub(crate) struct State {
    seq: u64,
    pub(crate) users: HashMap<String, UserRec>,
    pub(crate) conversations: HashMap<String, ConvRec>,
    pub(crate) conv_tombstones: HashMap<String, ConvKeys>,
    /// Every message id ever issued (live or deleted), to keep new ids unique.
    pub(crate) message_ids: HashSet<String>,
    /// Deleted message id → its sort key.
    pub(crate) message_tombstones: HashMap<String, MsgKey>,
    pub(crate) files: HashMap<String, StoredFile>,
    pub(crate) online: BTreeSet<String>,
    /// The sessions of online users set with `FakeTalkJs::set_presence` (an online user
    /// missing here has the default sessions of `users::default_presence`).
    pub(crate) presence: BTreeMap<String, talkjs_models::Presence>,
    /// `http://127.0.0.1:PORT`, for attachment URLs.
    pub(crate) base_url: String,
    /// Shuffles batch results (seeded from [`Faults::seed`](crate::config::Faults::seed)).
    pub(crate) batch_rng: fastrand::Rng,
    /// Most messages per import request ([`Builder::max_import_batch`](crate::Builder::max_import_batch)).
    pub(crate) max_import: usize,
}

/// What a handler works with.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) events: &'a mut Vec<Event>,
    /// The fake's time, stamped on what the request creates.
    pub(crate) now: Timestamp,
    /// Tokio's clock: listings show what was listed by then.
    pub(crate) instant: Instant,
    /// From when what the request creates shows in listings.
    pub(crate) listed_at: Instant,
}

impl Ctx<'_> {
    /// Records a webhook event.
    pub(crate) fn emit(&mut self, event_type: talkjs_models::WebhookEventType, data: Value) {
        self.events.push(Event {
            kind: event_type,
            data,
            at: self.now,
        });
    }
}

impl State {
    /// A fresh state for a server at `base_url`.
    pub(crate) fn new(base_url: String, batch_rng: fastrand::Rng) -> Self {
        Self {
            base_url,
            batch_rng,
            max_import: DEFAULT_MAX_IMPORT_BATCH,
            ..Self::default()
        }
    }

    /// The next insertion sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A conversation, or 404.
    pub(crate) fn conversation(&self, id: &str) -> Result<&ConvRec, ApiError> {
        self.conversations
            .get(id)
            .ok_or_else(|| ApiError::not_found("conversation", id))
    }

    /// A conversation for changing, or 404.
    pub(crate) fn conversation_mut(&mut self, id: &str) -> Result<&mut ConvRec, ApiError> {
        self.conversations
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("conversation", id))
    }

    /// A user, or 404.
    pub(crate) fn user(&self, id: &str) -> Result<&User, ApiError> {
        self.users
            .get(id)
            .map(|r| &r.user)
            .ok_or_else(|| ApiError::not_found("user", id))
    }

    /// Removes everything except the server's own settings.
    pub(crate) fn clear(&mut self) {
        let base_url = std::mem::take(&mut self.base_url);
        let max_import = self.max_import;
        *self = Self::new(base_url, self.batch_rng.clone());
        self.max_import = max_import;
    }
}

/// A random id: `prefix` plus `len` alphanumeric characters.
pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend(std::iter::repeat_with(fastrand::alphanumeric).take(len));
    id
}

/// The `limit` query parameter: `1..=max`, default 10.
///
/// The ranges (conversations 1..=30, users and messages 1..=100, default 10) are on the
/// Get started page (<https://talkjs.com/docs/Reference/REST_API/Getting_Started/Introduction/>).
/// Answering `400` to a value outside them (rather than clamping it), and applying the
/// conversation range to a user's conversation list too, is our reading: the page says
/// neither.
pub(crate) fn parse_limit(req: &ApiRequest, max: usize) -> Result<usize, ApiError> {
    match req.query("limit") {
        None => Ok(10.min(max)),
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "limit must be a whole number from 1 to {max}, got {raw:?}"
            ))),
        },
    }
}

/// A boolean query parameter (`true`/`false`).
pub(crate) fn parse_bool(req: &ApiRequest, name: &str) -> Result<Option<bool>, ApiError> {
    match req.query(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") || v == "1" => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") || v == "0" => Ok(Some(false)),
        Some(v) => Err(ApiError::invalid(format!(
            "{name} must be true or false, got {v:?}"
        ))),
    }
}

/// A millisecond timestamp query parameter.
pub(crate) fn parse_ts(req: &ApiRequest, name: &str) -> Result<Option<Timestamp>, ApiError> {
    match req.query(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Timestamp::from_millis(ms)))
            .map_err(|_| {
                ApiError::invalid(format!(
                    "{name} must be a timestamp in milliseconds, got {v:?}"
                ))
            }),
    }
}

/// Sorts `items` by key (descending or ascending), keeps those strictly after `cursor`,
/// and returns at most `limit`.
pub(crate) fn paginate<K: Ord + Copy, T>(
    mut items: Vec<(K, T)>,
    cursor: Option<K>,
    descending: bool,
    limit: usize,
) -> Vec<T> {
    if descending {
        items.sort_by_key(|item| std::cmp::Reverse(item.0));
    } else {
        items.sort_by_key(|item| item.0);
    }
    items
        .into_iter()
        .filter(|(k, _)| match cursor {
            None => true,
            Some(c) if descending => *k < c,
            Some(c) => *k > c,
        })
        .take(limit)
        .map(|(_, t)| t)
        .collect()
}
