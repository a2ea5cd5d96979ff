//! Collecting a source's records (users, conversations, messages), with what a record
//! repeated says, and keeping one shard's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use talkjs_api::models::{Conversation, Message, User};
use talkjs_runtime::translate::{self, Record, Translator};

use crate::item::PlannedItem;
use crate::note::{Note, Severity};
use crate::shard::Shard;

/// The options that shape a plan (recorded in the journal: a resumed run must have the
/// same).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PlanOptions {
    /// Send system messages (after each conversation's imports) instead of skipping them.
    pub system_messages: bool,
    /// Put each message's source id in `custom` under
    /// [`SOURCE_ID_KEY`](crate::item::SOURCE_ID_KEY).
    pub mark_source_ids: bool,
    /// Plan a [`ReplyLink`](crate::item::ItemKind::ReplyLink) item for each reply whose
    /// message is in the input.
    pub map_reply_links: bool,
}

impl PlanOptions {
    /// The translator of a migration: it carries `readUntil` and files, and system messages
    /// when they are sent.
    pub(super) fn translator(self) -> Translator {
        Translator::new()
            .read_until(true)
            .attachments(true)
            .system_messages(self.system_messages)
    }
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

/// Who reacted to a message with each emoji: emoji → user ids.
pub(super) type Reactors = BTreeMap<String, BTreeSet<String>>;

/// Collects records from a source, then checks them against each other.
#[derive(Debug, Default)]
pub(crate) struct Planner {
    pub(super) users: Vec<(Option<u64>, User)>,
    pub(super) user_index: HashMap<String, usize>,
    pub(super) conversations: Vec<(Option<u64>, Conversation)>,
    pub(super) conversation_index: HashMap<String, usize>,
    pub(super) messages: Vec<(Option<u64>, Message)>,
    pub(super) notes: Vec<Note>,
    pub(super) options: PlanOptions,
    /// The source is an app (its messages' reactions are listed, not read from a file).
    pub(super) from_app: bool,
    /// Who reacted to the source app's messages, by message id (listed while planning).
    pub(super) listed_reactions: HashMap<String, Reactors>,
    /// Requests made for those listings.
    pub(super) reaction_listings: u64,
    /// Reactions read from an export file's `reactions` objects (noted once at the end).
    pub(super) file_reactions: u64,
}

impl Planner {
    pub fn new(options: PlanOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    pub(super) fn note(&mut self, line: Option<u64>, severity: Severity, text: impl Into<String>) {
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

    /// Reads one line of a JSON lines file (its bytes): a user, a conversation or a message
    /// as `talkjs export` writes them ([`translate::read_line`]), or an error with its line.
    pub fn line(&mut self, line: u64, text: &[u8]) {
        let at = Some(line);
        match translate::read_line(line, text) {
            Ok(Record::User(user)) => self.user(at, user),
            Ok(Record::Conversation(conversation)) => self.conversation(at, conversation),
            Ok(Record::Message(message)) => self.message(at, message),
            Ok(_) => self.note(at, Severity::Error, "a record this version cannot migrate"),
            Err(e) => self.note(at, Severity::Error, e.reason),
        }
    }
}
