//! Webhook events: recorded, and delivered signed to a receiver.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Api;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use talkjs_auth::WebhookVerifier;
use talkjs_fake::FakeTalkJs;
use talkjs_models::{MessageEventData, WebhookEventType};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A receiver that answers 200 and forwards (timestamp, signature, body).
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, String, Bytes)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default()
                        };
                        let ts = header("x-talkjs-timestamp");
                        let sig = header("x-talkjs-signature");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send((ts, sig, body));
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

#[tokio::test]
async fn events_are_recorded_and_delivered_signed() {
    let (url, mut deliveries) = receiver().await;
    let api = Api::with(FakeTalkJs::builder().webhook_url(url)).await;
    api.users(&["alice"]).await;
    api.put("/users/alice", &json!({ "locale": "en" })).await;
    api.conversation("c", &["alice"]).await;
    let id = api.say("c", "alice", "hello").await;

    let types: Vec<WebhookEventType> = api
        .fake
        .events()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            WebhookEventType::UserCreated,
            WebhookEventType::UserUpdated,
            WebhookEventType::MessageSent
        ]
    );

    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let mut received = Vec::new();
    for _ in 0..3 {
        let (ts, sig, body) = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
            .await
            .unwrap()
            .unwrap();
        let event = verifier.verify(&body, &ts, &sig).unwrap();
        received.push(event);
    }
    assert_eq!(received[0].event_type, WebhookEventType::UserCreated);
    assert_eq!(received[2].event_type, WebhookEventType::MessageSent);
    let data: MessageEventData = received[2].data_as().unwrap();
    assert_eq!(data.message.unwrap().id, id.as_str());
    assert_eq!(data.sender.unwrap().id, "alice");
    assert!(
        data.conversation
            .unwrap()
            .participants
            .contains_key("alice")
    );
    assert!(received[2].id.as_deref().unwrap().starts_with("evt_"));

    // The delivery log fills in once the receiver answered.
    for _ in 0..100 {
        if api.fake.webhook_deliveries().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log = api.fake.webhook_deliveries();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d.succeeded() && d.attempts == 1));
}

#[tokio::test]
async fn non_http_webhook_urls_are_refused() {
    let result = FakeTalkJs::builder()
        .webhook_url("https://example.com/hook")
        .start()
        .await;
    assert!(matches!(result, Err(talkjs_fake::Error::Config(_))));
}
