//! Request and response extensions that steer the layers. The resource API sets them; a
//! hand-written request can set them too.

use http::Method;

/// Which rate-limit class a request belongs to (set as a request extension; default
/// [`RequestClass::General`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RequestClass {
    /// Ordinary REST calls: TalkJS allows a burst of 600 and 9 per second.
    #[default]
    General,
    /// `POST /batch`: TalkJS allows 1 per second.
    Batch,
}

impl RequestClass {
    /// The class of a request: its extension, or [`RequestClass::General`].
    pub fn of<B>(request: &http::Request<B>) -> Self {
        request
            .extensions()
            .get::<Self>()
            .copied()
            .unwrap_or_default()
    }
}

/// Whether a request may be sent twice without changing the outcome (set as a request
/// extension to override the default derived from the method).
///
/// By default `GET`, `HEAD`, `PUT`, `DELETE`, `PATCH` and `OPTIONS` are idempotent (TalkJS's
/// PUT and PATCH are upserts) and `POST` is not. The resource API marks a message send as
/// idempotent when every message carries an idempotency key, and never marks an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Safe to re-send after any failure.
    Idempotent,
    /// Re-sent only when the request certainly did not reach the server (connection refused,
    /// or a 429 answer, which TalkJS gives before processing).
    NonIdempotent,
}

impl Idempotency {
    /// The idempotency of a request: its extension, or the default for its method.
    pub fn of<B>(request: &http::Request<B>) -> Self {
        if let Some(explicit) = request.extensions().get::<Self>() {
            return *explicit;
        }
        if request.method() == Method::POST {
            Self::NonIdempotent
        } else {
            Self::Idempotent
        }
    }
}

/// The path template of a request (e.g. `/conversations/{conversationId}/messages`), used by
/// the trace layer instead of the concrete path so spans have a bounded set of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathTemplate(pub &'static str);

/// Set on a response by the retry layer when the call was retried: how many attempts it
/// took. A response without it took one attempt; [`Attempts::of`] reads either case.
///
/// (The extension is left out of first-try responses because inserting it allocates the
/// response's extension map, a cost on every call for no information.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempts(pub u32);

impl Attempts {
    /// How many attempts the call behind `response` took: its `Attempts`, or 1 without.
    ///
    /// ```
    /// use talkjs_transport::Attempts;
    ///
    /// let mut response = http::Response::new(());
    /// assert_eq!(Attempts::of(&response), 1);
    /// response.extensions_mut().insert(Attempts(3));
    /// assert_eq!(Attempts::of(&response), 3);
    /// ```
    pub fn of<B>(response: &http::Response<B>) -> u32 {
        response.extensions().get::<Self>().map_or(1, |a| a.0)
    }

    /// Records `attempts` on `response` when there was more than one.
    pub(crate) fn record<B>(response: &mut http::Response<B>, attempts: u32) {
        if attempts > 1 {
            response.extensions_mut().insert(Self(attempts));
        }
    }
}
