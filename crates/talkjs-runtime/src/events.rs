//! The gap-free stream of new messages: [`Events`].
//!
//! Webhooks are fast but lossy (TalkJS waits 5 s for an answer and retries once; a deploy or
//! a slow handler loses events for good, and a retry that does arrive is a duplicate).
//! Listing is complete but slow. [`Events`] combines them: it yields the messages the
//! webhooks bring as they come, and on a schedule (and at start-up) lists what is newer than
//! its checkpoint, so that a message the webhooks missed is still yielded, once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_util::future::{Either, select};
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use talkjs_models::{
    Conversation, ConversationId, Message, MessageId, OrderBy, OrderDirection, Timestamp,
    WebhookData, WebhookEvent,
};
use talkjs_transport::later;
use tokio::time::Instant;

use talkjs_api::{Client, Error, Result};

/// The file [`Events`] keeps its checkpoint in unless told otherwise, in the working
/// directory.
pub const DEFAULT_CHECKPOINT_FILE: &str = "talkjs-events.checkpoint.json";

/// The slack for listing lag and clock skew by default (see [`Events::settle`]): 30 s.
///
/// TalkJS does not say how soon a new message shows in its listings, and this machine's
/// clock may be off TalkJS's (milliseconds with NTP, seconds or more without). A slack that
/// is too small loses messages without a trace; one that is too large costs little: each
/// catch-up reads again the conversations active within the slack (one request per 30 of
/// them, plus one per conversation), and the checkpoint keeps the ids of the messages
/// yielded within it. 30 s leaves room for a listing that lags by seconds and a clock off
/// by as much again, at that small price.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// How often [`Events`] catches up by listing, by default.
pub const DEFAULT_CATCH_UP_EVERY: Duration = Duration::from_secs(60);

/// The shortest interval between catch-ups ([`Events::catch_up_every`]).
pub const MIN_CATCH_UP_EVERY: Duration = Duration::from_millis(100);

/// How often, at most, [`Events`] writes its checkpoint while messages keep coming, by
/// default (it also writes whenever it waits for the next message, and when dropped).
pub const DEFAULT_COMMIT_EVERY: Duration = Duration::from_secs(1);

/// Conversations listed per request while catching up (TalkJS's maximum).
const CONVERSATIONS_PER_PAGE: u32 = 30;

/// Messages listed per request while catching up (TalkJS's maximum).
const MESSAGES_PER_PAGE: u32 = 100;

/// One new message, from a webhook or found by catching up.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageEvent {
    /// The message.
    pub message: Message,
    /// The conversation it was sent in, as the webhook or the listing had it.
    pub conversation: Option<Conversation>,
    /// `true` if the message was found by catching up, not brought by a webhook (the
    /// webhook was lost, or has not arrived yet: if it arrives later it is not yielded
    /// again).
    pub recovered: bool,
}

/// What [`Events`] remembers between runs: every message created at or before the
/// `watermark` has been yielded (when listing lag plus clock skew stay within the
/// [slack](Events::settle): see [`Events`], "Faults"), and so have the messages listed in
/// `seen` (all newer than it). Nothing else has.
///
/// The watermark trails the catch-ups by the slack: a catch-up that starts at time T (on
/// this machine's clock) moves it to T minus the slack, so `seen` holds the messages
/// yielded within about the slack plus [`catch_up_every`](Events::catch_up_every).
///
/// The JSON form (what [`FileCheckpoint`] stores) is
/// `{"version":1,"watermark":<ms>,"seen":[{"id":"msg_…","createdAt":<ms>},…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Checkpoint {
    /// The format's version (1).
    pub version: u32,
    /// Every message created at or before this time has been yielded.
    pub watermark: Timestamp,
    /// The messages newer than the watermark that have been yielded.
    pub seen: Vec<SeenMessage>,
}

/// A message [`Events`] yielded, in a [`Checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SeenMessage {
    /// The message's id.
    pub id: MessageId,
    /// When it was created.
    pub created_at: Timestamp,
}

impl Checkpoint {
    /// The format's version this crate writes and reads.
    pub const VERSION: u32 = 1;

