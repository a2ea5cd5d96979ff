//! End to end: four `talkjs_api::Client`s, as four replicas of a service would have, against
//! the fake TalkJS server with a time-scaled rate limit. With in-memory limiters they
//! exceed it together and get 429s; sharing one Redis they get none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::RedisServer;
use talkjs_api::Client;
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_models::UserUpsert;
use talkjs_ratelimit_redis::RedisStore;
use talkjs_transport::{Quota, RateLimiter};

/// The fake's limit: 20 at once, 50 per second (TalkJS's 600 and 9/s, time-scaled).
async fn fake() -> FakeTalkJs {
    FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 20,
            per_second: 50.0,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await
        .unwrap()
}

/// Each replica limits itself a little below the server's limit.
fn quota() -> Quota {
    Quota::per_second(40, 10)
}

fn client(fake: &FakeTalkJs, limiter: RateLimiter, retry: bool) -> Client {
    let mut builder = Client::builder()
        .app_id(fake.app_id())
        .secret_key(fake.secret_key())
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
    let fake = fake().await;
    let clients: Vec<Client> = (0..4)
        .map(|_| {
            client(
                &fake,
                RateLimiter::new(fake.app_id()).general_quota(quota()),
                false,
            )
        })
        .collect();
    clients[0]
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    // Each replica's burst of 10 is within its own limit; together 40 exceed the fake's 20.
    let failed = run(&clients, 10, 1).await;
    println!(
        "in-memory limiters: {} requests, {} x 429",
        fake.request_count(),
        fake.count_429()
    );
    assert!(
        fake.count_429() > 0,
        "four separate limiters exceed the limit"
    );
    assert_eq!(u64::try_from(failed).unwrap(), fake.count_429());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_sharing_redis_get_no_429() {
    let Some(server) = RedisServer::start("four_replicas_sharing_redis_get_no_429") else {
        return;
    };
    let fake = fake().await;
    let mut clients = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..4 {
        let store = Arc::new(RedisStore::open(server.url()).unwrap());
        store.connect().await.unwrap();
        let limiter = RateLimiter::new(fake.app_id())
            .general_quota(quota())
            .with_store(store.clone());
        clients.push(client(&fake, limiter, true));
        stores.push(store);
    }
    clients[0]
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    let failed = run(&clients, 4, 6).await;
    println!(
        "one limit in Redis: {} requests, {} x 429",
        fake.request_count(),
        fake.count_429()
    );
    assert_eq!(failed, 0);
    assert_eq!(fake.request_count(), 1 + 4 * 4 * 6);
    assert_eq!(fake.count_429(), 0, "the replicas shared one limit");
    for store in &stores {
        assert_eq!(store.stats().local, 0, "{:?}", store.stats());
    }
}
