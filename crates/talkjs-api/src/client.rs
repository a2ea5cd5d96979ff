//! [`Client`] and [`ClientBuilder`].

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde::de::DeserializeOwned;
use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
use talkjs_transport::{
    BoxError, BuildError, HttpRequest, HttpResponse, HttpService, HyperClientBuilder, Proxy,
    RateLimiter, RetryConfig, StackBuilder,
};
use tower::{Layer, Service, ServiceExt};

use crate::error::{Error, Result};
use crate::request::ApiRequest;

/// Environment variable holding the app id.
pub const ENV_APP_ID: &str = "TALKJS_APP_ID";
/// Environment variable holding the secret key.
pub const ENV_SECRET_KEY: &str = "TALKJS_SECRET_KEY";
/// Environment variable holding a non-default API root (e.g. a fake server).
pub const ENV_BASE_URL: &str = "TALKJS_BASE_URL";

/// A TalkJS REST API client.
///
/// Cloning is cheap: clones share the connection pool, the rate limiter and the retry
/// budget. Resource handles ([`Client::users`], ...) hold a clone.
///
/// ```no_run
/// # async fn run() -> Result<(), talkjs_api::Error> {
/// let client = talkjs_api::Client::builder()
///     .app_id("tNCnKd4d")
///     .secret_key("sk_test_…")
///     .build()?;
/// let user = client.users().get("alice").await?;
/// println!("{}", user.name);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    // Each call clones the stack and drives its own clone to readiness (tower's
    // `clone` + `oneshot`), so layers that reserve capacity in `poll_ready` (a concurrency
    // limit, a buffer) work as they do in any tower client. The clones share the connection
    // pool, the rate limiter and the retry budget.
    service: HttpService,
    api_version: Option<HeaderValue>,
    /// The app and API root, when the client was built by [`ClientBuilder`] (a client over
    /// a hand-made service does not know them).
    endpoint: Option<Endpoint>,
}

/// Which app, at which API root, a client built by [`ClientBuilder`] talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    app_id: String,
    api_root: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.app_id())
            .field("api_root", &self.api_root())
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder for a client with the default transport stack.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `TALKJS_APP_ID`, `TALKJS_SECRET_KEY`, and
    /// optionally `TALKJS_BASE_URL` (e.g. `http://127.0.0.1:8080` for a fake server).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// // TALKJS_APP_ID=… TALKJS_SECRET_KEY=… [TALKJS_BASE_URL=http://127.0.0.1:8080]
    /// let client = talkjs_api::Client::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env()?.build()
    }

    /// A client over any service: a transport stack assembled by hand from
    /// `talkjs-transport`'s layers, or a mock. The service receives requests with a relative
    /// URI (`/users/alice`), so it must include a base-URL layer (and auth) itself.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::{BaseUrl, BaseUrlLayer, HyperClient, JsonLayer, AuthLayer};
    /// use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
    /// let signer = TokenSigner::new(AppId::new("tNCnKd4d"), SecretKey::new("sk_test_…"));
    /// let service = tower::ServiceBuilder::new()
    ///     .layer(AuthLayer::new(Credentials::AppToken(signer)))
    ///     .layer(JsonLayer::new())
    ///     .layer(BaseUrlLayer::new(BaseUrl::talkjs("tNCnKd4d").map_err(|e| talkjs_api::Error::Config(e))?))
    ///     .service(HyperClient::new().map_err(|e| talkjs_api::Error::Config(e))?);
    /// let client = talkjs_api::Client::from_service(service);
    /// # Ok(()) }
    /// ```
    pub fn from_service<S>(service: S) -> Self
    where
        S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self {
            service: talkjs_transport::into_http_service(service),
            api_version: None,
            endpoint: None,
        }
    }

    /// The app id this client sends to, if it was built by [`ClientBuilder`] (`None` for a
    /// client over a hand-made service, [`Client::from_service`]). Tools that keep state
    /// about an app (e.g. a migration's journal) use it to tell apps apart.
    /// ```
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .build()?;
    /// assert_eq!(client.app_id(), Some("tNCnKd4d"));
    /// assert_eq!(client.api_root(), Some("https://api.talkjs.com"));
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn app_id(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.app_id.as_str())
    }

    /// The API root this client sends to (`https://api.talkjs.com` unless
    /// [`ClientBuilder::base_url`] set another, without a trailing `/`), if it was built by
    /// [`ClientBuilder`]; `None` for [`Client::from_service`].
    pub fn api_root(&self) -> Option<&str> {
        self.endpoint.as_ref().map(|e| e.api_root.as_str())
    }

    /// A clone of this client that pins the API version (`TalkJS-REST-Version` header) of
    /// every call made through it, overriding the client's default. Use it to pin one call:
    /// `client.with_api_version("2021-02-09")?.users().conversations("alice").await`.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// # let client = talkjs_api::Client::from_env()?;
    /// # async move {
    /// let pinned = client.with_api_version("2021-02-09")?;
    /// let conversations = pinned.users().conversations("alice").await?;
    /// # Ok::<(), talkjs_api::Error>(()) };
    /// # Ok(()) }
    /// ```
    pub fn with_api_version(&self, version: &str) -> Result<Self> {
        let value = api_version_header(version).map_err(Error::InvalidArgument)?;
        Ok(Self {
            service: self.service.clone(),
            api_version: Some(value),
            endpoint: self.endpoint.clone(),
        })
    }

    /// Sends a request and returns the raw success response (status checked).
    pub(crate) async fn send(&self, request: ApiRequest) -> Result<HttpResponse> {
        let request = request.build(self.api_version.as_ref())?;
        let response = self
            .service
            .clone()
            .oneshot(request)
            .await
            .map_err(Error::from_transport)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(Error::from_status(
                response.status(),
                response.headers(),
                response.body(),
            ))
        }
    }

    /// Sends a request and decodes the JSON body.
    pub(crate) async fn send_json<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T> {
        let response = self.send(request).await?;
        decode(response.into_body())
    }

    /// Sends a request whose answer carries nothing of interest (`{}`); the body is not
    /// parsed (success is judged by the status only).
    pub(crate) async fn send_empty(&self, request: ApiRequest) -> Result<()> {
        self.send(request).await.map(drop)
    }
}