    /// A checkpoint at `watermark` with no message seen after it: a first run that yields
    /// the messages created after `watermark`.
    pub fn at(watermark: Timestamp) -> Self {
        Self {
            version: Self::VERSION,
            watermark,
            seen: Vec::new(),
        }
    }
}

/// Where [`Events`] keeps its [`Checkpoint`] between runs.
///
/// Both calls are made from the stream's task and block it, so they should be quick (a
/// local file, a local database). `save` is called at most every
/// [`commit_every`](Events::commit_every) while messages keep coming, whenever the stream
/// waits for the next one, and when the stream is dropped.
pub trait CheckpointStore: Send + 'static {
    /// The checkpoint last saved, or `None` if there is none yet (a first run).
    fn load(&mut self) -> io::Result<Option<Checkpoint>>;
    /// Replaces the saved checkpoint.
    fn save(&mut self, checkpoint: &Checkpoint) -> io::Result<()>;
}

/// A [`CheckpointStore`] in a JSON file, replaced atomically and durably, so that a process
/// killed while saving, or a machine that loses power, leaves the old checkpoint or the new
/// one, never an empty file or half of one.
///
/// Saving writes `PATH.tmp`, flushes it to the disk (`fsync`), renames it over `PATH`, and
/// on Unix flushes the directory too, so that the rename itself survives a power loss. (On
/// other systems the file's content is flushed but the rename is left to the system; a
/// file system that cannot flush a directory is not an error.) A `PATH.tmp` left by a save
/// that was interrupted is never read: it is removed when the checkpoint is loaded, and
/// overwritten by the next save.
///
/// A missing file is a first run; a file that does not decode is an error (starting over
/// would skip or repeat messages). Give each stream a file of its own.
#[derive(Debug, Clone)]
pub struct FileCheckpoint {
    path: PathBuf,
}

impl FileCheckpoint {
    /// A checkpoint kept in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PATH.tmp`, where a save writes before renaming.
    fn tmp_path(&self) -> PathBuf {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        PathBuf::from(tmp)
    }
}

impl CheckpointStore for FileCheckpoint {
    fn load(&mut self) -> io::Result<Option<Checkpoint>> {
        // What an interrupted save left: never the checkpoint, which the rename makes.
        let tmp = self.tmp_path();
        match std::fs::remove_file(&tmp) {
            Ok(()) => tracing::debug!(
                file = %tmp.display(),
                "talkjs events: removed what an interrupted save of the checkpoint left"
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // Harmless: it is never read, and the next save overwrites it.
            Err(e) => tracing::debug!(
                file = %tmp.display(),
                error = %e,
                "talkjs events: cannot remove what an interrupted save of the checkpoint left"
            ),
        }
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("cannot read", &e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.error("is not a checkpoint", &e))
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> io::Result<()> {
        let tmp = self.tmp_path();
        let bytes = serde_json::to_vec(checkpoint)?;
        write_synced(&tmp, &bytes).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", tmp.display()))
        })?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error("cannot be replaced", &e))?;
        sync_dir(&self.path)
            .map_err(|e| self.error("was replaced but its directory cannot be flushed", &e))
    }
}

/// Writes `bytes` to a new (or truncated) file at `path` and flushes it to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes the directory holding `path`, so that a rename into it is durable (Unix).
#[cfg(unix)]
fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match std::fs::File::open(dir).and_then(|dir| dir.sync_all()) {
        // Some file systems cannot flush a directory: nothing more can be done there.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Elsewhere a directory cannot be opened to flush it: the rename is left to the system.
#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> io::Result<()> {
    Ok(())
}

impl FileCheckpoint {
    /// An error naming the file: `<path> <what>: <cause>`.
    fn error(&self, what: &str, cause: &(dyn std::error::Error + 'static)) -> io::Error {
        let kind = cause
            .downcast_ref::<io::Error>()
            .map_or(io::ErrorKind::InvalidData, io::Error::kind);
        io::Error::new(kind, format!("{} {what}: {cause}", self.path.display()))
    }
}

/// A [`CheckpointStore`] in memory, shared by its clones: for tests, and for a stream
/// restarted within one process.
#[derive(Debug, Clone, Default)]
pub struct MemoryCheckpoint {
    saved: Arc<Mutex<Option<Checkpoint>>>,
}

impl MemoryCheckpoint {
    /// An empty store (a first run).
    pub fn new() -> Self {
        Self::default()
    }

