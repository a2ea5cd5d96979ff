//! The innermost service: hyper-util's pooled client with rustls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::ResponseFuture;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::Service;

use crate::error::{BuildError, TransportError};
use crate::types::{BoxError, HttpRequest, HttpResponse};

/// Default limit on a response body (TalkJS responses are small JSON documents).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Settings of [`HyperClient`].
#[derive(Debug, Clone)]
#[must_use]
pub struct HyperClientBuilder {
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    http2_only: bool,
    max_response_bytes: usize,
}

impl Default for HyperClientBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Some(Duration::from_secs(10)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: 32,
            http2_only: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl HyperClientBuilder {
    /// Defaults: 10 s connect timeout, idle connections kept 90 s, up to 32 idle connections
    /// per host, HTTP/1.1 or HTTP/2 as negotiated by ALPN, 16 MiB response limit.
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

    /// Builds the client. Needs a Tokio runtime when requests are sent (not when built).
    pub fn build(self) -> Result<HyperClient, BuildError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(self.connect_timeout);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| BuildError::Tls(e.to_string()))?
            .https_or_http();
        let https = if self.http2_only {
            https.enable_http2().wrap_connector(http)
        } else {
            https.enable_all_versions().wrap_connector(http)
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .http2_only(self.http2_only);
        Ok(HyperClient {
            inner: Arc::new(builder.build(https)),
            max_response_bytes: self.max_response_bytes,
        })
    }
}

/// A `Service<HttpRequest>` over hyper-util's pooled client: keep-alive connections, rustls
/// (ring, webpki roots), HTTP/1.1 and HTTP/2. Each response body is read into one `Bytes`.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct HyperClient {
    inner: Arc<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
    max_response_bytes: usize,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient")
            .field("max_response_bytes", &self.max_response_bytes)
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
    type Future = HyperFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        HyperFuture {
            state: HyperState::Head {
                future: self.inner.request(req.map(Full::new)),
                limit: self.max_response_bytes,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of [`HyperClient`]: the response head, then the whole body (up to the
    /// [limit](HyperClientBuilder::max_response_bytes)) read into `Bytes`.
    pub struct HyperFuture {
        #[pin]
        state: HyperState,
    }
}

pin_project_lite::pin_project! {
    #[project = HyperStateProj]
    enum HyperState {
        Head {
            #[pin]
            future: ResponseFuture,
            limit: usize,
        },
        Body {
            #[pin]
            collect: Collect<Limited<Incoming>>,
            parts: Option<http::response::Parts>,
            limit: usize,
        },
    }
}

impl std::fmt::Debug for HyperFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperFuture").finish_non_exhaustive()
    }
}

impl Future for HyperFuture {
    type Output = Result<HttpResponse, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                HyperStateProj::Head { future, limit } => {
                    let response = match future.poll(cx) {
                        Poll::Ready(Ok(response)) => response,
                        Poll::Ready(Err(error)) => return Poll::Ready(Err(classify(error).into())),
                        Poll::Pending => return Poll::Pending,
                    };
                    let (parts, body) = response.into_parts();
                    let collect = Limited::new(body, *limit).collect();
                    let limit = *limit;
                    state.set(HyperState::Body {
                        collect,
                        parts: Some(parts),
                        limit,
                    });
                }
                HyperStateProj::Body {
                    collect,
                    parts,
                    limit,
                } => {
                    let collected = match collect.poll(cx) {
                        Poll::Ready(Ok(collected)) => collected,
                        Poll::Ready(Err(source)) => {
                            let error = if source.is::<http_body_util::LengthLimitError>() {
                                TransportError::BodyTooLarge { limit: *limit }
                            } else {
                                TransportError::Body { source }
                            };
                            return Poll::Ready(Err(error.into()));
                        }
                        Poll::Pending => return Poll::Pending,
                    };
                    let Some(parts) = parts.take() else {
                        return Poll::Ready(Err("HyperFuture polled after completion".into()));
                    };
                    return Poll::Ready(Ok(http::Response::from_parts(
                        parts,
                        collected.to_bytes(),
                    )));
                }
            }
        }
    }
}
