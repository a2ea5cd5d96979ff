//! A tiny hexadecimal encoder and decoder (signatures are short; no dependency needed). The
//! one hex encoder of the workspace: the transport's percent-encoding and the resource API's
//! one-on-one ids use it too, which is why it is public (and hidden from the docs).

/// Appends the two hex digits of `byte`, upper-case (`0xab` -> `"AB"`) or lower-case.
pub fn push_byte(out: &mut String, byte: u8, upper: bool) {
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push(char::from(digits[usize::from(byte >> 4)]));
    out.push(char::from(digits[usize::from(byte & 0x0f)]));
}

/// Encodes `bytes` as hex (`[0xab, 0x01]` -> `"AB01"` or `"ab01"`).
pub fn encode(bytes: &[u8], upper: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        push_byte(&mut out, b, upper);
    }
    out
}

/// Encodes `bytes` as upper-case hex (`[0xab, 0x01]` -> `"AB01"`).
pub(crate) fn encode_upper(bytes: &[u8]) -> String {
    encode(bytes, true)
}

/// The value of one hex digit, either case; `None` for any other byte.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes of hex (either case, mixed allowed); `None` if the length or a
/// digit is wrong.
///
/// The branches depend only on the (public, attacker-supplied) input, never on a secret:
/// the decoded value is compared against the expected MAC in constant time by the caller.
pub(crate) fn decode_array<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode_array, encode_upper};

    #[test]
    fn round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let hex = encode_upper(&bytes);
        assert_eq!(hex.len(), 512);
        assert!(hex.starts_with("000102"));
        assert!(hex.ends_with("FDFEFF"));
        let back: Option<[u8; 256]> = decode_array(&hex);
        assert_eq!(back.map(|b| b.to_vec()), Some(bytes.clone()));
        let back_lower: Option<[u8; 256]> = decode_array(&hex.to_ascii_lowercase());
        assert_eq!(back_lower.map(|b| b.to_vec()), Some(bytes));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode_array::<2>("abc"), None);
        assert_eq!(decode_array::<2>("abcdef"), None);
        assert_eq!(decode_array::<2>("abcg"), None);
        assert_eq!(decode_array::<2>("+bcd"), None);
        assert_eq!(decode_array::<1>("é"), None);
        assert_eq!(decode_array::<2>("aBcD"), Some([0xab, 0xcd]));
        assert_eq!(decode_array::<0>(""), Some([]));
    }
}
