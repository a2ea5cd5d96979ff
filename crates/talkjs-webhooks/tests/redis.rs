//! The Redis dedupe store against a real `redis-server` started by the test on a free
//! loopback port: claims held by their token, released only by it, the key prefix and
//! expiry, duplicates across two replicas sharing one Redis, a Redis that is down (500,
//! handler not run), and one that stalls past the command timeout after it stored a claim
//! (500, and the event is still handled once).
//!
//! Without `redis-server` these tests fail and say how to install it, unless
//! `TALKJS_SKIP_REDIS=1` is set (see `talkjs_test_support::redis_server::RedisServer::start`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{delivery, drain, event, read, recorder, secret, uri};
use http::StatusCode;
use talkjs_test_support::redis_server::{RedisServer, free_port};
use talkjs_webhooks::{DedupeStore, RedisDedupeStore, WebhookConfig, WebhookService};
use tower::ServiceExt;

const TTL: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_claim_is_held_by_its_token_with_the_ttl_under_the_prefix() {
    let Some(server) =
        RedisServer::start("a_claim_is_held_by_its_token_with_the_ttl_under_the_prefix")
    else {
        return;
    };
    let store = RedisDedupeStore::open(server.url())
        .unwrap()
        .with_key_prefix("test:seen:");
    assert_eq!(store.key_prefix(), "test:seen:");
    store.connect().await.unwrap();

    assert!(store.claim("evt_1", "tok_a", TTL).await.unwrap());
    // Asked again by the same delivery (an answer lost): still its own; by another: not.
    assert!(store.claim("evt_1", "tok_a", TTL).await.unwrap());
    assert!(!store.claim("evt_1", "tok_b", TTL).await.unwrap());
    assert!(store.claim("evt_2", "tok_b", TTL).await.unwrap());
    assert_eq!(server.command("GET test:seen:evt_1"), "$5\r\ntok_a\r\n");

    // One key per id, under the prefix, expiring after the TTL (Redis counts it down).
    assert_eq!(store.key("evt_1"), "test:seen:evt_1");
    let pttl = server.pttl("test:seen:evt_1");
    assert!(pttl > 0 && pttl <= 600_000, "PTTL {pttl}");
    assert_eq!(server.pttl("talkjs:webhook-event:evt_1"), -2);

    // Another prefix is another namespace (another app sharing the Redis).
    let other = RedisDedupeStore::open(server.url()).unwrap();
    assert_eq!(other.key_prefix(), RedisDedupeStore::DEFAULT_KEY_PREFIX);
    assert!(other.claim("evt_1", "tok_c", TTL).await.unwrap());
    assert!(server.pttl("talkjs:webhook-event:evt_1") > 0);

    // A release by another token leaves the claim; by its own, deletes it.
    store.release("evt_1", "tok_b").await.unwrap();
    assert!(server.pttl("test:seen:evt_1") > 0);
    store.release("evt_1", "tok_a").await.unwrap();
    assert_eq!(server.pttl("test:seen:evt_1"), -2);
    assert!(store.claim("evt_1", "tok_b", TTL).await.unwrap());
}

