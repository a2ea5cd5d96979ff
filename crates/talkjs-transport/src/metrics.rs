//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`):
//! [`MetricsLayer`] and the names of what the stack records.
//!
//! Whatever recorder the application installs receives them (Prometheus, OpenTelemetry,
//! StatsD exporters: see the `metrics` crate); without one, nothing is kept. The default
//! stack ([`StackBuilder`](crate::StackBuilder)) records them all unless
//! [`StackBuilder::metrics`](crate::StackBuilder::metrics) switches them off:
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | [`CALLS`] `talkjs_client_calls_total` | counter | `method`, `endpoint`, `status` | calls, once each, retries included |
//! | [`CALL_DURATION`] `talkjs_client_call_duration_seconds` | histogram | `method`, `endpoint`, `status` | a call's latency: waits for the limiter, attempts and backoff |
//! | [`ATTEMPTS`] `talkjs_client_attempts_total` | counter | `method`, `endpoint`, `status` | attempts sent (a call retried twice counts 3) |
//! | [`ATTEMPT_DURATION`] `talkjs_client_attempt_duration_seconds` | histogram | `method`, `endpoint`, `status` | one attempt, from sending to the whole body read (TalkJS's latency) |
//! | [`RETRIES`] `talkjs_client_retries_total` | counter | `method`, `endpoint`, `reason` | retries scheduled, by what caused them |
//! | [`RATE_LIMITED`] `talkjs_client_rate_limited_total` | counter | `source`, `class` | 429s: `source="server"` answered by TalkJS, `source="local"` refused by the limiter's maximum wait |
//! | [`RATE_LIMIT_WAIT`] `talkjs_client_rate_limit_wait_seconds` | histogram | `class` | how long each request waited for its rate-limit slot (0 included) |
//!
//! Labels:
//!
//! - `method`: `GET`, `PUT`, `POST`, `PATCH`, `DELETE` (`OTHER` for any other).
//! - `endpoint`: the path template ([`PathTemplate::of`]: `/users/{userId}`,
//!   `/conversations/{conversationId}/messages`), never a concrete path, an id or a token, so
//!   the label has a small, fixed set of values.
//! - `status`: the HTTP status code (`200`, `404`, `429`), or, when there was no response,
//!   the kind of error ([`error_type`]: `connect`, `request`, `attempt_timeout`, `deadline`,
//!   `local_rate_limited`, ...).
//! - `reason`: the status code or error kind that was retried.
//! - `class`: the rate-limit class, `general` or `batch` ([`RequestClass`]).
//! - `source`: `server` or `local`.
//!
//! Durations are in seconds (Prometheus's convention), measured on tokio's clock.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::metrics::{Label, SharedString};
use http::{Method, StatusCode};
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::extensions::{PathTemplate, RequestClass};
use crate::trace::error_type;
use crate::types::{BoxError, HttpRequest, HttpResponse};

/// Counter: calls, once each whatever their attempts. Labels `method`, `endpoint`,
/// `status`.
pub const CALLS: &str = "talkjs_client_calls_total";
/// Histogram: the latency of a call in seconds, limiter waits, retries and backoff
/// included. Labels `method`, `endpoint`, `status`.
pub const CALL_DURATION: &str = "talkjs_client_call_duration_seconds";
/// Counter: attempts sent. Labels `method`, `endpoint`, `status`.
pub const ATTEMPTS: &str = "talkjs_client_attempts_total";
/// Histogram: the latency of one attempt in seconds (after its rate-limit slot). Labels
/// `method`, `endpoint`, `status`.
pub const ATTEMPT_DURATION: &str = "talkjs_client_attempt_duration_seconds";
/// Counter: retries scheduled. Labels `method`, `endpoint`, `reason`.
pub const RETRIES: &str = "talkjs_client_retries_total";
/// Counter: 429s, from the server (`source="server"`) or the local limiter
/// (`source="local"`). Labels `source`, `class`.
pub const RATE_LIMITED: &str = "talkjs_client_rate_limited_total";
/// Histogram: how long a request waited for its rate-limit slot, in seconds. Label `class`.
pub const RATE_LIMIT_WAIT: &str = "talkjs_client_rate_limit_wait_seconds";

/// The `method` label.
fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

