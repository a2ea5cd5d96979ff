//! Custom middleware: one user layer added to the default stack, and one stack assembled by
//! hand from the individual layers with `tower::ServiceBuilder`.
//!
//! Runs against a local stand-in server, so no TalkJS account is needed:
//!
//! ```sh
//! cargo run --example custom_middleware
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use talkjs::auth::{AppId, Credentials, SecretKey, TokenSigner};
use talkjs::transport::{
    AuthLayer, BaseUrl, BaseUrlLayer, HttpRequest, HyperClient, JsonLayer, RateLimitLayer,
    RateLimiter, RetryConfig, RetryLayer, TimeoutLayer, TraceLayer,
};
use tower::ServiceBuilder;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "demo_app";
const SECRET: &str = "sk_test_demo_secret";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // A stand-in for TalkJS that answers every request with one user.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "alice", "name": "Alice", "custom": {}, "createdAt": 1_700_000_000_000_u64
        })))
        .mount(&server)
        .await;

    // 1. The default stack plus one user layer: it counts attempts and tags each request.
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let client = talkjs::Client::builder(APP_ID, SECRET)
        .base_url(server.uri())
        .layer(tower::util::MapRequestLayer::new(
            move |mut req: HttpRequest| {
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                req.headers_mut().insert("x-request-number", n.into());
                req
            },
        ))
        .build()?;
    for id in ["alice", "bob", "carol"] {
        let user = client.users().get(id).await?;
        println!("default stack + counter: got user {:?}", user.name);
    }
    println!(
        "the user layer saw {} attempts",
        attempts.load(Ordering::Relaxed)
    );

    // 2. A stack assembled by hand: pick the layers you want, in the order you want.
    let app = AppId::new(APP_ID);
    let signer = TokenSigner::new(app.clone(), SecretKey::new(SECRET));
    let service = ServiceBuilder::new()
        .layer(TraceLayer::new())
        .layer(RetryLayer::new(RetryConfig::default()))
        .layer(RateLimitLayer::new(RateLimiter::new(APP_ID)))
        .layer(AuthLayer::new(Credentials::AppToken(signer)))
        .layer(JsonLayer::new())
        .layer(BaseUrlLayer::new(BaseUrl::new(
            &server.uri(),
            APP_ID,
            false,
        )?))
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(10)))
        .service(HyperClient::new()?);
    let client = talkjs::Client::from_service(service);
    let user = client.users().get("alice").await?;
    println!("hand-built stack: got user {:?}", user.name);

    Ok(())
}
