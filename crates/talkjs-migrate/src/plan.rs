//! Planning: reading a source (a JSON lines file, another app) into the list of work, in
//! the order it is sent, with what cannot move reported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use futures_util::TryStreamExt;
use serde_json::Value;
use talkjs_api::Client;
use talkjs_api::models::{
    Access, Conversation, ConversationUpsert, ImportMessage, Message, MessageType,
    NewSystemMessage, Notify, ParticipantOverwrite, ParticipantPatch, User, UserUpsert,
};

use crate::journal::ItemKind;
use crate::shard::Shard;

mod reactions;
pub(crate) use reactions::ReactionBody;

/// The `custom` key under which a migrated message carries the id of the message it
/// replied to, in the source (TalkJS's import takes no `referencedMessageId`, so the link
/// cannot be restored as a reply; it is kept here instead). A message that already has
/// this key (e.g. it was migrated before) keeps its value.
pub const REPLY_TO_KEY: &str = "talkjs-migrate:replyTo";

/// The `custom` key under which a migrated message carries its id in the source, when
/// [`Migration::mark_source_ids`](crate::Migration::mark_source_ids) is on: resolving an
/// uncertain import and [`Migration::verify`](crate::Migration::verify) then find the
/// message by this marker instead of by sender, time and text. A source message that
/// already has this key (e.g. it was migrated with the marker before) gets this source's id
/// instead.
pub const SOURCE_ID_KEY: &str = "talkjs-migrate:sourceId";

/// The options that shape a plan (recorded in the journal: a resumed run must have the
/// same).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PlanOptions {
    /// Send system messages (after each conversation's imports) instead of skipping them.
    pub system_messages: bool,
    /// Put each message's source id in `custom` under [`SOURCE_ID_KEY`].
    pub mark_source_ids: bool,
}

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The line is not a record (bad JSON, unknown shape) or refers to something missing
    /// (an unknown sender, a conversation not in the input); it does not migrate.
    Error,
    /// A valid record that cannot migrate (e.g. a system message without
    /// [`Migration::system_messages`](crate::Migration::system_messages): the import takes
    /// user messages only).
    Skipped,
    /// It migrates, but something is left out (a location, reactions).
    Warning,
}

impl Severity {
    /// `error`, `skipped` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Warning => "warning",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "error" => Self::Error,
            "skipped" => Self::Skipped,
            _ => Self::Warning,
        }
    }
}

/// Something planning found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Note {
    /// The line of the input file (1-based), when the source is a file.
    pub line: Option<u64>,
    /// How serious it is.
    pub severity: Severity,
    /// What it is.
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{}: {}", self.severity.as_str(), self.text)
    }
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

/// The plan: work in sending order, notes, and a fingerprint of the source.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub items: Vec<PlannedItem>,
    pub notes: Vec<Note>,
    pub fingerprint: String,
    /// System messages left out (without [`PlanOptions::system_messages`]).
    pub skipped_system_messages: u64,
    /// Requests made to list who reacted to the source app's messages (one per message
    /// and emoji, one more per further page of 100 users); 0 for a file.
    pub reaction_listings: u64,
}

/// A participant setting sent after the messages: a PUT (overwrite) for `Read` or a notify
/// setting, a PATCH for access `None` (which only the PATCH takes) or a `readUntil` (which
/// only the PATCH takes, with the participant's access and notify where they are not the
/// defaults).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", content = "settings")]
pub(crate) enum ParticipantSetting {
    #[serde(rename = "PUT")]
    Overwrite(ParticipantOverwrite),
    #[serde(rename = "PATCH")]
    Patch(ParticipantPatch),
}

/// Collects records from a source, then checks them against each other.
#[derive(Debug, Default)]
pub(crate) struct Planner {
    users: Vec<(Option<u64>, User)>,
    user_index: HashMap<String, usize>,
    conversations: Vec<(Option<u64>, Conversation)>,
    conversation_index: HashMap<String, usize>,
    messages: Vec<(Option<u64>, Message)>,
    notes: Vec<Note>,
    options: PlanOptions,
    /// The source is an app (its messages' reactions are listed, not read from a file).
    from_app: bool,
    /// Who reacted to the source app's messages, by message id (listed while planning).
    listed_reactions: HashMap<String, reactions::Reactors>,
    /// Requests made for those listings.
    reaction_listings: u64,
    /// Reactions read from an export file's `reactions` objects (noted once at the end).
    file_reactions: u64,
}

