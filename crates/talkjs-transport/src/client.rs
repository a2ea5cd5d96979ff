//! The innermost service: hyper-util's pooled client with rustls, through a proxy if one is
//! set.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use tower::Service;

use crate::error::{BuildError, TransportError};
use crate::proxy::{Proxy, ProxyConnector};
use crate::types::{BoxError, BoxFuture, HttpRequest, HttpResponse};

/// Default limit on a response body (TalkJS responses are small JSON documents).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Settings of [`HyperClient`].
///
/// ```
/// use std::time::Duration;
/// use talkjs_transport::{HyperClientBuilder, Proxy};
///
/// # fn run() -> Result<(), talkjs_transport::BuildError> {
/// let client = HyperClientBuilder::new()
///     .connect_timeout(Some(Duration::from_secs(5)))
///     .pool_max_idle_per_host(8)
///     .proxy(Proxy::https("http://proxy.internal:3128"))
///     .build()?;
/// # drop(client); Ok(()) }
/// # run().unwrap();
/// ```
#[derive(Clone)]
#[must_use]
pub struct HyperClientBuilder {
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    http2_only: bool,
    max_response_bytes: usize,
    proxy: Proxy,
    extra_roots: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for HyperClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClientBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("http2_only", &self.http2_only)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("proxy", &self.proxy)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl Default for HyperClientBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Some(Duration::from_secs(10)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: 32,
            http2_only: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            proxy: Proxy::from_env(),
            extra_roots: Vec::new(),
        }
    }
}

impl HyperClientBuilder {
    /// Defaults: 10 s connect timeout, idle connections kept 90 s, up to 32 idle connections
    /// per host, HTTP/1.1 or HTTP/2 as negotiated by ALPN, 16 MiB response limit, the proxy
    /// of the environment ([`Proxy::from_env`]), Mozilla's root certificates (webpki-roots).
    pub fn new() -> Self {
        Self::default()
    }

    /// Time limit for establishing a TCP connection (`None`: no limit).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept (`None`: forever).
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Maximum idle connections kept per host.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Speak only HTTP/2 (prior knowledge over plain http, ALPN over https).
    pub fn http2_only(mut self, yes: bool) -> Self {
        self.http2_only = yes;
        self
    }

    /// Largest response body accepted; a bigger one fails the attempt with
    /// [`TransportError::Body`].
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The proxy to connect through (default [`Proxy::from_env`]: `HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, read by [`build`](Self::build));
    /// [`Proxy::none`] switches proxies off.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// Trusts this root certificate (DER) for `https://` too, besides Mozilla's roots: the
    /// certificate authority of a proxy that inspects TLS, or of a test server. Repeat for
    /// several.
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(CertificateDer::from(der.into()));
        self
    }

    /// Builds the client. Needs a Tokio runtime when requests are sent (not when built).
    /// Reads the proxy environment variables with [`Proxy::from_env`]; fails on a proxy it
    /// cannot use, or on a root certificate that does not parse.
    pub fn build(self) -> Result<HyperClient, BuildError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(self.connect_timeout);
        let matcher = self.proxy.matcher()?;
        let connector = ProxyConnector {
            http,
            matcher: matcher.clone(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for der in self.extra_roots {
            roots
                .add(der)
                .map_err(|e| BuildError::Tls(format!("a root certificate was refused: {e}")))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = if self.http2_only {
            https.enable_http2().wrap_connector(connector)
        } else {
            https.enable_all_versions().wrap_connector(connector)
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .http2_only(self.http2_only);
        Ok(HyperClient {
            inner: Arc::new(builder.build(https)),
            max_response_bytes: self.max_response_bytes,
            proxy: matcher,
        })
    }
}

/// A `Service<HttpRequest>` over hyper-util's pooled client: keep-alive connections, rustls
/// (ring, webpki roots), HTTP/1.1 and HTTP/2, through an HTTP proxy when one is set
/// ([`HyperClientBuilder::proxy`]; the environment's by default). Each response body is read
/// into one `Bytes`.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct HyperClient {
    inner: Arc<Client<HttpsConnector<ProxyConnector>, Full<Bytes>>>,
    max_response_bytes: usize,
    /// Which destinations go through which proxy (`None`: none do).
    proxy: Option<Arc<Matcher>>,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("max_response_bytes", &self.max_response_bytes)
            // The matcher's Debug shows each proxy's URL without its credentials.
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HyperClient {
    /// A client with the default settings (see [`HyperClientBuilder::new`]).
    pub fn new() -> Result<Self, BuildError> {
        HyperClientBuilder::new().build()
    }

    /// A builder for custom settings.
    pub fn builder() -> HyperClientBuilder {
        HyperClientBuilder::new()
    }
}

fn classify(e: hyper_util::client::legacy::Error) -> TransportError {
    if e.is_connect() {
        TransportError::Connect {
            source: Box::new(e),
        }
    } else {
        TransportError::Request {
            source: Box::new(e),
        }
    }
}

impl Service<HttpRequest> for HyperClient {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        if let Some(matcher) = &self.proxy {
            if let Some(auth) = crate::proxy::authorization(matcher, req.uri()) {
                req.headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, auth);
            }
        }
        let response = self.inner.request(req.map(Full::new));
        let limit = self.max_response_bytes;
        Box::pin(async move {
            let response = response.await.map_err(classify)?;
            let (parts, body) = response.into_parts();
            let collected = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|source| {
                    if source.is::<http_body_util::LengthLimitError>() {
                        TransportError::BodyTooLarge { limit }
                    } else {
                        TransportError::Body { source }
                    }
                })?;
            Ok(http::Response::from_parts(parts, collected.to_bytes()))
        })
    }
}
