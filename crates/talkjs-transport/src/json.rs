//! JSON headers: `Content-Type: application/json` on requests with a body (unless one is
//! set already, e.g. multipart uploads) and `Accept: application/json` on all. Built from
//! tower-http's [`SetRequestHeaderLayer`]; no custom middleware needed.

use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use tower::layer::util::Stack;
use tower_http::set_header::SetRequestHeaderLayer;

use crate::HttpRequest;

/// The function that decides the content type: `application/json` for a non-empty body,
/// nothing for a body-less request (GET carries no body and no content type).
pub type ContentTypeFn = fn(&HttpRequest) -> Option<HeaderValue>;

/// The layer returned by [`json_layer`].
pub type JsonLayer =
    Stack<SetRequestHeaderLayer<ContentTypeFn>, SetRequestHeaderLayer<HeaderValue>>;

fn json_content_type(req: &HttpRequest) -> Option<HeaderValue> {
    (!req.body().is_empty()).then(|| HeaderValue::from_static("application/json"))
}

/// A layer setting `Accept: application/json` on every request and
/// `Content-Type: application/json` on requests with a body, in both cases only where the
/// header is not set yet.
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