/// Checks an API version (e.g. `2021-02-09`) and makes it a header value.
fn api_version_header(version: &str) -> std::result::Result<HeaderValue, String> {
    if version.trim().is_empty() {
        return Err("the API version is empty; give a date such as \"2021-02-09\"".into());
    }
    HeaderValue::from_str(version)
        .map_err(|_| format!("API version {version:?} is not a valid header value"))
}

/// Decodes a JSON body, keeping the raw bytes on failure.
pub(crate) fn decode<T: DeserializeOwned>(body: Bytes) -> Result<T> {
    serde_json::from_slice(&body).map_err(|source| Error::Decode { source, body })
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthScheme {
    /// A fresh HS256 app token per attempt (TalkJS's recommendation).
    #[default]
    AppToken,
    /// The secret key itself as the bearer (legacy; still accepted by TalkJS).
    LegacySecretKey,
}

type Configure = Box<dyn FnOnce(StackBuilder) -> std::result::Result<StackBuilder, Error> + Send>;

/// Builder of a [`Client`] with the default transport stack.
///
/// Everything but the app id and the secret key has a default: the production API, app tokens
/// valid 30 s, TalkJS's rate limits enforced client-side, retries with jittered backoff, 30 s
/// per attempt, 120 s per call.
#[must_use]
#[derive(Default)]
pub struct ClientBuilder {
    app_id: Option<String>,
    secret_key: Option<SecretKey>,
    scheme: AuthScheme,
    token_ttl: Option<Duration>,
    api_version: Option<HeaderValue>,
    /// The API root given to [`Self::base_url`], for [`Client::api_root`].
    api_root: Option<String>,
    configure: Vec<Configure>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("app_id", &self.app_id)
            .field("secret_key", &self.secret_key)
            .field("scheme", &self.scheme)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder with the app id, secret key and base URL from the environment
    /// (`TALKJS_APP_ID`, `TALKJS_SECRET_KEY`, `TALKJS_BASE_URL`). A missing app id or key is
    /// an error; a missing base URL means the production API.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// // TALKJS_APP_ID=… TALKJS_SECRET_KEY=… [TALKJS_BASE_URL=http://127.0.0.1:8080]
    /// let client = talkjs_api::Client::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let app_id = var(ENV_APP_ID).ok_or(BuildError::Missing {
            what: ENV_APP_ID,
            how: "set it to your TalkJS app id (dashboard, Settings)",
        })?;
        let secret = var(ENV_SECRET_KEY).ok_or(BuildError::Missing {
            what: ENV_SECRET_KEY,
            how: "set it to your TalkJS secret key (dashboard, Settings)",
        })?;
        let mut builder = Self::default().app_id(app_id).secret_key(secret);
        if let Some(base) = var(ENV_BASE_URL) {
            builder = builder.base_url(base);
        }
        Ok(builder)
    }

    /// The app id (dashboard, Settings).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The secret key (dashboard, Settings). Never printed.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn secret_key(mut self, key: impl Into<String>) -> Self {
        self.secret_key = Some(SecretKey::new(key.into()));
        self
    }

    /// How requests are authenticated (default: fresh app tokens).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .auth_scheme(talkjs_api::AuthScheme::LegacySecretKey)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.scheme = scheme;
        self
    }

    /// Lifetime of each app token (default 30 s). Only for [`AuthScheme::AppToken`]:
    /// [`build`](Self::build) refuses it with the legacy secret key, which has no lifetime.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .token_ttl(std::time::Duration::from_secs(60))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = Some(ttl);
        self
    }

    /// Pins the API version (`TalkJS-REST-Version`) for every call of the client.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .api_version("2021-02-09")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn api_version(mut self, version: &str) -> Self {
        match api_version_header(version) {
            Ok(value) => self.api_version = Some(value),
            Err(msg) => self
                .configure
                .push(Box::new(move |_| Err(BuildError::Invalid(msg).into()))),
        }
        self
    }

    fn stack(mut self, f: impl FnOnce(StackBuilder) -> StackBuilder + Send + 'static) -> Self {
        self.configure.push(Box::new(move |b| Ok(f(b))));
        self
    }

    /// The API root, e.g. `http://127.0.0.1:8080` for a fake server (`/v1/{appId}` is
    /// appended). Plain http is refused for hosts that are not loopback, unless
    /// [`allow_insecure_http`](Self::allow_insecure_http).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("test_app")
    ///     .secret_key("sk_test_fake")
    ///     .base_url("http://127.0.0.1:8080") // e.g. `talkjs fake serve --port 8080`
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn base_url(mut self, root: impl Into<String>) -> Self {
        let root = root.into();
        self.api_root = Some(root.clone());
        self.stack(move |b| b.base_url(root))
    }

    /// Allow plain `http://` to a host that is not loopback.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .base_url("http://talkjs-proxy.internal:8080")
    ///     .allow_insecure_http(true)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn allow_insecure_http(self, yes: bool) -> Self {
        self.stack(move |b| b.allow_insecure_http(yes))
    }

    /// Retry settings; `None` disables retries.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::RetryConfig;
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .retry(Some(RetryConfig::default().max_attempts(6)))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn retry(self, config: Option<RetryConfig>) -> Self {
        self.stack(move |b| b.retry(config))
    }

    /// The client-side rate limiter; `None` disables it. Give several clients the same
    /// [`RateLimiter`] to share one limit.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::RateLimiter;
    /// // One limit shared by two clients of the same app.
    /// let limiter = RateLimiter::new("tNCnKd4d");
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .rate_limiter(Some(limiter.clone()))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn rate_limiter(self, limiter: Option<RateLimiter>) -> Self {
        self.stack(move |b| b.rate_limiter(limiter))
    }

    /// Time limit of one attempt.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .attempt_timeout(Some(std::time::Duration::from_secs(10)))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn attempt_timeout(self, timeout: Option<Duration>) -> Self {
        self.stack(move |b| b.attempt_timeout(timeout))
    }

    /// Time limit of a call, retries included.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .timeout(Some(std::time::Duration::from_secs(30)))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn timeout(self, deadline: Option<Duration>) -> Self {
        self.stack(move |b| b.deadline(deadline))
    }

    /// Settings of the HTTP client (pool, connect timeout, HTTP/2). [`build`](Self::build)
    /// refuses them together with [`inner_service`](Self::inner_service), which replaces
    /// that client.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::HyperClientBuilder;
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .http_client(HyperClientBuilder::new().pool_max_idle_per_host(8))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn http_client(self, client: HyperClientBuilder) -> Self {
        self.stack(move |b| b.http_client(client))
    }

    /// The HTTP proxy to connect through. By default the client follows the environment
    /// ([`Proxy::from_env`]: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, either case,
    /// as curl does); this overrides it, and [`Proxy::none`] connects directly whatever the
    /// environment says. Credentials in the proxy URL are never printed.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::Proxy;
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .proxy(Proxy::https("http://proxy.internal:3128").no_proxy("localhost,127.0.0.1"))
    ///     .build()?;
    /// let direct = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .proxy(Proxy::none())
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn proxy(self, proxy: Proxy) -> Self {
        self.stack(move |b| b.proxy(proxy))
    }

    /// Replaces the innermost HTTP client (keeps every other layer).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// // Any `Service<HttpRequest>` as the innermost client, here one that answers everything.
    /// let canned = tower::service_fn(|_req: talkjs_transport::HttpRequest| async {
    ///     Ok::<_, talkjs_transport::BoxError>(talkjs_transport::HttpResponse::new(talkjs_api::bytes::Bytes::from_static(b"{}")))
    /// });
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .inner_service(canned)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn inner_service<S>(self, service: S) -> Self
    where
        S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.stack(move |b| b.inner_service(service))
    }

    /// Adds a user layer to the stack. Layers added first are outermost; they sit inside the
    /// rate limiter and outside the auth layer, so they see every attempt (unsigned).
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// use talkjs_transport::HttpRequest;
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .layer(tower::util::MapRequestLayer::new(|mut req: HttpRequest| {
    ///         req.headers_mut().insert("x-service", talkjs_api::http::HeaderValue::from_static("billing"));
    ///         req
    ///     }))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<HttpService> + Send + Sync + 'static,
        L::Service: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        <L::Service as Service<HttpRequest>>::Error: Into<BoxError>,
        <L::Service as Service<HttpRequest>>::Future: Send + 'static,
    {
        self.stack(move |b| b.layer(layer))
    }

    /// Builds the client.
    /// ```no_run
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder()
    ///     .app_id("tNCnKd4d")
    ///     .secret_key("sk_test_…")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<Client> {
        let app_id = self
            .app_id
            .filter(|a| !a.is_empty())
            .ok_or(BuildError::Missing {
                what: "the app id",
                how: "call .app_id(...) or set TALKJS_APP_ID (dashboard, Settings)",
            })?;
        let secret = self
            .secret_key
            .filter(|k| !k.expose_secret().is_empty())
            .ok_or(BuildError::Missing {
                what: "the secret key",
                how: "call .secret_key(...) or set TALKJS_SECRET_KEY (dashboard, Settings)",
            })?;
        let endpoint = Endpoint {
            api_root: self
                .api_root
                .as_deref()
                .unwrap_or(talkjs_transport::TALKJS_API_ROOT)
                .trim_end_matches('/')
                .to_owned(),
            app_id: app_id.clone(),
        };
        let app_id = AppId::new(app_id);
        let credentials = match self.scheme {
            AuthScheme::AppToken => {
                let mut signer = TokenSigner::new(app_id.clone(), secret);
                if let Some(ttl) = self.token_ttl {
                    signer = signer.with_app_token_ttl(ttl);
                }
                Credentials::AppToken(signer)
            }
            AuthScheme::LegacySecretKey => {
                if self.token_ttl.is_some() {
                    return Err(BuildError::Invalid(
                        "token_ttl applies to app tokens; the legacy secret key has no lifetime \
                         (drop .token_ttl(...) or use AuthScheme::AppToken)"
                            .into(),
                    )
                    .into());
                }
                Credentials::LegacySecretKey(secret)
            }
        };
        let mut stack = StackBuilder::new(app_id, credentials);
        for f in self.configure {
            stack = f(stack)?;
        }
        let service = stack.build()?;
        Ok(Client {
            service,
            api_version: self.api_version,
            endpoint: Some(endpoint),
        })
    }
}
