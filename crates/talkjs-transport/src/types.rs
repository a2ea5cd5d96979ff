//! The types every layer shares: the request, response and error types of the stack, the
//! erased service, and the clamp for adding long durations to instants. Every other module
//! of the crate depends on this one; it depends on none of them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// The error type that flows through the stack: tower's convention of a boxed error.
/// Errors produced by this crate's layers are [`TransportError`](crate::TransportError)s
/// inside the box; use [`TransportError::find`](crate::TransportError::find) to get at one.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A request as the stack sees it: the body is one `Bytes` (empty for GET and DELETE).
pub type HttpRequest = http::Request<Bytes>;

/// A response as the stack returns it: the body is read into one `Bytes`.
pub type HttpResponse = http::Response<Bytes>;

/// The type-erased stack: `Clone + Send + Sync`, what the resource API holds.
pub type HttpService = tower::util::BoxCloneSyncService<HttpRequest, HttpResponse, BoxError>;

/// A boxed, `Send` future: the future of [`HyperClient`](crate::HyperClient) and the return
/// type of [`RateLimitStore`](crate::RateLimitStore) methods.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Erases `service` into an [`HttpService`], mapping its error into a [`BoxError`].
///
/// ```
/// use talkjs_transport::{HttpRequest, HttpResponse, HttpService, into_http_service};
///
/// let echo = tower::service_fn(|request: HttpRequest| async move {
///     Ok::<_, std::io::Error>(HttpResponse::new(request.into_body()))
/// });
/// let service: HttpService = into_http_service(echo);
/// # drop(service);
/// ```
pub fn into_http_service<S>(service: S) -> HttpService
where
    S: tower::Service<HttpRequest, Response = HttpResponse> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    use tower::ServiceExt;
    tower::util::BoxCloneSyncService::new(service.map_err(Into::into))
}

/// The longest span this crate adds to an instant (about 30 years); longer ones (e.g. an
/// absurd `Retry-After`) are clamped to it instead of overflowing. The Redis store clamps to
/// the same span so that the two stores agree.
#[doc(hidden)]
pub const MAX_SPAN: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `t + d`, with `d` clamped to [`MAX_SPAN`] so it cannot overflow (`t` itself if even that
/// sum cannot be represented).
#[doc(hidden)]
pub fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d.min(MAX_SPAN)).unwrap_or(t)
}

pin_project_lite::pin_project! {
    /// The future of a layer that may fail before calling its inner service ([`AuthService`](crate::AuthService),
    /// [`BaseUrlService`](crate::BaseUrlService)): either the inner future, or an error ready at once.
    pub struct ErrorOr<F> {
        #[pin]
        inner: Option<F>,
        error: Option<BoxError>,
    }
}

impl<F> ErrorOr<F> {
    pub(crate) fn future(inner: F) -> Self {
        Self {
            inner: Some(inner),
            error: None,
        }
    }

    pub(crate) fn error(error: BoxError) -> Self {
        Self {
            inner: None,
            error: Some(error),
        }
    }
}

impl<F, T, E> Future for ErrorOr<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            Some(f) => f.poll(cx).map_err(Into::into),
            None => Poll::Ready(Err(this
                .error
                .take()
                .unwrap_or_else(|| "ErrorOr polled after completion".into()))),
        }
    }
}
