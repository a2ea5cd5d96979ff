//! # talkjs-transport
//!
//! The HTTP transport of talkjs-rs: a set of [tower] layers, each usable on its own, and a
//! [`StackBuilder`] that assembles them into the default stack over a pooled hyper-util
//! client.
//!
//! Every layer works on [`HttpRequest`] (`http::Request<Bytes>`) and [`HttpResponse`]
//! (`http::Response<Bytes>`): bodies are `Bytes`, so a retried request is re-sent without
//! copying, and the innermost client reads each response into one `Bytes`.
//!
//! The default stack, outermost first (one call of the resource API enters at the top):
//!
//! | layer | module | what it does |
//! |---|---|---|
//! | [`TraceLayer`] | [`trace`] | one span per call: method, path, status, attempts, latency |
//! | [`TimeoutLayer::deadline`] | [`timeout`] | overall deadline for the call, retries included |
//! | [`RetryLayer`] | [`retry`] | retries 5xx, 429 and connection errors with jittered backoff |
//! | [`RateLimitLayer`] | [`rate_limit`] | GCRA per app id, shared by all clones; waits for a slot |
//! | user layers | | whatever [`StackBuilder::layer`] added: they see every attempt |
//! | [`AuthLayer`] | [`auth`] | `Authorization: Bearer …`, a fresh app token per attempt |
//! | [`json_layer`] | [`json`] | `Content-Type` on bodies, `Accept: application/json` on all |
//! | [`BaseUrlLayer`] | [`base_url`] | `https://api.talkjs.com/v1/{appId}` + the relative path |
//! | [`TimeoutLayer::per_attempt`] | [`timeout`] | time limit of one attempt |
//! | [`HyperClient`] | [`client`] | pooled keep-alive connections, rustls, HTTP/1.1 and HTTP/2 |
//!
//! ```no_run
//! use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
//! use talkjs_transport::StackBuilder;
//! use tower::ServiceExt;
//!
//! # async fn run() -> Result<(), talkjs_transport::BoxError> {
//! let app = AppId::new("tNCnKd4d");
//! let signer = TokenSigner::new(app.clone(), SecretKey::new("sk_test_…"));
//! let service = StackBuilder::new(app, Credentials::AppToken(signer)).build()?;
//! let request = http::Request::get("/users/alice").body(bytes::Bytes::new())?;
//! let response = service.oneshot(request).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod base_url;
pub mod client;
pub mod error;
pub mod extensions;
pub mod json;
pub mod rate_limit;
pub mod retry;
pub mod retry_after;
pub mod stack;
pub mod timeout;
pub mod trace;

use bytes::Bytes;

pub use auth::{AuthLayer, AuthService};
pub use base_url::{BaseUrl, BaseUrlLayer, BaseUrlService, percent_encode_into};
pub use client::{HyperClient, HyperClientBuilder, HyperFuture};
pub use error::{BuildError, TimeoutKind, TransportError};
pub use extensions::{Attempts, Idempotency, PathTemplate, RequestClass};
pub use json::{JsonLayer, json_layer};
pub use rate_limit::{
    MAX_SPAN, MemoryStore, Quota, RateLimitFuture, RateLimitLayer, RateLimitService,
    RateLimitStore, RateLimiter, Reservation,
};
pub use retry::{RetryBudget, RetryConfig, RetryLayer, RetryPolicy};
pub use stack::StackBuilder;
pub use timeout::{TimeoutLayer, TimeoutService};
pub use trace::{TraceLayer, TraceService};

/// The error type that flows through the stack: tower's convention of a boxed error.
/// Errors produced by this crate's layers are [`TransportError`]s inside the box; use
/// [`TransportError::find`] to get at one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request as the stack sees it: the body is one `Bytes` (empty for GET and DELETE).
pub type HttpRequest = http::Request<Bytes>;

/// A response as the stack returns it: the body is read into one `Bytes`.
pub type HttpResponse = http::Response<Bytes>;

/// The type-erased stack: `Clone + Send + Sync`, what the resource API holds.
pub type HttpService = tower::util::BoxCloneSyncService<HttpRequest, HttpResponse, BoxError>;

/// A boxed, `Send` future, the return type of [`RateLimitStore`] methods and of the erased
/// services.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Erases `service` into an [`HttpService`], mapping its error into a [`BoxError`].
///
/// A service that already is an [`HttpService`] (e.g. what [`StackBuilder::build`] returns)
/// is kept as it is instead of being boxed a second time, which would cost an allocation and
/// an indirect call on every request.
///
/// ```
/// use talkjs_auth::{AppId, Credentials, SecretKey};
/// use talkjs_transport::{HttpService, StackBuilder, into_http_service};
///
/// # fn run() -> Result<(), talkjs_transport::BuildError> {
/// let app = AppId::new("tNCnKd4d");
/// let stack = StackBuilder::new(app, Credentials::LegacySecretKey(SecretKey::new("sk_test_…"))).build()?;
/// let service: HttpService = into_http_service(stack); // no second box
/// # drop(service); Ok(()) }
/// ```
pub fn into_http_service<S>(service: S) -> HttpService
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    use tower::ServiceExt;
    if let Some(erased) = (&service as &dyn std::any::Any).downcast_ref::<HttpService>() {
        return erased.clone();
    }
    tower::util::BoxCloneSyncService::new(service.map_err(Into::into))
}
