//! App and user tokens, decoded with configurations independent of the signer's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::hmac;
use serde_json::{Value, json};
use talkjs_auth::{AppId, Credentials, DEFAULT_APP_TOKEN_TTL, Error, SecretKey, TokenSigner};

const APP: &str = "tNCnKd4d";
const SECRET: &str = "sk_test_example";

/// Token for `{"tokenType":"app","iss":"tNCnKd4d","iat":1700000000,"exp":1700000030}` with the
/// header `{"typ":"JWT","alg":"HS256"}`, computed independently with:
///
/// ```sh
/// b64u(){ openssl base64 -A | tr '+/' '-_' | tr -d '='; }
/// H=$(printf '%s' '{"typ":"JWT","alg":"HS256"}' | b64u)
/// P=$(printf '%s' '{"tokenType":"app","iss":"tNCnKd4d","iat":1700000000,"exp":1700000030}' | b64u)
/// S=$(printf '%s' "$H.$P" | openssl dgst -sha256 -hmac 'sk_test_example' -binary | b64u)
/// echo "$H.$P.$S"
/// ```
const APP_TOKEN_AT_1700000000: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
eyJ0b2tlblR5cGUiOiJhcHAiLCJpc3MiOiJ0TkNuS2Q0ZCIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAwMDMwfQ.\
Cmp4dQOuYJN-Pn6GRKtlSyIcEgnpbE_CGZuJ0W63sVw";

/// The same for `{"tokenType":"user","iss":"tNCnKd4d","sub":"alice","iat":1700000000,"exp":1700086400}`
/// (same commands, other payload).
const USER_TOKEN_AT_1700000000: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
eyJ0b2tlblR5cGUiOiJ1c2VyIiwiaXNzIjoidE5DbktkNGQiLCJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ.\
i57qa9fUU_L9pYpVxWQC0Br7bDZevEztn3OFS71YEm0";

fn signer() -> TokenSigner {
    TokenSigner::new(AppId::new(APP), SecretKey::new(SECRET))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A minimal base64url (no padding) decoder, independent of the JWT library.
fn b64url_decode(s: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c:?}"),
        }
    }
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | value(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

/// Splits a JWT by hand, checks its HS256 signature with `ring` directly, and returns
/// (header, payload) as JSON.
fn decode_by_hand(token: &str, secret: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three segments");
    for part in &parts {
        assert!(!part.contains('='), "JWT segments are unpadded");
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = format!("{}.{}", parts[0], parts[1]);
    hmac::verify(&key, signed.as_bytes(), &b64url_decode(parts[2])).expect("signature verifies");
    let header = serde_json::from_slice(&b64url_decode(parts[0])).unwrap();
    let payload = serde_json::from_slice(&b64url_decode(parts[1])).unwrap();
    (header, payload)
}

/// Decodes with `jsonwebtoken`'s verifier: HS256 only, issuer, required claims, expiry.
fn decode_validated(
    token: &str,
    secret: &str,
    sub: Option<&str>,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[APP]);
    validation.leeway = 0;
    if let Some(sub) = sub {
        validation.sub = Some(sub.to_owned());
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    } else {
        validation.set_required_spec_claims(&["exp", "iss"]);
    }
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|d| d.claims)
}

fn check_header(header: &Value) {
    assert_eq!(header, &json!({"typ": "JWT", "alg": "HS256"}));
}

fn check_iat_now(iat: u64, before: u64, after: u64) {
    assert!(
        before <= iat && iat <= after,
        "iat {iat} not in [{before}, {after}]"
    );
}

