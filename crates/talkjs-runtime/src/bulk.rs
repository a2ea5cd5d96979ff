//! Bulk work at the rate-limit ceiling: [`Bulk`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::task::Poll;
use std::time::Instant;

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};
use talkjs_api::{Client, Error, ImportSize, MAX_MESSAGES_PER_REQUEST, MAX_USERS_PER_BATCH};

mod chunk;
mod hooks;
mod item;
mod open;

pub use hooks::{Hooks, Next, NoHooks, Outcome, Request};
pub use item::{Failure, HookError, Item, Kind, Progress, Report};

use chunk::{Answer, Chunk, PartGroup, send};
use open::Open;

/// The default [open budget](Bulk::open_budget): 32 MiB of items (by [`Item::weight`]) in
/// requests still being filled. Room for about 100,000 short messages: a chronological log
/// of that many conversations still packs into full requests.
pub const DEFAULT_OPEN_BUDGET: usize = 32 << 20;

type Running = Pin<Box<dyn Future<Output = (Chunk, Answer)> + Send>>;

type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Runs a whole workload (users, conversations, participants, messages) in the fewest
/// requests TalkJS allows, as fast as the client's rate limiter lets it.
///
/// - **Packing.** Users go 100 to a `PUT /users`; consecutive messages of one
///   conversation go 10 to a send and up to 100 to an import (the size TalkJS's official
///   transfer example sends; the Import reference page says 10: an import request of
///   more than 10 refused with a `400`, which applies nothing, is sent again as requests
///   of 10, and when those all land the client imports 10 at a time from then on,
///   [`Client::import_batch_size`], shared with every clone and with
///   [`Messages::import`](talkjs_api::Messages::import)); a conversation's participants
///   travel in its `PUT`. Participant changes take one request each. `POST /batch` is not used:
///   it allows 1 request a second, and TalkJS's docs do not say whether that is on top of
///   the 9 a second or part of them, so it could only add 10 operations a second at best.
/// - **Order.** Users first, then conversations, then participants, then messages, then
///   reactions (a
///   stage starts when the one before it is done, so a conversation never names a user
///   that does not exist yet); the messages of one conversation keep their order;
///   everything else runs concurrently. Items of an earlier stage after later ones start
///   a new round of stages, in input order.
/// - **Pace.** Up to [`in_flight`](Bulk::in_flight) requests (64 by default) are in
///   flight at once, enough to keep the rate limiter busy at any round-trip time up to a
///   few seconds; the limiter (shared with every clone of the client, and with other
///   replicas through a shared store) decides when each one goes, so the run never
///   exceeds TalkJS's limits.
/// - **Failures cost only themselves.** A `400` for a request carrying several items
///   (TalkJS refuses the whole request for one bad record) splits it in two and sends
///   both halves again, down to the bad item, which is reported; other errors (after the
///   transport's retries) are reported for every item of the request. The run goes on.
/// - **Refused apart from unknown.** An item whose request was refused (a 4xx) or never
///   sent did not land: it is in [`Report::failed`]. So is an idempotent item
///   (users, conversations, participants, sends with an idempotency key) whatever the
///   error: the transport has already retried it, and sending it again is safe. An
///   import, or a send without an idempotency key, whose request failed in a way that
///   may have been applied (a 5xx, a timeout, a reset: [`Error::may_have_landed`]) is in
///   [`Report::uncertain`]: it may have landed, and sending it again may duplicate
///   it. The run never sends such an item twice.
/// - **Interleaved input packs as well as grouped input.** One chunk is open per
///   conversation, so a chronological log (the natural export of another chat system,
///   where conversations take turns) fills the same requests as the same messages grouped
///   by conversation. Open chunks close when full, when their stage ends, or, oldest first,
///   when together they hold more than the [open budget](Bulk::open_budget)
///   ([`DEFAULT_OPEN_BUDGET`], 32 MiB by [`Item::weight`]).
/// - **Memory** stays bounded: the open chunks by the budget, the rest by reading the
///   input (a stream) only as far as the work in flight allows (twice as many closed
///   requests waiting as may be in flight). When the input has nothing ready and no
///   request is running, the oldest open chunk is sent rather than held for more, so a
///   slowly produced input may start with a few partly filled requests.
///
/// ```no_run
/// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
/// use talkjs_runtime::ClientExt;
/// use talkjs_runtime::bulk::Item;
/// use talkjs_models::{ConversationUpsert, NewMessage, UserUpsert};
///
/// let users = (0..1000).map(|i| Item::User {
///     id: format!("u{i}"),
///     user: UserUpsert::new().name(format!("User {i}")),
/// });
/// let chats = (0..500).map(|i| Item::Conversation {
///     id: format!("c{i}"),
///     conversation: ConversationUpsert::new().participants([format!("u{}", 2 * i), format!("u{}", 2 * i + 1)]),
/// });
/// let hellos = (0..500).map(|i| Item::Send {
///     conversation: format!("c{i}"),
///     message: NewMessage::user(format!("u{}", 2 * i), "Hello!").idempotency_key(format!("hello-{i}")),
/// });
/// let report = client
///     .bulk()
///     .total(2000)
///     .on_progress(|p| eprintln!("{} done, {} failed, eta {:?}", p.landed, p.failed, p.eta))
///     .run_iter(users.chain(chats).chain(hellos))
///     .await;
/// for failure in &report.failed {
///     eprintln!("item {} ({}) failed: {}", failure.index, failure.subject, failure.error);
/// }
/// for unknown in &report.uncertain {
///     // Only imports and sends without an idempotency key land here: check before
///     // sending them again.
///     eprintln!("item {} ({}) may have landed: {}", unknown.index, unknown.subject, unknown.error);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a bulk runner does nothing until run"]
pub struct Bulk {
    client: Client,
    in_flight: usize,
    open_budget: usize,
    hooks: Arc<dyn Hooks>,
    total: Option<usize>,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Bulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bulk")
            .field("in_flight", &self.in_flight)
            .field("open_budget", &self.open_budget)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Bulk {
    /// A runner for `client`'s app (the same as [`ClientExt::bulk`](crate::ClientExt::bulk)).
    pub fn new(client: &Client) -> Self {
        Self {
            client: client.clone(),
            in_flight: 64,
            open_budget: DEFAULT_OPEN_BUDGET,
            hooks: Arc::new(NoHooks),
            total: None,
            progress: None,
        }
    }
}

/// The scheduler's state: chunks waiting, the ones running, and the counts.
struct Run {
    client: Client,
    in_flight: usize,
    /// The import request size TalkJS accepts, as far as known (shared with the client).
    import: Arc<ImportSize>,
    /// Chunks with no order to keep, to start in this order.
    ready: VecDeque<Chunk>,
    /// Message chunks per conversation, to start one after the other.
    queued: HashMap<String, VecDeque<Chunk>>,
    /// Conversations with a message chunk running.
    busy: HashSet<String>,
    /// Conversations with queued chunks and none running, to start in this order.
    runnable: VecDeque<String>,
    /// The chunks being filled from the input.
    open: Open,
    hooks: Arc<dyn Hooks>,
    /// Conversations a hook held: nothing more of them is sent.
    held: HashSet<String>,
    /// Whether an import of more than 10 is out while the size is unknown.
    probing: bool,
    /// Conversations waiting for that probe's answer.
    parked: Vec<String>,
    /// Chunks closed and not yet started (ready and queued).
    waiting: usize,
    running: FuturesUnordered<Running>,
    report: Report,
}

impl Run {
    /// Moves every open chunk to where it can start, oldest first.
    fn close_open(&mut self) {
        for chunk in self.open.close_all() {
            self.enqueue(chunk, false);
        }
    }

