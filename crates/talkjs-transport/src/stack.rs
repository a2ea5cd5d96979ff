//! [`StackBuilder`]: assembles the default stack and accepts user layers.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use talkjs_auth::{AppId, Credentials};
use tower::util::{BoxCloneSyncService, Either};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::base_url::{BaseUrl, BaseUrlLayer, TALKJS_API_ROOT};
use crate::client::HyperClientBuilder;
use crate::error::BuildError;
use crate::json::JsonLayer;
use crate::proxy::Proxy;
use crate::rate_limit::{RateLimitLayer, RateLimiter};
use crate::retry::{RetryConfig, RetryLayer};
use crate::sign::AuthLayer;
use crate::timeout::TimeoutLayer;
use crate::trace::TraceLayer;
use crate::types::{BoxError, HttpRequest, HttpResponse, HttpService, into_http_service};

/// The trace layer, naming the server of `root` (the base URL's scheme and host).
fn trace_layer(root: &str) -> TraceLayer {
    let layer = TraceLayer::new();
    let Ok(uri) = root.parse::<http::Uri>() else {
        return layer;
    };
    let Some(host) = uri.host() else {
        return layer;
    };
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    layer.with_server(host, port)
}

/// The header that pins the TalkJS REST API version. The resource API sets it on every
/// request of a pinned client (`talkjs_api::Client::with_api_version`); the stack itself
/// leaves requests as they are.
pub const API_VERSION_HEADER: HeaderName = HeaderName::from_static("talkjs-rest-version");

type UserLayer = Arc<dyn Fn(HttpService) -> HttpService + Send + Sync>;

/// Assembles the default stack (see the [crate docs](crate) for the order of the layers).
///
/// Every part can be changed or switched off; [`StackBuilder::layer`] adds user layers, which
/// sit inside the rate limiter and outside the auth layer: they see every attempt (a retried
/// call passes them again), after rate limiting, before signing (so they never see the
/// bearer token).
///
/// ```no_run
/// use std::time::Duration;
/// use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
/// use talkjs_transport::{RetryConfig, StackBuilder};
///
/// # fn run() -> Result<(), talkjs_transport::BuildError> {
/// let app = AppId::new("tNCnKd4d");
/// let creds = Credentials::AppToken(TokenSigner::new(app.clone(), SecretKey::new("sk_test_…")));
/// let service = StackBuilder::new(app, creds)
///     .attempt_timeout(Some(Duration::from_secs(10)))
///     .deadline(Some(Duration::from_secs(60)))
///     .retry(Some(RetryConfig::default()))
///     .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(5)))
///     .build()?;
/// # drop(service); Ok(()) }
/// ```
#[must_use]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is an independent switch of the builder"
)]
pub struct StackBuilder {
    app_id: AppId,
    credentials: Credentials,
    base_root: String,
    allow_insecure_http: bool,
    client: HyperClientBuilder,
    /// Whether [`StackBuilder::http_client`] was called (its settings would be lost with an
    /// inner service).
    client_set: bool,
    /// Set by [`StackBuilder::proxy`]: overrides the client settings' proxy.
    proxy: Option<Proxy>,
    inner: Option<HttpService>,
    retry: Option<RetryConfig>,
    rate_limiter: Option<RateLimiter>,
    attempt_timeout: Option<Duration>,
    deadline: Option<Duration>,
    trace: bool,
    #[cfg(feature = "metrics")]
    metrics: bool,
    user_layers: Vec<UserLayer>,
}

impl std::fmt::Debug for StackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackBuilder")
            .field("app_id", &self.app_id)
            .field("credentials", &self.credentials)
            .field("base_root", &self.base_root)
            .field("retry", &self.retry)
            .field("rate_limiter", &self.rate_limiter)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("deadline", &self.deadline)
            .field("user_layers", &self.user_layers.len())
            .finish_non_exhaustive()
    }
}

impl StackBuilder {
    /// The default stack for `app_id`, signing with `credentials`: production base URL,
    /// retries with [`RetryConfig::default`], TalkJS's rate limits in memory, 30 s per attempt,
    /// 120 s per call, tracing on.
    pub fn new(app_id: AppId, credentials: Credentials) -> Self {
        let rate_limiter = Some(RateLimiter::new(app_id.as_str()));
        Self {
            app_id,
            credentials,
            base_root: TALKJS_API_ROOT.to_owned(),
            allow_insecure_http: false,
            client: HyperClientBuilder::new(),
            client_set: false,
            proxy: None,
            inner: None,
            retry: Some(RetryConfig::default()),
            rate_limiter,
            attempt_timeout: Some(Duration::from_secs(30)),
            deadline: Some(Duration::from_secs(120)),
            trace: true,
            #[cfg(feature = "metrics")]
            metrics: true,
            user_layers: Vec::new(),
        }
    }

    /// The credentials the stack signs with, replacing those given to [`new`](Self::new)
    /// (e.g. the legacy secret key instead of app tokens).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// The API root (scheme and host, e.g. `http://127.0.0.1:8080` for the fake server);
    /// `/v1/{appId}` is appended. Default: `https://api.talkjs.com`.
    pub fn base_url(mut self, root: impl Into<String>) -> Self {
        self.base_root = root.into();
        self
    }

