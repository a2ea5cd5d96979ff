//! The Authorization header through the client, and a self-test of the token check the
//! other test files rely on (it must reject a token signed with another secret).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use common::{APP_ID, SECRET, assert_app_token, ok_json, p, single_request, user_json};
use talkjs_api::{AuthScheme, Client};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

async fn get_alice_with(configure: impl FnOnce(&MockServer) -> Client) -> wiremock::Request {
    let server = MockServer::start().await;
    // Any GET: the app id (and so the path) differs in one test; the path is checked below.
    Mock::given(method("GET"))
        .respond_with(ok_json(&user_json("alice")))
        .expect(1)
        .mount(&server)
        .await;
    let client = configure(&server);
    client.users().get("alice").await.unwrap();
    let req = single_request(&server).await;
    if !req.url.path().starts_with("/v1/otherApp/") {
        assert_eq!(req.url.path(), p("/users/alice"));
    }
    req
}

#[tokio::test]
async fn app_token_is_valid_and_short_lived() {
    let req = get_alice_with(common::client).await;
    let claims = assert_app_token(&req);
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(ttl <= 60, "the default token lives 30 s, got {ttl}");
}

#[tokio::test]
async fn token_ttl_is_configurable() {
    let req = get_alice_with(|server| {
        common::builder(server)
            .auth_scheme(AuthScheme::AppToken {
                ttl: Duration::from_secs(300),
            })
            .build()
            .unwrap()
    })
    .await;
    let claims = assert_app_token(&req);
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 300);
}

#[tokio::test]
async fn token_check_rejects_a_token_signed_with_another_secret() {
    let req = get_alice_with(|server| {
        Client::builder(APP_ID, "sk_test_some_other_key")
            .base_url(server.uri())
            .retry(None)
            .rate_limiter(None)
            .build()
            .unwrap()
    })
    .await;
    let checked = catch_unwind(AssertUnwindSafe(|| assert_app_token(&req)));
    assert!(checked.is_err(), "a foreign signature must fail the check");
}

#[tokio::test]
async fn token_check_rejects_another_app_id() {
    let req = get_alice_with(|server| {
        Client::builder("otherApp", SECRET)
            .base_url(server.uri())
            .retry(None)
            .rate_limiter(None)
            .build()
            .unwrap()
    })
    .await;
    assert_eq!(req.url.path(), "/v1/otherApp/users/alice");
    let checked = catch_unwind(AssertUnwindSafe(|| assert_app_token(&req)));
    assert!(checked.is_err(), "a foreign issuer must fail the check");
}

#[tokio::test]
async fn legacy_scheme_sends_the_secret_key_as_bearer() {
    let req = get_alice_with(|server| {
        common::builder(server)
            .auth_scheme(AuthScheme::LegacySecretKey)
            .build()
            .unwrap()
    })
    .await;
    assert_eq!(
        common::header_once(&req, "authorization"),
        format!("Bearer {SECRET}")
    );
}

#[tokio::test]
async fn the_last_auth_scheme_given_is_the_one_used() {
    let req = get_alice_with(|server| {
        common::builder(server)
            .auth_scheme(AuthScheme::LegacySecretKey)
            .auth_scheme(AuthScheme::AppToken {
                ttl: Duration::from_secs(60),
            })
            .build()
            .unwrap()
    })
    .await;
    let claims = assert_app_token(&req);
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 60);
}

#[test]
fn an_empty_secret_key_is_a_configuration_error_that_names_no_key() {
    let error = Client::builder(APP_ID, "")
        .build()
        .expect_err("an empty key is refused");
    assert!(
        matches!(&error, talkjs_api::Error::Config(m) if m.to_string().contains("secret key")),
        "{error:?}"
    );
    let error = Client::builder("", SECRET)
        .build()
        .expect_err("an empty app id is refused");
    assert!(
        matches!(&error, talkjs_api::Error::Config(m) if m.to_string().contains("app id")),
        "{error:?}"
    );
    assert!(!error.to_string().contains(SECRET), "{error}");
    assert!(!format!("{:?}", Client::builder(APP_ID, SECRET)).contains(SECRET));
}

#[test]
fn http_client_settings_with_an_inner_service_are_a_configuration_error() {
    let canned = tower::service_fn(|_req: talkjs_transport::HttpRequest| async {
        Ok::<_, talkjs_transport::BoxError>(talkjs_transport::HttpResponse::new(
            bytes::Bytes::from_static(b"{}"),
        ))
    });
    let builder = || Client::builder(APP_ID, SECRET);
    let error = builder()
        .http_client(talkjs_transport::HyperClientBuilder::new().pool_max_idle_per_host(1))
        .inner_service(canned)
        .build()
        .expect_err("the HTTP client settings would be lost");
    assert!(
        matches!(&error, talkjs_api::Error::Config(m) if m.to_string().contains("http_client")),
        "{error:?}"
    );
    // Either one alone is fine.
    builder().inner_service(canned).build().unwrap();
    builder()
        .http_client(talkjs_transport::HyperClientBuilder::new().pool_max_idle_per_host(1))
        .build()
        .unwrap();
}