    /// Puts a chunk where it can start: at the back, or at the front (a split half, whose
    /// order before the rest must hold).
    fn enqueue(&mut self, chunk: Chunk, front: bool) {
        self.waiting += 1;
        let Some(conversation) = chunk.first().and_then(Item::ordered_in).map(str::to_owned) else {
            if front {
                self.ready.push_front(chunk);
            } else {
                self.ready.push_back(chunk);
            }
            return;
        };
        let queue = self.queued.entry(conversation.clone()).or_default();
        let was_empty = queue.is_empty();
        if front {
            queue.push_front(chunk);
        } else {
            queue.push_back(chunk);
        }
        if was_empty && !self.busy.contains(&conversation) {
            self.runnable.push_back(conversation);
        }
    }

    /// Starts chunks while there is room in flight.
    fn launch(&mut self) {
        while self.running.len() < self.in_flight && self.report.stopped.is_none() {
            let chunk = if let Some(chunk) = self.ready.pop_front() {
                chunk
            } else if let Some(conversation) = self.runnable.pop_front() {
                let queue = self.queued.entry(conversation.clone()).or_default();
                let Some(chunk) = queue.pop_front() else {
                    self.queued.remove(&conversation);
                    continue;
                };
                if queue.is_empty() {
                    self.queued.remove(&conversation);
                }
                self.busy.insert(conversation);
                chunk
            } else {
                return;
            };
            let mut chunk = self.fit_import(chunk);
            if chunk.is_import()
                && chunk.items.len() > MAX_MESSAGES_PER_REQUEST
                && !self.import.is_known()
            {
                if self.probing {
                    // Another conversation is finding out whether TalkJS takes more than
                    // 10: this one waits for its answer rather than risk a refusal too.
                    self.park(chunk);
                    continue;
                }
                self.probing = true;
                chunk.probe = true;
            }
            self.waiting -= 1;
            if let Err(stop) = self.hooks.before(&Request::new(&chunk.items)) {
                self.report.stopped = Some(stop);
                self.report.not_sent += chunk.items.len();
                return;
            }
            self.report.requests += 1;
            self.running
                .push(Box::pin(send(self.client.clone(), chunk)));
        }
    }

