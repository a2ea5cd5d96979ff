//! Why a delivery was not handed to the handler: [`WebhookRejection`].

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use talkjs_auth::WebhookError;

use crate::dedupe::{BoxError, DedupeError};

/// Why a delivery did not reach the handler, with the HTTP status it is answered with
/// ([`status`](Self::status)).
///
/// The status tells TalkJS what to do: a 2xx ends the delivery, anything else makes TalkJS
/// try once more.
///
/// | variant | status | TalkJS |
/// |---|---|---|
/// | [`Unauthorized`](Self::Unauthorized) | 401 | retries once, refused again |
/// | [`InvalidBody`](Self::InvalidBody), [`UnreadableBody`](Self::UnreadableBody) | 400 | retries once |
/// | [`TooLarge`](Self::TooLarge) | 413 | retries once |
/// | [`Duplicate`](Self::Duplicate) | **200** | done: the first delivery was handled |
/// | [`Store`](Self::Store) | 500 | retries once; the event is handled once, by this delivery or the retry |
/// | [`Misconfigured`](Self::Misconfigured) | 500 | retries once |
///
/// `Display` says what was wrong and never contains the secret key; the response body is
/// only a short phrase, so a caller probing the endpoint learns nothing more than the
/// status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The signature or timestamp header is missing, the signature does not match the body
    /// (wrong key, or the body was changed on the way, even re-encoded), or the timestamp is
    /// outside the tolerance (stale or from the future). 401.
    #[error("refused a webhook delivery as not authentic or not fresh: {0}")]
    Unauthorized(#[source] WebhookError),

    /// The delivery is authentic but its body is not JSON, or not a TalkJS event envelope
    /// (`type` missing, ...). 400: the one retry TalkJS then sends is refused the same way,
    /// and the failure shows in TalkJS's delivery log instead of passing for a success.
    /// (Unknown event types are not this: they decode, as
    /// [`WebhookData::Other`](talkjs_models::WebhookData::Other).)
    #[error("refused a signed webhook delivery whose body is not a TalkJS event: {0}")]
    InvalidBody(#[source] WebhookError),

    /// The body could not be read (the connection failed while it was sent). 400.
    #[error("could not read the body of a webhook delivery: {0}")]
    UnreadableBody(#[source] BoxError),

    /// The body is larger than the configured maximum. 413.
    #[error(
        "refused a webhook delivery whose body is larger than the limit of {limit} bytes \
         (raise it with WebhookConfig::with_max_body if TalkJS sends such events)"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },

    /// The event's id was seen before within the dedupe time to live: TalkJS sent it again
    /// (a retry), or someone replayed it. Answered **200**, so TalkJS stops; the handler does
    /// not run again.
    #[error("webhook event {id} was already received: not handled again")]
    Duplicate {
        /// The event's id.
        id: String,
    },

    /// The dedupe store failed, so whether this delivery's claim on the event was recorded
    /// is unknown. 500: TalkJS sends it once more. The handler has not run yet:
    /// [`WebhookService`](crate::WebhookService) asks the store again with the same claim
    /// and runs it if the claim holds (the retry is then a duplicate);
    /// [`WebhookConfig::receive`](crate::WebhookConfig::receive) withdraws the claim so that
    /// the retry can take it (see the [crate docs](crate#the-handler-model)).
    #[error("could not check a webhook event against the dedupe store: {0}")]
    Store(#[source] DedupeError),

    /// The receiver cannot verify anything: its secret key is empty
    /// ([`WebhookError::EmptySecretKey`]). 500.
    #[error("cannot verify webhook deliveries: {0}")]
    Misconfigured(#[source] WebhookError),
}

impl WebhookRejection {
    /// Sorts a verifier error into 401, 400 or 500.
    pub(crate) fn from_verify(error: WebhookError) -> Self {
        match error {
            WebhookError::InvalidBody(_) => Self::InvalidBody(error),
            WebhookError::EmptySecretKey => Self::Misconfigured(error),
            _ => Self::Unauthorized(error),
        }
    }

    /// The status this rejection is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidBody(_) | Self::UnreadableBody(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Duplicate { .. } => StatusCode::OK,
            Self::Store(_) | Self::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer to send: [`status`](Self::status) and a short `text/plain` phrase.
    pub fn to_response(&self) -> Response<Full<Bytes>> {
        let text = match self {
            Self::Unauthorized(_) => "invalid signature or timestamp",
            Self::InvalidBody(_) => "not a TalkJS event",
            Self::UnreadableBody(_) => "unreadable body",
            Self::TooLarge { .. } => "body too large",
            Self::Duplicate { .. } => "duplicate",
            Self::Store(_) => "dedupe store unavailable",
            Self::Misconfigured(_) => "webhook receiver misconfigured",
        };
        text_response(self.status(), text)
    }

    /// Logs the rejection: a warning for refusals, an error for the receiver's own failures,
    /// a debug line for a duplicate. Never the secret (no error here contains it).
    pub(crate) fn log(&self) {
        let status = self.status().as_u16();
        match self {
            Self::Duplicate { id } => {
                tracing::debug!(event_id = %id, "talkjs-webhooks: duplicate delivery, answered 200 and not handled again");
            }
            Self::Store(_) | Self::Misconfigured(_) => {
                tracing::error!(status, error = %self, "talkjs-webhooks: could not accept a webhook delivery");
            }
            _ => {
                tracing::warn!(status, error = %self, "talkjs-webhooks: refused a webhook delivery");
            }
        }
    }
}

/// A `text/plain` response.
pub(crate) fn text_response(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
