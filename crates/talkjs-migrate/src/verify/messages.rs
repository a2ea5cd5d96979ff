//! Each conversation's messages compared: in order (aligned by type, sender, time and text)
//! or by the source-id marker.

use std::collections::{BTreeSet, HashMap, HashSet};

use talkjs_api::models::{Custom, ImportMessage, Message, MessageType, NewSystemMessage};

use super::report::{MAX_MISMATCHES, Mismatch, undecodable};
use crate::error::Error;
use crate::item::{ItemKind, PlannedItem, REPLY_TO_ID_KEY, REPLY_TO_KEY, SOURCE_ID_KEY};

/// A message as the target should have it.
#[derive(Debug)]
pub(super) struct Expected {
    pub(super) source_id: String,
    pub(super) system: bool,
    pub(super) sender: String,
    /// `None` for system messages (sent at the time of the migration).
    pub(super) timestamp: Option<u64>,
    pub(super) text: String,
    /// `None` for system messages (the send endpoint takes no read state).
    pub(super) read_by: Option<Vec<String>>,
    pub(super) custom: Custom,
    pub(super) attachment: bool,
    /// The emoji of the reactions carried to it (set from the plan's reaction items).
    pub(super) reactions: BTreeSet<String>,
    /// With mapped reply links: the source id of the message it replied to (set from the
    /// plan's reply-link items); its target id is expected under [`REPLY_TO_ID_KEY`].
    pub(super) reply_to_id: Option<String>,
}

impl Expected {
    pub(super) fn from_item(item: &PlannedItem) -> Result<Self, Error> {
        if item.kind == ItemKind::SystemMessage {
            let body: NewSystemMessage =
                serde_json::from_str(&item.body).map_err(|e| undecodable("message", &e))?;
            return Ok(Self {
                source_id: item.source_id.clone(),
                system: true,
                sender: String::new(),
                timestamp: None,
                text: body.text,
                read_by: None,
                custom: body.custom,
                attachment: item.attachment.is_some(),
                reactions: BTreeSet::new(),
                reply_to_id: None,
            });
        }
        let body: ImportMessage =
            serde_json::from_str(&item.body).map_err(|e| undecodable("message", &e))?;
        Ok(Self {
            source_id: item.source_id.clone(),
            system: false,
            sender: body.sender.as_str().to_owned(),
            timestamp: Some(body.timestamp.as_millis()),
            text: body.text,
            read_by: Some(body.read_by.iter().map(|u| u.as_str().to_owned()).collect()),
            custom: body.custom,
            attachment: item.attachment.is_some(),
            reactions: BTreeSet::new(),
            reply_to_id: None,
        })
    }
}

