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
//! | layer | what it does |
//! |---|---|
//! | [`TraceLayer`] | one span per call, in OpenTelemetry's HTTP client conventions: method, path template, server, status, attempts, latency |
//! | `MetricsLayer::calls` | (feature `metrics`) each call: count and latency by endpoint template and status |
//! | [`TimeoutLayer::deadline`] | overall deadline for the call, retries included |
//! | [`RetryLayer`] | retries 5xx, 429 and connection errors with jittered backoff ([`RetryPolicy`] says which) |
//! | [`RateLimitLayer`] | GCRA per app id, shared by all clones; waits for a slot ([`RateLimiter`]) |
//! | `MetricsLayer::attempts` | (feature `metrics`) each attempt: count and latency, the server's 429s |
//! | user layers | whatever [`StackBuilder::layer`] added: they see every attempt |
//! | [`AuthLayer`] | `Authorization: Bearer …`, a fresh app token per attempt |
//! | [`JsonLayer`] | `Content-Type: application/json` on every request but GET, `Accept` on all |
//! | [`BaseUrlLayer`] | `https://api.talkjs.com/v1/{appId}` + the relative path |
//! | [`TimeoutLayer::per_attempt`] | time limit of one attempt |
//! | [`HyperClient`] | pooled keep-alive connections, rustls, HTTP/1.1 and HTTP/2 |
//!
//! **Paths.** Every item has one path, at the crate root: `talkjs_transport::RetryConfig`.
//! Through the facade crate `talkjs` the same item is `talkjs::transport::RetryConfig`, and
//! through `talkjs-api` it is `talkjs_api::transport::RetryConfig`. The credentials the stack
//! signs with come from `talkjs-auth`, re-exported here as [`auth`]
//! (`talkjs_transport::auth::Credentials`).
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
//! let request = talkjs_transport::http::Request::get("/users/alice").body(talkjs_transport::bytes::Bytes::new())?;
//! let response = service.oneshot(request).await?;
//! println!("{}", response.status());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

// `types` is the bottom module: the shared types every layer uses. Each layer module
// depends on it (and on `error` and `extensions`), never on `lib.rs`.
mod base_url;
mod client;
mod error;
mod extensions;
mod json;
#[cfg(feature = "metrics")]
pub mod metrics;
mod proxy;
mod rate_limit;
mod retry;
mod retry_after;
mod sign;
mod stack;
mod timeout;
mod trace;
mod types;

pub use base_url::{BaseUrl, BaseUrlLayer, BaseUrlService, TALKJS_API_ROOT};
pub use client::{DEFAULT_MAX_RESPONSE_BYTES, HyperClient, HyperClientBuilder};
pub use error::{BuildError, TimeoutKind, TransportError};
pub use extensions::{Attempts, Idempotency, PathTemplate, RateLimitWait, RequestClass};
pub use json::JsonLayer;
#[cfg(feature = "metrics")]
pub use metrics::{MetricsFuture, MetricsLayer, MetricsService};
pub use proxy::Proxy;
pub use rate_limit::{
    MemoryStore, Quota, RateLimitLayer, RateLimitService, RateLimitStore, RateLimiter, Reservation,
};
pub use retry::{RetryBudget, RetryConfig, RetryLayer, RetryPolicy, Retryable};
pub use sign::{AuthLayer, AuthService};
pub use stack::{API_VERSION_HEADER, StackBuilder};
pub use timeout::{TimeoutFuture, TimeoutLayer, TimeoutService};
pub use trace::{TraceFuture, TraceLayer, TraceService, error_type};
pub use types::{
    BoxError, BoxFuture, ErrorOr, HttpRequest, HttpResponse, HttpService, into_http_service,
};

/// The `bytes` crate: [`HttpRequest`] and [`HttpResponse`] carry [`bytes::Bytes`] bodies.
/// Re-exported so that a custom layer or service needs no dependency of its own.
pub use bytes;
/// The `http` crate: [`HttpRequest`] is an `http::Request<Bytes>`, [`HttpResponse`] an
/// `http::Response<Bytes>`. Re-exported so that `talkjs_transport::http::HeaderValue`
/// works with this crate as the only dependency.
pub use http;
/// The credentials crate, whose types [`StackBuilder::new`] and [`AuthLayer::new`] take.
pub use talkjs_auth as auth;

// Helpers for the sibling crates of this workspace (the resource API and the Redis store),
// not part of this crate's API.
#[doc(hidden)]
pub use base_url::percent_encode_into;
#[doc(hidden)]
pub use retry_after::parse_retry_after;
#[doc(hidden)]
pub use types::{MAX_SPAN, later};
