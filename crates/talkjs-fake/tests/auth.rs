//! Authentication: app tokens, legacy secret keys, and everything that must be refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::{Api, assert_error};
use http::Request;
use http_body_util::Full;
use talkjs_auth::{AppId, SecretKey, TokenSigner};
use talkjs_fake::FakeTalkJs;

async fn get_with(api: &Api, path: &str, authorization: Option<&str>) -> common::Resp {
    let mut builder = Request::get(api.url(path));
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    api.send(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn app_token_and_legacy_key_are_accepted() {
    let api = Api::with(
        FakeTalkJs::builder()
            .app_id("tAuthApp")
            .secret_key("sk_test_auth"),
    )
    .await;
    assert_eq!(api.fake.app_id(), "tAuthApp");
    assert_eq!(api.fake.secret_key(), "sk_test_auth");
    let token = api.fake.app_token().unwrap();
    let r = get_with(&api, "/users", Some(&format!("Bearer {token}"))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, serde_json::json!({ "data": [] }));

    let r = get_with(&api, "/users", Some("Bearer sk_test_auth")).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn wrong_credentials_are_401() {
    let api = Api::start().await;
    let app = AppId::new(api.fake.app_id());

    // Missing header, wrong scheme, wrong legacy key.
    assert_error(&get_with(&api, "/users", None).await, 401);
    let basic = format!("Basic {}", api.fake.secret_key());
    assert_error(&get_with(&api, "/users", Some(&basic)).await, 401);
    assert_error(
        &get_with(&api, "/users", Some("Bearer sk_test_wrong")).await,
        401,
    );

    // A token signed with another key.
    let other = TokenSigner::new(app.clone(), SecretKey::new("sk_test_other"));
    let bearer = format!("Bearer {}", other.app_token().unwrap());
    assert_error(&get_with(&api, "/users", Some(&bearer)).await, 401);

    // An expired token.
    let signer = api.fake.token_signer();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = format!("Bearer {}", signer.app_token_at(hour_ago).unwrap());
    assert_error(&get_with(&api, "/users", Some(&expired)).await, 401);

    // A token for another app (wrong iss), signed with the right key.
    let wrong_iss = TokenSigner::new(AppId::new("tOtherApp"), api.fake.secret_key_typed());
    let bearer = format!("Bearer {}", wrong_iss.app_token().unwrap());
    assert_error(&get_with(&api, "/users", Some(&bearer)).await, 401);

    // A user token is not an app token.
    let user = signer.user_token("alice", Duration::from_secs(60)).unwrap();
    assert_error(
        &get_with(&api, "/users", Some(&format!("Bearer {user}"))).await,
        401,
    );

    // Garbage.
    assert_error(
        &get_with(&api, "/users", Some("Bearer not.a.jwt")).await,
        401,
    );
    assert_eq!(api.fake.status_count(401), 8);
}

#[tokio::test]
async fn wrong_app_id_in_the_path_is_404() {
    let api = Api::start().await;
    let token = api.fake.app_token().unwrap();
    let request = Request::get(format!("{}/v1/tNoSuchApp/users", api.fake.base_url()))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_error(&api.send(request).await.unwrap(), 404);

    let request = Request::get(format!("{}/v2/whatever", api.fake.base_url()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_error(&api.send(request).await.unwrap(), 404);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let api = Api::start().await;
    assert_error(&api.get("/nonsense").await, 404);
    assert_error(&api.delete("/users").await, 405);
    assert_eq!(api.fake.request_count(), 2);
}

/// Signs `claims` with `key` using `algorithm`.
fn sign(claims: &serde_json::Value, key: &str, algorithm: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

/// Seconds since the epoch, shifted by `delta`.
fn epoch_secs(delta: i64) -> i64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap() + delta
}

#[tokio::test]
async fn app_token_claims_are_all_checked() {
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    use serde_json::json;

    let api = Api::start().await;
    let app = api.fake.app_id().to_owned();
    let key = api.fake.secret_key().to_owned();
    let bearer = |token: String| format!("Bearer {token}");

    // A hand-made token with the documented claims passes.
    let good = json!({ "tokenType": "app", "iss": app, "exp": epoch_secs(30) });
    let r = get_with(&api, "/users", Some(&bearer(sign(&good, &key, HS256)))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let refused = [
        // Another HMAC algorithm with the right key: only HS256 is documented.
        ("HS384", sign(&good, &key, HS384)),
        ("HS512", sign(&good, &key, HS512)),
        // No exp, no iss, no tokenType.
        (
            "no exp",
            sign(&json!({ "tokenType": "app", "iss": app }), &key, HS256),
        ),
        (
            "no iss",
            sign(
                &json!({ "tokenType": "app", "exp": epoch_secs(30) }),
                &key,
                HS256,
            ),
        ),
        (
            "no tokenType",
            sign(&json!({ "iss": app, "exp": epoch_secs(30) }), &key, HS256),
        ),
        (
            "tokenType user",
            sign(
                &json!({ "tokenType": "user", "iss": app, "sub": "alice", "exp": epoch_secs(30) }),
                &key,
                HS256,
            ),
        ),
        // Expired a few seconds ago: no clock tolerance.
        (
            "expired 3 s ago",
            sign(
                &json!({ "tokenType": "app", "iss": app, "exp": epoch_secs(-3) }),
                &key,
                HS256,
            ),
        ),
        // exp of the wrong type.
        (
            "exp as text",
            sign(
                &json!({ "tokenType": "app", "iss": app, "exp": "tomorrow" }),
                &key,
                HS256,
            ),
        ),
        // Unsigned (alg none), and a token whose signature was cut off.
        ("alg none", {
            let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
            let payload = sign(&good, &key, HS256)
                .split('.')
                .nth(1)
                .unwrap()
                .to_owned();
            format!("{header}.{payload}.")
        }),
        ("no signature", {
            let token = sign(&good, &key, HS256);
            token.rsplit_once('.').unwrap().0.to_owned() + "."
        }),
    ];
    for (what, token) in refused {
        let r = get_with(&api, "/users", Some(&bearer(token))).await;
        assert_error(&r, 401);
        assert_eq!(r.body["errorCode"], "UNAUTHORIZED", "{what}");
    }

    // The legacy key must be the whole key, exactly.
    let prefix = bearer(key[..key.len() - 1].to_owned());
    assert_error(&get_with(&api, "/users", Some(&prefix)).await, 401);
    let upper = bearer(key.to_uppercase());
    assert_error(&get_with(&api, "/users", Some(&upper)).await, 401);
}
