//! The full default stack against wiremock: exact request shape, retries with fresh tokens,
//! user layers (traces and Debug output: `stack_traces.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use talkjs_auth::{AppId, Credentials, SecretKey};
use talkjs_transport::{Attempts, HttpService, RetryConfig, StackBuilder};
use tower::ServiceExt;
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod stack_common;

use stack_common::{APP, SECRET, auth_of, fail_once_then_ok, signer};

fn stack(server: &MockServer) -> HttpService {
    StackBuilder::new(AppId::new(APP), signer())
        .base_url(server.uri())
        .retry(Some(RetryConfig::default()))
        .build()
        .unwrap()
}

#[derive(Debug, serde::Deserialize)]
#[allow(non_snake_case, dead_code)]
struct Claims {
    tokenType: String,
    iss: String,
    iat: u64,
    exp: u64,
}

/// Decodes a bearer header as a TalkJS app token, checking signature, issuer and claims.
fn decode_bearer(value: &str) -> Claims {
    let token = value.strip_prefix("Bearer ").expect("Bearer scheme");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[APP]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid app token");
    assert_eq!(data.claims.tokenType, "app");
    assert!(data.claims.exp > data.claims.iat && data.claims.exp - data.claims.iat <= 60);
    data.claims
}

#[tokio::test]
async fn get_has_exact_shape() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/app_Test1/users/alice%20b"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"alice b"}"#))
        .expect(1)
        .mount(&server)
        .await;
    let req = http::Request::get("/users/alice%20b?limit=5")
        .body(Bytes::new())
        .unwrap();
    let resp = stack(&server).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body(), &Bytes::from_static(br#"{"id":"alice b"}"#));
    // First try: no `Attempts` extension, which reads as one attempt.
    assert_eq!(resp.extensions().get::<Attempts>(), None);
    assert_eq!(Attempts::of(&resp), 1);
    let received = server.received_requests().await.unwrap();
    let r = &received[0];
    assert_eq!(r.url.query(), Some("limit=5"));
    assert!(
        r.headers.get("content-type").is_none(),
        "GET carries no content type"
    );
    assert!(r.body.is_empty());
    decode_bearer(&auth_of(r));
}

#[tokio::test]
async fn put_sends_json_body_and_version_header() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/v1/app_Test1/users/alice"))
        .and(header("content-type", "application/json"))
        .and(header("talkjs-rest-version", "2021-02-09"))
        .and(body_bytes(br#"{"name":"Alice"}"#.to_vec()))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let svc = StackBuilder::new(AppId::new(APP), signer())
        .base_url(server.uri())
        .build()
        .unwrap();
    // The version header is the request's own (the resource API sets it on a pinned
    // client's requests): the stack passes it on.
    let req = http::Request::put("/users/alice")
        .header(talkjs_transport::API_VERSION_HEADER, "2021-02-09")
        .body(Bytes::from_static(br#"{"name":"Alice"}"#))
        .unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
}

#[tokio::test]
async fn credentials_replace_those_given_to_new() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let svc = StackBuilder::new(AppId::new(APP), signer())
        .credentials(Credentials::LegacySecretKey(SecretKey::new(SECRET)))
        .base_url(server.uri())
        .build()
        .unwrap();
    let req = http::Request::get("/users/alice")
        .body(Bytes::new())
        .unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
}

#[tokio::test]
async fn retried_post_has_same_body_and_fresh_token_per_attempt() {
    let server = MockServer::start().await;
    // Two 503s (with Retry-After: 1 s so the tokens' iat differ), then success.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "1"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"[{"id":"msg_1"}]"#))
        .mount(&server)
        .await;
    let body = Bytes::from_static(
        br#"[{"type":"UserMessage","sender":"a","text":"hi","idempotencyKey":"k1"}]"#,
    );
    let req = http::Request::post("/conversations/c1/messages")
        .extension(talkjs_transport::Idempotency::Idempotent)
        .body(body.clone())
        .unwrap();
    let resp = stack(&server).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.extensions().get::<Attempts>(), Some(&Attempts(3)));
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 3);
    let mut tokens = Vec::new();
    for r in &received {
        assert_eq!(
            r.body,
            body.to_vec(),
            "every attempt re-sends the same body"
        );
        assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
        let claims = decode_bearer(&auth_of(r));
        tokens.push((auth_of(r), claims.iat));
    }
    assert!(tokens[0].1 < tokens[2].1, "later attempts are signed later");
    assert_ne!(
        tokens[0].0, tokens[2].0,
        "a retried attempt carries a new token"
    );
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"reasons":["bad"]}"#))
        .expect(1)
        .mount(&server)
        .await;
    let req = http::Request::get("/users").body(Bytes::new()).unwrap();
    let resp = stack(&server).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn legacy_secret_key_is_sent_as_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let svc = StackBuilder::new(
        AppId::new(APP),
        Credentials::LegacySecretKey(SecretKey::new(SECRET)),
    )
    .base_url(server.uri())
    .build()
    .unwrap();
    let req = http::Request::get("/users/a").body(Bytes::new()).unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
}

