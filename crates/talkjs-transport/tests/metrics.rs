//! Metrics (feature `metrics`): a run of the default stack with a retried 503, a 429 from
//! the server, a wait for the rate limiter and a local refusal, recorded by a small recorder
//! of this test's own; every counter and histogram is checked, and no label carries an id.
//!
//! Run: `cargo test -p talkjs-transport --features metrics --test metrics`.
//!
//! The recorder is installed for this thread only (`metrics::with_local_recorder`) around a
//! current-thread runtime on tokio's paused clock, so tests on other threads do not mix in
//! and the durations are exact.
#![cfg(feature = "metrics")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
use talkjs_transport::{
    HttpRequest, HttpResponse, Quota, RateLimiter, RetryConfig, StackBuilder, metrics as names,
};
use tower::ServiceExt;

/// One metric: a counter's total and every value a histogram recorded.
#[derive(Default)]
struct Handle {
    count: AtomicU64,
    values: Mutex<Vec<f64>>,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.count.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.count.fetch_max(value, Ordering::Relaxed);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.values.lock().unwrap().push(value);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, _: f64) {}
    fn decrement(&self, _: f64) {}
    fn set(&self, _: f64) {}
}

/// Every metric by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct TestRecorder {
    metrics: Mutex<BTreeMap<String, Arc<Handle>>>,
}

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.metrics.lock().unwrap().entry(id).or_default())
    }

    fn counter(&self, id: &str) -> u64 {
        self.metrics
            .lock()
            .unwrap()
            .get(id)
            .map_or(0, |h| h.count.load(Ordering::Relaxed))
    }

    fn values(&self, id: &str) -> Vec<f64> {
        self.metrics
            .lock()
            .unwrap()
            .get(id)
            .map_or_else(Vec::new, |h| h.values.lock().unwrap().clone())
    }

    fn ids(&self) -> Vec<String> {
        self.metrics.lock().unwrap().keys().cloned().collect()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

/// A stack over a canned server: `GET /users/alice` answers 503 once, then 200; `PUT
/// /users/bob` answers 429 (`Retry-After: 1`) once, then 200; anything else 200.
fn stack(limiter: RateLimiter) -> talkjs_transport::HttpService {
    let app = AppId::new("app1");
    let signer = TokenSigner::new(app.clone(), SecretKey::new("sk_test_metrics"));
    let seen = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let server = tower::service_fn(move |req: HttpRequest| {
        let seen = Arc::clone(&seen);
        async move {
            let path = req.uri().path().to_owned();
            let n = {
                let mut seen = seen.lock().unwrap();
                let n = seen.entry(path.clone()).or_default();
                *n += 1;
                *n
            };
            let mut response = HttpResponse::new(Bytes::from_static(b"{}"));
            match (path.as_str(), n) {
                ("/v1/app1/users/alice", 1) => {
                    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                }
                ("/v1/app1/users/bob", 1) => {
                    *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
                    response
                        .headers_mut()
                        .insert("retry-after", http::HeaderValue::from_static("1"));
                }
                _ => {}
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    StackBuilder::new(app, Credentials::AppToken(signer))
        .inner_service(server)
        .rate_limiter(Some(limiter))
        .retry(Some(
            RetryConfig::default().base_delay(Duration::from_millis(1)),
        ))
        .build()
        .unwrap()
}

async fn send(
    service: &talkjs_transport::HttpService,
    method: http::Method,
    path: &str,
) -> Result<http::StatusCode, String> {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .body(Bytes::new())
        .unwrap();
    service
        .clone()
        .oneshot(request)
        .await
        .map(|r| r.status())
        .map_err(|e| e.to_string())
}

#[test]
fn a_retry_a_429_a_wait_and_a_local_refusal_are_recorded() {
    let recorder = TestRecorder::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        rt.block_on(async {
            // One request a second, no burst: the retry of the 503 waits ~1 s for its slot.
            let limiter = RateLimiter::new("app1")
                .general_quota(Quota::with_interval(Duration::from_secs(1), 1));
            let service = stack(limiter);
            assert_eq!(
                send(&service, http::Method::GET, "/users/alice").await,
                Ok(http::StatusCode::OK)
            );
            assert_eq!(
                send(&service, http::Method::PUT, "/users/bob").await,
                Ok(http::StatusCode::OK)
            );

            // A limiter that lets a call wait at most 1 s, for a slot a minute apart.
            let strict = RateLimiter::new("app2")
                .general_quota(Quota::with_interval(Duration::from_secs(60), 1))
                .max_wait(Some(Duration::from_secs(1)));
            let service = stack(strict);
            assert_eq!(
                send(&service, http::Method::GET, "/users").await,
                Ok(http::StatusCode::OK)
            );
            let refused = send(&service, http::Method::GET, "/users")
                .await
                .unwrap_err();
            assert!(refused.contains("rate limited locally"), "{refused}");
        });
    });

    let ids = recorder.ids();
    println!("{ids:#?}");
    let alice = "endpoint=/users/{userId},method=GET";
    let bob = "endpoint=/users/{userId},method=PUT";
    let list = "endpoint=/users,method=GET";
    let counter = |name: &str, labels: &str| recorder.counter(&format!("{name}{{{labels}}}"));

    // Calls: once each, with their final status (the refusal has no HTTP status).
    assert_eq!(counter(names::CALLS, &format!("{alice},status=200")), 1);
    assert_eq!(counter(names::CALLS, &format!("{bob},status=200")), 1);
    assert_eq!(counter(names::CALLS, &format!("{list},status=200")), 1);
    assert_eq!(
        counter(names::CALLS, &format!("{list},status=local_rate_limited")),
        1
    );
    // Attempts: each one sent, with its own status; the refused call sent none.
    assert_eq!(counter(names::ATTEMPTS, &format!("{alice},status=503")), 1);
    assert_eq!(counter(names::ATTEMPTS, &format!("{alice},status=200")), 1);
    assert_eq!(counter(names::ATTEMPTS, &format!("{bob},status=429")), 1);
    assert_eq!(counter(names::ATTEMPTS, &format!("{bob},status=200")), 1);
    assert_eq!(counter(names::ATTEMPTS, &format!("{list},status=200")), 1);
    let attempts: u64 = ids
        .iter()
        .filter(|id| id.starts_with(names::ATTEMPTS))
        .map(|id| recorder.counter(id))
        .sum();
    assert_eq!(attempts, 5);
    // Retries, by reason.
    assert_eq!(counter(names::RETRIES, &format!("{alice},reason=503")), 1);
    assert_eq!(counter(names::RETRIES, &format!("{bob},reason=429")), 1);
    // 429s: one from the server, one from the local limiter.
    assert_eq!(
        counter(names::RATE_LIMITED, "class=general,source=server"),
        1
    );
    assert_eq!(
        counter(names::RATE_LIMITED, "class=general,source=local"),
        1
    );

    // The limiter's waits: one per slot granted (4 attempts, then the first list call).
    let waits = recorder.values(&format!("{}{{class=general}}", names::RATE_LIMIT_WAIT));
    assert_eq!(waits.len(), 5, "{waits:?}");
    assert!(waits[0] <= 0.0, "{waits:?}");
    // The retry of the 503 came ≤ 1 ms after the first attempt: it waited the rest of 1 s.
    assert!((0.99..=1.0).contains(&waits[1]), "{waits:?}");
    // Latency histograms: the 429's call took at least its Retry-After; its attempts none
    // (the canned server answers at once).
    let call = recorder.values(&format!("{}{{{bob},status=200}}", names::CALL_DURATION));
    assert_eq!(call.len(), 1);
    assert!(call[0] >= 1.0, "{call:?}");
    let alice_call = recorder.values(&format!("{}{{{alice},status=200}}", names::CALL_DURATION));
    assert!(
        alice_call.len() == 1 && alice_call[0] >= 0.99,
        "{alice_call:?}"
    );
    for status in ["429", "200"] {
        let attempt = recorder.values(&format!(
            "{}{{{bob},status={status}}}",
            names::ATTEMPT_DURATION
        ));
        assert_eq!(attempt, vec![0.0], "{status}");
    }

    // Only templates as endpoints: no id, no token.
    for id in &ids {
        assert!(
            !id.contains("alice") && !id.contains("bob") && !id.contains("app1"),
            "{id}"
        );
    }
}
