//! Against a real `redis-server` started by the test on a free loopback port: the GCRA
//! arithmetic in Lua, key expiry, script reloading, four replicas sharing one limit, and a
//! Redis restart in the middle of a run.
//!
//! Verdicts do not depend on how fast this machine is: the quotas are slow (one slot every
//! 10 s), so the few milliseconds (or, on a loaded machine, the second) between two calls
//! are small against the values checked, and the tests read the stored state from Redis or
//! count grants and denials instead of timing admissions. The restart test moves from one
//! phase to the next when the stores' counters show the previous one happened, not at fixed
//! times.
//!
//! Without `redis-server` these tests fail and say how to install it, unless
//! `TALKJS_SKIP_REDIS=1` is set (see `talkjs_test_support::redis_server::RedisServer::start`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use talkjs_ratelimit_redis::{RedisStore, Stats};
use talkjs_test_support::redis_server::RedisServer;
use talkjs_transport::{Quota, RateLimitStore, RateLimiter, RequestClass, Reservation};
use tokio::task::JoinSet;

const SECOND: Duration = Duration::from_secs(1);

/// The slow quota of the arithmetic tests: one slot every 10 s, a burst of 3 (so the
/// tolerance is 20 s).
const INTERVAL: Duration = Duration::from_secs(10);

/// How much wall time the checks allow between the calls they compare: far more than the
/// milliseconds they take, even on a loaded 2-core machine; far less than `INTERVAL`.
const SLACK: Duration = Duration::from_secs(2);

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap()
}

fn granted(reservation: Reservation) -> Duration {
    match reservation {
        Reservation::Granted(wait) => wait,
        Reservation::Denied(wait) => panic!("denied, {wait:?} away"),
    }
}

fn denied(reservation: Reservation) -> Duration {
    match reservation {
        Reservation::Denied(wait) => wait,
        Reservation::Granted(wait) => panic!("granted with a wait of {wait:?}"),
    }
}

/// Asserts `value` is in `(expected - SLACK, expected]`: time only passes, so a wait can
/// only be shorter than computed from the slots, never longer.
#[track_caller]
fn assert_about(value: Duration, expected: Duration, what: &str) {
    assert!(
        value <= expected && value + SLACK > expected,
        "{what}: {value:?}, expected {expected:?} (less at most {SLACK:?} of elapsed time)"
    );
}

/// The same for microsecond values read from Redis.
#[track_caller]
fn assert_about_micros(value: i64, expected: Duration, what: &str) {
    assert!(
        value <= micros(expected) && value > micros(expected) - micros(SLACK),
        "{what}: {value} µs, expected {expected:?} (less at most {SLACK:?})"
    );
}

/// A store with a generous timeout: these tests are about the arithmetic, on a machine that
/// may be busy.
fn store(server: &RedisServer) -> RedisStore {
    RedisStore::builder()
        .command_timeout(Duration::from_secs(5))
        .open(server.url())
        .unwrap()
}

#[tokio::test]
async fn gcra_burst_then_interval_and_denials_reserve_nothing() {
    let Some(server) = RedisServer::start("gcra_burst_then_interval_and_denials_reserve_nothing")
    else {
        return;
    };
    let store = store(&server);
    store.connect().await.unwrap();
    let quota = Quota::with_interval(INTERVAL, 3);
    // The burst: three slots at once.
    for _ in 0..3 {
        assert_eq!(
            granted(store.reserve("k", quota, None).await.unwrap()),
            Duration::ZERO
        );
    }
    // The fourth slot is one interval after the first call; the stored TAT (the slot after
    // it) four intervals.
    let fourth = granted(store.reserve("k", quota, None).await.unwrap());
    assert_about(fourth, INTERVAL, "the fourth slot's wait");
    assert_about_micros(server.tat_ahead_micros("k"), 4 * INTERVAL, "TAT after 4");

    // The fifth is two intervals away: more than a maximum wait of 15 s, so denied, and
    // nothing is reserved: the stored state is exactly the same after two denials.
    let tat = server.get_int("k").unwrap();
    let first = denied(store.reserve("k", quota, Some(15 * SECOND)).await.unwrap());
    let second = denied(store.reserve("k", quota, Some(15 * SECOND)).await.unwrap());
    assert_about(first, 2 * INTERVAL, "the first denial's wait");
    assert!(second <= first, "{first:?} then {second:?}");
    assert_about(second, 2 * INTERVAL, "the second denial's wait");
    assert_eq!(server.get_int("k"), Some(tat), "a denial reserved a slot");

    // Without a maximum it is granted, and the next one is one interval further: the state
    // moves by exactly one interval per grant.
    let fifth = granted(store.reserve("k", quota, None).await.unwrap());
    let sixth = granted(store.reserve("k", quota, None).await.unwrap());
    assert_about(fifth, 2 * INTERVAL, "the fifth slot's wait");
    assert_about(sixth.saturating_sub(fifth), INTERVAL, "fifth to sixth");
    assert_eq!(
        server.get_int("k").unwrap() - tat,
        2 * micros(INTERVAL),
        "two grants, two intervals"
    );
    // Another key is independent.
    assert_eq!(
        granted(store.reserve("other", quota, None).await.unwrap()),
        Duration::ZERO
    );
    let stats = store.stats();
    assert_eq!((stats.redis, stats.local), (9, 0), "{stats:?}");
}

