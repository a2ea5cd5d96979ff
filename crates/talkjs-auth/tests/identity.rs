//! Identity-verification signatures against vectors computed with openssl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_auth::{SecretKey, identity_signature, verify_identity_signature};

/// `printf '%s' 'alice' | openssl dgst -sha256 -hmac 'sk_test_example'`, uppercased.
const ALICE: &str = "5AAB2E2A21F9788A061AD2AB3D65429E62B150D9FA4C12CC0ED71CBCFE27AE38";

/// `printf '%s' 'bob@example.com' | openssl dgst -sha256 -hmac 'sk_test_example'`, uppercased.
const BOB: &str = "858C7CB3D6A5ED6D11FB89C1A0FFB881498D991860BD85F7F38FF843041C3123";

fn secret() -> SecretKey {
    SecretKey::new("sk_test_example")
}

#[test]
fn matches_openssl_in_upper_case() {
    assert_eq!(identity_signature(&secret(), "alice"), ALICE);
    assert_eq!(identity_signature(&secret(), "bob@example.com"), BOB);
}

#[test]
fn verification_accepts_either_case() {
    assert!(verify_identity_signature(&secret(), "alice", ALICE));
    assert!(verify_identity_signature(
        &secret(),
        "alice",
        &ALICE.to_ascii_lowercase()
    ));
    let mixed: String = ALICE
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect();
    assert!(verify_identity_signature(&secret(), "alice", &mixed));
    assert!(verify_identity_signature(
        &secret(),
        "alice",
        &format!(" {ALICE}\n")
    ));
}

#[test]
fn verification_rejects_wrong_signatures() {
    // Right signature, other user.
    assert!(!verify_identity_signature(
        &secret(),
        "bob@example.com",
        ALICE
    ));
    // Other key.
    assert!(!verify_identity_signature(
        &SecretKey::new("sk_test_other"),
        "alice",
        ALICE
    ));
    // One digit changed.
    let mut flipped = ALICE.to_owned();
    flipped.replace_range(0..1, "6");
    assert!(!verify_identity_signature(&secret(), "alice", &flipped));
    // Truncated, extended, empty, not hex.
    assert!(!verify_identity_signature(&secret(), "alice", &ALICE[..62]));
    assert!(!verify_identity_signature(
        &secret(),
        "alice",
        &format!("{ALICE}00")
    ));
    assert!(!verify_identity_signature(&secret(), "alice", ""));
    assert!(!verify_identity_signature(
        &secret(),
        "alice",
        &"Z".repeat(64)
    ));
}

#[test]
fn an_empty_secret_verifies_nothing() {
    // Anyone can compute an HMAC keyed with "", so it must not pass as proof of identity.
    let empty = SecretKey::new("");
    let forged = identity_signature(&empty, "alice");
    assert!(!verify_identity_signature(&empty, "alice", &forged));
    assert!(!verify_identity_signature(&empty, "alice", ALICE));
}