impl Planner {
    pub fn new(options: PlanOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    fn note(&mut self, line: Option<u64>, severity: Severity, text: impl Into<String>) {
        self.notes.push(Note {
            line,
            severity,
            text: text.into(),
        });
    }

    pub fn user(&mut self, line: Option<u64>, user: User) {
        let id = user.id.as_str().to_owned();
        if let Some(&i) = self.user_index.get(&id) {
            let earlier = self.users[i].0;
            self.note(
                line,
                Severity::Warning,
                format!(
                    "user {id:?} appears again{}; the later record is used",
                    earlier.map_or_else(String::new, |l| format!(" (first on line {l})"))
                ),
            );
            self.users[i] = (line, user);
        } else {
            self.user_index.insert(id, self.users.len());
            self.users.push((line, user));
        }
    }

    pub fn conversation(&mut self, line: Option<u64>, conversation: Conversation) {
        let id = conversation.id.as_str().to_owned();
        if let Some(&i) = self.conversation_index.get(&id) {
            let earlier = self.conversations[i].0;
            self.note(
                line,
                Severity::Warning,
                format!(
                    "conversation {id:?} appears again{}; the later record is used",
                    earlier.map_or_else(String::new, |l| format!(" (first on line {l})"))
                ),
            );
            self.conversations[i] = (line, conversation);
        } else {
            self.conversation_index.insert(id, self.conversations.len());
            self.conversations.push((line, conversation));
        }
    }

    pub fn message(&mut self, line: Option<u64>, message: Message) {
        self.messages.push((line, message));
    }

    /// Keeps the records of one shard: its conversations and their messages (a message
    /// whose conversation is not in the input too, to be reported once), the users they
    /// name (participants, senders, readers, users who reacted), and on shard 0 the users no
    /// conversation or message names. Every user a shard's messages need is upserted by that shard
    /// (upserts are idempotent, so users shared by shards are simply sent by each).
    pub fn retain_shard(&mut self, shard: Option<Shard>) {
        let Some(shard) = shard else {
            return;
        };
        let mut named = HashSet::new();
        let mut needed = HashSet::new();
        for (_, c) in &self.conversations {
            let mine = shard.contains(c.id.as_str());
            for user in c.participants.keys() {
                named.insert(user.as_str().to_owned());
                if mine {
                    needed.insert(user.as_str().to_owned());
                }
            }
        }
        for (_, m) in &self.messages {
            let mine = shard.contains(m.conversation_id.as_str());
            let reactors = self.reactors_of(m);
            let users = (m.sender_id.iter().chain(&m.read_by))
                .map(talkjs_api::models::UserId::as_str)
                .chain(reactors.iter().map(String::as_str));
            for user in users {
                named.insert(user.to_owned());
                if mine {
                    needed.insert(user.to_owned());
                }
            }
        }
        self.users.retain(|(_, u)| {
            let id = u.id.as_str();
            needed.contains(id) || (shard.index() == 0 && !named.contains(id))
        });
        self.user_index = (self.users.iter().enumerate())
            .map(|(i, (_, u))| (u.id.as_str().to_owned(), i))
            .collect();
        self.conversations
            .retain(|(_, c)| shard.contains(c.id.as_str()));
        self.conversation_index = (self.conversations.iter().enumerate())
            .map(|(i, (_, c))| (c.id.as_str().to_owned(), i))
            .collect();
        self.messages
            .retain(|(_, m)| shard.contains(m.conversation_id.as_str()));
    }

    /// Reads one line of a JSON lines file: a message has `conversationId`, a conversation
    /// `participants`, a user `name` (`talkjs export` always writes these fields).
    pub fn line(&mut self, line: u64, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return self.note(Some(line), Severity::Error, format!("not valid JSON: {e}"));
            }
        };
        let Value::Object(object) = &value else {
            return self.note(Some(line), Severity::Error, NOT_A_RECORD);
        };
        let line = Some(line);
        if object.contains_key("conversationId") {
            match serde_json::from_value::<Message>(value) {
                Ok(m) => self.message(line, m),
                Err(e) => self.note(line, Severity::Error, format!("not a message: {e}")),
            }
        } else if object.contains_key("participants") {
            match serde_json::from_value::<Conversation>(value) {
                Ok(c) => self.conversation(line, c),
                Err(e) => self.note(line, Severity::Error, format!("not a conversation: {e}")),
            }
        } else if object.contains_key("name") {
            match serde_json::from_value::<User>(value) {
                Ok(u) => self.user(line, u),
                Err(e) => self.note(line, Severity::Error, format!("not a user: {e}")),
            }
        } else {
            self.note(line, Severity::Error, NOT_A_RECORD);
        }
    }

    /// Checks the records against each other and lays out the work: users, conversations,
    /// the messages of each conversation oldest first (then its system messages, if they
    /// are sent), then participant settings, then reactions. `identity` names the source in the
    /// idempotency keys of system messages.
    #[allow(clippy::too_many_lines)]
    pub fn finish(mut self, fingerprint: String, identity: &str) -> Plan {
        let mut items = Vec::new();
        let users: HashSet<String> = self.user_index.keys().cloned().collect();
        for (line, user) in std::mem::take(&mut self.users) {
            let id = user.id.as_str().to_owned();
            items.push(PlannedItem {
                kind: ItemKind::User,
                subject: id.clone(),
                source_id: id,
                line,
                body: to_json(&user_upsert(user)),
                key: None,
                attachment: None,
            });
        }

        let mut participants_of: HashMap<String, HashSet<String>> = HashMap::new();
        let mut settings = Vec::new();
        for (line, conversation) in std::mem::take(&mut self.conversations) {
            let id = conversation.id.as_str().to_owned();
            let mut members = HashSet::new();
            for (user, participant) in &conversation.participants {
                let user = user.as_str();
                if !users.contains(user) {
                    self.note(
                        line,
                        Severity::Error,
                        format!(
                            "participant {user:?} of conversation {id:?} is not a user in the input; left out"
                        ),
                    );
                    continue;
                }
                members.insert(user.to_owned());
                let setting = if let Some(read_until) = participant.read_until {
                    // Only the PATCH takes readUntil: with access and notify where they are
                    // not the defaults the conversation upsert gives.
                    let mut patch = ParticipantPatch::new().read_until(read_until);
                    if participant.access != Access::ReadWrite {
                        patch = patch.access(participant.access.clone());
                    }
                    if participant.access == Access::None || participant.notify != Notify::All {
                        patch = patch.notify(participant.notify.clone());
                    }
                    Some(ParticipantSetting::Patch(patch))
                } else if participant.access == Access::None {
                    Some(ParticipantSetting::Patch(
                        ParticipantPatch::new()
                            .access(Access::None)
                            .notify(participant.notify.clone()),
                    ))
                } else if participant.access != Access::ReadWrite
                    || participant.notify != Notify::All
                {
                    Some(ParticipantSetting::Overwrite(
                        ParticipantOverwrite::new()
                            .access(participant.access.clone())
                            .notify(participant.notify.clone()),
                    ))
                } else {
                    None
                };
                if let Some(setting) = setting {
                    settings.push(PlannedItem {
                        kind: ItemKind::Participant,
                        subject: id.clone(),
                        source_id: user.to_owned(),
                        line,
                        body: to_json(&setting),
                        key: None,
                        attachment: None,
                    });
                }
            }
            let mut sorted: Vec<&String> = members.iter().collect();
            sorted.sort();
            let upsert = conversation_upsert(conversation, sorted.into_iter().cloned());
            items.push(PlannedItem {
                kind: ItemKind::Conversation,
                subject: id.clone(),
                source_id: id.clone(),
                line,
                body: to_json(&upsert),
                key: None,
                attachment: None,
            });
            participants_of.insert(id, members);
        }

        // Messages, grouped by conversation in the order conversations first appear.
        let mut seen_ids: HashMap<String, Option<u64>> = HashMap::new();
        let mut per_conversation: BTreeMap<usize, Vec<(usize, Option<u64>, Message)>> =
            BTreeMap::new();
        let mut system_per_conversation: BTreeMap<usize, Vec<(usize, Option<u64>, Message)>> =
            BTreeMap::new();
        let mut skipped_system = 0usize;
        for (pos, (line, message)) in std::mem::take(&mut self.messages).into_iter().enumerate() {
            let id = message.id.as_str().to_owned();
            let conversation = message.conversation_id.as_str().to_owned();
            if let Some(first) = seen_ids.get(&id) {
                self.note(
                    line,
                    Severity::Error,
                    format!(
                        "message {id:?} appears again{}; skipped",
                        first.map_or_else(String::new, |l| format!(" (first on line {l})"))
                    ),
                );
                continue;
            }
            seen_ids.insert(id.clone(), line);
            let Some(&index) = self.conversation_index.get(&conversation) else {
                self.note(
                    line,
                    Severity::Error,
                    format!("message {id:?}: conversation {conversation:?} is not in the input"),
                );
                continue;
            };
            if message.message_type != MessageType::UserMessage {
                let system = message.message_type == MessageType::SystemMessage;
                if !(system && self.options.system_messages) {
                    if system {
                        skipped_system += 1;
                    }
                    self.note(
                        line,
                        Severity::Skipped,
                        format!(
                            "message {id:?} in {conversation:?}: a {} (the import takes user messages only)",
                            message.message_type.as_str()
                        ),
                    );
                    continue;
                }
                if message.text.as_deref().is_none_or(str::is_empty) && message.attachment.is_none()
                {
                    self.note(
                        line,
                        Severity::Skipped,
                        format!(
                            "message {id:?} in {conversation:?}: a system message with no text"
                        ),
                    );
                    continue;
                }
                system_per_conversation
                    .entry(index)
                    .or_default()
                    .push((pos, line, message));
                continue;
            }
            let Some(sender) = message.sender_id.as_ref().map(|s| s.as_str().to_owned()) else {
                self.note(
                    line,
                    Severity::Error,
                    format!("message {id:?} in {conversation:?}: no sender"),
                );
                continue;
            };
            if !users.contains(&sender) {
                self.note(
                    line,
                    Severity::Error,
                    format!("message {id:?} in {conversation:?}: unknown sender {sender:?} (not a user in the input)"),
                );
                continue;
            }
            if !participants_of
                .get(&conversation)
                .is_some_and(|m| m.contains(&sender))
            {
                self.note(
                    line,
                    Severity::Error,
                    format!(
                        "message {id:?} in {conversation:?}: sender {sender:?} is not a participant (the import takes messages from participants only)"
                    ),
                );
                continue;
            }
            if message.text.as_deref().is_none_or(str::is_empty) && message.attachment.is_none() {
                let only = if message.location.is_some() {
                    "a location only (the import cannot carry locations)"
                } else {
                    "no text"
                };
                self.note(
                    line,
                    Severity::Skipped,
                    format!("message {id:?} in {conversation:?}: {only}"),
                );
                continue;
            }
            per_conversation
                .entry(index)
                .or_default()
                .push((pos, line, message));
        }

        let indexes: std::collections::BTreeSet<usize> = per_conversation
            .keys()
            .chain(system_per_conversation.keys())
            .copied()
            .collect();
        let mut reaction_items = Vec::new();
        for index in indexes {
            if let Some(mut messages) = per_conversation.remove(&index) {
                oldest_first(&mut messages);
                for (_, line, message) in messages {
                    let item = self.message_item(line, &message, &users, &seen_ids);
                    items.push(item);
                    self.plan_reactions(line, &message, &users, &mut reaction_items);
                }
            }
            // Sent after the conversation's imported history (they get the time they are
            // sent), in their original order.
            if let Some(mut messages) = system_per_conversation.remove(&index) {
                oldest_first(&mut messages);
                for (_, line, message) in messages {
                    let item = self.system_item(line, &message, &seen_ids, identity);
                    items.push(item);
                    self.plan_reactions(line, &message, &users, &mut reaction_items);
                }
            }
        }
        if skipped_system > 0 {
            self.note(
                None,
                Severity::Warning,
                format!(
                    "{skipped_system} system messages are skipped (the import takes user messages only); \
                     opt in with system_messages(true) / talkjs migrate --system-messages to send them \
                     after each conversation's history, stamped with the time they are sent"
                ),
            );
        }
        self.note_file_reactions();
        items.extend(settings);
        items.extend(reaction_items);
        Plan {
            items,
            notes: self.notes,
            fingerprint,
            skipped_system_messages: skipped_system as u64,
            reaction_listings: self.reaction_listings,
        }
    }

    fn message_item(
        &mut self,
        line: Option<u64>,
        message: &Message,
        users: &HashSet<String>,
        ids: &HashMap<String, Option<u64>>,
    ) -> PlannedItem {
        let id = message.id.as_str().to_owned();
        let conversation = message.conversation_id.as_str().to_owned();
        let sender = message
            .sender_id
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let text = message.text.clone().unwrap_or_default();
        if message.location.is_some() {
            self.note(
                line,
                Severity::Warning,
                format!(
                    "message {id:?} in {conversation:?}: migrates without its location (the import takes none)"
                ),
            );
        }
        let mut readers = Vec::new();
        for reader in &message.read_by {
            if users.contains(reader.as_str()) {
                readers.push(reader.as_str().to_owned());
            } else {
                self.note(
                    line,
                    Severity::Warning,
                    format!(
                        "message {id:?}: reader {:?} is not a user in the input; left out of readBy",
                        reader.as_str()
                    ),
                );
            }
        }
        let custom = self.custom(line, message, ids);
        let mut import =
            ImportMessage::new(sender.clone(), text.clone(), message.created_at).read_by(readers);
        import.custom = custom;
        PlannedItem {
            kind: ItemKind::Message,
            subject: conversation,
            source_id: id,
            line,
            body: to_json(&import),
            key: Some(MessageKey {
                sender,
                ts: i64::try_from(message.created_at.as_millis()).unwrap_or(i64::MAX),
                text,
            }),
            attachment: message.attachment.as_ref().map(|a| a.url.clone()),
        }
    }

    /// A message's `custom` as migrated: with the reply link, and the source id if marked.
    fn custom(
        &mut self,
        line: Option<u64>,
        message: &Message,
        ids: &HashMap<String, Option<u64>>,
    ) -> talkjs_api::models::Custom {
        let id = message.id.as_str();
        let mut custom = message.custom.clone();
        if let Some(reply) = &message.referenced_message_id {
            if !ids.contains_key(reply.as_str()) {
                self.note(
                    line,
                    Severity::Warning,
                    format!(
                        "message {id:?} replies to {:?}, which is not in the input; the link is kept in custom[{REPLY_TO_KEY:?}] all the same",
                        reply.as_str()
                    ),
                );
            }
            custom.insert(REPLY_TO_KEY.to_owned(), reply.as_str().to_owned());
        }
        if self.options.mark_source_ids {
            custom.insert(SOURCE_ID_KEY.to_owned(), id.to_owned());
        }
        custom
    }

    /// A system message to send: its text, custom data and attachment, with an idempotency
    /// key made of the source's identity and the message id (a resend after an unknown
    /// outcome creates nothing new).
    fn system_item(
        &mut self,
        line: Option<u64>,
        message: &Message,
        ids: &HashMap<String, Option<u64>>,
        identity: &str,
    ) -> PlannedItem {
        let id = message.id.as_str().to_owned();
        let conversation = message.conversation_id.as_str().to_owned();
        if message.location.is_some() {
            self.note(
                line,
                Severity::Warning,
                format!(
                    "system message {id:?} in {conversation:?}: migrates without its location (system messages take none)"
                ),
            );
        }
        let mut body = NewSystemMessage::new(message.text.clone().unwrap_or_default())
            .idempotency_key(system_message_key(identity, &id));
        body.custom = self.custom(line, message, ids);
        PlannedItem {
            kind: ItemKind::SystemMessage,
            subject: conversation,
            source_id: id,
            line,
            body: to_json(&body),
            key: None,
            attachment: message.attachment.as_ref().map(|a| a.url.clone()),
        }
    }
}

