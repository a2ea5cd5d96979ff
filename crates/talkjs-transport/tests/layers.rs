//! The small layers, each alone over a capturing inner service: auth, JSON headers, base URL,
//! per-attempt timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
use talkjs_transport::{
    AuthLayer, BaseUrl, BaseUrlLayer, BoxError, HttpRequest, HttpResponse, JsonLayer, TimeoutKind,
    TimeoutLayer, TransportError,
};
use tower::{Layer, ServiceExt, service_fn};

const APP: &str = "app_Layers";
const SECRET: &str = "sk_test_LAYERSsecret0000";

type Seen = Arc<Mutex<Vec<HttpRequest>>>;

/// An inner service that records each request and answers 200 `{}`.
fn capture() -> (
    Seen,
    impl tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone,
) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let svc = service_fn(move |req: HttpRequest| {
        s.lock().unwrap().push(req);
        async { Ok::<_, BoxError>(HttpResponse::new(Bytes::from_static(b"{}"))) }
    });
    (seen, svc)
}

#[derive(serde::Deserialize)]
#[allow(non_snake_case)]
struct Claims {
    tokenType: String,
    iss: String,
    iat: u64,
    exp: u64,
}

#[tokio::test]
async fn auth_layer_mints_a_fresh_valid_token_per_call() {
    let (seen, inner) = capture();
    let signer = TokenSigner::new(AppId::new(APP), SecretKey::new(SECRET));
    let svc = AuthLayer::new(Credentials::AppToken(signer)).layer(inner);
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = unix_now();
    for _ in 0..2 {
        svc.clone()
            .oneshot(http::Request::get("/users").body(Bytes::new()).unwrap())
            .await
            .unwrap();
    }
    let after = unix_now();
    let seen = seen.lock().unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[APP]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    for req in seen.iter() {
        let value = req.headers().get("authorization").unwrap();
        assert!(value.is_sensitive(), "the header is marked sensitive");
        let token = value.to_str().unwrap().strip_prefix("Bearer ").unwrap();
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims.tokenType, "app");
        assert_eq!(claims.iss, APP);
        assert!(claims.exp > claims.iat && claims.exp - claims.iat <= 30);
        // Fresh: issued during the calls (tokens carry whole seconds, so a token minted in
        // the same second is the same token).
        assert!(
            (before..=after).contains(&claims.iat),
            "iat {} not within {before}..={after}",
            claims.iat
        );
        assert!(
            !format!("{req:?}").contains(token),
            "Debug of the request hides the token"
        );
    }
}

#[tokio::test]
async fn auth_layer_with_a_legacy_key_sends_the_key() {
    let (seen, inner) = capture();
    let svc = AuthLayer::new(Credentials::LegacySecretKey(SecretKey::new(SECRET))).layer(inner);
    svc.oneshot(http::Request::get("/users").body(Bytes::new()).unwrap())
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].headers()["authorization"],
        format!("Bearer {SECRET}").as_str()
    );
    let debug = format!(
        "{:?}",
        AuthLayer::new(Credentials::LegacySecretKey(SecretKey::new(SECRET)))
    );
    assert!(!debug.contains(SECRET), "{debug}");
}

#[tokio::test]
async fn json_layer_sets_content_type_on_every_method_but_get() {
    let (seen, inner) = capture();
    let svc = JsonLayer::new().layer(inner);
    svc.clone()
        .oneshot(http::Request::get("/users").body(Bytes::new()).unwrap())
        .await
        .unwrap();
    svc.clone()
        .oneshot(
            http::Request::put("/users/a")
                .body(Bytes::from_static(b"{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    svc.clone()
        .oneshot(
            http::Request::post("/files")
                .header("content-type", "multipart/form-data; boundary=x")
                .body(Bytes::from_static(b"--x--"))
                .unwrap(),
        )
        .await
        .unwrap();
    // Bodiless non-GET requests: TalkJS refuses them without the header.
    for method in [http::Method::DELETE, http::Method::POST, http::Method::PUT] {
        svc.clone()
            .oneshot(
                http::Request::builder()
                    .method(method)
                    .uri("/conversations/c1")
                    .body(Bytes::new())
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    let seen = seen.lock().unwrap();
    for bodiless in &seen[3..6] {
        assert_eq!(
            bodiless.headers()["content-type"],
            "application/json",
            "{} without a body",
            bodiless.method()
        );
        assert!(bodiless.body().is_empty());
    }
    assert!(seen[0].headers().get("content-type").is_none());
    assert_eq!(seen[0].headers()["accept"], "application/json");
    assert_eq!(seen[1].headers()["content-type"], "application/json");
    assert_eq!(seen[1].headers()["accept"], "application/json");
    assert_eq!(
        seen[2].headers()["content-type"],
        "multipart/form-data; boundary=x",
        "kept as set"
    );
}

#[tokio::test]
async fn base_url_layer_joins_relative_paths_and_keeps_absolute_ones_of_its_origin() {
    let (seen, inner) = capture();
    let base = BaseUrl::new("https://api.talkjs.com", APP, false).unwrap();
    let svc = BaseUrlLayer::new(base).layer(inner);
    let get = |uri: &str| http::Request::get(uri).body(Bytes::new()).unwrap();
    svc.clone()
        .oneshot(get("/users/al%20ice?limit=3"))
        .await
        .unwrap();
    svc.clone()
        .oneshot(get("https://api.talkjs.com/v1/app_Layers/users/bob"))
        .await
        .unwrap();
    // Another origin would receive the app's credentials: refused, nothing sent.
    for foreign in [
        "https://other.example/x",
        "http://api.talkjs.com/v1/app_Layers/users/bob",
        "https://api.talkjs.com:8443/v1/app_Layers/users/bob",
    ] {
        let error = svc.clone().oneshot(get(foreign)).await.unwrap_err();
        assert!(
            matches!(
                TransportError::find(error.as_ref()),
                Some(TransportError::InvalidRequest(m)) if m.contains("credentials")
            ),
            "{foreign}: {error}"
        );
    }
    let seen = seen.lock().unwrap();
    let uris: Vec<String> = seen.iter().map(|r| r.uri().to_string()).collect();
    assert_eq!(
        uris,
        [
            "https://api.talkjs.com/v1/app_Layers/users/al%20ice?limit=3",
            "https://api.talkjs.com/v1/app_Layers/users/bob",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_reports_its_kind() {
    let slow = service_fn(|_req: HttpRequest| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, BoxError>(HttpResponse::new(Bytes::new()))
    });
    let svc = TimeoutLayer::per_attempt(Duration::from_secs(1)).layer(slow);
    let err = svc
        .oneshot(http::Request::get("/").body(Bytes::new()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        TransportError::find(&*err),
        Some(TransportError::Timeout {
            kind: TimeoutKind::Attempt,
            ..
        })
    ));
    assert!(err.to_string().contains("attempt"), "{err}");
}
