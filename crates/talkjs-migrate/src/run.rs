//! The migration runner: planning, resolving uncertain requests, then the stages.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use talkjs_api::models::{ImportMessage, NewSystemMessage};
use talkjs_api::{Client, MAX_MESSAGES_PER_REQUEST};

use crate::error::Error;
use crate::files::{Downloader, FileError, download, downloader, shown};
use crate::journal::{
    Counts, Failure, Fate, ItemKind, Journal, MARK_SOURCE_IDS, REACTION_LISTINGS, Row,
    SKIPPED_SYSTEM_MESSAGES, SYSTEM_MESSAGES, app_address,
};
use crate::plan::{
    Note, Plan, PlanOptions, Severity, app_fingerprint, fingerprint_file, plan_app, plan_file,
    shard_suffix,
};
use crate::shard::Shard;

mod engine;
mod reactions;
mod settle;
pub use settle::Reconciled;
pub(crate) use settle::target_messages;

/// The default settle time: how long after an answer was lost an import is taken to have
/// landed or not for good ([`Migration::settle_time`]).
pub const DEFAULT_SETTLE_TIME: Duration = Duration::from_secs(10);

/// Where the data comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A JSON lines file as `talkjs export` writes it.
    File(PathBuf),
    /// Another TalkJS app, read through the list endpoints.
    App(Client),
}

/// Stops a running migration cleanly: no new request starts, the ones in flight finish and
/// are recorded. Clone it into a Ctrl-C handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the migration to stop after the requests in flight.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How far a run is; given to the [progress callback](Migration::on_progress) after every
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Items landed (this run and earlier ones).
    pub done: u64,
    /// Items failed.
    pub failed: u64,
    /// Items in the plan.
    pub total: u64,
    /// Messages landed (this run and earlier ones).
    pub messages_done: u64,
    /// Messages in the plan.
    pub messages_total: u64,
    /// Requests sent by this run.
    pub requests: u64,
    /// About how many requests are left: users 100 to a request, each conversation's
    /// messages 100 to a request (10 once the target refused more, and system messages),
    /// conversations, participant settings and reactions one each (more if answers are lost
    /// or refused).
    pub requests_left: u64,
    /// Time since this run started (planning included).
    pub elapsed: Duration,
    /// The time left: [`requests_left`](Self::requests_left) at this run's pace of
    /// requests since planning. `None` until a request was answered.
    pub eta: Option<Duration>,
}

/// In-flight requests of an earlier run (or of this one, after a timeout or a reset) whose
/// outcome was unknown, and how they were resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Uncertain import requests resolved by listing the target conversation.
    pub chunks: u64,
    /// Their messages found in the target (marked done, not sent again).
    pub landed: u64,
    /// Their messages not found (sent again).
    pub resent: u64,
}

