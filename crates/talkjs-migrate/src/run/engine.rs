//! The migration's requests on the bulk engine (`talkjs_runtime::bulk`): the journal's
//! planned items become engine items, and the engine's hooks journal every request before
//! it leaves and its outcome after (landed, refused, unknown), so that a killed run knows
//! what was in flight.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{StreamExt, stream};
use talkjs_api::models::{ConversationUpsert, ImportMessage, NewMessage, NewSystemMessage};
use talkjs_runtime::bulk::{self, Bulk, HookError, Hooks, Next, Outcome, Request};

use super::attach::Prepared;
use super::state::{Answer, Run, decode_body, is_fatal, refusal};
use crate::error::Error;
use crate::journal::{Fate, ItemKind, Row, unix_ms};
use crate::plan::ParticipantSetting;

/// Uncertain or transient passes over the messages before what is left waits for the next
/// run.
const MAX_PASSES: usize = 6;

/// Why a hook stopped the engine.
#[derive(Debug)]
struct Stopped(&'static str);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Stopped {}

/// What a pass over the messages left.
pub(super) struct Pass {
    /// Items of conversations held after an unknown outcome or a transient refusal.
    held: usize,
    /// Items whose outcome is unknown (in flight in the journal until resolved).
    uncertain: usize,
    /// Conversations whose rest waits for the next run (a transient failure).
    waiting: HashSet<String>,
}

/// The engine's hooks for one stage: journal writes around every request.
struct JournalHooks {
    run: Arc<Run>,
    /// The journal's sequence number of each item, by its index in the engine's input.
    seqs: Arc<Mutex<Vec<i64>>>,
    /// The journal's chunk of each request in flight, by its first item's index.
    chunks: Mutex<HashMap<usize, i64>>,
    /// The error that ended the run (the journal), if any.
    fatal: Mutex<Option<Error>>,
    /// The target refused the credentials: the run ends with that error (taken from the
    /// engine's report).
    refused_credentials: std::sync::atomic::AtomicBool,
    /// Conversations a transient refusal held: the rest of them waits for the next run.
    waiting: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl JournalHooks {
    fn new(run: &Arc<Run>, seqs: Arc<Mutex<Vec<i64>>>) -> Arc<Self> {
        Arc::new(Self {
            run: Arc::clone(run),
            seqs,
            chunks: Mutex::new(HashMap::new()),
            fatal: Mutex::new(None),
            refused_credentials: std::sync::atomic::AtomicBool::new(false),
            waiting: Mutex::new(HashSet::new()),
        })
    }

    fn seqs_of(&self, request: &Request<'_>) -> Vec<i64> {
        let seqs = lock(&self.seqs);
        request
            .indexes()
            .filter_map(|i| seqs.get(i).copied())
            .collect()
    }

    /// Records an error that ends the run, and stops the engine.
    fn stop(&self, error: Error) -> HookError {
        lock(&self.fatal).get_or_insert(error);
        Box::new(Stopped("the migration stops"))
    }

    /// The error that ended the run, if one did: the journal's, or the target's refusal of
    /// the credentials (found among the engine's failures).
    fn take_fatal(&self, report: bulk::Report) -> Option<Error> {
        if let Some(e) = lock(&self.fatal).take() {
            return Some(e);
        }
        if !self.refused_credentials.load(Ordering::Relaxed) {
            return None;
        }
        let mut errors: Vec<Arc<talkjs_api::Error>> = report
            .failed
            .into_iter()
            .map(|f| f.error)
            .filter(|e| is_fatal(e))
            .collect();
        let first = errors.pop()?;
        drop(errors);
        Some(Error::Target(Arc::try_unwrap(first).unwrap_or_else(
            |shared| talkjs_api::Error::InvalidArgument(shared.to_string()),
        )))
    }

    fn on_landed(
        &self,
        kind: ItemKind,
        chunk: i64,
        seqs: &[i64],
        ids: Option<&[talkjs_api::models::MessageId]>,
    ) -> Result<(), Error> {
        match ids {
            Some(ids) if matches!(kind, ItemKind::Message | ItemKind::SystemMessage) => {
                self.run.landed_with_ids(kind, chunk, seqs, ids.to_vec())
            }
            _ => self.run.settle(kind, chunk, seqs.len(), Answer::Landed),
        }
    }

    /// A refused request the engine sends again in parts.
    fn on_split(
        &self,
        kind: ItemKind,
        chunk: i64,
        n: usize,
        error: &talkjs_api::Error,
    ) -> Result<(), Error> {
        if kind == ItemKind::Message && n > talkjs_api::MAX_MESSAGES_PER_REQUEST {
            // Refused whole, maybe for its size (a 400 applies nothing): the engine sends the
            // same messages again, 10 to a request.
            self.run.db(|j| {
                j.chunk_abandoned(
                    chunk,
                    "refused with more than 10 messages (nothing applied): sent again 10 to a request",
                )
            })
        } else {
            self.run.settle(
                kind,
                chunk,
                n,
                Answer::Refused(Fate::Split, error.to_string()),
            )
        }
    }

    fn after_outcome(&self, request: &Request<'_>, outcome: &Outcome<'_>) -> Result<Next, Error> {
        let Some(first) = request.indexes().next() else {
            return Ok(Next::Continue);
        };
        let Some(chunk) = lock(&self.chunks).remove(&first) else {
            return Ok(Next::Continue);
        };
        let kind = kind_of(request);
        let seqs = self.seqs_of(request);
        let conversation = conversation_of(request);
        match outcome {
            Outcome::Landed { ids } => self.on_landed(kind, chunk, &seqs, *ids)?,
            Outcome::Refused { error, again: true } => {
                self.on_split(kind, chunk, seqs.len(), error)?;
            }
            Outcome::Refused { error, .. } if is_fatal(error) => {
                self.run
                    .db(|j| j.chunk_abandoned(chunk, &error.to_string()))?;
                self.refused_credentials.store(true, Ordering::Relaxed);
                return Err(Error::Target(talkjs_api::Error::InvalidArgument(
                    error.to_string(),
                )));
            }
            Outcome::Refused { error, .. } => {
                let fate = refusal(error, false, true).unwrap_or(Fate::Permanent);
                let answer = Answer::Refused(fate, error.to_string());
                self.run.settle(kind, chunk, seqs.len(), answer)?;
                if let (Fate::Transient, Some(c)) = (fate, conversation) {
                    // Keep the order: the rest of the conversation waits for the next run.
                    lock(&self.waiting).insert(c);
                    return Ok(Next::HoldConversation);
                }
            }
            Outcome::Unknown { .. } => {
                // The write may still land: the chunk stays in flight, resolved after the
                // settle time, before anything else of the conversation is sent.
                if let Some(c) = &conversation {
                    self.run.db(|j| j.mark_dirty(c, unix_ms()))?;
                }
                return Ok(Next::HoldConversation);
            }
            _ => {}
        }
        Ok(Next::Continue)
    }
}

/// The hooks the engine holds (the stage keeps reading them).
struct Shared(Arc<JournalHooks>);

impl Hooks for Shared {
    fn before(&self, request: &Request<'_>) -> Result<(), HookError> {
        self.0.before(request)
    }

    fn after(&self, request: &Request<'_>, outcome: &Outcome<'_>) -> Result<Next, HookError> {
        self.0.after(request, outcome)
    }
}

impl JournalHooks {
    fn before(&self, request: &Request<'_>) -> Result<(), HookError> {
        if self.run.stop.is_stopped() {
            return Err(Box::new(Stopped("stopped")));
        }
        let kind = kind_of(request);
        let subject = subject_of(request);
        let seqs = self.seqs_of(request);
        let chunk = match self.run.db(|j| j.start_chunk(kind, &subject, &seqs)) {
            Ok(chunk) => chunk,
            Err(e) => return Err(self.stop(e)),
        };
        if let Some(first) = request.indexes().next() {
            lock(&self.chunks).insert(first, chunk);
        }
        self.run.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn after(&self, request: &Request<'_>, outcome: &Outcome<'_>) -> Result<Next, HookError> {
        let next = self
            .after_outcome(request, outcome)
            .map_err(|e| self.stop(e))?;
        self.run.report_progress();
        Ok(next)
    }
}

/// The journal's kind of a request's items.
fn kind_of(request: &Request<'_>) -> ItemKind {
    match request.kind() {
        Some(bulk::Kind::User) => ItemKind::User,
        Some(bulk::Kind::Conversation) => ItemKind::Conversation,
        Some(bulk::Kind::Send) => ItemKind::SystemMessage,
        Some(bulk::Kind::Import) => ItemKind::Message,
        Some(bulk::Kind::Reaction) => ItemKind::Reaction,
        _ => ItemKind::Participant,
    }
}

/// What the journal records a request under: the conversation (messages, participants) or
/// the first item's id.
fn subject_of(request: &Request<'_>) -> String {
    match request.items().next() {
        Some((_, bulk::Item::User { id, .. } | bulk::Item::Conversation { id, .. })) => id.clone(),
        Some((
            _,
            bulk::Item::Participant { conversation, .. }
            | bulk::Item::ParticipantPatch { conversation, .. }
            | bulk::Item::Send { conversation, .. }
            | bulk::Item::Import { conversation, .. }
            | bulk::Item::Reaction { conversation, .. },
        )) => conversation.clone(),
        _ => String::new(),
    }
}

fn conversation_of(request: &Request<'_>) -> Option<String> {
    match request.items().next() {
        Some((
            _,
            bulk::Item::Send { conversation, .. } | bulk::Item::Import { conversation, .. },
        )) => Some(conversation.clone()),
        _ => None,
    }
}

/// The engine item of a planned upsert.
fn upsert_item(kind: ItemKind, row: &Row) -> Result<bulk::Item, talkjs_api::Error> {
    Ok(match kind {
        ItemKind::User => bulk::Item::User {
            id: row.subject.clone(),
            user: decode_body(&row.body)?,
        },
        ItemKind::Conversation => bulk::Item::Conversation {
            id: row.subject.clone(),
            conversation: decode_body::<ConversationUpsert>(&row.body)?,
        },
        _ => match decode_body::<ParticipantSetting>(&row.body)? {
            ParticipantSetting::Overwrite(settings) => bulk::Item::Participant {
                conversation: row.subject.clone(),
                user: row.source_id.clone(),
                settings,
            },
            ParticipantSetting::Patch(patch) => bulk::Item::ParticipantPatch {
                conversation: row.subject.clone(),
                user: row.source_id.clone(),
                patch,
            },
        },
    })
}

impl Run {
    /// A bulk engine on the target with this run's settings and `hooks`.
    fn engine(&self, hooks: &Arc<JournalHooks>) -> Bulk {
        Bulk::new(&self.client)
            .in_flight(self.concurrency)
            .hooks(Shared(Arc::clone(hooks)))
    }

    /// Sends engine items (each with its journal sequence number) through the engine, with
    /// the journal's hooks.
    pub(super) async fn send_items(
        self: &Arc<Self>,
        items: impl IntoIterator<Item = (i64, bulk::Item)>,
    ) -> Result<(), Error> {
        let seqs = Arc::new(Mutex::new(Vec::new()));
        let items: Vec<bulk::Item> = {
            let mut seqs = lock(&seqs);
            items
                .into_iter()
                .map(|(seq, item)| {
                    seqs.push(seq);
                    item
                })
                .collect()
        };
        let hooks = JournalHooks::new(self, seqs);
        let report = self.engine(&hooks).run_iter(items).await;
        match hooks.take_fatal(report) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Sends the planned upserts of a kind through the engine (users 100 to a request; a
    /// refused multi-user request is split down to the bad record).
    pub(super) async fn upserts(self: &Arc<Self>, kind: ItemKind) -> Result<(), Error> {
        if self.stop.is_stopped() {
            return Ok(());
        }
        let rows = self.db(|j| j.planned(kind))?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            match upsert_item(kind, row) {
                Ok(item) => items.push((row.seq, item)),
                Err(e) => self.fail_item(row, &e.to_string(), true)?,
            }
        }
        self.send_items(items).await
    }

    /// Imports the planned messages through the engine: conversations side by side, each
    /// one's in order, one request of a conversation at a time, then its system messages.
    /// A conversation whose import has an unknown outcome is held until the settle time
    /// has passed and a listing resolved it; then another pass sends the rest.
    pub(super) async fn messages(self: &Arc<Self>) -> Result<(), Error> {
        let mut waiting: HashSet<String> = HashSet::new();
        for _ in 0..MAX_PASSES {
            if self.stop.is_stopped() {
                return Ok(());
            }
            // A conversation with an import still in flight (not resolved yet) waits: what
            // comes after it must not go first.
            let in_flight: HashSet<String> = (self.db(|j| j.in_flight_imports())?.into_iter())
                .map(|c| c.conversation)
                .collect();
            let conversations: Vec<String> = self
                .db(|j| j.conversations_with_planned_messages())?
                .into_iter()
                .filter(|c| !waiting.contains(c) && !in_flight.contains(c))
                .collect();
            if conversations.is_empty() {
                return Ok(());
            }
            let pass = self.pass(conversations).await?;
            waiting.extend(pass.waiting);
            // What this pass left in flight (unknown outcomes): each resolved once the settle
            // time since it was sent has passed; its conversation goes on in the next pass.
            self.resolve_in_flight(None).await?;
            if pass.held == 0 && pass.uncertain == 0 {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One pass of the engine over the planned messages of `conversations`.
    pub(super) async fn pass(self: &Arc<Self>, conversations: Vec<String>) -> Result<Pass, Error> {
        let seqs = Arc::new(Mutex::new(Vec::new()));
        let hooks = JournalHooks::new(self, Arc::clone(&seqs));
        let halted = Arc::new(Mutex::new(HashSet::new()));
        let input =
            self.message_items(conversations, seqs, Arc::clone(&halted), Arc::clone(&hooks));
        let report = self.engine(&hooks).run(input).await;
        let (held, uncertain) = (report.held, report.uncertain.len());
        if let Some(e) = hooks.take_fatal(report) {
            return Err(e);
        }
        let mut waiting: HashSet<String> = lock(&hooks.waiting).drain().collect();
        waiting.extend(lock(&halted).drain());
        Ok(Pass {
            held,
            uncertain,
            waiting,
        })
    }

    /// The engine's input for the messages of `conversations`, made as the engine reads
    /// it: per conversation its baseline (before its first import), then its planned imports
    /// and system messages in order, each with its file's attachment token. A message whose
    /// body or file fails for good is recorded failed and left out; one whose file fails
    /// for now ends its conversation's input (the rest waits for the next run, in order).
    fn message_items(
        self: &Arc<Self>,
        conversations: Vec<String>,
        seqs: Arc<Mutex<Vec<i64>>>,
        halted: Arc<Mutex<HashSet<String>>>,
        hooks: Arc<JournalHooks>,
    ) -> impl futures_util::Stream<Item = bulk::Item> + Send + 'static {
        let run = Arc::clone(self);
        let concurrency = self.concurrency.clamp(1, 8);
        stream::iter(conversations)
            .map(move |conversation| {
                let run = Arc::clone(&run);
                let halted = Arc::clone(&halted);
                let hooks = Arc::clone(&hooks);
                async move {
                    match run.conversation_items(&conversation).await {
                        Ok((items, halt)) => {
                            if halt {
                                lock(&halted).insert(conversation);
                            }
                            items
                        }
                        Err(e) => {
                            // The journal failed, or the target refused the credentials: the
                            // run ends with it (what is read so far still goes).
                            lock(&hooks.fatal).get_or_insert(e);
                            lock(&halted).insert(conversation);
                            Vec::new()
                        }
                    }
                }
            })
            .buffered(concurrency)
            .flat_map(move |items| {
                let seqs = Arc::clone(&seqs);
                stream::iter(items.into_iter().map(move |(seq, item)| {
                    lock(&seqs).push(seq);
                    item
                }))
            })
    }

    /// One conversation's planned messages as engine items, and whether the conversation
    /// must wait for the next run after them. Its system messages follow its imports only
    /// when none of its imports is outstanding from an earlier pass or run.
    async fn conversation_items(
        &self,
        conversation: &str,
    ) -> Result<(Vec<(i64, bulk::Item)>, bool), Error> {
        if !self.take_baseline(conversation).await? {
            return Ok((Vec::new(), true));
        }
        let imports = self.db(|j| j.planned_in(ItemKind::Message, conversation))?;
        let Prepared { rows, bodies, halt } = self.prepare::<ImportMessage>(imports).await?;
        let mut items: Vec<(i64, bulk::Item)> = (rows.iter().zip(bodies))
            .map(|(row, message)| {
                let conversation = conversation.to_owned();
                (
                    row.seq,
                    bulk::Item::Import {
                        conversation,
                        message,
                    },
                )
            })
            .collect();
        if halt {
            return Ok((items, true));
        }
        if items.is_empty()
            && !self.db(|j| j.conversation_settled(ItemKind::Message, conversation))?
        {
            // An import of an earlier pass or run is outstanding: its system messages wait.
            return Ok((items, false));
        }
        let system = self.db(|j| j.planned_in(ItemKind::SystemMessage, conversation))?;
        let Prepared { rows, bodies, halt } = self.prepare::<NewSystemMessage>(system).await?;
        items.extend(rows.iter().zip(bodies).map(|(row, message)| {
            let conversation = conversation.to_owned();
            let message = NewMessage::from(message);
            (
                row.seq,
                bulk::Item::Send {
                    conversation,
                    message,
                },
            )
        }));
        Ok((items, halt))
    }
}