/// Puts one conversation's messages oldest first. `talkjs export` writes newest first: a
/// list whose first message is newer than its last is reversed; then a stable sort by time
/// keeps the order of messages that share a millisecond.
fn oldest_first(messages: &mut [(usize, Option<u64>, Message)]) {
    let newest_first = match (messages.first(), messages.last()) {
        (Some(a), Some(b)) => {
            a.2.created_at > b.2.created_at
                || (a.2.created_at == b.2.created_at && messages.len() > 1)
        }
        _ => false,
    };
    if newest_first {
        messages.reverse();
    }
    messages.sort_by_key(|m| m.2.created_at);
}

/// The idempotency key of a system message: `talkjs-migrate:` + the 64-bit FNV-1a hash of
/// the source's identity (a file's length and hash, or `app`) in hex + `:` + the source
/// message id. The same message of the same source always gets the same key, so a send
/// repeated after an unknown outcome (a lost answer, a killed process) creates nothing.
pub(crate) fn system_message_key(identity: &str, message_id: &str) -> String {
    let mut hash = Fnv::new();
    hash.write(identity.as_bytes());
    format!("talkjs-migrate:{:016x}:{message_id}", hash.finish())
}

/// What a line that is none of the three kinds is told.
const NOT_A_RECORD: &str = "neither a user, a conversation nor a message as `talkjs export` \
    writes them (a message has \"conversationId\", a conversation \"participants\", a user \"name\")";

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // The bodies are plain data (maps with string keys): serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// An upsert of every field the user record has and the upsert takes.
pub(crate) fn user_upsert(user: User) -> UserUpsert {
    UserUpsert::from(user)
}

