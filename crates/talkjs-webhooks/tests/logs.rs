//! Every refusal is logged as a warning that says why, and no log line holds the secret.
//!
//! Alone in its binary: `tracing` caches per call site whether anyone listens, which races
//! with other tests installing their own subscribers in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{SECRET, delivery, event, read, request, secret, signed_ago, uri};
use http::StatusCode;
use talkjs_test_support::logs::capture;
use talkjs_webhooks::{SecretKey, SignedDelivery, WebhookConfig, WebhookService};
use tower::ServiceExt;

#[tokio::test]
async fn each_refusal_is_a_warning_without_the_secret() {
    let (captured, _guard) = capture(tracing::Level::DEBUG);

    let (handler, _rx) = common::recorder();
    let service = WebhookService::new(WebhookConfig::new(secret()).with_max_body(2048), handler);
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    let mut no_signature = signed.headers();
    no_signature.remove("x-talkjs-signature");
    let cases = [
        (
            "forged",
            SignedDelivery::new(&SecretKey::new("sk_forger"), &sent).to_request(uri()),
            StatusCode::UNAUTHORIZED,
            "signature does not match",
        ),
        (
            "stale",
            signed_ago(&sent, Duration::from_secs(3600)).to_request(uri()),
            StatusCode::UNAUTHORIZED,
            "old, more than the allowed",
        ),
        (
            "no signature",
            request(no_signature, signed.body().clone()),
            StatusCode::UNAUTHORIZED,
            "X-TalkJS-Signature header is missing",
        ),
        (
            "not JSON",
            SignedDelivery::from_body(&secret(), "nope").to_request(uri()),
            StatusCode::BAD_REQUEST,
            "is not a TalkJS event",
        ),
        (
            "oversized",
            SignedDelivery::from_body(&secret(), vec![b' '; 4096]).to_request(uri()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than the limit of 2048 bytes",
        ),
    ];
    for (case, request, status, reason) in cases {
        let (answered, _) = read(service.clone().oneshot(request).await.unwrap()).await;
        assert_eq!(answered, status, "{case}");
        let logs = captured.take();
        assert!(logs.contains("WARN"), "{case}: {logs}");
        assert!(
            logs.contains("refused a webhook delivery"),
            "{case}: {logs}"
        );
        assert!(logs.contains(reason), "{case}: {logs}");
        assert!(
            logs.contains(&format!("status={}", status.as_u16())),
            "{case}: {logs}"
        );
        assert!(!logs.contains(SECRET), "{case}: {logs}");
    }

    // A duplicate is no refusal: a debug line, no warning.
    for _ in 0..2 {
        let (answered, _) = read(
            service
                .clone()
                .oneshot(signed.to_request(uri()))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answered, StatusCode::OK);
    }
    let logs = captured.take();
    assert!(!logs.contains("WARN"), "{logs}");
    assert!(logs.contains("duplicate delivery"), "{logs}");
    assert!(logs.contains("evt_1"), "{logs}");
}