    /// Puts an import chunk back first in its conversation's line, the conversation out of
    /// the running until the probe's answer.
    fn park(&mut self, chunk: Chunk) {
        let Some(conversation) = chunk.first().and_then(Item::ordered_in).map(str::to_owned) else {
            self.ready.push_front(chunk);
            return;
        };
        self.busy.remove(&conversation);
        self.queued
            .entry(conversation.clone())
            .or_default()
            .push_front(chunk);
        self.parked.push(conversation);
    }

    /// An import chunk opened before TalkJS refused its size: its first
    /// [`ImportSize::batch_size`] items, the rest put back first in line.
    fn fit_import(&mut self, mut chunk: Chunk) -> Chunk {
        let size = self.import.batch_size();
        if chunk.is_import() && chunk.items.len() > size {
            let rest = chunk.items.split_off(size);
            self.enqueue(Chunk::of(rest, size), true);
            chunk.max = size;
        }
        chunk
    }

    /// Whether nothing is waiting or running.
    fn idle(&self) -> bool {
        self.open.is_empty()
            && self.ready.is_empty()
            && self.runnable.is_empty()
            && self.running.is_empty()
    }

    /// Takes in the outcome of a request.
    fn finish(&mut self, chunk: Chunk, result: Answer) {
        if chunk.probe {
            self.probing = false;
            let parked = std::mem::take(&mut self.parked);
            self.runnable.extend(parked);
        }
        if let Some(conversation) = chunk.first().and_then(Item::ordered_in) {
            self.busy.remove(conversation);
            if self.queued.get(conversation).is_some_and(|q| !q.is_empty()) {
                self.runnable.push_back(conversation.to_owned());
            }
        }
        let large_import = chunk.is_import() && chunk.items.len() > MAX_MESSAGES_PER_REQUEST;
        if let Some(group) = &chunk.group {
            group.part_done(result.is_ok(), &self.import);
        }
        match result {
            Ok(ids) => {
                if large_import {
                    self.import.large_accepted();
                }
                self.after(
                    &chunk,
                    Outcome::Landed {
                        ids: ids.as_deref(),
                    },
                );
                self.report.landed += chunk.items.len();
            }
            Err(error @ Error::BadRequest { .. }) if large_import => {
                // Refused whole (nothing applied), maybe for its size: the same messages
                // again, 10 to a request, in order; whether they all land tells.
                self.after(
                    &chunk,
                    Outcome::Refused {
                        error: &error,
                        again: true,
                    },
                );
                self.import.large_refused();
                let mut items = chunk.items;
                let mut parts = Vec::new();
                while !items.is_empty() {
                    let rest = items.split_off(items.len().min(MAX_MESSAGES_PER_REQUEST));
                    parts.push(Chunk::of(items, MAX_MESSAGES_PER_REQUEST));
                    items = rest;
                }
                let group = Arc::new(PartGroup {
                    left: AtomicUsize::new(parts.len()),
                    failed: AtomicBool::new(false),
                });
                for mut part in parts.into_iter().rev() {
                    part.group = Some(Arc::clone(&group));
                    self.enqueue(part, true);
                }
            }
            Err(error @ Error::BadRequest { .. }) if chunk.items.len() > 1 => {
                // One bad record refuses the whole request: send each half again.
                self.after(
                    &chunk,
                    Outcome::Refused {
                        error: &error,
                        again: true,
                    },
                );
                let (front, back) = chunk.split();
                self.enqueue(back, true);
                self.enqueue(front, true);
            }
            Err(error) => {
                let landed_maybe = error.may_have_landed();
                if landed_maybe && chunk.items.iter().any(|(_, item)| !item.is_idempotent()) {
                    self.after(&chunk, Outcome::Unknown { error: &error });
                } else {
                    self.after(
                        &chunk,
                        Outcome::Refused {
                            error: &error,
                            again: false,
                        },
                    );
                }
                let error = Arc::new(error);
                for (index, item) in chunk.items {
                    let failure = Failure {
                        index,
                        kind: item.kind(),
                        subject: item.subject(),
                        error: Arc::clone(&error),
                    };
                    if landed_maybe && !item.is_idempotent() {
                        self.report.uncertain.push(failure);
                    } else {
                        self.report.failed.push(failure);
                    }
                }
            }
        }
    }

