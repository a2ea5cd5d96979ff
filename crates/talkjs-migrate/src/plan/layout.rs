//! Laying out the work: the records checked against each other and translated into items,
//! in the order they are sent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use talkjs_api::models::MessageType;
use talkjs_runtime::translate::{MessageAction, Skip, Translator};

use super::messages::{Known, Pending, oldest_first};
use super::planner::{Plan, Planner};
use crate::item::{ItemKind, PlannedItem, to_json};
use crate::note::Severity;

/// The messages that move, by conversation (its place among the conversations), in input
/// order until [`oldest_first`] sorts them.
#[derive(Debug, Default)]
struct Sorted {
    imports: BTreeMap<usize, Vec<Pending>>,
    system: BTreeMap<usize, Vec<Pending>>,
    /// Every message id seen, with its first line (a reply to one of them keeps its link).
    seen: HashMap<String, Option<u64>>,
    /// System messages left out (without the option).
    skipped_system: usize,
}

impl Planner {
    /// Checks the records against each other and lays out the work: users, conversations,
    /// the messages of each conversation oldest first (then its system messages, if they
    /// are sent), then participant settings, then reactions. `identity` names the source in the
    /// idempotency keys of system messages.
    pub fn finish(mut self, fingerprint: String, identity: &str) -> Plan {
        let translator = self.options.translator();
        let users: HashSet<String> = self.user_index.keys().cloned().collect();
        let mut items = self.user_items(translator);
        let (participants_of, settings) = self.conversation_items(translator, &users, &mut items);
        let sorted = self.sort_messages(translator, &users, &participants_of);
        let skipped_system = sorted.skipped_system;
        let reactions = self.message_items(sorted, &users, identity, &mut items);
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
        items.extend(reactions);
        Plan {
            items,
            notes: self.notes,
            fingerprint,
            skipped_system_messages: skipped_system as u64,
            reaction_listings: self.reaction_listings,
        }
    }

    /// Every user's upsert.
    fn user_items(&mut self, translator: Translator) -> Vec<PlannedItem> {
        (std::mem::take(&mut self.users).into_iter())
            .map(|(line, user)| {
                let write = translator.user(user);
                PlannedItem {
                    kind: ItemKind::User,
                    subject: write.id.clone(),
                    source_id: write.id,
                    line,
                    body: to_json(&write.upsert),
                    key: None,
                    attachment: None,
                }
            })
            .collect()
    }

    /// Every conversation's upsert (onto `items`) with the participants who are users in
    /// the input (the others are left out, with an error), and their settings to send after
    /// the messages. Returns each conversation's participants, and those settings.
    fn conversation_items(
        &mut self,
        translator: Translator,
        users: &HashSet<String>,
        items: &mut Vec<PlannedItem>,
    ) -> (HashMap<String, HashSet<String>>, Vec<PlannedItem>) {
        let mut participants_of = HashMap::new();
        let mut settings = Vec::new();
        for (line, mut conversation) in std::mem::take(&mut self.conversations) {
            let id = conversation.id.as_str().to_owned();
            let unknown: Vec<String> = (conversation.participants.keys())
                .map(|user| user.as_str().to_owned())
                .filter(|user| !users.contains(user))
                .collect();
            for user in unknown {
                self.note(
                    line,
                    Severity::Error,
                    format!(
                        "participant {user:?} of conversation {id:?} is not a user in the input; left out"
                    ),
                );
            }
            (conversation.participants).retain(|user, _| users.contains(user.as_str()));
            let members: HashSet<String> = (conversation.participants.keys())
                .map(|u| u.as_str().to_owned())
                .collect();
            let write = translator.conversation(conversation);
            settings.extend(write.participants.into_iter().map(|p| PlannedItem {
                kind: ItemKind::Participant,
                subject: id.clone(),
                source_id: p.user,
                line,
                body: to_json(&p.setting),
                key: None,
                attachment: None,
            }));
            items.push(PlannedItem {
                kind: ItemKind::Conversation,
                subject: id.clone(),
                source_id: id.clone(),
                line,
                body: to_json(&write.upsert),
                key: None,
                attachment: None,
            });
            participants_of.insert(id, members);
        }
        (participants_of, settings)
    }

