//! The trace layer: [`TraceLayer`], one span per call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Span;

use crate::extensions::{Attempts, PathTemplate};
use crate::types::{BoxError, HttpRequest, HttpResponse};

/// The trace layer: one `tracing` span per call (`talkjs.request`) with the method, the path
/// template ([`PathTemplate::of`]: `/users/{userId}`, not the concrete path), and, when the
/// call ends, the status, the
/// number of attempts and the latency. Headers and bodies are never recorded, so neither
/// tokens nor secrets reach the logs.
///
/// Layer creating one span per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer {
    _private: (),
}

impl TraceLayer {
    /// A trace layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

/// Service of [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct TraceService<S> {
    inner: S,
}

impl<S> Service<HttpRequest> for TraceService<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    S::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        // The template is worked out only when the span is enabled (the macro evaluates its
        // fields lazily).
        let span = tracing::debug_span!(
            "talkjs.request",
            method = req.method().as_str(),
            path = &*PathTemplate::of(&req),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let inner = {
            let _enter = span.enter();
            self.inner.call(req)
        };
        // Without a subscriber for the span or the response event (the common case in
        // production at info level), there is nothing to time: skip reading the clock.
        let observed = !span.is_disabled() || tracing::enabled!(tracing::Level::DEBUG);
        TraceFuture {
            inner,
            span,
            start: observed.then(Instant::now),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`TraceService`].
    pub struct TraceFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Option<Instant>,
    }
}

impl<F, E> Future for TraceFuture<F>
where
    F: Future<Output = Result<HttpResponse, E>>,
    E: Into<BoxError>,
{
    type Output = Result<HttpResponse, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _enter = this.span.enter();
        let result = match this.inner.poll(cx) {
            Poll::Ready(r) => r.map_err(Into::into),
            Poll::Pending => return Poll::Pending,
        };
        let Some(start) = this.start else {
            return Poll::Ready(result);
        };
        let latency_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        this.span.record("latency_ms", latency_ms);
        match &result {
            Ok(response) => {
                let attempts = Attempts::of(response);
                this.span.record("status", response.status().as_u16());
                this.span.record("attempts", attempts);
                tracing::debug!(
                    status = response.status().as_u16(),
                    attempts,
                    latency_ms,
                    "talkjs response"
                );
            }
            Err(error) => {
                tracing::debug!(%error, latency_ms, "talkjs request failed");
            }
        }
        Poll::Ready(result)
    }
}
