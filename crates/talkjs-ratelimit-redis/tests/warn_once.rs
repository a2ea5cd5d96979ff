//! One warning per outage, not per call. Alone in its test binary: `tracing` caches per call
//! site whether a subscriber is interested, which races with other tests in parallel threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talkjs_ratelimit_redis::RedisStore;
use talkjs_test_support::logs::capture;
use talkjs_test_support::redis_server::free_port;
use talkjs_transport::{Quota, RateLimiter, RequestClass};

fn unreachable_url() -> String {
    format!("redis://127.0.0.1:{}/", free_port())
}

#[tokio::test(flavor = "current_thread")]
async fn falls_back_to_the_local_limiter_and_warns_once_per_outage() {
    let (captured, _guard) = capture(tracing::Level::INFO);

    let store = Arc::new(
        RedisStore::builder()
            .retry_interval(Duration::from_millis(20))
            .open(unreachable_url())
            .unwrap(),
    );
    let limiter = RateLimiter::new("app1")
        .general_quota(Quota::per_second(1_000, 5))
        .with_store(store.clone());

    for _ in 0..30 {
        limiter.acquire(RequestClass::General).await.unwrap();
        // Past the retry interval now and then, so several probes fail too.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let stats = store.stats();
    assert_eq!(stats.local, 30, "{stats:?}");
    assert_eq!(stats.redis, 0, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(
        stats.outages, 1,
        "one outage, however many probes: {stats:?}"
    );
    assert!(!store.is_available());

    let logs = captured.take();
    assert_eq!(
        logs.matches("Redis is unreachable").count(),
        1,
        "one warning per outage, not per call:\n{logs}"
    );
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("falling back"), "{logs}");
}
