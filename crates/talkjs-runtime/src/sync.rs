//! Declare the users, conversations and memberships TalkJS should hold, see the difference
//! from what it holds, and apply only that: `talkjs sync plan|apply`.
//!
//! - **Desired state** ([`DesiredState::read`]): JSON lines in the `talkjs export` format
//!   (users, and conversations with their participants' access and notify; message lines
//!   are refused), decoded by the one line reader [`read_line`]. A field absent from a
//!   record is kept as it is in TalkJS; a field that is `null` (or a `custom` that is `{}`)
//!   is cleared; any other value is set. A conversation's `participants` is its whole
//!   membership: missing ones are added, ones with other settings updated, and with `prune`
//!   the others removed.
//! - **Plan** ([`plan`]): only reads, and only keeps records whose id is in the desired
//!   state, so memory is bounded by the desired state, not by the app. Users are read
//!   through their list (100 a page) while that is cheaper than a `GET` of each id still
//!   unseen: after each page, once the pages read reach the number of ids not found yet,
//!   the rest are fetched one `GET` each (so it costs at most about twice the cheaper of the
//!   two, whatever the app's size). Conversations (with their participants' access and
//!   notify) are read beside the users, see [below](#reading-the-conversations).
//! - **Apply** ([`apply`]): exactly the plan's writes, through the [bulk engine](crate::bulk)
//!   (users packed 100 to a request, each carrying only its changed fields). A saved plan
//!   records a fingerprint of every record it read; [`apply_saved`] reads them again and
//!   refuses ([`Error::Moved`]) when any changed meanwhile.
//!
//! # Reading the conversations
//!
//! A desired conversation can be found in three ways: in the app's listing (30 a page, all
//! the app's conversations), in the listing of a user it names
//! (`GET /users/{userId}/conversations`, 30 a page, each item the whole conversation with
//! its participants' access and notify, as a `GET` of it gives; the user's own unread
//! fields are ignored), or by a `GET` of its id. Two chains of pages run side by side, one
//! page of each at a time, sharing the set of desired conversations not found yet:
//!
//! - **A user's listing**, one user at a time: the user named as a participant in the most
//!   desired conversations that are neither found yet nor looked for by an earlier user's
//!   listing (ties: the smallest id). It is started only if that number is at least 2 and
//!   beats what the rest would cost a conversation: more than the app listing has found per
//!   page on average (before its first page: more than a full page, 30), or, once the app
//!   listing has stopped paying, 2 (the rest are then a `GET` each). Those conversations
//!   are then its own (no later user's listing looks for them), and it reads on while its
//!   pages stay below the number of them not found yet. Then the next user, by the same rule.
//! - **The app's listing**, while its pages stay below the number of conversations not found
//!   yet that the running user's listing is not looking for (so it pauses while one user's
//!   listing looks for all that is left). Its end means the rest do not exist.
//!
//! When neither goes on, the rest are fetched one `GET` each. A conversation whose user is
//! not (or no longer) a participant is not in that user's listing: it is found by the
//! app's listing or its `GET`, so drift is planned the same whichever way it was read.
//!
//! What it costs: the app's listing reads no more pages than it would alone (it only stops
//! sooner, having fewer conversations left to find), and the `GET`s after it are no more
//! than its pages; a user's listing reads fewer pages than the conversations it looks for,
//! each looked for by one user's listing at most. So at worst (user listings that find
//! nothing) reading costs what it did without them plus less than a request per desired
//! conversation (the price of its `GET`). Where one user is named in many desired
//! conversations it costs about that user's pages: 300 conversations of one support agent
//! in an app of a million take the agent's ~10 pages, not ~150 pages and ~150 `GET`s. Where
//! no user is named in more desired conversations than an app page finds, no user's listing
//! runs until the app's listing stops paying, and then only for users named in at least 2
//! of the conversations left for `GET`s. [`check`] (a saved plan's re-read) knows no
//! participants and reads the app's listing and `GET`s only.
//!
//! Nothing outside the file's ids is read into the plan or written; `prune` removes
//! participants only from the file's conversations and never deletes a user or a
//! conversation.
//!
//! Whether TalkJS merges `custom` key by key or replaces it whole is not documented: a
//! `custom` that differs is sent whole, and a key dropped from the file may stay in TalkJS
//! if it merges (the next plan then still shows it).
//!
//! ```no_run
//! # async fn run(client: talkjs_api::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use talkjs_runtime::sync::{DesiredState, apply, plan};
//!
//! let file = std::io::BufReader::new(std::fs::File::open("desired.jsonl")?);
//! let desired = DesiredState::read(file)?;
//! let plan = plan(&client, &desired, false).await?;
//! if !plan.is_empty() {
//!     println!("{}", serde_json::to_string_pretty(&plan)?);
//!     let report = apply(&client, &plan).await;
//!     assert!(report.failed.is_empty());
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use talkjs_api::Client;
use talkjs_models::{
    Access, Conversation, ConversationParticipant, ConversationUpsert, Notify,
    ParticipantOverwrite, ParticipantPatch, User, UserUpsert,
};

