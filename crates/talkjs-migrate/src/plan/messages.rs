//! A message's item: the translator's import or send, with what the migration adds: readers
//! who are users in the input, the reply link and source id in `custom`, a system message's
//! idempotency key, the file to upload.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use talkjs_api::models::{Custom, ImportMessage, Message, NewSystemMessage};
use talkjs_runtime::translate::{LeftOut, MessageAction};

use super::planner::Planner;
use crate::fnv::Fnv;
use crate::item::{ItemKind, MessageKey, PlannedItem, REPLY_TO_KEY, SOURCE_ID_KEY, to_json};
use crate::note::Severity;

/// The body of a reply-link item: the source id of the message the reply replied to, and
/// the reply's `custom` as it was imported (the edit sends it whole, with the target id
/// added under [`REPLY_TO_ID_KEY`](crate::item::REPLY_TO_ID_KEY), whether TalkJS merges an
/// edit's `custom` key by key or replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplyLinkBody {
    /// The source id of the message replied to.
    pub reply_to: String,
    /// The reply's `custom` as imported.
    pub custom: Custom,
}

/// A message that moves, with what the translator made of it.
#[derive(Debug)]
pub(super) struct Pending {
    pub line: Option<u64>,
    pub message: Message,
    pub action: MessageAction,
}

/// What a message's item is checked against.
#[derive(Debug)]
pub(super) struct Known<'a> {
    /// The users in the input.
    pub users: &'a HashSet<String>,
    /// Every message id in the input, with its line.
    pub ids: &'a HashMap<String, Option<u64>>,
    /// The source's identity, in system messages' idempotency keys.
    pub identity: &'a str,
}

impl Planner {
    /// The item of a message that moves (`None` for one the translator skips).
    pub(super) fn message_item(
        &mut self,
        line: Option<u64>,
        message: &Message,
        action: MessageAction,
        known: &Known<'_>,
    ) -> Option<PlannedItem> {
        match action {
            MessageAction::Import {
                message: import,
                attachment,
                left_out,
            } => {
                let mut item = self.import_item(line, message, import, left_out, known);
                item.attachment = attachment;
                Some(item)
            }
            MessageAction::System {
                message: send,
                attachment,
                left_out,
            } => {
                let mut item = self.system_item(line, message, send, left_out, known);
                item.attachment = attachment;
                Some(item)
            }
            _ => None,
        }
    }

