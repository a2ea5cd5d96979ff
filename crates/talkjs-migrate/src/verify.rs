//! Verification: the source and the target compared, conversation by conversation.

use std::collections::BTreeMap;

use talkjs_api::models::{ImportMessage, Message};

use crate::error::Error;
use crate::journal::{ItemKind, Journal};
use crate::plan::REPLY_TO_KEY;
use crate::run::{Migration, target_messages};

/// At most this many mismatches are listed per conversation.
const MAX_MISMATCHES: usize = 10;

/// One difference between a source message and the target message at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The place in the conversation, oldest first (0-based).
    pub position: usize,
    /// The source message's id, if the source has a message there.
    pub source_id: Option<String>,
    /// The target message's id, if the target has a message there.
    pub target_id: Option<String>,
    /// What differs: `missing`, `extra`, `sender`, `timestamp`, `text`, `reply link`,
    /// `readBy`, `custom`.
    pub field: &'static str,
    /// The source's value.
    pub expected: String,
    /// The target's value.
    pub found: String,
}

/// One conversation compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationCheck {
    /// The conversation id.
    pub conversation: String,
    /// Messages the source has that migrate.
    pub expected: usize,
    /// Messages the target has.
    pub found: usize,
    /// The first differences (at most 10).
    pub mismatches: Vec<Mismatch>,
}

impl ConversationCheck {
    /// Whether the target has exactly the source's messages, in order.
    pub fn matches(&self) -> bool {
        self.expected == self.found && self.mismatches.is_empty()
    }
}

/// The outcome of [`Migration::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every conversation of the source, in plan order.
    pub conversations: Vec<ConversationCheck>,
}

impl VerifyReport {
    /// Whether every conversation matches.
    pub fn matches(&self) -> bool {
        self.conversations.iter().all(ConversationCheck::matches)
    }

    /// The conversations that do not match.
    pub fn mismatched(&self) -> impl Iterator<Item = &ConversationCheck> {
        self.conversations.iter().filter(|c| !c.matches())
    }
}

fn readers(list: &[impl AsRef<str>]) -> String {
    let mut v: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

/// Compares one expected message (the import body) with the target's.
fn compare(
    position: usize,
    source_id: &str,
    expected: &ImportMessage,
    found: &Message,
    out: &mut Vec<Mismatch>,
) {
    let mut differ = |field: &'static str, e: String, f: String| {
        if e != f {
            out.push(Mismatch {
                position,
                source_id: Some(source_id.to_owned()),
                target_id: Some(found.id.as_str().to_owned()),
                field,
                expected: e,
                found: f,
            });
        }
    };
    differ(
        "sender",
        expected.sender.as_str().to_owned(),
        found
            .sender_id
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    );
    differ(
        "timestamp",
        expected.timestamp.as_millis().to_string(),
        found.created_at.as_millis().to_string(),
    );
    differ(
        "text",
        expected.text.clone(),
        found.text.clone().unwrap_or_default(),
    );
    differ(
        "reply link",
        expected
            .custom
            .get(REPLY_TO_KEY)
            .cloned()
            .unwrap_or_default(),
        found.custom.get(REPLY_TO_KEY).cloned().unwrap_or_default(),
    );
    differ(
        "readBy",
        readers(&expected.read_by),
        readers(&found.read_by),
    );
    differ(
        "custom",
        format!("{:?}", expected.custom),
        format!("{:?}", found.custom),
    );
}

/// Compares one conversation's expected messages with the target's (both oldest first);
/// adds the ids of matching messages to `ids`.
fn check_conversation(
    conversation: String,
    messages: &[(String, ImportMessage)],
    found: &[Message],
    ids: &mut Vec<(String, String)>,
) -> ConversationCheck {
    let mut mismatches = Vec::new();
    for position in 0..messages.len().max(found.len()) {
        let before = mismatches.len();
        match (messages.get(position), found.get(position)) {
            (Some((source_id, e)), Some(f)) => {
                compare(position, source_id, e, f, &mut mismatches);
                if mismatches.len() == before {
                    ids.push((source_id.clone(), f.id.as_str().to_owned()));
                }
            }
            (Some((source_id, e)), None) => mismatches.push(Mismatch {
                position,
                source_id: Some(source_id.clone()),
                target_id: None,
                field: "missing",
                expected: format!("{}: {}", e.sender.as_str(), e.text),
                found: String::new(),
            }),
            (None, Some(f)) => mismatches.push(Mismatch {
                position,
                source_id: None,
                target_id: Some(f.id.as_str().to_owned()),
                field: "extra",
                expected: String::new(),
                found: format!(
                    "{}: {}",
                    f.sender_id.as_ref().map_or("", |s| s.as_str()),
                    f.text.as_deref().unwrap_or_default()
                ),
            }),
            (None, None) => {}
        }
        if mismatches.len() >= MAX_MISMATCHES {
            mismatches.truncate(MAX_MISMATCHES);
            break;
        }
    }
    ConversationCheck {
        conversation,
        expected: messages.len(),
        found: found.len(),
        mismatches,
    }
}

impl Migration {
    /// Compares the source with the target, conversation by conversation: the number of
    /// messages, and each message's sender, time, text, reply link (as carried in
    /// `custom`), readers and custom data, in order. Messages that cannot migrate (see the
    /// run's notes) are not expected. When the journal of this input exists and is free,
    /// the target ids of matching messages are recorded in it (the source→target map).
    pub async fn verify(&self) -> Result<VerifyReport, Error> {
        let plan = self.make_plan().await?;
        let mut expected: BTreeMap<usize, (String, Vec<(String, ImportMessage)>)> = BTreeMap::new();
        let mut order: BTreeMap<String, usize> = BTreeMap::new();
        for item in &plan.items {
            if item.kind == ItemKind::Conversation {
                let n = order.len();
                order.entry(item.subject.clone()).or_insert(n);
            }
        }
        for (conversation, &n) in &order {
            expected.insert(n, (conversation.clone(), Vec::new()));
        }
        for item in plan.items.iter().filter(|i| i.kind == ItemKind::Message) {
            let Some(n) = order.get(&item.subject) else {
                continue;
            };
            let body: ImportMessage = serde_json::from_str(&item.body).map_err(|e| {
                Error::Target(talkjs_api::Error::InvalidArgument(format!(
                    "a planned message does not decode: {e}"
                )))
            })?;
            if let Some((_, list)) = expected.get_mut(n) {
                list.push((item.source_id.clone(), body));
            }
        }

        let mut report = VerifyReport::default();
        let mut ids = Vec::new();
        for (_, (conversation, messages)) in expected {
            let found = target_messages(self.target(), &conversation, None)
                .await
                .map_err(Error::Target)?;
            let check = check_conversation(conversation, &messages, &found, &mut ids);
            report.conversations.push(check);
        }

        // The source→target map, where the journal of this very input is free to write.
        if self.journal_path().exists() {
            if let Ok(mut journal) = Journal::open(self.journal_path()) {
                if journal
                    .planned_fingerprint()
                    .is_ok_and(|f| f.as_deref() == Some(plan.fingerprint.as_str()))
                {
                    journal
                        .set_target_ids(&ids)
                        .map_err(|e| Error::journal(self.journal_path(), e))?;
                }
            }
        }
        Ok(report)
    }
}
