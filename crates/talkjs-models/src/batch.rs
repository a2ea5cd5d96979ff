//! The batch endpoint (`POST /batch`): operations and results are JSON arrays (tuples), not
//! objects.

use std::fmt;

use serde::de::{self, DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::util::string_enum;

string_enum! {
    /// The HTTP method of a batch operation.
    pub enum BatchMethod {
        /// `"GET"`
        Get => "GET",
        /// `"POST"`
        Post => "POST",
        /// `"PUT"`
        Put => "PUT",
        /// `"PATCH"`
        Patch => "PATCH",
        /// `"DELETE"`
        Delete => "DELETE",
    }
}

/// Per-operation options, the fifth tuple element: `{"api_version": "2021-02-09"}` (the
/// batch counterpart of the `TalkJS-REST-Version` header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchOptions {
    /// The REST API version for this operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

impl BatchOptions {
    /// No options: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pins the API version, e.g. `"2021-02-09"`.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }
}

/// One batch operation: `[seq, method, path, payload?, options?]`.
///
/// `path` is relative to `/v1/{appId}` (e.g. `"/users/alice"`). For a GET, the payload is
/// the query parameters as a string map (see [`BatchOperation::query`]). Trailing absent
/// elements are omitted; when `options` is set without a payload, the payload is `null`.
/// Operations may run in any order, so do not batch operations that depend on each other.
///
/// ```
/// use talkjs_models::{BatchMethod, BatchOperation};
///
/// let op = BatchOperation::new(1, BatchMethod::Get, "/conversations")
///     .query([("limit", "30")])
///     .api_version("2021-02-09");
/// assert_eq!(
///     serde_json::to_string(&op).unwrap(),
///     r#"[1,"GET","/conversations",{"limit":"30"},{"api_version":"2021-02-09"}]"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchOperation {
    /// Your sequence number, echoed in the matching [`BatchResult`].
    pub seq: u32,
    /// The HTTP method.
    pub method: BatchMethod,
    /// The path relative to `/v1/{appId}`.
    pub path: String,
    /// The request body (or query parameters for a GET).
    pub payload: Option<Value>,
    /// Per-operation options.
    pub options: Option<BatchOptions>,
}

impl BatchOperation {
    /// An operation without payload or options.
    pub fn new(seq: u32, method: BatchMethod, path: impl Into<String>) -> Self {
        Self {
            seq,
            method,
            path: path.into(),
            payload: None,
            options: None,
        }
    }

    /// Sets the payload.
    #[must_use]
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Sets the payload from a serializable body (e.g. a [`UserUpsert`](crate::UserUpsert)).
    pub fn json_payload<T: Serialize>(self, body: &T) -> Result<Self, serde_json::Error> {
        Ok(self.payload(serde_json::to_value(body)?))
    }

    /// Sets the payload to query parameters (for a GET): a JSON object of strings.
    #[must_use]
    pub fn query<I, K, V>(self, params: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let map = params
            .into_iter()
            .map(|(k, v)| (k.into(), Value::String(v.into())))
            .collect();
        self.payload(Value::Object(map))
    }

    /// Pins the API version of this operation.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.options = Some(self.options.unwrap_or_default().api_version(version));
        self
    }
}

impl Serialize for BatchOperation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = match (&self.payload, &self.options) {
            (_, Some(_)) => 5,
            (Some(_), None) => 4,
            (None, None) => 3,
        };
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(&self.seq)?;
        seq.serialize_element(&self.method)?;
        seq.serialize_element(&self.path)?;
        if len > 3 {
            seq.serialize_element(&self.payload)?;
        }
        if let Some(options) = &self.options {
            seq.serialize_element(options)?;
        }
        seq.end()
    }
}

/// Reads the next required tuple element, failing with `invalid_length` when absent.
fn required<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    index: usize,
    expected: &dyn de::Expected,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::invalid_length(index, expected))
}