    /// An import, read by the readers who are users in the input (the others are left out,
    /// with a warning), with the marks in `custom`.
    fn import_item(
        &mut self,
        line: Option<u64>,
        message: &Message,
        mut import: ImportMessage,
        left_out: LeftOut,
        known: &Known<'_>,
    ) -> PlannedItem {
        let id = message.id.as_str().to_owned();
        let conversation = message.conversation_id.as_str().to_owned();
        if !left_out.is_empty() {
            self.note(
                line,
                Severity::Warning,
                format!("message {id:?} in {conversation:?}: migrates {left_out} (the import takes none)"),
            );
        }
        let mut readers = Vec::new();
        for reader in std::mem::take(&mut import.read_by) {
            if known.users.contains(reader.as_str()) {
                readers.push(reader);
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
        import.read_by = readers;
        self.mark(line, message, known.ids, &mut import.custom);
        let key = MessageKey {
            sender: import.sender.as_str().to_owned(),
            ts: i64::try_from(import.timestamp.as_millis()).unwrap_or(i64::MAX),
            text: import.text.clone(),
        };
        PlannedItem {
            kind: ItemKind::Message,
            subject: conversation,
            source_id: id,
            line,
            body: to_json(&import),
            key: Some(key),
            attachment: None,
        }
    }

    /// A system message to send, with the marks in `custom` and an idempotency key made of
    /// the source's identity and the message id (a resend after an unknown outcome creates
    /// nothing new).
    fn system_item(
        &mut self,
        line: Option<u64>,
        message: &Message,
        send: NewSystemMessage,
        left_out: LeftOut,
        known: &Known<'_>,
    ) -> PlannedItem {
        let id = message.id.as_str().to_owned();
        let conversation = message.conversation_id.as_str().to_owned();
        if !left_out.is_empty() {
            self.note(
                line,
                Severity::Warning,
                format!(
                    "system message {id:?} in {conversation:?}: migrates {left_out} (system messages take none)"
                ),
            );
        }
        let mut send = send.idempotency_key(system_message_key(known.identity, &id));
        self.mark(line, message, known.ids, &mut send.custom);
        PlannedItem {
            kind: ItemKind::SystemMessage,
            subject: conversation,
            source_id: id,
            line,
            body: to_json(&send),
            key: None,
            attachment: None,
        }
    }

    /// The reply-link item of an import that replies to a message `planned` before it in
    /// its conversation (with
    /// [`PlanOptions::map_reply_links`](super::PlanOptions::map_reply_links)); a reply to a
    /// message that does not migrate keeps its source link only.
    pub(super) fn reply_link_item(
        &self,
        item: &PlannedItem,
        message: &Message,
        planned: &HashSet<String>,
    ) -> Option<PlannedItem> {
        if !self.options.map_reply_links || item.kind != ItemKind::Message {
            return None;
        }
        let reply_to = message.referenced_message_id.as_ref()?.as_str();
        if !planned.contains(reply_to) {
            return None;
        }
        let custom = serde_json::from_str::<ImportMessage>(&item.body)
            .ok()?
            .custom;
        Some(PlannedItem {
            kind: ItemKind::ReplyLink,
            subject: item.subject.clone(),
            source_id: item.source_id.clone(),
            line: item.line,
            body: to_json(&ReplyLinkBody {
                reply_to: reply_to.to_owned(),
                custom,
            }),
            key: None,
            attachment: None,
        })
    }

    /// Adds the migration's marks to a message's `custom`: the reply link, and the source id
    /// if marked.
    fn mark(
        &mut self,
        line: Option<u64>,
        message: &Message,
        ids: &HashMap<String, Option<u64>>,
        custom: &mut Custom,
    ) {
        let id = message.id.as_str();
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
    }
}

/// Puts one conversation's messages oldest first. `talkjs export` writes newest first: a
/// list whose first message is newer than its last is reversed; then a stable sort by time
/// keeps the order of messages that share a millisecond.
pub(super) fn oldest_first(messages: &mut [Pending]) {
    let newest_first = match (messages.first(), messages.last()) {
        (Some(a), Some(b)) => {
            a.message.created_at > b.message.created_at
                || (a.message.created_at == b.message.created_at && messages.len() > 1)
        }
        _ => false,
    };
    if newest_first {
        messages.reverse();
    }
    messages.sort_by_key(|m| m.message.created_at);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::planner::PlanOptions;
    use crate::plan::source::plan_reader;
    use serde_json::json;

    /// The reply links a plan of a conversation with replies has, as (reply, replied to).
    fn links(map_reply_links: bool) -> Vec<(String, String)> {
        let message = |id: &str, sender: &str, ts: u64, reply: Option<&str>| {
            json!({"id": id, "type": "UserMessage", "conversationId": "c", "senderId": sender,
                   "text": id, "createdAt": ts, "readBy": [], "referencedMessageId": reply})
        };
        let lines = [
            json!({"id": "alice", "name": "Alice", "createdAt": 1}),
            json!({"id": "bob", "name": "Bob", "createdAt": 1}),
            json!({"id": "c", "createdAt": 1, "participants": {
                "alice": {"access": "ReadWrite", "notify": true},
                "bob": {"access": "ReadWrite", "notify": true}}}),
            message("m1", "alice", 1, None),
            // Not a user in the input: skipped.
            message("m2", "zoe", 2, None),
            message("m3", "bob", 3, Some("m1")),
            message("m4", "bob", 4, Some("m2")),
            message("m5", "alice", 5, Some("gone")),
        ];
        let input: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let options = PlanOptions {
            map_reply_links,
            ..PlanOptions::default()
        };
        let plan = plan_reader(input.as_bytes(), None, options).unwrap();
        (plan.items.iter())
            .filter(|i| i.kind == ItemKind::ReplyLink)
            .map(|i| {
                let body: ReplyLinkBody = serde_json::from_str(&i.body).unwrap();
                assert_eq!(body.custom.get(REPLY_TO_KEY), Some(&body.reply_to));
                (i.source_id.clone(), body.reply_to)
            })
            .collect()
    }

    #[test]
    fn a_reply_link_is_planned_only_to_a_message_that_migrates() {
        assert_eq!(links(true), [("m3".to_owned(), "m1".to_owned())]);
        assert!(links(false).is_empty());
    }
}