/// The `class` label.
pub(crate) fn class(class: RequestClass) -> &'static str {
    match class {
        RequestClass::General => "general",
        RequestClass::Batch => "batch",
    }
}

/// The `status` (or `reason`) label of a response's status.
fn status(status: StatusCode) -> SharedString {
    SharedString::from(status.as_str().to_owned())
}

/// The `status` label of an outcome.
fn outcome(result: &Result<HttpResponse, BoxError>) -> SharedString {
    match result {
        Ok(response) => status(response.status()),
        Err(error) => SharedString::from(error_type(error.as_ref())),
    }
}

/// The `method` and `endpoint` labels of a request.
fn request_labels(req: &HttpRequest) -> [Label; 2] {
    [
        Label::new("method", method(req.method())),
        Label::new("endpoint", PathTemplate::of(req)),
    ]
}

/// Records a retry of `req` caused by `result`.
pub(crate) fn retry(req: &HttpRequest, result: &Result<HttpResponse, BoxError>) {
    let [method, endpoint] = request_labels(req);
    ::metrics::counter!(
        RETRIES,
        vec![method, endpoint, Label::new("reason", outcome(result))]
    )
    .increment(1);
}

/// Records the wait for a rate-limit slot of `class`.
pub(crate) fn limiter_wait(class_of: RequestClass, wait: Duration) {
    ::metrics::histogram!(RATE_LIMIT_WAIT, "class" => class(class_of)).record(wait.as_secs_f64());
}

/// Records a 429, from the server or the local limiter.
pub(crate) fn rate_limited(source: &'static str, class_of: RequestClass) {
    ::metrics::counter!(RATE_LIMITED, "source" => source, "class" => class(class_of)).increment(1);
}

/// Which metrics a [`MetricsLayer`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Calls,
    Attempts,
}

/// Layer recording [`CALLS`] and [`CALL_DURATION`] ([`MetricsLayer::calls`], outermost) or
/// [`ATTEMPTS`], [`ATTEMPT_DURATION`] and the server's 429s ([`MetricsLayer::attempts`],
/// inside the retry and rate-limit layers). The default stack has both; a stack assembled by
/// hand places them the same way.
#[derive(Debug, Clone, Copy)]
pub struct MetricsLayer {
    level: Level,
}

impl MetricsLayer {
    /// Records each call (place it outside the retry layer).
    pub fn calls() -> Self {
        Self {
            level: Level::Calls,
        }
    }

    /// Records each attempt (place it inside the retry and rate-limit layers).
    pub fn attempts() -> Self {
        Self {
            level: Level::Attempts,
        }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            level: self.level,
        }
    }
}

/// Service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    level: Level,
}

impl<S> Service<HttpRequest> for MetricsService<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    S::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let labels = request_labels(&req);
        let class = RequestClass::of(&req);
        MetricsFuture {
            inner: self.inner.call(req),
            start: Instant::now(),
            labels: Some(labels),
            class,
            level: self.level,
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`MetricsService`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        start: Instant,
        labels: Option<[Label; 2]>,
        class: RequestClass,
        level: Level,
    }
}

impl<F> std::fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsFuture").finish_non_exhaustive()
    }
}

impl<F, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<HttpResponse, E>>,
    E: Into<BoxError>,
{
    type Output = Result<HttpResponse, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Ready(r) => r.map_err(Into::into),
            Poll::Pending => return Poll::Pending,
        };
        let seconds = this.start.elapsed().as_secs_f64();
        if let Some([method, endpoint]) = this.labels.take() {
            let labels = vec![method, endpoint, Label::new("status", outcome(&result))];
            let (count, duration) = match this.level {
                Level::Calls => (CALLS, CALL_DURATION),
                Level::Attempts => (ATTEMPTS, ATTEMPT_DURATION),
            };
            ::metrics::histogram!(duration, labels.clone()).record(seconds);
            ::metrics::counter!(count, labels).increment(1);
            let throttled = result
                .as_ref()
                .is_ok_and(|r| r.status() == StatusCode::TOO_MANY_REQUESTS);
            if *this.level == Level::Attempts && throttled {
                rate_limited("server", *this.class);
            }
        }
        Poll::Ready(result)
    }
}