    /// The checkpoint saved last, if any.
    pub fn get(&self) -> Option<Checkpoint> {
        self.saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl CheckpointStore for MemoryCheckpoint {
    fn load(&mut self) -> io::Result<Option<Checkpoint>> {
        Ok(self.get())
    }

    fn save(&mut self, checkpoint: &Checkpoint) -> io::Result<()> {
        *self.saved.lock().unwrap_or_else(PoisonError::into_inner) = Some(checkpoint.clone());
        Ok(())
    }
}

type WebhookStream = Pin<Box<dyn Stream<Item = WebhookEvent> + Send>>;

/// Builds the gap-free stream of new messages. Created by [`Events`].
///
/// The stream yields each message sent in the app once, as a [`MessageEvent`]:
///
/// - **from webhooks**: give it the `message.sent` deliveries your webhook endpoint
///   receives with [`webhooks`](Self::webhooks) (any `Stream` of verified [`WebhookEvent`]s,
///   e.g. the receiving half of a channel your handler sends into; other event types are
///   ignored here). Without webhooks, the stream works by listing alone.
/// - **by catching up**: at start-up and every [`catch_up_every`](Self::catch_up_every),
///   it lists the conversations whose last message is newer than its checkpoint
///   (`lastMessageAfter`), then their messages newer than that, and yields those it has not
///   yielded yet, flagged [`recovered`](MessageEvent::recovered).
///
/// A message brought twice (a webhook retry, a webhook arriving after the listing found the
/// message) is yielded once. The [`Checkpoint`] (by default in the file
/// [`DEFAULT_CHECKPOINT_FILE`] in the working directory: give each stream a file of its
/// own, on a disk that survives restarts) records what was yielded, so a restarted stream
/// resumes without a gap and without replaying what was handled.
///
/// **What "handled" means.** A yielded message counts as handled once the consumer asks for
/// the next one, or drops the stream. Handled messages are saved at most
/// [`commit_every`](Self::commit_every) apart while messages keep coming, and at once when
/// the stream waits or is dropped. So a stream that is dropped (a clean stop) resumes
/// exactly where it stopped; a process that dies (a crash, `kill -9`) yields again, after
/// its restart, what it handled since the last save (at most about `commit_every` of
/// messages): make the handling idempotent, e.g. keyed by message id.
///
/// **Errors do not end the stream.** A failed listing is yielded as an `Err`, and the stream
/// goes on: the next catch-up lists the same range again (nothing is skipped). A checkpoint
/// that cannot be loaded ends the stream after yielding the error; one that cannot be saved
/// is yielded as an error and tried again later.
///
/// **New messages only.** Edits, deletions and reads (`message.updated`,
/// `message.deleted`, `message.read`) cannot be recovered by listing, so this stream
/// ignores them, as it ignores every other event type: handle those in your webhook
/// handler. "New" goes by `createdAt`: a message dated at or before the checkpoint's
/// watermark (e.g. history imported with its original timestamps) counts as already
/// yielded, even when a webhook brings it.
///
/// **Listing order.** A catch-up lists conversations in creation order
/// (`orderBy=createdAt&orderDirection=ASC`), which new messages do not change, so none moves
/// between pages while they are read. TalkJS documents both parameters but not their values;
/// if it refuses these with a 400, the stream logs a warning and from then on lists in
/// TalkJS's default order (last activity first) and then reads again the conversations
/// active since the catch-up began, which catches a conversation that moved to a page
/// already read (one that moves during both readings could still have older messages
/// missed).
///
/// **The slack.** [`settle`](Self::settle) (default [`DEFAULT_SETTLE`], 30 s) is how late a
/// message may show in TalkJS's listings after its `createdAt`, counting the difference
/// between TalkJS's clock (which stamps `createdAt`) and this machine's (which times the
/// catch-ups). A catch-up that starts at T asks for the conversations with
/// `lastMessageAfter` = the watermark and reads their messages back to the watermark less the
/// slack; once its messages are yielded, the watermark moves to T less the slack, never
/// more. A message is dropped as already yielded when its id is among those yielded above
/// the watermark (the checkpoint keeps them), or when it is dated at or before the
/// watermark, which, within the slack, the catch-ups have listed and yielded. A first run
/// without [`since`](Self::since) starts the slack before now, so that a message sent just
/// after the start but stamped by a clock that is behind is not taken for an old one.
///
/// **Faults.** Every message sent in the app is yielded, none twice, when:
///
/// - webhooks are lost, duplicated, delayed or reordered, by any amount, or never
///   configured: they are a shortcut, and the catch-ups find what they miss;
/// - TalkJS's listings show a message late, and TalkJS's clock is off this machine's
///   (ahead or behind), by at most the slack together (lag + skew <= slack);
/// - a listing fails: the error is yielded, and the next catch-up lists the same range;
/// - the stream is dropped and started again (it resumes where it stopped), or the process
///   dies (crash, `kill -9`, power loss), with one exception to "none twice": what was
///   handled since the last save is yielded again (see "What handled means" above). The
///   checkpoint file survives a crash or a power loss whole ([`FileCheckpoint`]).
///
/// Not under these:
///
/// - lag + skew above the slack: the catch-up that should have found a message may list
///   before it shows, and the watermark then passes it; it is yielded only if its webhook
///   comes before that (a later one is taken for a message already yielded). A TalkJS clock
///   behind this one by more than the slack is the worst case: every message is dated
///   before the watermark by the time it is sent, and none is yielded, webhooks' included.
///   The stream logs a warning (once) when a webhook brings a message dated at or before
///   the watermark, which otherwise only a webhook later than the slack does;
/// - a message deleted before a catch-up found it, when its webhook was lost too;
/// - TalkJS refusing the creation order (see "Listing order"): a conversation that moves
///   during both readings may have older messages missed.
///
/// Listings of a conversation's messages are assumed to come newest first. Messages are not
/// yielded in `createdAt` order across sources: a recovered message may come after newer
/// ones.
///
/// ```no_run
/// # async fn run(
/// #     client: talkjs_api::Client,
/// #     webhook_events: futures_util::stream::Empty<talkjs_api::models::WebhookEvent>,
/// # ) {
/// use futures_util::StreamExt;
/// use std::time::Duration;
/// use talkjs_runtime::ClientExt;
///
/// // `webhook_events`: the verified events your webhook endpoint receives, e.g. the
/// // stream of `let (handler, webhook_events) = talkjs_webhooks::channel(1024);`.
/// let mut messages = client
///     .events()
///     .webhooks(webhook_events)
///     .checkpoint_file("/var/lib/myservice/talkjs.checkpoint.json")
///     .catch_up_every(Duration::from_secs(30))
///     .into_stream();
/// while let Some(result) = messages.next().await {
///     match result {
///         Ok(event) => {
///             let flag = if event.recovered { " (missed by the webhooks)" } else { "" };
///             println!("{}: {:?}{flag}", event.message.id, event.message.text);
///         }
///         // A failed catch-up is tried again at the next one; nothing is skipped.
///         Err(e) => eprintln!("catching up failed: {e}"),
///     }
/// }
/// # }
/// ```
#[must_use = "an Events builder does nothing until into_stream() is called and polled"]
pub struct Events {
    client: Client,
    webhooks: Option<WebhookStream>,
    store: Box<dyn CheckpointStore>,
    settings: Settings,
}

/// The timing settings of [`Events`], kept by its stream.
#[derive(Debug, Clone, Copy)]
struct Settings {
    catch_up_every: Duration,
    settle: Duration,
    commit_every: Duration,
    since: Option<Timestamp>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("webhooks", &self.webhooks.is_some())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The gap-free stream of new messages of `client`'s app: webhooks plus catching up by
    /// listing, each message once, resumable. [`ClientExt::events`](crate::ClientExt::events)
    /// is the same.
    pub fn new(client: &Client) -> Self {
        Events {
            client: client.clone(),
            webhooks: None,
            store: Box::new(FileCheckpoint::new(DEFAULT_CHECKPOINT_FILE)),
            settings: Settings {
                catch_up_every: DEFAULT_CATCH_UP_EVERY,
                settle: DEFAULT_SETTLE,
                commit_every: DEFAULT_COMMIT_EVERY,
                since: None,
            },
        }
    }
}

impl Events {
    /// The webhook events to take `message.sent` deliveries from (verified ones: see
    /// `talkjs-webhooks`). When this stream ends, the events stream goes on by listing.
    pub fn webhooks<S>(mut self, events: S) -> Self
    where
        S: Stream<Item = WebhookEvent> + Send + 'static,
    {
        self.webhooks = Some(Box::pin(events));
        self
    }

    /// Keeps the checkpoint in this store (default: the file [`DEFAULT_CHECKPOINT_FILE`] in
    /// the working directory).
    pub fn checkpoint(mut self, store: impl CheckpointStore) -> Self {
        self.store = Box::new(store);
        self
    }

    /// Keeps the checkpoint in this file ([`FileCheckpoint`]).
    pub fn checkpoint_file(self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint(FileCheckpoint::new(path))
    }

    /// How often to catch up by listing (default [`DEFAULT_CATCH_UP_EVERY`]). Each catch-up
    /// costs one request per 30 conversations with new messages plus one per 100 of their
    /// recent messages, from the client's rate limit.
    ///
    /// At least [`MIN_CATCH_UP_EVERY`] (a shorter interval is raised to it), so that a zero
    /// cannot spend the rate limit in a tight loop.
    pub fn catch_up_every(mut self, every: Duration) -> Self {
        self.settings.catch_up_every = every.max(MIN_CATCH_UP_EVERY);
        self
    }

    /// The slack for listing lag and clock skew: how long after its `createdAt` a message
    /// may take to show in TalkJS's listings, plus how far TalkJS's clock may be off this
    /// machine's, in either direction (default [`DEFAULT_SETTLE`], which says why 30 s).
    /// A catch-up that starts at time T moves the checkpoint's watermark to T minus this,
    /// never further; a first run without [`since`](Self::since) starts this long before
    /// now. See [`Events`], "The slack" and "Faults".
    ///
    /// Larger is safer and costs a little more per catch-up; a lag plus skew above it can
    /// lose a message whose webhook was lost too.
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settings.settle = settle;
        self
    }

    /// How often, at most, to save the checkpoint while messages keep coming (default
    /// [`DEFAULT_COMMIT_EVERY`]). The checkpoint is also saved whenever the stream waits,
    /// and when it is dropped; a crash yields again what was handled since the last save.
    pub fn commit_every(mut self, every: Duration) -> Self {
        self.settings.commit_every = every;
        self
    }

    /// On a first run (no checkpoint saved yet), yield the messages created after this time,
    /// by their `createdAt` (TalkJS's clock). By default the first run starts
    /// [`settle`](Self::settle) before now, so that a message sent after the stream started
    /// is not lost to a TalkJS clock that is behind this one; the messages of that slack
    /// before the start are yielded too. Ignored when a checkpoint exists.
    pub fn since(mut self, since: Timestamp) -> Self {
        self.settings.since = Some(since);
        self
    }

    /// The stream. Nothing happens until it is polled.
    pub fn into_stream(self) -> MessageStream {
        let state = State {
            client: self.client,
            webhooks: self.webhooks,
            store: self.store,
            settings: self.settings,
            phase: Phase::Start,
            watermark: Timestamp::from_millis(0),
            seen: HashMap::new(),
            queue: VecDeque::new(),
            pending_watermark: None,
            next_catch_up: None,
            default_order: false,
            dirty: false,
            last_save: Instant::now(),
            save_failed: false,
            warned_old_webhook: false,
        };
        MessageStream {
            inner: Box::pin(futures_util::stream::unfold(state, State::next)),
        }
    }
}

/// The stream of [`MessageEvent`]s built by [`Events::into_stream`]. Never ends by itself
/// (unless its checkpoint cannot be loaded); drop it to stop, which saves the checkpoint.
pub struct MessageStream {
    inner: Pin<Box<dyn Stream<Item = Result<MessageEvent>> + Send>>,
}

impl fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageStream").finish_non_exhaustive()
    }
}

