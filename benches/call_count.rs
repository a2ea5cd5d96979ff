//! `call_count`: runs N identical `GET /users/{id}` calls of one variant and nothing else, for
//! counting instructions per call with valgrind, a figure that, unlike time, does not move
//! with the load of a shared machine:
//!
//! ```sh
//! cargo bench --bench call_count --no-run   # prints the binary's path
//! for w in none raw talkjs; do
//!   WHICH=$w N=2000 valgrind --tool=callgrind --callgrind-out-file=cg.$w target/release/deps/call_count-*
//! done
//! ```
//!
//! `(total(raw) - total(none)) / N` is the instructions of one hand-written hyper-util call
//! (client and loopback server together), `(total(talkjs) - total(none)) / N` the same call
//! through `client.users().get(id)`; `callgrind_annotate` shows where the difference goes.
//! `WHICH=signed` is the floor of any stack that signs: the resource API over only the auth,
//! JSON-header and base-URL layers and the same hyper client (no rate limiter, retry,
//! timeouts or trace). `WHICH=signed_timeout` adds the per-attempt time limit to it (one
//! tokio timer per call, as any stack with a time limit has): the floor of any stack that
//! signs and bounds its calls in time. `WHICH=raw_timeout` is the raw call inside `tokio::time::timeout`:
//! what an armed timer costs by itself. `WHICH=raw_armed` is the raw call with one long
//! timer armed elsewhere in the runtime for the whole run: the share of that cost that comes
//! from parking with a timeout, not from registering a timer per call.
//!
//! The same binary also gives times without valgrind, e.g. `time WHICH=raw N=100000 …`
//! against `WHICH=talkjs` (alternate the runs; the machine's load drifts).
//! Without `WHICH` (e.g. under a plain `cargo bench`) it only starts and stops.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;

fn main() {
    let which = std::env::var("WHICH").unwrap_or_default();
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let rt = common::client_runtime();
    let server = common::Server::start(&rt);
    let url = server.url("/users/alice");
    let raw = common::raw_client();
    let talkjs = rt.block_on(async { common::talkjs_client(&server) });
    let signed = rt.block_on(async { signed_client(&server, None) });
    let signed_timeout =
        rt.block_on(async { signed_client(&server, Some(std::time::Duration::from_secs(30))) });
    rt.block_on(async {
        if which == "raw_armed" {
            // One timer armed for the whole run (as a service nearly always has somewhere):
            // with any timer armed, the runtime parks with a timeout.
            tokio::spawn(tokio::time::sleep(std::time::Duration::from_secs(3600)));
            tokio::task::yield_now().await;
        }
        for _ in 0..n {
            match which.as_str() {
                "raw" | "raw_armed" => drop(black_box(common::raw_get_user(&raw, &url).await)),
                "raw_timeout" => drop(black_box(
                    tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        common::raw_get_user(&raw, &url),
                    )
                    .await
                    .unwrap(),
                )),
                "talkjs" => drop(black_box(talkjs.users().get("alice").await.unwrap())),
                "signed" => drop(black_box(signed.users().get("alice").await.unwrap())),
                "signed_timeout" => drop(black_box(
                    signed_timeout.users().get("alice").await.unwrap(),
                )),
                _ => return,
            }
        }
    });
}

/// The resource API over auth, JSON headers and the base URL only, and with
/// `attempt_timeout` the per-attempt time limit inside them (as in the default stack).
fn signed_client(
    server: &common::Server,
    attempt_timeout: Option<std::time::Duration>,
) -> talkjs::Client {
    use talkjs::auth::{AppId, Credentials, SecretKey, TokenSigner};
    use talkjs::transport::{
        AuthLayer, BaseUrl, BaseUrlLayer, HyperClient, JsonLayer, TimeoutLayer,
    };
    let app = AppId::new(common::APP_ID);
    let signer = TokenSigner::new(app, SecretKey::new(common::SECRET_KEY));
    let layers = tower::ServiceBuilder::new()
        .layer(AuthLayer::new(Credentials::AppToken(signer)))
        .layer(JsonLayer::new())
        .layer(BaseUrlLayer::new(
            BaseUrl::new(&server.root(), common::APP_ID, false).unwrap(),
        ));
    let hyper = HyperClient::new().unwrap();
    // Two concrete stacks rather than an optional layer: an `Either` would move the future
    // once more per call.
    match attempt_timeout {
        None => talkjs::Client::from_service(layers.service(hyper)),
        Some(limit) => talkjs::Client::from_service(
            layers
                .layer(TimeoutLayer::per_attempt(limit))
                .service(hyper),
        ),
    }
}
