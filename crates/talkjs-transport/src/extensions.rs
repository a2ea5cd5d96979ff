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
///
/// Requests need not carry it: [`PathTemplate::of`] derives the template of every TalkJS
/// endpoint from the path itself, and the resource API relies on that (an extension would
/// be an allocation on every call, cloned again for a possible retry, whether or not anyone
/// traces). Set it on a hand-written request to name its span yourself; a metrics layer of
/// your own can use [`PathTemplate::of`] the same way the trace layer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathTemplate(pub &'static str);

/// What stands in for the id segments that follow each TalkJS collection name.
const ID_SEGMENTS: &[(&str, &[&str])] = &[
    ("users", &["{userId}"]),
    ("conversations", &["{conversationId}"]),
    ("messages", &["{messageId}"]),
    ("participants", &["{userId}"]),
    ("readBy", &["{userId}"]),
    ("reactions", &["{emoji}", "{userId}"]),
];

impl PathTemplate {
    /// The template of `request`: its `PathTemplate` extension, else [`derive`](Self::derive)d
    /// from its path.
    ///
    /// ```
    /// use talkjs_transport::PathTemplate;
    ///
    /// let mut request = talkjs_transport::http::Request::get("/users/alice/conversations").body(()).unwrap();
    /// assert_eq!(PathTemplate::of(&request), "/users/{userId}/conversations");
    /// request.extensions_mut().insert(PathTemplate("/my/{name}"));
    /// assert_eq!(PathTemplate::of(&request), "/my/{name}");
    /// ```
    pub fn of<B>(request: &http::Request<B>) -> std::borrow::Cow<'static, str> {
        match request.extensions().get::<Self>() {
            Some(Self(template)) => std::borrow::Cow::Borrowed(template),
            None => std::borrow::Cow::Owned(Self::derive(request.uri().path())),
        }
    }

    /// The template of a TalkJS REST path: the segments that follow a collection name
    /// (`users`, `conversations`, `messages`, `participants`, `readBy`, `reactions`) are ids
    /// and become placeholders; every other segment is kept. The path may be relative
    /// (`/users/alice`) or carry the API prefix (`/v1/{appId}/users/alice`: both kept).
    ///
    /// ```
    /// use talkjs_transport::PathTemplate;
    ///
    /// assert_eq!(
    ///     PathTemplate::derive("/conversations/c%201/messages/m1/reactions/%F0%9F%91%8D/bob"),
    ///     "/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}",
    /// );
    /// assert_eq!(PathTemplate::derive("/users"), "/users");
    /// assert_eq!(PathTemplate::derive("/import/conversations/c1/messages"),
    ///            "/import/conversations/{conversationId}/messages");
    /// ```
    pub fn derive(path: &str) -> String {
        let mut template = String::with_capacity(path.len() + 16);
        let mut pending: &[&str] = &[];
        for segment in path.split('/').skip(1) {
            template.push('/');
            if let Some((placeholder, rest)) = pending.split_first() {
                template.push_str(placeholder);
                pending = rest;
            } else {
                template.push_str(segment);
                pending = ID_SEGMENTS
                    .iter()
                    .find(|(name, _)| *name == segment)
                    .map_or(&[], |(_, ids)| ids);
            }
        }
        if template.is_empty() {
            template.push('/');
        }
        template
    }
}

/// Set on a response by the retry layer when the call was retried: how many attempts it
/// took. A response without it took one attempt; [`Attempts::of`] reads either case.
///
/// The retry layer also sets it on each retried request: which attempt it is (2 for the
/// first retry), so layers below it (a log of the wire, such as `talkjs -v`) can tell;
/// [`Attempts::of_request`] reads it.
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
    /// let mut response = talkjs_transport::http::Response::new(());
    /// assert_eq!(Attempts::of(&response), 1);
    /// response.extensions_mut().insert(Attempts(3));
    /// assert_eq!(Attempts::of(&response), 3);
    /// ```
    pub fn of<B>(response: &http::Response<B>) -> u32 {
        response.extensions().get::<Self>().map_or(1, |a| a.0)
    }

    /// Which attempt `request` is: its `Attempts` (set by the retry layer on a retry), or 1.
    ///
    /// ```
    /// use talkjs_transport::Attempts;
    ///
    /// let mut request = talkjs_transport::http::Request::new(());
    /// assert_eq!(Attempts::of_request(&request), 1);
    /// request.extensions_mut().insert(Attempts(2));
    /// assert_eq!(Attempts::of_request(&request), 2);
    /// ```
    pub fn of_request<B>(request: &http::Request<B>) -> u32 {
        request.extensions().get::<Self>().map_or(1, |a| a.0)
    }

    /// Records `attempts` on `response` when there was more than one.
    pub(crate) fn record<B>(response: &mut http::Response<B>, attempts: u32) {
        if attempts > 1 {
            response.extensions_mut().insert(Self(attempts));
        }
    }
}

/// Set on a request by the rate-limit layer when it waited for its slot: how long (the sum,
/// when several rate-limit layers waited). A request without it did not wait;
/// [`RateLimitWait::of`] reads either case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimitWait(pub std::time::Duration);

impl RateLimitWait {
    /// How long `request` waited for rate-limit slots: its `RateLimitWait`, or zero.
    pub fn of<B>(request: &http::Request<B>) -> std::time::Duration {
        request
            .extensions()
            .get::<Self>()
            .map_or(std::time::Duration::ZERO, |w| w.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PathTemplate;

    #[test]
    fn templates_of_every_endpoint_shape() {
        for (path, template) in [
            ("", "/"),
            ("/", "/"),
            ("/users", "/users"),
            ("/users/", "/users/{userId}"),
            ("/users/a%2Fb", "/users/{userId}"),
            (
                "/users/users/conversations",
                "/users/{userId}/conversations",
            ),
            ("/v1/app1/users/bob", "/v1/app1/users/{userId}"),
            ("/conversations/c1", "/conversations/{conversationId}"),
            (
                "/conversations/c1/participants/u1/email",
                "/conversations/{conversationId}/participants/{userId}/email",
            ),
            (
                "/conversations/c1/readBy/u1",
                "/conversations/{conversationId}/readBy/{userId}",
            ),
            (
                "/conversations/c1/messages/m1/reactions/e/u",
                "/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}",
            ),
            ("/batch", "/batch"),
            ("/presences", "/presences"),
            ("/files", "/files"),
        ] {
            assert_eq!(PathTemplate::derive(path), template, "{path}");
        }
    }

    #[test]
    fn an_extension_overrides_the_derived_template() {
        let mut request = http::Request::get("/anything/else")
            .body(())
            .unwrap_or_default();
        assert_eq!(PathTemplate::of(&request), "/anything/else");
        request.extensions_mut().insert(PathTemplate("/named"));
        assert_eq!(PathTemplate::of(&request), "/named");
    }
}
