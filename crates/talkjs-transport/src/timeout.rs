//! Time limits: [`TimeoutLayer::per_attempt`] bounds one HTTP exchange (inside the retry
//! layer, so a slow attempt can be retried) and [`TimeoutLayer::deadline`] bounds the whole
//! call (outside the retry layer, retries and rate-limit waits included).
//!
//! Unlike tower's `Timeout`, the error says which limit ran out
//! ([`TransportError::Timeout`] with a [`TimeoutKind`]), which the retry policy and the
//! resource API's error mapping need.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower::{Layer, Service};

use crate::BoxError;
use crate::error::{TimeoutKind, TransportError};

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
        TimeoutFuture {
            inner: self.inner.call(req),
            sleep: tokio::time::sleep(self.after),
            after: self.after,
            kind: self.kind,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`TimeoutService`].
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: tokio::time::Sleep,
        after: Duration,
        kind: TimeoutKind,
    }
}

impl<F, T, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(TransportError::Timeout {
                kind: *this.kind,
                after: *this.after,
            }
            .into())),
            Poll::Pending => Poll::Pending,
        }
    }
}
