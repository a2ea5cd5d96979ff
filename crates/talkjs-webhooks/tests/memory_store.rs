//! The in-memory dedupe store on tokio's paused clock: a claim is held by its token (asked
//! again with it: still held; by another: a duplicate), a release by another token changes
//! nothing, ids expire after their time to live, expired ids are purged, and the store
//! never holds more than its capacity.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{delivery, drain, event, read, recorder, secret, uri};
use http::StatusCode;
use talkjs_webhooks::{DedupeStore, MemoryDedupeStore, WebhookConfig, WebhookService};
use tower::ServiceExt;

const TTL: Duration = Duration::from_secs(60);

/// A claim by a delivery of its own (a fresh token): `true` if it holds the id.
async fn first(store: &MemoryDedupeStore, id: &str, ttl: Duration) -> bool {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let token = format!(
        "tok_{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    store.claim(id, &token, ttl).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_id_is_remembered_for_its_time_to_live() {
    let store = MemoryDedupeStore::new();
    assert!(store.is_empty());
    assert!(first(&store, "evt_1", TTL).await);
    assert!(!first(&store, "evt_1", TTL).await);
    assert!(first(&store, "evt_2", TTL).await);
    assert_eq!(store.len(), 2);

    tokio::time::advance(TTL.checked_sub(Duration::from_millis(1)).unwrap()).await;
    assert!(!first(&store, "evt_1", TTL).await);

    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(store.len(), 0, "both ids expired");
    assert!(first(&store, "evt_1", TTL).await, "expired, so new again");
    assert!(!first(&store, "evt_1", TTL).await);
}

#[tokio::test(start_paused = true)]
async fn expired_ids_are_purged() {
    let store = MemoryDedupeStore::new();
    for i in 0..1000 {
        assert!(first(&store, &format!("evt_{i}"), TTL).await);
    }
    tokio::time::advance(TTL).await;
    // One call purges everything expired: only the new id is left in the store.
    assert!(first(&store, "evt_new", TTL).await);
    let debug = format!("{store:?}");
    assert!(debug.contains("len: 1"), "{debug}");
}

#[tokio::test(start_paused = true)]
async fn the_store_never_exceeds_its_capacity() {
    let store = MemoryDedupeStore::with_capacity(3);
    assert_eq!(store.capacity(), 3);
    for i in 0..10 {
        assert!(first(&store, &format!("evt_{i}"), TTL).await);
        assert!(store.len() <= 3);
    }
    // The newest three are remembered, the oldest were forgotten early.
    for i in 7..10 {
        assert!(!first(&store, &format!("evt_{i}"), TTL).await);
    }
    assert!(first(&store, "evt_0", TTL).await);
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

#[tokio::test(start_paused = true)]
async fn a_claim_is_held_by_its_token_and_released_only_by_it() {
    let store = MemoryDedupeStore::new();
    assert!(store.claim("evt_1", "a", TTL).await.unwrap());
    // The same delivery asking again (its answer was lost): still its own.
    assert!(store.claim("evt_1", "a", TTL).await.unwrap());
    // Another delivery: a duplicate.
    assert!(!store.claim("evt_1", "b", TTL).await.unwrap());
    // Asking again does not extend the time to live.
    tokio::time::advance(TTL / 2).await;
    assert!(store.claim("evt_1", "a", TTL).await.unwrap());
    tokio::time::advance(TTL / 2).await;
    assert!(
        store.claim("evt_1", "b", TTL).await.unwrap(),
        "expired: b's now"
    );

    // Released by another token: nothing changes; by its own: free for the next.
    store.release("evt_1", "a").await.unwrap();
    assert!(!store.claim("evt_1", "a", TTL).await.unwrap());
    store.release("evt_1", "b").await.unwrap();
    assert!(store.is_empty());
    assert!(store.claim("evt_1", "c", TTL).await.unwrap());
    assert!(!store.claim("evt_1", "b", TTL).await.unwrap());
    assert_eq!(store.len(), 1);
    store.release("evt_missing", "a").await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_id_released_and_claimed_again_at_once_is_not_evicted_by_its_old_entry() {
    let store = MemoryDedupeStore::with_capacity(2);
    assert!(store.claim("evt_1", "a", TTL).await.unwrap());
    store.release("evt_1", "a").await.unwrap();
    // The same instant (paused clock): the same expiry as the released claim.
    assert!(store.claim("evt_1", "b", TTL).await.unwrap());
    // Over capacity: the released claim's old entry goes, not b's claim.
    assert!(store.claim("evt_2", "c", TTL).await.unwrap());
    assert!(!store.claim("evt_1", "x", TTL).await.unwrap());
    assert!(store.claim("evt_1", "b", TTL).await.unwrap());
}
