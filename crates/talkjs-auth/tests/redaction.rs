//! No `Debug` or `Display` output contains the secret key or a minted token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use talkjs_auth::{
    AppId, Credentials, Error, SecretKey, TokenSigner, WebhookError, WebhookVerifier,
};

const SECRET: &str = "sk_test_Zq8PxKLm3VYtR2wNhB7c";
/// Distinctive fragments of the key; none may appear either.
const FRAGMENTS: [&str; 3] = ["Zq8PxKLm", "3VYtR2wN", "hB7c"];

fn assert_clean(what: &str, output: &str, tokens: &[String]) {
    assert!(
        !output.contains(SECRET),
        "{what} leaks the secret: {output}"
    );
    for fragment in FRAGMENTS {
        assert!(
            !output.contains(fragment),
            "{what} leaks part of the secret: {output}"
        );
    }
    for token in tokens {
        assert!(
            !output.contains(token.as_str()),
            "{what} leaks a token: {output}"
        );
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !output.contains(signature),
            "{what} leaks a token signature: {output}"
        );
    }
}

fn check_debug<T: std::fmt::Debug>(what: &str, value: &T, tokens: &[String]) {
    assert_clean(what, &format!("{value:?}"), tokens);
    assert_clean(what, &format!("{value:#?}"), tokens);
}

fn check_both<T: std::fmt::Debug + std::fmt::Display>(what: &str, value: &T, tokens: &[String]) {
    check_debug(what, value, tokens);
    assert_clean(what, &value.to_string(), tokens);
}

#[test]
fn nothing_secret_is_printed() {
    let key = SecretKey::new(SECRET);
    let signer = TokenSigner::new(AppId::new("tNCnKd4d"), key.clone());
    let app = Credentials::AppToken(signer.clone());
    let legacy = Credentials::LegacySecretKey(key.clone());
    let verifier = WebhookVerifier::new(key.clone());

    let tokens = vec![
        signer.app_token().unwrap(),
        signer.user_token("alice", Duration::from_secs(60)).unwrap(),
        app.bearer_token().unwrap(),
    ];
    // Sanity: the checks can fail.
    assert_eq!(legacy.bearer_token().unwrap(), SECRET);

    check_both("SecretKey", &key, &tokens);
    assert_eq!(format!("{key:?}"), "SecretKey(***)");
    assert_eq!(key.to_string(), "SecretKey(***)");
    check_debug("TokenSigner", &signer, &tokens);
    check_debug("Credentials::AppToken", &app, &tokens);
    check_debug("Credentials::LegacySecretKey", &legacy, &tokens);
    check_debug("WebhookVerifier", &verifier, &tokens);
    check_debug(
        "WebhookVerifier without age check",
        &verifier.clone().without_timestamp_check(),
        &tokens,
    );

    // Every token error, produced for real where possible.
    let jwt_error =
        jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat);
    let errors = vec![
        signer.user_token("", Duration::from_secs(60)).unwrap_err(),
        signer.user_token("alice", Duration::ZERO).unwrap_err(),
        signer
            .app_token_at(UNIX_EPOCH - Duration::from_secs(1))
            .unwrap_err(),
        TokenSigner::new(AppId::new("a"), SecretKey::new(""))
            .app_token()
            .unwrap_err(),
        Error::Encoding {
            source: Arc::new(jwt_error),
        },
    ];
    for error in &errors {
        check_both("Error", error, &tokens);
    }

    // Every webhook error, produced by the verifier.
    let ts = "1700000000000";
    let body = br#"{"type":"message.sent"}"#;
    let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let signature = verifier.sign(ts, body);
    let not_event = br#"{"not":"an event"}"#;
    let webhook_errors = vec![
        verifier.verify_at(body, "", &signature, sent).unwrap_err(),
        verifier.verify_at(body, ts, "", sent).unwrap_err(),
        verifier
            .verify_at(body, "garbage", &signature, sent)
            .unwrap_err(),
        verifier
            .verify_at(body, ts, &signature, sent + Duration::from_secs(3600))
            .unwrap_err(),
        verifier
            .verify_at(body, ts, &signature, sent - Duration::from_secs(3600))
            .unwrap_err(),
        verifier.verify_at(b"{}", ts, &signature, sent).unwrap_err(),
        verifier
            .verify_at(not_event, ts, &verifier.sign(ts, not_event), sent)
            .unwrap_err(),
    ];
    let mut kinds = std::collections::HashSet::new();
    for error in &webhook_errors {
        check_both("WebhookError", error, &tokens);
        kinds.insert(std::mem::discriminant(error));
    }
    assert_eq!(
        kinds.len(),
        6,
        "all six webhook error kinds covered: {webhook_errors:?}"
    );
    assert!(matches!(webhook_errors[6], WebhookError::InvalidBody(_)));
}
