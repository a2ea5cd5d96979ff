//! The wiremock tests' helpers (feature `mock-api`): a client pointed at a mock server, exact
//! request assertions (method, path, query, headers, app token, JSON body) and documented
//! fixtures. Used by the tests of talkjs-api and talkjs-runtime.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use talkjs_api::{Client, ClientBuilder, Error};
use talkjs_transport::RetryConfig;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The app id of every test client.
pub const APP_ID: &str = "tNCnKd4d";
/// The secret key of every test client.
pub const SECRET: &str = "sk_test_wiremock_0123456789";

/// The absolute path of `rel` (`/users/alice`) under `/v1/{appId}`.
pub fn p(rel: &str) -> String {
    format!("/v1/{APP_ID}{rel}")
}

/// A builder pointed at `base_url`, with retries and the client-side rate limiter off.
pub fn builder_at(base_url: impl Into<String>) -> ClientBuilder {
    Client::builder(APP_ID, SECRET)
        .base_url(base_url)
        .retry(None)
        .rate_limiter(None)
}

/// A builder pointed at `server`, with retries and the client-side rate limiter off.
pub fn builder(server: &MockServer) -> ClientBuilder {
    builder_at(server.uri())
}

/// A client pointed at `server`, with retries and the client-side rate limiter off.
pub fn client(server: &MockServer) -> Client {
    builder(server).build().expect("the test client builds")
}

/// A mock server and a client pointed at it.
pub async fn start() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = client(&server);
    (server, client)
}

/// A mock server that must receive no request (see [`forbid_requests`]) and a client
/// pointed at it.
pub async fn no_request_client() -> (MockServer, Client) {
    let (server, client) = start().await;
    forbid_requests(&server).await;
    (server, client)
}

/// Mounts a mock of `verb rel_path` (`rel_path` relative to `/v1/{appId}`, as sent, i.e.
/// percent-encoded) that answers with `answer` and must be hit exactly `times` times.
pub async fn mount(
    server: &MockServer,
    verb: &str,
    rel_path: &str,
    answer: impl Respond + 'static,
    times: u64,
) {
    Mock::given(method(verb))
        .and(path(p(rel_path)))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// Retries with millisecond delays and no budget (for retry tests).
pub fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .max_attempts(3)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .budget(None)
}

/// Every request the server received, in order.
pub async fn requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

/// The one request the server received (fails if there were more or none).
pub async fn single_request(server: &MockServer) -> Request {
    let mut all = requests(server).await;
    assert_eq!(all.len(), 1, "expected exactly one request, got {all:#?}");
    all.remove(0)
}

/// Mounts a catch-all mock that must never be hit: the call under test has to fail before
/// sending anything.
pub async fn forbid_requests(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .named("no request may be sent")
        .expect(0)
        .mount(server)
        .await;
}

/// Asserts that the call failed with `Error::InvalidArgument` and returns its message.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::InvalidArgument(msg)) => msg,
        other => panic!("expected Error::InvalidArgument, got {other:?}"),
    }
}

/// The parts of an [`Error::Incomplete`]: how many items were applied, the message ids
/// created so far and the error of the failing request (panics on any other error).
#[track_caller]
pub fn incomplete(error: Error) -> (usize, Vec<talkjs_models::MessageId>, Error) {
    match error {
        Error::Incomplete {
            completed,
            message_ids,
            source,
        } => (completed, message_ids, *source),
        other => panic!("expected Error::Incomplete, got {other:?}"),
    }
}

/// The body of a request parsed as JSON (fails if it is not JSON).
#[track_caller]
pub fn json_body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or_else(|e| {
        panic!(
            "the body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&req.body)
        )
    })
}

/// The value of a header that must appear exactly once.
#[track_caller]
pub fn header_once<'a>(req: &'a Request, name: &str) -> &'a str {
    let values: Vec<_> = req.headers.get_all(name).iter().collect();
    assert_eq!(
        values.len(),
        1,
        "header {name} must appear once: {values:?}"
    );
    values[0].to_str().expect("header is ASCII")
}

/// Decodes the bearer token of a request and checks that it is a valid app token: HS256
/// with the test secret, `tokenType: "app"`, `iss` = the app id, no `sub`, `exp > iat`.
/// Returns the claims.
#[track_caller]
pub fn assert_app_token(req: &Request) -> Value {
    let auth = header_once(req, "authorization");
    let token = auth
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("Authorization is not a bearer token: {auth:?}"));
    let header = jsonwebtoken::decode_header(token).expect("the token has a JWT header");
    assert_eq!(header.alg, Algorithm::HS256);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[APP_ID]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("the token verifies with the secret key")
    .claims;
    assert_eq!(claims["tokenType"], "app", "claims: {claims}");
    assert_eq!(claims["iss"], APP_ID, "claims: {claims}");
    assert!(
        claims.get("sub").is_none(),
        "an app token has no sub: {claims}"
    );
    let iat = claims["iat"].as_u64().expect("iat is a number");
    let exp = claims["exp"].as_u64().expect("exp is a number");
    assert!(exp > iat, "exp {exp} must be after iat {iat}");
    claims
}

