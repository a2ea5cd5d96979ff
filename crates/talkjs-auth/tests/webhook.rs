//! Webhook verification against signatures computed with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use talkjs_auth::{
    DEFAULT_TOLERANCE, SIGNATURE_HEADER, SecretKey, TIMESTAMP_HEADER, WebhookError, WebhookVerifier,
};
use talkjs_models::{WebhookData, WebhookEventType};

const SECRET: &str = "sk_test_webhook";
const TS: &str = "1700000000000";

const BODY: &[u8] = br#"{"type":"message.sent"}"#;
/// `printf '%s' '1700000000000.{"type":"message.sent"}' | openssl dgst -sha256 -hmac 'sk_test_webhook'`,
/// uppercased.
const BODY_SIG: &str = "F6DE8ACB6FFD470F711E4BE7D045EE0C092F23AC209D3E4E31AC21037171AECA";

const FULL_BODY: &[u8] =
    br#"{"id":"evt_1","createdAt":1700000000000,"type":"message.sent","data":{"message":{"id":"msg_1","text":"hi"}}}"#;
/// `printf '%s' '1700000000000.<FULL_BODY>' | openssl dgst -sha256 -hmac 'sk_test_webhook'`, uppercased.
const FULL_BODY_SIG: &str = "98FBA0D016F7CCDAACA21ED83889D71F0F283D872AE8537E48ABEA16E406733D";

/// `printf '%s' '1700000000.{"type":"message.sent"}' | openssl dgst -sha256 -hmac 'sk_test_webhook'`
/// (a timestamp in seconds), uppercased.
const SECONDS_SIG: &str = "8CC5ED3B284CE16209B3F8F0225AFB33B866B815064A2F707E28AA0C428AB1C6";

const UNKNOWN_BODY: &[u8] = br#"{"type":"some.future.event","data":{"x":1}}"#;
/// `printf '%s' '1700000000000.{"type":"some.future.event","data":{"x":1}}' | openssl dgst -sha256 -hmac 'sk_test_webhook'`
const UNKNOWN_SIG: &str = "673BD0C2C1769B5D1919D8F897616EE073AC95D6433E8C1A3974775FA82F2AC0";

const NOT_EVENT_BODY: &[u8] = br#"{"hello":"world"}"#;
/// `printf '%s' '1700000000000.{"hello":"world"}' | openssl dgst -sha256 -hmac 'sk_test_webhook'`
const NOT_EVENT_SIG: &str = "2C8A2F5EBE0BDC809A130E63CABBDCAE1BB55EB8E7DBD1B513081D080604EF3E";

/// `printf '%s' '1700000000000.' | openssl dgst -sha256 -hmac 'sk_test_webhook'` (empty body)
const EMPTY_BODY_SIG: &str = "95B02035E89BAF61B69CF27A9828B94486CDE7CFD6141B5BA94EF333440ACD37";

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(SecretKey::new(SECRET))
}

/// The instant of `TS`.
fn sent_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[test]
fn sign_matches_openssl() {
    let v = verifier();
    assert_eq!(v.sign(TS, BODY), BODY_SIG);
    assert_eq!(v.sign(TS, FULL_BODY), FULL_BODY_SIG);
    assert_eq!(v.sign("1700000000", BODY), SECONDS_SIG);
    assert_eq!(v.sign(TS, UNKNOWN_BODY), UNKNOWN_SIG);
    assert_eq!(v.sign(TS, NOT_EVENT_BODY), NOT_EVENT_SIG);
    assert_eq!(v.sign(TS, b""), EMPTY_BODY_SIG);
}

#[test]
fn verifies_and_decodes_a_delivery() {
    let event = verifier()
        .verify_at(FULL_BODY, TS, FULL_BODY_SIG, sent_at())
        .unwrap();
    assert_eq!(event.id.as_deref(), Some("evt_1"));
    assert_eq!(event.event_type, WebhookEventType::MessageSent);
    assert!(event.created_at.is_some());
    // The message lacks the fields a typed `Message` needs, so the data is kept raw.
    assert_eq!(event.data_json()["message"]["text"], "hi");

    let minimal = verifier().verify_at(BODY, TS, BODY_SIG, sent_at()).unwrap();
    assert_eq!(minimal.event_type, WebhookEventType::MessageSent);
    assert_eq!(minimal.id, None);
}

#[test]
fn signature_case_and_whitespace_do_not_matter() {
    let v = verifier();
    v.verify_at(BODY, TS, &BODY_SIG.to_ascii_lowercase(), sent_at())
        .unwrap();
    v.verify_at(
        BODY,
        &format!(" {TS} "),
        &format!(" {BODY_SIG}\t"),
        sent_at(),
    )
    .unwrap();
}

#[test]
fn verify_with_the_real_clock() {
    let v = verifier();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let sig = v.sign(&now_ms, FULL_BODY);
    assert_eq!(
        v.verify(FULL_BODY, &now_ms, &sig).unwrap().event_type,
        WebhookEventType::MessageSent
    );
    v.verify_signature(FULL_BODY, &now_ms, &sig).unwrap();
    // The fixed 2023 vectors are far too old for the real clock.
    assert!(matches!(
        v.verify(BODY, TS, BODY_SIG),
        Err(WebhookError::Expired { .. })
    ));
}