    /// Translates every message, keeps the ones that move by conversation, and notes the
    /// others: a repeated id, a conversation not in the input, what the translator skips
    /// (a missing sender is an error), a sender who is not a user or not a participant.
    fn sort_messages(
        &mut self,
        translator: Translator,
        users: &HashSet<String>,
        participants_of: &HashMap<String, HashSet<String>>,
    ) -> Sorted {
        let mut sorted = Sorted::default();
        for (line, message) in std::mem::take(&mut self.messages) {
            let id = message.id.as_str().to_owned();
            let conversation = message.conversation_id.as_str().to_owned();
            if let Some(first) = sorted.seen.get(&id) {
                let first = first.map_or_else(String::new, |l| format!(" (first on line {l})"));
                let text = format!("message {id:?} appears again{first}; skipped");
                self.note(line, Severity::Error, text);
                continue;
            }
            sorted.seen.insert(id.clone(), line);
            let Some(&index) = self.conversation_index.get(&conversation) else {
                let text =
                    format!("message {id:?}: conversation {conversation:?} is not in the input");
                self.note(line, Severity::Error, text);
                continue;
            };
            let action = translator.message(&message).action;
            let why = match &action {
                MessageAction::Skip(skip) => Some(skip_note(skip, &mut sorted)),
                MessageAction::Import {
                    message: import, ..
                } => {
                    let members = participants_of.get(&conversation);
                    unknown_sender(import.sender.as_str(), users, members)
                        .map(|why| (Severity::Error, why))
                }
                _ => None,
            };
            if let Some((severity, why)) = why {
                self.note(
                    line,
                    severity,
                    format!("message {id:?} in {conversation:?}: {why}"),
                );
                continue;
            }
            let pending = Pending {
                line,
                message,
                action,
            };
            let list = if matches!(pending.action, MessageAction::System { .. }) {
                &mut sorted.system
            } else {
                &mut sorted.imports
            };
            list.entry(index).or_default().push(pending);
        }
        sorted
    }

    /// The messages' items in sending order (onto `items`): each conversation's imports
    /// oldest first, then its system messages; returns what follows them: their reactions'
    /// and reply links' items.
    fn message_items(
        &mut self,
        mut sorted: Sorted,
        users: &HashSet<String>,
        identity: &str,
        items: &mut Vec<PlannedItem>,
    ) -> Vec<PlannedItem> {
        let indexes: BTreeSet<usize> = (sorted.imports.keys())
            .chain(sorted.system.keys())
            .copied()
            .collect();
        let known = Known {
            users,
            ids: &sorted.seen,
            identity,
        };
        let mut reactions = Vec::new();
        for index in indexes {
            // System messages are sent after the conversation's imported history (they get
            // the time they are sent), in their original order.
            let imports = sorted.imports.remove(&index).unwrap_or_default();
            let system = sorted.system.remove(&index).unwrap_or_default();
            // The conversation's messages planned so far: a reply link is planned only to
            // one of them.
            let mut planned: HashSet<String> = HashSet::new();
            for mut list in [imports, system] {
                oldest_first(&mut list);
                for Pending {
                    line,
                    message,
                    action,
                } in list
                {
                    if let Some(item) = self.message_item(line, &message, action, &known) {
                        reactions.extend(self.reply_link_item(&item, &message, &planned));
                        planned.insert(item.source_id.clone());
                        items.push(item);
                    }
                    self.plan_reactions(line, &message, users, &mut reactions);
                }
            }
        }
        reactions
    }
}

/// How a skipped message is noted (a missing sender is an error), counting system
/// messages.
fn skip_note(skip: &Skip, sorted: &mut Sorted) -> (Severity, String) {
    match skip {
        Skip::NoSender => (Severity::Error, skip.to_string()),
        Skip::Type(MessageType::SystemMessage) => {
            sorted.skipped_system += 1;
            (Severity::Skipped, skip.to_string())
        }
        _ => (Severity::Skipped, skip.to_string()),
    }
}

/// Why an import's sender cannot send it: not a user in the input, or not a participant
/// of the conversation (the import takes messages from participants only).
fn unknown_sender(
    sender: &str,
    users: &HashSet<String>,
    members: Option<&HashSet<String>>,
) -> Option<String> {
    if !users.contains(sender) {
        Some(format!(
            "unknown sender {sender:?} (not a user in the input)"
        ))
    } else if !members.is_some_and(|m| m.contains(sender)) {
        Some(format!(
            "sender {sender:?} is not a participant (the import takes messages from participants only)"
        ))
    } else {
        None
    }
}
