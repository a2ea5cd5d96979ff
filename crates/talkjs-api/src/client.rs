//! [`Client`] and [`ClientBuilder`].

use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde::de::DeserializeOwned;
use talkjs_auth::{AppId, Credentials, DEFAULT_APP_TOKEN_TTL, SecretKey, TokenSigner};
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
/// let client = talkjs_api::Client::builder("tNCnKd4d", "sk_test_…").build()?;
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
    /// A builder for a client of app `app_id` (dashboard, Settings), signing with
    /// `secret_key`, over the default transport stack: [`ClientBuilder::new`].
    pub fn builder(app_id: impl Into<String>, secret_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(app_id, secret_key)
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
    /// use talkjs_auth::{AppId, Credentials, DEFAULT_APP_TOKEN_TTL, SecretKey, TokenSigner};
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
    /// let client = talkjs_api::Client::builder("tNCnKd4d", "sk_test_…").build()?;
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
    /// every call made through it, overriding the client's own (if
    /// [`ClientBuilder::api_version`] set one). This is the one way a version is pinned:
    /// the builder's setter checks the version at once and gives the built client the same
    /// pin. Use it to pin one call:
    /// `client.with_api_version("2021-02-09")?.users().conversations("alice").await`.
    /// An empty version, or one that is not a valid header value, is
    /// [`Error::InvalidArgument`].
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
        Ok(self.clone().pinned(Some(value)))
    }

    /// This client with `version` as the `TalkJS-REST-Version` of its calls (`None`: none).
    fn pinned(mut self, version: Option<HeaderValue>) -> Self {
        self.api_version = version;
        self
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthScheme {
    /// A fresh HS256 app token per attempt (TalkJS's recommendation), each valid `ttl`
    /// (default [`DEFAULT_APP_TOKEN_TTL`], 30 s; rounded up to whole seconds; a zero `ttl`
    /// makes every call fail at signing).
    AppToken {
        /// The lifetime of each token.
        ttl: Duration,
    },
    /// The secret key itself as the bearer (legacy; still accepted by TalkJS).
    LegacySecretKey,
}

impl Default for AuthScheme {
    /// App tokens valid [`DEFAULT_APP_TOKEN_TTL`].
    fn default() -> Self {
        Self::AppToken {
            ttl: DEFAULT_APP_TOKEN_TTL,
        }
    }
}

/// Builder of a [`Client`] with the default transport stack.
///
/// Everything but the app id and the secret key has a default: the production API, app tokens
/// valid 30 s, TalkJS's rate limits enforced client-side, retries with jittered backoff, 30 s
/// per attempt, 120 s per call, the environment's proxy. Each setter goes straight to the
/// stack's [`StackBuilder`] (the stack's settings are the same, under the same names; `timeout`
/// is its `deadline`). A setter whose argument alone can be wrong returns a `Result`
/// ([`api_version`](Self::api_version)); what depends on several settings (the base URL with
/// [`allow_insecure_http`](Self::allow_insecure_http), [`http_client`](Self::http_client)
/// or [`proxy`](Self::proxy) with [`inner_service`](Self::inner_service)) and an empty app id
/// or secret key are refused by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use talkjs_api::{AuthScheme, Client};
/// use talkjs_api::transport::{HttpRequest, Proxy, RateLimiter, RetryConfig};
///
/// # fn run() -> Result<(), talkjs_api::Error> {
/// let limiter = RateLimiter::new("tNCnKd4d"); // one limit, shared by clones and by other clients
/// let client = Client::builder("tNCnKd4d", "sk_test_…")
///     .base_url("http://127.0.0.1:8080") // e.g. `talkjs fake serve --port 8080`
///     .auth_scheme(AuthScheme::AppToken { ttl: Duration::from_secs(60) })
///     .api_version("2021-02-09")?
///     .retry(Some(RetryConfig::default().max_attempts(6)))
///     .rate_limiter(Some(limiter.clone()))
///     .attempt_timeout(Some(Duration::from_secs(10)))
///     .timeout(Some(Duration::from_secs(30)))
///     .proxy(Proxy::none())
///     .layer(tower::util::MapRequestLayer::new(|mut req: HttpRequest| {
///         req.headers_mut().insert("x-service", talkjs_api::http::HeaderValue::from_static("billing"));
///         req
///     }))
///     .build()?;
/// assert_eq!(client.api_root(), Some("http://127.0.0.1:8080"));
/// # Ok(()) }
/// # run().unwrap();
/// ```
#[must_use]
pub struct ClientBuilder {
    stack: StackBuilder,
    /// Kept to make the credentials again when [`Self::auth_scheme`] changes them.
    app_id: AppId,
    secret_key: SecretKey,
    /// The API root given to [`Self::base_url`], for [`Client::api_root`].
    api_root: Option<String>,
    api_version: Option<HeaderValue>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The stack's Debug shows the credentials as their own Debug does: never the key.
        f.debug_struct("ClientBuilder")
            .field("stack", &self.stack)
            .field("api_version", &self.api_version)
            .finish_non_exhaustive()
    }
}

/// The credentials of `scheme`.
fn credentials(app_id: &AppId, secret_key: &SecretKey, scheme: AuthScheme) -> Credentials {
    match scheme {
        AuthScheme::AppToken { ttl } => Credentials::AppToken(
            TokenSigner::new(app_id.clone(), secret_key.clone()).with_app_token_ttl(ttl),
        ),
        AuthScheme::LegacySecretKey => Credentials::LegacySecretKey(secret_key.clone()),
    }
}

