//! Signed deliveries for tests: [`SignedDelivery`].

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;
use talkjs_auth::{SecretKey, WebhookVerifier};
use talkjs_models::WebhookEvent;

/// `x-talkjs-timestamp`, as an `http` header name.
const TIMESTAMP: HeaderName = HeaderName::from_static("x-talkjs-timestamp");
/// `x-talkjs-signature`, as an `http` header name.
const SIGNATURE: HeaderName = HeaderName::from_static("x-talkjs-signature");

/// A webhook delivery signed the way TalkJS signs it, for testing your endpoint: the body,
/// the `X-TalkJS-Timestamp` and `X-TalkJS-Signature` headers, and `Content-Type`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::Uri;
/// use talkjs_webhooks::models::WebhookEventType;
/// use talkjs_webhooks::{SecretKey, SignedDelivery, WebhookEvent};
///
/// let secret = SecretKey::new("sk_test_webhook");
/// let mut event = WebhookEvent::new(WebhookEventType::UserCreated, serde_json::json!({"user": {"id": "alice"}}));
/// event.id = Some("evt_1".into());
///
/// // Signed now; send it through your router, e.g. with tower's `ServiceExt::oneshot`.
/// let request = SignedDelivery::new(&secret, &event).to_request(Uri::from_static("/talkjs"));
/// assert_eq!(request.method(), "POST");
///
/// // Signed ten minutes ago: a receiver with the default tolerance refuses it.
/// let stale = SignedDelivery::new(&secret, &event)
///     .at(SystemTime::now() - Duration::from_secs(600));
/// assert!(stale.headers().contains_key("X-TalkJS-Signature"));
/// ```
///
/// `Debug` never shows the secret key.
#[derive(Debug, Clone)]
pub struct SignedDelivery {
    verifier: WebhookVerifier,
    timestamp: String,
    body: Bytes,
}

impl SignedDelivery {
    /// `event` as TalkJS would deliver it now, signed with `secret`.
    pub fn new(secret: &SecretKey, event: &WebhookEvent) -> Self {
        // An event is strings, numbers and JSON values with string keys, which always
        // encode: the empty body is an unreachable fallback.
        let body = serde_json::to_vec(event).unwrap_or_default();
        Self::from_body(secret, body)
    }

    /// Any body, byte for byte (e.g. not JSON, or not an event), signed now with `secret`.
    pub fn from_body(secret: &SecretKey, body: impl Into<Bytes>) -> Self {
        Self {
            verifier: WebhookVerifier::new(secret.clone()).without_timestamp_check(),
            timestamp: String::new(),
            body: body.into(),
        }
        .at(SystemTime::now())
    }

    /// The same delivery sent at `time` instead (timestamp and signature change; a time
    /// before 1970 counts as 1970).
    #[must_use]
    pub fn at(mut self, time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        self.timestamp = millis.to_string();
        self
    }

    /// The `X-TalkJS-Timestamp` value: milliseconds since the Unix epoch.
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The `X-TalkJS-Signature` value: upper-case hex HMAC-SHA256 of `<timestamp>.<body>`.
    pub fn signature(&self) -> String {
        self.verifier.sign(&self.timestamp, &self.body)
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The headers TalkJS sends: timestamp, signature and `Content-Type: application/json`.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Digits and hex digits: always valid header values.
        if let Ok(value) = HeaderValue::from_str(&self.timestamp) {
            headers.insert(TIMESTAMP, value);
        }
        if let Ok(value) = HeaderValue::from_str(&self.signature()) {
            headers.insert(SIGNATURE, value);
        }
        headers
    }

    /// The delivery as a `POST` to `uri`.
    pub fn to_request(&self, uri: Uri) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers();
        request
    }
}
