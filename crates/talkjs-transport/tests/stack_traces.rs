//! The default stack's traces, with a subscriber recording everything: the span and the
//! response event carry method, path template, status, attempts and latency, and neither they
//! nor the Debug output carry a secret or token.
//!
//! In a test binary of its own: `tracing` caches whether a callsite is enabled globally, and a
//! test on another thread reaching the span's callsite while this test installs its
//! subscriber can leave the span disabled (the test then sees no span at all).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use talkjs_auth::AppId;
use talkjs_transport::{RetryConfig, StackBuilder};
use tower::ServiceExt;
use wiremock::MockServer;

mod stack_common;

use stack_common::{APP, SECRET, auth_of, fail_once_then_ok, signer};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn traces_and_debug_output_contain_no_secret_or_token() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token_seen = rt.block_on(async {
        let server = MockServer::start().await;
        fail_once_then_ok(&server, 503).await;
        let builder = StackBuilder::new(AppId::new(APP), signer())
            .base_url(server.uri())
            .retry(Some(
                RetryConfig::default().base_delay(Duration::from_millis(1)),
            ));
        let debug = format!("{builder:?}");
        assert!(
            !debug.contains(SECRET) && !debug.contains("STACKsecret"),
            "{debug}"
        );
        let svc = builder.build().unwrap();
        let req = http::Request::get("/users/alice")
            .body(Bytes::new())
            .unwrap();
        let resp = svc.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let received = server.received_requests().await.unwrap();
        auth_of(&received[1])
            .trim_start_matches("Bearer ")
            .to_owned()
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("talkjs.request"),
        "the span was recorded: {logs}"
    );
    // OpenTelemetry's HTTP client conventions.
    assert!(
        logs.contains("url.template=\"/users/{userId}\""),
        "the span names the path template, derived from the path: {logs}"
    );
    assert!(
        logs.contains("otel.name=\"GET /users/{userId}\""),
        "the span's OpenTelemetry name: {logs}"
    );
    assert!(
        logs.contains("otel.kind=\"client\""),
        "a client span: {logs}"
    );
    assert!(
        logs.contains("talkjs.attempts=2"),
        "attempts recorded: {logs}"
    );
    assert!(
        logs.contains("http.request.method=\"GET\""),
        "the span names the method: {logs}"
    );
    assert!(
        logs.contains("server.address=\"127.0.0.1\"") && logs.contains("server.port="),
        "the span names the server (from the base URL): {logs}"
    );
    assert!(!logs.contains("alice"), "no id in a span or event: {logs}");
    // The response event: status, attempts and latency in whole milliseconds.
    let response = logs
        .lines()
        .find(|line| line.contains("talkjs response"))
        .unwrap_or_else(|| panic!("no response event: {logs}"));
    assert!(
        response.contains("http.response.status_code=200"),
        "{response}"
    );
    assert!(response.contains("talkjs.attempts=2"), "{response}");
    let latency = response
        .split("talkjs.latency_ms=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse::<u64>().ok());
    // Two attempts with a retry delay in between, on the real clock: under a minute.
    assert!(
        latency.is_some_and(|ms| ms < 60_000),
        "latency_ms recorded: {response}"
    );
    assert!(
        !logs.contains(SECRET) && !logs.contains("STACKsecret"),
        "secret leaked: {logs}"
    );
    assert!(!logs.contains(&token_seen), "token leaked: {logs}");
    assert!(
        !logs.contains(token_seen.split('.').nth(2).unwrap()),
        "token signature leaked"
    );
}