use crate::bulk::{Bulk, Item, Report};
use crate::translate::{LineError, ParticipantSetting, Record, Translator, read_line};

mod read;

use read::{Sought, read_conversations, read_users};

/// The user fields a sync compares and sets (the ones a user upsert takes, but push tokens).
const USER_FIELDS: [&str; 9] = [
    "name",
    "email",
    "phone",
    "photoUrl",
    "welcomeMessage",
    "locale",
    "role",
    "custom",
    "availabilityText",
];

/// The conversation fields a sync compares and sets (the ones a conversation upsert takes).
const CONVERSATION_FIELDS: [&str; 4] = ["subject", "photoUrl", "welcomeMessages", "custom"];

/// Why a desired state could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The reader failed.
    Io(std::io::Error),
    /// Lines that are not users or conversations (every bad line, with its number).
    Lines(Vec<LineError>),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "reading the desired state: {e}"),
            Self::Lines(lines) => {
                let mut first = true;
                for line in lines {
                    if !first {
                        f.write_str("\n")?;
                    }
                    first = false;
                    write!(f, "{line}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Why a plan could not be made or a saved plan applied.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading the live state failed.
    Api(talkjs_api::Error),
    /// A saved plan's records changed in TalkJS since it was made: their ids
    /// (`user ID` or `conversation ID`). Make a new plan.
    Moved(Vec<String>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api(e) => write!(f, "reading the live state: {e}"),
            Self::Moved(what) => write!(
                f,
                "the live state changed since the plan was made ({}): make a new plan",
                what.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Api(e) => Some(e),
            Self::Moved(_) => None,
        }
    }
}

impl From<talkjs_api::Error> for Error {
    fn from(e: talkjs_api::Error) -> Self {
        Self::Api(e)
    }
}

/// One record's desired fields: each compared field that the record names, with its value
/// (`null` to clear).
type Fields = BTreeMap<String, Value>;

/// A user as the desired state says.
#[derive(Debug, Clone, PartialEq)]
struct DesiredUser {
    id: String,
    fields: Fields,
}

/// A conversation as the desired state says.
#[derive(Debug, Clone, PartialEq)]
struct DesiredConversation {
    id: String,
    fields: Fields,
    participants: BTreeMap<String, Settings>,
}

/// The users and conversations TalkJS should hold, read from JSON lines in the
/// `talkjs export` format ([`DesiredState::read`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredState {
    users: Vec<DesiredUser>,
    conversations: Vec<DesiredConversation>,
}

impl DesiredState {
    /// Reads JSON lines (blank lines are passed over): users and conversations as
    /// `talkjs export` writes them. Every bad line is reported with its number (a message,
    /// a line that is not a record, an id given twice), not only the first.
    pub fn read(reader: impl BufRead) -> Result<Self, ReadError> {
        let mut state = Self::default();
        let mut bad = Vec::new();
        let mut seen_users: HashMap<String, u64> = HashMap::new();
        let mut seen_conversations: HashMap<String, u64> = HashMap::new();
        for (index, line) in reader.split(b'\n').enumerate() {
            let number = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
            let line = line.map_err(ReadError::Io)?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let error = |reason: String| LineError {
                line: number,
                reason,
            };
            let record = match read_line(number, &line) {
                Ok(record) => record,
                Err(e) => {
                    bad.push(e);
                    continue;
                }
            };
            // The record's fields as written, to tell a null (clear) from an absent field
            // (keep), which the decoded record does not.
            let object: Map<String, Value> = serde_json::from_slice(&line).unwrap_or_default();
            match record {
                Record::User(user) => {
                    let id = user.id.as_str().to_owned();
                    if object.get("name").is_some_and(Value::is_null) {
                        bad.push(error(format!(
                            "user {id:?}: a name cannot be cleared (it is null)"
                        )));
                        continue;
                    }
                    if let Some(first) = seen_users.insert(id.clone(), number) {
                        bad.push(error(format!("user {id:?} is already on line {first}")));
                        continue;
                    }
                    state.users.push(DesiredUser {
                        fields: named_fields(&object, &USER_FIELDS),
                        id,
                    });
                }
                Record::Conversation(conversation) => {
                    let id = conversation.id.as_str().to_owned();
                    if let Some(first) = seen_conversations.insert(id.clone(), number) {
                        bad.push(error(format!(
                            "conversation {id:?} is already on line {first}"
                        )));
                        continue;
                    }
                    let participants = conversation
                        .participants
                        .iter()
                        .map(|(user, p)| (user.as_str().to_owned(), Settings::of(p)))
                        .collect();
                    state.conversations.push(DesiredConversation {
                        fields: named_fields(&object, &CONVERSATION_FIELDS),
                        id,
                        participants,
                    });
                }
                Record::Message(_) => bad.push(error(
                    "a message: a desired state holds users and conversations only".to_owned(),
                )),
            }
        }
        if bad.is_empty() {
            Ok(state)
        } else {
            Err(ReadError::Lines(bad))
        }
    }

    /// The number of users in the desired state.
    pub fn users(&self) -> usize {
        self.users.len()
    }

    /// The number of conversations in the desired state.
    pub fn conversations(&self) -> usize {
        self.conversations.len()
    }
}

/// The fields of `names` a record names, with their values; an empty `custom` means clear.
fn named_fields(object: &Map<String, Value>, names: &[&str]) -> Fields {
    let mut fields = Fields::new();
    for name in names {
        if let Some(value) = object.get(*name) {
            let value = match value {
                Value::Object(map) if map.is_empty() && *name == "custom" => Value::Null,
                other => other.clone(),
            };
            fields.insert((*name).to_owned(), value);
        }
    }
    fields
}

/// A participant's access and notify settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Settings {
    /// What the participant may do.
    pub access: Access,
    /// When the participant is notified.
    pub notify: Notify,
}

