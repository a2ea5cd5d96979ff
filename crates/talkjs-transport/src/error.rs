//! Errors produced by the transport layers.

use std::time::Duration;

use crate::types::BoxError;

/// Which time limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// One attempt (one HTTP exchange) took too long; it may be retried.
    Attempt,
    /// The whole call, retries included, took too long; it is not retried.
    Deadline,
}

/// An error from one of this crate's layers or from the HTTP client.
///
/// Inside the stack errors travel as [`BoxError`]; [`TransportError::find`] recovers this
/// type from one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection could not be established (refused, DNS, TLS handshake). The request
    /// never reached the server, so it is always safe to retry.
    ///
    /// The message names the address tried (when the HTTP client reports one) and the
    /// innermost cause, e.g. `could not connect to the TalkJS API at 127.0.0.1:9: tcp connect
    /// error: Connection refused (os error 111); check the network and the base URL`.
    #[error(
        "could not connect to the TalkJS API{}: {}; check the network and the base URL",
        address_part(source.as_ref()),
        cause_chain(source.as_ref())
    )]
    Connect {
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The connection failed after the request may have been sent (reset, closed, protocol
    /// error). Only idempotent requests are retried after this.
    #[error(
        "the connection to the TalkJS API failed: {}",
        cause_chain(source.as_ref())
    )]
    Request {
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// A response body could not be read (the connection failed while reading it).
    #[error("could not read the response body: {}", cause_chain(source.as_ref()))]
    Body {
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A response body was larger than the configured limit
    /// ([`HyperClientBuilder::max_response_bytes`](crate::HyperClientBuilder::max_response_bytes)).
    /// Not retried: the same request would get the same answer.
    #[error(
        "the response body is larger than the limit of {limit} bytes; raise max_response_bytes or ask for smaller pages"
    )]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A time limit ran out.
    #[error("{} timed out after {after:?}", match kind { TimeoutKind::Attempt => "the attempt", TimeoutKind::Deadline => "the call (retries included)" })]
    Timeout {
        /// Which limit.
        kind: TimeoutKind,
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The rate limiter would have made the call wait longer than the configured maximum.
    #[error(
        "rate limited locally: the next slot is {wait:?} away, more than the maximum wait of {max_wait:?}; retry later or raise the maximum wait"
    )]
    LocalRateLimit {
        /// How long the call would have had to wait.
        wait: Duration,
        /// The configured maximum wait.
        max_wait: Duration,
    },
    /// The rate-limit store (e.g. Redis) failed and is configured to fail calls. The request
    /// was not sent.
    #[error("the rate-limit store failed: {source}")]
    RateLimitStore {
        /// The store's error.
        #[source]
        source: BoxError,
    },
    /// The credentials could not produce a bearer token. The request was not sent.
    #[error("could not sign the request: {0}")]
    Auth(#[from] talkjs_auth::Error),
    /// The request could not be turned into an HTTP request (e.g. an invalid path, or an
    /// absolute URI of another origin than the base URL). The request was not sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl TransportError {
    /// Finds a `TransportError` in a boxed error or its source chain.
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a TransportError> {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<TransportError>() {
                return Some(found);
            }
            current = e.source();
        }
        None
    }
}

/// The messages of an error's source chain, outermost first, joined with `": "`: what went
/// wrong down to the innermost cause (`tcp connect error: Connection refused (os error
/// 111)`, `dns error: failed to lookup address information: ...`, `invalid peer
/// certificate: ...`). hyper-util's own error, which says only `client error (Connect)`,
/// is left out when something below it says more, and so is a message already contained
/// in the one before it (an error that prints its source itself).
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        current = e.source();
        if current.is_some() && e.is::<hyper_util::client::legacy::Error>() {
            continue;
        }
        let text = e.to_string();
        if text.is_empty() || parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

/// `" at ADDRESS"` when the source chain knows the socket address the connection was
/// attempted to, else nothing.
///
/// hyper-util's connector keeps that address only in its (private) `ConnectError`'s `Debug`
/// output, `ConnectError("tcp connect error", 127.0.0.1:9, Os { .. })`; it is read from
/// there and used only if it parses as a socket address, so another format just leaves it
/// out.
fn address_part(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = Some(error);
    while let Some(e) = current {
        let debug = format!("{e:?}");
        if let Some(address) = connect_error_address(&debug) {
            return format!(" at {address}");
        }
        current = e.source();
    }
    String::new()
}

/// The address in hyper-util's `ConnectError("msg", ADDRESS, cause)` debug output.
fn connect_error_address(debug: &str) -> Option<std::net::SocketAddr> {
    let rest = debug.strip_prefix("ConnectError(\"")?;
    // The message is a plain static string without quotes; the address follows it.
    let (_, rest) = rest.split_once("\", ")?;
    let end = rest.find([',', ')']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// A configuration error from [`StackBuilder`](crate::StackBuilder) or a layer constructor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The base URL could not be parsed.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The base URL uses plain `http://` for a host that is not loopback.
    #[error(
        "refusing plain http:// for non-loopback host {host:?}: TalkJS credentials would travel unencrypted; use https:// or opt in with allow_insecure_http(true)"
    )]
    InsecureBaseUrl {
        /// The host.
        host: String,
    },
    /// A required setting is missing (the app id or the secret key).
    #[error("{what} is missing: {how}")]
    Missing {
        /// The setting.
        what: &'static str,
        /// How to give it.
        how: &'static str,
    },
    /// The app id is empty.
    #[error("the app id is empty; find it in the TalkJS dashboard under Settings")]
    EmptyAppId,
    /// A TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Another invalid setting.
    #[error("invalid setting: {0}")]
    Invalid(String),
}