#[tokio::test]
async fn penalize_pushes_back_without_a_new_burst_and_never_earlier() {
    let Some(server) =
        RedisServer::start("penalize_pushes_back_without_a_new_burst_and_never_earlier")
    else {
        return;
    };
    let store = store(&server);
    let quota = Quota::with_interval(INTERVAL, 3);
    let pause = 50 * SECOND;
    store.penalize("k", quota, pause).await.unwrap();
    // The stored TAT is the pause plus the tolerance ahead, so the next slot is the pause away.
    assert_about_micros(
        server.tat_ahead_micros("k"),
        pause + quota.tolerance(),
        "TAT after the 429",
    );
    let first = granted(store.reserve("k", quota, None).await.unwrap());
    assert_about(first, pause, "the first slot after the pause");
    // No new burst after the pause: the next slot is one interval later.
    let second = granted(store.reserve("k", quota, None).await.unwrap());
    assert_about(second.saturating_sub(first), INTERVAL, "first to second");
    // A shorter pause does not move the state, let alone earlier.
    let tat = server.get_int("k").unwrap();
    store.penalize("k", quota, INTERVAL).await.unwrap();
    assert_eq!(
        server.get_int("k"),
        Some(tat),
        "a shorter pause moved the state"
    );
    let third = granted(store.reserve("k", quota, None).await.unwrap());
    assert_about(third.saturating_sub(second), INTERVAL, "second to third");
    // An absurd pause saturates instead of overflowing.
    store.penalize("huge", quota, Duration::MAX).await.unwrap();
    let wait = granted(store.reserve("huge", quota, None).await.unwrap());
    assert!(wait > Duration::from_secs(29 * 365 * 24 * 3600), "{wait:?}");
}

#[tokio::test]
async fn state_is_an_integer_that_expires_past_the_tat() {
    let Some(server) = RedisServer::start("state_is_an_integer_that_expires_past_the_tat") else {
        return;
    };
    let store = RedisStore::builder()
        .command_timeout(Duration::from_secs(5))
        .key_prefix("test:")
        .open(server.url())
        .unwrap();
    let interval = 60 * SECOND;
    let limiter = RateLimiter::new("app1")
        .general_quota(Quota::with_interval(interval, 1))
        .with_store(Arc::new(store));
    limiter.acquire(RequestClass::General).await.unwrap();

    // The TAT is now + one interval, in microseconds since the epoch on Redis's clock, under
    // the prefixed key of the app id and class.
    let key = "test:talkjs:app1:general";
    assert_about_micros(server.tat_ahead_micros(key), interval, "TAT");
    // It expires one second past the TAT.
    let pttl = server.pttl(key);
    let expected = interval + SECOND;
    assert!(
        pttl <= i64::try_from(expected.as_millis()).unwrap()
            && pttl > i64::try_from(expected.saturating_sub(SLACK).as_millis()).unwrap(),
        "PTTL {pttl} ms, expected about {expected:?}"
    );
    // The batch key was not touched.
    assert_eq!(server.get_int("test:talkjs:app1:batch"), None);
}

