//! Request and response types of the REST emulation, independent of hyper, so that the
//! batch endpoint can dispatch operations internally.

use std::fmt::Write as _;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use talkjs_models::{Timestamp, WebhookEventType};

/// The newest API version the fake knows; requests without `TalkJS-REST-Version` use it.
pub(crate) const LATEST_VERSION: &str = "2024-01-01";

/// The body of an API request.
#[derive(Debug)]
pub(crate) enum RequestBody {
    /// From an HTTP request: raw bytes and the `Content-Type` header.
    Http {
        bytes: Bytes,
        content_type: Option<String>,
    },
    /// From a batch operation: the payload, already JSON.
    Value(Option<Value>),
}

/// One API request, with its path relative to `/v1/{appId}`.
#[derive(Debug)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    /// Percent-decoded path segments after `/v1/{appId}`.
    pub(crate) segments: Vec<String>,
    /// Percent-decoded query parameters, in order.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: RequestBody,
    /// The `TalkJS-REST-Version` (or batch `api_version`), `YYYY-MM-DD`.
    pub(crate) api_version: String,
    /// Whether this request is an operation inside a batch.
    pub(crate) in_batch: bool,
}

impl ApiRequest {
    /// The value of query parameter `name` (the last one if repeated).
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the request's API version is at least `version`.
    pub(crate) fn version_at_least(&self, version: &str) -> bool {
        self.api_version.as_str() >= version
    }

    /// Whether the body is empty (or absent).
    pub(crate) fn body_is_empty(&self) -> bool {
        match &self.body {
            RequestBody::Http { bytes, .. } => bytes.iter().all(u8::is_ascii_whitespace),
            RequestBody::Value(v) => v.is_none() || v.as_ref().is_some_and(Value::is_null),
        }
    }

    /// The body as JSON (required).
    pub(crate) fn json_value(&self) -> Result<Value, ApiError> {
        match &self.body {
            RequestBody::Http {
                bytes,
                content_type,
            } => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Err(ApiError::bad_request(
                        "INVALID_JSON",
                        "the request body is empty; a JSON body is required",
                    ));
                }
                if !is_json_content_type(content_type.as_deref()) {
                    return Err(ApiError::bad_request(
                        "INVALID_CONTENT_TYPE",
                        format!(
                            "Content-Type must be application/json, got {}",
                            content_type.as_deref().unwrap_or("nothing")
                        ),
                    ));
                }
                serde_json::from_slice(bytes).map_err(|e| {
                    ApiError::bad_request("INVALID_JSON", format!("the body is not JSON: {e}"))
                })
            }
            RequestBody::Value(Some(v)) => Ok(v.clone()),
            RequestBody::Value(None) => Err(ApiError::bad_request(
                "INVALID_JSON",
                "the operation has no payload; a JSON body is required",
            )),
        }
    }

    /// The body decoded into `T` (required).
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        decode(self.json_value()?)
    }

    /// The body decoded into `T`, or `T::default()` when the body is empty.
    pub(crate) fn json_or_default<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body_is_empty() {
            Ok(T::default())
        } else {
            self.json()
        }
    }
}

/// Decodes a JSON value into `T`, mapping errors to a 400.
pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::bad_request(
            "VALIDATION_FAILED",
            format!("the body has the wrong shape: {e}"),
        )
    })
}

/// Serializes a response object.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(format!("serialization: {e}")))
}

/// Whether a `Content-Type` value is JSON.
fn is_json_content_type(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let essence = v.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
    })
}

/// An API error: status plus `{"errorCode": …, "reasons": […]}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) reasons: Vec<String>,
    /// Extra fields for the body (e.g. per-user errors of the batch user upsert).
    pub(crate) extra: Option<(&'static str, Value)>,
}

impl ApiError {
    /// An error with one reason.
    pub(crate) fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reasons: vec![reason.into()],
            extra: None,
        }
    }

    /// 400 with `code`.
    pub(crate) fn bad_request(code: &'static str, reason: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, reason)
    }

    /// 400 `VALIDATION_FAILED`.
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::bad_request("VALIDATION_FAILED", reason)
    }

    /// 404 for a missing resource.
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} {id:?} does not exist"),
        )
    }

    /// 500.
    pub(crate) fn internal(reason: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", reason)
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({ "errorCode": self.code, "reasons": self.reasons });
        if let (Some((key, value)), Some(map)) = (&self.extra, body.as_object_mut()) {
            map.insert((*key).to_owned(), value.clone());
        }
        body
    }

    /// The error as a response.
    pub(crate) fn into_response(self) -> ApiResponse {
        ApiResponse {
            status: self.status,
            body: self.body(),
        }
    }
}

/// An API response: status and JSON body.
#[derive(Debug, Clone)]
pub(crate) struct ApiResponse {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
}

impl ApiResponse {
    /// 200 with `body`.
    pub(crate) fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }
}

impl From<Result<Value, ApiError>> for ApiResponse {
    fn from(result: Result<Value, ApiError>) -> Self {
        match result {
            Ok(body) => Self::ok(body),
            Err(e) => e.into_response(),
        }
    }
}

/// A webhook event produced by a request, delivered after the state lock is released.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) kind: WebhookEventType,
    pub(crate) data: Value,
    pub(crate) at: Timestamp,
}

/// Decodes `%XX` escapes (and, in query strings, `+` as space). Invalid escapes are kept
/// verbatim; invalid UTF-8 is replaced.
pub(crate) fn percent_decode(input: &str, plus_as_space: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push(h * 16 + l);
                    i += 3;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a path segment for URLs the fake hands out.
pub(crate) fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Splits a query string into decoded pairs.
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Splits a path into decoded segments (empty segments dropped).
pub(crate) fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a%20b+c", false), "a b+c");
        assert_eq!(percent_decode("%F0%9F%91%8D", false), "\u{1F44D}");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%4", false), "%4");
        assert_eq!(percent_decode("%zz", false), "%zz");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn queries() {
        assert_eq!(
            parse_query("limit=10&filter=%7B%7D&x"),
            vec![
                ("limit".to_owned(), "10".to_owned()),
                ("filter".to_owned(), "{}".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
        assert_eq!(split_path("/users/a%2Fb/"), vec!["users", "a/b"]);
    }

    #[test]
    fn content_types() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(None));
    }
}