/// An upsert with the conversation's fields and the given participants (added with the
/// default settings; others are set after the messages).
pub(crate) fn conversation_upsert(
    conversation: Conversation,
    participants: impl IntoIterator<Item = String>,
) -> ConversationUpsert {
    ConversationUpsert::from(conversation).participants(participants)
}

/// A 64-bit FNV-1a hash, for the input's fingerprint (stable across Rust versions, unlike
/// the standard library's hasher).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// The fingerprint of an input file (its length and hash), as [`plan_file`] records it:
/// a resumed run checks that its input is the one planned without planning it again.
pub(crate) fn fingerprint_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut fingerprint = Fingerprint::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        fingerprint.update(&buf[..n]);
    }
    Ok(fingerprint.finish())
}

/// The length and hash of an input's bytes: `file:<length>:<hash>`.
struct Fingerprint {
    hash: Fnv,
    length: u64,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Self {
            hash: Fnv::new(),
            length: 0,
        }
    }
}

impl Fingerprint {
    fn update(&mut self, bytes: &[u8]) {
        self.hash.write(bytes);
        self.length += bytes.len() as u64;
    }

    fn finish(&self) -> String {
        format!("file:{}:{:016x}", self.length, self.hash.0)
    }
}

/// Reads a JSON lines file into a plan. A line that is not valid UTF-8 or not a record is
/// noted with its number; reading goes on.
pub(crate) fn plan_file(
    path: &Path,
    shard: Option<Shard>,
    options: PlanOptions,
) -> std::io::Result<Plan> {
    let file = std::fs::File::open(path)?;
    plan_reader(file, shard, options)
}

