//! Retries through the client: which calls are re-sent after a 503 (idempotent ones, and
//! message sends whose every message has an idempotency key) and which are not (sends
//! without keys, imports, batches with a POST).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{
    assert_app_token, assert_request, builder, fast_retry, mount, ok_empty, ok_json, p, requests,
};
use serde_json::json;
use talkjs_api::{Client, Error};
use talkjs_models::{
    BatchMethod, BatchOperation, ImportMessage, NewMessage, PresenceQuery, Timestamp,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MESSAGES: &str = "/conversations/c1/messages";
const IMPORT: &str = "/import/conversations/c1/messages";

async fn retrying() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = builder(&server).retry(Some(fast_retry())).build().unwrap();
    (server, client)
}

/// The first `failures` requests to `method path` get `status`, later ones `then`.
async fn fail_then(
    server: &MockServer,
    verb: &str,
    rel: &str,
    status: u16,
    failures: u64,
    then: ResponseTemplate,
) {
    Mock::given(method(verb))
        .and(path(p(rel)))
        .respond_with(ResponseTemplate::new(status).set_body_string("unavailable"))
        .up_to_n_times(failures)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(p(rel)))
        .respond_with(then)
        .mount(server)
        .await;
}

#[tokio::test]
async fn send_with_idempotency_keys_is_retried_after_a_503_with_the_same_body() {
    let (server, client) = retrying().await;
    fail_then(
        &server,
        "POST",
        MESSAGES,
        503,
        1,
        ok_json(&json!([{ "id": "msg_1" }, { "id": "msg_2" }])),
    )
    .await;

    let batch: [NewMessage; 2] = [
        NewMessage::user("alice", "hi").idempotency_key("k1"),
        NewMessage::system("joined").idempotency_key("k2"),
    ];
    let ids = client
        .conversations()
        .messages("c1")
        .send(batch)
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], "msg_2");

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "one retry");
    let body = json!([
        { "type": "UserMessage", "sender": "alice", "text": "hi", "idempotencyKey": "k1" },
        { "type": "SystemMessage", "text": "joined", "idempotencyKey": "k2" }
    ]);
    for req in &reqs {
        assert_request(req, "POST", MESSAGES, None, Some(&body));
    }
    assert_eq!(reqs[0].body, reqs[1].body, "the same bytes are re-sent");
}

