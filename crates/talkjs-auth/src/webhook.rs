//! Verifying TalkJS webhook deliveries.
//!
//! TalkJS signs each delivery with HMAC-SHA256 (key: the secret key marked for webhooks in the
//! dashboard; message: the [`TIMESTAMP_HEADER`] value, a `.`, then the raw body bytes) and
//! sends the upper-case hex digest in [`SIGNATURE_HEADER`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::hmac;
use talkjs_models::WebhookEvent;

use crate::{SecretKey, WebhookError, hex};

/// The header carrying the signature (HTTP header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "X-TalkJS-Signature";

/// The header carrying the delivery's timestamp, in milliseconds since the Unix epoch.
pub const TIMESTAMP_HEADER: &str = "X-TalkJS-Timestamp";

/// The default maximum age (and future skew) of a delivery: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Timestamps below this are read as seconds, from this on as milliseconds.
///
/// 10^11 seconds is the year 5138; 10^11 milliseconds is March 1973, before TalkJS existed.
const SECONDS_LIMIT: u64 = 100_000_000_000;

/// Checks that webhook deliveries come from TalkJS, are fresh, and decodes them.
///
/// `verify` checks, in order: the verifier's secret key is not empty (an HMAC with an empty
/// key can be forged by anyone, so an empty key rejects every delivery with
/// [`WebhookError::EmptySecretKey`]), both headers are present, the timestamp is a number, the
/// signature matches (constant-time, hex in either case), the timestamp is within the
/// tolerance of the current time (both in the past and the future), and finally parses the
/// body into a [`WebhookEvent`].
///
/// The timestamp is read as milliseconds since the Unix epoch, which is what TalkJS sends. A
/// number below 10^11 cannot be a plausible millisecond timestamp (it would be before March
/// 1973), so it is read as seconds instead.
///
/// Cloning is cheap; `Debug` never shows the key.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: hmac::Key,
    /// An empty key makes every signature forgeable: `verify*` refuse all deliveries.
    key_is_empty: bool,
    tolerance: Option<Duration>,
}