impl Settings {
    /// The settings `access` and `notify`.
    pub fn new(access: Access, notify: Notify) -> Self {
        Self { access, notify }
    }

    fn of(p: &ConversationParticipant) -> Self {
        Self {
            access: p.access.clone(),
            notify: p.notify.clone(),
        }
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let notify = serde_json::to_string(&self.notify).unwrap_or_default();
        write!(f, "{}/{notify}", self.access.as_str())
    }
}

/// One field that changes: its old value (`null` when it has none) and its new one (`null`
/// to clear it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field's name as TalkJS spells it, e.g. `photoUrl`.
    pub field: String,
    /// Its value in TalkJS now.
    pub old: Value,
    /// Its value after the apply.
    pub new: Value,
}

/// A user to create or update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserChange {
    /// The user id.
    pub id: String,
    /// Whether TalkJS has no such user yet.
    pub create: bool,
    /// The fields that change (for a new user, every field it is given).
    pub fields: Vec<FieldChange>,
}

/// What happens to one participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ParticipantAction {
    /// Added to the conversation.
    Add,
    /// Given other access or notify settings.
    Update,
    /// Removed from the conversation (only with prune).
    Remove,
}

/// One participant that is added, updated or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParticipantChange {
    /// The user id.
    pub user: String,
    /// What happens.
    pub action: ParticipantAction,
    /// The settings now (none when added).
    pub old: Option<Settings>,
    /// The settings after the apply (none when removed).
    pub new: Option<Settings>,
}