#[tokio::test]
async fn send_without_idempotency_keys_is_not_retried_after_a_503() {
    let (server, client) = retrying().await;
    mount(
        &server,
        "POST",
        MESSAGES,
        ResponseTemplate::new(503).set_body_string("unavailable"),
        1,
    )
    .await;

    let err = client
        .conversations()
        .messages("c1")
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap_err();
    // Not retried, and its outcome is unknown (the 503 may come after the write).
    match err {
        Error::UnknownOutcome { cause: source, .. } => match *source {
            Error::Server { status, body } => {
                assert_eq!(status, 503);
                assert_eq!(body, "unavailable");
            }
            other => panic!("expected Server, got {other:?}"),
        },
        other => panic!("expected UnknownOutcome, got {other:?}"),
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn send_where_only_some_messages_have_keys_is_not_retried() {
    let (server, client) = retrying().await;
    mount(&server, "POST", MESSAGES, ResponseTemplate::new(503), 1).await;
    let batch: [NewMessage; 2] = [
        NewMessage::user("alice", "hi").idempotency_key("k1"),
        NewMessage::user("alice", "again"),
    ];
    let err = client
        .conversations()
        .messages("c1")
        .send(batch)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOutcome { cause: source, .. } if matches!(**source, Error::Server { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn import_is_not_retried_after_a_503() {
    let (server, client) = retrying().await;
    mount(&server, "POST", IMPORT, ResponseTemplate::new(503), 1).await;
    let err = client
        .conversations()
        .messages("c1")
        .import([ImportMessage::new(
            "alice",
            "old",
            Timestamp::from_millis(1),
        )])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOutcome { cause: source, .. }
            if matches!(**source, Error::Server { status, .. } if status == 503)),
        "{err:?}"
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn import_stops_at_the_failing_chunk() {
    let (server, client) = retrying().await;
    fail_then(&server, "POST", IMPORT, 200, 1, ResponseTemplate::new(503)).await;
    // Imports go 100 to a request.
    let msgs =
        (0..250).map(|i| ImportMessage::new("alice", format!("{i}"), Timestamp::from_millis(i)));
    let err = client
        .conversations()
        .messages("c1")
        .import(msgs)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Incomplete { completed: 100, source, .. }
            if matches!(&**source, Error::UnknownOutcome { cause, .. }
                if matches!(**cause, Error::Server { .. }))),
        "{err:?}"
    );
    assert_eq!(
        requests(&server).await.len(),
        2,
        "chunk 1 sent, chunk 2 failed once and was not retried, chunk 3 not sent"
    );
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_a_503() {
    let (server, client) = retrying().await;
    fail_then(
        &server,
        "GET",
        "/users/alice",
        503,
        2,
        ok_json(&common::user_json("alice")),
    )
    .await;
    fail_then(
        &server,
        "POST",
        "/presences",
        503,
        1,
        ok_json(&json!({ "data": {} })),
    )
    .await;
    fail_then(
        &server,
        "POST",
        "/conversations/c1/readBy/bob",
        502,
        1,
        ok_empty(),
    )
    .await;

    let user = client.users().get("alice").await.unwrap();
    assert_eq!(user.id, "alice");
    client
        .users()
        .presence(&PresenceQuery::new())
        .await
        .unwrap();
    client.conversations().mark_read("c1", "bob").await.unwrap();

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3 + 2 + 2);
    // Every attempt carries a valid app token.
    for req in &reqs {
        assert_app_token(req);
    }
}

#[tokio::test]
async fn upload_is_retried_with_the_same_multipart_body() {
    let (server, client) = retrying().await;
    fail_then(
        &server,
        "POST",
        "/files",
        503,
        1,
        ok_json(&json!({ "attachmentToken": "att" })),
    )
    .await;
    let token = client
        .files()
        .upload("a.txt", "text/plain", &b"hello"[..], None)
        .await
        .unwrap();
    assert_eq!(token, "att");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(
        reqs[0].headers.get("content-type"),
        reqs[1].headers.get("content-type")
    );
}

#[tokio::test]
async fn batch_with_a_post_is_not_retried_but_one_without_is() {
    let (server, client) = retrying().await;
    fail_then(
        &server,
        "POST",
        "/batch",
        503,
        2,
        ok_json(&json!([[1, 200, "{}"]])),
    )
    .await;

    let with_post = [
        BatchOperation::new(1, BatchMethod::Post, "/conversations/c1/messages")
            .payload(json!([{ "type": "SystemMessage", "text": "x" }])),
    ];
    let err = client.batch().send(with_post).await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert_eq!(requests(&server).await.len(), 1, "a POST op: not retried");

    let only_get = [BatchOperation::new(1, BatchMethod::Get, "/users/alice")];
    let results = client.batch().send(only_get).await.unwrap();
    assert!(results.all_succeeded());
    assert_eq!(requests(&server).await.len(), 3, "no POST op: retried once");
}

#[tokio::test]
async fn retries_off_means_one_attempt() {
    let (server, client) = common::start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ResponseTemplate::new(503),
        1,
    )
    .await;
    let err = client.users().get("alice").await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
}

#[tokio::test]
async fn import_is_retried_after_a_429_which_is_refused_before_processing() {
    let (server, client) = retrying().await;
    Mock::given(method("POST"))
        .and(path(p(IMPORT)))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(p(IMPORT)))
        .respond_with(ok_empty())
        .mount(&server)
        .await;
    let n = client
        .conversations()
        .messages("c1")
        .import([ImportMessage::new(
            "alice",
            "old",
            Timestamp::from_millis(1),
        )])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
}

#[tokio::test]
async fn a_429_asking_for_too_long_a_wait_is_returned_at_once() {
    let (server, client) = retrying().await;
    Mock::given(method("GET"))
        .and(path(p("/users/alice")))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "120"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.users().get("alice").await.unwrap_err();
    match err {
        Error::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(std::time::Duration::from_secs(120)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn persistent_503_ends_after_max_attempts_with_a_server_error() {
    let (server, client) = retrying().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ResponseTemplate::new(503).set_body_string("down"),
        3,
    )
    .await;
    let err = client.users().get("alice").await.unwrap_err();
    assert!(
        matches!(&err, Error::Server { status, body } if *status == 503 && body == "down"),
        "{err:?}"
    );
}