impl Stream for MessageStream {
    type Item = Result<MessageEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Where a stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The checkpoint is not loaded yet.
    Start,
    /// Loaded: yielding.
    Running,
    /// The checkpoint could not be loaded: the stream has ended.
    Ended,
}

#[allow(
    clippy::struct_excessive_bools,
    reason = "four independent flags of one stream, not a state machine"
)]
struct State {
    client: Client,
    webhooks: Option<WebhookStream>,
    store: Box<dyn CheckpointStore>,
    settings: Settings,
    phase: Phase,
    /// Every message created at or before this has been yielded.
    watermark: Timestamp,
    /// The messages yielded that are newer than the watermark, with their `createdAt`.
    seen: HashMap<MessageId, Timestamp>,
    /// Messages found by the last catch-up, oldest first, not yielded yet.
    queue: VecDeque<MessageEvent>,
    /// The watermark the last catch-up earned, applied once its queue is yielded.
    pending_watermark: Option<Timestamp>,
    /// When to catch up next (`None`: at once).
    next_catch_up: Option<Instant>,
    /// TalkJS refused to list conversations in creation order: list in its default order.
    default_order: bool,
    /// Something was yielded (or the watermark moved) since the last save.
    dirty: bool,
    /// When the checkpoint was last saved, or last failed to save.
    last_save: Instant,
    /// The last save failed: the next waits `commit_every`, so that a broken store does not
    /// yield errors in a tight loop.
    save_failed: bool,
    /// A webhook for a message dated at or before the watermark was logged (once).
    warned_old_webhook: bool,
}