/// A conversation to create or update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConversationChange {
    /// The conversation id.
    pub id: String,
    /// Whether TalkJS has no such conversation yet.
    pub create: bool,
    /// The fields that change.
    pub fields: Vec<FieldChange>,
    /// The participants that are added, updated or removed.
    pub participants: Vec<ParticipantChange>,
}

/// What a plan read: a record's id and a fingerprint of its compared fields (`absent`
/// when TalkJS has no such record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Observed {
    /// The record's id.
    pub id: String,
    /// A fingerprint of what was read (FNV-1a of the compared fields, as hex), or `absent`.
    pub state: String,
}

/// The difference between a desired state and TalkJS ([`plan`]); serializes to JSON (for
/// tools, and to apply later with [`apply_saved`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// Whether participants not in the desired state are removed.
    pub prune: bool,
    /// Users to create or update, in the desired state's order.
    pub users: Vec<UserChange>,
    /// Conversations to create or update, in the desired state's order.
    pub conversations: Vec<ConversationChange>,
    /// Every user the plan read (each id of the desired state).
    pub read_users: Vec<Observed>,
    /// Every conversation the plan read (each id of the desired state).
    pub read_conversations: Vec<Observed>,
}

impl Plan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.conversations.is_empty()
    }

    /// The writes the plan's apply sends, in the bulk engine's items: one user upsert per
    /// changed user (packed 100 to a request), one conversation upsert per created or
    /// changed conversation or one with participants to add, and one participant request
    /// per participant whose settings are set, updated or removed.
    pub fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        for user in &self.users {
            items.push(Item::User {
                id: user.id.clone(),
                user: user_upsert(&user.fields),
            });
        }
        let translator = Translator::new();
        let mut later = Vec::new();
        for conversation in &self.conversations {
            let id = &conversation.id;
            let added: Vec<String> = (conversation.participants.iter())
                .filter(|p| p.action == ParticipantAction::Add)
                .map(|p| p.user.clone())
                .collect();
            if conversation.create || !conversation.fields.is_empty() || !added.is_empty() {
                items.push(Item::Conversation {
                    id: id.clone(),
                    conversation: conversation_upsert(&conversation.fields).participants(added),
                });
            }
            for p in &conversation.participants {
                let user = p.user.clone();
                let conversation = id.clone();
                let setting = match (p.action, &p.new) {
                    (ParticipantAction::Remove, _) | (_, None) => {
                        later.push(Item::RemoveParticipant { conversation, user });
                        continue;
                    }
                    // Added by the upsert with the defaults: only other settings need more.
                    (ParticipantAction::Add, Some(new)) => translator.participant(
                        &ConversationParticipant::new(new.access.clone(), new.notify.clone()),
                    ),
                    (ParticipantAction::Update, Some(new)) => Some(overwrite(new)),
                };
                let item = match setting {
                    Some(ParticipantSetting::Overwrite(settings)) => Item::Participant {
                        conversation,
                        user,
                        settings,
                    },
                    Some(ParticipantSetting::Patch(patch)) => Item::ParticipantPatch {
                        conversation,
                        user,
                        patch,
                    },
                    None => continue,
                };
                later.push(item);
            }
        }
        items.extend(later);
        items
    }
}

/// The request that gives a participant `settings` whatever it had: a `PUT` of both, or a
/// `PATCH` of both for access `None` (which only the `PATCH` takes).
fn overwrite(settings: &Settings) -> ParticipantSetting {
    if settings.access == Access::None {
        ParticipantSetting::Patch(
            ParticipantPatch::new()
                .access(Access::None)
                .notify(settings.notify.clone()),
        )
    } else {
        ParticipantSetting::Overwrite(
            ParticipantOverwrite::new()
                .access(settings.access.clone())
                .notify(settings.notify.clone()),
        )
    }
}

