//! What a caller may do around each request of a run: [`Hooks`].

use talkjs_api::Error;
use talkjs_api::models::MessageId;

use super::item::{HookError, Item, Kind};

/// Called by the engine around every request it sends, in the scheduler (so keep them
/// short: a journal write, a counter): [`before`](Self::before) a request leaves and
/// [`after`](Self::after) its outcome is known. This is where a caller that must survive
/// a crash records what is in flight (like `talkjs migrate`'s journal): every request gets
/// one `before` and, unless the run stopped first, one `after`.
///
/// [`after`](Self::after) may hold a conversation ([`Next::HoldConversation`]): nothing
/// more of it is sent in this run. An error from either stops the run: no other request starts, the ones running are
/// waited for (and get their `after`), and [`Report::stopped`](super::Report::stopped)
/// holds the error.
///
/// ```
/// use std::sync::Mutex;
/// use talkjs_runtime::bulk::{HookError, Hooks, Next, Outcome, Request};
///
/// /// Prints what happened to every item, by its index in the input.
/// #[derive(Default)]
/// struct Log(Mutex<Vec<String>>);
///
/// impl Hooks for Log {
///     fn after(&self, request: &Request<'_>, outcome: &Outcome<'_>) -> Result<Next, HookError> {
///         let what = match outcome {
///             Outcome::Landed { .. } => "landed",
///             Outcome::Refused { again: true, .. } => "refused, sent again in parts",
///             Outcome::Refused { .. } => "refused",
///             Outcome::Unknown { .. } => "may have landed",
///             _ => "?",
///         };
///         let mut log = self.0.lock().map_err(|_| "poisoned")?;
///         log.extend(request.indexes().map(|i| format!("item {i}: {what}")));
///         Ok(Next::Continue)
///     }
/// }
/// ```
pub trait Hooks: Send + Sync + 'static {
    /// Before `request` leaves. An error stops the run and this request is not sent.
    fn before(&self, request: &Request<'_>) -> Result<(), HookError> {
        let _ = request;
        Ok(())
    }

    /// After `request`'s outcome is known; says whether the run goes on with the request's
    /// conversation.
    fn after(&self, request: &Request<'_>, outcome: &Outcome<'_>) -> Result<Next, HookError> {
        let _ = (request, outcome);
        Ok(Next::Continue)
    }
}

/// What the run does after a request, as [`Hooks::after`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Next {
    /// Go on.
    #[default]
    Continue,
    /// Send nothing more of the request's conversation in this run (messages only; for
    /// other requests the same as `Continue`): its items still waiting, and those the input
    /// brings later, are dropped and counted in [`Report::held`](super::Report::held). For
    /// a caller that must find out what an unknown outcome applied before it sends the
    /// conversation's next messages, so that their order holds.
    HoldConversation,
}

/// No hooks: the default of a run.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// One request of a run, as [`Hooks`] see it: the items it carries.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    items: &'a [(usize, Item)],
}

impl<'a> Request<'a> {
    pub(super) fn new(items: &'a [(usize, Item)]) -> Self {
        Self { items }
    }

    /// The kind of its items (a request carries one kind).
    pub fn kind(&self) -> Option<Kind> {
        self.items.first().map(|(_, item)| item.kind())
    }

    /// Its items with their positions in the input, in request order.
    pub fn items(&self) -> impl Iterator<Item = (usize, &'a Item)> + 'a {
        self.items.iter().map(|(index, item)| (*index, item))
    }

    /// The positions of its items in the input, in request order.
    pub fn indexes(&self) -> impl Iterator<Item = usize> + 'a {
        self.items.iter().map(|(index, _)| *index)
    }

    /// How many items it carries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it carries no item (never, for a request the engine sends).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What became of a request, for [`Hooks::after`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// Applied: its items landed. `ids`: the created messages' ids in request order, when
    /// the answer named them (sends; imports when TalkJS sends them).
    Landed {
        /// The created messages' ids, if the answer had one per message.
        ids: Option<&'a [MessageId]>,
    },
    /// Not applied, or applied and safe to send again (an idempotent request that failed).
    /// `again`: the engine sends the same items again in smaller requests (a `400` for a
    /// request of several items, which TalkJS refuses whole), so each gets an outcome of
    /// its own later; otherwise they are in [`Report::failed`](super::Report::failed).
    Refused {
        /// Why.
        error: &'a Error,
        /// Whether the items are sent again in smaller requests.
        again: bool,
    },
    /// Maybe applied (a 5xx, a timeout, a reset after the request may have reached
    /// TalkJS), with items not safe to send again (imports, sends without an idempotency
    /// key): those are in [`Report::uncertain`](super::Report::uncertain) and never sent
    /// again by the engine (keyed sends of the same request are in
    /// [`Report::failed`](super::Report::failed)).
    Unknown {
        /// Why.
        error: &'a Error,
    },
}