impl State {
    async fn next(mut self) -> Option<(Result<MessageEvent>, Self)> {
        if self.phase == Phase::Ended {
            return None;
        }
        if self.phase == Phase::Start {
            match self.store.load() {
                Ok(Some(saved)) if saved.version != Checkpoint::VERSION => {
                    self.phase = Phase::Ended;
                    let why = format!(
                        "the checkpoint is of version {}; this version of talkjs-api reads version {} only",
                        saved.version,
                        Checkpoint::VERSION
                    );
                    return Some((
                        Err(Error::Checkpoint(io::Error::new(
                            io::ErrorKind::InvalidData,
                            why,
                        ))),
                        self,
                    ));
                }
                Ok(saved) => {
                    let checkpoint = saved.unwrap_or_else(|| {
                        self.dirty = true;
                        Checkpoint::at(self.settings.since.unwrap_or_else(|| {
                            // A TalkJS clock behind ours stamps what is sent from now on
                            // before now: start the slack earlier.
                            let settle = millis(self.settings.settle);
                            Timestamp::from_millis(
                                Timestamp::now().as_millis().saturating_sub(settle),
                            )
                        }))
                    });
                    self.watermark = checkpoint.watermark;
                    self.seen = checkpoint
                        .seen
                        .into_iter()
                        .map(|s| (s.id, s.created_at))
                        .collect();
                    self.phase = Phase::Running;
                }
                Err(e) => {
                    self.phase = Phase::Ended;
                    return Some((Err(Error::Checkpoint(e)), self));
                }
            }
        }
        // The consumer asked for more: what was yielded so far is handled.
        if self.dirty && self.last_save.elapsed() >= self.settings.commit_every {
            if let Err(e) = self.save() {
                return Some((Err(e), self));
            }
        }
        loop {
            if let Some(event) = self.queue.pop_front() {
                let fresh = self.mark_seen(&event.message);
                if self.queue.is_empty() {
                    // The whole catch-up is yielded: everything up to what it earned is.
                    self.apply_pending_watermark();
                }
                if fresh {
                    return Some((Ok(event), self));
                }
                continue;
            }
            self.apply_pending_watermark();
            if self.next_catch_up.is_none_or(|at| Instant::now() >= at) {
                self.next_catch_up = Some(later(Instant::now(), self.settings.catch_up_every));
                if let Err(e) = self.catch_up().await {
                    return Some((Err(e), self));
                }
                continue;
            }
            // A webhook event that is already here is taken without saving first.
            let ready = self
                .webhooks
                .as_mut()
                .and_then(|webhooks| webhooks.next().now_or_never());
            let delivered = if let Some(delivered) = ready {
                delivered
            } else {
                // About to wait: save what was handled (not again at once after a failure).
                let retry_due = self.last_save.elapsed() >= self.settings.commit_every;
                if self.dirty && (!self.save_failed || retry_due) {
                    if let Err(e) = self.save() {
                        return Some((Err(e), self));
                    }
                }
                let Some(delivered) = self.wait().await else {
                    continue;
                };
                delivered
            };
            match delivered {
                None => self.webhooks = None,
                Some(event) => {
                    if let Some(event) = self.take_webhook(event) {
                        return Some((Ok(event), self));
                    }
                }
            }
        }
    }