    /// Tells the hooks a request's outcome; an error stops the run.
    fn after(&mut self, chunk: &Chunk, outcome: Outcome<'_>) {
        match self.hooks.after(&Request::new(&chunk.items), &outcome) {
            Ok(Next::Continue) => {}
            Ok(Next::HoldConversation) => {
                if let Some(conversation) = chunk.first().and_then(Item::ordered_in) {
                    self.hold(conversation.to_owned());
                }
            }
            Err(stop) => {
                self.report.stopped.get_or_insert(stop);
            }
        }
    }

    /// Sends nothing more of `conversation` in this run: drops what is queued and open.
    fn hold(&mut self, conversation: String) {
        if let Some(queue) = self.queued.remove(&conversation) {
            self.waiting -= queue.len();
            self.report.held += queue.iter().map(|c| c.items.len()).sum::<usize>();
        }
        self.runnable.retain(|c| *c != conversation);
        if let Some(open) = self.open.close_conversation(&conversation) {
            self.report.held += open.items.len();
        }
        self.held.insert(conversation);
    }

    /// The items read and not sent: what is waiting, queued or open.
    fn unsent(&mut self) -> usize {
        let open: usize = self.open.close_all().iter().map(|c| c.items.len()).sum();
        let ready: usize = self.ready.iter().map(|c| c.items.len()).sum();
        let queued: usize = (self.queued.values().flatten())
            .map(|c| c.items.len())
            .sum();
        open + ready + queued
    }
}

impl Bulk {
    /// At most this many requests in flight at once (default 64, at least 1). Requests
    /// waiting for the rate limiter count: a higher number does not send faster than the
    /// limit, it only keeps the limiter busy at longer round-trip times (about the rate
    /// times the round-trip time is needed: 9/s × 0.3 s ≈ 3 for TalkJS).
    pub fn in_flight(mut self, requests: usize) -> Self {
        self.in_flight = requests.max(1);
        self
    }

    /// The most bytes (by [`Item::weight`]) that requests still being filled may hold
    /// (default [`DEFAULT_OPEN_BUDGET`]); past it the oldest is sent as it is. A higher
    /// budget keeps more conversations' requests open, so a log that interleaves more
    /// conversations still packs into full requests; a lower one bounds memory tighter.
    pub fn open_budget(mut self, bytes: usize) -> Self {
        self.open_budget = bytes;
        self
    }

    /// Calls `hooks` before every request leaves and after its outcome is known: see
    /// [`Hooks`].
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// The number of items in the workload, for the progress's ETA.
    pub fn total(mut self, items: usize) -> Self {
        self.total = Some(items);
        self
    }

