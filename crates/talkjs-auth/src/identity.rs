//! Legacy identity verification: the `signature` a frontend passes to `Talk.Session`.

use ring::hmac;

use crate::SecretKey;
use crate::hex;

/// The identity-verification signature of `user_id`: HMAC-SHA256 with the secret key as key
/// and the user id as message, as upper-case hex (the form TalkJS's docs generate).
///
/// ```
/// use talkjs_auth::{SecretKey, identity_signature};
///
/// let signature = identity_signature(&SecretKey::new("sk_test_example"), "alice");
/// assert_eq!(signature.len(), 64);
/// assert_eq!(signature, signature.to_uppercase());
/// ```
pub fn identity_signature(secret: &SecretKey, user_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    hex::encode_upper(hmac::sign(&key, user_id.as_bytes()).as_ref())
}

/// Whether `signature` is the identity-verification signature of `user_id`.
///
/// Hex digits are accepted in either case (older TalkJS docs generated lower case) and
/// surrounding whitespace is ignored; the comparison runs in constant time.
///
/// With an empty `secret` this is always `false`: anyone can compute an HMAC keyed with the
/// empty string, so such a signature proves nothing.
pub fn verify_identity_signature(secret: &SecretKey, user_id: &str, signature: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(tag) = hex::decode_array::<32>(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    hmac::verify(&key, user_id.as_bytes(), &tag).is_ok()
}
