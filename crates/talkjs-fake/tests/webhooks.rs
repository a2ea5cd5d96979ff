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
use talkjs_models::{MessageEventData, WebhookData, WebhookEvent, WebhookEventType};
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

#[tokio::test]
async fn every_event_has_the_documented_shape() {
    let api = Api::start().await;
    api.users(&["alice", "bob"]).await;
    api.put("/users/bob", &json!({ "role": "seller" })).await;
    api.conversation("c", &["alice", "bob"]).await;
    let id = api.say("c", "alice", "hello").await;
    let r = api.post("/conversations/c/readBy/bob", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .put(
            &format!("/conversations/c/messages/{id}"),
            &json!({ "text": "hello!" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.delete(&format!("/conversations/c/messages/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.delete("/conversations/c").await;
    assert_eq!(r.status, 200, "{}", r.text);

    let events = api.fake.events();
    for event in &events {
        assert!(event.id.as_deref().unwrap().starts_with("evt_"));
        assert!(event.created_at.is_some());
        // What a receiver decodes from the wire is typed, never the raw fallback.
        let wire: WebhookEvent =
            serde_json::from_slice(&serde_json::to_vec(event).unwrap()).unwrap();
        assert_eq!(&wire, event);
        assert!(
            !matches!(wire.data, WebhookData::Other(_)),
            "{}: {:?}",
            event.event_type,
            wire.data
        );
    }
    let find = |kind: WebhookEventType| {
        events
            .iter()
            .find(|e| e.event_type == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
    };
    let WebhookData::MessageSent(sent) = &find(WebhookEventType::MessageSent).data else {
        unreachable!()
    };
    assert_eq!(sent.sender.as_ref().unwrap().id, "alice");
    assert_eq!(sent.message.as_ref().unwrap().id, id.as_str());
    assert!(
        sent.conversation
            .as_ref()
            .unwrap()
            .participants
            .contains_key("bob")
    );
    let WebhookData::MessageRead(read) = &find(WebhookEventType::MessageRead).data else {
        unreachable!()
    };
    assert_eq!(
        read.recipient.as_ref().unwrap().id,
        "bob",
        "the reader is the recipient"
    );
    assert_eq!(
        read.recipient.as_ref().unwrap().role.as_deref(),
        Some("seller")
    );
    assert_eq!(read.message.as_ref().unwrap().id, id.as_str());
    assert!(read.conversation.is_some());
    let WebhookData::MessageUpdated(updated) = &find(WebhookEventType::MessageUpdated).data else {
        unreachable!()
    };
    assert_eq!(
        updated.message.as_ref().unwrap().text.as_deref(),
        Some("hello!")
    );
    assert!(matches!(
        find(WebhookEventType::MessageDeleted).data,
        WebhookData::MessageDeleted(_)
    ));
    let WebhookData::ConversationDeleted(deleted) =
        &find(WebhookEventType::ConversationDeleted).data
    else {
        unreachable!()
    };
    assert_eq!(deleted.conversation.as_ref().unwrap().id, "c");
    let WebhookData::UserUpdated(user) = &find(WebhookEventType::UserUpdated).data else {
        unreachable!()
    };
    assert_eq!(user.user.as_ref().unwrap().id, "bob");
}
