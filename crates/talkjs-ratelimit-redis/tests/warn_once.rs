//! One warning per outage, not per call. Alone in its test binary: `tracing` caches per call
//! site whether a subscriber is interested, which races with other tests in parallel threads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use talkjs_ratelimit_redis::RedisStore;
use talkjs_transport::{Quota, RateLimiter, RequestClass};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn unreachable_url() -> String {
    format!("redis://127.0.0.1:{}/", common::free_port())
}

#[tokio::test(flavor = "current_thread")]
async fn falls_back_to_the_local_limiter_and_warns_once_per_outage() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let logs = captured.text();
    assert_eq!(
        logs.matches("Redis is unreachable").count(),
        1,
        "one warning per outage, not per call:\n{logs}"
    );
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("falling back"), "{logs}");
}