/// The upsert of the changed fields (new values; `null` clears).
fn user_upsert(fields: &[FieldChange]) -> UserUpsert {
    serde_json::from_value(Value::Object(new_values(fields))).unwrap_or_default()
}

/// The upsert of the changed fields, without participants.
fn conversation_upsert(fields: &[FieldChange]) -> ConversationUpsert {
    serde_json::from_value(Value::Object(new_values(fields))).unwrap_or_default()
}

fn new_values(fields: &[FieldChange]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| (f.field.clone(), f.new.clone()))
        .collect()
}

/// A user's compared fields as TalkJS holds them (`null` for none; an empty `custom` is
/// `null`).
fn live_user_fields(user: &User) -> Fields {
    let value = serde_json::to_value(user).unwrap_or(Value::Null);
    live_fields(&value, &USER_FIELDS)
}

fn live_conversation_fields(conversation: &Conversation) -> Fields {
    let value = serde_json::to_value(conversation).unwrap_or(Value::Null);
    live_fields(&value, &CONVERSATION_FIELDS)
}

fn live_fields(value: &Value, names: &[&str]) -> Fields {
    names
        .iter()
        .map(|name| {
            let value = match value.get(*name) {
                None | Some(Value::Null) => Value::Null,
                Some(Value::Object(map)) if map.is_empty() => Value::Null,
                Some(other) => other.clone(),
            };
            ((*name).to_owned(), value)
        })
        .collect()
}

/// The fields whose desired value differs from the live one.
fn field_changes(desired: &Fields, live: &Fields) -> Vec<FieldChange> {
    desired
        .iter()
        .filter_map(|(field, new)| {
            let old = live.get(field).cloned().unwrap_or(Value::Null);
            (old != *new).then(|| FieldChange {
                field: field.clone(),
                old,
                new: new.clone(),
            })
        })
        .collect()
}

/// FNV-1a (64 bits) of a text, as hex: stable across runs and builds.
fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn user_state(user: Option<&User>) -> String {
    user.map_or_else(
        || "absent".to_owned(),
        |u| fingerprint(&serde_json::to_string(&live_user_fields(u)).unwrap_or_default()),
    )
}

fn conversation_state(conversation: Option<&Conversation>) -> String {
    conversation.map_or_else(
        || "absent".to_owned(),
        |c| {
            let participants: BTreeMap<&str, Settings> = (c.participants.iter())
                .map(|(user, p)| (user.as_str(), Settings::of(p)))
                .collect();
            let text = serde_json::to_string(&(live_conversation_fields(c), participants));
            fingerprint(&text.unwrap_or_default())
        },
    )
}

/// What TalkJS holds of the desired state's users and conversations: the users' read and
/// the conversations' read side by side (each a chain of pages, a cursor each).
async fn read_live(
    client: &Client,
    desired: &DesiredState,
) -> Result<(HashMap<String, User>, HashMap<String, Conversation>), Error> {
    let user_ids: Vec<&str> = desired.users.iter().map(|u| u.id.as_str()).collect();
    let conversations: Vec<Sought<'_>> = (desired.conversations.iter())
        .map(|c| {
            let users = c.participants.keys().map(String::as_str).collect();
            (c.id.as_str(), users)
        })
        .collect();
    futures_util::future::try_join(
        read_users(client, &user_ids),
        read_conversations(client, &conversations),
    )
    .await
}