fn readers(list: &[impl AsRef<str>]) -> String {
    let mut v: Vec<&str> = list.iter().map(AsRef::as_ref).collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

fn kind(system: bool) -> String {
    if system {
        "SystemMessage"
    } else {
        "UserMessage"
    }
    .to_owned()
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// Compares one expected message with the target's.
fn compare(position: usize, expected: &Expected, found: &Message, out: &mut Vec<Mismatch>) {
    let mut differ = |field: &'static str, e: String, f: String| {
        if e != f {
            out.push(Mismatch {
                position,
                source_id: Some(expected.source_id.clone()),
                target_id: Some(found.id.as_str().to_owned()),
                field,
                expected: e,
                found: f,
            });
        }
    };
    differ(
        "type",
        kind(expected.system),
        kind(found.message_type == MessageType::SystemMessage),
    );
    differ(
        "sender",
        expected.sender.clone(),
        found
            .sender_id
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    );
    if let Some(ts) = expected.timestamp {
        differ(
            "timestamp",
            ts.to_string(),
            found.created_at.as_millis().to_string(),
        );
    }
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
    if let Some(read_by) = &expected.read_by {
        differ("readBy", readers(read_by), readers(&found.read_by));
    }
    // The mapped reply link is added after the import: checked by `check_reply_ids`.
    let mut found_custom = found.custom.clone();
    found_custom.remove(REPLY_TO_ID_KEY);
    differ(
        "custom",
        format!("{:?}", expected.custom),
        format!("{found_custom:?}"),
    );
    differ(
        "attachment",
        yes_no(expected.attachment),
        yes_no(found.attachment.is_some()),
    );
    // Only what the source has: reactions added in the target since are no difference.
    let has: BTreeSet<&str> = found.reaction_emojis().into_iter().collect();
    if expected.reactions.iter().any(|e| !has.contains(e.as_str())) {
        out.push(Mismatch {
            position,
            source_id: Some(expected.source_id.clone()),
            target_id: Some(found.id.as_str().to_owned()),
            field: "reactions",
            expected: join(expected.reactions.iter().map(String::as_str)),
            found: join(has.into_iter()),
        });
    }
}

/// With mapped reply links: each reply matched in the target names, under
/// [`REPLY_TO_ID_KEY`], the target message the check matched the message it replied to
/// with. A mismatch is reported as `reply link id`.
pub(super) fn check_reply_ids(messages: &[Expected], found: &[Message], check: &mut MessagesCheck) {
    let target_of: HashMap<&str, &str> = (check.ids.iter())
        .map(|(source, target)| (source.as_str(), target.as_str()))
        .collect();
    let by_id: HashMap<&str, &Message> = found.iter().map(|m| (m.id.as_str(), m)).collect();
    for (position, e) in messages.iter().enumerate() {
        let Some(reply_to) = &e.reply_to_id else {
            continue;
        };
        let (Some(reply), Some(expected)) = (
            target_of.get(e.source_id.as_str()),
            target_of.get(reply_to.as_str()),
        ) else {
            continue;
        };
        let Some(f) = by_id.get(reply) else {
            continue;
        };
        let got = f.custom.get(REPLY_TO_ID_KEY).map_or("", String::as_str);
        if got != *expected && check.mismatches.len() < MAX_MISMATCHES {
            check.mismatches.push(Mismatch {
                position,
                source_id: Some(e.source_id.clone()),
                target_id: Some((*reply).to_owned()),
                field: "reply link id",
                expected: (*expected).to_owned(),
                found: got.to_owned(),
            });
        }
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(",")
}

/// "sender: text", for a message on one side only.
fn summary(m: &Message) -> String {
    format!(
        "{}: {}",
        m.sender_id.as_ref().map_or("", |s| s.as_str()),
        m.text.as_deref().unwrap_or_default()
    )
}

fn missing(position: usize, e: &Expected) -> Mismatch {
    Mismatch {
        position,
        source_id: Some(e.source_id.clone()),
        target_id: None,
        field: "missing",
        expected: format!("{}: {}", e.sender, e.text),
        found: String::new(),
    }
}

fn extra(position: usize, f: &Message) -> Mismatch {
    Mismatch {
        position,
        source_id: None,
        target_id: Some(f.id.as_str().to_owned()),
        field: "extra",
        expected: String::new(),
        found: summary(f),
    }
}

/// The messages of one conversation compared, and the ids of the matching ones.
pub(super) struct MessagesCheck {
    pub(super) found: usize,
    pub(super) unmarked: usize,
    pub(super) mismatches: Vec<Mismatch>,
    pub(super) ids: Vec<(String, String)>,
}

/// What finds a message again: its type, sender, time (user messages) and text.
type Key = (bool, String, Option<u64>, String);

impl Expected {
    fn key(&self) -> Key {
        (
            self.system,
            self.sender.clone(),
            self.timestamp,
            self.text.clone(),
        )
    }
}

fn found_key(m: &Message) -> Key {
    let system = m.message_type == MessageType::SystemMessage;
    (
        system,
        m.sender_id
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        (!system).then(|| m.created_at.as_millis()),
        m.text.clone().unwrap_or_default(),
    )
}

/// Compares one conversation's expected messages with the target's (both oldest first),
/// in order: the two lists are aligned by match key (type, sender, time, text), so one
/// message missing (or extra) is reported once instead of shifting every message after it;
/// a message on each side that matches nothing on the other, with the same type, sender and
/// time, is compared field by field (a changed message).
pub(super) fn check_in_order(messages: &[Expected], found: &[Message]) -> MessagesCheck {
    let mut ahead_in_found: HashMap<Key, usize> = HashMap::new();
    for f in found {
        *ahead_in_found.entry(found_key(f)).or_default() += 1;
    }
    let mut ahead_in_expected: HashMap<Key, usize> = HashMap::new();
    for e in messages {
        *ahead_in_expected.entry(e.key()).or_default() += 1;
    }
    let take = |counts: &mut HashMap<Key, usize>, key: &Key| {
        if let Some(n) = counts.get_mut(key) {
            *n = n.saturating_sub(1);
        }
    };
    let mut mismatches = Vec::new();
    let mut ids = Vec::new();
    let (mut i, mut j) = (0, 0);
    while mismatches.len() < MAX_MISMATCHES && (i < messages.len() || j < found.len()) {
        match (messages.get(i), found.get(j)) {
            (Some(e), Some(f)) => {
                let (ek, fk) = (e.key(), found_key(f));
                let e_ahead = ek != fk && ahead_in_found.get(&ek).is_some_and(|n| *n > 0);
                let f_ahead = ek != fk && ahead_in_expected.get(&fk).is_some_and(|n| *n > 0);
                // Neither is anywhere on the other side: the same message changed if it
                // kept its type, sender and time; else the earlier one is alone.
                let alone = !e_ahead && !f_ahead && (ek.0, &ek.1, ek.2) != (fk.0, &fk.1, fk.2);
                if (e_ahead && !f_ahead) || (alone && fk.2 < ek.2) {
                    mismatches.push(extra(j, f));
                    take(&mut ahead_in_found, &fk);
                    j += 1;
                } else if (f_ahead && !e_ahead) || alone {
                    mismatches.push(missing(i, e));
                    take(&mut ahead_in_expected, &ek);
                    i += 1;
                } else {
                    let before = mismatches.len();
                    compare(i, e, f, &mut mismatches);
                    if mismatches.len() == before {
                        ids.push((e.source_id.clone(), f.id.as_str().to_owned()));
                    }
                    take(&mut ahead_in_found, &fk);
                    take(&mut ahead_in_expected, &ek);
                    i += 1;
                    j += 1;
                }
            }
            (Some(e), None) => {
                mismatches.push(missing(i, e));
                i += 1;
            }
            (None, Some(f)) => {
                mismatches.push(extra(j, f));
                j += 1;
            }
            (None, None) => break,
        }
    }
    mismatches.truncate(MAX_MISMATCHES);
    MessagesCheck {
        found: found.len(),
        unmarked: 0,
        mismatches,
        ids,
    }
}

/// Compares one conversation's expected messages with the target's by the source id
/// marker: target messages without it are not this migration's and are only counted.
pub(super) fn check_by_marker(messages: &[Expected], found: &[Message]) -> MessagesCheck {
    let mut ours: HashMap<&str, Vec<&Message>> = HashMap::new();
    let mut unmarked = 0;
    let mut marked = 0;
    for m in found {
        match m.custom.get(SOURCE_ID_KEY) {
            Some(source) => {
                ours.entry(source.as_str()).or_default().push(m);
                marked += 1;
            }
            None => unmarked += 1,
        }
    }
    let mut mismatches = Vec::new();
    let mut ids = Vec::new();
    for (position, e) in messages.iter().enumerate() {
        let before = mismatches.len();
        match ours.get(e.source_id.as_str()).map(Vec::as_slice) {
            None | Some([]) => mismatches.push(missing(position, e)),
            Some([f, rest @ ..]) => {
                compare(position, e, f, &mut mismatches);
                if !rest.is_empty() {
                    mismatches.push(Mismatch {
                        position,
                        source_id: Some(e.source_id.clone()),
                        target_id: Some(f.id.as_str().to_owned()),
                        field: "duplicate",
                        expected: "1".to_owned(),
                        found: (rest.len() + 1).to_string(),
                    });
                }
                if mismatches.len() == before {
                    ids.push((e.source_id.clone(), f.id.as_str().to_owned()));
                }
            }
        }
        if mismatches.len() >= MAX_MISMATCHES {
            break;
        }
    }
    let sources: HashSet<&str> = messages.iter().map(|e| e.source_id.as_str()).collect();
    for (position, m) in found.iter().enumerate() {
        if mismatches.len() >= MAX_MISMATCHES {
            break;
        }
        if m.custom
            .get(SOURCE_ID_KEY)
            .is_some_and(|s| !sources.contains(s.as_str()))
        {
            mismatches.push(extra(position, m));
        }
    }
    mismatches.truncate(MAX_MISMATCHES);
    MessagesCheck {
        found: marked,
        unmarked,
        mismatches,
        ids,
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use talkjs_api::models::Timestamp;

    fn expected(id: &str, text: &str, ts: u64) -> Expected {
        Expected {
            source_id: id.to_owned(),
            system: false,
            sender: "alice".to_owned(),
            timestamp: Some(ts),
            text: text.to_owned(),
            read_by: Some(Vec::new()),
            custom: Custom::new(),
            attachment: false,
            reactions: BTreeSet::new(),
            reply_to_id: None,
        }
    }

    fn found(id: &str, text: &str, ts: u64) -> Message {
        let mut m = Message::new(
            id,
            MessageType::UserMessage,
            "c",
            Timestamp::from_millis(ts),
        );
        m.sender_id = Some("alice".into());
        m.text = Some(text.to_owned());
        m
    }

    fn fields(check: &MessagesCheck) -> Vec<(usize, &str)> {
        check
            .mismatches
            .iter()
            .map(|m| (m.position, m.field))
            .collect()
    }

    #[test]
    fn a_gap_is_reported_once_and_a_changed_message_field_by_field() {
        let source = [
            expected("m1", "one", 1),
            expected("m2", "two", 2),
            expected("m3", "three", 3),
            expected("m4", "four", 4),
        ];
        // m2 missing, m3's text changed, an extra message at the end.
        let target = [
            found("t1", "one", 1),
            found("t3", "THREE", 3),
            found("t4", "four", 4),
            found("t5", "five", 5),
        ];
        let check = check_in_order(&source, &target);
        assert_eq!(
            fields(&check),
            [(1, "missing"), (2, "text"), (3, "extra")],
            "{:?}",
            check.mismatches
        );
        assert_eq!(
            check.ids,
            [
                ("m1".to_owned(), "t1".to_owned()),
                ("m4".to_owned(), "t4".to_owned())
            ]
        );
    }

    #[test]
    fn an_extra_message_in_the_middle_shifts_nothing() {
        let source = [expected("m1", "one", 1), expected("m2", "two", 2)];
        let target = [
            found("t1", "one", 1),
            found("tx", "hello", 1),
            found("t2", "two", 2),
        ];
        let check = check_in_order(&source, &target);
        assert_eq!(fields(&check), [(1, "extra")]);
        assert_eq!(check.ids.len(), 2);
    }
}
