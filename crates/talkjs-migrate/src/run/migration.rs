//! [`Migration`]: the builder of a migration, and its run (plan or resume, resolve, send).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use talkjs_api::{Client, MAX_MESSAGES_PER_REQUEST};

use super::report::{Progress, ProgressFn, Report, StopHandle};
use super::state::Run;
use crate::error::Error;
use crate::files::downloader;
use crate::journal::{
    ItemKind, Journal, MAP_REPLY_LINKS, MARK_SOURCE_IDS, REACTION_LISTINGS,
    SKIPPED_SYSTEM_MESSAGES, SYSTEM_MESSAGES, app_address,
};
use crate::plan::{
    Plan, PlanOptions, app_fingerprint, fingerprint_file, plan_app, plan_file, shard_suffix,
};
use crate::shard::Shard;

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

    /// Maps reply links to the target's ids (default off). TalkJS's import takes no
    /// `referencedMessageId`, so a reply always migrates with the **source** id of the
    /// message it replied to in `custom` under [`REPLY_TO_KEY`](crate::REPLY_TO_KEY). With
    /// this on, once a reply and the message it replied to have both landed, the reply is
    /// edited (`PUT …/messages/{id}`, [`ItemKind::ReplyLink`](crate::ItemKind::ReplyLink))
    /// to add the **target** id of that message under
    /// [`REPLY_TO_ID_KEY`](crate::REPLY_TO_ID_KEY), so your UI can follow the link in the
    /// new app without the journal.
    ///
    /// The target ids come from the import's answers where TalkJS sends them; otherwise the
    /// target conversation is listed once and the messages matched, as for reactions.
    ///
    /// **Cost**: one request per reply, on top of one import per 100 (or 10) messages: a
    /// history where 5 % of the messages are replies takes about 6 × the requests of one
    /// without. [`Report::reply_links`](crate::Report::reply_links) counts them. Decided
    /// when the journal is planned: a resumed run with another setting is refused
    /// ([`Error::SettingChanged`]).
    pub fn map_reply_links(mut self, map: bool) -> Self {
        self.options.map_reply_links = map;
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
    fn settings(&self) -> [(&'static str, bool); 3] {
        [
            (MARK_SOURCE_IDS, self.options.mark_source_ids),
            (SYSTEM_MESSAGES, self.options.system_messages),
            (MAP_REPLY_LINKS, self.options.map_reply_links),
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
                    setting: match key {
                        MARK_SOURCE_IDS => "--mark-source-ids",
                        MAP_REPLY_LINKS => "--map-reply-links",
                        _ => "--system-messages",
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
        let (journal, planned) = self.open_journal().await?;
        // What the journal learnt of the import request size (it is bound to this target).
        let size_record = journal
            .import_batch()
            .map_err(|e| Error::journal(&self.journal, e))?;
        let size = self.target.import_size();
        match size_record.as_deref() {
            Some("10") => size.parts_landed(),
            Some("100") => size.large_accepted(),
            _ => {}
        }
        let run = Arc::new(self.state(journal, start)?);
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
        // The reactions and reply links of conversations the reconcile pass just made clean.
        run.after_messages().await?;

        run.report(planned)
    }

    /// Opens the journal: plans into it on the first run (`true`), or checks that it was
    /// planned for this input, shard, settings and target; then readies it for sending.
    async fn open_journal(&self) -> Result<(Journal, bool), Error> {
        let path = &self.journal;
        let db = |e| Error::journal(path, e);
        let mut journal = Journal::open(path).map_err(db)?;
        let planned = match journal.planned_fingerprint().map_err(db)? {
            None => {
                let plan = self.make_plan().await?;
                journal
                    .write_plan(
                        &plan.fingerprint,
                        &self.plan_meta(&plan),
                        &plan.items,
                        &plan.notes,
                    )
                    .map_err(db)?;
                true
            }
            Some(expected) => {
                self.check_input(expected)?;
                self.check_settings(&journal)?;
                self.check_target(&mut journal)?;
                false
            }
        };
        journal.prepare_resume().map_err(db)?;
        Ok((journal, planned))
    }

    /// Checks that the input (and shard) is the one the journal planned (`expected`): for
    /// a file, a cheap hash.
    fn check_input(&self, expected: String) -> Result<(), Error> {
        let found = match &self.source {
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
                path: self.journal.clone(),
                expected,
                found,
            });
        }
        Ok(())
    }

    /// The state of a run over `journal`, with the totals it starts from.
    fn state(&self, journal: Journal, start: Instant) -> Result<Run, Error> {
        let db = |e| Error::journal(&self.journal, e);
        let downloader = downloader(self.allow_private_file_hosts)
            .map_err(|e| Error::Target(talkjs_api::Error::Config(e)))?;
        let (mut total, mut finished) = (0, 0);
        for kind in ItemKind::ALL {
            let c = journal.counts(kind).map_err(db)?;
            total += c.total;
            finished += c.done + c.failed;
        }
        let messages = journal.counts(ItemKind::Message).map_err(db)?;
        let requests_left = journal
            .requests_left(self.target.import_batch_size())
            .map_err(db)?;
        Ok(Run {
            client: self.target.clone(),
            downloader,
            marker: self.options.mark_source_ids,
            file_locks: Mutex::new(HashMap::new()),
            uploads: AtomicU64::new(0),
            journal: Mutex::new(journal),
            path: self.journal.clone(),
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
            messages_landed: AtomicU64::new(0),
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
        })
    }
}
