//! The user token of TalkJS's Authentication page against one minted by `TokenSigner`: the
//! same header algorithm and the same claims, with the same meaning (see
//! `crates/talkjs-models/tests/contract/SOURCES`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use talkjs_auth::{AppId, SecretKey, TokenSigner};

/// The example token (`auth/user-token.jwt` of the contract folder).
fn documented_token() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../talkjs-models/tests/contract/auth/user-token.jwt"
    );
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

/// Decodes base64url without padding (enough for JWT parts).
fn b64url(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).unwrap());
        }
    }
    out
}

/// The header and payload of a JWT, as JSON.
fn parts(token: &str) -> (Value, Value) {
    let pieces: Vec<&str> = token.split('.').collect();
    assert_eq!(pieces.len(), 3, "{token}");
    (
        serde_json::from_slice(&b64url(pieces[0])).unwrap(),
        serde_json::from_slice(&b64url(pieces[1])).unwrap(),
    )
}

#[test]
fn minted_user_token_has_the_documented_claims() {
    let (doc_header, doc_payload) = parts(&documented_token());
    assert_eq!(doc_header["alg"], "HS256");
    assert_eq!(doc_payload["tokenType"], "user");

    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let signer = TokenSigner::new(AppId::new("EXAMPLE_APP"), SecretKey::new("sk_test_x"));
    let token = signer
        .user_token_at("EXAMPLE_USER", Duration::from_secs(86_400), now)
        .unwrap();
    let (header, payload) = parts(&token);
    assert_eq!(header["alg"], doc_header["alg"]);

    // Every documented claim is there with the documented value (the example's app and
    // user ids are the ones we minted for).
    let doc_claims = doc_payload.as_object().unwrap();
    for (claim, value) in doc_claims {
        assert_eq!(payload.get(claim), Some(value), "claim {claim}");
    }
    // Our extra claims are the standard time claims the docs' code adds with `expiresIn`
    // (and `jsonwebtoken`'s `iat`): nothing else.
    let extra: Vec<&String> = payload
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !doc_claims.contains_key(*k))
        .collect();
    assert!(
        extra
            .iter()
            .all(|k| ["exp", "iat", "nbf"].contains(&k.as_str())),
        "{extra:?}"
    );
    assert_eq!(payload["exp"], 1_700_000_000 + 86_400);
}