    /// Allow plain `http://` to a host that is not loopback (off by default).
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.allow_insecure_http = yes;
        self
    }

    /// Settings of the hyper-util client (pool, connect timeout, HTTP/2). They cannot be
    /// combined with [`inner_service`](Self::inner_service), which replaces that client:
    /// [`build`](Self::build) refuses both together.
    pub fn http_client(mut self, client: HyperClientBuilder) -> Self {
        self.client = client;
        self.client_set = true;
        self
    }

    /// The proxy the HTTP client connects through, overriding the one in
    /// [`http_client`](Self::http_client)'s settings (default: the environment's,
    /// [`Proxy::from_env`]); [`Proxy::none`] connects directly. [`build`](Self::build)
    /// refuses it together with [`inner_service`](Self::inner_service).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Replaces the innermost HTTP client with any service (a mock in tests, another HTTP
    /// client). The layers above it stay.
    pub fn inner_service<S>(mut self, service: S) -> Self
    where
        S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.inner = Some(into_http_service(service));
        self
    }

    /// Retry settings; `None` switches retries off.
    pub fn retry(mut self, config: Option<RetryConfig>) -> Self {
        self.retry = config;
        self
    }

    /// The rate limiter; `None` switches client-side rate limiting off. Pass the same
    /// [`RateLimiter`] to several stacks to make them share one limit.
    pub fn rate_limiter(mut self, limiter: Option<RateLimiter>) -> Self {
        self.rate_limiter = limiter;
        self
    }

    /// Time limit of one attempt; `None`: no limit.
    pub fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Time limit of a whole call, retries and rate-limit waits included; `None`: no limit.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether to create a tracing span per call (default on; nearly free without a
    /// subscriber).
    pub fn trace(mut self, yes: bool) -> Self {
        self.trace = yes;
        self
    }

    /// Whether to record metrics through the `metrics` facade (feature `metrics`; default on:
    /// nothing is kept until the application installs a recorder). The names and labels are
    /// in [`crate::metrics`].
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, yes: bool) -> Self {
        self.metrics = yes;
        self
    }

    /// Adds a user layer. Layers added first are outermost. They sit inside the rate limiter
    /// and outside the auth layer, so they see every attempt, unsigned.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<HttpService> + Send + Sync + 'static,
        L::Service: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        <L::Service as Service<HttpRequest>>::Error: Into<BoxError>,
        <L::Service as Service<HttpRequest>>::Future: Send + 'static,
    {
        self.user_layers.push(Arc::new(move |svc: HttpService| {
            into_http_service(layer.layer(svc))
        }));
        self
    }

    /// Builds the stack.
    pub fn build(self) -> Result<HttpService, BuildError> {
        if let Some(retry) = &self.retry {
            retry.validate()?;
        }
        if self.inner.is_some() && self.proxy.is_some() {
            return Err(BuildError::Invalid(
                "a proxy setting has no effect with inner_service, which replaces the HTTP \
                 client; configure the inner service itself instead"
                    .to_owned(),
            ));
        }
        if self.inner.is_some() && self.client_set {
            return Err(BuildError::Invalid(
                "http_client settings have no effect with inner_service, which replaces the \
                 HTTP client; configure the inner service itself instead"
                    .to_owned(),
            ));
        }
        let base = BaseUrl::new(
            &self.base_root,
            self.app_id.as_str(),
            self.allow_insecure_http,
        )?;
        // The default client stays unboxed; only a custom inner service is erased.
        let inner = if let Some(inner) = self.inner {
            Either::Right(inner)
        } else {
            let mut client = self.client;
            if let Some(proxy) = self.proxy {
                client = client.proxy(proxy);
            }
            Either::Left(client.build()?)
        };
        let signed = ServiceBuilder::new()
            .layer(AuthLayer::new(self.credentials))
            .layer(JsonLayer::new())
            .layer(BaseUrlLayer::new(base))
            .option_layer(self.attempt_timeout.map(TimeoutLayer::per_attempt))
            .service(inner);
        let outer =
            ServiceBuilder::new().option_layer(self.trace.then(|| trace_layer(&self.base_root)));
        #[cfg(feature = "metrics")]
        let outer = outer.option_layer(self.metrics.then(crate::metrics::MetricsLayer::calls));
        let outer = outer
            .option_layer(self.deadline.map(TimeoutLayer::deadline))
            .option_layer(self.retry.map(RetryLayer::new))
            .option_layer(self.rate_limiter.map(RateLimitLayer::new));
        #[cfg(feature = "metrics")]
        let outer = outer.option_layer(self.metrics.then(crate::metrics::MetricsLayer::attempts));
        if self.user_layers.is_empty() {
            // No user layers: erase once, at the edge.
            return Ok(BoxCloneSyncService::new(
                outer.service(signed).map_err(Into::into),
            ));
        }
        let mut svc: HttpService = BoxCloneSyncService::new(signed.map_err(Into::into));
        for wrap in self.user_layers.iter().rev() {
            svc = wrap(svc);
        }
        Ok(BoxCloneSyncService::new(
            outer.service(svc).map_err(Into::into),
        ))
    }
}
