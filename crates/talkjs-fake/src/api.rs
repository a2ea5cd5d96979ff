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
    /// A JSON body (already parsed), or `None` when there is none: a GET, an empty body
    /// sent with `Content-Type: application/json`, or a batch operation without payload.
    Value(Option<Value>),
    /// A `multipart/form-data` body (only `POST /files` takes one): raw bytes and the
    /// `Content-Type` header (with its boundary).
    Multipart { bytes: Bytes, content_type: String },
}

impl RequestBody {
    /// The body of an HTTP request, after the content-type rules of TalkJS.
    ///
    /// The Get started page
    /// (<https://talkjs.com/docs/Reference/REST_API/Getting_Started/Introduction/>) says:
    /// "Only requests with Content-type: application/json are accepted, except for HTTP GET
    /// requests". So every other method needs that header, whether or not it has a body
    /// (a DELETE too). Parameters such as `; charset=utf-8` are allowed and the media type
    /// is compared case-insensitively (RFC 9110 §8.3.1).
    ///
    /// Our reading where the docs are silent: with the header, an empty body means "no
    /// body" (an endpoint whose body is optional treats it like `{}`); a non-empty body
    /// must be JSON on every endpoint, also one that ignores it; the file upload
    /// (`POST /files`, not on an official doc page) takes `multipart/form-data`, and only
    /// it does.
    pub(crate) fn from_http(
        method: &Method,
        segments: &[String],
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<Self, ApiError> {
        if *method == Method::GET {
            return Ok(Self::Value(None));
        }
        let shown = content_type.unwrap_or("no Content-Type header");
        if *method == Method::POST && segments == ["files"] {
            return match content_type {
                Some(value) if has_media_type(value, "multipart/form-data") => {
                    Ok(Self::Multipart {
                        bytes,
                        content_type: value.to_owned(),
                    })
                }
                _ => Err(ApiError::bad_request(
                    "INVALID_CONTENT_TYPE",
                    format!("POST /files takes Content-Type: multipart/form-data, got {shown}"),
                )),
            };
        }
        if !content_type.is_some_and(|v| has_media_type(v, "application/json")) {
            return Err(ApiError::bad_request(
                "INVALID_CONTENT_TYPE",
                format!(
                    "every {method} request needs Content-Type: application/json (TalkJS accepts \
                     no other on requests other than GET, also without a body), got {shown}"
                ),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::Value(None));
        }
        serde_json::from_slice(&bytes)
            .map(|v| Self::Value(Some(v)))
            .map_err(|e| {
                ApiError::bad_request("INVALID_JSON", format!("the body is not JSON: {e}"))
            })
    }
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

    /// Whether the body is empty (or absent, or `null`).
    pub(crate) fn body_is_empty(&self) -> bool {
        match &self.body {
            RequestBody::Value(v) => v.as_ref().is_none_or(Value::is_null),
            RequestBody::Multipart { .. } => false,
        }
    }

    /// The body as JSON (required).
    pub(crate) fn json_value(&self) -> Result<Value, ApiError> {
        match &self.body {
            RequestBody::Value(Some(v)) => Ok(v.clone()),
            RequestBody::Value(None) => Err(ApiError::bad_request(
                "INVALID_JSON",
                "the request has no body; this endpoint needs a JSON body",
            )),
            RequestBody::Multipart { .. } => Err(ApiError::bad_request(
                "INVALID_CONTENT_TYPE",
                "this endpoint takes a JSON body, not multipart/form-data",
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

/// Whether a `Content-Type` value has the media type `expected` (parameters ignored,
/// compared case-insensitively).
fn has_media_type(value: &str, expected: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(expected)
}

/// Why the `custom` field of a body is invalid, if it is. TalkJS documents `custom` as
/// `Map<string, string>` on users, conversations and messages (e.g.
/// <https://talkjs.com/docs/Reference/REST_API/Users>): values must be strings. `null`
/// (or no field) passes here; whether `null` is allowed is the endpoint's decoder's call.
pub(crate) fn custom_problem(body: &Value) -> Option<String> {
    match body.get("custom") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => map.iter().find(|(_, v)| !v.is_string()).map(|(k, v)| {
            format!(
                "custom values must be strings; custom.{k} is {}",
                json_type(v)
            )
        }),
        Some(other) => Some(format!(
            "custom must be an object of string values, got {}",
            json_type(other)
        )),
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
        assert!(has_media_type("application/json", "application/json"));
        assert!(has_media_type(
            "Application/JSON; charset=utf-8",
            "application/json"
        ));
        assert!(!has_media_type("text/plain", "application/json"));
        assert!(!has_media_type(
            "application/json-patch+json",
            "application/json"
        ));
    }

    #[test]
    fn custom_values_must_be_strings() {
        assert_eq!(custom_problem(&json!({})), None);
        assert_eq!(custom_problem(&json!({ "custom": null })), None);
        assert_eq!(custom_problem(&json!({ "custom": { "a": "b" } })), None);
        let problem = custom_problem(&json!({ "custom": { "a": "b", "n": 1 } }));
        assert!(problem.is_some_and(|p| p.contains("custom.n is a number")));
        assert!(custom_problem(&json!({ "custom": ["a"] })).is_some());
    }
}
