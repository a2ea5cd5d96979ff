//! JSON headers: [`JsonLayer`].
//!
//! TalkJS's "Get started" page (REST API introduction): "Only requests with Content-type:
//! application/json are accepted, except for HTTP GET requests". So a `DELETE` or a `POST`
//! without a body carries the header too. The docs show no body for those calls (deleting a
//! conversation, removing a participant, marking as read), so none is sent
//! (`Content-Length: 0`) rather than `{}`.

use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use tower::Layer;
use tower_http::set_header::SetRequestHeader;

use crate::types::HttpRequest;

/// The content type of a request: `application/json` for every method but `GET` and
/// `HEAD`, which carry no body and no content type.
fn json_content_type(req: &HttpRequest) -> Option<HeaderValue> {
    let bodiless = req.method() == http::Method::GET || req.method() == http::Method::HEAD;
    (!bodiless).then(|| HeaderValue::from_static("application/json"))
}

/// A layer setting `Accept: application/json` on every request and
/// `Content-Type: application/json` on every request but `GET` and `HEAD` (bodies or not,
/// as TalkJS requires), in both cases only where the header is not set yet (a multipart
/// upload keeps its own content type). Made of two tower-http
/// [`SetRequestHeader`]s.
///
/// ```
/// use tower::ServiceBuilder;
/// let svc = ServiceBuilder::new()
///     .layer(talkjs_transport::JsonLayer::new())
///     .service_fn(|req: talkjs_transport::HttpRequest| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().clone())
///     });
/// # drop(svc);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLayer {
    _private: (),
}

impl JsonLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for JsonLayer {
    type Service =
        SetRequestHeader<SetRequestHeader<S, fn(&HttpRequest) -> Option<HeaderValue>>, HeaderValue>;

    fn layer(&self, inner: S) -> Self::Service {
        let content_type: fn(&HttpRequest) -> Option<HeaderValue> = json_content_type;
        SetRequestHeader::if_not_present(
            SetRequestHeader::if_not_present(inner, CONTENT_TYPE, content_type),
            ACCEPT,
            HeaderValue::from_static("application/json"),
        )
    }
}