    /// Waits for the next webhook event (`Some`; `Some(None)` if the webhooks ended) or
    /// the next catch-up (`None`).
    async fn wait(&mut self) -> Option<Option<WebhookEvent>> {
        let sleep = std::pin::pin!(tokio::time::sleep_until(
            self.next_catch_up.unwrap_or_else(Instant::now)
        ));
        let Some(webhooks) = self.webhooks.as_mut() else {
            sleep.await;
            return None;
        };
        match select(webhooks.next(), sleep).await {
            Either::Left((delivered, _)) => Some(delivered),
            Either::Right(((), _)) => None,
        }
    }

    /// The message of a `message.sent` delivery not yielded yet, marked as yielded.
    fn take_webhook(&mut self, event: WebhookEvent) -> Option<MessageEvent> {
        let WebhookData::MessageSent(data) = event.data else {
            return None;
        };
        let message = data.message?;
        if message.created_at <= self.watermark && !self.warned_old_webhook {
            // Normal only for a webhook delayed by more than the slack; otherwise a sign that
            // TalkJS's clock is behind this one by more than it, which loses messages.
            self.warned_old_webhook = true;
            tracing::warn!(
                message_id = %message.id,
                before_watermark_ms = self.watermark.as_millis() - message.created_at.as_millis(),
                settle_ms = millis(self.settings.settle),
                "talkjs events: a webhook brought a message dated at or before the watermark, \
                 taken as yielded already: either the webhook came more than `settle` late, or \
                 TalkJS's clock is behind this machine's by more than `settle` and new messages \
                 are being lost (raise settle, check the clock); warned once"
            );
        }
        if !self.mark_seen(&message) {
            return None;
        }
        Some(MessageEvent {
            message,
            conversation: data.conversation,
            recovered: false,
        })
    }

