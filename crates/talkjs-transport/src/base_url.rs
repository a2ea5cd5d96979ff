//! The base-URL layer: turns the relative path of a request (`/users/alice?limit=10`) into
//! the absolute TalkJS URL (`https://api.talkjs.com/v1/{appId}/users/alice?limit=10`).

use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use tower::{Layer, Service};

use crate::error::{BuildError, TransportError};
use crate::types::{BoxError, HttpRequest};

/// The default API root.
pub const TALKJS_API_ROOT: &str = "https://api.talkjs.com";

/// A validated base URL: scheme, host and the `/v1/{appId}` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: Scheme,
    authority: Authority,
    /// Path prefix without a trailing slash, e.g. `/v1/tNCnKd4d`.
    prefix: Arc<str>,
}

impl BaseUrl {
    /// The production TalkJS API for `app_id`.
    pub fn talkjs(app_id: &str) -> Result<Self, BuildError> {
        Self::new(TALKJS_API_ROOT, app_id, false)
    }

    /// A base URL at `root` (scheme and host, optionally a path prefix, e.g.
    /// `http://127.0.0.1:8080` for the fake server); `/v1/{appId}` is appended.
    ///
    /// Plain `http://` is refused unless the host is loopback (`localhost`, `127.0.0.0/8`,
    /// `::1`) or `allow_insecure_http` is set, because the bearer token would travel in
    /// clear text.
    ///
    /// ```
    /// use talkjs_transport::BaseUrl;
    ///
    /// assert!(BaseUrl::new("http://127.0.0.1:8080", "app", false).is_ok());
    /// assert!(BaseUrl::new("http://example.com", "app", false).is_err());
    /// assert!(BaseUrl::new("http://example.com", "app", true).is_ok());
    /// ```
    pub fn new(root: &str, app_id: &str, allow_insecure_http: bool) -> Result<Self, BuildError> {
        if app_id.is_empty() {
            return Err(BuildError::EmptyAppId);
        }
        let invalid = |reason: &str| BuildError::InvalidBaseUrl {
            url: redact_userinfo(root),
            reason: reason.to_owned(),
        };
        let uri: Uri = root
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| invalid("it has no scheme"))?;
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| invalid("it has no host"))?;
        if uri.query().is_some() {
            return Err(invalid("it must not have a query string"));
        }
        if authority.as_str().contains('@') {
            // TalkJS authenticates with the bearer token; credentials in the URL would be
            // ignored by the client and could leak into logs.
            return Err(invalid(
                "it must not contain a user name or password (user:password@host)",
            ));
        }
        if scheme == Scheme::HTTP {
            if !allow_insecure_http && !is_loopback(authority.host()) {
                return Err(BuildError::InsecureBaseUrl {
                    host: authority.host().to_owned(),
                });
            }
        } else if scheme != Scheme::HTTPS {
            return Err(invalid("the scheme must be https (or http for loopback)"));
        }
        let root_path = uri.path().trim_end_matches('/');
        let mut prefix = format!("{root_path}/v1/");
        percent_encode_into(&mut prefix, app_id);
        Ok(Self {
            scheme,
            authority,
            prefix: prefix.into(),
        })
    }

    /// The full URL of a relative path (which should start with `/`).
    pub fn join(&self, path_and_query: &str) -> Result<Uri, TransportError> {
        let sep = if path_and_query.starts_with('/') {
            ""
        } else {
            "/"
        };
        // Concatenated by hand: `format!` costs a noticeable share of a call.
        let mut pq = String::with_capacity(self.prefix.len() + sep.len() + path_and_query.len());
        pq.push_str(&self.prefix);
        pq.push_str(sep);
        pq.push_str(path_and_query);
        let pq = PathAndQuery::from_maybe_shared(bytes::Bytes::from(pq))
            .map_err(|e| TransportError::InvalidRequest(format!("invalid path: {e}")))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(pq);
        Uri::from_parts(parts).map_err(|e| TransportError::InvalidRequest(e.to_string()))
    }
}

/// `root` with any `user:password@` of its authority replaced by `***@`, for error messages.
fn redact_userinfo(root: &str) -> String {
    let start = root.find("://").map_or(0, |i| i + 3);
    let authority_len = root[start..]
        .find(['/', '?', '#'])
        .unwrap_or(root.len() - start);
    match root[start..start + authority_len].rfind('@') {
        Some(at) => format!("{}***{}", &root[..start], &root[start + at..]),
        None => root.to_owned(),
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Appends `s` to `out`, percent-encoded for use as one path segment or one query-string
/// component: everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is
/// encoded, so ids may contain `/`, `?`, `&`, spaces or any Unicode.
///
/// ```
/// let mut path = String::from("/users/");
/// talkjs_transport::percent_encode_into(&mut path, "alice smith/1");
/// assert_eq!(path, "/users/alice%20smith%2F1");
/// ```
pub fn percent_encode_into(out: &mut String, s: &str) {
    out.reserve(s.len());
    // Runs of unreserved characters (a typical id or path literal is one run) are copied
    // whole. A non-empty run is all ASCII and follows a whole encoded character, so both of
    // its ends are character boundaries.
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            continue;
        }
        if i > run_start {
            out.push_str(&s[run_start..i]);
        }
        out.push('%');
        talkjs_auth::hex::push_byte(out, b, true);
        run_start = i + 1;
    }
    out.push_str(&s[run_start..]);
}

