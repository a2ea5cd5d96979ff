//! Shards: a migration split by conversation into N parts run as separate processes.

use std::fmt;
use std::str::FromStr;

use crate::fnv::Fnv;

/// One of N parts of a migration, split by conversation: conversation `id` is in shard
/// [`shard_of`]`(id, N)`. Each shard migrates its conversations (with their participants'
/// settings and messages) and the users they need; see [`Migration::shard`](crate::Migration::shard).
///
/// Written and parsed as `i/N` (0-based: `0/2` and `1/2` are the two halves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count` (0-based); `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Self { index, count })
    }

    /// This shard's number, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards there are.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the conversation `id` is in this shard.
    pub fn contains(self, conversation_id: &str) -> bool {
        shard_of(conversation_id, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a shard did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a shard is i/N with 0 <= i < N (e.g. 0/2 and 1/2), not {0:?}")]
pub struct ParseShardError(String);

impl FromStr for Shard {
    type Err = ParseShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseShardError(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Self::new(i, n).ok_or_else(bad)
    }
}

/// The shard of a conversation among `count` shards: the 64-bit FNV-1a hash of the
/// conversation id's UTF-8 bytes, modulo `count`. It depends on nothing else (not on the
/// machine, the Rust version or the input's order), so every process agrees on it.
/// `count` 0 is taken as 1.
pub fn shard_of(conversation_id: &str, count: u32) -> u32 {
    let mut hash = Fnv::new();
    hash.write(conversation_id.as_bytes());
    u32::try_from(hash.finish() % u64::from(count.max(1))).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_64() {
        // Reference values of FNV-1a 64 (the "" and "a" test vectors), mod 2^32 - 1 and 1000.
        assert_eq!(
            shard_of("", u32::MAX),
            (0xcbf2_9ce4_8422_2325u64 % 0xffff_ffff) as u32
        );
        assert_eq!(
            shard_of("a", 1000),
            (0xaf63_dc4c_8601_ec8cu64 % 1000) as u32
        );
        assert_eq!(shard_of("anything", 1), 0);
        assert_eq!(shard_of("anything", 0), 0);
    }

    #[test]
    fn parses_i_of_n() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard::new(1, 4).unwrap()));
        assert_eq!(Shard::new(1, 4).unwrap().to_string(), "1/4");
        for bad in ["4/4", "1", "-1/2", "0/0", "a/b", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
