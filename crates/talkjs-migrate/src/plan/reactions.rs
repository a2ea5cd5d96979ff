//! Reactions in a plan: who reacted to a source message with which emoji, and the items that
//! add each of those reactions to the target message once the messages landed.
//!
//! From a source app, TalkJS's own transfer example is followed: a message's `reactions`
//! object gives the emoji (its keys), and `GET …/messages/{id}/reactions/{emoji}` lists who
//! reacted, one request per message and emoji (one more per further page of 100 users).
//! From an export file, only the line itself is there: its `reactions` object is carried
//! when its values name the users (a list of user ids, or of `{"userId": …}` objects, as
//! `talkjs export` writes them from a listing that has them); otherwise (counts, or a shape
//! that names no users) the message migrates without them, with a warning.

use std::collections::{BTreeSet, HashSet};

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use talkjs_api::Client;
use talkjs_api::models::{Message, MessageType};

use super::planner::{Planner, Reactors};
use crate::item::{ItemKind, PlannedItem, to_json};
use crate::note::Severity;

/// The body of a reaction item: one user's reaction to the item's message with one emoji
/// (`PUT …/messages/{target id}/reactions/{emoji}/{user}`, idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReactionBody {
    /// The emoji.
    pub emoji: String,
    /// The user who reacted.
    pub user: String,
}

/// The page size of a reactions listing (TalkJS's transfer example asks for 100).
const PAGE: u32 = 100;

/// What an export line's `reactions` says about who reacted.
#[derive(Debug, PartialEq, Eq)]
enum FromExport {
    /// No reactions (absent, `null`, empty).
    Nothing,
    /// The users who reacted, by emoji.
    Users(Reactors),
    /// Reactions that do not name the users: what the file has instead.
    Unnamed(&'static str),
}

/// A user id in a reactions list: a string, or an object with `userId` (the listing's
/// items).
fn user_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::Object(map) => map.get("userId").and_then(Value::as_str),
        _ => None,
    }
}

/// Reads an export line's `reactions`: an object of emoji to lists of user ids (or of
/// `{"userId": …}` objects) names who reacted; anything else does not.
fn from_export(value: Option<&Value>) -> FromExport {
    let map = match value {
        None | Some(Value::Null) => return FromExport::Nothing,
        Some(Value::Object(map)) if map.is_empty() => return FromExport::Nothing,
        Some(Value::Array(list)) if list.is_empty() => return FromExport::Nothing,
        Some(Value::Object(map)) => map,
        Some(_) => return FromExport::Unnamed("reactions that are not an object keyed by emoji"),
    };
    let mut reactors = Reactors::new();
    for (emoji, users) in map {
        let Value::Array(users) = users else {
            return FromExport::Unnamed(if users.is_number() {
                "reaction counts, not who reacted"
            } else {
                "no list of who reacted"
            });
        };
        let mut named = BTreeSet::new();
        for user in users {
            match user_of(user) {
                Some(id) if !id.is_empty() => {
                    named.insert(id.to_owned());
                }
                _ => return FromExport::Unnamed("no list of who reacted"),
            }
        }
        if !emoji.is_empty() && !named.is_empty() {
            reactors.insert(emoji.clone(), named);
        }
    }
    if reactors.is_empty() {
        FromExport::Nothing
    } else {
        FromExport::Users(reactors)
    }
}

/// Whether a message of this kind migrates with these options (only those have their
/// reactions listed).
fn migrates(message: &Message, system_messages: bool) -> bool {
    match message.message_type {
        MessageType::UserMessage => true,
        MessageType::SystemMessage => system_messages,
        _ => false,
    }
}

