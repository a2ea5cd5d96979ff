//! The clients the network benches compare: the talkjs client through its full stack, and
//! the hand-written baseline (hyper-util's pooled client, with the same headers).

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use super::server::{APP_ID, SECRET_KEY};

/// The talkjs client through the full default stack (app tokens, rate limiter, retry,
/// deadline and per-attempt timeouts, JSON headers, tracing without a subscriber), with
/// rate limits high enough never to wait.
#[cfg(feature = "client")]
pub fn talkjs_client(server: &super::server::Server) -> talkjs::Client {
    use talkjs::transport::{Quota, RateLimiter};
    let limiter = RateLimiter::new(APP_ID).general_quota(Quota::per_second(1_000_000, 1_000_000));
    talkjs::Client::builder(APP_ID, SECRET_KEY)
        .base_url(server.root())
        .rate_limiter(Some(limiter))
        .build()
        .expect("talkjs client")
}

/// The bearer of the hand-written baselines: one app token of [`APP_ID`], minted once at
/// start (the baselines do not mint per call), so that they send the same bytes as the
/// talkjs client does. The header's length is a cost of its own, in hyper and in the server.
pub fn static_bearer() -> &'static str {
    static BEARER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BEARER.get_or_init(|| {
        use talkjs::auth::{AppId, SecretKey, TokenSigner};
        let signer = TokenSigner::new(AppId::new(APP_ID), SecretKey::new(SECRET_KEY));
        format!("Bearer {}", signer.app_token().expect("app token"))
    })
}

/// The baseline: hyper-util's pooled client over plain TCP, as one would hand-write it.
pub type RawClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A hyper-util client with TCP_NODELAY, like the talkjs transport's.
pub fn raw_client() -> RawClient {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(http)
}

/// GET `url` with the hand-written headers and read the body.
pub async fn raw_get(client: &RawClient, url: &str) -> Bytes {
    use http_body_util::BodyExt;
    let request = Request::get(url)
        .header(http::header::AUTHORIZATION, static_bearer())
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("response");
    assert!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

/// [`raw_get`] of one user, decoded with serde.
pub async fn raw_get_user(client: &RawClient, url: &str) -> talkjs::models::User {
    serde_json::from_slice(&raw_get(client, url).await).expect("user JSON")
}

/// [`raw_get`] of one page of users, decoded with serde.
pub async fn raw_get_users(
    client: &RawClient,
    url: &str,
) -> talkjs::models::Page<talkjs::models::User> {
    serde_json::from_slice(&raw_get(client, url).await).expect("page JSON")
}
