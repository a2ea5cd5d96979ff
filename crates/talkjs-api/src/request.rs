//! Building requests: encoded paths, query strings, JSON bodies.

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use talkjs_transport::{Idempotency, PathTemplate, RequestClass, percent_encode_into as encode};

use crate::error::{Error, Result};

/// Rejects an id that cannot be a path segment before any request is sent: an empty id, and
/// `.` / `..`, which percent-encoding leaves as they are and which any path-normalising hop
/// (proxy, load balancer) resolves, so that e.g. `DELETE …/participants/..` would become
/// `DELETE /conversations/{id}`.
pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
    match id {
        "" => Err(Error::InvalidArgument(format!(
            "the {what} must not be empty"
        ))),
        "." | ".." => Err(Error::InvalidArgument(format!(
            "the {what} {id:?} is not allowed: \".\" and \"..\" are path navigation, and a \
             normalising proxy would send the request to another resource"
        ))),
        _ => Ok(()),
    }
}

/// Rejects a page size outside `1..=max` before any request is sent.
pub(crate) fn check_limit(limit: Option<u32>, max: u32, what: &str) -> Result<()> {
    match limit {
        Some(l) if l == 0 || l > max => Err(Error::InvalidArgument(format!(
            "limit {l} is out of range for {what}: TalkJS accepts 1 to {max}"
        ))),
        _ => Ok(()),
    }
}

/// The key of an encoded `key=value` pair. Keys and values are percent-encoded, so `&` and `=`
/// only ever delimit.
fn query_key(pair: &str) -> &str {
    pair.split_once('=').map_or(pair, |(k, _)| k)
}

/// A request under construction.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    query: String,
    pub(crate) body: Bytes,
    content_type: Option<String>,
    template: &'static str,
    class: RequestClass,
    idempotency: Option<Idempotency>,
}

impl ApiRequest {
    /// A request for `template` (e.g. `/users/{userId}`); `segments` are the literal and id
    /// parts of the path, ids already checked; each is encoded.
    pub(crate) fn new(method: Method, template: &'static str, segments: &[&str]) -> Self {
        Self {
            method,
            path: String::with_capacity(64),
            query: String::new(),
            body: Bytes::new(),
            content_type: None,
            template,
            class: RequestClass::General,
            idempotency: None,
        }
        .segments(segments)
    }

    /// Appends percent-encoded path segments.
    pub(crate) fn segments(mut self, segments: &[&str]) -> Self {
        for s in segments {
            self.path.push('/');
            encode(&mut self.path, s);
        }
        self
    }

    /// Adds `key=value` to the query string.
    pub(crate) fn query(&mut self, key: &str, value: &str) -> &mut Self {
        if !self.query.is_empty() {
            self.query.push('&');
        }
        encode(&mut self.query, key);
        self.query.push('=');
        encode(&mut self.query, value);
        self
    }

    /// Sets `key=value` in the query string: replaces the value of an earlier `key` in place
    /// (the last call wins, as builder setters are expected to behave), else appends it.
    pub(crate) fn set_query(&mut self, key: &str, value: &str) -> &mut Self {
        let mut encoded_key = String::with_capacity(key.len());
        encode(&mut encoded_key, key);
        if !self
            .query
            .split('&')
            .any(|pair| query_key(pair) == encoded_key)
        {
            return self.query(key, value);
        }
        let old = std::mem::take(&mut self.query);
        let mut replaced = false;
        for pair in old.split('&') {
            let same = query_key(pair) == encoded_key;
            if same && replaced {
                continue;
            }
            if !self.query.is_empty() {
                self.query.push('&');
            }
            if same {
                replaced = true;
                self.query.push_str(&encoded_key);
                self.query.push('=');
                encode(&mut self.query, value);
            } else {
                self.query.push_str(pair);
            }
        }
        self
    }

