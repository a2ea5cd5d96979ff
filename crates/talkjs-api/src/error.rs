//! The one error type of the resource API.

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use talkjs_models::MessageId;
use talkjs_transport::{BoxError, BuildError, Retryable, TimeoutKind, TransportError};

/// Everything a call can fail with. Each variant's message says what to do next.
///
/// Success is judged by the HTTP status only (as TalkJS documents); an error status keeps the
/// server's body as text, because **no official TalkJS doc gives the shape of error bodies**
/// (peer SDKs read `{"reasons": …}`): read [`Error::body`] rather than relying on one. The
/// `body` fields and [`Error::body`] hold exactly the bytes the server sent (as text): what
/// this crate knows about the call (which chunk failed, whether the request may be sent
/// again) is in other fields and in the message (`Display`), never added to the body.
///
/// **Three outcomes.** A failed call was refused (a 4xx, or it was never sent: it did not
/// happen), or its outcome is unknown (a 5xx, a timeout, a connection lost after sending:
/// it may have happened; [`Error::may_have_landed`]). For a write that TalkJS applies again
/// each time it is sent (an import, or a send with a message without an idempotency key),
/// an unknown outcome comes as [`Error::UnknownOutcome`], whose message never says "retry":
/// sending such a write again may duplicate it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 404: the user, conversation or message does not exist (or the path is wrong). When
    /// the body says the app does not exist (the fake answers `APP_NOT_FOUND`; TalkJS's
    /// answer to an unknown app id is not documented), the message says to check the app id
    /// instead.
    #[error("not found (404): {}; {}", preview(body.as_bytes()), not_found_advice(body))]
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
    ///
    /// The message says from which item to resume; when the failing request's outcome is
    /// unknown ([`Error::UnknownOutcome`] as `source`), it says to check its items first.
    #[error("{}", incomplete_message(*completed, source))]
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
    /// The checkpoint of an events stream (`client.events()` of the `talkjs-runtime` crate)
    /// could not be loaded or saved (a file that cannot be read, written or decoded).
    #[error("the events checkpoint could not be loaded or saved: {0}")]
    Checkpoint(#[source] std::io::Error),
    /// The client could not be configured: the builder's or the environment's settings are
    /// missing or invalid. Nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(#[from] BuildError),
    /// A write that TalkJS applies again each time it is sent (`write`: an import, or a
    /// send with at least one message without an idempotency key) failed in a way that may
    /// have been applied: a 5xx, a timeout, or a connection lost after the request was sent
    /// (`cause`, the error itself). The outcome is **unknown**: TalkJS may have stored the
    /// messages, so sending them again as they are may duplicate them. Resend a send only
    /// with idempotency keys on its messages (TalkJS then creates each message once), or
    /// after listing the conversation; import again only what the conversation lacks.
    ///
    /// [`is_transient`](Self::is_transient) and [`may_have_landed`](Self::may_have_landed)
    /// are both true (trying again may get through, and the first try may have landed);
    /// [`status`](Self::status) and [`body`](Self::body) answer for `cause`. A failure of
    /// such a write that did **not** land (a 4xx, a refused connection) is returned as it
    /// is, and so is one that is not transient (an answer that does not decode). Inside
    /// [`Error::Incomplete`], this is the `source` (the failing request).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_api::Error;
    /// use talkjs_models::NewMessage;
    ///
    /// let sent = client.conversations().messages("order_123").send([NewMessage::user("alice", "Hi")]).await;
    /// match sent {
    ///     Ok(_) => {}
    ///     Err(e @ Error::UnknownOutcome { .. }) => {
    ///         // Not "try again": the message may be stored. List the conversation first, or
    ///         // send with an idempotency key (`.idempotency_key("order_123-hi")`).
    ///         eprintln!("{e}");
    ///     }
    ///     Err(e) if e.is_transient() => eprintln!("not sent, try again later: {e}"),
    ///     Err(e) => eprintln!("refused: {e}"),
    /// }
    /// # Ok(()) }
    /// ```
    #[error("{}", unknown_outcome_message(*write, cause))]
    UnknownOutcome {
        /// Which write.
        write: NonIdempotentWrite,
        /// How the request failed (a [`Server`](Error::Server), [`Timeout`](Error::Timeout)
        /// or [`Transport`](Error::Transport) error). Not this error's
        /// [`source`](std::error::Error::source), which is `None`: this error's message
        /// already says what happened, and `cause`'s own message advises trying again,
        /// which a printer of the whole chain (anyhow's `{:#}`) would otherwise repeat.
        cause: Box<Error>,
    },
}