#[tokio::test]
async fn scripts_are_reloaded_after_a_flush() {
    let Some(server) = RedisServer::start("scripts_are_reloaded_after_a_flush") else {
        return;
    };
    let store = store(&server);
    let quota = Quota::per_second(10, 10);
    granted(store.reserve("k", quota, None).await.unwrap());
    assert!(server.command("SCRIPT FLUSH").starts_with("+OK"));
    granted(store.reserve("k", quota, None).await.unwrap());
    store
        .penalize("k", quota, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(store.stats().redis, 3);
    assert_eq!(store.stats().local, 0);
}

/// `n` concurrent `reserve` calls on each store, all for `key`; the reservations, per store.
async fn reserve_concurrently(
    stores: &[Arc<RedisStore>],
    n: usize,
    key: &'static str,
    quota: Quota,
    max_wait: Option<Duration>,
) -> Vec<Vec<Reservation>> {
    let mut set = JoinSet::new();
    for (replica, store) in stores.iter().enumerate() {
        for _ in 0..n {
            let store = store.clone();
            set.spawn(async move { (replica, store.reserve(key, quota, max_wait).await.unwrap()) });
        }
    }
    let mut per_store = vec![Vec::new(); stores.len()];
    while let Some(joined) = set.join_next().await {
        let (replica, reservation) = joined.unwrap();
        per_store[replica].push(reservation);
    }
    per_store
}

/// Four replicas asking at once for a burst's worth each share one burst: exactly `burst`
/// of the calls that may not wait are granted, whichever replica made them, where four
/// in-memory limiters would grant four bursts.
async fn assert_one_shared_burst(stores: &[Arc<RedisStore>], key: &'static str) {
    let quota = Quota::with_interval(INTERVAL, 10);
    let answers = reserve_concurrently(stores, 10, key, quota, Some(Duration::ZERO)).await;
    let all: Vec<Reservation> = answers.into_iter().flatten().collect();
    let granted = all
        .iter()
        .filter(|r| **r == Reservation::Granted(Duration::ZERO))
        .count();
    assert_eq!(granted, 10, "one burst of 10 among 4 replicas: {all:?}");
    for reservation in &all {
        if let Reservation::Denied(wait) = reservation {
            assert_about(*wait, INTERVAL, "a denial after the burst");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_share_one_limit() {
    let Some(server) = RedisServer::start("four_replicas_share_one_limit") else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = Arc::new(store(&server));
        store.connect().await.unwrap();
        stores.push(store);
    }
    // The burst is shared: 10 of 40 calls that may not wait.
    assert_one_shared_burst(&stores, "shared").await;
    // Then every call that may wait gets its own slot, one interval after the previous one
    // whichever replica asked: the limit holds (no two in one slot) and none of it is
    // wasted (no slot skipped).
    let quota = Quota::with_interval(INTERVAL, 10);
    let answers = reserve_concurrently(&stores, 5, "shared", quota, None).await;
    let mut waits: Vec<Duration> = answers.iter().flatten().map(|r| granted(*r)).collect();
    waits.sort();
    for (k, wait) in (1_u32..).zip(&waits) {
        assert_about(*wait, INTERVAL * k, &format!("slot {k} after the burst"));
    }
    assert_eq!(waits.len(), 20);
    // 30 slots reserved in all: the state is 30 intervals ahead.
    assert_about_micros(server.tat_ahead_micros("shared"), INTERVAL * 30, "TAT");
    for store in &stores {
        let stats = store.stats();
        assert_eq!(
            (stats.redis, stats.local, stats.outages),
            (15, 0, 0),
            "{stats:?}"
        );
    }
}

/// Polls `done` on the stores' counters until it holds, failing after a minute (a phase
/// takes well under a second even on a loaded machine).
async fn wait_for(stores: &[Arc<RedisStore>], what: &str, done: impl Fn(&Stats) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stats: Vec<Stats> = stores.iter().map(|s| s.stats()).collect();
        if stats.iter().all(&done) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 60 s, not every replica {what}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_run_is_survived() {
    let Some(mut server) = RedisServer::start("a_redis_restart_mid_run_is_survived") else {
        return;
    };
    let mut stores = Vec::new();
    let mut limiters = Vec::new();
    for _ in 0..4 {
        // Probe every 100 ms while Redis is away. (A killed Redis refuses connections at
        // once; the long timeout only keeps a busy machine from faking an outage.)
        let store = Arc::new(
            RedisStore::builder()
                .command_timeout(Duration::from_secs(5))
                .retry_interval(Duration::from_millis(100))
                .open(server.url())
                .unwrap(),
        );
        limiters.push(
            RateLimiter::new("app-restart")
                .general_quota(Quota::per_second(50, 10))
                .with_store(store.clone()),
        );
        stores.push(store);
    }

    // Four callers per replica acquire slots until told to stop; every acquire must succeed.
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = JoinSet::new();
    for limiter in &limiters {
        for _ in 0..4 {
            let (limiter, stop) = (limiter.clone(), stop.clone());
            callers.spawn(async move {
                let mut admitted = 0_u64;
                while !stop.load(Ordering::Relaxed) {
                    limiter.acquire(RequestClass::General).await.unwrap();
                    admitted += 1;
                }
                admitted
            });
        }
    }

    // Each phase starts when the counters show the previous one happened on every replica.
    wait_for(&stores, "used Redis", |s| s.redis >= 5).await;
    server.kill();
    wait_for(&stores, "noticed the outage and fell back", |s| {
        s.outages >= 1 && s.local >= 5
    })
    .await;
    let before: Vec<u64> = stores.iter().map(|s| s.stats().redis).collect();
    server.restart();
    for (store, before) in stores.iter().zip(before) {
        wait_for(std::slice::from_ref(store), "came back to Redis", |s| {
            s.redis >= before + 5
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    // No call failed (each caller unwraps every acquire): the outage lost no request.
    let mut admitted = 0;
    while let Some(joined) = callers.join_next().await {
        admitted += joined.expect("an acquire failed during the outage");
    }
    for store in &stores {
        let stats = store.stats();
        println!("  {stats:?}");
        assert!(stats.outages >= 1 && stats.failed == 0, "{stats:?}");
        assert!(store.is_available(), "{stats:?}");
    }
    println!("restart survived: {admitted} calls admitted, none failed");
    // The state lives in the restarted Redis again (scripts reloaded after NOSCRIPT) ...
    assert!(
        server.get_int("talkjs:app-restart:general").is_some(),
        "the key is back in Redis"
    );
    // ... and the replicas share one limit again, not four local ones.
    assert_one_shared_burst(&stores, "after-restart").await;
}
