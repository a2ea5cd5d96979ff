//! The one error type of the resource API.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use talkjs_models::MessageId;
use talkjs_transport::{BoxError, BuildError, TimeoutKind, TransportError};

/// Everything a call can fail with. Each variant's message says what to do next.
///
/// Success is judged by the HTTP status only (as TalkJS documents); an error status keeps the
/// server's body as text, because **no official TalkJS doc gives the shape of error bodies**
/// (peer SDKs read `{"reasons": …}`): read [`Error::body`] rather than relying on one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 404: the user, conversation or message does not exist (or the path is wrong).
    #[error("not found (404): {}; check the id, or create the resource first", preview(body.as_bytes()))]
    NotFound {
        /// The server's response body.
        body: String,
    },
    /// 400: TalkJS rejected the arguments or the payload.
    #[error("bad request (400): {}; fix the request (see the reasons in the body)", preview(body.as_bytes()))]
    BadRequest {
        /// The server's response body, which says what is wrong.
        body: String,
    },
    /// 401: the app id or the secret key is wrong, or the token expired.
    #[error(
        "unauthorized (401): check the app id and the secret key (and the clock, for token expiry)"
    )]
    Unauthorized {
        /// The server's response body.
        body: String,
    },
    /// 429: TalkJS rate-limited the call and the retries did not get through. `retry_after` is
    /// read from a `Retry-After` header, which **no official TalkJS doc promises**; without
    /// one it is `None`.
    #[error("rate limited (429) by TalkJS{}; slow down or raise the retry limits", match retry_after { Some(d) => format!(", retry after {d:?}"), None => String::new() })]
    RateLimited {
        /// How long the server asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// 5xx: a TalkJS-side problem that persisted through the retries.
    #[error("TalkJS server error ({status}); retry later")]
    Server {
        /// The status.
        status: StatusCode,
        /// The server's response body.
        body: String,
    },
    /// Another non-success status (e.g. 403, 409, 413).
    #[error(
        "unexpected status {status} from TalkJS: {}; check the request against the TalkJS REST docs (for 403: whether the app's plan or settings allow it)",
        preview(body.as_bytes())
    )]
    Status {
        /// The status.
        status: StatusCode,
        /// The server's response body.
        body: String,
    },
    /// The call timed out (one attempt, or the whole call with its retries).
    #[error("timed out after {after:?} ({kind:?}); raise the timeout or retry later")]
    Timeout {
        /// Which limit ran out.
        kind: TimeoutKind,
        /// The limit.
        after: Duration,
    },
    /// The client-side rate limiter would have waited longer than the configured maximum.
    #[error(
        "rate limited locally: the next slot is {wait:?} away; retry later or raise the maximum wait"
    )]
    LocalRateLimit {
        /// How long the call would have had to wait.
        wait: Duration,
    },
    /// The request could not be sent or the response could not be read (connection refused,
    /// reset, TLS, ...).
    #[error("transport error: {}", transport_message(.0))]
    Transport(#[source] BoxError),
    /// A success response whose body is not the expected JSON.
    #[error(
        "could not decode the response: {source}; body: {}; the answer does not have the documented shape: check the base URL, or pin the API version the client was written for (api_version)",
        preview(body)
    )]
    Decode {
        /// The serde error.
        #[source]
        source: serde_json::Error,
        /// The raw body.
        body: Bytes,
    },
    /// An argument was rejected before any request was sent (empty id, limit out of range,
    /// too many items, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A paginated list stopped following cursors because they do not advance: the server
    /// answered a page ending at a cursor already used (typically it ignores `startingAfter`,
    /// e.g. a proxy drops the query string), so following it would loop forever. A page
    /// repeated at once is caught before its items are yielded again; a longer cycle of
    /// pages is caught within about twice its length, so some of its items may have been
    /// yielded twice before this error.
    #[error("pagination does not advance: {0}")]
    Pagination(String),
    /// A call that sends its items in several requests (chunks) failed after the server had
    /// accepted some of them: [`Messages::send_all`](crate::Messages::send_all),
    /// [`Messages::import`](crate::Messages::import),
    /// [`Users::upsert_all`](crate::Users::upsert_all). The first `completed` items were
    /// applied, the rest were not sent (or were rejected as a whole, chunks being
    /// all-or-nothing); resume with the items from index `completed` on. This matters most for
    /// an import, which TalkJS does not de-duplicate: running it again from the start
    /// duplicates the messages already imported.
    ///
    /// Only a failure after at least one accepted chunk is wrapped: when the first chunk fails
    /// the plain error is returned. [`status`](Self::status) and
    /// [`is_transient`](Self::is_transient) answer for `source`.
    #[error(
        "{completed} items were applied before a later request failed: {source}; resume from item {completed} (sending the items before it again would repeat them)"
    )]
    Incomplete {
        /// How many items (from the start, in order) the server accepted before the failing
        /// chunk.
        completed: usize,
        /// The ids of the messages created so far, in order (filled by `send_all` only, empty
        /// otherwise).
        message_ids: Vec<MessageId>,
        /// Why the failing chunk failed.
        #[source]
        source: Box<Error>,
    },
    /// The checkpoint of an events stream ([`Client::events`](crate::Client::events)) could
    /// not be loaded or saved (a file that cannot be read, written or decoded).
    #[error("the events checkpoint could not be loaded or saved: {0}")]
    Checkpoint(#[source] std::io::Error),
    /// The client could not be configured: the builder's or the environment's settings are
    /// missing or invalid. Nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(#[from] BuildError),
}

