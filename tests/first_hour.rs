//! The first hour with the facade and the fake (issue 28): one dependency names the `http`
//! types, user and system messages share a send, a wrong app id says to check it, the
//! fake's per-request message index reads against the client's input index, and a key-less
//! send whose answer is a 5xx says it may have been stored instead of "retry later".
#![cfg(feature = "client")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use talkjs::models::{ConversationUpsert, NewMessage, UserUpsert};
use talkjs::{Client, Error};
use talkjs_fake::{FakeTalkJs, Faults};

/// Alice and Bob in conversation `chat`.
async fn chat(client: &Client) {
    for (id, name) in [("alice", "Alice"), ("bob", "Bob")] {
        client
            .users()
            .upsert(id, &UserUpsert::new().name(name))
            .await
            .unwrap();
    }
    client
        .conversations()
        .upsert(
            "chat",
            &ConversationUpsert::new().participants(["alice", "bob"]),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_wrong_app_id_says_to_check_the_app_id() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = Client::builder("tWrongApp", fake.secret_key())
        .base_url(fake.base_url())
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert_eq!(err.status(), Some(talkjs::http::StatusCode::NOT_FOUND));
    let message = err.to_string();
    assert!(message.contains("check the app id"), "{message}");
    assert!(!message.contains("create the resource"), "{message}");
    // A user that does not exist, in the right app: the usual advice.
    let message = common::client(&fake)
        .users()
        .get("nobody")
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("create the resource first"), "{message}");
}

#[tokio::test]
async fn user_and_system_messages_share_one_send() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    chat(&client).await;
    let ids = client
        .conversations()
        .messages("chat")
        .send([
            NewMessage::user("alice", "Hi Bob!").idempotency_key("chat-1"),
            NewMessage::system("Alice joined").custom([("kind", "join")]),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(fake.messages("chat").len(), 2);
}

#[tokio::test]
async fn the_fakes_message_index_is_per_request_and_the_body_is_its_own() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    chat(&client).await;
    // Item 12 of the input (message 2 of the second request of 10) is from a stranger.
    let messages = (0..15).map(|i| {
        let sender = if i == 12 { "mallory" } else { "alice" };
        NewMessage::user(sender, format!("#{i}")).idempotency_key(format!("chat-{i}"))
    });
    let err = client
        .conversations()
        .messages("chat")
        .send_all(messages)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("resume from item 10"), "{message}");
    assert!(message.contains("message 2 of this request"), "{message}");
    // body() is exactly what the fake answered: JSON that parses.
    let body: serde_json::Value = serde_json::from_str(err.body().unwrap()).unwrap();
    let reasons = body.to_string();
    assert!(reasons.contains("message 2 of this request"), "{reasons}");
    match err {
        Error::Incomplete { completed, .. } => assert_eq!(completed, 10),
        other => panic!("expected Incomplete, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_less_send_answered_with_a_5xx_may_have_been_stored() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    chat(&client).await;
    // From now on every request is answered 503 (before the write) or 500 (after it).
    fake.set_faults(Faults::seeded(28).error_rate(1.0));
    fake.reset_counters();
    let err = client
        .conversations()
        .messages("chat")
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownOutcome { .. }), "{err:?}");
    assert!(err.is_transient() && err.may_have_landed());
    let message = err.to_string();
    assert!(message.contains("may have been stored"), "{message}");
    assert!(!message.to_lowercase().contains("retry"), "{message}");
    // Exactly one request: a key-less send is not retried after a 5xx.
    assert_eq!(fake.request_count(), 1);
}