/// Layer that applies a [`BaseUrl`] to requests with a relative URI.
///
/// A request whose URI is already absolute passes through unchanged if it has the base's
/// scheme and host (and port); one for any other origin fails with
/// [`TransportError::InvalidRequest`] without being sent, because the layers around this one
/// sign every request with the app's credentials, which must not travel to another host (or
/// over plain `http://` the base did not allow).
#[derive(Debug, Clone)]
pub struct BaseUrlLayer {
    base: BaseUrl,
}

impl BaseUrlLayer {
    /// A layer for `base`.
    pub fn new(base: BaseUrl) -> Self {
        Self { base }
    }
}

impl<S> Layer<S> for BaseUrlLayer {
    type Service = BaseUrlService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BaseUrlService {
            inner,
            base: self.base.clone(),
        }
    }
}

/// Service of [`BaseUrlLayer`].
#[derive(Debug, Clone)]
pub struct BaseUrlService<S> {
    inner: S,
    base: BaseUrl,
}

impl<S> Service<HttpRequest> for BaseUrlService<S>
where
    S: Service<HttpRequest>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = crate::types::ErrorOr<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        match req.uri().scheme() {
            None => {
                let pq = req.uri().path_and_query().map_or("/", PathAndQuery::as_str);
                match self.base.join(pq) {
                    Ok(uri) => *req.uri_mut() = uri,
                    Err(e) => return crate::types::ErrorOr::error(e.into()),
                }
            }
            Some(scheme) => {
                if *scheme != self.base.scheme
                    || req.uri().authority() != Some(&self.base.authority)
                {
                    return crate::types::ErrorOr::error(
                        TransportError::InvalidRequest(format!(
                            "refusing to send a signed request to {}://{}: it is not the base URL's \
                             origin {}://{}, and the stack would send the app's credentials there",
                            scheme,
                            req.uri().host().unwrap_or_default(),
                            self.base.scheme,
                            self.base.authority.host(),
                        ))
                        .into(),
                    );
                }
            }
        }
        crate::types::ErrorOr::future(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn joins_and_encodes() {
        let base = BaseUrl::talkjs("app 1").unwrap();
        assert_eq!(
            base.join("/users/alice?limit=10").unwrap().to_string(),
            "https://api.talkjs.com/v1/app%201/users/alice?limit=10"
        );
        let local = BaseUrl::new("http://localhost:9000/prefix/", "a", false).unwrap();
        assert_eq!(
            local.join("users").unwrap().to_string(),
            "http://localhost:9000/prefix/v1/a/users"
        );
    }

    #[test]
    fn refuses_bad_bases() {
        assert!(matches!(
            BaseUrl::new("http://10.0.0.1", "a", false),
            Err(BuildError::InsecureBaseUrl { .. })
        ));
        assert!(BaseUrl::new("http://[::1]:80", "a", false).is_ok());
        assert!(BaseUrl::new("http://127.9.9.9", "a", false).is_ok());
        assert!(matches!(
            BaseUrl::new("ftp://x", "a", false),
            Err(BuildError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            BaseUrl::new("api.talkjs.com", "a", false),
            Err(BuildError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            BaseUrl::new("https://x?y=1", "a", false),
            Err(BuildError::InvalidBaseUrl { .. })
        ));
        assert_eq!(BaseUrl::talkjs(""), Err(BuildError::EmptyAppId));
    }

    #[test]
    fn refuses_credentials_in_the_url_without_echoing_them() {
        for (root, shown) in [
            (
                "https://user:s3cret@api.talkjs.com",
                "https://***@api.talkjs.com",
            ),
            (
                "https://s3cret@api.talkjs.com/x",
                "https://***@api.talkjs.com/x",
            ),
            (
                "http://u:s3cret@127.0.0.1:8080",
                "http://***@127.0.0.1:8080",
            ),
        ] {
            let error = BaseUrl::new(root, "a", false).unwrap_err();
            let BuildError::InvalidBaseUrl { url, reason } = &error else {
                panic!("{error:?}");
            };
            assert_eq!(url, shown);
            assert!(reason.contains("user name or password"), "{reason}");
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains("s3cret"), "{text}");
            }
        }
        // An unparsable URL is not echoed with its credentials either.
        let error = BaseUrl::new("https://u:s3cret@exa mple.com", "a", false).unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        // An '@' after the authority is not userinfo.
        assert_eq!(
            redact_userinfo("https://h.example/p@q"),
            "https://h.example/p@q"
        );
    }

    #[test]
    fn percent_encoding_of_runs_and_multibyte_characters() {
        for (input, encoded) in [
            ("", ""),
            ("alice", "alice"),
            ("ü", "%C3%BC"),
            ("üü", "%C3%BC%C3%BC"),
            ("aü", "a%C3%BC"),
            ("üa", "%C3%BCa"),
            ("a b/c?ü~x", "a%20b%2Fc%3F%C3%BC~x"),
            ("👍", "%F0%9F%91%8D"),
            ("%", "%25"),
        ] {
            let mut out = String::from("/");
            percent_encode_into(&mut out, input);
            assert_eq!(out, format!("/{encoded}"), "{input:?}");
        }
    }
}