impl ClientBuilder {
    /// A builder for a client of app `app_id` (dashboard, Settings), signing with
    /// `secret_key` (dashboard, Settings; never printed), with the defaults above.
    pub fn new(app_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        let app_id = AppId::new(app_id);
        let secret_key = SecretKey::new(secret_key);
        let stack = StackBuilder::new(
            app_id.clone(),
            credentials(&app_id, &secret_key, AuthScheme::default()),
        );
        Self {
            stack,
            app_id,
            secret_key,
            api_root: None,
            api_version: None,
        }
    }

    /// A builder with the app id, secret key and base URL from the environment
    /// (`TALKJS_APP_ID`, `TALKJS_SECRET_KEY`, `TALKJS_BASE_URL`): what
    /// [`Client::from_env`] builds, for further settings. A missing app id or key is an
    /// error; a missing base URL means the production API.
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
        let mut builder = Self::new(app_id, secret);
        if let Some(base) = var(ENV_BASE_URL) {
            builder = builder.base_url(base);
        }
        Ok(builder)
    }

    /// How requests are authenticated (default: fresh app tokens valid 30 s).
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.stack = self
            .stack
            .credentials(credentials(&self.app_id, &self.secret_key, scheme));
        self
    }

    /// Pins the API version (`TalkJS-REST-Version`, e.g. `2021-02-09`) of every call of the
    /// client: the built client is pinned as [`Client::with_api_version`] pins a clone.
    /// An empty version, or one that is not a valid header value, is an
    /// [`Error::Config`] here.
    pub fn api_version(mut self, version: &str) -> Result<Self> {
        let value = api_version_header(version).map_err(BuildError::Invalid)?;
        self.api_version = Some(value);
        Ok(self)
    }

    /// The API root, e.g. `http://127.0.0.1:8080` for a fake server (`/v1/{appId}` is
    /// appended). Plain http is refused for hosts that are not loopback, unless
    /// [`allow_insecure_http`](Self::allow_insecure_http).
    pub fn base_url(mut self, root: impl Into<String>) -> Self {
        let root = root.into();
        self.api_root = Some(root.clone());
        self.stack = self.stack.base_url(root);
        self
    }

    /// Allow plain `http://` to a host that is not loopback.
    pub fn allow_insecure_http(mut self, yes: bool) -> Self {
        self.stack = self.stack.allow_insecure_http(yes);
        self
    }

    /// Retry settings; `None` disables retries.
    pub fn retry(mut self, config: Option<RetryConfig>) -> Self {
        self.stack = self.stack.retry(config);
        self
    }

    /// The client-side rate limiter; `None` disables it. Give several clients the same
    /// [`RateLimiter`] to share one limit.
    pub fn rate_limiter(mut self, limiter: Option<RateLimiter>) -> Self {
        self.stack = self.stack.rate_limiter(limiter);
        self
    }

    /// Time limit of one attempt; `None`: no limit.
    pub fn attempt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stack = self.stack.attempt_timeout(timeout);
        self
    }

    /// Time limit of a call, retries and rate-limit waits included; `None`: no limit.
    pub fn timeout(mut self, deadline: Option<Duration>) -> Self {
        self.stack = self.stack.deadline(deadline);
        self
    }

    /// Settings of the HTTP client (pool, connect timeout, HTTP/2). [`build`](Self::build)
    /// refuses them together with [`inner_service`](Self::inner_service), which replaces
    /// that client.
    pub fn http_client(mut self, client: HyperClientBuilder) -> Self {
        self.stack = self.stack.http_client(client);
        self
    }

    /// The HTTP proxy to connect through. By default the client follows the environment
    /// ([`Proxy::from_env`]: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, either case,
    /// as curl does); this overrides it, and [`Proxy::none`] connects directly whatever the
    /// environment says. Credentials in the proxy URL are never printed.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.stack = self.stack.proxy(proxy);
        self
    }

    /// Replaces the innermost HTTP client with any `Service<HttpRequest>` (a mock, another
    /// HTTP client); every other layer stays.
    pub fn inner_service<S>(mut self, service: S) -> Self
    where
        S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.stack = self.stack.inner_service(service);
        self
    }

    /// Adds a user layer to the stack. Layers added first are outermost; they sit inside the
    /// rate limiter and outside the auth layer, so they see every attempt (unsigned).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<HttpService> + Send + Sync + 'static,
        L::Service: Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
        <L::Service as Service<HttpRequest>>::Error: Into<BoxError>,
        <L::Service as Service<HttpRequest>>::Future: Send + 'static,
    {
        self.stack = self.stack.layer(layer);
        self
    }

    /// Builds the client: assembles the stack ([`StackBuilder::build`]), refusing an empty
    /// app id or secret key, and settings that contradict each other.
    pub fn build(self) -> Result<Client> {
        if self.app_id.as_str().is_empty() {
            return Err(BuildError::Missing {
                what: "the app id",
                how: "pass it to Client::builder, or set TALKJS_APP_ID (dashboard, Settings)",
            }
            .into());
        }
        if self.secret_key.is_empty() {
            return Err(BuildError::Missing {
                what: "the secret key",
                how: "pass it to Client::builder, or set TALKJS_SECRET_KEY (dashboard, Settings)",
            }
            .into());
        }
        let endpoint = Endpoint {
            api_root: self
                .api_root
                .as_deref()
                .unwrap_or(talkjs_transport::TALKJS_API_ROOT)
                .trim_end_matches('/')
                .to_owned(),
            app_id: self.app_id.as_str().to_owned(),
        };
        let client = Client {
            service: self.stack.build()?,
            api_version: None,
            endpoint: Some(endpoint),
        };
        Ok(client.pinned(self.api_version))
    }
}