#[tokio::test]
async fn an_id_is_new_again_once_its_key_expired() {
    let Some(server) = RedisServer::start("an_id_is_new_again_once_its_key_expired") else {
        return;
    };
    let store = RedisDedupeStore::open(server.url()).unwrap();
    // A zero TTL still sets the key (for 1 ms: PX 0 is invalid in Redis).
    assert!(
        store
            .claim("evt_short", "tok_a", Duration::ZERO)
            .await
            .unwrap()
    );
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
    assert!(store.claim("evt_short", "tok_b", TTL).await.unwrap());
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
async fn a_redis_that_is_down_answers_500_and_the_event_is_handled_once_it_is_back() {
    let Some(mut server) = RedisServer::start(
        "a_redis_that_is_down_answers_500_and_the_event_is_handled_once_it_is_back",
    ) else {
        return;
    };
    let store = RedisDedupeStore::open(server.url())
        .unwrap()
        .with_command_timeout(Duration::from_secs(2));
    let (handler, mut rx) = recorder();
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

    // Once Redis is back, the delivery answered 500 claims the event after all (it kept
    // asking) and handles it; TalkJS's retry is then a duplicate.
    server.restart();
    let first_run = tokio::time::timeout(common::PATIENCE, rx.recv())
        .await
        .expect("handled once Redis is back");
    assert_eq!(first_run.as_ref(), Some(&sent));
    let response = service
        .clone()
        .oneshot(delivery(&sent).to_request(uri()))
        .await
        .unwrap();
    assert_eq!(
        read(response).await,
        (StatusCode::OK, "duplicate".to_owned())
    );

    // Redis goes away under an open connection and comes back: the store reconnects. The
    // deliveries made meanwhile are answered 500 until one gets through; whichever holds
    // the claim in the end handles the event, once.
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
            (StatusCode::OK, _) => break,
            (status, _) => assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never reconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(service);
    assert_eq!(drain(rx).await, [later]);
}

/// A TCP proxy to `upstream` (on loopback) that passes requests at once and, while
/// stalled, holds the replies: a Redis that does the work but answers late.
struct StallingProxy {
    port: u16,
    stalled: tokio::sync::watch::Sender<bool>,
}

impl StallingProxy {
    async fn start(upstream: u16) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stalled, _) = tokio::sync::watch::channel(false);
        let gate = stalled.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut open = gate.subscribe();
                tokio::spawn(async move {
                    let mut buf = vec![0_u8; 16 * 1024];
                    loop {
                        let n = match server_read.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        // Hold the reply while stalled.
                        if open.wait_for(|stalled| !*stalled).await.is_err() {
                            return;
                        }
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, stalled }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stall(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }
}

#[tokio::test]
async fn a_redis_that_stores_the_claim_but_answers_too_late_loses_no_event() {
    let Some(server) =
        RedisServer::start("a_redis_that_stores_the_claim_but_answers_too_late_loses_no_event")
    else {
        return;
    };
    let proxy = StallingProxy::start(server.port()).await;
    let store = RedisDedupeStore::open(proxy.url())
        .unwrap()
        .with_key_prefix("stall:")
        .with_command_timeout(Duration::from_millis(300));
    store.connect().await.unwrap();
    let (handler, rx) = recorder();
    let service = WebhookService::new(
        WebhookConfig::new(secret()).with_dedupe_store(store),
        handler,
    );
    let sent = event(Some("evt_stalled"), "hello");

    // Redis stores the claim, but its answer comes after the command timeout: 500.
    proxy.stall(true);
    let response = service
        .clone()
        .oneshot(delivery(&sent).to_request(uri()))
        .await
        .unwrap();
    assert_eq!(read(response).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    let stored = server.command("GET stall:evt_stalled");
    assert!(
        stored.starts_with("$32\r\n"),
        "the claim was stored: {stored:?}"
    );

    // TalkJS's retry, with Redis answering again: a duplicate of the claimed event, which
    // the first delivery handles once it hears back from Redis.
    proxy.stall(false);
    let response = service
        .clone()
        .oneshot(delivery(&sent).to_request(uri()))
        .await
        .unwrap();
    assert_eq!(
        read(response).await,
        (StatusCode::OK, "duplicate".to_owned())
    );
    drop(service);
    assert_eq!(drain(rx).await, [sent]);
}

#[tokio::test]
async fn receive_withdraws_a_claim_redis_stored_but_answered_too_late() {
    let Some(server) =
        RedisServer::start("receive_withdraws_a_claim_redis_stored_but_answered_too_late")
    else {
        return;
    };
    let proxy = StallingProxy::start(server.port()).await;
    let store = RedisDedupeStore::open(proxy.url())
        .unwrap()
        .with_key_prefix("stall:")
        .with_command_timeout(Duration::from_millis(300));
    let config = WebhookConfig::new(secret()).with_dedupe_store(store);
    config
        .receive(delivery(&event(Some("evt_warm"), "x")).to_request(uri()))
        .await
        .unwrap();
    let sent = event(Some("evt_stalled"), "hello");

    proxy.stall(true);
    let first = config.receive(delivery(&sent).to_request(uri())).await;
    assert_eq!(
        first.unwrap_err().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert!(
        server
            .command("GET stall:evt_stalled")
            .starts_with("$32\r\n")
    );

    // Redis answers again: the claim is withdrawn, and TalkJS's retry is handled.
    proxy.stall(false);
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while server.pttl("stall:evt_stalled") != -2 {
        assert!(std::time::Instant::now() < deadline, "never withdrawn");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let retry = config.receive(delivery(&sent).to_request(uri())).await;
    assert_eq!(retry.unwrap(), sent);
}

#[tokio::test]
async fn nothing_listening_fails_the_call_and_the_message_has_no_password() {
    // No redis-server needed: nothing listens on this port.
    let url = format!("redis://:hunter2-password@127.0.0.1:{}/", free_port());
    let store = RedisDedupeStore::open(url.as_str())
        .unwrap()
        .with_command_timeout(Duration::from_secs(2));
    let error = store.claim("evt_1", "tok_a", TTL).await.unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(store.connect().await.is_err());
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
}