#[test]
fn app_token_claims() {
    let before = now_secs();
    let token = signer().app_token().unwrap();
    let after = now_secs();

    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));

    let claims = decode_validated(&token, SECRET, None).unwrap();
    let (raw_header, payload) = decode_by_hand(&token, SECRET);
    check_header(&raw_header);
    assert_eq!(claims, payload);

    let obj = payload.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["exp", "iat", "iss", "tokenType"],
        "no sub, nothing else"
    );
    assert_eq!(payload["tokenType"], "app");
    assert_eq!(payload["iss"], APP);
    let iat = payload["iat"].as_u64().unwrap();
    check_iat_now(iat, before, after);
    assert_eq!(payload["exp"].as_u64().unwrap(), iat + 30);
}

#[test]
fn app_token_custom_ttl() {
    let signer = signer().with_app_token_ttl(Duration::from_secs(120));
    assert_eq!(signer.app_token_ttl(), Duration::from_secs(120));
    let (_, payload) = decode_by_hand(&signer.app_token().unwrap(), SECRET);
    assert_eq!(
        payload["exp"].as_u64().unwrap(),
        payload["iat"].as_u64().unwrap() + 120
    );

    // Sub-second parts round up.
    let signer = signer.with_app_token_ttl(Duration::from_millis(1500));
    let (_, payload) = decode_by_hand(&signer.app_token().unwrap(), SECRET);
    assert_eq!(
        payload["exp"].as_u64().unwrap(),
        payload["iat"].as_u64().unwrap() + 2
    );
}

#[test]
fn user_token_claims() {
    let before = now_secs();
    let ttl = Duration::from_secs(24 * 60 * 60);
    let token = signer().user_token("alice", ttl).unwrap();
    let after = now_secs();

    let claims = decode_validated(&token, SECRET, Some("alice")).unwrap();
    let (raw_header, payload) = decode_by_hand(&token, SECRET);
    check_header(&raw_header);
    assert_eq!(claims, payload);

    assert_eq!(payload.as_object().unwrap().len(), 5);
    assert_eq!(payload["tokenType"], "user");
    assert_eq!(payload["iss"], APP);
    assert_eq!(payload["sub"], "alice");
    let iat = payload["iat"].as_u64().unwrap();
    check_iat_now(iat, before, after);
    assert_eq!(payload["exp"].as_u64().unwrap(), iat + 86_400);

    // A user id that needs JSON escaping survives the round trip.
    let odd = "ünïcode \"quoted\" \\ / id";
    let token = signer().user_token(odd, ttl).unwrap();
    assert_eq!(
        decode_validated(&token, SECRET, Some(odd)).unwrap()["sub"],
        odd
    );
}

#[test]
fn tokens_match_independently_computed_vectors() {
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(signer().app_token_at(at).unwrap(), APP_TOKEN_AT_1700000000);
    assert_eq!(
        signer()
            .user_token_at("alice", Duration::from_secs(86_400), at)
            .unwrap(),
        USER_TOKEN_AT_1700000000
    );
    // Sub-second parts of `now` are dropped from iat.
    let at_plus = at + Duration::from_millis(999);
    assert_eq!(
        signer().app_token_at(at_plus).unwrap(),
        APP_TOKEN_AT_1700000000
    );
}

#[test]
fn wrong_key_fails_verification() {
    let token = signer().app_token().unwrap();
    let err = decode_validated(&token, "sk_test_other", None).unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );

    let other = TokenSigner::new(AppId::new(APP), SecretKey::new("sk_test_other"));
    let token = other.app_token().unwrap();
    assert!(decode_validated(&token, SECRET, None).is_err());
}

#[test]
fn wrong_issuer_and_expired_tokens_fail_verification() {
    let token = TokenSigner::new(AppId::new("otherApp"), SecretKey::new(SECRET))
        .app_token()
        .unwrap();
    let err = decode_validated(&token, SECRET, None).unwrap_err();
    assert_eq!(err.kind(), &jsonwebtoken::errors::ErrorKind::InvalidIssuer);

    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    let token = signer().app_token_at(long_ago).unwrap();
    let err = decode_validated(&token, SECRET, None).unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );
}

