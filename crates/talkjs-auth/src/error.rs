//! Errors of token minting ([`Error`]) and webhook verification ([`WebhookError`]).
//!
//! No error, `Display` or `Debug` output ever contains a secret key or a token.

use std::sync::Arc;
use std::time::Duration;

/// Why a token (or a bearer value) could not be produced.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// [`TokenSigner::user_token`](crate::TokenSigner::user_token) was called with an empty user id.
    #[error("the user id is empty: pass the id of the TalkJS user the token is for")]
    EmptyUserId,

    /// The secret key is empty, so TalkJS would reject every request with 401.
    #[error(
        "the TalkJS secret key is empty: copy the secret key from the TalkJS dashboard \
         (Settings) into your configuration"
    )]
    EmptySecretKey,

    /// The token lifetime is zero or so large that the expiry time overflows.
    #[error(
        "the token lifetime {ttl:?} is invalid: use a lifetime of at least one second \
         (TalkJS recommends short-lived app tokens, e.g. 30 seconds)"
    )]
    InvalidTtl {
        /// The lifetime that was asked for.
        ttl: Duration,
    },

    /// The system clock reads a time before 1970, so `iat`/`exp` cannot be computed.
    #[error("the system clock is set before 1970: fix the clock (e.g. enable NTP) and retry")]
    ClockBeforeEpoch,

    /// The JWT library failed to encode the token. This should not happen with HS256 and is
    /// most likely a bug.
    #[error("could not encode the token ({source}); please report this as a talkjs-auth bug")]
    Encoding {
        /// The JWT library's error (it never contains the key or the token).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Wraps a JWT library error without exposing its type in the public API.
    pub(crate) fn encoding(err: jsonwebtoken::errors::Error) -> Self {
        Self::Encoding {
            source: Arc::new(err),
        }
    }
}

/// Why a webhook delivery was rejected by [`WebhookVerifier`](crate::WebhookVerifier).
///
/// Answer a rejected delivery with a 4xx status (e.g. 401 for [`BadSignature`](Self::BadSignature))
/// and do not process it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The verifier was built with an empty secret key. An HMAC keyed with the empty string
    /// can be computed by anyone, so no delivery is accepted: every one could be forged.
    #[error(
        "the webhook secret key is empty, so every signature could be forged and no delivery \
         is accepted: configure the secret key marked for webhooks in the TalkJS dashboard"
    )]
    EmptySecretKey,

    /// A required header is missing or empty.
    #[error(
        "the {name} header is missing or empty: pass the header from the incoming request \
         (header names are case-insensitive)"
    )]
    MissingHeader {
        /// The header's name, e.g. [`SIGNATURE_HEADER`](crate::SIGNATURE_HEADER).
        name: &'static str,
    },

    /// The timestamp header is not a whole number of milliseconds (or seconds) since the epoch.
    #[error(
        "the X-TalkJS-Timestamp header is not a Unix timestamp: pass the header value unchanged \
         (TalkJS sends milliseconds since 1970)"
    )]
    BadTimestamp,

    /// The delivery is older than the verifier's tolerance: possibly a replay.
    #[error(
        "the webhook timestamp is {} old, more than the allowed {}: reject it as a possible \
         replay (if your clock is wrong, fix it or raise the tolerance)",
        readable(*age),
        readable(*tolerance)
    )]
    Expired {
        /// How old the delivery is.
        age: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },

    /// The delivery's timestamp lies further in the future than the verifier's tolerance.
    #[error(
        "the webhook timestamp is {} in the future, more than the allowed {}: check this \
         server's clock (e.g. enable NTP)",
        readable(*ahead),
        readable(*tolerance)
    )]
    FromFuture {
        /// How far in the future the timestamp is.
        ahead: Duration,
        /// The verifier's tolerance.
        tolerance: Duration,
    },

    /// The signature header does not match the body: the request did not come from TalkJS,
    /// was altered, or the verifier uses the wrong secret key.
    #[error(
        "the webhook signature does not match: reject the request; if every delivery fails, \
         check that the verifier uses the secret key marked for webhooks in the TalkJS \
         dashboard and the exact raw request body"
    )]
    BadSignature,

    /// The signature is valid but the body is not a webhook event envelope.
    #[error(
        "the webhook body is signed but is not a TalkJS event ({0}): answer 200 so TalkJS does \
         not retry, and log the body for investigation"
    )]
    InvalidBody(#[source] serde_json::Error),
}

/// A duration as a person reads it, to the two largest units: `2 days 3 h`, `26 h 49 min`,
/// `5 min`, `4 min 30 s`, `12 s`, `1.5 s`, `250 ms`.
fn readable(duration: Duration) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    /// `"{big} {big_unit}"`, then `" {small} {small_unit}"` unless `small` is 0.
    fn two(big: u64, big_unit: &str, small: u64, small_unit: &str) -> String {
        if small == 0 {
            format!("{big} {big_unit}")
        } else {
            format!("{big} {big_unit} {small} {small_unit}")
        }
    }
    let secs = duration.as_secs();
    if secs >= 2 * DAY {
        two(secs / DAY, "days", secs % DAY / HOUR, "h")
    } else if secs >= HOUR {
        two(secs / HOUR, "h", secs % HOUR / MINUTE, "min")
    } else if secs >= MINUTE {
        two(secs / MINUTE, "min", secs % MINUTE, "s")
    } else if secs >= 10 {
        format!("{secs} s")
    } else if secs >= 1 {
        match duration.subsec_millis() / 100 {
            0 => format!("{secs} s"),
            tenths => format!("{secs}.{tenths} s"),
        }
    } else {
        format!("{} ms", duration.as_millis())
    }
}