/// The outcome of a run, read back from the journal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// Users by state.
    pub users: Counts,
    /// Conversations by state.
    pub conversations: Counts,
    /// Messages (imports) by state.
    pub messages: Counts,
    /// System messages by state (none unless
    /// [`Migration::system_messages`](Migration::system_messages) is on).
    pub system_messages: Counts,
    /// System messages of the source that are skipped (without
    /// [`Migration::system_messages`](Migration::system_messages); each is in
    /// [`notes`](Self::notes) with its line).
    pub skipped_system_messages: u64,
    /// Source files uploaded to the target as attachments, one per distinct URL (this run
    /// and earlier ones).
    pub files: u64,
    /// Uploads this run made (a file whose upload answer was lost by a killed run is
    /// uploaded again: an unused upload is invisible).
    pub uploads: u64,
    /// Participant settings (access or notify other than the defaults, or a `readUntil`)
    /// by state.
    pub participants: Counts,
    /// Reactions (one per message, emoji and user who reacted) by state.
    pub reactions: Counts,
    /// Requests planning made to list who reacted to the source app's messages (one per
    /// message and emoji, one more per further page of 100 users; 0 for a file). Not in
    /// [`requests`](Self::requests): counted when the plan was made (also on later runs).
    pub reaction_listings: u64,
    /// Requests this run sent, the reconcile pass's deletes included (listings, to survey
    /// the target, read what a conversation held before, resolve or reconcile, not
    /// included).
    pub requests: u64,
    /// Uncertain requests resolved by this run.
    pub resolved: Resolved,
    /// What the reconcile pass at the end of this run found and changed in the
    /// conversations that had an uncertain request.
    pub reconciled: Reconciled,
    /// Items that failed, with their reasons and input lines.
    pub failures: Vec<Failure>,
    /// What planning found in the input: errors and skipped records with their lines,
    /// and what migrates incompletely.
    pub notes: Vec<Note>,
    /// Whether this run made the plan (a first run), or resumed one.
    pub planned: bool,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Report {
    /// Whether nothing is left to send: every item landed or failed for good. A report that
    /// is not complete (stopped, or transient failures) is finished by running again.
    pub fn is_complete(&self) -> bool {
        [
            &self.users,
            &self.conversations,
            &self.messages,
            &self.system_messages,
            &self.participants,
            &self.reactions,
        ]
        .iter()
        .all(|c| c.planned == 0 && c.in_flight == 0)
            && self.failures.iter().all(|f| f.permanent)
    }

    /// Notes of severity [`Severity::Error`] or [`Severity::Skipped`]: records of the input
    /// that did not migrate.
    pub fn rejected_lines(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|n| matches!(n.severity, Severity::Error | Severity::Skipped))
    }
}

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A migration into a TalkJS app, resumable from its journal: see the crate docs.
#[must_use = "a migration does nothing until run"]
pub struct Migration {
    target: Client,
    source: Source,
    journal: PathBuf,
    /// Whether the journal was chosen (not the default).
    journal_chosen: bool,
    shard: Option<Shard>,
    concurrency: usize,
    /// Attachments may come from loopback, private and link-local hosts.
    allow_private_file_hosts: bool,
    settle: Duration,
    options: PlanOptions,
    progress: Option<ProgressFn>,
    stop: StopHandle,
}

impl std::fmt::Debug for Migration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migration")
            .field("source", &self.source)
            .field("journal", &self.journal)
            .field("shard", &self.shard)
            .field("concurrency", &self.concurrency)
            .field("settle", &self.settle)
            .field("system_messages", &self.options.system_messages)
            .field("mark_source_ids", &self.options.mark_source_ids)
            .finish_non_exhaustive()
    }
}

/// The default journal: beside an input file, `FILE.journal`; for an app,
/// `talkjs-migrate.journal` in the working directory. A shard's has `.shard-I-of-N` before
/// `.journal`.
fn default_journal(source: &Source, shard: Option<Shard>) -> PathBuf {
    let mut name = match source {
        Source::File(file) => file.as_os_str().to_owned(),
        Source::App(_) => "talkjs-migrate".into(),
    };
    if let Some(shard) = shard {
        name.push(format!(".shard-{}-of-{}", shard.index(), shard.count()));
    }
    name.push(".journal");
    PathBuf::from(name)
}

impl Migration {
    /// A migration of a JSON lines file (users, conversations and messages, one object a
    /// line, as `talkjs export` writes them, in any order) into `target`. The journal
    /// defaults to `FILE.journal` beside the input.
    pub fn from_file(file: impl Into<PathBuf>, target: Client) -> Self {
        Self::new(Source::File(file.into()), target)
    }

    fn new(source: Source, target: Client) -> Self {
        Self {
            journal: default_journal(&source, None),
            journal_chosen: false,
            shard: None,
            source,
            target,
            concurrency: 32,
            allow_private_file_hosts: false,
            settle: DEFAULT_SETTLE_TIME,
            options: PlanOptions::default(),
            progress: None,
            stop: StopHandle::default(),
        }
    }

    /// A migration of everything in another app (users, conversations, their messages),
    /// read through `source`'s list endpoints, into `target`. The journal defaults to
    /// `talkjs-migrate.journal` in the working directory.
    pub fn from_app(source: Client, target: Client) -> Self {
        Self::new(Source::App(source), target)
    }

