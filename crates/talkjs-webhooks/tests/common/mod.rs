//! Shared by the tests: the secret, events, a recording handler and requests built from a
//! [`SignedDelivery`]. A real `redis-server` and what `tracing` logs are in the workspace's
//! talkjs-test-support (`redis_server`, `logs`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use talkjs_webhooks::models::WebhookEventType;
use talkjs_webhooks::{EventHandler, SecretKey, SignedDelivery, WebhookEvent};
use tokio::sync::mpsc;

/// The webhook secret of the tests. Its text is checked to be absent from logs and
/// `Debug` output.
pub const SECRET: &str = "sk_test_WEBHOOK_SECRET_9f3b27";

/// The path the tests post to.
pub const PATH: &str = "/talkjs";

/// How long a test waits for something that happens at once before it fails (a bound on
/// a hang, never a measurement).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn secret() -> SecretKey {
    SecretKey::new(SECRET)
}

pub fn uri() -> Uri {
    Uri::from_static(PATH)
}

/// A `message.sent` event with id `id` (none for `None`) and message `text`.
pub fn event(id: Option<&str>, text: &str) -> WebhookEvent {
    let mut event = WebhookEvent::new(
        WebhookEventType::MessageSent,
        serde_json::json!({
            "conversation": {"id": "chat", "createdAt": 1_600_000_000_000_u64,
                             "participants": {"alice": {"access": "ReadWrite", "notify": true}}},
            "message": {"id": "msg_1", "type": "UserMessage", "conversationId": "chat",
                        "senderId": "alice", "text": text, "createdAt": 1_700_000_000_000_u64},
            "sender": {"id": "alice", "name": "Alice", "createdAt": 1_600_000_000_000_u64},
        }),
    );
    event.id = id.map(str::to_owned);
    event
}

/// `event` signed now with the tests' secret.
pub fn delivery(event: &WebhookEvent) -> SignedDelivery {
    SignedDelivery::new(&secret(), event)
}

/// `event` signed `ago` in the past (a negative offset is not needed: see `signed_ahead`).
pub fn signed_ago(event: &WebhookEvent, ago: Duration) -> SignedDelivery {
    delivery(event).at(SystemTime::now().checked_sub(ago).unwrap())
}

/// `event` signed `ahead` in the future.
pub fn signed_ahead(event: &WebhookEvent, ahead: Duration) -> SignedDelivery {
    delivery(event).at(SystemTime::now().checked_add(ahead).unwrap())
}

/// A POST of `body` with `headers`.
pub fn request(headers: HeaderMap, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut request = Request::post(uri()).body(Full::new(body.into())).unwrap();
    *request.headers_mut() = headers;
    request
}

/// A handler sending every event it runs for into a channel, and that channel. Once every
/// holder of the handler (services, routers, spawned handler runs) is dropped, the
/// receiver ends: [`drain`] then returns every run.
pub fn recorder() -> (impl EventHandler, mpsc::UnboundedReceiver<WebhookEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |event: WebhookEvent| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    };
    (handler, rx)
}

/// Every event the recorder received, after every holder of its handler is gone.
pub async fn drain(mut rx: mpsc::UnboundedReceiver<WebhookEvent>) -> Vec<WebhookEvent> {
    let mut events = Vec::new();
    loop {
        let next = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("the handler's channel did not close: a holder is still alive");
        match next {
            Some(event) => events.push(event),
            None => return events,
        }
    }
}

/// The status and text of a response.
pub async fn read<B>(response: Response<B>) -> (StatusCode, String)
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The same JSON with other whitespace (pretty-printed).
pub fn reencoded_pretty(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    assert_ne!(pretty, body);
    pretty
}

/// The same JSON with its keys in another order (sorted, as `serde_json::Value` writes
/// them; the delivery has `id` before `createdAt`).
pub fn reencoded_sorted(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let sorted = serde_json::to_vec(&value).unwrap();
    assert_ne!(sorted, body, "the re-encoding changed nothing");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sorted).unwrap(),
        value
    );
    sorted
}

/// The body of an event whose message text makes it larger than `size` bytes.
pub fn large_event(id: &str, size: usize) -> WebhookEvent {
    event(Some(id), &"x".repeat(size))
}
