//! The hyper server: connections, fault injection, rate limits, authentication, and the
//! hand-off to the router.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use talkjs_models::WebhookEvent;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::api::{ApiError, ApiRequest, ApiResponse, Event, RequestBody, parse_query, split_path};
use crate::auth::Verifier;
use crate::clock::{Clock, Now};
use crate::faults::{Counters, Fate, FaultState, bump};
use crate::ratelimit::{Class, Limiter};
use crate::router;
use crate::store::{State, random_id};
use crate::sync::lock;

/// Largest request body accepted (file uploads included).
const MAX_BODY: usize = 25 * 1024 * 1024;

/// Everything shared by the server tasks and the [`FakeTalkJs`](crate::FakeTalkJs) handle.
pub(crate) struct Shared {
    pub(crate) verifier: Verifier,
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<FaultState>,
    /// The fake's clock (shifted by
    /// [`Faults::clock_skew_ms`](crate::config::Faults::clock_skew_ms)), shared with the
    /// webhook deliveries.
    pub(crate) clock: Arc<Clock>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) requests: AtomicU64,
    pub(crate) statuses: Mutex<BTreeMap<u16, u64>>,
    pub(crate) counts: Counters,
    pub(crate) events: Mutex<Vec<WebhookEvent>>,
    pub(crate) webhook: Option<mpsc::UnboundedSender<WebhookEvent>>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The default API version.
    pub(crate) api_version: String,
}

impl Shared {
    /// Counts a response status.
    fn count(&self, status: StatusCode) {
        *lock(&self.statuses).entry(status.as_u16()).or_default() += 1;
    }

    /// The time of a request processed now.
    fn now(&self) -> Now {
        let lag = lock(&self.faults).config.listing_lag;
        Now::new(&self.clock, lag)
    }

    /// Records and forwards the events of a request.
    fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut log = lock(&self.events);
        for event in events {
            let mut webhook = WebhookEvent::new(event.kind, event.data);
            webhook.id = Some(random_id("evt_", 20));
            webhook.created_at = Some(event.at);
            if let Some(tx) = &self.webhook {
                let _ = tx.send(webhook.clone());
            }
            log.push(webhook);
        }
    }
}

/// The error that makes hyper drop a connection without answering.
#[derive(Debug)]
struct InjectedReset;

impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for InjectedReset {}

/// A JSON response.
fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error response.
fn error_response(error: &ApiError) -> Response<Full<Bytes>> {
    json_response(error.status, &error.body())
}

/// Serves `GET /files/{token}/{name}` (the attachment URLs; no authentication).
fn serve_file(shared: &Shared, segments: &[String]) -> Response<Full<Bytes>> {
    let state = lock(&shared.state);
    let Some(file) = segments.get(1).and_then(|t| state.files.get(t)) else {
        return error_response(&ApiError::not_found(
            "file",
            segments.get(1).map_or("", String::as_str),
        ));
    };
    let mut response = Response::new(Full::new(file.data.clone()));
    let content_type = file
        .content_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// Handles one HTTP request: draws its fate, waits the latency, then answers as the fate
/// says (see [`Faults`](crate::config::Faults) for the order).
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, InjectedReset> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let draw = lock(&shared.faults).draw(req.method() != Method::GET);
    if !draw.latency.is_zero() {
        tokio::time::sleep(draw.latency).await;
    }
    let counts = &shared.counts;
    let response = match draw.fate {
        Fate::Reset => {
            bump(&counts.resets);
            return Err(InjectedReset);
        }
        Fate::Unavailable => {
            bump(&counts.unavailable);
            error_response(&ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "injected fault: the request was not processed",
            ))
        }
        Fate::Throttle { retry_after } => {
            bump(&counts.throttled);
            if !retry_after {
                bump(&counts.throttled_without_retry_after);
            }
            throttled(retry_after)
        }
        Fate::LateWrite { reset } => match admit(&shared, req).await {
            Admission::Answer(response) => response,
            Admission::Admitted(admitted) => {
                bump(&counts.late_writes);
                spawn_late_write(Arc::clone(&shared), admitted, draw.late_delay);
                if reset {
                    return Err(InjectedReset);
                }
                error_response(&ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "GATEWAY_TIMEOUT",
                    "injected fault: the answer is lost; the request will still be processed",
                ))
            }
        },
        Fate::Normal | Fate::ErrorAfter | Fate::Slow => process(&shared, req, draw.fate).await,
    };
    shared.count(response.status());
    if draw.fate == Fate::Slow {
        bump(&counts.slow);
        tokio::time::sleep(draw.slow_delay).await;
    }
    Ok(response)
}

/// The injected `429`, with `Retry-After: 1` or without `Retry-After`.
fn throttled(retry_after: bool) -> Response<Full<Bytes>> {
    let mut response = error_response(&ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        "injected fault: too many requests; the request was not processed",
    ));
    if retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Processes a late write `delay` from now, in a task of its own: it lands whether or not
