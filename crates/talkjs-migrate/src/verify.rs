//! Verification: the source and the target compared: users field by field, conversations
//! field by field with their participants, and each conversation's messages.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use talkjs_api::models::{
    Access, Conversation, ConversationUpsert, Custom, ImportMessage, Message, MessageType,
    NewSystemMessage, Notify, Patch, Timestamp, User, UserUpsert,
};

use crate::error::Error;
use crate::journal::{ItemKind, Journal};
use crate::plan::{ParticipantSetting, PlannedItem, REPLY_TO_KEY, ReactionBody, SOURCE_ID_KEY};
use crate::run::{Migration, target_messages};

/// At most this many mismatches are listed per conversation (messages) or record (fields).
const MAX_MISMATCHES: usize = 10;

/// Users or conversations fetched from the target at once.
const FETCHES_AT_ONCE: usize = 8;

/// One difference between a source message and the target message at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mismatch {
    /// The place in the conversation, oldest first (0-based): the source message's place
    /// among the source's messages, or for `extra`, the target message's among the
    /// target's.
    pub position: usize,
    /// The source message's id, if the source has a message there.
    pub source_id: Option<String>,
    /// The target message's id, if the target has a message there.
    pub target_id: Option<String>,
    /// What differs: `missing`, `extra`, `duplicate` (with the marker: the source id on
    /// several target messages), `type` (user or system message), `sender`, `timestamp`
    /// (not compared for system messages, which get the time they are sent), `text`,
    /// `reply link`, `readBy` (user messages), `custom`, `attachment` (whether the message
    /// has a file: the target's URL is its own), `reactions` (the emoji of the reactions
    /// carried, which the target message must have: `expected` lists them, `found` the
    /// target's).
    pub field: &'static str,
    /// The source's value.
    pub expected: String,
    /// The target's value.
    pub found: String,
}

/// One difference in a field of a user or a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldMismatch {
    /// The field as TalkJS names it (`name`, `email`, `photoUrl`, `custom`, ...); for a
    /// participant, `participants.USER` (in one side only), `participants.USER.access`,
    /// `participants.USER.notify` or `participants.USER.readUntil` (the source's, in ms,
    /// which the target's must be at or after); `exists` when the target has no such
    /// record.
    pub field: String,
    /// The source's value (JSON for lists and maps; empty for none).
    pub expected: String,
    /// The target's value.
    pub found: String,
}

/// One user compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserCheck {
    /// The user id.
    pub user: String,
    /// The fields that differ (at most 10).
    pub mismatches: Vec<FieldMismatch>,
}

impl UserCheck {
    /// Whether the target's user has the source's values.
    pub fn matches(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// One conversation compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationCheck {
    /// The conversation id.
    pub conversation: String,
    /// Messages the source has that migrate (system messages included when they are sent).
    pub expected: usize,
    /// Messages the target has (with [`Migration::mark_source_ids`]: the ones that carry
    /// the marker).
    pub found: usize,
    /// The first differences between the messages (at most 10).
    pub mismatches: Vec<Mismatch>,
    /// The conversation's fields and participants that differ (at most 10).
    pub fields: Vec<FieldMismatch>,
    /// With [`Migration::mark_source_ids`]: target messages without the marker, which are
    /// not this migration's (e.g. there before it); not a difference. Otherwise 0.
    pub unmarked: usize,
}

impl ConversationCheck {
    /// Whether the target has exactly the source's messages, in order, and the source's
    /// conversation fields and participants.
    pub fn matches(&self) -> bool {
        self.expected == self.found && self.mismatches.is_empty() && self.fields.is_empty()
    }
}

/// The outcome of [`Migration::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Every conversation of the source, in plan order.
    pub conversations: Vec<ConversationCheck>,
    /// Every user of the source, in plan order.
    pub users: Vec<UserCheck>,
}

