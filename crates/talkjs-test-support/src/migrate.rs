//! What the migration tests share (feature `migrate`): scratch directories, export files,
//! clients of the fake, checks of the target. Used by the tests of crates/talkjs-migrate and
//! by crates/talkjs-cli/tests/migrate_kill.rs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::REPLY_TO_KEY;
use talkjs_migrate::talkjs_api::models::{Conversation, Message, UserId};
use talkjs_migrate::talkjs_api::{Client, ClientBuilder};

/// A fresh directory under the system's temporary directory (removed by `Scratch::drop`).
pub struct Scratch(
    /// The directory.
    pub PathBuf,
);

impl Scratch {
    /// A new, empty directory whose name contains `name`, this process's id and a counter.
    pub fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "talkjs-migrate-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self(dir)
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One message of the generated source, in conversation order (oldest first).
#[derive(Debug, Clone)]
pub struct SourceMessage {
    /// Its id in the source (`msg_{conversation}_{k}`).
    pub id: String,
    /// The sender's user id.
    pub sender: String,
    /// The text.
    pub text: String,
    /// When it was sent, in Unix milliseconds.
    pub ts: u64,
    /// Who read it (user ids).
    pub read_by: Vec<String>,
    /// The source id of the message it replies to.
    pub reply_to: Option<String>,
}

/// A generated export: users, conversations, and each conversation's messages.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// The user ids (`u0`, `u1`, …).
    pub users: Vec<String>,
    /// Each conversation's id and participants' ids.
    pub conversations: Vec<(String, Vec<String>)>,
    /// Per conversation, oldest first.
    pub messages: Vec<Vec<SourceMessage>>,
}

impl Export {
    /// `conversations` conversations of 3 participants among `users` users, each with
    /// `per_conversation` messages: replies, read state, messages sharing a millisecond and
    /// messages repeated word for word at the same millisecond by the same sender.
    pub fn generate(users: usize, conversations: usize, per_conversation: usize) -> Self {
        let mut export = Self {
            users: (0..users).map(|i| format!("u{i}")).collect(),
            ..Self::default()
        };
        for c in 0..conversations {
            let id = format!("c{c}");
            let members: Vec<String> = (0..3)
                .map(|k| format!("u{}", (c + k * 7) % users))
                .collect();
            let mut list: Vec<SourceMessage> = Vec::new();
            let mut ts = 1_600_000_000_000 + (c as u64) * 10_000_000;
            for k in 0..per_conversation {
                let sender = members[k % 3].clone();
                // Every 7th message shares the previous one's millisecond; every 13th repeats
                // it word for word (same sender, same millisecond, same text), and so does
                // every 20th from the 10th on, so that twins straddle two imports of 10.
                let repeat = (k % 13 == 12 || k % 20 == 10) && k > 0;
                if k % 7 != 6 && !repeat {
                    ts += 1000 + (k as u64 % 5);
                }
                let (sender, text) = if repeat {
                    let prev = &list[k - 1];
                    (prev.sender.clone(), prev.text.clone())
                } else {
                    (sender, format!("message {k} in {id}"))
                };
                let read_by = members
                    .iter()
                    .filter(|m| **m != sender && k + 3 < per_conversation)
                    .cloned()
                    .collect();
                let reply_to = (k % 5 == 4).then(|| format!("msg_{c}_{}", k - 3));
                list.push(SourceMessage {
                    id: format!("msg_{c}_{k}"),
                    sender,
                    text,
                    ts,
                    read_by,
                    reply_to,
                });
            }
            export.conversations.push((id, members));
            export.messages.push(list);
        }
        export
    }

    /// How many messages the export holds.
    pub fn message_count(&self) -> usize {
        self.messages.iter().map(Vec::len).sum()
    }

    /// The export line of user `id`.
    pub fn user_line(id: &str) -> Value {
        json!({"id": id, "name": format!("User {id}"), "email": [format!("{id}@example.com")], "custom": {"tier": "gold"}, "createdAt": 1_500_000_000_000u64})
    }

    /// The export line of conversation `id` with `members` as its participants.
    pub fn conversation_line(id: &str, members: &[String]) -> Value {
        let participants: serde_json::Map<String, Value> = members
            .iter()
            .map(|m| (m.clone(), json!({"access": "ReadWrite", "notify": true})))
            .collect();
        json!({"id": id, "subject": format!("Subject of {id}"), "custom": {"k": "v"}, "participants": participants, "createdAt": 1_500_000_000_000u64})
    }