/// Asserts everything about a request: method, path (relative to `/v1/{appId}`, compared
/// as sent, i.e. percent-encoded), the exact query string (`None`: no `?` at all), a valid
/// app token, `Accept: application/json`, `Content-Type: application/json` on every method but
/// GET, and the body (as JSON, or empty).
#[track_caller]
pub fn assert_request(
    req: &Request,
    method: &str,
    rel_path: &str,
    query: Option<&str>,
    body: Option<&Value>,
) {
    assert_eq!(req.method.as_str(), method, "method of {}", req.url);
    assert_eq!(req.url.path(), p(rel_path), "path of {}", req.url);
    assert_eq!(req.url.query(), query, "query of {}", req.url);
    assert_app_token(req);
    assert_eq!(header_once(req, "accept"), "application/json");
    // TalkJS accepts only `Content-Type: application/json` on every request but GET, bodies
    // or not (REST API "Get started" page).
    if method == "GET" {
        assert!(
            req.headers.get("content-type").is_none(),
            "a GET carries no Content-Type: {:?}",
            req.headers.get("content-type")
        );
    } else {
        assert_eq!(header_once(req, "content-type"), "application/json");
    }
    if let Some(expected) = body {
        let actual = json_body(req);
        assert_eq!(&actual, expected, "body of {method} {}", req.url);
    } else {
        assert!(
            req.body.is_empty(),
            "expected no body, got {:?}",
            String::from_utf8_lossy(&req.body)
        );
    }
}

/// The `TalkJS-REST-Version` header of a request, if any (must not repeat).
pub fn api_version(req: &Request) -> Option<String> {
    let values: Vec<_> = req.headers.get_all("talkjs-rest-version").iter().collect();
    assert!(values.len() <= 1, "version header repeated: {values:?}");
    values
        .first()
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

/// A 200 answer with a JSON body.
pub fn ok_json(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The documented "nothing to return" answer: 200 `{}`.
pub fn ok_empty() -> ResponseTemplate {
    ok_json(&json!({}))
}

/// A user as documented (every field set).
pub fn user_json(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Alice Smith",
        "email": ["alice@example.com"],
        "phone": ["+14155550100"],
        "photoUrl": "https://example.com/alice.png",
        "headerPhotoUrl": null,
        "role": "default",
        "welcomeMessage": "Hi, how can I help?",
        "custom": { "plan": "pro", "country": "nl" },
        "locale": "en-US",
        "availabilityText": "Back at 9",
        "createdAt": 1_700_000_000_000_u64,
        "pushTokens": { "fcm:token-1": true }
    })
}

/// A user message as documented (every field set).
pub fn message_json(id: &str, conversation: &str) -> Value {
    json!({
        "id": id,
        "type": "UserMessage",
        "conversationId": conversation,
        "senderId": "alice",
        "text": "Hello <b>Bob</b>",
        "attachment": { "url": "https://cdn.talkjs.com/file.pdf", "size": 12345 },
        "location": [52.3676, 4.9041],
        "origin": "rest",
        "readBy": ["bob", "carol"],
        "createdAt": 1_700_000_001_000_u64,
        "editedAt": 1_700_000_002_000_u64,
        "custom": { "source": "crm" },
        "referencedMessageId": "msg_parent",
        "reactions": { "👍": ["bob"] }
    })
}

/// A system message with the nullable fields null.
pub fn system_message_json(id: &str, conversation: &str) -> Value {
    json!({
        "id": id,
        "type": "SystemMessage",
        "conversationId": conversation,
        "senderId": null,
        "text": "Alice joined",
        "attachment": null,
        "location": null,
        "origin": "rest",
        "readBy": [],
        "createdAt": 1_700_000_003_000_u64,
        "editedAt": null,
        "custom": {},
        "referencedMessageId": null
    })
}

/// A conversation as documented: participants map, last message.
pub fn conversation_json(id: &str) -> Value {
    json!({
        "id": id,
        "subject": "Order #123",
        "topicId": null,
        "photoUrl": "https://example.com/order.png",
        "welcomeMessages": ["Welcome to the order chat"],
        "custom": { "orderId": "123" },
        "lastMessage": message_json("msg_last", id),
        "participants": {
            "alice": { "access": "ReadWrite", "notify": true },
            "bob": { "access": "Read", "notify": "MentionsOnly", "isUnread": true }
        },
        "createdAt": 1_699_000_000_000_u64
    })
}

/// A `{"data": [...]}` page.
pub fn page(items: &[Value]) -> Value {
    json!({ "data": items })
}
