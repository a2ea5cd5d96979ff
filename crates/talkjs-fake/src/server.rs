//! The hyper server: connections, fault injection, rate limits, authentication, and the
//! hand-off to the router.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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
use crate::ratelimit::{Class, Limiter};
use crate::store::{State, random_id};
use crate::{Faults, router};

/// Largest request body accepted (file uploads included).
const MAX_BODY: usize = 25 * 1024 * 1024;

/// Locks a mutex, ignoring poisoning (the data stays usable for a test server).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Fault injection state.
pub(crate) struct FaultState {
    pub(crate) config: Faults,
    rng: fastrand::Rng,
}

impl FaultState {
    pub(crate) fn new(config: Faults) -> Self {
        Self {
            config,
            rng: fastrand::Rng::with_seed(config.seed),
        }
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Normal,
    Reset,
    Unavailable,
    ErrorAfter,
}

/// Everything shared by the server tasks and the [`FakeTalkJs`](crate::FakeTalkJs) handle.
pub(crate) struct Shared {
    pub(crate) verifier: Verifier,
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) requests: AtomicU64,
    pub(crate) statuses: Mutex<BTreeMap<u16, u64>>,
    pub(crate) resets: AtomicU64,
    pub(crate) events: Mutex<Vec<WebhookEvent>>,
    pub(crate) webhook: Option<mpsc::UnboundedSender<WebhookEvent>>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The default API version.
    pub(crate) api_version: String,
}

/// `latency` plus the `share` (in `[0, 1)`) of `jitter`, saturating: a latency near
/// `Duration::MAX` means "never answer", not a panic.
fn delay(latency: Duration, jitter: Duration, share: f64) -> Duration {
    let jitter = Duration::try_from_secs_f64(jitter.as_secs_f64() * share).unwrap_or(Duration::MAX);
    latency.saturating_add(jitter)
}

impl Shared {
    /// Counts a response status.
    fn count(&self, status: StatusCode) {
        *lock(&self.statuses).entry(status.as_u16()).or_default() += 1;
    }

    /// Draws the fate and delay of a request (always the same number of draws, so the
    /// sequence only depends on the seed and the number of requests).
    fn draw(&self) -> (Fate, Duration) {
        let mut faults = lock(&self.faults);
        let roll = faults.rng.f64();
        let after = faults.rng.bool();
        let jitter = faults.rng.f64();
        let config = faults.config;
        let fate = if roll < config.reset_rate {
            Fate::Reset
        } else if roll < config.reset_rate + config.error_rate {
            if after {
                Fate::ErrorAfter
            } else {
                Fate::Unavailable
            }
        } else {
            Fate::Normal
        };
        (fate, delay(config.latency, config.latency_jitter, jitter))
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

/// Handles one HTTP request.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, InjectedReset> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let (fate, delay) = shared.draw();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match fate {
        Fate::Reset => {
            shared.resets.fetch_add(1, Ordering::Relaxed);
            return Err(InjectedReset);
        }
        Fate::Unavailable => error_response(&ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "injected fault: the request was not processed",
        )),
        Fate::Normal | Fate::ErrorAfter => process(&shared, req, fate).await,
    };
    shared.count(response.status());
    Ok(response)
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

/// Routes, rate-limits, authenticates and runs a request.
async fn process(shared: &Shared, req: Request<Incoming>, fate: Fate) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let segments = split_path(parts.uri.path());
    if parts.method == Method::GET && segments.first().is_some_and(|s| s == "files") {
        return serve_file(shared, &segments);
    }
    let app_id = shared.verifier.app_id();
    match (segments.first(), segments.get(1)) {
        (Some(v1), Some(app)) if v1 == "v1" && app == app_id => {}
        (Some(v1), Some(app)) if v1 == "v1" => {
            return error_response(&ApiError::new(
                StatusCode::NOT_FOUND,
                "APP_NOT_FOUND",
                format!("app {app:?} does not exist on this server"),
            ));
        }
        _ => {
            return error_response(&ApiError::new(
                StatusCode::NOT_FOUND,
                "ROUTE_NOT_FOUND",
                "resources live under /v1/{appId}/",
            ));
        }
    }
    let segments: Vec<String> = segments.into_iter().skip(2).collect();

    if let Some(response) = rate_limited(shared, &parts.method, &segments) {
        return response;
    }

    if let Err(reason) = shared
        .verifier
        .check(parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes))
    {
        return error_response(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            reason,
        ));
    }

    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return error_response(&ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                format!("could not read the body: {e}"),
            ));
        }
    };
    let header_str = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body = match RequestBody::from_http(
        &parts.method,
        &segments,
        header_str("content-type").as_deref(),
        bytes,
    ) {
        Ok(body) => body,
        Err(error) => return error_response(&error),
    };
    let api_request = ApiRequest {
        method: parts.method.clone(),
        segments,
        query: parse_query(parts.uri.query().unwrap_or_default()),
        body,
        api_version: header_str("talkjs-rest-version")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| shared.api_version.clone()),
        in_batch: false,
    };

    let mut events = Vec::new();
    let ApiResponse { status, body } = {
        let mut state = lock(&shared.state);
        router::dispatch(&mut state, &api_request, &mut events)
    };
    shared.publish(events);
    if fate == Fate::ErrorAfter {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn delay_adds_a_share_of_the_jitter_and_saturates() {
        let ms = Duration::from_millis;
        assert_eq!(super::delay(ms(10), ms(100), 0.0), ms(10));
        assert_eq!(super::delay(ms(10), ms(100), 0.5), ms(60));
        assert_eq!(
            super::delay(Duration::ZERO, Duration::ZERO, 0.99),
            Duration::ZERO
        );
        let max = Duration::MAX;
        assert_eq!(super::delay(max, max, 0.99), max);
        assert!(super::delay(ms(1), max, 0.999_999) > max / 2);
        assert_eq!(super::delay(max, ms(1), 0.5), max);
    }
}
