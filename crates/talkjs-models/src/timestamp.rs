//! Millisecond timestamps. Every time in the TalkJS API is a number of milliseconds since the
//! Unix epoch.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as TalkJS sends it: milliseconds since the Unix epoch (UTC).
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use talkjs_models::Timestamp;
///
/// let t = Timestamp::from_millis(1_700_000_000_123);
/// let st = SystemTime::try_from(t).unwrap();
/// assert_eq!(st, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
/// assert_eq!(Timestamp::try_from(st).unwrap(), t);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// A [`SystemTime`] before the Unix epoch (or too far after it) cannot be a [`Timestamp`], and
/// a [`Timestamp`] beyond what the platform's [`SystemTime`] holds cannot be a [`SystemTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOutOfRange;

impl fmt::Display for TimestampOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("time is before the Unix epoch or beyond the range of a millisecond timestamp")
    }
}

impl std::error::Error for TimestampOutOfRange {}

impl Timestamp {
    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// The current time (from the system clock).
    pub fn now() -> Self {
        // The system clock before 1970 is a misconfiguration; clamp rather than fail.
        Self::try_from(SystemTime::now()).unwrap_or_default()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Fails only where the platform's `SystemTime` cannot hold the time: on Windows, a time
/// after the year 30828 (a timestamp from the network can be any `u64`, so this is checked
/// rather than left to panic).
impl TryFrom<Timestamp> for SystemTime {
    type Error = TimestampOutOfRange;

    fn try_from(t: Timestamp) -> Result<Self, Self::Error> {
        UNIX_EPOCH
            .checked_add(Duration::from_millis(t.0))
            .ok_or(TimestampOutOfRange)
    }
}

impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampOutOfRange;

    fn try_from(t: SystemTime) -> Result<Self, Self::Error> {
        let since = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TimestampOutOfRange)?;
        u64::try_from(since.as_millis())
            .map(Self)
            .map_err(|_| TimestampOutOfRange)
    }
}

impl From<u64> for Timestamp {
    fn from(millis: u64) -> Self {
        Self(millis)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Accepts an integer, or a float (truncated), so that a server that ever sends
    /// `1.7e12` does not fail a whole response. Negative numbers are rejected.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of milliseconds since the Unix epoch")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                u64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if (0.0..1.8e19).contains(&v) {
                    Ok(Timestamp(v as u64))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