    /// Records `message` as yielded; `false` if it already was.
    fn mark_seen(&mut self, message: &Message) -> bool {
        if message.created_at <= self.watermark || self.seen.contains_key(&message.id) {
            return false;
        }
        self.seen.insert(message.id.clone(), message.created_at);
        self.dirty = true;
        true
    }

    fn apply_pending_watermark(&mut self) {
        if let Some(watermark) = self.pending_watermark.take() {
            if watermark > self.watermark {
                self.watermark = watermark;
                self.seen.retain(|_, created| *created > watermark);
                self.dirty = true;
            }
        }
    }

    /// Lists what is newer than the watermark and queues what was not yielded yet.
    async fn catch_up(&mut self) -> Result<()> {
        let settle = millis(self.settings.settle);
        let started = Timestamp::now();
        let earned = Timestamp::from_millis(started.as_millis().saturating_sub(settle));
        let mut scan = Scan {
            // Listings are newest first by arrival, which may differ slightly from
            // `createdAt` order: read one settle period past the watermark before stopping.
            stop_at: self.watermark.as_millis().saturating_sub(settle),
            watermark: self.watermark,
            listed: HashSet::new(),
            found: Vec::new(),
        };
        if !self.default_order {
            match scan
                .run(&self.client, &self.seen, self.watermark, true)
                .await
            {
                Err(Error::BadRequest { .. }) => {
                    tracing::warn!(
                        "talkjs events: TalkJS refused orderBy=createdAt&orderDirection=ASC; \
                         catching up in its default order (last activity first) from now on"
                    );
                    self.default_order = true;
                }
                other => other?,
            }
        }
        if self.default_order {
            scan.run(&self.client, &self.seen, self.watermark, false)
                .await?;
            // In that order a conversation that got a message while the list was read moves
            // to the front, possibly onto a page already read: read again the conversations
            // active since the listing began (one settle period earlier, for the clocks).
            scan.run(&self.client, &self.seen, earned, false).await?;
        }
        // Each conversation's messages are oldest first: a stable sort by time keeps the
        // order of those created in the same millisecond.
        let mut found = scan.found;
        found.sort_by_key(|event| event.message.created_at);
        let mut queued = HashSet::new();
        found.retain(|event| queued.insert(event.message.id.clone()));
        self.queue = found.into();
        self.pending_watermark = Some(earned);
        Ok(())
    }

