//! The load benches against the fake (`bulk`, `migrate`): the fake's runtime, its start at
//! the bench's latency and limits, and a watcher of what it saw while a client ran.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::server::{APP_ID, SECRET_KEY};

/// The fake's own runtime in the process benches (bulk, migrate): one worker thread, apart
/// from the client's process.
pub fn fake_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime")
}

/// A fake TalkJS with `limits` (or none) and a fixed delay per request (the round-trip
/// time, no jitter), on the server runtime.
pub fn start_fake(
    server: &tokio::runtime::Runtime,
    latency: Duration,
    limits: Option<talkjs_fake::RateLimitConfig>,
) -> talkjs_fake::FakeTalkJs {
    start_fake_with(
        server,
        latency,
        limits,
        talkjs_fake::DEFAULT_MAX_IMPORT_BATCH,
    )
}

/// [`start_fake`], with a fake that takes `max_import_batch` messages in one import.
pub fn start_fake_with(
    server: &tokio::runtime::Runtime,
    latency: Duration,
    limits: Option<talkjs_fake::RateLimitConfig>,
    max_import_batch: usize,
) -> talkjs_fake::FakeTalkJs {
    server
        .block_on(
            talkjs_fake::FakeTalkJs::builder()
                .app_id(APP_ID)
                .secret_key(SECRET_KEY)
                .rate_limit(limits)
                .faults(talkjs_fake::Faults::none().latency(latency))
                .max_import_batch(max_import_batch)
                .start(),
        )
        .expect("fake")
}

/// What the fake saw while a client ran: when the first request arrived, when the
/// `burst`-th, when the last, and each 429 (when, and how many requests had arrived by then).
#[derive(Debug, Default)]
pub struct Seen {
    /// The first request's arrival, as Unix nanoseconds (to compare with another process).
    pub first_unix_ns: Option<u128>,
    /// The first request's arrival.
    pub first: Option<std::time::Instant>,
    /// When the `burst`-th request arrived, after the first.
    pub burst_end: Option<Duration>,
    /// When the last request arrived, after the first.
    pub last: Option<Duration>,
    /// Each 429: when, after the first request, and how many requests had arrived by then.
    pub refusals: Vec<(Duration, u64)>,
}

/// Runs `f` while watching the fake's counters every millisecond.
pub fn watch<T: Send>(
    fake: &talkjs_fake::FakeTalkJs,
    burst: u32,
    f: impl FnOnce() -> T + Send,
) -> (T, Seen) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut seen = Seen::default();
            let (mut received_before, mut refused_before) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                let received = fake.request_count();
                if received > 0 && seen.first.is_none() {
                    seen.first = Some(std::time::Instant::now());
                    seen.first_unix_ns = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .map(|d| d.as_nanos());
                }
                let since = seen.first.map_or(Duration::ZERO, |t| t.elapsed());
                if received > received_before {
                    seen.last = Some(since);
                    if received >= u64::from(burst) && seen.burst_end.is_none() {
                        seen.burst_end = Some(since);
                    }
                    received_before = received;
                }
                let refused = fake.count_429();
                if refused > refused_before {
                    seen.refusals
                        .extend((refused_before..refused).map(|_| (since, received)));
                    refused_before = refused;
                }
            }
            seen
        });
        let out = f();
        done.store(true, Ordering::Relaxed);
        (out, watcher.join().expect("watcher"))
    })
}
