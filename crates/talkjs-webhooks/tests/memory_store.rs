//! The in-memory dedupe store on tokio's paused clock: ids expire after their time to
//! live, expired ids are purged, and the store never holds more than its capacity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{delivery, drain, event, read, recorder, secret, uri};
use http::StatusCode;
use talkjs_webhooks::{DedupeStore, MemoryDedupeStore, WebhookConfig, WebhookService};
use tower::ServiceExt;

const TTL: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn an_id_is_remembered_for_its_time_to_live() {
    let store = MemoryDedupeStore::new();
    assert!(store.is_empty());
    assert!(store.first_seen("evt_1", TTL).await.unwrap());
    assert!(!store.first_seen("evt_1", TTL).await.unwrap());
    assert!(store.first_seen("evt_2", TTL).await.unwrap());
    assert_eq!(store.len(), 2);

    tokio::time::advance(TTL.checked_sub(Duration::from_millis(1)).unwrap()).await;
    assert!(!store.first_seen("evt_1", TTL).await.unwrap());

    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(store.len(), 0, "both ids expired");
    assert!(
        store.first_seen("evt_1", TTL).await.unwrap(),
        "expired, so new again"
    );
    assert!(!store.first_seen("evt_1", TTL).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn expired_ids_are_purged() {
    let store = MemoryDedupeStore::new();
    for i in 0..1000 {
        assert!(store.first_seen(&format!("evt_{i}"), TTL).await.unwrap());
    }
    tokio::time::advance(TTL).await;
    // One call purges everything expired: only the new id is left in the store.
    assert!(store.first_seen("evt_new", TTL).await.unwrap());
    let debug = format!("{store:?}");
    assert!(debug.contains("len: 1"), "{debug}");
}

#[tokio::test(start_paused = true)]
async fn the_store_never_exceeds_its_capacity() {
    let store = MemoryDedupeStore::with_capacity(3);
    assert_eq!(store.capacity(), 3);
    for i in 0..10 {
        assert!(store.first_seen(&format!("evt_{i}"), TTL).await.unwrap());
        assert!(store.len() <= 3);
    }
    // The newest three are remembered, the oldest were forgotten early.
    for i in 7..10 {
        assert!(!store.first_seen(&format!("evt_{i}"), TTL).await.unwrap());
    }
    assert!(store.first_seen("evt_0", TTL).await.unwrap());
    assert_eq!(store.len(), 3);
    assert_eq!(MemoryDedupeStore::with_capacity(0).capacity(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_service_forgets_an_event_after_the_dedupe_ttl() {
    let store = Arc::new(MemoryDedupeStore::new());
    // Freshness is checked on the system clock, expiry on tokio's (paused) clock.
    let config = WebhookConfig::new(secret())
        .with_dedupe_store(Arc::clone(&store))
        .with_dedupe_ttl(TTL);
    assert_eq!(config.dedupe_ttl(), TTL);
    let (handler, rx) = recorder();
    let service = WebhookService::new(config, handler);
    let sent = event(Some("evt_1"), "hello");
    let mut texts = Vec::new();
    for advance in [Duration::ZERO, TTL / 2, TTL / 2] {
        tokio::time::advance(advance).await;
        let response = service
            .clone()
            .oneshot(delivery(&sent).to_request(uri()))
            .await
            .unwrap();
        let (status, text) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        texts.push(text);
    }
    assert_eq!(texts, ["ok", "duplicate", "ok"]);
    drop(service);
    assert_eq!(drain(rx).await.len(), 2);
}