impl Planner {
    /// Lists who reacted to a source app's message, with each emoji its `reactions` object
    /// has (messages that do not migrate are not listed). Reads every page: a server that
    /// ignores `startingAfter` (TalkJS's example reads one page only) ends an emoji's list
    /// after its first page, with a warning. A message gone meanwhile has none.
    pub(crate) async fn list_reactions(
        &mut self,
        source: &Client,
        message: &Message,
    ) -> Result<(), talkjs_api::Error> {
        if !migrates(message, self.options.system_messages) {
            return Ok(());
        }
        let emojis: Vec<String> = message
            .reaction_emojis()
            .into_iter()
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        if emojis.is_empty() {
            return Ok(());
        }
        let id = message.id.as_str().to_owned();
        let conversation = message.conversation_id.as_str().to_owned();
        let messages = source.conversations().messages(conversation.clone());
        let mut reactors = Reactors::new();
        for emoji in emojis {
            let mut pages = messages.reactions(&id, &emoji).limit(PAGE).pages();
            let mut users = BTreeSet::new();
            let mut last_full = false;
            let mut requests = 0u64;
            loop {
                match pages.try_next().await {
                    Ok(Some(page)) => {
                        requests += 1;
                        last_full = page.len() >= PAGE as usize;
                        users.extend(page.into_iter().map(|r| r.user_id.as_str().to_owned()));
                    }
                    Ok(None) => {
                        // An empty answer (the first, or after a full page) was a request too.
                        if requests == 0 || last_full {
                            requests += 1;
                        }
                        break;
                    }
                    Err(talkjs_api::Error::Pagination(_)) => {
                        requests += 1;
                        self.note(
                            None,
                            Severity::Warning,
                            format!(
                                "message {id:?} in {conversation:?}: the source listed one page of who reacted with {emoji} \
                                 again instead of the next one; the {} users listed carry their reactions, any others do not",
                                users.len()
                            ),
                        );
                        break;
                    }
                    Err(talkjs_api::Error::NotFound { .. }) => {
                        // The message (or conversation) is gone: nothing to carry.
                        requests += 1;
                        users.clear();
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            self.reaction_listings += requests;
            if !users.is_empty() {
                reactors.insert(emoji, users);
            }
        }
        self.listed_reactions.insert(id, reactors);
        Ok(())
    }

    /// The users who reacted to a message (as they will be planned), for sharding: they
    /// must exist in the shard that migrates the message.
    pub(super) fn reactors_of(&self, message: &Message) -> Vec<String> {
        if let Some(listed) = self.listed_reactions.get(message.id.as_str()) {
            return listed.values().flatten().cloned().collect();
        }
        match from_export(message.reactions.as_ref()) {
            FromExport::Users(r) => r.into_values().flatten().collect(),
            _ => Vec::new(),
        }
    }

    /// The reaction items of a message that migrates: one per emoji and user who reacted
    /// (a user who is not in the input is left out, with a warning). A file's reactions
    /// that name no users are a warning: they cannot move.
    pub(super) fn plan_reactions(
        &mut self,
        line: Option<u64>,
        message: &Message,
        users: &HashSet<String>,
        out: &mut Vec<PlannedItem>,
    ) {
        let id = message.id.as_str();
        let conversation = message.conversation_id.as_str();
        let from_file = !self.from_app;
        let reactors = if let Some(listed) = self.listed_reactions.remove(id) {
            listed
        } else {
            match from_export(message.reactions.as_ref()) {
                FromExport::Nothing => return,
                // A source app's message whose reactions were not listed: its `reactions`
                // has no emoji keys to list.
                _ if self.from_app => {
                    self.note(
                        line,
                        Severity::Warning,
                        format!(
                            "message {id:?} in {conversation:?}: migrates without its reactions \
                             (the source's \"reactions\" is not an object keyed by emoji)"
                        ),
                    );
                    return;
                }
                FromExport::Users(reactors) => reactors,
                FromExport::Unnamed(what) => {
                    self.note(
                        line,
                        Severity::Warning,
                        format!(
                            "message {id:?} in {conversation:?}: migrates without its reactions: the export has {what}; \
                             migrate from the app with --from-app-id (Migration::from_app) to carry them"
                        ),
                    );
                    return;
                }
            }
        };
        for (emoji, who) in reactors {
            for user in who {
                if !users.contains(&user) {
                    self.note(
                        line,
                        Severity::Warning,
                        format!(
                            "message {id:?} in {conversation:?}: the reaction {emoji} of {user:?} is left out: \
                             {user:?} is not a user in the input"
                        ),
                    );
                    continue;
                }
                if from_file {
                    self.file_reactions += 1;
                }
                out.push(PlannedItem {
                    kind: ItemKind::Reaction,
                    subject: conversation.to_owned(),
                    source_id: id.to_owned(),
                    line,
                    body: to_json(&ReactionBody {
                        emoji: emoji.clone(),
                        user,
                    }),
                    key: None,
                    attachment: None,
                });
            }
        }
    }

    /// One warning for the reactions read from an export file: their values are taken to
    /// name the users who reacted (no TalkJS page documents them).
    pub(super) fn note_file_reactions(&mut self) {
        if self.file_reactions > 0 {
            let n = self.file_reactions;
            self.note(
                None,
                Severity::Warning,
                format!(
                    "{n} reactions are carried from the file's \"reactions\" objects, read as emoji -> ids of the users \
                     who reacted (the shape `talkjs export` writes from a listing that has them; no TalkJS page \
                     documents it)"
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::plan::planner::{Plan, PlanOptions};
    use crate::plan::source::plan_reader;
    use crate::shard::{Shard, shard_of};
    use serde_json::json;

    #[test]
    fn a_shard_upserts_the_users_who_reacted_to_its_messages() {
        // zed only reacted (no participant, sender or reader) in a conversation of shard 1.
        let conversation = (0..100)
            .map(|i| format!("c{i}"))
            .find(|id| shard_of(id, 2) == 1)
            .unwrap();
        let lines = [
            json!({"id": "alice", "name": "Alice", "createdAt": 1}),
            json!({"id": "zed", "name": "Zed", "createdAt": 1}),
            json!({"id": conversation, "createdAt": 1,
                   "participants": {"alice": {"access": "ReadWrite", "notify": true}}}),
            json!({"id": "m1", "type": "UserMessage", "conversationId": conversation,
                   "senderId": "alice", "text": "hi", "createdAt": 5, "readBy": [],
                   "reactions": {"👍": ["zed"]}}),
        ];
        let input: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        let plan = |index| {
            plan_reader(
                input.as_bytes(),
                Shard::new(index, 2),
                PlanOptions::default(),
            )
            .unwrap()
        };
        let users = |plan: &Plan| -> Vec<String> {
            (plan.items.iter())
                .filter(|i| i.kind == ItemKind::User)
                .map(|i| i.subject.clone())
                .collect()
        };
        let reactions = |plan: &Plan| {
            (plan.items.iter())
                .filter(|i| i.kind == ItemKind::Reaction)
                .count()
        };
        let mine = plan(1);
        assert_eq!(users(&mine), ["alice", "zed"], "{:?}", mine.notes);
        assert_eq!(reactions(&mine), 1);
        let other = plan(0);
        assert!(users(&other).is_empty(), "{:?}", users(&other));
        assert_eq!(reactions(&other), 0);
    }

    fn users(pairs: &[(&str, &[&str])]) -> FromExport {
        FromExport::Users(
            pairs
                .iter()
                .map(|(e, u)| ((*e).to_owned(), u.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        )
    }

    #[test]
    fn an_export_names_who_reacted_only_with_lists_of_users() {
        assert_eq!(from_export(None), FromExport::Nothing);
        assert_eq!(from_export(Some(&json!(null))), FromExport::Nothing);
        assert_eq!(from_export(Some(&json!({}))), FromExport::Nothing);
        assert_eq!(from_export(Some(&json!({"👍": []}))), FromExport::Nothing);
        assert_eq!(
            from_export(Some(
                &json!({"👍": ["bob", "alice"], "🎉": [{"userId": "carol"}]})
            )),
            users(&[("👍", &["alice", "bob"]), ("🎉", &["carol"])])
        );
        assert_eq!(
            from_export(Some(&json!({"👍": 2}))),
            FromExport::Unnamed("reaction counts, not who reacted")
        );
        assert_eq!(
            from_export(Some(&json!({"👍": {"count": 2}}))),
            FromExport::Unnamed("no list of who reacted")
        );
        assert_eq!(
            from_export(Some(&json!({"👍": [2]}))),
            FromExport::Unnamed("no list of who reacted")
        );
        assert!(matches!(
            from_export(Some(&json!(["👍"]))),
            FromExport::Unnamed(_)
        ));
    }
}