/// Skips tuple elements this crate does not know.
fn drain<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for BatchOperation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OpVisitor;

        impl<'de> Visitor<'de> for OpVisitor {
            type Value = BatchOperation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array [seq, method, path, payload?, options?]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchOperation, A::Error> {
                let mut op = BatchOperation::new(
                    required(&mut seq, 0, &self)?,
                    required(&mut seq, 1, &self)?,
                    required::<_, String>(&mut seq, 2, &self)?,
                );
                op.payload = seq.next_element::<Option<Value>>()?.flatten();
                op.options = seq.next_element::<Option<BatchOptions>>()?.flatten();
                drain(&mut seq)?;
                Ok(op)
            }
        }

        d.deserialize_seq(OpVisitor)
    }
}

/// One result of a batch: `[seq, status, body]`, matched to its operation by `seq` (results
/// may come in any order).
///
/// `body` is kept as sent: TalkJS documents it as a string holding JSON text, but it may
/// also be a JSON value; [`BatchResult::body_json`] handles both. Judge success by
/// [`status`](Self::status) only.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BatchResult {
    /// The sequence number of the operation.
    pub seq: u32,
    /// The operation's HTTP status.
    pub status: u16,
    /// The operation's response body, raw (`null` if absent).
    pub body: Value,
}

impl BatchResult {
    /// A result (for servers and tests).
    pub fn new(seq: u32, status: u16, body: Value) -> Self {
        Self { seq, status, body }
    }

    /// `true` for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON: a string body is parsed as JSON text (an empty string gives
    /// `null`); any other body is returned as is.
    pub fn body_json(&self) -> Result<Value, serde_json::Error> {
        self.body_as()
    }

    /// The body decoded into `T` (via [`BatchResult::body_json`]).
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match &self.body {
            Value::String(text) if text.trim().is_empty() => T::deserialize(Value::Null),
            Value::String(text) => serde_json::from_str(text),
            other => T::deserialize(other),
        }
    }
}

impl Serialize for BatchResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.seq, self.status, &self.body).serialize(s)
    }
}

impl<'de> Deserialize<'de> for BatchResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ResultVisitor;

        impl<'de> Visitor<'de> for ResultVisitor {
            type Value = BatchResult;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array [seq, status, body]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchResult, A::Error> {
                let seq_no = required(&mut seq, 0, &self)?;
                let status = required(&mut seq, 1, &self)?;
                let body = seq.next_element()?.unwrap_or(Value::Null);
                drain(&mut seq)?;
                Ok(BatchResult::new(seq_no, status, body))
            }
        }

        d.deserialize_seq(ResultVisitor)
    }
}

/// The response of `POST /batch`: the results, in the order the server sent them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[non_exhaustive]
pub struct BatchResponse {
    /// The results (not necessarily in request order).
    pub results: Vec<BatchResult>,
}

impl BatchResponse {
    /// Wraps results (for servers and tests).
    pub fn new(results: Vec<BatchResult>) -> Self {
        Self { results }
    }

    /// The result of operation `seq`, if the server returned one.
    pub fn get(&self, seq: u32) -> Option<&BatchResult> {
        self.results.iter().find(|r| r.seq == seq)
    }

    /// `true` if every result has a 2xx status.
    pub fn all_succeeded(&self) -> bool {
        self.results.iter().all(BatchResult::is_success)
    }

    /// Iterates over the results in the order the server sent them.
    pub fn iter(&self) -> std::slice::Iter<'_, BatchResult> {
        self.results.iter()
    }
}

impl From<Vec<BatchResult>> for BatchResponse {
    fn from(results: Vec<BatchResult>) -> Self {
        Self { results }
    }
}

impl IntoIterator for BatchResponse {
    type Item = BatchResult;
    type IntoIter = std::vec::IntoIter<BatchResult>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.into_iter()
    }
}

impl<'a> IntoIterator for &'a BatchResponse {
    type Item = &'a BatchResult;
    type IntoIter = std::slice::Iter<'a, BatchResult>;

    fn into_iter(self) -> Self::IntoIter {
        self.results.iter()
    }
}
