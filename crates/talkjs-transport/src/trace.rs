//! The trace layer: [`TraceLayer`], one span per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower::{Layer, Service};
use tracing::Span;

use crate::error::{TimeoutKind, TransportError};
use crate::extensions::{Attempts, PathTemplate};
use crate::types::{BoxError, HttpRequest, HttpResponse};

/// The trace layer: one `tracing` span per call (`talkjs.request`, at debug level), named and
/// shaped after OpenTelemetry's conventions for HTTP client spans, so that
/// `tracing-opentelemetry` exports it as a client span:
///
/// | field | value |
/// |---|---|
/// | `otel.name` | `{method} {url.template}`, e.g. `GET /users/{userId}` |
/// | `otel.kind` | `client` |
/// | `http.request.method` | `GET`, `PUT`, ... |
/// | `url.template` | the path template ([`PathTemplate::of`]: `/users/{userId}`, never the concrete path with its ids) |
/// | `server.address`, `server.port` | the API's host and port ([`with_server`](TraceLayer::with_server); the default stack sets them from its base URL) |
/// | `http.response.status_code` | the final status, when the call ends with a response |
/// | `error.type` | the status code of a 4xx or 5xx, or the kind of error ([`error_type`]) |
/// | `otel.status_code` | `ERROR` for those |
/// | `talkjs.attempts`, `talkjs.latency_ms` | attempts the call took, and its latency |
///
/// A debug event `talkjs response` (or `talkjs request failed`) closes the call with the
/// same status, attempts and latency. Headers and bodies are never recorded, so neither
/// tokens nor secrets reach the logs.
///
/// Layer creating one span per call.
#[derive(Debug, Clone, Default)]
pub struct TraceLayer {
    server: Option<Server>,
}

/// The `server.address` and `server.port` of the spans.
#[derive(Debug, Clone)]
struct Server {
    address: Arc<str>,
    port: Option<u16>,
}

impl TraceLayer {
    /// A trace layer. Spans carry `server.address` only for requests with an absolute URI,
    /// unless [`with_server`](Self::with_server) names the server.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the server every call goes to (`server.address`, and `server.port` if given):
    /// the layer sits above the base-URL layer, so its requests carry relative paths.
    #[must_use]
    pub fn with_server(mut self, address: impl Into<String>, port: Option<u16>) -> Self {
        self.server = Some(Server {
            address: address.into().into(),
            port,
        });
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService {
            inner,
            server: self.server.clone(),
        }
    }
}

/// Service of [`TraceLayer`].
#[derive(Debug, Clone)]
pub struct TraceService<S> {
    inner: S,
    server: Option<Server>,
}

/// The kind of a failed call or attempt, as the `error.type` of spans and the `status` of
/// metrics: `connect`, `request` (the connection failed after sending), `body`,
/// `body_too_large`, `attempt_timeout`, `deadline`, `local_rate_limited`, `rate_limit_store`,
/// `auth`, `invalid_request`, or `other` (an error from a custom layer or service).
pub fn error_type(error: &(dyn std::error::Error + 'static)) -> &'static str {
    match TransportError::find(error) {
        Some(TransportError::Connect { .. }) => "connect",
        Some(TransportError::Request { .. }) => "request",
        Some(TransportError::Body { .. }) => "body",
        Some(TransportError::BodyTooLarge { .. }) => "body_too_large",
        Some(TransportError::Timeout {
            kind: TimeoutKind::Attempt,
            ..
        }) => "attempt_timeout",
        Some(TransportError::Timeout { .. }) => "deadline",
        Some(TransportError::LocalRateLimit { .. }) => "local_rate_limited",
        Some(TransportError::RateLimitStore { .. }) => "rate_limit_store",
        Some(TransportError::Auth(_)) => "auth",
        Some(TransportError::InvalidRequest(_)) => "invalid_request",
        _ => "other",
    }
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
        // The template and the name are worked out only when the span is enabled (the macro
        // evaluates its fields lazily).
        let span = tracing::debug_span!(
            "talkjs.request",
            otel.name = tracing::field::Empty,
            otel.kind = "client",
            http.request.method = req.method().as_str(),
            url.template = tracing::field::Empty,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            talkjs.attempts = tracing::field::Empty,
            talkjs.latency_ms = tracing::field::Empty,
        );
        if !span.is_disabled() {
            let template = PathTemplate::of(&req);
            span.record(
                "otel.name",
                format!("{} {template}", req.method().as_str()).as_str(),
            );
            span.record("url.template", &*template);
            let uri = req.uri();
            if let Some(host) = uri.host() {
                span.record("server.address", host);
                let port = uri.port_u16().or(match uri.scheme_str() {
                    Some("https") => Some(443),
                    Some("http") => Some(80),
                    _ => None,
                });
                if let Some(port) = port {
                    span.record("server.port", port);
                }
            } else if let Some(server) = &self.server {
                span.record("server.address", &*server.address);
                if let Some(port) = server.port {
                    span.record("server.port", port);
                }
            }
        }
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
        this.span.record("talkjs.latency_ms", latency_ms);
        match &result {
            Ok(response) => {
                let attempts = Attempts::of(response);
                let status = response.status();
                this.span
                    .record("http.response.status_code", status.as_u16());
                this.span.record("talkjs.attempts", attempts);
                if status.is_client_error() || status.is_server_error() {
                    this.span.record("error.type", status.as_str());
                    this.span.record("otel.status_code", "ERROR");
                }
                tracing::debug!(
                    http.response.status_code = status.as_u16(),
                    talkjs.attempts = attempts,
                    talkjs.latency_ms = latency_ms,
                    "talkjs response"
                );
            }
            Err(error) => {
                let kind = error_type(error.as_ref());
                this.span.record("error.type", kind);
                this.span.record("otel.status_code", "ERROR");
                tracing::debug!(
                    %error,
                    error.type = kind,
                    talkjs.latency_ms = latency_ms,
                    "talkjs request failed"
                );
            }
        }
        Poll::Ready(result)
    }
}