    fn checkpoint(&self) -> Checkpoint {
        let mut seen: Vec<SeenMessage> = self
            .seen
            .iter()
            .map(|(id, created_at)| SeenMessage {
                id: id.clone(),
                created_at: *created_at,
            })
            .collect();
        seen.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Checkpoint {
            version: Checkpoint::VERSION,
            watermark: self.watermark,
            seen,
        }
    }

    fn save(&mut self) -> Result<()> {
        let checkpoint = self.checkpoint();
        let saved = self.store.save(&checkpoint).map_err(Error::Checkpoint);
        self.last_save = Instant::now();
        self.save_failed = saved.is_err();
        if saved.is_ok() {
            self.dirty = false;
        }
        saved
    }
}

/// A duration in whole milliseconds (`u64::MAX` beyond).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One catch-up's listing: the conversations listed so far and the messages found.
struct Scan {
    watermark: Timestamp,
    stop_at: u64,
    listed: HashSet<ConversationId>,
    found: Vec<MessageEvent>,
}

impl Scan {
    /// Lists the conversations whose last message is newer than `after` (in creation order,
    /// oldest first, or in TalkJS's default order), and in each one not listed yet, the
    /// messages newer than the watermark that were not yielded.
    async fn run(
        &mut self,
        client: &Client,
        seen: &HashMap<MessageId, Timestamp>,
        after: Timestamp,
        creation_order: bool,
    ) -> Result<()> {
        let mut list = client.conversations().list().last_message_after(after);
        if creation_order {
            // An order that new messages do not change, so no conversation moves between
            // pages while they are read.
            list = list
                .order_by(OrderBy::CreatedAt)
                .order_direction(OrderDirection::Asc);
        }
        let mut conversations = list.limit(CONVERSATIONS_PER_PAGE).into_stream();
        while let Some(conversation) = conversations.try_next().await? {
            if !self.listed.insert(conversation.id.clone()) {
                continue;
            }
            let mut messages = client
                .conversations()
                .messages(conversation.id.as_str())
                .list()
                .limit(MESSAGES_PER_PAGE)
                .into_stream();
            // Listed newest first; kept oldest first.
            let mut newest_first = Vec::new();
            while let Some(message) = messages.try_next().await? {
                if message.created_at.as_millis() <= self.stop_at {
                    break;
                }
                if message.created_at > self.watermark && !seen.contains_key(&message.id) {
                    newest_first.push(MessageEvent {
                        message,
                        conversation: Some(conversation.clone()),
                        recovered: true,
                    });
                }
            }
            self.found.extend(newest_first.into_iter().rev());
        }
        Ok(())
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if self.phase == Phase::Running && self.dirty {
            if let Err(e) = self.save() {
                tracing::warn!(error = %e, "talkjs events: could not save the checkpoint on drop");
            }
        }
    }
}