pub(crate) fn plan_reader(
    reader: impl Read,
    shard: Option<Shard>,
    options: PlanOptions,
) -> std::io::Result<Plan> {
    let mut reader = BufReader::new(reader);
    let mut planner = Planner::new(options);
    let mut fingerprint = Fingerprint::default();
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        number += 1;
        fingerprint.update(&buf);
        match std::str::from_utf8(&buf) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => planner.line(number, text),
            Err(e) => planner.note(
                Some(number),
                Severity::Error,
                format!("not UTF-8 text: {e}"),
            ),
        }
    }
    planner.retain_shard(shard);
    // The file's fingerprint without the shard names it in system messages' idempotency
    // keys: every shard of one file gives a message the same key.
    let identity = fingerprint.finish();
    Ok(planner.finish(identity.clone() + &shard_suffix(shard), &identity))
}

/// What a shard adds to the fingerprint of its input: a shard's journal resumes that shard
/// only.
pub(crate) fn shard_suffix(shard: Option<Shard>) -> String {
    shard.map_or_else(String::new, |s| format!(" shard {s}"))
}

/// Lists another app (users, conversations, each conversation's messages, and who reacted
/// to each message with each of its emoji) into a plan; with a shard, only that shard's
/// conversations' messages are listed.
pub(crate) async fn plan_app(
    source: &Client,
    shard: Option<Shard>,
    options: PlanOptions,
) -> Result<Plan, talkjs_api::Error> {
    let mut planner = Planner::new(options);
    planner.from_app = true;
    let mut users = source.users().list().limit(100).into_stream();
    while let Some(user) = users.try_next().await? {
        planner.user(None, user);
    }
    let mut conversations = source.conversations().list().limit(30).into_stream();
    let mut ids = Vec::new();
    while let Some(conversation) = conversations.try_next().await? {
        ids.push(conversation.id.as_str().to_owned());
        planner.conversation(None, conversation);
    }
    for id in ids {
        if shard.is_some_and(|s| !s.contains(&id)) {
            continue;
        }
        let mut messages = source
            .conversations()
            .messages(id.clone())
            .list()
            .limit(100)
            .into_stream();
        while let Some(message) = messages.try_next().await? {
            planner.list_reactions(source, &message).await?;
            planner.message(None, message);
        }
    }
    planner.retain_shard(shard);
    // TalkJS message ids are random and unique across apps: with them, `app` is identity
    // enough for the idempotency keys of system messages.
    Ok(planner.finish(app_fingerprint(source, shard), "app"))
}

/// The fingerprint of a source app as the journal records it: `app:ROOT/v1/APP_ID` (just
/// `app` for a client that does not know its app), and the shard.
pub(crate) fn app_fingerprint(source: &Client, shard: Option<Shard>) -> String {
    let app = crate::journal::app_address(source).map_or_else(String::new, |a| format!(":{a}"));
    format!("app{app}{}", shard_suffix(shard))
}
