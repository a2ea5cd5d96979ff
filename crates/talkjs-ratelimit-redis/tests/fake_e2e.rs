//! End to end: four `talkjs_api::Client`s, as four replicas of a service would have, against
//! the fake TalkJS server with a time-scaled rate limit. With in-memory limiters they
//! exceed it together and get 429s; sharing one Redis they get none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use talkjs_api::Client;
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_models::UserUpsert;
use talkjs_ratelimit_redis::RedisStore;
use talkjs_test_support::redis_server::RedisServer;
use talkjs_transport::{Quota, RateLimiter};

/// The fake's limit: 20 at once, then `per_second` (TalkJS's 600 and 9/s, time-scaled).
async fn fake(per_second: f64) -> FakeTalkJs {
    FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 20,
            per_second,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await
        .unwrap()
}

fn client(fake: &FakeTalkJs, limiter: RateLimiter, retry: bool) -> Client {
    let mut builder = Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(Some(limiter));
    if !retry {
        builder = builder.retry(None);
    }
    builder.build().unwrap()
}

/// `workers` concurrent callers per client, each making `calls` GETs; returns the failures.
async fn run(clients: &[Client], workers: usize, calls: usize) -> usize {
    let mut tasks = Vec::new();
    for client in clients {
        for _ in 0..workers {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut failed = 0;
                for _ in 0..calls {
                    if client.users().get("alice").await.is_err() {
                        failed += 1;
                    }
                }
                failed
            }));
        }
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await.unwrap();
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_with_in_memory_limiters_get_429s() {
    // A fake that refills slowly (5/s), so 429s do not depend on how fast the requests
    // arrive: 80 requests exceed its 20 unless they take 12 s.
    let fake = fake(5.0).await;
    let clients: Vec<Client> = (0..4)
        .map(|_| {
            client(
                &fake,
                RateLimiter::new(fake.app_id()).general_quota(Quota::per_second(5, 20)),
                false,
            )
        })
        .collect();
    clients[0]
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    // Each replica's burst of 20 is within its own limit, and within the fake's; together
    // 80 exceed it.
    let failed = run(&clients, 20, 1).await;
    println!(
        "in-memory limiters: {} requests, {} x 429",
        fake.request_count(),
        fake.count_429()
    );
    assert!(
        fake.count_429() >= 20,
        "four separate limiters exceed the limit: {} x 429",
        fake.count_429()
    );
    assert_eq!(u64::try_from(failed).unwrap(), fake.count_429());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_sharing_redis_get_no_429() {
    let Some(server) = RedisServer::start("four_replicas_sharing_redis_get_no_429") else {
        return;
    };
    // The fake allows 20 at once and 50/s; the replicas share 5 at once and 20/s through
    // Redis. The margin is wide: requests the limiter let through would have to reach the
    // fake bunched up, 0.7 s late, to exceed its limit.
    let fake = fake(50.0).await;
    let mut clients = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = Arc::new(RedisStore::open(server.url()).unwrap());
        store.connect().await.unwrap();
        let limiter = RateLimiter::new(fake.app_id())
            .general_quota(Quota::per_second(20, 5))
            .with_store(store.clone());
        clients.push(client(&fake, limiter, true));
        stores.push(store);
    }
    clients[0]
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    let failed = run(&clients, 4, 4).await;
    println!(
        "one limit in Redis: {} requests, {} x 429",
        fake.request_count(),
        fake.count_429()
    );
    assert_eq!(failed, 0);
    assert_eq!(fake.request_count(), 1 + 4 * 4 * 4);
    assert_eq!(fake.count_429(), 0, "the replicas shared one limit");
    for store in &stores {
        assert_eq!(store.stats().local, 0, "{:?}", store.stats());
    }
}
