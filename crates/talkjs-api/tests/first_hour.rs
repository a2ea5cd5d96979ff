//! What a new user meets in the first hour (issue 28), through the public API:
//! - an import or a key-less send whose outcome is unknown is `Error::UnknownOutcome`, whose
//!   message never says to retry (it says the messages may have been stored, and to resend
//!   only with idempotency keys or after checking), while a keyed send's 5xx still says
//!   "retry later";
//! - `Error::body()` is the server's bytes, unchanged;
//! - a refused connection names the address and the cause;
//! - `http` and `bytes` are re-exported (`talkjs_api::http::StatusCode`);
//! - user and system messages go into one `send` without `.into()`;
//! - a 404 about the app id says to check the app id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::io::Read;
use std::time::Duration;

use common::{mount, ok_empty, ok_json, start};
use serde_json::json;
use talkjs_api::http::StatusCode;
use talkjs_api::{Client, Error, NonIdempotentWrite};
use talkjs_models::{ImportMessage, NewMessage, Timestamp, UserUpsert};
use wiremock::ResponseTemplate;

const SEND: &str = "/conversations/chat/messages";
const IMPORT: &str = "/import/conversations/chat/messages";

fn old(text: &str) -> ImportMessage {
    ImportMessage::new("alice", text, Timestamp::from_millis(1_550_000_000_000))
}

/// A client with the default retries (fast), so that a keyed send is retried and a key-less
/// one is not.
fn retrying(server: &wiremock::MockServer) -> Client {
    common::builder(server)
        .retry(Some(common::fast_retry()))
        .build()
        .unwrap()
}

