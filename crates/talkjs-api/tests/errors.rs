//! Error mapping (status → variant, bodies kept, undecodable bodies), success judged by
//! status only, and arguments rejected before any request is sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::time::Duration;

use common::{assert_invalid, mount, no_request_client, ok_empty, p, single_request, start};
use futures_util::StreamExt;
use http::StatusCode;
use talkjs_api::{Client, Error};
use talkjs_models::{
    ConversationUpsert, ImportMessage, MessageEdit, NewMessage, ParticipantOverwrite,
    ParticipantPatch, Timestamp, UserUpsert,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `GET /users/alice` answered with `answer`; returns the call's result.
async fn get_alice(answer: ResponseTemplate) -> Result<talkjs_models::User, Error> {
    let (server, client) = start().await;
    mount(&server, "GET", "/users/alice", answer, 1).await;
    client.users().get("alice").await
}

#[tokio::test]
async fn status_400_is_bad_request_with_the_body() {
    let body = r#"{"errorCode":"INVALID_ARGUMENT","reasons":{"name":"required"}}"#;
    let err = get_alice(ResponseTemplate::new(400).set_body_string(body))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    assert!(!err.is_transient());
    match err {
        Error::BadRequest { body: kept } => assert_eq!(kept, body),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[tokio::test]
async fn status_401_is_unauthorized() {
    let err = get_alice(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    match err {
        Error::Unauthorized { body } => assert_eq!(body, "Unauthorized"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn status_404_is_not_found() {
    let err = get_alice(ResponseTemplate::new(404).set_body_string(r#"{"error":"no user"}"#))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert!(!err.is_transient());
    match err {
        Error::NotFound { body } => assert_eq!(body, r#"{"error":"no user"}"#),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn status_429_is_rate_limited_with_retry_after() {
    let err = get_alice(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(err.is_transient());
    match err {
        Error::RateLimited { retry_after } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn status_429_without_retry_after() {
    let err = get_alice(ResponseTemplate::new(429)).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: None }),
        "{err:?}"
    );
}

#[tokio::test]
async fn status_500_and_503_are_server_errors() {
    for status in [500_u16, 503] {
        let err = get_alice(ResponseTemplate::new(status).set_body_string("internal"))
            .await
            .unwrap_err();
        assert!(err.is_transient());
        match err {
            Error::Server { status: s, body } => {
                assert_eq!(s.as_u16(), status);
                assert_eq!(body, "internal");
            }
            other => panic!("expected Server, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn is_transient_follows_the_transports_retry_rules() {
    use talkjs_transport::Retryable;
    for status in [429_u16, 500, 502, 503, 504, 501, 505, 400, 403, 404, 409] {
        let err = get_alice(ResponseTemplate::new(status)).await.unwrap_err();
        let rule = Retryable::of_status(StatusCode::from_u16(status).unwrap());
        assert_eq!(err.is_transient(), rule != Retryable::Never, "{status}");
    }
    // 501 and 505 are never retried, and not transient either: the server says it cannot do
    // this at all.
    let err = get_alice(ResponseTemplate::new(501)).await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert!(!err.is_transient());

    // An I/O error of a custom inner service: by its kind, as the retry layer judges it.
    for (kind, transient) in [
        (std::io::ErrorKind::ConnectionRefused, true),
        (std::io::ErrorKind::ConnectionReset, true),
        (std::io::ErrorKind::PermissionDenied, false),
    ] {
        let client = Client::from_service(tower::service_fn(
            move |_req: talkjs_transport::HttpRequest| async move {
                Err::<talkjs_transport::HttpResponse, talkjs_transport::BoxError>(Box::new(
                    std::io::Error::from(kind),
                ))
            },
        ));
        let err = client.users().get("alice").await.unwrap_err();
        assert_eq!(err.is_transient(), transient, "{kind:?}");
    }
}

#[tokio::test]
async fn other_statuses_are_kept() {
    let err = get_alice(ResponseTemplate::new(403).set_body_string("forbidden"))
        .await
        .unwrap_err();
    match err {
        Error::Status { status, body } => {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(body, "forbidden");
        }
        other => panic!("expected Status, got {other:?}"),
    }
}

#[tokio::test]
async fn error_on_a_write_keeps_the_body() {
    let (server, client) = start().await;
    mount(
        &server,
        "PUT",
        "/conversations/c1",
        ResponseTemplate::new(400).set_body_string("unknown user bob"),
        1,
    )
    .await;
    let err = client
        .conversations()
        .upsert("c1", &ConversationUpsert::new().participants(["bob"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::BadRequest { body } if body == "unknown user bob"),
        "{err:?}"
    );
}

#[tokio::test]
async fn non_json_200_on_a_get_is_a_decode_error_with_the_raw_body() {
    let raw = "<html><body>Gateway says hi</body></html>";
    let err = get_alice(
        ResponseTemplate::new(200)
            .set_body_string(raw)
            .insert_header("content-type", "text/html"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), None);
    match err {
        Error::Decode { body, .. } => assert_eq!(&body[..], raw.as_bytes()),
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn truncated_json_200_on_a_get_is_a_decode_error_with_the_raw_body() {
    let raw = r#"{"id":"alice","name":"Ali"#;
    let err = get_alice(ResponseTemplate::new(200).set_body_string(raw))
        .await
        .unwrap_err();
    match err {
        Error::Decode { source, body } => {
            assert!(source.is_eof(), "{source}");
            assert_eq!(&body[..], raw.as_bytes());
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_shape_on_a_list_is_a_decode_error() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users",
        ResponseTemplate::new(200).set_body_string(r#"{"data":{"u1":{}}}"#),
        1,
    )
    .await;
    let err = client.users().list().await.unwrap_err();
    match err {
        Error::Decode { body, .. } => assert_eq!(&body[..], br#"{"data":{"u1":{}}}"#),
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn empty_object_answer_to_an_upsert_is_success() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users/alice", ok_empty(), 1).await;
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
}

#[tokio::test]
async fn unexpected_200_bodies_on_writes_still_succeed() {
    for body in ["not json at all", "[1,2,3]", r#"{"error":"ignored"}"#, ""] {
        let (server, client) = start().await;
        mount(
            &server,
            "PUT",
            "/users/alice",
            ResponseTemplate::new(200).set_body_string(body),
            1,
        )
        .await;
        mount(
            &server,
            "DELETE",
            "/conversations/c1",
            ResponseTemplate::new(200).set_body_string(body),
            1,
        )
        .await;
        client
            .users()
            .upsert("alice", &UserUpsert::new().name("Alice"))
            .await
            .unwrap_or_else(|e| panic!("body {body:?}: {e:?}"));
        client
            .conversations()
            .delete("c1")
            .await
            .unwrap_or_else(|e| panic!("body {body:?}: {e:?}"));
    }
}

#[tokio::test]
async fn error_status_with_a_json_looking_success_body_is_still_an_error() {
    // Success is judged by the status only, both ways.
    let err = get_alice(ResponseTemplate::new(500).set_body_json(common::user_json("alice")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
}

/// Asserts that a list request fails with `InvalidArgument` awaited, streamed and paged.
macro_rules! assert_list_invalid {
    ($list:expr) => {{
        assert_invalid($list.send().await);
        let mut items = $list.into_stream();
        assert!(matches!(
            items.next().await,
            Some(Err(Error::InvalidArgument(_)))
        ));
        assert!(items.next().await.is_none());
        let mut pages = $list.pages();
        assert!(matches!(
            pages.next().await,
            Some(Err(Error::InvalidArgument(_)))
        ));
        assert!(pages.next().await.is_none());
    }};
}

#[tokio::test]
async fn limits_out_of_range_are_rejected_without_a_request() {
    let (_server, client) = no_request_client().await;
    for limit in [0, 31] {
        assert_list_invalid!(client.conversations().list().limit(limit));
        assert_list_invalid!(client.users().conversations("alice").limit(limit));
    }
    for limit in [0, 101] {
        assert_list_invalid!(client.users().list().limit(limit));
        assert_list_invalid!(client.conversations().messages("c1").list().limit(limit));
    }
    let msg = assert_invalid(client.conversations().list().limit(31).await);
    assert!(msg.contains("31"), "{msg}");
}

#[tokio::test]
async fn limits_at_the_bounds_are_sent() {
    let (server, client) = start().await;
    Mock::given(method("GET"))
        .respond_with(common::ok_json(&common::page(&[])))
        .expect(4)
        .mount(&server)
        .await;
    client.conversations().list().limit(30).await.unwrap();
    client.users().list().limit(100).await.unwrap();
    client
        .conversations()
        .messages("c1")
        .list()
        .limit(100)
        .await
        .unwrap();
    client.users().list().limit(1).await.unwrap();
}

#[tokio::test]
async fn empty_user_ids_are_rejected_without_a_request() {
    let (_server, client) = no_request_client().await;
    let users = client.users();
    assert_invalid(users.get("").await);
    assert_invalid(users.upsert("", &UserUpsert::new().name("x")).await);
    assert_invalid(users.upsert_many([("", UserUpsert::new().name("x"))]).await);
    assert_invalid(
        users
            .upsert_all([
                ("a".to_owned(), UserUpsert::new().name("a")),
                (String::new(), UserUpsert::new().name("x")),
            ])
            .await,
    );
    assert_list_invalid!(users.conversations(""));
    let conversations = client.conversations();
    assert_invalid(conversations.mark_read("c1", "").await);
    let participants = conversations.participants("c1");
    assert_invalid(participants.join("", &ParticipantOverwrite::new()).await);
    assert_invalid(participants.modify("", &ParticipantPatch::new()).await);
    assert_invalid(participants.remove("").await);
    assert_invalid(participants.email("").await);
    let messages = conversations.messages("c1");
    assert_invalid(messages.add_reaction("m1", "👍", "").await);
    assert_invalid(messages.remove_reaction("m1", "👍", "").await);
}

#[tokio::test]
async fn empty_conversation_ids_are_rejected_without_a_request() {
    let (_server, client) = no_request_client().await;
    let conversations = client.conversations();
    assert_invalid(conversations.get("").await);
    assert_invalid(conversations.upsert("", &ConversationUpsert::new()).await);
    assert_invalid(conversations.delete("").await);
    assert_invalid(conversations.mark_read("", "alice").await);
    let participants = conversations.participants("");
    assert_invalid(participants.join("bob", &ParticipantOverwrite::new()).await);
    assert_invalid(participants.modify("bob", &ParticipantPatch::new()).await);
    assert_invalid(participants.remove("bob").await);
    assert_invalid(participants.email("bob").await);
    let messages = conversations.messages("");
    assert_list_invalid!(messages.list());
    assert_invalid(messages.get("m1").await);
    assert_invalid(messages.send([NewMessage::user("a", "hi")]).await);
    assert_invalid(messages.send_all([NewMessage::user("a", "hi")]).await);
    assert_invalid(messages.edit("m1", &MessageEdit::new().text("x")).await);
    assert_invalid(messages.delete("m1").await);
    assert_invalid(messages.add_reaction("m1", "👍", "bob").await);
    assert_invalid(
        messages
            .import([ImportMessage::new("a", "x", Timestamp::from_millis(1))])
            .await,
    );
}

#[tokio::test]
async fn empty_message_ids_and_emoji_are_rejected_without_a_request() {
    let (_server, client) = no_request_client().await;
    let messages = client.conversations().messages("c1");
    assert_invalid(messages.get("").await);
    assert_invalid(messages.edit("", &MessageEdit::new().text("x")).await);
    assert_invalid(messages.delete("").await);
    assert_invalid(messages.add_reaction("", "👍", "bob").await);
    assert_invalid(messages.remove_reaction("", "👍", "bob").await);
    assert_invalid(messages.add_reaction("m1", "", "bob").await);
    assert_invalid(messages.remove_reaction("m1", "", "bob").await);
}

#[tokio::test]
async fn dot_and_dot_dot_ids_are_rejected_without_a_request() {
    // "." and ".." survive percent-encoding; a path-normalising hop would turn
    // `DELETE …/conversations/c1/participants/..` into `DELETE …/conversations/c1`.
    let (_server, client) = no_request_client().await;
    for id in [".", ".."] {
        let conversations = client.conversations();
        let participants = conversations.participants("c1");
        let msg = assert_invalid(participants.remove(id).await);
        assert!(msg.contains("user id") && msg.contains(id), "{msg}");
        assert_invalid(participants.join(id, &ParticipantOverwrite::new()).await);
        assert_invalid(participants.modify(id, &ParticipantPatch::new()).await);
        assert_invalid(participants.email(id).await);

        let msg = assert_invalid(conversations.delete(id).await);
        assert!(msg.contains("conversation id"), "{msg}");
        assert_invalid(conversations.get(id).await);
        assert_invalid(conversations.participants(id).remove("bob").await);
        assert_invalid(conversations.mark_read("c1", id).await);

        let users = client.users();
        assert_invalid(users.get(id).await);
        assert_invalid(users.upsert(id, &UserUpsert::new().name("x")).await);
        assert_list_invalid!(users.conversations(id));

        let messages = conversations.messages("c1");
        let msg = assert_invalid(messages.delete(id).await);
        assert!(msg.contains("message id"), "{msg}");
        assert_invalid(messages.edit(id, &MessageEdit::new().text("x")).await);
        assert_invalid(messages.add_reaction("m1", id, "bob").await);
        assert_invalid(messages.remove_reaction("m1", "👍", id).await);
        assert_list_invalid!(conversations.messages(id).list());
        assert_invalid(
            conversations
                .messages(id)
                .import([ImportMessage::new("a", "x", Timestamp::from_millis(1))])
                .await,
        );
    }
    // Ids that merely contain dots are ordinary ids.
    let (server, client) = start().await;
    mount(
        &server,
        "DELETE",
        "/conversations/c1/participants/...",
        ok_empty(),
        1,
    )
    .await;
    client
        .conversations()
        .participants("c1")
        .remove("...")
        .await
        .unwrap();
}

#[tokio::test]
async fn too_many_items_are_rejected_without_a_request() {
    let (_server, client) = no_request_client().await;
    let eleven = (0..11).map(|i| NewMessage::user("alice", format!("{i}")));
    let msg = assert_invalid(client.conversations().messages("c1").send(eleven).await);
    assert!(msg.contains("11"), "{msg}");

    let users = (0..101).map(|i| (format!("u{i}"), UserUpsert::new().name("x")));
    let msg = assert_invalid(client.users().upsert_many(users).await);
    assert!(msg.contains("101"), "{msg}");

    let ops = (0..11).map(|i| {
        talkjs_models::BatchOperation::new(i, talkjs_models::BatchMethod::Get, "/users/a")
    });
    let msg = assert_invalid(client.batch().send(ops).await);
    assert!(msg.contains("11"), "{msg}");
}

#[tokio::test]
async fn invalid_api_versions_are_rejected() {
    let (server, client) = no_request_client().await;
    assert_invalid(client.with_api_version("2021-02-09\r\nX-Evil: 1"));
    // The builder refuses it at once, before anything is built.
    match common::builder(&server).api_version("bad\nversion") {
        Err(Error::Config(msg)) => assert!(msg.to_string().contains("version"), "{msg}"),
        other => panic!("expected Config, got {other:?}"),
    }
}

#[tokio::test]
async fn requests_of_a_valid_call_after_a_rejected_one_are_unaffected() {
    // A rejected argument leaves the client usable.
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        common::ok_json(&common::user_json("alice")),
        1,
    )
    .await;
    assert_invalid(client.users().get("").await);
    client.users().get("alice").await.unwrap();
    single_request(&server).await;
}

#[tokio::test]
async fn a_slow_answer_is_an_attempt_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(p("/users/alice")))
        .respond_with(
            common::ok_json(&common::user_json("alice")).set_delay(Duration::from_millis(200)),
        )
        .mount(&server)
        .await;
    let client = common::builder(&server)
        .attempt_timeout(Some(Duration::from_millis(50)))
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert!(err.is_transient());
    match err {
        Error::Timeout { kind, after } => {
            assert_eq!(kind, talkjs_transport::TimeoutKind::Attempt);
            assert_eq!(after, Duration::from_millis(50));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // A port nobody listens on (a dropped wiremock server goes back to a pool and keeps
    // listening, so it is no good here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = common::builder_at(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.status(), None);
    // The message names what to check, once (the connection error says it already).
    let text = err.to_string();
    assert_eq!(text.matches("check the network").count(), 1, "{text}");
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn status_and_decode_error_messages_say_what_to_do() {
    let forbidden = get_alice(ResponseTemplate::new(403).set_body_string("Forbidden"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        forbidden.contains("403") && forbidden.contains("check the request"),
        "{forbidden}"
    );
    let undecodable = get_alice(ResponseTemplate::new(200).set_body_string("not json"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        undecodable.contains("not json") && undecodable.contains("API version"),
        "{undecodable}"
    );
    // A refused connection: see a_refused_connection_is_a_transport_error.
}

#[tokio::test]
async fn a_long_server_body_is_cut_in_the_message_and_whole_through_body() {
    let long = format!("{{\"reasons\":\"{}\"}}", "x".repeat(5000));
    for status in [400, 404, 409] {
        let err = get_alice(ResponseTemplate::new(status).set_body_string(long.clone()))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.len() < 1200,
            "{status}: the message shows a bounded prefix, got {} bytes",
            text.len()
        );
        assert!(text.contains("{\"reasons\":\"xxx"), "{text}");
        assert_eq!(err.body(), Some(long.as_str()), "{status}: the whole body");
    }
}

/// A rate-limit store that always fails.
#[derive(Debug)]
struct Broken;
impl talkjs_transport::RateLimitStore for Broken {
    fn reserve<'a>(
        &'a self,
        _: &'a str,
        _: talkjs_transport::Quota,
        _: Option<Duration>,
    ) -> talkjs_transport::BoxFuture<
        'a,
        Result<talkjs_transport::Reservation, talkjs_transport::BoxError>,
    > {
        Box::pin(async { Err("no such host: redis".into()) })
    }
    fn penalize<'a>(
        &'a self,
        _: &'a str,
        _: talkjs_transport::Quota,
        _: Duration,
    ) -> talkjs_transport::BoxFuture<'a, Result<(), talkjs_transport::BoxError>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn is_transient_only_for_what_a_retry_can_fix() {
    // Refused before sending (here by a layer of the user's stack, as the base-URL layer
    // refuses another origin): not transient, sending it again is refused again.
    let refusing = Client::from_service(tower::service_fn(
        |_req: talkjs_transport::HttpRequest| async {
            Err::<talkjs_transport::HttpResponse, talkjs_transport::BoxError>(Box::new(
                talkjs_transport::TransportError::InvalidRequest("another origin".into()),
            ))
        },
    ));
    let err = refusing.users().get("alice").await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(!err.is_transient(), "{err}");
    // An I/O error of a custom inner service is a connection error: transient.
    let broken_pipe = Client::from_service(tower::service_fn(
        |_req: talkjs_transport::HttpRequest| async {
            Err::<talkjs_transport::HttpResponse, talkjs_transport::BoxError>(Box::new(
                std::io::Error::from(std::io::ErrorKind::BrokenPipe),
            ))
        },
    ));
    assert!(
        broken_pipe
            .users()
            .get("alice")
            .await
            .unwrap_err()
            .is_transient()
    );

    // A body over the size limit: not transient, and sent once.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(common::ok_json(&common::user_json("alice")))
        .mount(&server)
        .await;
    let client = common::builder(&server)
        .http_client(talkjs_transport::HyperClientBuilder::new().max_response_bytes(8))
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // A failing rate-limit store: not transient (the store is misconfigured or down, and
    // set to fail calls), and nothing is sent.
    let server = MockServer::start().await;
    let limiter =
        talkjs_transport::RateLimiter::new(common::APP_ID).with_store(std::sync::Arc::new(Broken));
    let client = common::builder(&server)
        .rate_limiter(Some(limiter))
        .build()
        .unwrap();
    let err = client.users().get("alice").await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());

    // A configuration error keeps its type.
    let err = Client::builder("app", "").build().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config(talkjs_transport::BuildError::Missing { .. })
        ),
        "{err:?}"
    );
    assert!(!err.is_transient());
}
