//! An expired or future webhook timestamp says its age as a person reads it ("26 h 49 min
//! old"), not as "96541.12s".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use talkjs_auth::{SecretKey, WebhookError, WebhookVerifier};

const TS: &str = "1700000000000";
const BODY: &[u8] = br#"{"type":"message.sent"}"#;

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SecretKey::new("sk_test_webhook"))
}

/// The message of verifying a delivery stamped `TS` at `TS + offset` (negative: before).
fn message_at(offset_ms: i64) -> String {
    let v = verifier();
    let signature = v.sign(TS, BODY);
    let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let now = if offset_ms >= 0 {
        sent + Duration::from_millis(offset_ms.unsigned_abs())
    } else {
        sent - Duration::from_millis(offset_ms.unsigned_abs())
    };
    let err = v.verify_at(BODY, TS, &signature, now).unwrap_err();
    assert!(
        matches!(
            err,
            WebhookError::Expired { .. } | WebhookError::FromFuture { .. }
        ),
        "{err:?}"
    );
    err.to_string()
}

#[test]
fn an_expired_delivery_says_its_age_in_hours_and_minutes() {
    let age = (26 * 3600 + 49 * 60 + 12) * 1000 + 120;
    let message = message_at(age);
    assert!(
        message.contains("is 26 h 49 min old, more than the allowed 5 min"),
        "{message}"
    );
    assert!(!message.contains("96552"), "{message}");
}

#[test]
fn ages_read_in_their_two_largest_units() {
    for (offset_ms, words) in [
        (3 * 86_400_000 + 5 * 3_600_000 + 7_000, "3 days 5 h old"),
        (2 * 3_600_000, "2 h old"),
        (5 * 60_000 + 30_500, "5 min 30 s old"),
    ] {
        let message = message_at(offset_ms);
        assert!(message.contains(words), "{words}: {message}");
    }
    // A tight tolerance, and a delivery from the future.
    let strict = verifier().with_tolerance(Duration::from_millis(1500));
    let signature = strict.sign(TS, BODY);
    let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let message = strict
        .verify_at(BODY, TS, &signature, sent + Duration::from_millis(2_250))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("is 2.2 s old, more than the allowed 1.5 s"),
        "{message}"
    );
    let message = strict
        .verify_at(BODY, TS, &signature, sent - Duration::from_secs(12 * 60))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("is 12 min in the future, more than the allowed 1.5 s"),
        "{message}"
    );
}