/// the client is still connected.
fn spawn_late_write(shared: Arc<Shared>, admitted: Admitted, delay: Duration) {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let ApiResponse { status, .. } = apply(&shared, admitted);
        tracing::debug!(%status, "talkjs-fake: a late write was processed");
        bump(&shared.counts.late_writes_applied);
    });
}

/// The `429` answer when the request's rate-limit class has no token left.
fn rate_limited(
    shared: &Shared,
    method: &Method,
    segments: &[String],
) -> Option<Response<Full<Bytes>>> {
    let class = if *method == Method::POST && segments == ["batch"] {
        Class::Batch
    } else {
        Class::General
    };
    let admitted = lock(&shared.limiter).check(class);
    if let Err(wait) = admitted {
        let secs = wait.as_secs_f64().ceil().max(1.0);
        let mut response = error_response(&ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("rate limit exceeded; retry in {:.3} s", wait.as_secs_f64()),
        ));
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs_u64(secs)));
        return Some(response);
    }
    None
}

/// A request past routing, the rate limit and authentication, with its body read: what is
/// needed to process it, now or later.
struct Admitted {
    method: Method,
    /// The path after `/v1/{appId}`.
    segments: Vec<String>,
    query: String,
    content_type: Option<String>,
    api_version: String,
    bytes: Bytes,
}

/// Whether a request is to be processed.
enum Admission {
    /// Answered without processing (a file download, a wrong path or app, a `429` of the
    /// rate limit, a `401`, a body too large).
    Answer(Response<Full<Bytes>>),
    /// To be processed.
    Admitted(Admitted),
}

/// Routes, rate-limits and authenticates a request, and reads its body.
async fn admit(shared: &Shared, req: Request<Incoming>) -> Admission {
    let (parts, body) = req.into_parts();
    let segments = split_path(parts.uri.path());
    if parts.method == Method::GET && segments.first().is_some_and(|s| s == "files") {
        return Admission::Answer(serve_file(shared, &segments));
    }
    let app_id = shared.verifier.app_id();
    match (segments.first(), segments.get(1)) {
        (Some(v1), Some(app)) if v1 == "v1" && app == app_id => {}
        (Some(v1), Some(app)) if v1 == "v1" => {
            return Admission::Answer(error_response(&ApiError::new(
                StatusCode::NOT_FOUND,
                "APP_NOT_FOUND",
                format!("app {app:?} does not exist on this server"),
            )));
        }
        _ => {
            return Admission::Answer(error_response(&ApiError::new(
                StatusCode::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "resources live under /v1/{appId}/",
            )));
        }
    }
    let segments: Vec<String> = segments.into_iter().skip(2).collect();

    if let Some(response) = rate_limited(shared, &parts.method, &segments) {
        return Admission::Answer(response);
    }

    if let Err(reason) = shared
        .verifier
        .check(parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes))
    {
        return Admission::Answer(error_response(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            reason,
        )));
    }

    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Admission::Answer(error_response(&ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                format!("could not read the body: {e}"),
            )));
        }
    };
    let header_str = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Admission::Admitted(Admitted {
        method: parts.method.clone(),
        segments,
        query: parts.uri.query().unwrap_or_default().to_owned(),
        content_type: header_str("content-type"),
        api_version: header_str("talkjs-rest-version")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| shared.api_version.clone()),
        bytes,
    })
}

/// Processes an admitted request: checks its body, runs it against the state at the
/// current time, publishes its webhook events.
fn apply(shared: &Shared, admitted: Admitted) -> ApiResponse {
    let Admitted {
        method,
        segments,
        query,
        content_type,
        api_version,
        bytes,
    } = admitted;
    let body = match RequestBody::from_http(&method, &segments, content_type.as_deref(), bytes) {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let api_request = ApiRequest {
        method,
        segments,
        query: parse_query(&query),
        body,
        api_version,
        in_batch: false,
    };
    let now = shared.now();
    let mut events = Vec::new();
    let response = {
        let mut state = lock(&shared.state);
        router::dispatch(&mut state, &api_request, &mut events, now)
    };
    shared.publish(events);
    response
}

/// Admits and processes a request now (a normal, slow or error-after request).
async fn process(shared: &Shared, req: Request<Incoming>, fate: Fate) -> Response<Full<Bytes>> {
    let admitted = match admit(shared, req).await {
        Admission::Answer(response) => return response,
        Admission::Admitted(admitted) => admitted,
    };
    let ApiResponse { status, body } = apply(shared, admitted);
    if fate == Fate::ErrorAfter {
        bump(&shared.counts.errors_after);
        return error_response(&ApiError::internal(
            "injected fault: the request WAS processed, but the answer is lost",
        ));
    }
    json_response(status, &body)
}

/// Whole seconds as an integer (for `Retry-After`).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn secs_u64(secs: f64) -> u64 {
    secs.clamp(0.0, 86_400.0) as u64
}

/// Accepts connections until shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stopped| *stopped) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "talkjs-fake: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let mut stop = shared.shutdown.subscribe();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let service = {
                let shared = Arc::clone(&shared);
                service_fn(move |req| handle(Arc::clone(&shared), req))
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "talkjs-fake: connection ended");
                    }
                }
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
        });
    }
}