    /// The export line of message `m` of `conversation`.
    pub fn message_line(conversation: &str, m: &SourceMessage) -> Value {
        json!({
            "id": m.id, "type": "UserMessage", "conversationId": conversation,
            "senderId": m.sender, "text": m.text, "origin": "web", "readBy": m.read_by,
            "createdAt": m.ts, "editedAt": null, "custom": {"n": m.id},
            "referencedMessageId": m.reply_to, "attachment": null, "location": null
        })
    }

    /// The lines as `talkjs export` writes them: users, conversations, then each
    /// conversation's messages newest first.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for u in &self.users {
            lines.push(Self::user_line(u).to_string());
        }
        for (id, members) in &self.conversations {
            lines.push(Self::conversation_line(id, members).to_string());
        }
        for ((id, _), messages) in self.conversations.iter().zip(&self.messages) {
            for m in messages.iter().rev() {
                lines.push(Self::message_line(id, m).to_string());
            }
        }
        lines
    }

    /// Writes [`Export::lines`] to the file at `path`.
    pub fn write(&self, path: &Path) {
        write_lines(path, &self.lines());
    }
}

/// Writes `lines` to the file at `path`, one a line.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut file = std::fs::File::create(path).expect("create the export file");
    for line in lines {
        writeln!(file, "{line}").expect("write the export file");
    }
}

/// A builder of a client of the fake with no client-side rate limit (the fake has none
/// either).
pub fn builder(fake: &FakeTalkJs) -> ClientBuilder {
    Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(None)
}

/// A client of the fake with no client-side rate limit (the fake has none either).
pub fn client(fake: &FakeTalkJs) -> Client {
    builder(fake).build().expect("a client of the fake")
}

/// Checks that the target holds every message of the export exactly once, in order, with
/// its sender, timestamp, text, reply link (as carried) and read state.
pub fn assert_target_matches(fake: &FakeTalkJs, export: &Export) {
    for ((id, members), expected) in export.conversations.iter().zip(&export.messages) {
        let conversation = fake
            .conversation(id)
            .unwrap_or_else(|| panic!("conversation {id} missing"));
        // Oldest first; messages of one millisecond in the order they were stored.
        assert_conversation_matches(id, members, &conversation, &fake.messages(id), expected);
    }
}

/// [`assert_target_matches`] through the REST API, for a target in another process (e.g.
/// `talkjs fake serve`).
pub async fn assert_listed_target_matches(client: &Client, export: &Export) {
    use futures_util::TryStreamExt;
    for ((id, members), expected) in export.conversations.iter().zip(&export.messages) {
        let conversation = client
            .conversations()
            .get(id)
            .await
            .unwrap_or_else(|e| panic!("conversation {id}: {e}"));
        // Newest first, the reverse of the order they were stored in.
        let mut found: Vec<Message> = client
            .conversations()
            .messages(id.clone())
            .list()
            .limit(100)
            .into_stream()
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("messages of {id}: {e}"));
        found.reverse();
        assert_conversation_matches(id, members, &conversation, &found, expected);
    }
}

/// One conversation of the target (`found`: its messages oldest first) against the export.
pub fn assert_conversation_matches(
    id: &str,
    members: &[String],
    conversation: &Conversation,
    found: &[Message],
    expected: &[SourceMessage],
) {
    for m in members {
        assert!(
            conversation.participants.keys().any(|p| p.as_str() == m),
            "{id}: participant {m}"
        );
    }
    assert_eq!(
        conversation.subject.as_deref(),
        Some(format!("Subject of {id}").as_str())
    );
    assert_eq!(
        found.len(),
        expected.len(),
        "{id}: every message exactly once"
    );
    for (k, (e, f)) in expected.iter().zip(found).enumerate() {
        let at = format!("{id} message {k} ({})", e.id);
        assert_eq!(
            f.sender_id.as_ref().map(UserId::as_str),
            Some(e.sender.as_str()),
            "{at}: sender"
        );
        assert_eq!(f.text.as_deref(), Some(e.text.as_str()), "{at}: text");
        assert_eq!(f.created_at.as_millis(), e.ts, "{at}: timestamp");
        assert_eq!(
            f.custom.get(REPLY_TO_KEY),
            e.reply_to.as_ref(),
            "{at}: reply link"
        );
        assert_eq!(
            f.custom.get("n"),
            Some(&e.id),
            "{at}: custom (which source message)"
        );
        let mut readers: Vec<&str> = f.read_by.iter().map(UserId::as_str).collect();
        readers.sort_unstable();
        let mut want: Vec<&str> = e.read_by.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(readers, want, "{at}: read state");
    }
}
