//! # talkjs
//!
//! A Rust client for the [TalkJS](https://talkjs.com) REST API. This facade crate re-exports
//! every member crate of the talkjs-rs workspace as a module; depend on a single member crate
//! instead when you need only part of it (for example only [`auth`] to mint tokens).
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`models`] | `talkjs-models` | serde types for every TalkJS object and request body |
//! | [`auth`] | `talkjs-auth` | app tokens, user tokens, identity signatures, webhook checks |
//! | [`transport`] | `talkjs-transport` | the tower layers and the default HTTP stack |
//! | [`api`] | `talkjs-api` | the resource API: [`Client`], users, conversations, messages, ... |
//! | [`runtime`] | `talkjs-runtime` | long-running work on the client: bulk workloads at the rate limit (`client.bulk()`), the gap-free events stream (`client.events()`), through [`ClientExt`] |
//! | `webhooks` | `talkjs-webhooks` | receiving webhooks: a tower service (and an axum route) that verifies, deduplicates and hands over events; feature `webhooks` (`webhooks-axum`, `webhooks-redis`) |
//!
//! **Paths.** The docs and examples of each member crate name it by its own crate name; through
//! this facade, `talkjs_<module>::` becomes `talkjs::<module>::`: `talkjs_models::UserUpsert` is
//! `talkjs::models::UserUpsert`, `talkjs_auth::TokenSigner` is `talkjs::auth::TokenSigner`,
//! `talkjs_transport::RateLimiter` is `talkjs::transport::RateLimiter`, and
//! `talkjs_api::Client` is `talkjs::api::Client`, also re-exported as [`Client`] (with
//! [`ClientBuilder`], [`Error`] and [`Result`]). `talkjs_webhooks::WebhookService` is
//! `talkjs::webhooks::WebhookService` with the feature `webhooks`. `talkjs-ratelimit-redis`,
//! `talkjs-migrate` and `talkjs-fake` are not part of the facade: add them as dependencies of
//! their own.
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn run() -> Result<(), talkjs::Error> {
//! use talkjs::models::UserUpsert;
//!
//! let client = talkjs::Client::from_env()?; // TALKJS_APP_ID, TALKJS_SECRET_KEY
//! client.users().upsert("alice", &UserUpsert::new().name("Alice")).await?;
//! let alice = client.users().get("alice").await?;
//! println!("{}", alice.name);
//! # Ok(()) }
//! ```
//!
//! The `client` feature (on by default) brings the HTTP client: [`transport`], [`api`],
//! [`runtime`] and [`Client`]. With `default-features = false` the facade is only [`models`] and [`auth`],
//! and hyper, rustls and tower are not compiled. Minting tokens needs only the auth module:
//!
//! ```
//! use talkjs::auth::{AppId, SecretKey, TokenSigner};
//!
//! let signer = TokenSigner::new(AppId::new("tNCnKd4d"), SecretKey::new("sk_test_example"));
//! let token = signer.app_token()?;
//! assert_eq!(token.split('.').count(), 3);
//! # Ok::<(), talkjs::auth::Error>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "client")]
pub use talkjs_api as api;
pub use talkjs_auth as auth;
pub use talkjs_models as models;
#[cfg(feature = "client")]
pub use talkjs_transport as transport;
#[cfg(feature = "webhooks")]
pub use talkjs_webhooks as webhooks;

#[cfg(feature = "client")]
pub use talkjs_runtime as runtime;

#[cfg(feature = "client")]
pub use talkjs_api::{Client, ClientBuilder, Error, Result};
/// `client.bulk()` and `client.events()`: bring it into scope with `use talkjs::ClientExt;`
/// (see [`runtime`]).
#[cfg(feature = "client")]
pub use talkjs_runtime::ClientExt;

/// The `http` crate (`talkjs_api::http`), whose types the client's signatures use:
/// [`Error::status`] is an `http::StatusCode`, `transport::HttpRequest` an
/// `http::Request<Bytes>`. No dependency on `http` is needed to name them:
///
/// ```no_run
/// # async fn run(client: talkjs::Client) -> Result<(), talkjs::Error> {
/// match client.users().get("alice").await {
///     Err(e) if e.status() == Some(talkjs::http::StatusCode::NOT_FOUND) => println!("no such user"),
///     other => { other?; }
/// }
/// # Ok(()) }
/// ```
#[cfg(feature = "client")]
pub use talkjs_api::http;

/// The `bytes` crate (`talkjs_api::bytes`): request and response bodies of the transport are
/// [`bytes::Bytes`].
///
/// ```
/// let request: talkjs::transport::HttpRequest =
///     talkjs::http::Request::get("/users/alice").body(talkjs::bytes::Bytes::new())?;
/// # Ok::<(), talkjs::http::Error>(())
/// ```
#[cfg(feature = "client")]
pub use talkjs_api::bytes;

/// Every Rust snippet of README.md, compiled (and run, unless marked `no_run`) as a doc test,
/// so the README cannot drift from the API.
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