/// A write that TalkJS applies again each time it is sent, so that sending it again after an
/// unknown outcome may apply it twice: what an [`Error::UnknownOutcome`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NonIdempotentWrite {
    /// A message send (`POST …/messages`) with at least one message without an idempotency
    /// key ([`Messages::send`](crate::Messages::send),
    /// [`send_all`](crate::Messages::send_all)).
    Send,
    /// An import of messages (`POST /import/…/messages`,
    /// [`Messages::import`](crate::Messages::import)): TalkJS does not de-duplicate imports.
    Import,
}

impl Error {
    /// The HTTP status, for errors that came with one. [`StatusCode`] is the `http` crate's,
    /// re-exported as [`talkjs_api::http`](crate::http) (`talkjs::http` through the facade),
    /// so no dependency on `http` is needed to compare it.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// match client.users().get("alice").await {
    ///     Err(e) if e.status() == Some(talkjs_api::http::StatusCode::NOT_FOUND) => println!("no such user"),
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
            Self::Incomplete { source, .. } | Self::UnknownOutcome { cause: source, .. } => {
                source.status()
            }
            _ => None,
        }
    }

    /// Whether the same call may succeed if tried again later: a 429 (from TalkJS, or the
    /// client's own rate limiter refusing to wait that long), a 5xx (but 501 and 505), a
    /// timeout, or a connection error (refused, reset, closed, failed while reading the
    /// answer). Statuses and transport errors are judged by the transport's retry rules,
    /// [`Retryable`](talkjs_transport::Retryable): transient unless `Never`.
    ///
    /// Not transient: every other status (400, 401, 404, 501, ...), an answer that does not
    /// decode, a body over the size limit, a request refused before it was sent (signing
    /// failed, an absolute URI of another origin), a failed rate-limit store, an I/O error of
    /// a custom inner service that is not about the connection, an invalid argument or
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
    ///
    /// **Transient is not "send it again".** A 5xx, a timeout or a lost connection is
    /// transient and may also have landed ([`may_have_landed`](Self::may_have_landed)): for an
    /// import or a send without idempotency keys ([`Error::UnknownOutcome`]) trying again may
    /// duplicate it. Retry on `is_transient()` alone only what is safe to repeat (reads,
    /// upserts, deletes, sends whose messages all carry idempotency keys).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Incomplete { source, .. } | Self::UnknownOutcome { cause: source, .. } => {
                source.is_transient()
            }
            // The transport's retry rules (those of its retry layer), for an error.
            Self::Transport(error) => Retryable::of_error(error.as_ref()) != Retryable::Never,
            // What the retry layer does not retry within the call, but a later call may get
            // through: the call ran out of time (a later call has a deadline of its own), or
            // the rate limiter's wait was longer than allowed (a later call finds a slot).
            Self::Timeout { .. } | Self::LocalRateLimit { .. } => true,
            // The transport's retry rules, for a status (429 and 5xx but 501 and 505); the
            // other errors have no status and are not transient.
            _ => self
                .status()
                .is_some_and(|status| Retryable::of_status(status) != Retryable::Never),
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
    ///   `completed` items landed for sure;
    /// - [`Error::UnknownOutcome`]: always (it answers for its `cause`, which may have
    ///   landed): an import or a key-less send whose outcome is unknown.
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
            Self::Incomplete { source, .. } | Self::UnknownOutcome { cause: source, .. } => {
                source.may_have_landed()
            }
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

    /// The server's whole response body, exactly as it came (as text), for errors that came
    /// with one (the message shows at most its first 512 bytes). Never rewritten: what this
    /// crate adds (which chunk failed, ...) is in the error's other fields and message. For
    /// [`Error::Incomplete`] and [`Error::UnknownOutcome`], the body of the failing request.
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
            Self::Incomplete { source, .. } | Self::UnknownOutcome { cause: source, .. } => {
                source.body()
            }
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

    /// Marks the failure of a non-idempotent write whose outcome is unknown: wraps `self` in
    /// [`Error::UnknownOutcome`] when it is transient and may have landed (a 5xx, a timeout,
    /// a connection lost after sending), the case where "retry later" would duplicate; the
    /// plain error otherwise.
    pub(crate) fn for_write(self, write: NonIdempotentWrite) -> Self {
        if matches!(self, Self::UnknownOutcome { .. } | Self::Incomplete { .. }) {
            return self;
        }
        if self.is_transient() && self.may_have_landed() {
            Self::UnknownOutcome {
                write,
                cause: Box::new(self),
            }
        } else {
            self
        }
    }

    /// What went wrong, without the advice of the error's own message (which may say to
    /// retry): the first part of an [`Error::UnknownOutcome`]'s message.
    fn what_happened(&self) -> String {
        match self {
            Self::Server { status, .. } => format!("TalkJS answered {status}"),
            Self::Status { status, body } => {
                format!("TalkJS answered {status}: {}", preview(body.as_bytes()))
            }
            Self::Timeout { kind, after } => match kind {
                TimeoutKind::Deadline => {
                    format!("the call timed out after {after:?} (retries included)")
                }
                _ => format!("the request timed out after {after:?} without an answer"),
            },
            Self::Transport(error) => format!("transport error: {error}"),
            Self::UnknownOutcome { cause, .. } => cause.what_happened(),
            other => other.to_string(),
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

/// The advice of a 404: the id of the resource, unless the body says the app is unknown.
fn not_found_advice(body: &str) -> &'static str {
    let body = body.to_ascii_lowercase();
    let about_the_app = [
        "app_not_found",
        "app not found",
        "no such app",
        "unknown app",
    ]
    .iter()
    .any(|words| body.contains(words))
        || (body.contains("app") && body.contains("does not exist") && !body.contains("user"));
    if about_the_app {
        "check the app id (TALKJS_APP_ID): the server knows no app with this id"
    } else {
        "check the id, or create the resource first (if every call answers 404, check the app id)"
    }
}

/// The message of [`Error::UnknownOutcome`]: what happened, that the write may have been
/// stored, and what to do instead of retrying.
fn unknown_outcome_message(write: NonIdempotentWrite, cause: &Error) -> String {
    let what = cause.what_happened();
    match write {
        NonIdempotentWrite::Import => format!(
            "outcome unknown: {what}; the imported messages may have been stored: import them again only after checking the conversation (TalkJS does not de-duplicate imports)"
        ),
        _ => format!(
            "outcome unknown: {what}; the messages may have been stored: resend only with an idempotency key on each message, or after checking the conversation (sending them again without keys may duplicate them)"
        ),
    }
}

/// The message of [`Error::Incomplete`].
fn incomplete_message(completed: usize, source: &Error) -> String {
    if matches!(source, Error::UnknownOutcome { .. }) {
        format!(
            "{completed} items were applied before a later request failed: {source}; resume from item {completed} once its request's items are known not to be stored (the items before it were applied: sending them again would repeat them)"
        )
    } else {
        format!(
            "{completed} items were applied before a later request failed: {source}; resume from item {completed} (sending the items before it again would repeat them)"
        )
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
