//! Time limits: [`TimeoutLayer::per_attempt`] bounds one HTTP exchange (inside the retry
//! layer, so a slow attempt can be retried) and [`TimeoutLayer::deadline`] bounds the whole
//! call (outside the retry layer, retries and rate-limit waits included).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::error::{TimeoutKind, TransportError};
use crate::types::{BoxError, later};

/// Layer applying a time limit to each call of the inner service.
///
/// Unlike tower's `Timeout`, the error says which limit ran out
/// ([`TransportError::Timeout`] with a [`TimeoutKind`]): the retry policy retries an attempt
/// that timed out, never a call whose deadline passed.
///
/// ```
/// use std::time::Duration;
/// use talkjs_transport::TimeoutLayer;
/// use tower::ServiceBuilder;
///
/// let svc = ServiceBuilder::new()
///     .layer(TimeoutLayer::deadline(Duration::from_secs(120)))
///     .layer(TimeoutLayer::per_attempt(Duration::from_secs(30)))
///     .service_fn(|_req: talkjs_transport::HttpRequest| async {
///         Ok::<_, talkjs_transport::BoxError>(talkjs_transport::HttpResponse::new(talkjs_transport::bytes::Bytes::new()))
///     });
/// # drop(svc);
/// ```
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
            limit: *self,
        }
    }
}

/// Service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct TimeoutService<S> {
    inner: S,
    limit: TimeoutLayer,
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
            sleep: tokio::time::sleep_until(later(Instant::now(), self.limit.after)),
            limit: self.limit,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`TimeoutService`].
    #[derive(Debug)]
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        limit: TimeoutLayer,
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
                kind: this.limit.kind,
                after: this.limit.after,
            }
            .into())),
            Poll::Pending => Poll::Pending,
        }
    }
}
