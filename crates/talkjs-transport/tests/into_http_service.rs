//! `into_http_service` turns any service into a working `HttpService`: a plain one, a
//! failing one (its error boxed) and one that already is an `HttpService`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use talkjs_transport::{BoxError, HttpRequest, HttpResponse, HttpService, into_http_service};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

fn echo_path(req: &HttpRequest) -> HttpResponse {
    HttpResponse::new(Bytes::from(req.uri().path().to_owned()))
}

async fn body_of(mut service: HttpService, path: &str) -> Result<Bytes, BoxError> {
    let request = http::Request::get(path).body(Bytes::new())?;
    Ok(service.ready().await?.call(request).await?.into_body())
}

#[tokio::test(flavor = "current_thread")]
async fn into_http_service_serves_plain_failing_and_already_erased_services() {
    let plain = tower::service_fn(|req: HttpRequest| {
        std::future::ready(Ok::<_, std::io::Error>(echo_path(&req)))
    });
    let erased = into_http_service(plain);
    assert_eq!(
        body_of(into_http_service(erased.clone()), "/a")
            .await
            .unwrap(),
        "/a"
    );
    assert_eq!(body_of(erased, "/b").await.unwrap(), "/b");

    // The inner error type is mapped into the boxed error.
    let failing = tower::service_fn(|_req: HttpRequest| {
        std::future::ready(Err::<HttpResponse, _>(std::io::Error::other("down")))
    });
    let error = body_of(into_http_service(failing), "/c")
        .await
        .expect_err("the inner service fails");
    assert_eq!(error.to_string(), "down");

    let boxed: HttpService = BoxCloneSyncService::new(tower::service_fn(|req| {
        std::future::ready(Ok::<_, BoxError>(echo_path(&req)))
    }));
    assert_eq!(body_of(into_http_service(boxed), "/d").await.unwrap(), "/d");
}