#[test]
fn bad_signatures_are_rejected() {
    let v = verifier();
    let at = sent_at();
    let bad = |body: &[u8], ts: &str, sig: &str| {
        matches!(
            v.verify_at(body, ts, sig, at),
            Err(WebhookError::BadSignature)
        )
    };

    // Tampered body (one byte, trailing whitespace, re-serialized JSON).
    assert!(bad(br#"{"type":"message.read"}"#, TS, BODY_SIG));
    assert!(bad(b"{\"type\":\"message.sent\"}\n", TS, BODY_SIG));
    assert!(bad(br#"{ "type": "message.sent" }"#, TS, BODY_SIG));
    // Signature of another body.
    assert!(bad(BODY, TS, FULL_BODY_SIG));
    // Timestamp changed (same instant written in seconds is a different signed message).
    assert!(bad(BODY, "1700000000001", BODY_SIG));
    assert!(bad(BODY, "1700000000", BODY_SIG));
    // Malformed signatures.
    assert!(bad(BODY, TS, &BODY_SIG[..63]));
    assert!(bad(BODY, TS, &format!("{BODY_SIG}0")));
    assert!(bad(BODY, TS, &format!("sha256={BODY_SIG}")));
    assert!(bad(BODY, TS, &"G".repeat(64)));
    // Wrong key.
    let other = WebhookVerifier::new(SecretKey::new("sk_test_other"));
    assert!(matches!(
        other.verify_at(BODY, TS, BODY_SIG, at),
        Err(WebhookError::BadSignature)
    ));
}

#[test]
fn timestamps_in_seconds_are_accepted() {
    let event = verifier()
        .verify_at(BODY, "1700000000", SECONDS_SIG, sent_at())
        .unwrap();
    assert_eq!(event.event_type, WebhookEventType::MessageSent);
}

#[test]
fn age_is_checked_both_ways() {
    let v = verifier();
    assert_eq!(v.tolerance(), Some(DEFAULT_TOLERANCE));

    // By default five minutes either way; exactly at the edge is accepted, in both
    // directions, a millisecond more is not.
    let five_minutes = Duration::from_secs(300);
    v.verify_at(BODY, TS, BODY_SIG, sent_at() + five_minutes)
        .unwrap();
    v.verify_at(BODY, TS, BODY_SIG, sent_at() - five_minutes)
        .unwrap();

    let late = sent_at() + five_minutes + Duration::from_millis(1);
    match v.verify_at(BODY, TS, BODY_SIG, late) {
        Err(WebhookError::Expired { age, tolerance }) => {
            assert_eq!(age, Duration::from_millis(300_001));
            assert_eq!(tolerance, DEFAULT_TOLERANCE);
        }
        other => panic!("expected Expired, got {other:?}"),
    }

    let early = sent_at() - Duration::from_secs(301);
    match v.verify_at(BODY, TS, BODY_SIG, early) {
        Err(WebhookError::FromFuture { ahead, tolerance }) => {
            assert_eq!(ahead, Duration::from_secs(301));
            assert_eq!(tolerance, DEFAULT_TOLERANCE);
        }
        other => panic!("expected FromFuture, got {other:?}"),
    }

    // A custom tolerance.
    let strict = verifier().with_tolerance(Duration::from_secs(10));
    assert_eq!(strict.tolerance(), Some(Duration::from_secs(10)));
    strict
        .verify_at(BODY, TS, BODY_SIG, sent_at() + Duration::from_secs(10))
        .unwrap();
    assert!(matches!(
        strict.verify_at(BODY, TS, BODY_SIG, sent_at() + Duration::from_secs(11)),
        Err(WebhookError::Expired { .. })
    ));

    // Disabled: any age passes, the signature is still checked.
    let lax = verifier().without_timestamp_check();
    assert_eq!(lax.tolerance(), None);
    lax.verify_at(
        BODY,
        TS,
        BODY_SIG,
        sent_at() + Duration::from_secs(10 * 365 * 86_400),
    )
    .unwrap();
    lax.verify_at(BODY, TS, BODY_SIG, UNIX_EPOCH).unwrap();
    assert!(matches!(
        lax.verify_at(BODY, TS, FULL_BODY_SIG, sent_at()),
        Err(WebhookError::BadSignature)
    ));
}

#[test]
fn signature_is_checked_before_age() {
    // A forged delivery learns nothing about the timestamp check.
    let late = sent_at() + Duration::from_secs(3600);
    assert!(matches!(
        verifier().verify_at(BODY, TS, FULL_BODY_SIG, late),
        Err(WebhookError::BadSignature)
    ));
}

#[test]
fn missing_and_garbage_timestamps() {
    let v = verifier();
    let at = sent_at();
    assert!(matches!(
        v.verify_at(BODY, "", BODY_SIG, at),
        Err(WebhookError::MissingHeader { name }) if name == TIMESTAMP_HEADER
    ));
    assert!(matches!(
        v.verify_at(BODY, "  ", BODY_SIG, at),
        Err(WebhookError::MissingHeader { name }) if name == TIMESTAMP_HEADER
    ));
    assert!(matches!(
        v.verify_at(BODY, TS, "", at),
        Err(WebhookError::MissingHeader { name }) if name == SIGNATURE_HEADER
    ));
    for garbage in [
        "yesterday",
        "1700000000000ms",
        "-1700000000000",
        "1.7e12",
        "1700000000.5",
        "+1700000000000",
    ] {
        // Even with a signature over the garbage, the timestamp is rejected.
        let sig = v.sign(garbage, BODY);
        assert!(
            matches!(
                v.verify_at(BODY, garbage, &sig, at),
                Err(WebhookError::BadTimestamp)
            ),
            "{garbage}"
        );
    }
    let huge = "99999999999999999999999999";
    assert!(matches!(
        v.verify_at(BODY, huge, &v.sign(huge, BODY), at),
        Err(WebhookError::BadTimestamp)
    ));
}

#[test]
fn unknown_event_types_still_parse() {
    let event = verifier()
        .verify_at(UNKNOWN_BODY, TS, UNKNOWN_SIG, sent_at())
        .unwrap();
    assert_eq!(
        event.event_type,
        WebhookEventType::Other("some.future.event".into())
    );
    let WebhookData::Other(raw) = &event.data else {
        panic!("an unknown type is kept raw: {:?}", event.data)
    };
    assert_eq!(raw.event_type, "some.future.event");
    assert_eq!(raw.data["x"], 1);
}

#[test]
fn signed_bodies_that_are_not_events_are_invalid() {
    let v = verifier();
    assert!(matches!(
        v.verify_at(NOT_EVENT_BODY, TS, NOT_EVENT_SIG, sent_at()),
        Err(WebhookError::InvalidBody(_))
    ));
    assert!(matches!(
        v.verify_at(b"", TS, EMPTY_BODY_SIG, sent_at()),
        Err(WebhookError::InvalidBody(_))
    ));
    // ... but their signature is fine, for callers decoding into their own types.
    v.verify_signature_at(NOT_EVENT_BODY, TS, NOT_EVENT_SIG, sent_at())
        .unwrap();
}

#[test]
fn header_lookup_helper() {
    let v = verifier().without_timestamp_check();
    // The headers under the names TalkJS sends them with. Header maps usually match names
    // case-insensitively; emulate with lower-cased keys.
    let mut headers: HashMap<String, String> = HashMap::new();
    headers.insert("x-talkjs-timestamp".into(), TS.into());
    let lookup = |headers: &HashMap<String, String>, name: &str| {
        headers.get(&name.to_ascii_lowercase()).cloned()
    };

    assert!(matches!(
        v.verify_headers(BODY, |name| lookup(&headers, name)),
        Err(WebhookError::MissingHeader { name }) if name == SIGNATURE_HEADER
    ));
    headers.insert("x-talkjs-signature".into(), BODY_SIG.into());
    let event = v
        .verify_headers(BODY, |name| lookup(&headers, name))
        .unwrap();
    assert_eq!(event.event_type, WebhookEventType::MessageSent);

    // Borrowed values work too.
    let event = v
        .verify_headers(BODY, |name| {
            headers.get(&name.to_ascii_lowercase()).map(String::as_str)
        })
        .unwrap();
    assert_eq!(event.event_type, WebhookEventType::MessageSent);

    headers.remove("x-talkjs-timestamp");
    assert!(matches!(
        v.verify_headers(BODY, |name| lookup(&headers, name)),
        Err(WebhookError::MissingHeader { name }) if name == TIMESTAMP_HEADER
    ));
}

#[test]
fn an_empty_secret_accepts_no_delivery() {
    // An HMAC keyed with "" is forgeable by anyone: a delivery "signed" that way must be
    // refused, by every entry point, and the error says why.
    let empty = WebhookVerifier::new(SecretKey::new(""));
    let forged = empty.sign(TS, FULL_BODY);
    let refused = |result: Result<(), WebhookError>| {
        assert!(
            matches!(result, Err(WebhookError::EmptySecretKey)),
            "{result:?}"
        );
    };
    refused(empty.verify_signature_at(FULL_BODY, TS, &forged, sent_at()));
    refused(empty.verify_at(FULL_BODY, TS, &forged, sent_at()).map(drop));
    refused(empty.verify(FULL_BODY, TS, &forged).map(drop));
    refused(
        empty
            .clone()
            .without_timestamp_check()
            .verify_headers(FULL_BODY, |name| {
                Some(if name == TIMESTAMP_HEADER {
                    TS
                } else {
                    forged.as_str()
                })
            })
            .map(drop),
    );
    let message = WebhookError::EmptySecretKey.to_string();
    assert!(message.contains("empty"), "{message}");
}