impl VerifyReport {
    /// Whether every conversation and every user matches.
    pub fn matches(&self) -> bool {
        self.conversations.iter().all(ConversationCheck::matches)
            && self.users.iter().all(UserCheck::matches)
    }

    /// The conversations that do not match.
    pub fn mismatched(&self) -> impl Iterator<Item = &ConversationCheck> {
        self.conversations.iter().filter(|c| !c.matches())
    }

    /// The users that do not match.
    pub fn mismatched_users(&self) -> impl Iterator<Item = &UserCheck> {
        self.users.iter().filter(|u| !u.matches())
    }
}

/// A message as the target should have it.
#[derive(Debug)]
struct Expected {
    source_id: String,
    system: bool,
    sender: String,
    /// `None` for system messages (sent at the time of the migration).
    timestamp: Option<u64>,
    text: String,
    /// `None` for system messages (the send endpoint takes no read state).
    read_by: Option<Vec<String>>,
    custom: Custom,
    attachment: bool,
    /// The emoji of the reactions carried to it (set from the plan's reaction items).
    reactions: BTreeSet<String>,
}

fn undecodable(what: &str, e: &serde_json::Error) -> Error {
    Error::Target(talkjs_api::Error::InvalidArgument(format!(
        "a planned {what} does not decode: {e}"
    )))
}

