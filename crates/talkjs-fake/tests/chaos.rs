//! Rate limits and fault injection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use tokio::time::Instant;

use common::Api;
use serde_json::json;
use talkjs_fake::{FakeTalkJs, Faults, RateLimitConfig};

// The rate-limit tests run on tokio's paused clock (`start_paused`): the fake's buckets
// read tokio's clock, which stands still until the test advances it, so each verdict
// follows from the configuration alone, however slow the machine. Nothing here sets a
// timer, so the runtime never auto-advances the clock on its own; `still` checks that.

/// Asserts the paused clock has not moved since `at`.
fn still(at: Instant) {
    assert_eq!(Instant::now(), at, "the paused clock moved by itself");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_answers_429_with_retry_after() {
    let config = RateLimitConfig {
        burst: 5,
        per_second: 2.0,
        batch_burst: 1,
        batch_per_second: 1.0,
        time_scale: 1.0,
    };
    let api = Api::with(FakeTalkJs::builder().rate_limit(config)).await;
    let t0 = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = api.get("/users").await;
        if r.status == 429 {
            // Half a second to the next token, rounded up to whole seconds.
            assert_eq!(r.headers["retry-after"], "1");
            assert_eq!(r.body["errorCode"], "RATE_LIMITED");
        }
        statuses.push(r.status);
    }
    still(t0);
    // The burst of 5, then nothing: no time passed, so no token came back.
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
    assert_eq!(api.fake.count_429(), 5);

    // Batches have their own bucket: the general one is empty, one batch still passes.
    assert_eq!(api.post("/batch", &json!([])).await.status, 200);
    assert_eq!(api.post("/batch", &json!([])).await.status, 429);
    still(t0);

    // Tokens come back at the sustained rate: one per 500 ms, not before.
    tokio::time::advance(Duration::from_millis(499)).await;
    assert_eq!(api.get("/users").await.status, 429);
    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(api.get("/users").await.status, 200);
    assert_eq!(api.get("/users").await.status, 429);
    // Ten seconds refill the whole burst of 5, and no more.
    tokio::time::advance(Duration::from_secs(10)).await;
    let mut refilled = Vec::new();
    for _ in 0..6 {
        refilled.push(api.get("/users").await.status);
    }
    assert_eq!(refilled, [200, 200, 200, 200, 200, 429]);
    // The batch bucket refilled too (1 per second).
    assert_eq!(api.post("/batch", &json!([])).await.status, 200);

    // Off at runtime.
    api.fake.set_rate_limit(None);
    for _ in 0..20 {
        assert_eq!(api.get("/users").await.status, 200);
    }
}

#[tokio::test(start_paused = true)]
async fn time_scale_speeds_up_the_refill() {
    let scaled = RateLimitConfig {
        burst: 2,
        per_second: 0.05,
        time_scale: 100.0,
        ..RateLimitConfig::TALKJS
    };
    let api = Api::with(FakeTalkJs::builder().rate_limit(scaled)).await;
    assert_eq!(api.get("/users").await.status, 200);
    assert_eq!(api.get("/users").await.status, 200);
    assert_eq!(api.get("/users").await.status, 429);
    // One token per 20 s in real time; per 200 ms at 100× speed.
    tokio::time::advance(Duration::from_millis(199)).await;
    assert_eq!(api.get("/users").await.status, 429);
    tokio::time::advance(Duration::from_millis(2)).await;
    assert_eq!(api.get("/users").await.status, 200);
    assert_eq!(api.get("/users").await.status, 429);
}

/// Runs `n` sequential GETs and records each outcome (status, or 0 for a reset).
async fn outcomes(api: &Api, n: usize) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        match api
            .send(api.request(http::Method::GET, "/users", None))
            .await
        {
            Ok(r) => out.push(r.status),
            Err(_) => out.push(0),
        }
    }
    out
}

#[tokio::test]
async fn faults_are_reproducible_from_a_seed() {
    let faults = Faults::seeded(7).error_rate(0.3).reset_rate(0.1);
    let first = Api::with(FakeTalkJs::builder().faults(faults)).await;
    let second = Api::with(FakeTalkJs::builder().faults(faults)).await;
    let a = outcomes(&first, 60).await;
    let b = outcomes(&second, 60).await;
    assert_eq!(a, b);
    for expected in [0, 200, 500, 503] {
        assert!(a.contains(&expected), "{expected} missing from {a:?}");
    }
    assert_eq!(first.fake.request_count(), 60);
    assert_eq!(
        first.fake.reset_count(),
        a.iter().filter(|s| **s == 0).count() as u64
    );

    // Reseeding at runtime replays the same sequence.
    first.fake.set_faults(faults);
    assert_eq!(outcomes(&first, 60).await, a);
    // Another seed gives another sequence.
    first
        .fake
        .set_faults(Faults::seeded(8).error_rate(0.3).reset_rate(0.1));
    assert_ne!(outcomes(&first, 60).await, a);
    // No faults: all fine.
    first.fake.set_faults(Faults::none());
    assert!(outcomes(&first, 20).await.iter().all(|s| *s == 200));
}

#[tokio::test]
async fn errors_after_processing_take_effect_and_idempotency_keys_save_retries() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    api.conversation("c", &["a"]).await;
    api.fake.set_faults(Faults::seeded(3).error_rate(1.0));
    let mut answered_500 = Vec::new();
    let mut answered_503 = 0;
    for i in 0..20 {
        let body = json!([{ "type": "UserMessage", "sender": "a", "text": format!("m{i}"), "idempotencyKey": format!("k{i}") }]);
        let r = api.post("/conversations/c/messages", &body).await;
        match r.status {
            500 => answered_500.push(i),
            503 => answered_503 += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!answered_500.is_empty() && answered_503 > 0);
    // 500: stored anyway; 503: not.
    assert_eq!(api.fake.messages("c").len(), answered_500.len());

    // Retrying everything with the same keys completes the set without duplicates.
    api.fake.set_faults(Faults::none());
    for i in 0..20 {
        let body = json!([{ "type": "UserMessage", "sender": "a", "text": format!("m{i}"), "idempotencyKey": format!("k{i}") }]);
        assert_eq!(
            api.post("/conversations/c/messages", &body).await.status,
            200
        );
    }
    assert_eq!(api.fake.messages("c").len(), 20);
}

#[tokio::test(start_paused = true)]
async fn latency_is_added() {
    let api = Api::with(
        FakeTalkJs::builder().faults(Faults::seeded(1).latency(Duration::from_millis(60))),
    )
    .await;
    let start = Instant::now();
    assert_eq!(api.get("/users").await.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(60));
}
