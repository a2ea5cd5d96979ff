//! Several replicas of one service, one TalkJS rate limit: each replica's client keeps its
//! rate-limit state in the same Redis, so together they stay under the app's limit.
//!
//! ```sh
//! redis-server --port 6379 --save "" &   # or any Redis 5+; REDIS_URL to point elsewhere
//! cargo run -p talkjs-ratelimit-redis --example distributed_rate_limit
//! ```
//!
//! It starts the in-process fake TalkJS server with a time-scaled limit (20 at once, 50 per
//! second, instead of TalkJS's 600 and 9 per second), then runs four "replicas" (four
//! clients with four separate limiters and Redis connections, as four processes would
//! have), each with several concurrent callers, and prints how many requests went through,
//! at what rate, and how many got `429 Too Many Requests` (none).
//!
//! Without a reachable Redis it still runs: each replica falls back to its own limiter with
//! a quarter of the quota (`.replicas(4)`), after one warning.
//!
//! In production, keep TalkJS's quotas (the `RateLimiter::new` defaults) and only add the
//! store:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = talkjs_ratelimit_redis::RedisStore::builder()
//!     .replicas(4)
//!     .open(std::env::var("REDIS_URL")?)?;
//! let limiter = talkjs_transport::RateLimiter::new("tNCnKd4d").with_store(Arc::new(store));
//! # let _ = limiter; Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use talkjs_api::Client;
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_models::UserUpsert;
use talkjs_ratelimit_redis::RedisStore;
use talkjs_transport::{Quota, RateLimiter};

const REPLICAS: u32 = 4;
const CALLERS_PER_REPLICA: usize = 5;
const CALLS_PER_CALLER: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Shows the store's warning if Redis is unreachable.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .init();

    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());

    // The TalkJS app: the fake, limited to 20 at once and 50 per second.
    let fake = FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 20,
            per_second: 50.0,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await?;
    // What each replica is configured with: a little under the server's limit, as the
    // defaults are for TalkJS's (600 at once, 9 per second).
    let quota = Quota::per_second(45, 10);

    // The replicas: each its own store (own Redis connection), limiter and client.
    let mut replicas = Vec::new();
    for replica in 0..REPLICAS {
        let store = Arc::new(
            RedisStore::builder()
                .replicas(REPLICAS)
                .open(redis_url.as_str())?,
        );
        if let Err(error) = store.connect().await {
            // `addr()`, not the URL: the URL may carry a password.
            println!(
                "replica {replica}: Redis at {} is unreachable ({error})",
                store.addr()
            );
        }
        let limiter = RateLimiter::new(fake.app_id())
            .general_quota(quota)
            .with_store(store.clone());
        let client = Client::builder(fake.app_id(), fake.secret_key())
            .base_url(fake.base_url())
            .rate_limiter(Some(limiter))
            .build()?;
        replicas.push((client, store));
    }

    replicas[0]
        .0
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await?;

    let start = Instant::now();
    let mut tasks = Vec::new();
    for (client, _) in &replicas {
        for _ in 0..CALLERS_PER_REPLICA {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..CALLS_PER_CALLER {
                    client.users().get("alice").await?;
                }
                Ok::<_, talkjs_api::Error>(())
            }));
        }
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed();

    let sent = REPLICAS as usize * CALLERS_PER_REPLICA * CALLS_PER_CALLER;
    println!(
        "{REPLICAS} replicas x {CALLERS_PER_REPLICA} callers x {CALLS_PER_CALLER} calls: {sent} \
         requests in {:.2} s ({:.1}/s after the burst; the shared limit: 45/s, burst 10)",
        elapsed.as_secs_f64(),
        rate_after_burst(sent, 10, elapsed),
    );
    println!(
        "the server saw {} requests and answered {} with 429",
        fake.request_count(),
        fake.count_429()
    );
    for (i, (_, store)) in replicas.iter().enumerate() {
        println!("replica {i}: {:?}", store.stats());
    }
    fake.shutdown();
    Ok(())
}

/// Requests per second beyond the initial burst.
fn rate_after_burst(sent: usize, burst: usize, elapsed: Duration) -> f64 {
    let beyond = u32::try_from(sent.saturating_sub(burst)).unwrap_or(u32::MAX);
    f64::from(beyond) / elapsed.as_secs_f64().max(1e-3)
}