impl Expected {
    fn from_item(item: &PlannedItem) -> Result<Self, Error> {
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
    differ(
        "custom",
        format!("{:?}", expected.custom),
        format!("{:?}", found.custom),
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
struct MessagesCheck {
    found: usize,
    unmarked: usize,
    mismatches: Vec<Mismatch>,
    ids: Vec<(String, String)>,
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
fn check_in_order(messages: &[Expected], found: &[Message]) -> MessagesCheck {
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
fn check_by_marker(messages: &[Expected], found: &[Message]) -> MessagesCheck {
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

/// JSON text of a value (lists and maps in a mismatch).
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Compares the fields the source sets (an upsert's `Set` fields; `Clear` expects none)
/// with the target's; fields the source does not set are not compared.
#[derive(Default)]
struct Fields(Vec<FieldMismatch>);

impl Fields {
    fn differ(&mut self, field: impl Into<String>, expected: String, found: String) {
        if expected != found && self.0.len() < MAX_MISMATCHES {
            self.0.push(FieldMismatch {
                field: field.into(),
                expected,
                found,
            });
        }
    }

    /// A text field: `patch` from the source, `found` in the target.
    fn text(&mut self, field: &str, patch: &Patch<String>, found: Option<&str>) {
        match patch {
            Patch::Unchanged => {}
            Patch::Clear => self.differ(field, String::new(), found.unwrap_or("").to_owned()),
            Patch::Set(v) => self.differ(field, v.clone(), found.unwrap_or("").to_owned()),
        }
    }

    /// A list or map field, compared as JSON (`None` in the target: empty).
    fn value<T: Serialize + Default>(&mut self, field: &str, patch: &Patch<T>, found: Option<&T>) {
        let empty = T::default();
        let found = json(found.unwrap_or(&empty));
        match patch {
            Patch::Unchanged => {}
            Patch::Clear => self.differ(field, json(&empty), found),
            Patch::Set(v) => self.differ(field, json(v), found),
        }
    }
}

/// The user's fields that differ: every field the source's user has and the upsert
/// carries (name, email, phone, photoUrl, welcomeMessage, locale, role, custom,
/// availabilityText).
fn check_user(expected: &UserUpsert, found: &User) -> Vec<FieldMismatch> {
    let mut fields = Fields::default();
    fields.text("name", &expected.name, Some(&found.name));
    fields.value("email", &expected.email, found.email.as_ref());
    fields.value("phone", &expected.phone, found.phone.as_ref());
    fields.text("photoUrl", &expected.photo_url, found.photo_url.as_deref());
    fields.text(
        "welcomeMessage",
        &expected.welcome_message,
        found.welcome_message.as_deref(),
    );
    fields.text("locale", &expected.locale, found.locale.as_deref());
    fields.text("role", &expected.role, found.role.as_deref());
    fields.value("custom", &expected.custom, Some(&found.custom));
    fields.text(
        "availabilityText",
        &expected.availability_text,
        found.availability_text.as_deref(),
    );
    fields.0
}

fn participant(access: &Access, notify: &Notify) -> String {
    format!("{}, notify {}", access.as_str(), json(notify))
}

/// The conversation's fields and participants that differ: subject, photoUrl,
/// welcomeMessages, custom; each participant the source has (and the target has beyond
/// them), with access and notify, and the source's `readUntil` where it has one (the
/// target's may be later: TalkJS moves it as the user reads on).
fn check_conversation_fields(
    expected: &ConversationUpsert,
    settings: &Settings,
    found: &Conversation,
) -> Vec<FieldMismatch> {
    let mut fields = Fields::default();
    fields.text("subject", &expected.subject, found.subject.as_deref());
    fields.text("photoUrl", &expected.photo_url, found.photo_url.as_deref());
    fields.value(
        "welcomeMessages",
        &expected.welcome_messages,
        found.welcome_messages.as_ref(),
    );
    fields.value("custom", &expected.custom, Some(&found.custom));
    let members: BTreeMap<&str, Setting> = expected
        .participants
        .iter()
        .map(|u| {
            let default = (Access::ReadWrite, Notify::All, None);
            let setting = settings.get(u.as_str()).cloned().unwrap_or(default);
            (u.as_str(), setting)
        })
        .collect();
    for (user, (access, notify, read_until)) in &members {
        match found
            .participants
            .iter()
            .find(|(id, _)| id.as_str() == *user)
        {
            None => fields.differ(
                format!("participants.{user}"),
                participant(access, notify),
                String::new(),
            ),
            Some((_, p)) => {
                fields.differ(
                    format!("participants.{user}.access"),
                    access.as_str().to_owned(),
                    p.access.as_str().to_owned(),
                );
                fields.differ(
                    format!("participants.{user}.notify"),
                    json(notify),
                    json(&p.notify),
                );
                if let Some(read_until) = read_until {
                    let millis = |t: &Timestamp| t.as_millis().to_string();
                    if p.read_until.is_none_or(|found| found < *read_until) {
                        fields.differ(
                            format!("participants.{user}.readUntil"),
                            millis(read_until),
                            p.read_until.as_ref().map(millis).unwrap_or_default(),
                        );
                    }
                }
            }
        }
    }
    for (user, p) in &found.participants {
        if !members.contains_key(user.as_str()) {
            fields.differ(
                format!("participants.{}", user.as_str()),
                String::new(),
                participant(&p.access, &p.notify),
            );
        }
    }
    fields.0
}

/// The target has no such record.
fn absent() -> Vec<FieldMismatch> {
    vec![FieldMismatch {
        field: "exists".to_owned(),
        expected: "yes".to_owned(),
        found: "no".to_owned(),
    }]
}

/// A participant's settings as the target should have them: access, notify, and the
/// source's `readUntil` if it has one.
type Setting = (Access, Notify, Option<Timestamp>);

/// One conversation's participant settings that differ from the defaults (or have a
/// `readUntil`): user → setting.
type Settings = BTreeMap<String, Setting>;

/// The participant settings of a plan, by conversation, as the target should have them
/// after the migration (a PATCH keeps what it does not set: the defaults the conversation
/// upsert gave).
fn planned_settings(items: &[PlannedItem]) -> Result<HashMap<String, Settings>, Error> {
    let mut out: HashMap<String, Settings> = HashMap::new();
    for item in items.iter().filter(|i| i.kind == ItemKind::Participant) {
        let setting: ParticipantSetting =
            serde_json::from_str(&item.body).map_err(|e| undecodable("participant setting", &e))?;
        let (access, notify, read_until) = match setting {
            ParticipantSetting::Overwrite(o) => (o.access, o.notify, None),
            ParticipantSetting::Patch(p) => (p.access, p.notify, p.read_until),
        };
        out.entry(item.subject.clone()).or_default().insert(
            item.source_id.clone(),
            (
                access.unwrap_or(Access::ReadWrite),
                notify.unwrap_or(Notify::All),
                read_until,
            ),
        );
    }
    Ok(out)
}

impl Migration {
    /// Compares the source with the target:
    ///
    /// - **users**, field by field: every field the source's user has and the upsert
    ///   carries: name, email, phone, photoUrl, welcomeMessage, locale, role, custom,
    ///   availabilityText;
    /// - **conversations**, field by field: subject, photoUrl, welcomeMessages, custom, and
    ///   the participants (each one the source has, with access and notify; one the target
    ///   has beyond them is a difference too), and each participant's `readUntil` where the
    ///   source has one: the target's must be **at or after** it (TalkJS moves it on as the
    ///   user reads, so a later one is no difference; a participant without one in the
    ///   source is not compared);
    /// - **messages**, conversation by conversation: the number of messages, and each
    ///   message's type, sender, time, text, reply link (as carried in `custom`), readers,
    ///   custom data, whether it has an attachment, and the emoji of its carried reactions
    ///   (each must be among the target message's `reactions` keys; who reacted is not
    ///   listed again, which would cost a request per message and emoji; reactions the
    ///   target has beyond them are no difference), in order (system messages, when
    ///   sent, after the imported ones, without their time). The two lists are aligned by
    ///   type, sender, time and text, so a missing or extra message is reported once, and a
    ///   changed message (same type, sender and time) is compared field by field. With
    ///   [`mark_source_ids`](Self::mark_source_ids), each source message is found by its
    ///   marker instead of its place, and target messages without a marker are counted
    ///   ([`ConversationCheck::unmarked`]), not reported.
    ///
    /// Not compared: what the source does not have (a field the source's record lacks: the
    /// target may fill in a default), what the target makes itself (ids of messages,
    /// `createdAt` of users and conversations, attachment URLs, `lastMessage`, unread
    /// state, `joinedAt`), and what does not move (`headerPhotoUrl`, `pushTokens`,
    /// reactions an export file does not name the users of, locations, the read state of
    /// system messages). Messages that cannot migrate (see the run's notes) are not
    /// expected.
    ///
    /// A conversation whose messages differ is listed again once the
    /// [settle time](Migration::settle_time) has passed (a listing may show new messages
    /// late) before the difference is reported.
    ///
    /// When the journal of this input exists and is free, the target ids of matching
    /// messages are recorded in it (the source→target map); a journal planned with other
    /// settings is refused ([`Error::SettingChanged`]).
    #[allow(clippy::too_many_lines)]
    pub async fn verify(&self) -> Result<VerifyReport, Error> {
        let plan = self.make_plan().await?;
        let journal_of_plan = || {
            if !self.journal_path().exists() {
                return None;
            }
            let journal = Journal::open(self.journal_path()).ok()?;
            journal
                .planned_fingerprint()
                .is_ok_and(|f| f.as_deref() == Some(plan.fingerprint.as_str()))
                .then_some(journal)
        };
        if let Some(journal) = journal_of_plan() {
            self.check_settings(&journal)?;
        }

        let mut users = Vec::new();
        let mut conversations: Vec<(String, ConversationUpsert)> = Vec::new();
        let mut messages: HashMap<String, Vec<Expected>> = HashMap::new();
        // The emoji carried to each message: (conversation, source message id) → emoji.
        let mut reactions: HashMap<(&str, &str), BTreeSet<String>> = HashMap::new();
        for item in &plan.items {
            match item.kind {
                ItemKind::User => users.push((
                    item.subject.clone(),
                    serde_json::from_str::<UserUpsert>(&item.body)
                        .map_err(|e| undecodable("user", &e))?,
                )),
                ItemKind::Conversation => conversations.push((
                    item.subject.clone(),
                    serde_json::from_str::<ConversationUpsert>(&item.body)
                        .map_err(|e| undecodable("conversation", &e))?,
                )),
                ItemKind::Message | ItemKind::SystemMessage => messages
                    .entry(item.subject.clone())
                    .or_default()
                    .push(Expected::from_item(item)?),
                ItemKind::Reaction => {
                    let body: ReactionBody = serde_json::from_str(&item.body)
                        .map_err(|e| undecodable("reaction", &e))?;
                    reactions
                        .entry((item.subject.as_str(), item.source_id.as_str()))
                        .or_default()
                        .insert(body.emoji);
                }
                ItemKind::Participant => {}
            }
        }
        for (conversation, list) in &mut messages {
            for expected in list {
                if let Some(emoji) =
                    reactions.remove(&(conversation.as_str(), expected.source_id.as_str()))
                {
                    expected.reactions = emoji;
                }
            }
        }
        let settings = planned_settings(&plan.items)?;

        let target = self.target();
        let user_checks: Vec<UserCheck> = stream::iter(users)
            .map(|(id, expected)| async move {
                let mismatches = match target.users().get(&id).await {
                    Ok(found) => check_user(&expected, &found),
                    Err(talkjs_api::Error::NotFound { .. }) => absent(),
                    Err(e) => return Err(Error::Target(e)),
                };
                Ok(UserCheck {
                    user: id,
                    mismatches,
                })
            })
            .buffered(FETCHES_AT_ONCE)
            .try_collect()
            .await?;

        let empty = BTreeMap::new();
        let marker = self.is_marking();
        let settle = self.settle_time_of();
        let checks: Vec<(ConversationCheck, Vec<(String, String)>)> = stream::iter(conversations)
            .map(|(id, expected)| {
                let list = messages.remove(&id).unwrap_or_default();
                let settings = settings.get(&id).unwrap_or(&empty);
                async move {
                    let fields = match target.conversations().get(&id).await {
                        Ok(found) => check_conversation_fields(&expected, settings, &found),
                        Err(talkjs_api::Error::NotFound { .. }) => absent(),
                        Err(e) => return Err(Error::Target(e)),
                    };
                    let compare = |found: &[Message]| {
                        if marker {
                            check_by_marker(&list, found)
                        } else {
                            check_in_order(&list, found)
                        }
                    };
                    let found = target_messages(target, &id, None)
                        .await
                        .map_err(Error::Target)?;
                    let mut check = compare(&found);
                    if (check.found != list.len() || !check.mismatches.is_empty())
                        && !settle.is_zero()
                    {
                        // A listing may show new messages late: look again once the settle
                        // time has passed before calling it a difference.
                        tokio::time::sleep(settle).await;
                        let found = target_messages(target, &id, None)
                            .await
                            .map_err(Error::Target)?;
                        check = compare(&found);
                    }
                    Ok((
                        ConversationCheck {
                            conversation: id,
                            expected: list.len(),
                            found: check.found,
                            mismatches: check.mismatches,
                            fields,
                            unmarked: check.unmarked,
                        },
                        check.ids,
                    ))
                }
            })
            .buffered(FETCHES_AT_ONCE)
            .try_collect()
            .await?;

        let mut report = VerifyReport {
            users: user_checks,
            ..VerifyReport::default()
        };
        let mut ids = Vec::new();
        for (check, found) in checks {
            report.conversations.push(check);
            ids.extend(found);
        }

        // The source→target map, where the journal of this very input is free to write.
        if let Some(mut journal) = journal_of_plan() {
            journal
                .set_target_ids(&ids)
                .map_err(|e| Error::journal(self.journal_path(), e))?;
        }
        Ok(report)
    }
}

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
