//! `talkjs -v`: every attempt on standard error, as it goes over the wire.
//!
//! [`Verbose`] wraps the HTTP client itself (the innermost service), so it sees each request
//! as sent (signed, with its final headers) and each answer. The retry layer marks which
//! attempt a request is ([`Attempts::of_request`]) and the rate limiter how long it waited
//! ([`RateLimitWait::of`]).
//!
//! One line per attempt (`-v`):
//!
//! ```text
//! talkjs: PUT /users/{userId} /users/alice -> 429 (attempt 1, waited 0 ms, 3 ms)
//! ```
//!
//! `-vv` adds the request headers (`>`) and the response headers (`<`). The value of
//! `Authorization` (and `Proxy-Authorization`, `Cookie`) is redacted to its scheme
//! (`Bearer [redacted]`): neither the secret key nor a token is ever printed.

use std::task::{Context, Poll};
use std::time::Duration;

use talkjs::transport::{
    Attempts, BoxError, BoxFuture, HttpRequest, HttpResponse, PathTemplate, RateLimitWait,
};
use tokio::time::Instant;
use tower::Service;

use crate::commands::note;

/// The innermost service of a `talkjs -v` client: logs each attempt of `inner`.
#[derive(Clone)]
pub struct Verbose<S> {
    inner: S,
    /// 1: a line per attempt; 2 or more: headers too.
    level: u8,
}

impl<S> Verbose<S> {
    /// Logs the attempts through `inner` at `level` (the count of `-v`).
    pub fn new(inner: S, level: u8) -> Self {
        Self { inner, level }
    }
}

/// The path after the `/v1/{appId}` prefix (what a command names), or the whole path.
fn relative(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v1/") else {
        return path;
    };
    match rest.find('/') {
        Some(i) => &rest[i..],
        None => "/",
    }
}

/// A header value as printed: credentials cut down to their scheme.
fn shown(name: &http::HeaderName, value: &http::HeaderValue) -> String {
    let secret = matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    );
    if secret || value.is_sensitive() {
        let text = value.to_str().unwrap_or_default();
        return match text.split_once(' ') {
            Some((scheme, _)) if !scheme.is_empty() && scheme.len() <= 16 => {
                format!("{scheme} [redacted]")
            }
            _ => "[redacted]".to_owned(),
        };
    }
    value
        .to_str()
        .map_or_else(|_| format!("{value:?}"), str::to_owned)
}

fn headers(mark: char, map: &http::HeaderMap) {
    for (name, value) in map {
        note(&format!("{mark} {name}: {}", shown(name, value)));
    }
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

/// Prints "no answer" for an attempt dropped before its answer (an attempt timeout, the
/// deadline, Ctrl-C).
struct Unanswered {
    line: Option<String>,
    start: Instant,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            note(&format!(
                "{line} -> no answer, given up after {} ms",
                millis(self.start.elapsed())
            ));
        }
    }
}

impl<S> Service<HttpRequest> for Verbose<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let path = relative(req.uri().path()).to_owned();
        let template = PathTemplate::derive(&path);
        let head = format!("{} {template} {path}", req.method());
        let attempt = Attempts::of_request(&req);
        let waited = millis(RateLimitWait::of(&req));
        let level = self.level;
        if level >= 2 {
            note(&format!("{head} (attempt {attempt}): request"));
            headers('>', req.headers());
        }
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut pending = Unanswered {
                line: Some(head),
                start: Instant::now(),
            };
            let result = future.await.map_err(Into::into);
            let head = pending.line.take().unwrap_or_default();
            let took = millis(pending.start.elapsed());
            let outcome = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(error) => format!("error: {error}"),
            };
            note(&format!(
                "{head} -> {outcome} (attempt {attempt}, waited {waited} ms, {took} ms)"
            ));
            if level >= 2 {
                if let Ok(response) = &result {
                    headers('<', response.headers());
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{relative, shown};

    #[test]
    fn paths_and_redaction() {
        assert_eq!(relative("/v1/app1/users/alice"), "/users/alice");
        assert_eq!(relative("/v1/app1"), "/");
        assert_eq!(relative("/other"), "/other");
        let name = http::header::AUTHORIZATION;
        let value = http::HeaderValue::from_static("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig");
        assert_eq!(shown(&name, &value), "Bearer [redacted]");
        let bare = http::HeaderValue::from_static("sk_test_secret");
        assert_eq!(shown(&name, &bare), "[redacted]");
        let plain = http::HeaderValue::from_static("application/json");
        assert_eq!(
            shown(&http::header::CONTENT_TYPE, &plain),
            "application/json"
        );
    }
}
