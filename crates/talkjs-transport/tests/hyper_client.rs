//! The innermost service against wiremock: the response is read whole into `Bytes` with its
//! status and headers, a body over the size limit fails with `TransportError::Body`, and an
//! unreachable host fails with `TransportError::Connect`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use talkjs_transport::{HyperClient, TransportError};
use tower::ServiceExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_with_body(body: &'static str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/app/users/alice"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-answer", "42")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    server
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

#[tokio::test]
async fn reads_status_headers_and_the_whole_body() {
    let body = r#"{"id":"alice","name":"Alice"}"#;
    let server = server_with_body(body).await;
    let client = HyperClient::builder()
        .max_response_bytes(body.len())
        .build()
        .unwrap();
    let response = client
        .oneshot(get(&format!("{}/v1/app/users/alice", server.uri())))
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-answer"], "42");
    assert_eq!(response.body(), body.as_bytes());
}

#[tokio::test]
async fn a_body_over_the_limit_is_an_error() {
    let server = server_with_body(r#"{"id":"alice","name":"Alice"}"#).await;
    let client = HyperClient::builder()
        .max_response_bytes(10)
        .build()
        .unwrap();
    let error = client
        .oneshot(get(&format!("{}/v1/app/users/alice", server.uri())))
        .await
        .unwrap_err();
    assert!(
        matches!(
            TransportError::find(&*error),
            Some(TransportError::BodyTooLarge { limit: 10 })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_host_is_a_connect_error() {
    // Bind and drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = HyperClient::new()
        .unwrap()
        .oneshot(get(&format!("http://127.0.0.1:{port}/v1/app/users")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            TransportError::find(&*error),
            Some(TransportError::Connect { .. })
        ),
        "{error:?}"
    );
}