    /// The journal file (created if missing; resumed if it holds this input's plan).
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = path.into();
        self.journal_chosen = true;
        self
    }

    /// Migrates one shard of the source only: the conversations `id` with
    /// [`shard_of`](crate::shard_of)`(id, N) == i` (a stable hash), their participants'
    /// settings and messages, and the users they name (participants, senders, readers);
    /// shard 0 also takes the users no conversation names. So every shard has the users its
    /// messages need (a user in several shards' conversations is upserted by each: upserts
    /// are idempotent), and the N shards together migrate exactly what the whole does.
    ///
    /// Run the N shards as separate processes, on one machine or several, each with its own
    /// journal (the default journal name has `.shard-I-of-N` before `.journal`); give their
    /// clients one rate limit (e.g. `talkjs-ratelimit-redis`'s `RedisStore`). A shard's
    /// journal resumes that shard only. [`verify`](Self::verify) of a shard compares its
    /// conversations; an unsharded verify compares them all.
    ///
    /// Input lines that are no record (bad JSON, an unknown shape) are noted by every shard.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        if !self.journal_chosen {
            self.journal = default_journal(&self.source, self.shard);
        }
        self
    }

    /// The journal file this migration uses.
    pub fn journal_path(&self) -> &Path {
        &self.journal
    }

    /// Downloads attachments from hosts on loopback, private (RFC 1918, `fc00::/7`),
    /// link-local, shared (`100.64.0.0/10`) and other non-public addresses too (default:
    /// off). By default such a URL, or a redirect to one, fails its message, checked on the
    /// addresses a host name resolves to before connecting, so an export cannot make the
    /// migration fetch from the machine it runs on or its network. Cloud metadata addresses
    /// (`169.254.169.254`, `fd00:ec2::254`, ...) are refused even so. A message refused for
    /// its host is not failed for good: its conversation stops there, and a run with this on
    /// carries it.
    pub fn allow_private_file_hosts(mut self, allow: bool) -> Self {
        self.allow_private_file_hosts = allow;
        self
    }

    /// At most this many requests in flight at once (default 32, at least 1): message
    /// imports of different conversations run side by side, each conversation's in order.
    /// The client's rate limiter sets the pace.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// How long after an import's answer was lost (a 5xx, a reset, a timeout, or a killed
    /// process) the migration waits before it lists the target to see whether the import
    /// landed (default [`DEFAULT_SETTLE_TIME`], 10 s). TalkJS may apply a write after the
    /// answer was lost, and its listings may show a new message a little late: set this
    /// above both. Only the conversation concerned waits; the others go on. A write that
    /// lands later than this (so it was taken as lost and sent again) is still caught by the
    /// reconcile pass at the end of the run, which lists each such conversation once twice
    /// the settle time has passed and deletes the surplus copy (see the crate docs,
    /// "Faults").
    pub fn settle_time(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// Sends the source's system messages (default: off, they are skipped and counted in a
    /// warning). The import takes user messages only, so they go through the send endpoint,
    /// which stamps **the time they are sent**: each conversation's system messages arrive
    /// after its whole imported history, in their original order, not at their original
    /// places. Each carries an idempotency key made of the source's identity and its source
    /// id, so a send whose outcome is unknown is simply sent again. Decided when the journal
    /// is planned: a resumed run with another setting is refused
    /// ([`Error::SettingChanged`]).
    pub fn system_messages(mut self, send: bool) -> Self {
        self.options.system_messages = send;
        self
    }

    /// Marks each migrated message with its source id, in `custom` under
    /// [`SOURCE_ID_KEY`](crate::SOURCE_ID_KEY) (`"talkjs-migrate:sourceId"`); default off,
    /// since it adds a key to the user's data. With the marker, resolving an uncertain
    /// import and [`verify`](Self::verify) find messages by it instead of by sender, time
    /// and text: reliable even when the target already holds identical messages (e.g. an
    /// earlier import of the same data without a journal). Decided when the journal is
    /// planned: a resumed run with another setting is refused ([`Error::SettingChanged`]),
    /// since the messages in flight were sent with (or without) the marker.
    pub fn mark_source_ids(mut self, mark: bool) -> Self {
        self.options.mark_source_ids = mark;
        self
    }

    /// Called after every request with the counts so far.
    pub fn on_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// A handle that stops the run cleanly (after the requests in flight).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The target id of a source item, from the journal: users and conversations keep
    /// their ids; a message's is known once a listing of the target found it (resolving an
    /// uncertain request, or [`verify`](Self::verify)). `None` when not known (yet).
    pub fn target_id(&self, kind: ItemKind, source_id: &str) -> Result<Option<String>, Error> {
        let journal = Journal::open(&self.journal).map_err(|e| Error::journal(&self.journal, e))?;
        journal
            .target_id(kind, source_id)
            .map_err(|e| Error::journal(&self.journal, e))
    }

    pub(crate) fn target(&self) -> &Client {
        &self.target
    }

    /// The settle time ([`Self::settle_time`]).
    pub(crate) fn settle_time_of(&self) -> Duration {
        self.settle
    }

    /// Whether messages carry their source id ([`Self::mark_source_ids`]).
    pub(crate) fn is_marking(&self) -> bool {
        self.options.mark_source_ids
    }

    /// Plans the source (reads the file or lists the app).
    pub(crate) async fn make_plan(&self) -> Result<Plan, Error> {
        match &self.source {
            Source::File(path) => {
                plan_file(path, self.shard, self.options).map_err(|source| Error::Input {
                    path: path.clone(),
                    source,
                })
            }
            Source::App(client) => plan_app(client, self.shard, self.options)
                .await
                .map_err(Error::Source),
        }
    }

    /// The settings a plan is made with, as the journal records them.
    fn settings(&self) -> [(&'static str, bool); 2] {
        [
            (MARK_SOURCE_IDS, self.options.mark_source_ids),
            (SYSTEM_MESSAGES, self.options.system_messages),
        ]
    }

    /// What the journal records with a plan besides its items: the settings (`"1"` on,
    /// `"0"` off) and the system messages skipped.
    fn plan_meta(&self, plan: &Plan) -> Vec<(&'static str, String)> {
        let mut meta: Vec<(&str, String)> = self
            .settings()
            .into_iter()
            .map(|(key, on)| (key, if on { "1" } else { "0" }.to_owned()))
            .collect();
        meta.push((
            SKIPPED_SYSTEM_MESSAGES,
            plan.skipped_system_messages.to_string(),
        ));
        meta.push((REACTION_LISTINGS, plan.reaction_listings.to_string()));
        if let Some(target) = app_address(&self.target) {
            meta.push(("target", target));
        }
        meta
    }

    /// Refuses a journal bound to another target app (or API root): its "done" would be
    /// about the other app. A journal that records no target (planned by an earlier
    /// version) adopts this one.
    fn check_target(&self, journal: &mut Journal) -> Result<(), Error> {
        let Some(found) = app_address(&self.target) else {
            return Ok(());
        };
        match journal
            .bound_target()
            .map_err(|e| Error::journal(&self.journal, e))?
        {
            Some(expected) if expected != found => Err(Error::WrongTarget {
                path: self.journal.clone(),
                expected,
                found,
            }),
            Some(_) => Ok(()),
            None => journal
                .bind_target(&found)
                .map_err(|e| Error::journal(&self.journal, e)),
        }
    }

    /// Refuses a journal planned with other settings than this migration's.
    pub(crate) fn check_settings(&self, journal: &Journal) -> Result<(), Error> {
        for (key, requested) in self.settings() {
            let planned = journal
                .setting(key)
                .map_err(|e| Error::journal(&self.journal, e))?;
            if planned != requested {
                return Err(Error::SettingChanged {
                    path: self.journal.clone(),
                    setting: if key == MARK_SOURCE_IDS {
                        "--mark-source-ids"
                    } else {
                        "--system-messages"
                    },
                    planned,
                    requested,
                });
            }
        }
        Ok(())
    }

    /// Runs the migration, or resumes it from the journal: plans on the first run (the
    /// whole plan in one transaction), resolves requests whose outcome an earlier run did
    /// not learn (killed in flight), then sends what is left: users, conversations, each
    /// conversation's messages in order, reactions, participant settings. Run it again until
    /// [`Report::is_complete`]; a complete migration run again sends nothing.
    pub async fn run(&self) -> Result<Report, Error> {
        let start = Instant::now();
        let path = self.journal.clone();
        let mut journal = Journal::open(&path).map_err(|e| Error::journal(&path, e))?;
        let db = |e| Error::journal(&path, e);

        let mut planned = false;
        let existing = journal.planned_fingerprint().map_err(db)?;
        match (&self.source, existing) {
            (_, None) => {
                let plan = self.make_plan().await?;
                journal
                    .write_plan(
                        &plan.fingerprint,
                        &self.plan_meta(&plan),
                        &plan.items,
                        &plan.notes,
                    )
                    .map_err(db)?;
                planned = true;
            }
            (source, Some(expected)) => {
                // The input (and shard) must be the one planned: for a file, a cheap hash.
                let found = match source {
                    Source::File(file) => {
                        fingerprint_file(file).map_err(|source| Error::Input {
                            path: file.clone(),
                            source,
                        })? + &shard_suffix(self.shard)
                    }
                    Source::App(client) => app_fingerprint(client, self.shard),
                };
                // A journal from before source apps were told apart says `app` only.
                let legacy_app = format!("app{}", shard_suffix(self.shard));
                if found != expected && !(expected == legacy_app && found.starts_with("app")) {
                    return Err(Error::WrongInput {
                        path,
                        expected,
                        found,
                    });
                }
                self.check_settings(&journal)?;
                self.check_target(&mut journal)?;
            }
        }
        journal.prepare_resume().map_err(db)?;
        let downloader = downloader(self.allow_private_file_hosts)
            .map_err(|e| Error::Target(talkjs_api::Error::Config(e)))?;

        let total: u64 = ItemKind::ALL
            .iter()
            .map(|k| journal.counts(*k).map(|c| c.total))
            .sum::<rusqlite::Result<u64>>()
            .map_err(db)?;
        let mut finished = 0;
        for kind in ItemKind::ALL {
            let c = journal.counts(kind).map_err(db)?;
            finished += c.done + c.failed;
        }
        let messages = journal.counts(ItemKind::Message).map_err(db)?;
        // What the journal learnt of the import request size (it is bound to this target).
        let size_record = journal.import_batch().map_err(db)?;
        let size = self.target.import_size();
        match size_record.as_deref() {
            Some("10") => size.parts_landed(),
            Some("100") => size.large_accepted(),
            _ => {}
        }
        let requests_left = journal
            .requests_left(self.target.import_batch_size())
            .map_err(db)?;
        let run = Arc::new(Run {
            client: self.target.clone(),
            downloader,
            marker: self.options.mark_source_ids,
            file_locks: Mutex::new(HashMap::new()),
            uploads: AtomicU64::new(0),
            journal: Mutex::new(journal),
            path: path.clone(),
            concurrency: self.concurrency,
            settle_time: self.settle,
            stop: self.stop.clone(),
            progress: self.progress.clone(),
            start,
            sending_since: Instant::now(),
            total,
            done_before: finished,
            messages_total: messages.total,
            messages_before: messages.done,
            messages_done: AtomicU64::new(0),
            requests_left,
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            resolved_chunks: AtomicU64::new(0),
            resolved_landed: AtomicU64::new(0),
            resolved_resent: AtomicU64::new(0),
            reconciled_conversations: AtomicU64::new(0),
            reconciled_clean: AtomicU64::new(0),
            reconciled_deleted: AtomicU64::new(0),
            reconciled_resent: AtomicU64::new(0),
        });
        // The totals, before the first answer.
        run.report_progress();
        run.resolve_in_flight(None).await?;
        run.stages().await?;
        if self.target.import_batch_size() == MAX_MESSAGES_PER_REQUEST
            && size_record.as_deref() != Some("10")
        {
            run.db(|j| j.record_import_batch("10"))?;
        }
        run.reconcile().await?;
        // The reactions of conversations the reconcile pass just made clean.
        run.reactions().await?;

        run.report(planned)
    }
}

/// The state of one run, shared by its concurrent requests.
struct Run {
    client: Client,
    /// Downloads the source's attachments.
    downloader: Downloader,
    /// Messages carry their source id (resolve by the marker).
    marker: bool,
    /// One lock per source file URL: a file shared by messages of several conversations is
    /// uploaded once even when they are sent side by side.
    file_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    uploads: AtomicU64,
    journal: Mutex<Journal>,
    path: PathBuf,
    concurrency: usize,
    /// How long after a lost answer an import is taken to have landed or not.
    settle_time: Duration,
    stop: StopHandle,
    progress: Option<ProgressFn>,
    start: Instant,
    /// When planning was over: the pace of requests is measured from here.
    sending_since: Instant,
    total: u64,
    done_before: u64,
    messages_total: u64,
    messages_before: u64,
    messages_done: AtomicU64,
    /// The estimate of the requests left when sending started.
    requests_left: u64,
    done: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
    resolved_chunks: AtomicU64,
    resolved_landed: AtomicU64,
    resolved_resent: AtomicU64,
    reconciled_conversations: AtomicU64,
    reconciled_clean: AtomicU64,
    reconciled_deleted: AtomicU64,
    reconciled_resent: AtomicU64,
}

/// What an answer says about whether the request was applied.
enum Answer {
    /// Applied.
    Landed,
    /// Not applied; what becomes of the items.
    Refused(Fate, String),
    /// The credentials were refused: stop the run (nothing else would land).
    Fatal(talkjs_api::Error),
    /// Maybe applied (a 5xx, a timeout or a reset after the request may have reached the
    /// server): to be resolved before anything else is sent for the conversation.
    Unknown(String),
}

/// Reads an answer. `several`: the request carried more than one item (a 400 splits it).
/// `idempotent`: sending it again is harmless, so an unknown outcome is a plain failure.
fn classify(result: Result<(), talkjs_api::Error>, several: bool, idempotent: bool) -> Answer {
    let e = match result {
        Ok(()) => return Answer::Landed,
        Err(e) => e,
    };
    if is_fatal(&e) {
        return Answer::Fatal(e);
    }
    match refusal(&e, several, idempotent) {
        Some(fate) => Answer::Refused(fate, e.to_string()),
        None => Answer::Unknown(e.to_string()),
    }
}

/// Whether an error ends the run: the credentials were refused (nothing else would land).
fn is_fatal(e: &talkjs_api::Error) -> bool {
    matches!(
        e,
        talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_)
    )
}

