//! The auth layer: sets `Authorization: Bearer <token>` on every attempt.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderValue;
use http::header::AUTHORIZATION;
use talkjs_auth::Credentials;
use tower::{Layer, Service};

use crate::error::TransportError;
use crate::types::{BoxError, ErrorOr, HttpRequest};

/// The auth layer: sets `Authorization: Bearer <token>` on every attempt.
///
/// With [`Credentials::AppToken`] each attempt carries an app token minted for the current
/// second (so a retried request never carries an old one); with
/// [`Credentials::LegacySecretKey`] the secret key itself.
///
/// App tokens carry `iat` and `exp` in whole seconds, so every token minted within one
/// second is byte-identical. The layer therefore mints at most once per second and reuses
/// that header value within the second: the same bytes a fresh mint would give, without
/// paying for the HMAC on every call. The header value is marked sensitive, so `http`'s `Debug` and
/// tower-http's loggers print it as `Sensitive`.
///
/// Layer that signs each request with the given credentials.
#[derive(Clone)]
pub struct AuthLayer {
    credentials: Arc<Signer>,
}

/// The credentials and the last bearer header. App tokens carry `iat` and `exp` in whole
/// seconds, so every token minted within one second is byte-identical: reusing it within
/// that second is the same as minting afresh. The legacy key's header is built once.
///
/// The reuse saves a mint per call, which buys more than the 2 % an optimisation must buy to
/// stay (BENCHMARKS.md, "Optimisations that remain"). The cache is read-mostly (written once
/// a second), so it is an `RwLock`: concurrent calls read it without waiting for each other.
struct Signer {
    credentials: Credentials,
    cached: std::sync::RwLock<Option<(u64, HeaderValue)>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.credentials.fmt(f)
    }
}

impl Signer {
    /// The bearer header for an attempt made now.
    fn header(&self) -> Result<HeaderValue, TransportError> {
        // The cache key: the current second for app tokens; the legacy key never changes.
        let key = match &self.credentials {
            Credentials::AppToken(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Credentials::LegacySecretKey(_) => u64::MAX,
            other => return bearer(other),
        };
        if let Some((at, value)) = &*self
            .cached
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            if *at == key {
                return Ok(value.clone());
            }
        }
        let value = match &self.credentials {
            Credentials::AppToken(signer) => header_value(
                &signer
                    .app_token_at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(key))
                    .map_err(TransportError::from)?,
            )?,
            other => bearer(other)?,
        };
        // A plain value, always consistent: a poisoned lock is safe to keep using.
        *self
            .cached
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((key, value.clone()));
        Ok(value)
    }
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl AuthLayer {
    /// A layer signing with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials: Arc::new(Signer {
                credentials,
                cached: std::sync::RwLock::new(None),
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            credentials: Arc::clone(&self.credentials),
        }
    }
}

/// Service of [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    credentials: Arc<Signer>,
}

impl<S> std::fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Builds the sensitive `Bearer` header value for one attempt.
fn bearer(credentials: &Credentials) -> Result<HeaderValue, TransportError> {
    let token = credentials.bearer_token()?;
    header_value(&token)
}

fn header_value(token: &str) -> Result<HeaderValue, TransportError> {
    let mut value = String::with_capacity(token.len() + 7);
    value.push_str("Bearer ");
    value.push_str(token);
    let mut header = HeaderValue::from_maybe_shared(Bytes::from(value)).map_err(|_| {
        TransportError::InvalidRequest("the bearer token is not a valid header value".into())
    })?;
    header.set_sensitive(true);
    Ok(header)
}

impl<S> Service<HttpRequest> for AuthService<S>
where
    S: Service<HttpRequest>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ErrorOr<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        match self.credentials.header() {
            Ok(value) => {
                req.headers_mut().insert(AUTHORIZATION, value);
                ErrorOr::future(self.inner.call(req))
            }
            Err(e) => ErrorOr::error(e.into()),
        }
    }
}