impl Error {
    /// The HTTP status, for errors that came with one.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// match client.users().get("alice").await {
    ///     Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => println!("no such user"),
    ///     other => { other?; }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::NotFound { .. } => Some(StatusCode::NOT_FOUND),
            Self::BadRequest { .. } => Some(StatusCode::BAD_REQUEST),
            Self::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            Self::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            Self::Server { status, .. } | Self::Status { status, .. } => Some(*status),
            Self::Incomplete { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether the same call may succeed if tried again later: a 429 (from TalkJS, or the
    /// client's own rate limiter refusing to wait that long), a 5xx, a timeout, or a
    /// connection error (refused, reset, closed, failed while reading the answer).
    ///
    /// Not transient: every other status (400, 401, 404, ...), an answer that does not decode,
    /// a body over the size limit, a request refused before it was sent (signing failed, an
    /// absolute URI of another origin), a failed rate-limit store, an invalid argument or
    /// configuration: trying again unchanged gets the same error.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// if let Err(e) = client.users().get("alice").await {
    ///     if e.is_transient() {
    ///         // 429, 5xx, a timeout or a network error: try again later.
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// For [`Error::Incomplete`] this answers for the failing chunk: resume from its
    /// `completed` item rather than repeating the whole call.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. }
            | Self::Server { .. }
            | Self::Timeout { .. }
            | Self::LocalRateLimit { .. } => true,
            Self::Transport(error) => is_connection_error(error.as_ref()),
            Self::Incomplete { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// Whether the request may have been applied although the call failed: its outcome is
    /// **unknown**, not refused. Sending a non-idempotent write (an import, a message send
    /// without idempotency keys) again after such an error may apply it twice: check first
    /// (list the conversation), or send only what carries an idempotency key.
    ///
    /// True for:
    /// - a 5xx ([`Error::Server`], or any other status that is not a 4xx): the server may
    ///   have failed after doing the work, or a gateway may have given up while TalkJS went on;
    /// - a [timeout](Error::Timeout): the answer may simply be late;
    /// - a connection that failed after the request may have been written (reset, closed, an
    ///   error while reading the answer), and any transport error this crate cannot place
    ///   (e.g. from a custom inner service without an I/O error that says the connection was
    ///   refused): when unsure, it may have landed;
    /// - a success answer that does not decode ([`Error::Decode`]), or a body over the size
    ///   limit: the server answered, so for a write the work **was** most likely done (unless
    ///   something other than TalkJS answered at the base URL);
    /// - [`Error::Incomplete`]: answers for the failing request (its `source`); the first
    ///   `completed` items landed for sure.
    ///
    /// False when the request was refused or never sent: a 4xx answer (400, 401, 403, 404,
    /// 409, and 429, which TalkJS answers before processing), the client's own rate limiter
    /// refusing to wait ([`Error::LocalRateLimit`]), a connection that could not be opened
    /// (refused, DNS, TLS handshake: nothing was sent), a request refused before sending
    /// (signing, another origin, a failed rate-limit store), an invalid argument or
    /// configuration, a list whose pagination does not advance, a checkpoint error.
    ///
    /// The transport retries idempotent requests (upserts, sends whose messages all carry an
    /// idempotency key) after a 5xx or a reset, so for them this answers for the last
    /// attempt only; that does not matter, since sending them again is safe. A
    /// non-idempotent request is retried only after an outcome that left nothing behind (a
    /// 429, a refused connection), so for it the answer covers the whole call.
    ///
    /// [`Error::is_transient`] is a different question (may trying again help?): a 5xx is
    /// both transient and may have landed; a 429 is transient and did not land.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{ImportMessage, Timestamp};
    ///
    /// let old = ImportMessage::new("alice", "Hello from 2019", Timestamp::from_millis(1_550_000_000_000));
    /// match client.conversations().messages("order_123").import([old]).await {
    ///     Ok(_) => {}
    ///     Err(e) if e.may_have_landed() => {
    ///         // The import may be stored: importing it again could duplicate it. List the
    ///         // conversation and import it only if it is missing.
    ///         eprintln!("outcome unknown, check before importing again: {e}");
    ///     }
    ///     Err(e) if e.is_transient() => eprintln!("not imported, try again later: {e}"),
    ///     Err(e) => eprintln!("refused, fix it first: {e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn may_have_landed(&self) -> bool {
        match self {
            Self::Server { .. } | Self::Timeout { .. } | Self::Decode { .. } => true,
            Self::Status { status, .. } => !status.is_client_error(),
            Self::Transport(error) => transport_may_have_landed(error.as_ref()),
            Self::Incomplete { source, .. } => source.may_have_landed(),
            Self::NotFound { .. }
            | Self::BadRequest { .. }
            | Self::Unauthorized { .. }
            | Self::RateLimited { .. }
            | Self::LocalRateLimit { .. }
            | Self::InvalidArgument(_)
            | Self::Pagination(_)
            | Self::Checkpoint(_)
            | Self::Config(_) => false,
        }
    }

    /// The server's whole response body, for errors that came with one (the message shows
    /// at most its first 512 bytes).
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// if let Err(e) = client.users().get("alice").await {
    ///     eprintln!("{e}; TalkJS said: {}", e.body().unwrap_or("(nothing)"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn body(&self) -> Option<&str> {
        match self {
            Self::NotFound { body }
            | Self::BadRequest { body }
            | Self::Unauthorized { body }
            | Self::Server { body, .. }
            | Self::Status { body, .. } => Some(body),
            Self::Decode { body, .. } => std::str::from_utf8(body).ok(),
            Self::Incomplete { source, .. } => source.body(),
            _ => None,
        }
    }

    /// Wraps `self` in [`Error::Incomplete`] when some items were already applied
    /// (`completed > 0`); the plain error otherwise.
    pub(crate) fn incomplete(self, completed: usize, message_ids: Vec<MessageId>) -> Self {
        if completed == 0 {
            self
        } else {
            Self::Incomplete {
                completed,
                message_ids,
                source: Box::new(self),
            }
        }
    }

    /// Maps an error of the transport stack.
    pub(crate) fn from_transport(error: BoxError) -> Self {
        match TransportError::find(&*error) {
            Some(TransportError::Timeout { kind, after }) => Self::Timeout {
                kind: *kind,
                after: *after,
            },
            Some(TransportError::LocalRateLimit { wait, .. }) => {
                Self::LocalRateLimit { wait: *wait }
            }
            _ => Self::Transport(error),
        }
    }

    /// Maps a non-success response.
    pub(crate) fn from_status(status: StatusCode, headers: &http::HeaderMap, body: &Bytes) -> Self {
        let text = String::from_utf8_lossy(body).into_owned();
        match status.as_u16() {
            400 => Self::BadRequest { body: text },
            401 => Self::Unauthorized { body: text },
            404 => Self::NotFound { body: text },
            429 => Self::RateLimited {
                retry_after: talkjs_transport::parse_retry_after(
                    headers,
                    std::time::SystemTime::now(),
                ),
            },
            500..=599 => Self::Server { status, body: text },
            _ => Self::Status { status, body: text },
        }
    }
}

/// Whether a transport error is a connection failure that a later attempt may not meet.
fn is_connection_error(error: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(t) = TransportError::find(error) {
        return matches!(
            t,
            TransportError::Connect { .. }
                | TransportError::Request { .. }
                | TransportError::Body { .. }
        );
    }
    // An error of a custom inner service: an I/O error in its chain is a connection error.
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<std::io::Error>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether a request that failed with this transport error may have reached the server and
/// been applied: false only when it is known that nothing was sent.
fn transport_may_have_landed(error: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(t) = TransportError::find(error) {
        return match t {
            // Never sent: the connection was not opened, or the request was refused on
            // this side (signing, another origin, a failed rate-limit store or the limiter).
            TransportError::Connect { .. }
            | TransportError::RateLimitStore { .. }
            | TransportError::Auth(_)
            | TransportError::InvalidRequest(_)
            | TransportError::LocalRateLimit { .. } => false,
            // Sent (or maybe sent): the connection failed after it was written, the answer
            // was late, or an answer came (a body over the limit). TransportError is
            // non-exhaustive: what is not known to be unsent may have landed.
            _ => true,
        };
    }
    // An error of a custom inner service: only a refused connection says nothing was sent.
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind() != std::io::ErrorKind::ConnectionRefused;
        }
        current = e.source();
    }
    true
}

/// A transport error's message with what to do, unless the error says so itself (a failed
/// connection names the base URL and the network already).
fn transport_message(error: &BoxError) -> String {
    match TransportError::find(error.as_ref()) {
        Some(TransportError::Request { .. } | TransportError::Body { .. }) | None => {
            format!("{error}; check the network and the base URL, then retry")
        }
        // A failed connection says what to check itself; the others are not network errors.
        Some(_) => error.to_string(),
    }
}

/// At most [`PREVIEW_BYTES`] of a server body, for messages (a proxy's error page can be
/// megabytes of HTML); [`Error::body`] gives the whole body.
fn preview(body: &[u8]) -> String {
    const MAX: usize = PREVIEW_BYTES;
    let text = String::from_utf8_lossy(body);
    if text.len() <= MAX {
        text.into_owned()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &text[..end], body.len())
    }
}

/// How much of a server body an error's message shows.
const PREVIEW_BYTES: usize = 512;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
