//! The Redis dedupe store against a real `redis-server` started by the test on a free
//! loopback port: `SET NX PX` semantics, the key prefix and expiry, duplicates across two
//! replicas sharing one Redis, and a Redis that is down (500, handler not run).
//!
//! Without `redis-server` these tests fail and say how to install it, unless
//! `TALKJS_SKIP_REDIS=1` is set (see `common::redis_server::RedisServer::start`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::redis_server::{RedisServer, free_port};
use common::{delivery, drain, event, read, recorder, secret, uri};
use http::StatusCode;
use talkjs_webhooks::{DedupeStore, RedisDedupeStore, WebhookConfig, WebhookService};
use tower::ServiceExt;

const TTL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn first_seen_is_set_nx_with_the_ttl_under_the_prefix() {
    let Some(server) = RedisServer::start("first_seen_is_set_nx_with_the_ttl_under_the_prefix")
    else {
        return;
    };
    let store = RedisDedupeStore::open(server.url())
        .unwrap()
        .with_key_prefix("test:seen:");
    assert_eq!(store.key_prefix(), "test:seen:");
    store.connect().await.unwrap();

    assert!(store.first_seen("evt_1", TTL).await.unwrap());
    assert!(!store.first_seen("evt_1", TTL).await.unwrap());
    assert!(store.first_seen("evt_2", TTL).await.unwrap());

    // One key per id, under the prefix, expiring after the TTL (Redis counts it down).
    assert_eq!(store.key("evt_1"), "test:seen:evt_1");
    let pttl = server.pttl("test:seen:evt_1");
    assert!(pttl > 0 && pttl <= 600_000, "PTTL {pttl}");
    assert_eq!(server.pttl("talkjs:webhook-event:evt_1"), -2);

    // Another prefix is another namespace (another app sharing the Redis).
    let other = RedisDedupeStore::open(server.url()).unwrap();
    assert_eq!(other.key_prefix(), RedisDedupeStore::DEFAULT_KEY_PREFIX);
    assert!(other.first_seen("evt_1", TTL).await.unwrap());
    assert!(server.pttl("talkjs:webhook-event:evt_1") > 0);
}

#[tokio::test]
async fn an_id_is_new_again_once_its_key_expired() {
    let Some(server) = RedisServer::start("an_id_is_new_again_once_its_key_expired") else {
        return;
    };
    let store = RedisDedupeStore::open(server.url()).unwrap();
    // A zero TTL still sets the key (for 1 ms: PX 0 is invalid in Redis).
    assert!(store.first_seen("evt_short", Duration::ZERO).await.unwrap());
    // Wait for Redis to expire it: a condition, not a duration.
    let key = store.key("evt_short");
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while server.pttl(&key) != -2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the key never expired"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(store.first_seen("evt_short", TTL).await.unwrap());
}

#[tokio::test]
async fn a_duplicate_delivery_runs_the_handler_once_across_replicas() {
    let Some(server) =
        RedisServer::start("a_duplicate_delivery_runs_the_handler_once_across_replicas")
    else {
        return;
    };
    // Two replicas of one service, each with its own store, sharing the Redis.
    let (handler, rx) = recorder();
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            let store = RedisDedupeStore::open(server.url()).unwrap();
            WebhookService::new(
                WebhookConfig::new(secret()).with_dedupe_store(store),
                handler.clone(),
            )
        })
        .collect();
    drop(handler);

    let sent = event(Some("evt_shared"), "hello");
    let signed = delivery(&sent);
    let mut texts = Vec::new();
    for replica in [0, 1, 0, 1] {
        let response = replicas[replica]
            .clone()
            .oneshot(signed.to_request(uri()))
            .await
            .unwrap();
        let (status, text) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        texts.push(text);
    }
    assert_eq!(texts, ["ok", "duplicate", "duplicate", "duplicate"]);

    // Racing deliveries of another event on both replicas: one run.
    let raced = event(Some("evt_raced"), "race");
    let signed = delivery(&raced);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let replica = replicas[i % 2].clone();
        let request = signed.to_request(uri());
        tasks.spawn(async move { read(replica.oneshot(request).await.unwrap()).await });
    }
    let mut oks = 0;
    while let Some(answer) = tasks.join_next().await {
        let (status, text) = answer.unwrap();
        assert_eq!(status, StatusCode::OK);
        oks += usize::from(text == "ok");
    }
    assert_eq!(oks, 1);

    drop(replicas);
    let mut events = drain(rx).await;
    events.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(events, [raced, sent]);
}

#[tokio::test]
async fn a_redis_that_is_down_answers_500_and_the_retry_is_handled() {
    let Some(mut server) =
        RedisServer::start("a_redis_that_is_down_answers_500_and_the_retry_is_handled")
    else {
        return;
    };
    let store = RedisDedupeStore::open(server.url())
        .unwrap()
        .with_command_timeout(Duration::from_secs(2));
    let (handler, rx) = recorder();
    let service = WebhookService::new(
        WebhookConfig::new(secret()).with_dedupe_store(store),
        handler,
    );
    let sent = event(Some("evt_outage"), "hello");

    server.kill();
    let response = service
        .clone()
        .oneshot(delivery(&sent).to_request(uri()))
        .await
        .unwrap();
    assert_eq!(read(response).await.0, StatusCode::INTERNAL_SERVER_ERROR);

    // TalkJS's retry, once Redis is back: handled (nothing was marked during the outage).
    server.restart();
    let response = service
        .clone()
        .oneshot(delivery(&sent).to_request(uri()))
        .await
        .unwrap();
    assert_eq!(read(response).await, (StatusCode::OK, "ok".to_owned()));

    // Redis goes away under an open connection and comes back: the store reconnects. The
    // deliveries made meanwhile are answered 500 (never handled) until one gets through.
    server.restart();
    let later = event(Some("evt_after_restart"), "again");
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let response = service
            .clone()
            .oneshot(delivery(&later).to_request(uri()))
            .await
            .unwrap();
        match read(response).await {
            (StatusCode::OK, text) => {
                assert_eq!(text, "ok");
                break;
            }
            (status, _) => assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(service);
    let mut events = drain(rx).await;
    events.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(events, [later, sent]);
}

#[tokio::test]
async fn nothing_listening_fails_the_call_and_the_message_has_no_password() {
    // No redis-server needed: nothing listens on this port.
    let url = format!("redis://:hunter2-password@127.0.0.1:{}/", free_port());
    let store = RedisDedupeStore::open(url.as_str())
        .unwrap()
        .with_command_timeout(Duration::from_secs(2));
    let error = store.first_seen("evt_1", TTL).await.unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(store.connect().await.is_err());
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
}
