//! The retry layer alone, over a scripted inner service, on tokio's paused clock: which
//! outcomes are retried, the backoff bounds, Retry-After, the budget, and the time limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use talkjs_transport::{
    Attempts, BoxError, HttpRequest, HttpResponse, Idempotency, RetryBudget, RetryConfig,
    RetryLayer, TimeoutKind, TimeoutLayer, TransportError,
};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt};

/// One scripted outcome of the inner service.
#[derive(Clone)]
enum Step {
    Status(u16, Option<String>),
    Refused,
    Reset,
    Hang,
}

/// Answers with the scripted steps in order (the last one repeats) and records when each
/// call arrived, with its body.
#[derive(Clone)]
struct Script {
    steps: Arc<Mutex<VecDeque<Step>>>,
    calls: Arc<Mutex<Vec<(Instant, Bytes)>>>,
}

impl Script {
    fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            steps: Arc::new(Mutex::new(steps.into_iter().collect())),
            calls: Arc::default(),
        }
    }

    fn times(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().iter().map(|c| c.0).collect()
    }

    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

impl Service<HttpRequest> for Script {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        self.calls
            .lock()
            .unwrap()
            .push((Instant::now(), req.body().clone()));
        let step = {
            let mut steps = self.steps.lock().unwrap();
            if steps.len() > 1 {
                steps.pop_front().unwrap()
            } else {
                steps.front().cloned().unwrap()
            }
        };
        Box::pin(async move {
            match step {
                Step::Status(code, retry_after) => {
                    let mut resp = http::Response::builder().status(code);
                    if let Some(v) = retry_after {
                        resp = resp.header("retry-after", v);
                    }
                    Ok(resp.body(Bytes::from_static(b"{}")).unwrap())
                }
                Step::Refused => Err(TransportError::Connect {
                    source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
                }
                .into()),
                Step::Reset => Err(TransportError::Request {
                    source: Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                }
                .into()),
                Step::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(HttpResponse::new(Bytes::new()))
                }
            }
        })
    }
}

fn ok() -> Step {
    Step::Status(200, None)
}

fn status(code: u16) -> Step {
    Step::Status(code, None)
}

fn get() -> HttpRequest {
    http::Request::get("/users/alice")
        .body(Bytes::new())
        .unwrap()
}

fn post(idempotent: bool) -> HttpRequest {
    let mut req = http::Request::post("/conversations/c/messages")
        .body(Bytes::from_static(b"[1]"))
        .unwrap();
    if idempotent {
        req.extensions_mut().insert(Idempotency::Idempotent);
    }
    req
}

fn no_budget() -> RetryConfig {
    RetryConfig::default().budget(None)
}

