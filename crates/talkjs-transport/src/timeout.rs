//! Time limits: [`TimeoutLayer::per_attempt`] bounds one HTTP exchange (inside the retry
//! layer, so a slow attempt can be retried) and [`TimeoutLayer::deadline`] bounds the whole
//! call (outside the retry layer, retries and rate-limit waits included).
//!
//! Unlike tower's `Timeout`, the error says which limit ran out
//! ([`TransportError::Timeout`] with a [`TimeoutKind`]), which the retry policy and the
//! resource API's error mapping need.
//!
//! # One timer per call where possible
//!
//! The two layers cooperate so that a call normally arms a single timer. While a deadline
//! future creates or polls what is inside it, it makes its deadline known to per-attempt
//! timeouts inside (on the current thread, for the duration of that synchronous call or
//! poll). An attempt then sets its timer to the earlier of its own limit and the call's
//! deadline (a timer that fires at the deadline reports [`TimeoutKind::Deadline`]), and tells
//! the deadline that it is covered: the deadline future arms a timer of its own only when it
//! is left waiting without an attempt in flight (a rate-limit wait, a retry's backoff, or a
//! stack with no per-attempt limit). Whichever timer fires, the call ends at the same time
//! with the same error as with two independent timers. An attempt created on another task
//! (e.g. behind a `Buffer`) does not see the deadline and cannot cover it, so the deadline
//! arms its own timer then. Two timers cost a registration in tokio's timer wheel each, and
//! a clock read; the default stack saves one per call this way.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::BoxError;
use crate::error::{TimeoutKind, TransportError};
use crate::rate_limit::later;

/// Layer applying a time limit to each call of the inner service.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    after: Duration,
    kind: TimeoutKind,
}

impl TimeoutLayer {
    /// A per-attempt limit (place it inside the retry layer).
    pub fn per_attempt(after: Duration) -> Self {
        Self {
            after,
            kind: TimeoutKind::Attempt,
        }
    }

    /// An overall deadline (place it outside the retry layer).
    pub fn deadline(after: Duration) -> Self {
        Self {
            after,
            kind: TimeoutKind::Deadline,
        }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            after: self.after,
            kind: self.kind,
        }
    }
}

/// Service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct TimeoutService<S> {
    inner: S,
    after: Duration,
    kind: TimeoutKind,
}

/// The deadline of the call whose inner services or futures run right now on this thread
/// (whether an attempt's timer covers it is `COVERED`).
#[derive(Clone, Copy)]
struct CallDeadline {
    at: Instant,
    after: Duration,
}

thread_local! {
    static CALL_DEADLINE: Cell<Option<CallDeadline>> = const { Cell::new(None) };
    static COVERED: Cell<bool> = const { Cell::new(false) };
}

/// Makes a deadline known while it lives; restores the outer state when dropped (also
/// when the inner code panics).
struct DeadlineScope {
    outer: Option<CallDeadline>,
    outer_covered: bool,
}

impl DeadlineScope {
    fn enter(deadline: CallDeadline) -> Self {
        Self {
            outer: CALL_DEADLINE.replace(Some(deadline)),
            outer_covered: COVERED.replace(false),
        }
    }

    /// Whether an attempt timer inside covered the deadline of the scope that is current.
    fn covered() -> bool {
        COVERED.get()
    }
}

impl Drop for DeadlineScope {
    fn drop(&mut self) {
        CALL_DEADLINE.set(self.outer);
        COVERED.set(self.outer_covered);
    }
}

impl<S, R> Service<R> for TimeoutService<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let own = later(Instant::now(), self.after);
        match self.kind {
            TimeoutKind::Deadline => {
                let deadline = CallDeadline {
                    at: own,
                    after: self.after,
                };
                let inner = {
                    let _scope = DeadlineScope::enter(deadline);
                    self.inner.call(req)
                };
                TimeoutFuture {
                    inner,
                    sleep: None,
                    at: own,
                    after: self.after,
                    kind: TimeoutKind::Deadline,
                    is_deadline: true,
                }
            }
            TimeoutKind::Attempt => {
                // The earlier of this attempt's limit and the call's deadline.
                let (at, after, kind) = match CALL_DEADLINE.get() {
                    Some(call) if call.at < own => (call.at, call.after, TimeoutKind::Deadline),
                    _ => (own, self.after, self.kind),
                };
                TimeoutFuture {
                    inner: self.inner.call(req),
                    sleep: Some(tokio::time::sleep_until(at)),
                    at,
                    after,
                    kind,
                    is_deadline: false,
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`TimeoutService`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        // Armed at once for an attempt; for a deadline, only when no attempt timer covers it.
        #[pin]
        sleep: Option<Sleep>,
        at: Instant,
        after: Duration,
        kind: TimeoutKind,
        is_deadline: bool,
    }
}

impl<F, T, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.is_deadline {
            let _scope = DeadlineScope::enter(CallDeadline {
                at: *this.at,
                after: *this.after,
            });
            if let Poll::Ready(result) = this.inner.poll(cx) {
                return Poll::Ready(result.map_err(Into::into));
            }
            if this.sleep.is_none() && !DeadlineScope::covered() {
                this.sleep.set(Some(tokio::time::sleep_until(*this.at)));
            }
        } else {
            if let Poll::Ready(result) = this.inner.poll(cx) {
                return Poll::Ready(result.map_err(Into::into));
            }
            // This attempt's timer (registered by the poll below) wakes the task no later
            // than the call's deadline: the deadline needs no timer of its own meanwhile.
            if CALL_DEADLINE.get().is_some_and(|call| *this.at <= call.at) {
                COVERED.set(true);
            }
        }
        match this.sleep.as_pin_mut().map(|sleep| sleep.poll(cx)) {
            Some(Poll::Ready(())) => Poll::Ready(Err(TransportError::Timeout {
                kind: *this.kind,
                after: *this.after,
            }
            .into())),
            _ => Poll::Pending,
        }
    }
}
