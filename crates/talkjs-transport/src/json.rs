//! JSON headers: `Content-Type: application/json` on every request but `GET` (unless one is
//! set already, e.g. multipart uploads) and `Accept: application/json` on all. Built from
//! tower-http's [`SetRequestHeaderLayer`]; no custom middleware needed.
//!
//! TalkJS's "Get started" page (REST API introduction): "Only requests with Content-type:
//! application/json are accepted, except for HTTP GET requests". So a `DELETE` or a `POST`
//! without a body carries the header too. Such a request is sent with no body at all
//! (`Content-Length: 0`) rather than `{}`: TalkJS's own examples send these calls without a
//! body, and the docs name no body for them.

use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use tower::layer::util::Stack;
use tower_http::set_header::SetRequestHeaderLayer;

use crate::HttpRequest;

/// The function that decides the content type: `application/json` for every method but
/// `GET` and `HEAD`, which carry no body and no content type.
pub type ContentTypeFn = fn(&HttpRequest) -> Option<HeaderValue>;

/// The layer returned by [`json_layer`].
pub type JsonLayer =
    Stack<SetRequestHeaderLayer<ContentTypeFn>, SetRequestHeaderLayer<HeaderValue>>;

fn json_content_type(req: &HttpRequest) -> Option<HeaderValue> {
    let bodiless = req.method() == http::Method::GET || req.method() == http::Method::HEAD;
    (!bodiless).then(|| HeaderValue::from_static("application/json"))
}

/// A layer setting `Accept: application/json` on every request and
/// `Content-Type: application/json` on every request but `GET` and `HEAD` (bodies or not,
/// as TalkJS requires), in both cases only where the header is not set yet.
///
/// ```
/// use tower::ServiceBuilder;
/// let svc = ServiceBuilder::new()
///     .layer(talkjs_transport::json_layer())
///     .service_fn(|req: talkjs_transport::HttpRequest| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().clone())
///     });
/// # drop(svc);
/// ```
pub fn json_layer() -> JsonLayer {
    Stack::new(
        SetRequestHeaderLayer::if_not_present(CONTENT_TYPE, json_content_type as ContentTypeFn),
        SetRequestHeaderLayer::if_not_present(ACCEPT, HeaderValue::from_static("application/json")),
    )
}