async fn run(
    config: RetryConfig,
    script: &Script,
    req: HttpRequest,
) -> Result<HttpResponse, BoxError> {
    ServiceBuilder::new()
        .layer(RetryLayer::new(config))
        .service(script.clone())
        .oneshot(req)
        .await
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_jittered_exponential_backoff() {
    let config = no_budget();
    for _ in 0..20 {
        let script = Script::new([status(503), status(500), status(502), ok()]);
        let resp = run(config.clone(), &script, get()).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.extensions().get::<Attempts>(), Some(&Attempts(4)));
        let t = script.times();
        assert_eq!(t.len(), 4);
        for (retry, pair) in (1u32..).zip(t.windows(2)) {
            let gap = pair[1] - pair[0];
            assert!(
                gap <= config.backoff_bound(retry),
                "retry {retry} waited {gap:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_the_delays() {
    // Full jitter: over many runs the first delay takes many different values below its bound.
    let mut gaps = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let script = Script::new([status(503), ok()]);
        run(no_budget(), &script, get()).await.unwrap();
        let t = script.times();
        gaps.insert(t[1] - t[0]);
    }
    assert!(gaps.len() > 20, "delays should vary: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_and_returns_the_last_response() {
    let script = Script::new([status(503)]);
    let resp = run(no_budget().max_attempts(3), &script, get())
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.extensions().get::<Attempts>(), Some(&Attempts(3)));
    assert_eq!(script.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_never_retried() {
    for code in [400, 401, 403, 404, 409, 422] {
        let script = Script::new([status(code), ok()]);
        let resp = run(no_budget(), &script, get()).await.unwrap();
        assert_eq!(resp.status(), code);
        assert_eq!(script.count(), 1, "{code} must not be retried");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_honoured() {
    let script = Script::new([Step::Status(429, Some("7".into())), ok()]);
    let resp = run(no_budget(), &script, get()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let t = script.times();
    assert!(
        t[1] - t[0] >= Duration::from_secs(7),
        "waited {:?}",
        t[1] - t[0]
    );
    assert!(t[1] - t[0] < Duration::from_millis(7_200));
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_honoured() {
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
    let script = Script::new([Step::Status(503, Some(at)), ok()]);
    run(no_budget(), &script, get()).await.unwrap();
    let t = script.times();
    // The date has one-second resolution.
    assert!(
        t[1] - t[0] >= Duration::from_secs(18),
        "waited {:?}",
        t[1] - t[0]
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_maximum_returns_at_once() {
    let script = Script::new([Step::Status(429, Some("3600".into())), ok()]);
    let resp = run(no_budget(), &script, get()).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3600");
    assert_eq!(script.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_posts_are_retried_only_when_nothing_was_processed() {
    // 5xx and a reset: the server may have processed it. Not retried.
    for step in [status(503), Step::Reset] {
        let script = Script::new([step, ok()]);
        let _ = run(no_budget(), &script, post(false)).await;
        assert_eq!(script.count(), 1);
    }
    // 429 and connection refused: certainly not processed. Retried.
    for step in [status(429), Step::Refused] {
        let script = Script::new([step, ok()]);
        let resp = run(no_budget(), &script, post(false)).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(script.count(), 2);
    }
}

#[tokio::test(start_paused = true)]
async fn idempotent_posts_are_retried_with_the_same_body() {
    let script = Script::new([status(503), Step::Reset, ok()]);
    let resp = run(no_budget(), &script, post(true)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let calls = script.calls.lock().unwrap();
    assert_eq!(calls.len(), 3);
    for (_, body) in calls.iter() {
        assert_eq!(body, &Bytes::from_static(b"[1]"));
    }
}

#[tokio::test(start_paused = true)]
async fn connection_errors_surface_after_the_last_attempt() {
    let script = Script::new([Step::Refused]);
    let err = run(no_budget().max_attempts(2), &script, get())
        .await
        .unwrap_err();
    assert!(
        matches!(
            TransportError::find(&*err),
            Some(TransportError::Connect { .. })
        ),
        "{err}"
    );
    assert_eq!(script.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_a_retry_storm() {
    // A budget of about one retry, whatever the traffic.
    let budget = RetryBudget::default()
        .ttl(Duration::from_secs(1))
        .min_per_sec(1)
        .retry_percent(0.0);
    let layer = RetryLayer::new(RetryConfig::default().budget(Some(budget)));
    let script = Script::new([status(503)]);
    let svc = ServiceBuilder::new().layer(layer).service(script.clone());
    for _ in 0..10 {
        let resp = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(resp.status(), 503);
    }
    // Without a budget that would be 40 attempts; the shared budget allows a retry or two.
    assert!(script.count() <= 12, "{} attempts", script.count());
    assert!(script.count() >= 10);

    let unbudgeted = Script::new([status(503)]);
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(no_budget()))
        .service(unbudgeted.clone());
    for _ in 0..10 {
        svc.clone().oneshot(get()).await.unwrap();
    }
    assert_eq!(unbudgeted.count(), 40);
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_and_is_retried() {
    let script = Script::new([Step::Hang, ok()]);
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(no_budget()))
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(2)))
        .service(script.clone());
    let started = Instant::now();
    let resp = svc.oneshot(get()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(script.count(), 2);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_call() {
    let script = Script::new([Step::Status(503, Some("10".into()))]);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(Duration::from_secs(15)))
        .layer(RetryLayer::new(no_budget()))
        .service(script.clone());
    let err = svc.oneshot(get()).await.unwrap_err();
    match TransportError::find(&*err) {
        Some(TransportError::Timeout {
            kind: TimeoutKind::Deadline,
            after,
        }) => {
            assert_eq!(*after, Duration::from_secs(15));
        }
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert_eq!(
        script.count(),
        2,
        "attempts at 0 s and 10 s, the deadline at 15 s"
    );
}

#[tokio::test(start_paused = true)]
async fn one_attempt_only_sends_once_and_records_no_attempts() {
    let script = Script::new([status(503), ok()]);
    let resp = run(no_budget().max_attempts(1), &script, get())
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(script.count(), 1);
    assert_eq!(resp.extensions().get::<Attempts>(), None);
    assert_eq!(Attempts::of(&resp), 1);
}

/// Wraps [`Script`] with a readiness to control: every clone (the retry layer sends a retry
/// through a fresh clone) is pending once before it is ready, and after `ready_budget`
/// readiness answers the service fails instead.
struct Gated {
    script: Script,
    primed: bool,
    polls: Arc<Mutex<usize>>,
    ready_budget: usize,
}

impl Gated {
    fn new(script: &Script, ready_budget: usize) -> Self {
        Self {
            script: script.clone(),
            primed: true,
            polls: Arc::default(),
            ready_budget,
        }
    }
}

impl Clone for Gated {
    fn clone(&self) -> Self {
        Self {
            script: self.script.clone(),
            primed: false,
            polls: Arc::clone(&self.polls),
            ready_budget: self.ready_budget,
        }
    }
}

impl Service<HttpRequest> for Gated {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = <Script as Service<HttpRequest>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        if !self.primed {
            // A fresh clone: not ready at the first poll.
            self.primed = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        let mut polls = self.polls.lock().unwrap();
        *polls += 1;
        if *polls > self.ready_budget {
            return std::task::Poll::Ready(Err("the service shut down".into()));
        }
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        self.script.call(req)
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_waits_until_its_service_is_ready() {
    let script = Script::new([status(503), status(502), ok()]);
    let gated = Gated::new(&script, usize::MAX);
    let polls = Arc::clone(&gated.polls);
    let resp = ServiceBuilder::new()
        .layer(RetryLayer::new(no_budget()))
        .service(gated)
        .oneshot(get())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(Attempts::of(&resp), 3);
    assert_eq!(script.count(), 3);
    // One readiness for the first attempt and one for each retry, each through a clone that
    // was pending first.
    assert_eq!(*polls.lock().unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_readiness_error_before_a_retry_ends_the_call() {
    let script = Script::new([status(503), ok()]);
    let err = ServiceBuilder::new()
        .layer(RetryLayer::new(no_budget()))
        .service(Gated::new(&script, 1))
        .oneshot(get())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "the service shut down");
    assert_eq!(script.count(), 1, "the retry was never sent");
}

/// Budgets tower's `TpsBudget` would panic on, each with what the error names.
fn out_of_range_budgets() -> Vec<(RetryBudget, &'static str)> {
    let base = RetryBudget::default();
    vec![
        (base.ttl(Duration::from_millis(500)), "ttl"),
        (base.ttl(Duration::from_secs(61)), "ttl"),
        (base.retry_percent(-0.1), "retry_percent"),
        (base.retry_percent(f32::NAN), "retry_percent"),
        (base.retry_percent(1000.5), "retry_percent"),
        (base.min_per_sec(u32::MAX), "min_per_sec"),
    ]
}

#[test]
fn out_of_range_settings_are_refused_by_validate_try_new_and_the_stack_builder() {
    use talkjs_auth::{AppId, Credentials, SecretKey};
    use talkjs_transport::{BuildError, RetryPolicy, StackBuilder};

    let mut bad: Vec<(RetryConfig, &str)> = out_of_range_budgets()
        .into_iter()
        .map(|(budget, what)| (RetryConfig::default().budget(Some(budget)), what))
        .collect();
    bad.push((RetryConfig::default().max_attempts(0), "max_attempts"));
    for (config, what) in bad {
        let message = match config.validate() {
            Err(BuildError::Invalid(message)) => message,
            other => panic!("{config:?}: {other:?}"),
        };
        assert!(message.contains(what), "{message}");
        assert!(RetryLayer::try_new(config.clone()).is_err());
        assert!(RetryPolicy::try_new(config.clone()).is_err());
        let stack = StackBuilder::new(
            AppId::new("app"),
            Credentials::LegacySecretKey(SecretKey::new("sk_test")),
        )
        .retry(Some(config))
        .build();
        assert!(
            matches!(&stack, Err(BuildError::Invalid(m)) if m == &message),
            "{:?}",
            stack.err()
        );
    }
    // The edges of the ranges are valid.
    let edges = RetryBudget::default()
        .ttl(Duration::from_secs(60))
        .min_per_sec(0)
        .retry_percent(1000.0);
    RetryConfig::default()
        .budget(Some(edges))
        .max_attempts(1)
        .validate()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn new_brings_out_of_range_settings_into_range_instead_of_panicking() {
    for (budget, _) in out_of_range_budgets() {
        let script = Script::new([status(503), ok()]);
        let resp = run(RetryConfig::default().budget(Some(budget)), &script, get())
            .await
            .unwrap();
        // A budget in range still allows the always-allowed retries per second.
        assert_eq!(
            (resp.status().as_u16(), script.count()),
            (200, 2),
            "{budget:?}"
        );
    }
    // max_attempts 0 counts as 1: one attempt, no retry.
    let script = Script::new([status(503), ok()]);
    let resp = run(no_budget().max_attempts(0), &script, get())
        .await
        .unwrap();
    assert_eq!((resp.status().as_u16(), script.count()), (503, 1));
}