impl WebhookVerifier {
    /// A verifier for deliveries signed with `secret` (the secret key marked "use for
    /// webhooks" in the TalkJS dashboard), with the default tolerance of 5 minutes.
    ///
    /// An empty `secret` is not rejected here (so a missing setting does not stop a service
    /// from starting), but such a verifier accepts no delivery: every `verify*` call fails with
    /// [`WebhookError::EmptySecretKey`]. Check [`SecretKey::is_empty`] at startup to fail
    /// earlier.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking ownership is the documented API"
    )]
    pub fn new(secret: SecretKey) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
            key_is_empty: secret.is_empty(),
            tolerance: Some(DEFAULT_TOLERANCE),
        }
    }

    /// Sets how far the delivery's timestamp may be from the current time, in either direction.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    /// Disables the age check: any timestamp is accepted as long as it is a number and the
    /// signature matches. This allows replays; only use it for tests or stored deliveries.
    #[must_use]
    pub fn without_timestamp_check(mut self) -> Self {
        self.tolerance = None;
        self
    }

    /// The tolerance, or `None` if the age check is disabled.
    pub fn tolerance(&self) -> Option<Duration> {
        self.tolerance
    }

    /// The signature TalkJS would send for `body` at `timestamp` (the exact header value):
    /// upper-case hex of HMAC-SHA256(`<timestamp>.<body>`).
    ///
    /// Useful for fake servers and tests that deliver webhooks.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(body);
        hex::encode_upper(ctx.sign().as_ref())
    }

    /// Verifies a delivery against the current time and decodes it.
    ///
    /// `body` must be the raw request body, byte for byte; the headers are the values of
    /// [`TIMESTAMP_HEADER`] and [`SIGNATURE_HEADER`] (an empty value counts as missing).
    pub fn verify(
        &self,
        body: &[u8],
        timestamp_header: &str,
        signature_header: &str,
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_at(body, timestamp_header, signature_header, SystemTime::now())
    }

    /// Like [`verify`](Self::verify), with `now` as the current time.
    pub fn verify_at(
        &self,
        body: &[u8],
        timestamp_header: &str,
        signature_header: &str,
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookError> {
        self.verify_signature_at(body, timestamp_header, signature_header, now)?;
        serde_json::from_slice(body).map_err(WebhookError::InvalidBody)
    }

    /// Verifies a delivery, reading the headers through `header`, which is called with
    /// [`TIMESTAMP_HEADER`] and [`SIGNATURE_HEADER`] and should look them up
    /// case-insensitively (as `http::HeaderMap::get` does).
    ///
    /// ```
    /// # use std::collections::HashMap;
    /// # use talkjs_auth::{SecretKey, WebhookError, WebhookVerifier};
    /// let verifier = WebhookVerifier::new(SecretKey::new("sk_test_example"));
    /// let headers: HashMap<String, String> = HashMap::new(); // from your HTTP framework
    /// let result = verifier.verify_headers(b"{}", |name| headers.get(&name.to_ascii_lowercase()));
    /// assert!(matches!(result, Err(WebhookError::MissingHeader { .. })));
    /// ```
    pub fn verify_headers<F, S>(
        &self,
        body: &[u8],
        mut header: F,
    ) -> Result<WebhookEvent, WebhookError>
    where
        F: FnMut(&'static str) -> Option<S>,
        S: AsRef<str>,
    {
        let timestamp = header(TIMESTAMP_HEADER).ok_or(WebhookError::MissingHeader {
            name: TIMESTAMP_HEADER,
        })?;
        let signature = header(SIGNATURE_HEADER).ok_or(WebhookError::MissingHeader {
            name: SIGNATURE_HEADER,
        })?;
        self.verify(body, timestamp.as_ref(), signature.as_ref())
    }

    /// Checks the headers and signature of a delivery (everything [`verify`](Self::verify)
    /// checks) without decoding the body, for callers that decode it into their own types.
    pub fn verify_signature(
        &self,
        body: &[u8],
        timestamp_header: &str,
        signature_header: &str,
    ) -> Result<(), WebhookError> {
        self.verify_signature_at(body, timestamp_header, signature_header, SystemTime::now())
    }

    /// Like [`verify_signature`](Self::verify_signature), with `now` as the current time.
    pub fn verify_signature_at(
        &self,
        body: &[u8],
        timestamp_header: &str,
        signature_header: &str,
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        if self.key_is_empty {
            return Err(WebhookError::EmptySecretKey);
        }
        let timestamp = timestamp_header.trim();
        if timestamp.is_empty() {
            return Err(WebhookError::MissingHeader {
                name: TIMESTAMP_HEADER,
            });
        }
        let signature = signature_header.trim();
        if signature.is_empty() {
            return Err(WebhookError::MissingHeader {
                name: SIGNATURE_HEADER,
            });
        }
        let sent_ms = parse_timestamp_ms(timestamp).ok_or(WebhookError::BadTimestamp)?;

        let tag = hex::decode_array::<32>(signature).ok_or(WebhookError::BadSignature)?;
        let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.push(b'.');
        message.extend_from_slice(body);
        hmac::verify(&self.key, &message, &tag).map_err(|_| WebhookError::BadSignature)?;

        if let Some(tolerance) = self.tolerance {
            check_age(sent_ms, now, tolerance)?;
        }
        Ok(())
    }
}

/// Reads a timestamp header as milliseconds since the epoch (seconds if below 10^11).
fn parse_timestamp_ms(value: &str) -> Option<u64> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = value.parse().ok()?;
    if n < SECONDS_LIMIT {
        n.checked_mul(1000)
    } else {
        Some(n)
    }
}

/// Rejects a delivery sent more than `tolerance` before or after `now`.
fn check_age(sent_ms: u64, now: SystemTime, tolerance: Duration) -> Result<(), WebhookError> {
    let sent = UNIX_EPOCH
        .checked_add(Duration::from_millis(sent_ms))
        .ok_or(WebhookError::BadTimestamp)?;
    match now.duration_since(sent) {
        Ok(age) if age > tolerance => Err(WebhookError::Expired { age, tolerance }),
        Ok(_) => Ok(()),
        Err(future) => {
            let ahead = future.duration();
            if ahead > tolerance {
                Err(WebhookError::FromFuture { ahead, tolerance })
            } else {
                Ok(())
            }
        }
    }
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "the key is printed redacted"
)]
impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secret_key", &"***")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp_ms;

    #[test]
    fn timestamps_in_seconds_and_milliseconds() {
        assert_eq!(parse_timestamp_ms("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp_ms("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp_ms("99999999999"), Some(99_999_999_999_000));
        assert_eq!(parse_timestamp_ms("100000000000"), Some(100_000_000_000));
        assert_eq!(parse_timestamp_ms("+1700000000"), None);
        assert_eq!(parse_timestamp_ms("-1"), None);
        assert_eq!(parse_timestamp_ms("1.5"), None);
        assert_eq!(parse_timestamp_ms("abc"), None);
        assert_eq!(parse_timestamp_ms("99999999999999999999999"), None);
    }
}