/// What becomes of the items of a request that failed with `e` (not fatal), or `None` when
/// it may have been applied and sending it again is not harmless (an unknown outcome).
fn refusal(e: &talkjs_api::Error, several: bool, idempotent: bool) -> Option<Fate> {
    use talkjs_api::Error as E;
    match e {
        E::BadRequest { .. } if several => Some(Fate::Split),
        // Refused before (or without) being applied.
        E::BadRequest { .. }
        | E::NotFound { .. }
        | E::InvalidArgument(_)
        | E::Status { .. }
        | E::Pagination(_) => Some(Fate::Permanent),
        E::RateLimited { .. } | E::LocalRateLimit { .. } => Some(Fate::Transient),
        _ if idempotent => Some(if e.is_transient() {
            Fate::Transient
        } else {
            Fate::Permanent
        }),
        _ => None,
    }
}

impl Run {
    /// The outcome, read back from the journal.
    fn report(&self, planned: bool) -> Result<Report, Error> {
        let db = |e| Error::journal(&self.path, e);
        let journal = self.lock();
        let counts = |kind| journal.counts(kind).map_err(db);
        Ok(Report {
            users: counts(ItemKind::User)?,
            conversations: counts(ItemKind::Conversation)?,
            messages: counts(ItemKind::Message)?,
            system_messages: counts(ItemKind::SystemMessage)?,
            skipped_system_messages: journal.count(SKIPPED_SYSTEM_MESSAGES).map_err(db)?,
            files: journal.files_uploaded().map_err(db)?,
            uploads: self.uploads.load(Ordering::Relaxed),
            participants: counts(ItemKind::Participant)?,
            reactions: counts(ItemKind::Reaction)?,
            reaction_listings: journal.count(REACTION_LISTINGS).map_err(db)?,
            requests: self.requests.load(Ordering::Relaxed),
            resolved: Resolved {
                chunks: self.resolved_chunks.load(Ordering::Relaxed),
                landed: self.resolved_landed.load(Ordering::Relaxed),
                resent: self.resolved_resent.load(Ordering::Relaxed),
            },
            reconciled: Reconciled {
                conversations: self.reconciled_conversations.load(Ordering::Relaxed),
                clean: self.reconciled_clean.load(Ordering::Relaxed),
                deleted: self.reconciled_deleted.load(Ordering::Relaxed),
                resent: self.reconciled_resent.load(Ordering::Relaxed),
            },
            failures: journal.failures().map_err(db)?,
            notes: journal.notes().map_err(db)?,
            planned,
            elapsed: self.start.elapsed(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Journal> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back), so the journal stays usable.
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn db<T>(&self, f: impl FnOnce(&mut Journal) -> rusqlite::Result<T>) -> Result<T, Error> {
        let mut journal = self.lock();
        f(&mut journal).map_err(|e| Error::journal(&self.path, e))
    }

    fn report_progress(&self) {
        let Some(progress) = &self.progress else {
            return;
        };
        let done_now = self.done.load(Ordering::Relaxed);
        let failed_now = self.failed.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        let finished = self.done_before + done_now + failed_now;
        // Requests sent count as done (the ones in flight are about to be); at least one is
        // left while items are.
        let mut requests_left = self.requests_left.saturating_sub(requests);
        if requests_left == 0 && finished < self.total {
            requests_left = 1;
        }
        let answered = done_now + failed_now > 0;
        let eta = (answered && requests > 0).then(|| {
            let pace = self.sending_since.elapsed() / u32::try_from(requests).unwrap_or(u32::MAX);
            pace.saturating_mul(u32::try_from(requests_left).unwrap_or(u32::MAX))
        });
        progress(&Progress {
            done: self.done_before + done_now,
            failed: failed_now,
            total: self.total,
            messages_done: self.messages_before + self.messages_done.load(Ordering::Relaxed),
            messages_total: self.messages_total,
            requests,
            requests_left,
            elapsed: self.start.elapsed(),
            eta,
        });
    }

    /// Records an answer for a chunk of `n` items. Returns the answer's unknown-outcome
    /// text, if any (the caller resolves it), or the fatal error.
    fn settle(
        &self,
        kind: ItemKind,
        chunk: i64,
        n: usize,
        answer: Answer,
    ) -> Result<Option<String>, Error> {
        let n = n as u64;
        let unknown = match answer {
            Answer::Landed => {
                self.db(|j| j.chunk_done(chunk))?;
                self.done.fetch_add(n, Ordering::Relaxed);
                if kind == ItemKind::Message {
                    self.messages_done.fetch_add(n, Ordering::Relaxed);
                }
                None
            }
            Answer::Refused(fate, why) => {
                self.db(|j| j.chunk_failed(chunk, &why, fate))?;
                if fate != Fate::Split {
                    self.failed.fetch_add(n, Ordering::Relaxed);
                }
                None
            }
            Answer::Fatal(e) => {
                self.db(|j| j.chunk_abandoned(chunk, &e.to_string()))?;
                return Err(Error::Target(e));
            }
            Answer::Unknown(why) => Some(why),
        };
        self.report_progress();
        Ok(unknown)
    }

    /// The stages in dependency order; a stage starts only when every item of the ones
    /// before it landed or failed for good (a user that failed for now would make its
    /// conversations fail for good).
    async fn stages(self: &Arc<Self>) -> Result<(), Error> {
        self.survey().await?;
        self.upserts(ItemKind::User).await?;
        if !self.db(|j| j.settled(ItemKind::User))? {
            return Ok(());
        }
        self.upserts(ItemKind::Conversation).await?;
        if !self.db(|j| j.settled(ItemKind::Conversation))? {
            return Ok(());
        }
        self.db(Journal::fail_orphans)?;
        self.messages().await?;
        // Each conversation's reactions once its messages are settled (before access is
        // restricted by the participant settings).
        self.reactions().await?;
        if !self.db(|j| j.settled(ItemKind::Message))?
            || !self.db(|j| j.settled(ItemKind::SystemMessage))?
        {
            return Ok(());
        }
        self.upserts(ItemKind::Participant).await
    }

    /// Records that a chunk of messages landed with the ids its answer gave, in the order of
    /// `seqs`.
    pub(super) fn landed_with_ids(
        &self,
        kind: ItemKind,
        chunk: i64,
        seqs: &[i64],
        ids: Vec<talkjs_api::models::MessageId>,
    ) -> Result<(), Error> {
        let ids: Vec<(i64, String)> = seqs
            .iter()
            .zip(ids)
            .map(|(seq, id)| (*seq, id.as_str().to_owned()))
            .collect();
        self.db(|j| j.chunk_sent(chunk, &ids))?;
        let n = seqs.len() as u64;
        self.done.fetch_add(n, Ordering::Relaxed);
        if kind == ItemKind::Message {
            self.messages_done.fetch_add(n, Ordering::Relaxed);
        }
        self.report_progress();
        Ok(())
    }

    /// Decodes the bodies of the next request's items and gives each message with a file
    /// its attachment token (uploading the file if the journal has no token for it yet).
    /// An item whose body does not decode, or whose file cannot be carried, fails (with its
    /// line) and ends the request before it: the items before it go now, the ones after it
    /// with the next request; after a failure that a later run may not repeat (`halt`), the
    /// conversation waits for that run, to keep its order.
    async fn prepare<T: serde::de::DeserializeOwned + Attach>(
        &self,
        rows: Vec<Row>,
    ) -> Result<Prepared<T>, Error> {
        let mut prepared = Prepared {
            rows: Vec::with_capacity(rows.len()),
            bodies: Vec::with_capacity(rows.len()),
            halt: false,
        };
        for row in rows {
            let mut body: T = match decode_body(&row.body) {
                Ok(body) => body,
                Err(e) => {
                    self.fail_item(&row, &e.to_string(), true)?;
                    break;
                }
            };
            if let Some(url) = &row.attachment {
                match self.attachment_token(url).await {
                    Ok(token) => body.attach(token),
                    Err(Attachment::Fatal(e)) => return Err(e),
                    Err(Attachment::Failed(e)) => {
                        let why = format!("its attachment could not be carried: {}", e.why);
                        self.fail_item(&row, &why, !e.transient)?;
                        prepared.halt = e.transient;
                        break;
                    }
                }
            }
            prepared.rows.push(row);
            prepared.bodies.push(body);
        }
        Ok(prepared)
    }

    fn fail_item(&self, row: &Row, why: &str, permanent: bool) -> Result<(), Error> {
        self.db(|j| j.item_failed(row.seq, why, permanent))?;
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.report_progress();
        Ok(())
    }

    /// The target's attachment token for a source file: from the journal, or by
    /// downloading the file and uploading it (then recorded, so it is never uploaded
    /// again). One file at a time per URL.
    async fn attachment_token(&self, url: &str) -> Result<String, Attachment> {
        let lock = {
            let mut locks = self
                .file_locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(url.to_owned()).or_default().clone()
        };
        let _one_at_a_time = lock.lock().await;
        if let Some(token) = self.db(|j| j.file_token(url)).map_err(Attachment::Fatal)? {
            return Ok(token);
        }
        let file = download(&self.downloader, url)
            .await
            .map_err(Attachment::Failed)?;
        let size = file.data.len();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let token = self
            .client
            .files()
            .upload(&file.name, &file.content_type, file.data, None)
            .await
            .map_err(|e| match e {
                talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_) => {
                    Attachment::Fatal(Error::Target(e))
                }
                e => Attachment::Failed(FileError {
                    transient: e.is_transient(),
                    why: format!("uploading {} to the target: {e}", shown(url)),
                }),
            })?;
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.db(|j| j.record_file(url, &token, size))
            .map_err(Attachment::Fatal)?;
        Ok(token)
    }
}

/// The items of the next request, their bodies ready, and whether the conversation stops
/// after them.
struct Prepared<T> {
    rows: Vec<Row>,
    bodies: Vec<T>,
    halt: bool,
}

/// Why a message's attachment has no token.
enum Attachment {
    /// The run stops (the journal failed, or the target refused the credentials).
    Fatal(Error),
    /// This file cannot be carried now (or ever, if not transient).
    Failed(FileError),
}

/// A message body that takes an attachment token.
trait Attach {
    fn attach(&mut self, token: String);
}

impl Attach for ImportMessage {
    fn attach(&mut self, token: String) {
        self.attachment_token = Some(token);
    }
}

impl Attach for NewSystemMessage {
    fn attach(&mut self, token: String) {
        self.attachment_token = Some(token);
    }
}

/// Decodes a body stored in the journal.
fn decode_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, talkjs_api::Error> {
    serde_json::from_str(body).map_err(|e| {
        talkjs_api::Error::InvalidArgument(format!("the journal's body does not decode: {e}"))
    })
}