/// A user layer that counts the attempts it sees and tags each with its number.
fn count_layer(
    count: Arc<AtomicUsize>,
) -> tower::util::MapRequestLayer<impl FnMut(http::Request<Bytes>) -> http::Request<Bytes> + Clone>
{
    tower::util::MapRequestLayer::new(move |mut req: http::Request<Bytes>| {
        assert!(
            req.headers().get("authorization").is_none(),
            "user layers run before signing"
        );
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        req.headers_mut()
            .insert("x-attempt", n.to_string().parse().unwrap());
        req
    })
}

#[tokio::test]
async fn user_layers_see_every_attempt() {
    let server = MockServer::start().await;
    fail_once_then_ok(&server, 500).await;
    let count = Arc::new(AtomicUsize::new(0));
    let svc = StackBuilder::new(AppId::new(APP), signer())
        .base_url(server.uri())
        .retry(Some(
            RetryConfig::default().base_delay(Duration::from_millis(1)),
        ))
        .layer(count_layer(count.clone()))
        .build()
        .unwrap();
    let req = http::Request::get("/users").body(Bytes::new()).unwrap();
    assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[1].headers.get("x-attempt").unwrap(), "2");
}

#[tokio::test]
async fn insecure_base_url_is_refused() {
    let err = StackBuilder::new(AppId::new(APP), signer())
        .base_url("http://example.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
    assert!(
        StackBuilder::new(AppId::new(APP), signer())
            .base_url("http://example.com")
            .allow_insecure_http(true)
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let svc = StackBuilder::new(AppId::new(APP), signer())
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry(Some(
            RetryConfig::default()
                .max_attempts(2)
                .base_delay(Duration::from_millis(1)),
        ))
        .build()
        .unwrap();
    let req = http::Request::get("/users").body(Bytes::new()).unwrap();
    let err = svc.oneshot(req).await.unwrap_err();
    let found = talkjs_transport::TransportError::find(&*err).expect("a TransportError");
    assert!(
        matches!(found, talkjs_transport::TransportError::Connect { .. }),
        "{found:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":"alice"}"#))
        .mount(&server)
        .await;
    let stack = StackBuilder::new(AppId::new(APP), signer())
        .base_url(server.uri())
        .http_client(talkjs_transport::HyperClientBuilder::new().max_response_bytes(4))
        .retry(Some(
            RetryConfig::default().base_delay(Duration::from_millis(1)),
        ))
        .build()
        .unwrap();
    let error = stack
        .oneshot(
            http::Request::get("/users/alice")
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            talkjs_transport::TransportError::find(&*error),
            Some(talkjs_transport::TransportError::BodyTooLarge { limit: 4 })
        ),
        "{error}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the same request would get the same answer: sent once"
    );
}
