//! The two Lua scripts: the GCRA arithmetic of
//! [`RateLimitStore`](talkjs_transport::RateLimitStore), run atomically inside Redis on the
//! Redis server's clock.
//!
//! Times are integers in microseconds since the Unix epoch (from `TIME`); Lua numbers are
//! doubles, exact for integers below 2^53 (about 285 years in microseconds), and the Rust
//! side clamps every duration it sends to 30 years, so the sums stay exact. The theoretical
//! arrival time (TAT) is stored as a decimal integer string with a `PX` expiry one second
//! past it: once the TAT is in the past the key means "full burst", exactly like a missing
//! key, so idle keys simply vanish.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
// The longest span sent to a script: the in-memory store's.
use talkjs_transport::MAX_SPAN;

/// `reserve`. KEYS[1]: the key. ARGV: interval, tolerance, maximum wait (all µs; the
/// maximum wait is -1 for "any"). Returns `{granted (1 or 0), wait in µs}`.
const RESERVE: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored and stored > now then tat = stored end
local wait = tat - tau - now
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then
  return {0, wait}
end
local next_tat = tat + interval
local ttl_ms = math.floor((next_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', ttl_ms)
return {1, wait}
";

/// `penalize`. KEYS[1]: the key. ARGV: pause, tolerance (µs). Moves the TAT to
/// `now + pause + tolerance` unless it is already later. Returns 1 if it moved, 0 if not.
const PENALIZE: &str = r"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local target = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
if stored and stored >= target then
  return 0
end
local ttl_ms = math.floor((target - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', target), 'PX', ttl_ms)
return 1
";

/// The reserve script; its SHA1 is computed once, `EVALSHA` loads it on `NOSCRIPT`.
pub(crate) static RESERVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RESERVE));

/// The penalize script.
pub(crate) static PENALIZE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PENALIZE));

/// `d` in whole microseconds, clamped to [`MAX_SPAN`], rounded down.
pub(crate) fn micros_floor(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_micros()).unwrap_or(i64::MAX)
}

/// `d` in whole microseconds, clamped to [`MAX_SPAN`], rounded up (for the interval, so the
/// sustained rate is never faster than asked).
pub(crate) fn micros_ceil(d: Duration) -> i64 {
    i64::try_from(d.min(MAX_SPAN).as_nanos().div_ceil(1_000)).unwrap_or(i64::MAX)
}

/// A wait returned by a script, in microseconds, as a duration (negative: zero).
pub(crate) fn duration_from_micros(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_toward_the_slower_rate_and_stay_exact_in_lua() {
        assert_eq!(micros_floor(Duration::from_nanos(111_111_111)), 111_111);
        // The interval rounds up: never a faster rate than asked.
        assert_eq!(micros_ceil(Duration::from_nanos(111_111_111)), 111_112);
        assert_eq!(micros_ceil(Duration::from_millis(20)), 20_000);
        // Absurd spans are clamped like the in-memory store's, and stay below 2^53, where
        // Lua's doubles are still exact integers (with room for `now` and a sum).
        assert_eq!(micros_floor(Duration::MAX), micros_floor(MAX_SPAN));
        assert_eq!(micros_ceil(Duration::MAX), micros_ceil(MAX_SPAN));
        assert!(4 * micros_ceil(Duration::MAX) < 1_i64 << 53);
        assert_eq!(duration_from_micros(-5), Duration::ZERO);
        assert_eq!(duration_from_micros(1_500), Duration::from_micros(1_500));
    }
}