/// The parts of an `UnknownOutcome` (panics on anything else).
#[track_caller]
fn unknown(error: &Error) -> (NonIdempotentWrite, &Error) {
    match error {
        Error::UnknownOutcome { write, cause } => (*write, cause),
        other => panic!("expected Error::UnknownOutcome, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_less_send_answered_500_is_an_unknown_outcome_that_never_says_retry() {
    let (server, _) = start().await;
    let client = retrying(&server);
    mount(
        &server,
        "POST",
        SEND,
        ResponseTemplate::new(500).set_body_string(r#"{"reasons":["boom"]}"#),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("chat")
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap_err();
    let (write, source) = unknown(&err);
    assert_eq!(write, NonIdempotentWrite::Send);
    assert!(matches!(source, Error::Server { .. }), "{source:?}");
    // Both questions answer yes, and the status and body are the server's.
    assert!(err.is_transient() && err.may_have_landed(), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(err.body(), Some(r#"{"reasons":["boom"]}"#));
    let message = err.to_string();
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("may have been stored"), "{message}");
    assert!(
        message.contains("resend only with an idempotency key")
            && message.contains("after checking"),
        "{message}"
    );
    assert!(!message.to_lowercase().contains("retry"), "{message}");
    // A printer of the whole `std::error::Error` chain (anyhow's `{:#}`) finds no advice to
    // retry either: the message says it all, the chain stops here.
    assert!(std::error::Error::source(&err).is_none());
}

#[tokio::test]
async fn a_keyed_send_answered_500_is_a_plain_server_error_retried_first() {
    let (server, _) = start().await;
    let client = retrying(&server);
    mount(&server, "POST", SEND, ResponseTemplate::new(500), 3).await;
    let err = client
        .conversations()
        .messages("chat")
        .send([NewMessage::user("alice", "hi").idempotency_key("chat-1")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert!(err.to_string().contains("retry later"), "{err}");
    // Only some keys: not safe to send again.
    let (server, _) = start().await;
    let client = retrying(&server);
    mount(&server, "POST", SEND, ResponseTemplate::new(503), 1).await;
    let err = client
        .conversations()
        .messages("chat")
        .send([
            NewMessage::user("alice", "hi").idempotency_key("chat-1"),
            NewMessage::system("joined"),
        ])
        .await
        .unwrap_err();
    assert_eq!(unknown(&err).0, NonIdempotentWrite::Send);
}

#[tokio::test]
async fn an_import_answered_502_is_an_unknown_outcome_and_a_400_is_not() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        IMPORT,
        ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("chat")
        .import([old("hi")])
        .await
        .unwrap_err();
    assert_eq!(unknown(&err).0, NonIdempotentWrite::Import);
    assert_eq!(err.body(), Some("<html>bad gateway</html>"));
    let message = err.to_string();
    assert!(message.contains("may have been stored"), "{message}");
    assert!(
        message.contains("only after checking the conversation"),
        "{message}"
    );
    assert!(!message.to_lowercase().contains("retry"), "{message}");

    // Refused: it did not land, and comes as it is.
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        IMPORT,
        ResponseTemplate::new(400).set_body_string("bad sender"),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("chat")
        .import([old("hi")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest { body } if body == "bad sender"),
        "{err:?}"
    );
    assert!(!err.may_have_landed());
}

#[tokio::test]
async fn an_import_that_times_out_is_an_unknown_outcome() {
    let server = wiremock::MockServer::start().await;
    mount(
        &server,
        "POST",
        IMPORT,
        ok_empty().set_delay(Duration::from_millis(500)),
        1,
    )
    .await;
    let client = common::builder(&server)
        .attempt_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let err = client
        .conversations()
        .messages("chat")
        .import([old("hi")])
        .await
        .unwrap_err();
    let (_, source) = unknown(&err);
    assert!(matches!(source, Error::Timeout { .. }), "{source:?}");
    let message = err.to_string();
    assert!(message.contains("timed out"), "{message}");
    assert!(!message.to_lowercase().contains("retry"), "{message}");
}

/// A loopback server that reads one request, then closes the connection without answering.
fn resetting_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            let mut buf = Vec::new();
            let mut chunk = [0_u8; 4096];
            // Read until the body (after the blank line) has arrived.
            while let Ok(n) = socket.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.ends_with(b"]") {
                    break;
                }
            }
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    });
    url
}

#[tokio::test]
async fn a_key_less_send_whose_connection_closed_is_an_unknown_outcome() {
    let client = common::builder_at(resetting_server()).build().unwrap();
    let err = client
        .conversations()
        .messages("chat")
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap_err();
    let (write, source) = unknown(&err);
    assert_eq!(write, NonIdempotentWrite::Send);
    assert!(matches!(source, Error::Transport(_)), "{source:?}");
    let message = err.to_string();
    assert!(message.contains("may have been stored"), "{message}");
    assert!(!message.to_lowercase().contains("retry"), "{message}");
}

#[tokio::test]
async fn a_later_import_request_with_an_unknown_outcome_says_to_check_before_resuming() {
    let (server, client) = start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(common::p(IMPORT)))
        .respond_with(ok_empty())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(&server, "POST", IMPORT, ResponseTemplate::new(500), 1).await;
    // 101 messages: the first request carries 100, the second fails.
    let err = client
        .conversations()
        .messages("chat")
        .import((0..101).map(|i| old(&format!("m{i}"))))
        .await
        .unwrap_err();
    let message = err.to_string();
    let (completed, _, source) = common::incomplete(err);
    assert_eq!(completed, 100);
    assert_eq!(unknown(&source).0, NonIdempotentWrite::Import);
    assert!(message.contains(&source.to_string()), "{message}");
    assert!(
        message
            .contains("resume from item 100 once its request's items are known not to be stored"),
        "{message}"
    );
    assert!(!message.to_lowercase().contains("retry"), "{message}");
}

#[tokio::test]
async fn upsert_all_keeps_the_servers_body_and_says_where_in_the_fields() {
    let (server, client) = start().await;
    wiremock::Mock::given(wiremock::matchers::method("PUT"))
        .and(wiremock::matchers::path(common::p("/users")))
        .respond_with(ok_empty())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let answer = r#"{"errorCode":"INVALID_REQUEST","reasons":["user150: name is required"]}"#;
    mount(
        &server,
        "PUT",
        "/users",
        ResponseTemplate::new(400).set_body_string(answer),
        1,
    )
    .await;
    let users = (0..250).map(|i| (format!("user{i:03}"), UserUpsert::new().name("x")));
    let err = client.users().upsert_all(users).await.unwrap_err();
    // body() is the server's JSON, parseable as such.
    assert_eq!(err.body(), Some(answer));
    let parsed: serde_json::Value = serde_json::from_str(err.body().unwrap()).unwrap();
    assert_eq!(parsed["errorCode"], "INVALID_REQUEST");
    match &err {
        Error::Incomplete {
            completed, source, ..
        } => {
            assert_eq!(*completed, 100);
            assert!(matches!(&**source, Error::BadRequest { body } if body == answer));
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    // The context is in the message.
    let message = err.to_string();
    assert!(
        message.contains("100 items were applied") && message.contains("resume from item 100"),
        "{message}"
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_address_and_the_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = common::builder_at(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "could not connect to the TalkJS API at 127.0.0.1:{port}: "
        )),
        "{message}"
    );
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message}"
    );
    assert!(!message.contains("client error (Connect)"), "{message}");
    // A refused import did not land, so it is not an unknown outcome.
    let err = client
        .conversations()
        .messages("chat")
        .import([old("hi")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn http_and_bytes_come_re_exported() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ResponseTemplate::new(404).set_body_string(r#"{"errorCode":"NOT_FOUND"}"#),
        1,
    )
    .await;
    let err = client.users().get("alice").await.unwrap_err();
    assert_eq!(err.status(), Some(talkjs_api::http::StatusCode::NOT_FOUND));
    // A custom stack speaks `http::Request<Bytes>` through the same re-exports.
    let stack = Client::from_service(tower::service_fn(
        |req: talkjs_api::http::Request<talkjs_api::bytes::Bytes>| async move {
            assert_eq!(req.method(), talkjs_api::http::Method::GET);
            Ok::<_, talkjs_api::transport::BoxError>(talkjs_api::http::Response::new(
                talkjs_api::bytes::Bytes::from_static(
                    br#"{"id":"alice","name":"Alice","createdAt":1600000000000}"#,
                ),
            ))
        },
    ));
    assert_eq!(stack.users().get("alice").await.unwrap().name, "Alice");
}

#[tokio::test]
async fn user_and_system_messages_go_into_one_send_as_they_are() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        SEND,
        ok_json(&json!([{ "id": "msg_1" }, { "id": "msg_2" }])),
        1,
    )
    .await;
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
    let body = common::json_body(&common::single_request(&server).await);
    assert_eq!(
        body,
        json!([
            { "type": "UserMessage", "sender": "alice", "text": "Hi Bob!", "idempotencyKey": "chat-1" },
            { "type": "SystemMessage", "text": "Alice joined", "custom": { "kind": "join" } }
        ])
    );
}

#[tokio::test]
async fn a_404_about_the_app_says_to_check_the_app_id() {
    // The fake's answer to an unknown app id (TalkJS's is not documented).
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ResponseTemplate::new(404).set_body_string(
            r#"{"errorCode":"APP_NOT_FOUND","reasons":["app \"tWrong\" does not exist on this server"]}"#,
        ),
        1,
    )
    .await;
    let message = client.users().get("alice").await.unwrap_err().to_string();
    assert!(message.contains("check the app id"), "{message}");
    assert!(!message.contains("create the resource"), "{message}");

    // A missing user keeps the usual advice.
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ResponseTemplate::new(404).set_body_string(
            r#"{"errorCode":"NOT_FOUND","reasons":["user alice does not exist"]}"#,
        ),
        1,
    )
    .await;
    let message = client.users().get("alice").await.unwrap_err().to_string();
    assert!(message.contains("create the resource first"), "{message}");
}