    /// Adds `key=value` when `value` is set.
    pub(crate) fn query_opt(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.query(key, &v.to_string());
        }
        self
    }

    /// Sets a JSON body.
    pub(crate) fn json<T: Serialize + ?Sized>(&mut self, body: &T) -> Result<&mut Self> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::InvalidArgument(format!("the request body cannot be serialized: {e}"))
        })?;
        self.body = Bytes::from(bytes);
        Ok(self)
    }

    /// Sets a raw body with its content type.
    pub(crate) fn raw_body(&mut self, content_type: String, body: Bytes) -> &mut Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }

    /// Marks the rate-limit class.
    pub(crate) fn class(&mut self, class: RequestClass) -> &mut Self {
        self.class = class;
        self
    }

    /// Overrides the method's default idempotency.
    pub(crate) fn idempotency(&mut self, idempotency: Idempotency) -> &mut Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// The relative URI (`/users/alice?limit=10`).
    #[cfg(test)]
    pub(crate) fn uri(&self) -> String {
        Self::join_uri(self.path.clone(), &self.query)
    }

    fn join_uri(mut path: String, query: &str) -> String {
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        path
    }

    /// Builds the `http::Request` for the transport.
    pub(crate) fn build(
        self,
        api_version: Option<&http::HeaderValue>,
    ) -> Result<http::Request<Bytes>> {
        // The request is consumed: its path becomes the URI without another copy. Built
        // field by field (no `http::request::Builder`, which moves its parts through a
        // closure per setting).
        let invalid = |e: &dyn std::fmt::Display| {
            Error::InvalidArgument(format!("cannot build the request: {e}"))
        };
        let uri = http::Uri::from_maybe_shared(Bytes::from(Self::join_uri(self.path, &self.query)))
            .map_err(|e| invalid(&e))?;
        let mut request = http::Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        if let Some(ct) = self.content_type {
            let value = http::HeaderValue::try_from(ct).map_err(|e| invalid(&e))?;
            request
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, value);
        }
        if let Some(v) = api_version {
            request
                .headers_mut()
                .insert(talkjs_transport::API_VERSION_HEADER, v.clone());
        }
        // No `PathTemplate` extension: the trace layer derives the same template from the
        // path. Each extension is an allocation on every call, cloned again for a possible
        // retry; General is likewise what the transport assumes without the extension.
        debug_assert_eq!(
            PathTemplate::derive(request.uri().path()),
            self.template,
            "the transport's derived template differs from the endpoint's"
        );
        let extensions = request.extensions_mut();
        if self.class != RequestClass::General {
            extensions.insert(self.class);
        }
        if let Some(i) = self.idempotency {
            extensions.insert(i);
        }
        Ok(request)
    }
}

/// A request on `/conversations/{id}` followed by `rest` (the id checked and encoded): the
/// home of every conversation path, for conversations, participants and messages.
pub(crate) fn conversation_path(
    template: &'static str,
    method: Method,
    id: &str,
    rest: &[&str],
) -> Result<ApiRequest> {
    check_id("conversation id", id)?;
    Ok(ApiRequest::new(method, template, &["conversations", id]).segments(rest))
}

/// A request on `/users/{id}` followed by `rest` (the id checked and encoded).
pub(crate) fn user_path(
    template: &'static str,
    method: Method,
    id: &str,
    rest: &[&str],
) -> Result<ApiRequest> {
    check_id("user id", id)?;
    Ok(ApiRequest::new(method, template, &["users", id]).segments(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_segments_and_query() {
        let mut r = ApiRequest::new(Method::GET, "/users/{userId}", &["users", "a b/c?ü"]);
        r.query("startingAfter", "x&y=z").query("limit", "10");
        assert_eq!(
            r.uri(),
            "/users/a%20b%2Fc%3F%C3%BC?startingAfter=x%26y%3Dz&limit=10"
        );
    }

    #[test]
    fn set_query_replaces_an_earlier_value_in_place() {
        let mut r = ApiRequest::new(Method::GET, "/users", &["users"]);
        r.set_query("a b", "1")
            .set_query("isOnline", "true")
            .set_query("a b", "x&y=z")
            .set_query("limit", "5")
            .set_query("isOnline", "false");
        assert_eq!(r.uri(), "/users?a%20b=x%26y%3Dz&isOnline=false&limit=5");
    }

    #[test]
    fn limits_and_ids() {
        assert!(check_limit(Some(0), 30, "conversations").is_err());
        assert!(check_limit(Some(31), 30, "conversations").is_err());
        assert!(check_limit(Some(30), 30, "conversations").is_ok());
        assert!(check_limit(None, 30, "conversations").is_ok());
        assert!(check_id("user id", "").is_err());
        assert!(check_id("user id", "a").is_ok());
        assert!(check_id("user id", ".").is_err());
        assert!(check_id("user id", "..").is_err());
        assert!(check_id("user id", "...").is_ok());
        assert!(check_id("user id", ".a").is_ok());
    }
}
