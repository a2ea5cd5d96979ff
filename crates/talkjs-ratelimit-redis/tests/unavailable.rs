//! Redis unreachable (nothing listens on the port): the default falls back to the local
//! limiter; `FailCall` fails the call. No `redis-server` needed. (The warning is tested in
//! `warn_once.rs`, alone in its binary: `tracing` caches per call site whether anyone
//! listens, which races with other tests running in parallel.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use talkjs_ratelimit_redis::{Error, RedisStore, WhenUnavailable};
use talkjs_test_support::redis_server::free_port;
use talkjs_transport::{
    Quota, RateLimitStore, RateLimiter, RequestClass, Reservation, TransportError,
};

fn unreachable_url() -> String {
    format!("redis://127.0.0.1:{}/", free_port())
}

#[tokio::test]
async fn the_local_fallback_still_limits() {
    let store = RedisStore::open(unreachable_url()).unwrap();
    let quota = Quota::with_interval(Duration::from_secs(10), 2);
    for _ in 0..2 {
        let reservation = store.reserve("k", quota, None).await.unwrap();
        assert_eq!(reservation, Reservation::Granted(Duration::ZERO));
    }
    match store
        .reserve("k", quota, Some(Duration::from_secs(1)))
        .await
        .unwrap()
    {
        Reservation::Denied(wait) => assert!(wait > Duration::from_secs(9), "{wait:?}"),
        granted @ Reservation::Granted(_) => panic!("the third is 10 s away: {granted:?}"),
    }
    // A 429 pushes the local state back too.
    store
        .penalize("other", quota, Duration::from_secs(30))
        .await
        .unwrap();
    match store
        .reserve("other", quota, Some(Duration::from_secs(1)))
        .await
        .unwrap()
    {
        Reservation::Denied(wait) => assert!(wait > Duration::from_secs(29), "{wait:?}"),
        granted @ Reservation::Granted(_) => panic!("penalized for 30 s: {granted:?}"),
    }
}

#[tokio::test]
async fn replicas_share_the_fallback_quota() {
    let store = RedisStore::builder()
        .replicas(4)
        .open(unreachable_url())
        .unwrap();
    // Burst 8 for all replicas: 2 for this one while Redis is away.
    let quota = Quota::with_interval(Duration::from_secs(1), 8);
    let max = Some(Duration::from_millis(500));
    assert!(matches!(
        store.reserve("k", quota, max).await.unwrap(),
        Reservation::Granted(_)
    ));
    assert!(matches!(
        store.reserve("k", quota, max).await.unwrap(),
        Reservation::Granted(_)
    ));
    assert!(matches!(
        store.reserve("k", quota, max).await.unwrap(),
        Reservation::Denied(_)
    ));
}

#[tokio::test]
async fn fail_call_returns_the_error() {
    let store = Arc::new(
        RedisStore::builder()
            .when_unavailable(WhenUnavailable::FailCall)
            .retry_interval(Duration::from_secs(60))
            .open(unreachable_url())
            .unwrap(),
    );
    let limiter = RateLimiter::new("app1").with_store(store.clone());

    // The first call tries Redis: connection refused.
    let err = limiter.acquire(RequestClass::General).await.unwrap_err();
    let TransportError::RateLimitStore { source } = &err else {
        panic!("expected a store error, got {err:?}");
    };
    let source = source.downcast_ref::<Error>().expect("the crate's error");
    assert!(
        matches!(source, Error::Redis(_) | Error::Timeout(_)),
        "{source:?}"
    );

    // The next ones, within the retry interval, fail at once without trying.
    let err = limiter.acquire(RequestClass::Batch).await.unwrap_err();
    let TransportError::RateLimitStore { source } = &err else {
        panic!("expected a store error, got {err:?}");
    };
    assert!(
        matches!(
            source.downcast_ref::<Error>(),
            Some(Error::Unavailable { .. })
        ),
        "{source:?}"
    );
    let err = limiter
        .on_rate_limited(RequestClass::General, None)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::RateLimitStore { .. }));

    let stats = store.stats();
    assert_eq!(
        (stats.failed, stats.local, stats.redis),
        (3, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.outages, 1);
}

#[tokio::test]
async fn a_huge_retry_interval_fails_calls_instead_of_panicking() {
    let store = Arc::new(
        RedisStore::builder()
            .when_unavailable(WhenUnavailable::FailCall)
            .retry_interval(Duration::MAX)
            .open(unreachable_url())
            .unwrap(),
    );
    let limiter = RateLimiter::new("app1").with_store(store.clone());

    // The first failure schedules the next probe at "now + Duration::MAX".
    let err = limiter.acquire(RequestClass::General).await.unwrap_err();
    let TransportError::RateLimitStore { source } = &err else {
        panic!("expected a store error, got {err:?}");
    };
    assert!(
        matches!(
            source.downcast_ref::<Error>(),
            Some(Error::Redis(_) | Error::Timeout(_))
        ),
        "{source:?}"
    );
    // No retry is due for a very long time: the following calls fail at once.
    for _ in 0..2 {
        let err = limiter.acquire(RequestClass::General).await.unwrap_err();
        let TransportError::RateLimitStore { source } = &err else {
            panic!("expected a store error, got {err:?}");
        };
        assert!(
            matches!(
                source.downcast_ref::<Error>(),
                Some(Error::Unavailable { .. })
            ),
            "{source:?}"
        );
    }
    assert!(!store.is_available());
    let stats = store.stats();
    assert_eq!((stats.failed, stats.outages), (3, 1), "{stats:?}");
}

#[tokio::test]
async fn a_huge_retry_interval_with_the_fallback_still_answers() {
    let store = RedisStore::builder()
        .retry_interval(Duration::MAX)
        .open(unreachable_url())
        .unwrap();
    let quota = Quota::with_interval(Duration::from_secs(10), 2);
    for _ in 0..2 {
        let reservation = store.reserve("k", quota, None).await.unwrap();
        assert_eq!(reservation, Reservation::Granted(Duration::ZERO));
    }
    store
        .penalize("k", quota, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(store.stats().local, 3);
    assert_eq!(store.stats().outages, 1);
}

#[tokio::test]
async fn connect_reports_an_unreachable_redis() {
    let store = RedisStore::open(unreachable_url()).unwrap();
    let err = store.connect().await.unwrap_err();
    assert!(
        matches!(err, Error::Redis(_) | Error::Timeout(_)),
        "{err:?}"
    );
    assert!(!store.is_available());
    assert_eq!(store.stats().outages, 1);
}

#[test]
fn a_bad_url_is_an_error() {
    let err = RedisStore::open("http://not-redis").unwrap_err();
    assert!(matches!(err, Error::Redis(_)), "{err:?}");
}
