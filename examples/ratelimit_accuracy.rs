//! How close the client-side rate limiter gets to the allowed rate without a single 429.
//!
//! Many concurrent callers (clones of one client) hammer the fake TalkJS server, which enforces
//! TalkJS's limits with time running 20 times faster (burst 600, then 180 per second instead
//! of 9). The client's limiter keeps a small margin, as a real deployment would: a burst 10
//! below the server's (slack for requests that reach the server in a different order or
//! spacing than the limiter released them) and a rate 1% below. The program prints the requests the
//! server admitted against what the limit allows, and the 429s it answered.
//!
//! ```sh
//! cargo run --release --example ratelimit_accuracy            # 5 s, 32 callers
//! cargo run --release --example ratelimit_accuracy -- 10 64   # 10 s, 64 callers
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use talkjs::Client;
use talkjs::models::UserUpsert;
use talkjs::transport::{Quota, RateLimiter};
use talkjs_fake::{FakeTalkJs, RateLimitConfig};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// How much faster than real time the limit runs.
const TIME_SCALE: f64 = 20.0;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let callers: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);

    let server_limit = RateLimitConfig {
        time_scale: TIME_SCALE,
        ..RateLimitConfig::TALKJS
    };
    let fake = FakeTalkJs::start().await?;
    let rate = server_limit.per_second * TIME_SCALE;
    // The client: 10 below the server's burst, 1% below its sustained rate.
    let interval = Duration::from_secs_f64(1.0 / (rate * 0.99));
    let limiter = RateLimiter::new(fake.app_id())
        .general_quota(Quota::with_interval(interval, server_limit.burst - 10));
    let client = Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(Some(limiter))
        // Report 429s instead of hiding them behind retries.
        .retry(None)
        .build()?;
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await?;
    // Start counting from a full bucket: the limits go on from here.
    fake.set_rate_limit(server_limit);
    fake.reset_counters();

    println!(
        "{callers} callers for {seconds} s against burst {} + {rate:.0}/s (TalkJS's limits x{TIME_SCALE})",
        server_limit.burst
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let client = client.clone();
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if client.users().get("alice").await.is_err() {
                    errors += 1;
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let admitted_until = started.elapsed();
    let admitted = fake.request_count() - fake.count_429();
    let mut errors = 0;
    for task in tasks {
        errors += task.await?;
    }

    let elapsed = admitted_until.as_secs_f64();
    let allowed = f64::from(server_limit.burst) + rate * elapsed;
    #[allow(clippy::cast_precision_loss)] // request counts are far below 2^52
    let admitted_f = admitted as f64;
    println!("admitted by the server: {admitted} in {elapsed:.2} s");
    println!("allowed by the limit:   {allowed:.0} (burst + rate x elapsed)");
    println!(
        "share of the allowed rate used: {:.1}%",
        100.0 * admitted_f / allowed
    );
    println!(
        "sustained: {:.1}/s after the burst, vs {rate:.0}/s allowed",
        (admitted_f - f64::from(server_limit.burst)) / elapsed
    );
    println!("429 answers: {}; failed calls: {errors}", fake.count_429());
    Ok(())
}
