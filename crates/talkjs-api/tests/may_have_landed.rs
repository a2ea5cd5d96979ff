//! `Error::may_have_landed`: refused (a 4xx, nothing sent) against unknown outcome (a 5xx, a
//! timeout, a reset after the request was written, a success that does not decode), for the
//! non-idempotent writes where the difference decides whether sending again duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{mount, ok_empty, start};
use talkjs_api::{Client, Error};
use talkjs_models::{ImportMessage, NewMessage, Timestamp};
use wiremock::ResponseTemplate;

const IMPORT: &str = "/import/conversations/chat/messages";

fn old(text: &str) -> ImportMessage {
    ImportMessage::new("alice", text, Timestamp::from_millis(1_550_000_000_000))
}

/// One import of one message into `chat` through `client`.
async fn import(client: &Client) -> Result<usize, Error> {
    client
        .conversations()
        .messages("chat")
        .import([old("hi")])
        .await
}

#[tokio::test]
async fn a_4xx_was_refused_and_a_5xx_may_have_landed() {
    for status in [400_u16, 401, 403, 404, 409, 413, 429] {
        let (server, client) = start().await;
        mount(
            &server,
            "POST",
            IMPORT,
            ResponseTemplate::new(status).set_body_string("no"),
            1,
        )
        .await;
        let err = import(&client).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert!(!err.may_have_landed(), "{status}: {err:?}");
    }
    for status in [500_u16, 501, 502, 503, 504] {
        let (server, client) = start().await;
        mount(
            &server,
            "POST",
            IMPORT,
            ResponseTemplate::new(status).set_body_string("oops"),
            1,
        )
        .await;
        let err = import(&client).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert!(err.may_have_landed(), "{status}: {err:?}");
    }
}

#[tokio::test]
async fn a_429_is_transient_but_did_not_land_and_a_500_is_both() {
    let (server, client) = start().await;
    mount(&server, "POST", IMPORT, ResponseTemplate::new(429), 1).await;
    let err = import(&client).await.unwrap_err();
    assert!(err.is_transient() && !err.may_have_landed(), "{err:?}");
    let (server, client) = start().await;
    mount(&server, "POST", IMPORT, ResponseTemplate::new(500), 1).await;
    let err = import(&client).await.unwrap_err();
    assert!(err.is_transient() && err.may_have_landed(), "{err:?}");
}

#[tokio::test]
async fn an_attempt_timeout_may_have_landed() {
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
    let err = import(&client).await.unwrap_err();
    // An import's unknown outcome comes as UnknownOutcome around the timeout.
    assert!(
        matches!(&err, Error::UnknownOutcome { cause: source, .. } if matches!(**source, Error::Timeout { .. })),
        "{err:?}"
    );
    assert!(err.may_have_landed(), "{err:?}");
    // The server had the request: it would have stored the message.
    assert_eq!(common::requests(&server).await.len(), 1);
}

/// A server that reads each request to its end, then closes the connection without an
/// answer (what a crashed backend or a gateway reset looks like to the client). Returns its
/// base URL and a counter of requests read. Runs on a thread of its own, for the life of
/// the test process.
fn resetting_server() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let read = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&read);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            if read_request(&mut socket) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            // Closed without a byte of answer.
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    });
    (url, read)
}

/// Reads one HTTP/1 request (head and `Content-Length` body); false if the connection ended
/// first.
fn read_request(socket: &mut std::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = match socket.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= head_end + 4 + length {
            return true;
        }
    }
}

#[tokio::test]
async fn a_connection_closed_after_the_request_was_written_may_have_landed() {
    let (url, read) = resetting_server();
    let client = common::builder_at(url).build().unwrap();
    let err = import(&client).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownOutcome { cause: source, .. } if matches!(**source, Error::Transport(_))),
        "{err:?}"
    );
    assert!(err.may_have_landed(), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(
        read.load(Ordering::SeqCst),
        1,
        "the server read the whole request"
    );
}

#[tokio::test]
async fn a_refused_connection_did_not_land() {
    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = common::builder_at(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let err = import(&client).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(!err.may_have_landed(), "{err:?}");
}

#[tokio::test]
async fn a_success_that_does_not_decode_landed() {
    // A send without idempotency keys answered 200 with a body that is not the ids: the
    // messages were sent, only the answer is unreadable.
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/conversations/chat/messages",
        ResponseTemplate::new(200).set_body_string("<html>proxy</html>"),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("chat")
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.may_have_landed(), "{err:?}");
}

#[tokio::test]
async fn an_incomplete_import_answers_for_its_failing_request() {
    for (status, landed) in [(500_u16, true), (400, false)] {
        let (server, client) = start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(common::p(IMPORT)))
            .respond_with(ok_empty())
            .up_to_n_times(1)
            .mount(&server)
            .await;
        mount(&server, "POST", IMPORT, ResponseTemplate::new(status), 1).await;
        let err = client
            .conversations()
            .messages("chat")
            .import((0..105).map(|i| old(&format!("m{i}"))))
            .await
            .unwrap_err();
        let landed_for_sure = match &err {
            Error::Incomplete { completed, .. } => *completed,
            other => panic!("expected Incomplete, got {other:?}"),
        };
        // Imports go 100 to a request: the first 100 landed, the last 5 failed.
        assert_eq!(landed_for_sure, 100);
        assert_eq!(err.may_have_landed(), landed, "{status}: {err:?}");
    }
}

/// A client whose whole stack is `service`: one error, whatever the request.
fn failing_with(error: fn() -> talkjs_transport::BoxError) -> Client {
    Client::from_service(tower::service_fn(
        move |_req: talkjs_transport::HttpRequest| async move {
            Err::<talkjs_transport::HttpResponse, _>(error())
        },
    ))
}

#[tokio::test]
async fn transport_errors_land_unless_nothing_was_sent() {
    // Refused on this side before sending: did not land.
    let refused = failing_with(|| {
        Box::new(talkjs_transport::TransportError::InvalidRequest(
            "another origin".into(),
        ))
    });
    assert!(!import(&refused).await.unwrap_err().may_have_landed());
    let connection_refused =
        failing_with(|| Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
    assert!(
        !import(&connection_refused)
            .await
            .unwrap_err()
            .may_have_landed()
    );
    // A custom inner service's reset, or an error nothing says anything about: may have.
    let reset =
        failing_with(|| Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
    assert!(import(&reset).await.unwrap_err().may_have_landed());
    let opaque = failing_with(|| "something went wrong".into());
    assert!(import(&opaque).await.unwrap_err().may_have_landed());
}

#[tokio::test]
async fn errors_before_any_request_did_not_land() {
    let (_server, client) = common::no_request_client().await;
    let err = client
        .conversations()
        .messages("")
        .import([old("hi")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(!err.may_have_landed());
    let err = Client::builder("app", "").build().unwrap_err();
    assert!(!err.may_have_landed(), "{err:?}");
}