/// Compares `desired` with what TalkJS holds and lists the difference; sends no write.
/// With `prune`, participants of the desired state's conversations that it does not name
/// are removed (nothing else is ever removed).
pub async fn plan(client: &Client, desired: &DesiredState, prune: bool) -> Result<Plan, Error> {
    let (live_users, live_conversations) = read_live(client, desired).await?;

    let mut plan = Plan {
        prune,
        ..Plan::default()
    };
    for user in &desired.users {
        let live = live_users.get(&user.id);
        plan.read_users.push(Observed {
            id: user.id.clone(),
            state: user_state(live),
        });
        let change = match live {
            None => UserChange {
                id: user.id.clone(),
                create: true,
                fields: field_changes(&user.fields, &Fields::new())
                    .into_iter()
                    .filter(|f| !f.new.is_null())
                    .collect(),
            },
            Some(live) => UserChange {
                id: user.id.clone(),
                create: false,
                fields: field_changes(&user.fields, &live_user_fields(live)),
            },
        };
        if change.create || !change.fields.is_empty() {
            plan.users.push(change);
        }
    }
    for conversation in &desired.conversations {
        let live = live_conversations.get(&conversation.id);
        plan.read_conversations.push(Observed {
            id: conversation.id.clone(),
            state: conversation_state(live),
        });
        let (fields, live_participants) = match live {
            None => (
                field_changes(&conversation.fields, &Fields::new())
                    .into_iter()
                    .filter(|f| !f.new.is_null())
                    .collect(),
                BTreeMap::new(),
            ),
            Some(live) => (
                field_changes(&conversation.fields, &live_conversation_fields(live)),
                (live.participants.iter())
                    .map(|(user, p)| (user.as_str().to_owned(), Settings::of(p)))
                    .collect(),
            ),
        };
        let mut participants = Vec::new();
        for (user, new) in &conversation.participants {
            match live_participants.get(user) {
                None => participants.push(ParticipantChange {
                    user: user.clone(),
                    action: ParticipantAction::Add,
                    old: None,
                    new: Some(new.clone()),
                }),
                Some(old) if old != new => participants.push(ParticipantChange {
                    user: user.clone(),
                    action: ParticipantAction::Update,
                    old: Some(old.clone()),
                    new: Some(new.clone()),
                }),
                Some(_) => {}
            }
        }
        if prune {
            for (user, old) in &live_participants {
                if !conversation.participants.contains_key(user) {
                    participants.push(ParticipantChange {
                        user: user.clone(),
                        action: ParticipantAction::Remove,
                        old: Some(old.clone()),
                        new: None,
                    });
                }
            }
        }
        if live.is_none() || !fields.is_empty() || !participants.is_empty() {
            plan.conversations.push(ConversationChange {
                id: conversation.id.clone(),
                create: live.is_none(),
                fields,
                participants,
            });
        }
    }
    Ok(plan)
}

/// Sends exactly the plan's writes ([`Plan::items`]) through the bulk engine and returns
/// its report. Does not check that TalkJS still holds what the plan read: see
/// [`apply_saved`].
pub async fn apply(client: &Client, plan: &Plan) -> Report {
    apply_with(Bulk::new(client), plan).await
}

/// [`apply`] on a bulk runner of your own (e.g. with a progress callback).
pub async fn apply_with(bulk: Bulk, plan: &Plan) -> Report {
    let items = plan.items();
    bulk.total(items.len()).run_iter(items).await
}

/// Reads again every record the plan read and refuses with [`Error::Moved`], naming them,
/// if any changed since the plan was made.
pub async fn check(client: &Client, plan: &Plan) -> Result<(), Error> {
    let user_ids: Vec<&str> = plan.read_users.iter().map(|o| o.id.as_str()).collect();
    let users = read_users(client, &user_ids).await?;
    // A plan does not keep the participants the file named: the app's listing and GETs.
    let conversation_ids: Vec<Sought<'_>> = (plan.read_conversations.iter())
        .map(|o| (o.id.as_str(), Vec::new()))
        .collect();
    let conversations = read_conversations(client, &conversation_ids).await?;
    let mut moved = Vec::new();
    for seen in &plan.read_users {
        if user_state(users.get(&seen.id)) != seen.state {
            moved.push(format!("user {}", seen.id));
        }
    }
    for seen in &plan.read_conversations {
        if conversation_state(conversations.get(&seen.id)) != seen.state {
            moved.push(format!("conversation {}", seen.id));
        }
    }
    if moved.is_empty() {
        Ok(())
    } else {
        Err(Error::Moved(moved))
    }
}

/// Applies a saved plan: [`check`]s that TalkJS still holds what it read, then
/// [`apply_with`].
pub async fn apply_saved(client: &Client, bulk: Bulk, plan: &Plan) -> Result<Report, Error> {
    check(client, plan).await?;
    Ok(apply_with(bulk, plan).await)
}