    /// Called after every request with the counts so far (e.g. to draw a progress bar).
    pub fn on_progress(mut self, progress: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Runs the items of an iterator; see [`Bulk`].
    pub async fn run_iter(self, items: impl IntoIterator<Item = Item>) -> Report {
        self.run(futures_util::stream::iter(items)).await
    }

    /// Runs the items of a stream, reading it only as fast as the work goes; see
    /// [`Bulk`].
    pub async fn run<S>(self, items: S) -> Report
    where
        S: Stream<Item = Item>,
    {
        let start = Instant::now();
        // Enough chunks read ahead to fill every request in flight twice over.
        let read_ahead = self.in_flight.saturating_mul(2);
        let mut run = Run {
            import: self.client.import_size(),
            client: self.client,
            in_flight: self.in_flight,
            ready: VecDeque::new(),
            queued: HashMap::new(),
            busy: HashSet::new(),
            runnable: VecDeque::new(),
            open: Open::new(self.open_budget),
            hooks: Arc::clone(&self.hooks),
            held: HashSet::new(),
            probing: false,
            parked: Vec::new(),
            waiting: 0,
            running: FuturesUnordered::new(),
            report: Report::default(),
        };
        let mut items = std::pin::pin!(items.enumerate());
        let mut stage: Option<u8> = None;
        // The first item of the next stage, waiting for the current stage to finish.
        let mut held: Option<(usize, Item)> = None;
        let mut input_done = false;
        loop {
            let stopped = run.report.stopped.is_some();
            if held.is_some() && run.idle() && !stopped {
                if let Some((index, item)) = held.take() {
                    stage = Some(item.stage());
                    run.take(index, item);
                }
            }
            if input_done || held.is_some() {
                // No more items will join the open chunk.
                run.close_open();
            }
            run.launch();
            let want_input = !input_done
                && !stopped
                && held.is_none()
                && (run.waiting < read_ahead || run.running.is_empty());
            if !want_input && run.running.is_empty() {
                if held.is_some() && !stopped {
                    // The stage is done: the next pass starts the held item's.
                    continue;
                }
                break;
            }
            let event = std::future::poll_fn(|cx| {
                if want_input {
                    if let Poll::Ready(next) = items.as_mut().poll_next(cx) {
                        return Poll::Ready(Event::Input(next));
                    }
                    if run.running.is_empty() && !run.open.is_empty() {
                        // The input is slow and nothing runs: send the oldest open chunk now
                        // rather than wait for it to fill.
                        return Poll::Ready(Event::Stalled);
                    }
                }
                match run.running.poll_next_unpin(cx) {
                    Poll::Ready(Some((chunk, result))) => Poll::Ready(Event::Done(chunk, result)),
                    _ => Poll::Pending,
                }
            })
            .await;
            match event {
                Event::Input(Some((index, item))) => {
                    if stage.is_none_or(|s| s == item.stage()) {
                        stage = Some(item.stage());
                        run.take(index, item);
                    } else {
                        held = Some((index, item));
                    }
                }
                Event::Input(None) => input_done = true,
                Event::Stalled => {
                    if let Some(oldest) = run.open.close_oldest() {
                        run.enqueue(oldest, false);
                    }
                }
                Event::Done(chunk, result) => {
                    run.finish(chunk, result);
                    if let Some(progress) = &self.progress {
                        progress(&run.progress(self.total, start));
                    }
                }
            }
        }
        if run.report.stopped.is_some() {
            run.report.not_sent += run.unsent() + usize::from(held.is_some());
        }
        run.report.elapsed = start.elapsed();
        run.report
    }
}

/// What woke the run: an item of the input (or its end), or a finished request.
// Moved once per event; boxing the item would allocate once per item instead.
#[allow(clippy::large_enum_variant)]
enum Event {
    Input(Option<(usize, Item)>),
    /// The input has nothing yet and no request is running.
    Stalled,
    Done(Chunk, Answer),
}

impl Run {
    /// Adds an item of the current stage to the open chunks, and puts the chunks that closes
    /// where they can start.
    fn take(&mut self, index: usize, item: Item) {
        if item.ordered_in().is_some_and(|c| self.held.contains(c)) {
            self.report.held += 1;
            return;
        }
        let max = self.chunk_max(&item);
        let mut closed = Vec::new();
        self.open.add(index, item, max, &mut closed);
        for chunk in closed {
            self.enqueue(chunk, false);
        }
    }

    fn progress(&self, total: Option<usize>, start: Instant) -> Progress {
        let elapsed = start.elapsed();
        let done = self.report.landed + self.report.failed.len() + self.report.uncertain.len();
        let eta = total.filter(|_| done > 0).map(|total| {
            let left = u32::try_from(total.saturating_sub(done)).unwrap_or(u32::MAX);
            let done = u32::try_from(done).unwrap_or(u32::MAX);
            elapsed / done * left
        });
        Progress {
            landed: self.report.landed,
            failed: self.report.failed.len(),
            uncertain: self.report.uncertain.len(),
            total,
            // Started minus still running: the ones answered.
            requests: self.report.requests.saturating_sub(self.running.len()),
            elapsed,
            eta,
        }
    }
}

impl Run {
    /// The most items a chunk opened now for `item` carries.
    fn chunk_max(&self, item: &Item) -> usize {
        match item.kind() {
            Kind::User => MAX_USERS_PER_BATCH,
            Kind::Send => MAX_MESSAGES_PER_REQUEST,
            Kind::Import => self.import.batch_size(),
            Kind::Conversation
            | Kind::Participant
            | Kind::ParticipantPatch
            | Kind::RemoveParticipant
            | Kind::Reaction
            | Kind::EditMessage => 1,
        }
    }
}