#[test]
fn every_call_mints_a_valid_token() {
    let signer = signer();
    let first = signer.app_token().unwrap();
    let second = signer.app_token().unwrap();
    let clone = signer.clone().app_token().unwrap();
    for token in [&first, &second, &clone] {
        decode_validated(token, SECRET, None).unwrap();
    }
    // Each token carries the time it was minted at: one minted a second later is valid a
    // second longer.
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (offset, iat) in [(0, 1_700_000_000_u64), (1, 1_700_000_001)] {
        let token = signer
            .app_token_at(at + Duration::from_secs(offset))
            .unwrap();
        let (_, payload) = decode_by_hand(&token, SECRET);
        assert_eq!(
            (payload["iat"].as_u64(), payload["exp"].as_u64()),
            (Some(iat), Some(iat + 30)),
            "{payload}"
        );
    }
}

#[test]
fn credentials_bearer_tokens() {
    let creds = Credentials::AppToken(signer());
    let token = creds.bearer_token().unwrap();
    assert_eq!(
        decode_validated(&token, SECRET, None).unwrap()["tokenType"],
        "app"
    );
    assert_eq!(
        Credentials::from(signer())
            .bearer_token()
            .map(|t| t.split('.').count())
            .unwrap(),
        3
    );

    let legacy = Credentials::LegacySecretKey(SecretKey::new(SECRET));
    assert_eq!(legacy.bearer_token().unwrap(), SECRET);
    let creds2 = legacy.clone();
    assert_eq!(creds2.bearer_token().unwrap(), SECRET);
}

#[test]
fn invalid_input_is_an_error() {
    let signer = signer();
    assert!(matches!(
        signer.user_token("", Duration::from_secs(60)),
        Err(Error::EmptyUserId)
    ));
    assert!(matches!(
        signer.user_token("alice", Duration::ZERO),
        Err(Error::InvalidTtl { ttl }) if ttl == Duration::ZERO
    ));
    assert!(matches!(
        signer.user_token("alice", Duration::MAX),
        Err(Error::InvalidTtl { .. })
    ));
    assert!(matches!(
        signer
            .clone()
            .with_app_token_ttl(Duration::ZERO)
            .app_token(),
        Err(Error::InvalidTtl { .. })
    ));
    let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
    assert!(matches!(
        signer.app_token_at(before_epoch),
        Err(Error::ClockBeforeEpoch)
    ));

    let empty = TokenSigner::new(AppId::new(APP), SecretKey::new(""));
    assert!(matches!(empty.app_token(), Err(Error::EmptySecretKey)));
    assert!(matches!(
        Credentials::LegacySecretKey(SecretKey::new("")).bearer_token(),
        Err(Error::EmptySecretKey)
    ));
}

#[test]
fn accessors_and_defaults() {
    let signer = signer();
    assert_eq!(signer.app_id(), &AppId::new(APP));
    // The default lifetime is the one app tokens get (`app_token_claims`: 30 s).
    assert_eq!(signer.app_token_ttl(), DEFAULT_APP_TOKEN_TTL);

    let id = AppId::from("abc");
    assert_eq!(id.as_str(), "abc");
    assert_eq!(id.to_string(), "abc");
    assert_eq!(id, AppId::from(String::from("abc")));
    let set: std::collections::HashSet<AppId> =
        [id.clone(), AppId::new("abc")].into_iter().collect();
    assert_eq!(set.len(), 1);

    assert_eq!(SecretKey::new(SECRET).expose_secret(), SECRET);
}

#[test]
fn error_messages_say_what_to_do() {
    let messages = [
        Error::EmptyUserId.to_string(),
        Error::EmptySecretKey.to_string(),
        Error::InvalidTtl {
            ttl: Duration::ZERO,
        }
        .to_string(),
        Error::ClockBeforeEpoch.to_string(),
    ];
    for message in messages {
        assert!(message.contains(": "), "{message}");
    }
}
