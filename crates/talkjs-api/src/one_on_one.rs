//! The one-on-one conversation id of the TalkJS JavaScript SDK (`Talk.oneOnOneId`).

use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};

/// The conversation id the JavaScript SDK's `Talk.oneOnOneId(a, b)` gives two users, so a
/// backend can address the conversation a frontend created: sort the two ids (as JavaScript
/// sorts strings, by UTF-16 code units), serialize the pair as a JSON array, SHA-1 it and
/// keep the first 20 lowercase hex characters. The order of the arguments does not matter.
///
/// ```
/// use talkjs_api::one_on_one_id;
///
/// assert_eq!(one_on_one_id("alice", "bob"), one_on_one_id("bob", "alice"));
/// assert_eq!(one_on_one_id("alice", "bob").len(), 20);
/// ```
pub fn one_on_one_id(a: &str, b: &str) -> String {
    let (first, second) = if a.encode_utf16().cmp(b.encode_utf16()).is_le() {
        (a, b)
    } else {
        (b, a)
    };
    // serde_json escapes like JSON.stringify for every string a Rust &str can hold.
    let json = serde_json::Value::from(vec![first, second]).to_string();
    let hash = digest(&SHA1_FOR_LEGACY_USE_ONLY, json.as_bytes());
    talkjs_auth::hex::encode(&hash.as_ref()[..10], false)
}

#[cfg(test)]
mod tests {
    use super::one_on_one_id;

    /// Vectors computed independently with Python:
    /// `sha1(json.dumps(sorted([a, b], key=utf16), separators=(',', ':'), ensure_ascii=False))[:20]`.
    #[test]
    fn matches_independent_vectors() {
        assert_eq!(one_on_one_id("alice", "bob"), "4714b845b86fbe0ed913");
        assert_eq!(one_on_one_id("bob", "alice"), "4714b845b86fbe0ed913");
        assert_eq!(one_on_one_id("user_2", "user_10"), "b1fae70fb35fa8577e9d");
        assert_eq!(one_on_one_id("Zoë", "émile"), "1b699d46eb65350bf3b2");
        assert_eq!(one_on_one_id("a\"b", "c\\d"), "a78b15488a088268ea28");
        // UTF-16 order puts the surrogate pair of U+1F600 before U+FFFF (code-point order
        // would not).
        assert_eq!(
            one_on_one_id("\u{ffff}", "\u{1F600}"),
            "51c1eb18cbf01507073d"
        );
    }
}
