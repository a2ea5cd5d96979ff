//! `bulk` (issue 17): a whole workload through `client.bulk()` against the fake TalkJS server
//! enforcing TalkJS's limits scaled ×10 in time, compared with the physical minimum and with
//! the way TalkJS's example scripts do it.
//!
//! Run: `cargo bench --bench bulk` (about three minutes: ~17 s per latency for the bulk run,
//! and the one-at-a-time sample takes 320 round trips, 96 s of them at 300 ms).
//!
//! - Workload: 5,000 users, 1,000 conversations of 3 participants (given in each
//!   conversation's `PUT`), 10,000 messages, 10 per conversation, each conversation's in a
//!   row. It is generated lazily: `run_iter` gets an iterator, never a `Vec` of the whole.
//! - Server: `talkjs-fake` with [`RateLimitConfig::TALKJS`] at `time_scale` 10 (burst 600,
//!   then 90 requests/s; a 429 is answered before authentication and processing), and a
//!   fixed delay per request (no jitter), the round-trip time, added before the limit check.
//! - Client: the default talkjs client with its rate limiter set to the same quota, less the
//!   default limiter's margin (`Quota::per_second(90, 600).below(RateLimiter::DEFAULT_BURST_MARGIN)`,
//!   a burst of 590, as `RateLimiter::new` keeps below TalkJS's 600), and `bulk()` with its
//!   defaults (64 requests in flight).
//! - The physical minimum: `max((N − 600) / 90 s, chain × RTT)`, where N is the fewest requests
//!   the API allows for the workload (users 100 to a `PUT /users`, a conversation with its
//!   participants in one `PUT`, 10 messages of one conversation to a send) and chain the
//!   longest chain of dependent requests (user → conversation → messages).
//! - The baseline "one at a time", as TalkJS's example scripts do it: one item per request
//!   (`PUT /users/{id}`, the conversation `PUT`, one message per send), one request at a
//!   time, through a client with the same limiter, on the first 1/50 of the workload (100
//!   users, 20 conversations, 200 messages), its time scaled ×50. At 20 ms or more one request
//!   at a time stays under 90/s, so the scaling is linear.
//!
//! The client runs in a child process (this binary again, with `TALKJS_BENCH_BULK_ROLE` set),
//! the fake in this one, so the client's peak-RSS growth (`VmHWM`, reset through
//! `/proc/self/clear_refs`) is the client's alone: the fake keeps everything loaded.
//!
//! Settings (environment): `TALKJS_BENCH_BULK_LATENCIES=20,50,300` (milliseconds; the
//! default), `TALKJS_BENCH_BULK_IN_FLIGHT=N` (the runner's `in_flight`; default: its own),
//! `TALKJS_BENCH_BULK_BASELINE=0` (skip the one-at-a-time sample),
//! `TALKJS_BENCH_BULK_CLIENT_BURST=N` (the client limiter's burst instead of 590; 600 is no
//! margin at all),
//! `TALKJS_BENCH_BULK_MEMORY=0` (skip the memory check: 1×, 4× and 16× the workload with no limits),
//! `TALKJS_BENCH_BULK_INTERLEAVED_ROW=0` (skip the interleaved row below).
//!
//! - Import sizes (issue 25, `TALKJS_BENCH_BULK_IMPORT_ROW=0` skips it): 100 conversations ×
//!   100 imported messages at 50 ms into a fake that takes 100 messages an import and one that
//!   takes 10, each beside its physical minimum.
//! - Interleaved (issue 24): the 1,000 conversations × 10 messages at 50 ms, grouped by
//!   conversation and as a chronological log (round robin), requests and wall time side by
//!   side. Target: the log takes <= 1.05 × the grouped requests.
//!
//! - Share (issue 26): the same workload as a bulk job limited to **50 %** of the limit (burst
//!   295, 45 requests/s: half of the client's 590 and of 90/s) on a key of its own in Redis,
//!   and inside that to the app's limit (590, 90/s) on the key it shares, through the same
//!   `redis-server`, with a "live app": another process calling `GET /users/{id}` 30 times a
//!   second through the shared key only, for the whole run. Targets: the job within 1.05 x
//!   its own physical minimum, `max((N - 295) / 45 s, chain x RTT)`, and no 429 at all (the
//!   live app's calls all answered). Needs `redis-server` on `PATH`. Latency 20 ms unless
//!   `TALKJS_BENCH_BULK_SHARE_LATENCY=MS`.
//!
//! `TALKJS_BENCH_BULK_ONLY=share` runs the share variant alone (`=main`: everything else);
//! `TALKJS_BENCH_BULK_SHARE=0` leaves it out.
//!
//! Under `cargo test --benches` (no `--bench` flag) it runs a 1/50 workload once, as a smoke
//! test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::secs;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use talkjs::api::{MAX_MESSAGES_PER_REQUEST, MAX_USERS_PER_BATCH};
use talkjs::models::{ConversationUpsert, ImportMessage, NewMessage, Timestamp, UserUpsert};
use talkjs::runtime::{ClientExt, bulk};
use talkjs::transport::{Quota, RateLimitLayer, RateLimiter};
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_test_support::redis_server;

/// TalkJS's limits, time running ten times faster.
const TIME_SCALE: f64 = 10.0;
/// The burst of the scaled limits (TalkJS's, unchanged by the time scale).
const BURST: u32 = RateLimitConfig::TALKJS.burst;
/// Requests per second of the scaled limits: 9 × 10.
const PER_SECOND: u32 = 90;
/// The baseline runs the first 1/SAMPLE of the workload.
const SAMPLE: usize = 50;

/// The environment variable that makes this binary the client of one run.
const ROLE: &str = "TALKJS_BENCH_BULK_ROLE";

/// A workload: `users` users, `conversations` conversations of 3 of them, `per_conversation`
/// messages in each.
#[derive(Debug, Clone, Copy)]
struct Workload {
    users: usize,
    conversations: usize,
    per_conversation: usize,
    /// The messages as a chronological log (round robin: every conversation's first
    /// message, then every second one, ...) instead of each conversation's in a row.
    interleaved: bool,
    /// The messages as imports (with their original time) instead of sends; `Some(n)`: the
    /// fake takes `n` messages an import (100 as TalkJS's transfer example sends, or 10 as
    /// its reference page says).
    imports: Option<usize>,
}

impl Workload {
    const FULL: Self = Self {
        users: 5_000,
        conversations: 1_000,
        per_conversation: 10,
        interleaved: false,
        imports: None,
    };
    const PARTICIPANTS: usize = 3;

    /// `1/divisor` of the users and conversations (the same messages per conversation).
    fn part(self, divisor: usize) -> Self {
        Self {
            users: self.users / divisor,
            conversations: self.conversations / divisor,
            ..self
        }
    }

    /// `factor` times the users and conversations.
    fn times(self, factor: usize) -> Self {
        Self {
            users: self.users * factor,
            conversations: self.conversations * factor,
            ..self
        }
    }

    fn messages(self) -> usize {
        self.conversations * self.per_conversation
    }

    fn items(self) -> usize {
        self.users + self.conversations + self.messages()
    }

    /// The workload's items, made one at a time as they are read: the users, then the
    /// conversations (conversation `c` has users `3c`, `3c + 1`, `3c + 2`), then the messages,
    /// each conversation's in a row, sent in turn by its participants.
    fn generate(self) -> impl Iterator<Item = bulk::Item> {
        assert!(self.conversations * Self::PARTICIPANTS <= self.users);
        let users = (0..self.users).map(|u| bulk::Item::User {
            id: user_id(u),
            user: UserUpsert::new()
                .name(format!("User {u}"))
                .email([format!("user{u}@example.com")]),
        });
        let conversations = (0..self.conversations).map(|c| bulk::Item::Conversation {
            id: conversation_id(c),
            conversation: ConversationUpsert::new()
                .subject(format!("Conversation {c}"))
                .participants((0..Self::PARTICIPANTS).map(|p| user_id(c * Self::PARTICIPANTS + p))),
        });
        let (per, count) = (self.per_conversation, self.conversations);
        let imports = self.imports.is_some();
        let message = move |c: usize, m: usize| {
            let sender = user_id(c * Self::PARTICIPANTS + m % Self::PARTICIPANTS);
            let text = format!("Message {m} of conversation {c}");
            if imports {
                let at = Timestamp::from_millis(1_600_000_000_000 + (c * 1000 + m) as u64);
                bulk::Item::Import {
                    conversation: conversation_id(c),
                    message: ImportMessage::new(sender, text, at),
                }
            } else {
                bulk::Item::Send {
                    conversation: conversation_id(c),
                    message: NewMessage::user(sender, text)
                        .idempotency_key(format!("bench-{c}-{m}")),
                }
            }
        };
        // (conversation, message) in input order.
        let order: Box<dyn Iterator<Item = (usize, usize)>> = if self.interleaved {
            Box::new((0..per).flat_map(move |m| (0..count).map(move |c| (c, m))))
        } else {
            Box::new((0..count).flat_map(move |c| (0..per).map(move |m| (c, m))))
        };
        users
            .chain(conversations)
            .chain(order.map(move |(c, m)| message(c, m)))
    }

    /// The fewest requests the API allows: users 100 to a `PUT /users`, one `PUT` per
    /// conversation with its participants, messages 10 to a send per conversation.
    fn min_requests(self) -> usize {
        self.users.div_ceil(MAX_USERS_PER_BATCH)
            + self.conversations
            + self.conversations * self.per_conversation.div_ceil(self.per_request())
    }

    /// Messages in one request: 10 to a send, or what the fake takes in one import.
    fn per_request(self) -> usize {
        self.imports.unwrap_or(MAX_MESSAGES_PER_REQUEST)
    }

    /// The longest chain of requests that must follow one another: a user's `PUT /users`,
    /// then its conversation's `PUT`, then that conversation's sends, one after the other.
    fn chain(self) -> usize {
        2 + self.per_conversation.div_ceil(self.per_request())
    }

    /// The time for the fewest requests to pass the limiter: the burst at once, the rest at
    /// the sustained rate.
    fn limiter_time(self) -> Duration {
        let beyond = self.min_requests().saturating_sub(BURST as usize);
        let beyond = u32::try_from(beyond).expect("requests");
        Duration::from_secs_f64(f64::from(beyond) / f64::from(PER_SECOND))
    }
}

fn user_id(u: usize) -> String {
    format!("user{u:05}")
}

fn conversation_id(c: usize) -> String {
    format!("conv{c:04}")
}

// ---------------------------------------------------------------------------------------
// The client side (child process)

/// The talkjs client of a run: the default stack, the limiter at the scaled quota.
fn client(base_url: &str, app_id: &str, secret_key: &str) -> talkjs::Client {
    let quota = if std::env::var_os("TALKJS_BENCH_BULK_UNLIMITED").is_some() {
        Quota::per_second(1_000_000, 1_000_000)
    } else {
        Quota::per_second(PER_SECOND, client_burst())
    };
    let limiter = RateLimiter::new(app_id).general_quota(quota);
    talkjs::Client::builder(app_id, secret_key)
        .base_url(base_url)
        .rate_limiter(Some(limiter))
        .build()
        .expect("talkjs client")
}

/// The 50 % share of the scaled limit: half the client's burst, every other slot.
fn share_quota() -> Quota {
    Quota::with_interval(
        Quota::per_second(PER_SECOND, 1).interval() * 2,
        (BURST - RateLimiter::DEFAULT_BURST_MARGIN) / 2,
    )
}

/// The app's scaled limit as every client of it keeps under it (less the margin).
fn app_quota() -> Quota {
    Quota::per_second(PER_SECOND, BURST - RateLimiter::DEFAULT_BURST_MARGIN)
}

/// A client keeping under the app's limit in Redis at `redis_url`, and first under the 50 %
/// share on a key of its own with `share`: `talkjs import --rate 50% --redis-url URL`.
async fn redis_client(
    base_url: &str,
    app_id: &str,
    secret_key: &str,
    redis_url: &str,
    share: bool,
) -> talkjs::Client {
    let store = talkjs_ratelimit_redis::RedisStore::open(redis_url).expect("redis url");
    store.connect().await.expect("redis");
    let store: std::sync::Arc<dyn talkjs::transport::RateLimitStore> = std::sync::Arc::new(store);
    let app = RateLimiter::new(app_id)
        .general_quota(app_quota())
        .with_store(store.clone());
    let builder = talkjs::Client::builder(app_id, secret_key).base_url(base_url);
    let builder = if share {
        let share = RateLimiter::new(format!("{app_id}:bulk"))
            .general_quota(share_quota())
            .with_store(store);
        builder
            .rate_limiter(Some(share))
            .layer(RateLimitLayer::new(app))
    } else {
        builder.rate_limiter(Some(app))
    };
    builder.build().expect("talkjs client")
}

/// The live app: `GET /users/live` 30 times a second until standard input closes; prints
/// `result calls=… failed=… p50_us=… p99_us=… max_us=…`.
fn live_main(client: &talkjs::Client, rt: &tokio::runtime::Runtime) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let (mut latencies, mut failed) = (Vec::new(), 0usize);
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            tick.tick().await;
            let start = Instant::now();
            if let Err(e) = client.users().get("live").await {
                failed += 1;
                eprintln!("live: {e}");
            }
            latencies.push(start.elapsed());
        }
    });
    latencies.sort();
    let at = |percent: usize| {
        let i = latencies.len().saturating_sub(1) * percent / 100;
        latencies.get(i).map_or(0, Duration::as_micros)
    };
    println!(
        "result calls={} failed={failed} p50_us={} p99_us={} max_us={}",
        latencies.len(),
        at(50),
        at(99),
        at(100)
    );
}

/// The burst of the client's limiter: the server's less the default limiter's margin, unless
/// `TALKJS_BENCH_BULK_CLIENT_BURST` says otherwise.
fn client_burst() -> u32 {
    std::env::var("TALKJS_BENCH_BULK_CLIENT_BURST")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(BURST - RateLimiter::DEFAULT_BURST_MARGIN)
}

/// One item per request, one request at a time, as TalkJS's example scripts do.
async fn one_at_a_time(
    client: &talkjs::Client,
    items: impl Iterator<Item = bulk::Item>,
) -> (usize, usize) {
    let (mut requests, mut failed) = (0, 0);
    for item in items {
        let result = match item {
            bulk::Item::User { id, user } => client.users().upsert(&id, &user).await,
            bulk::Item::Conversation { id, conversation } => {
                client.conversations().upsert(&id, &conversation).await
            }
            bulk::Item::Send {
                conversation,
                message,
            } => client
                .conversations()
                .messages(conversation)
                .send([message])
                .await
                .map(drop),
            other => panic!("not in the workload: {other:?}"),
        };
        requests += 1;
        failed += usize::from(result.is_err());
    }
    (requests, failed)
}

/// The child: runs one workload against the fake named in the environment and prints one
/// `result key=value …` line.
fn client_main(role: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"));
    let base_url = var("TALKJS_BENCH_BULK_URL");
    let app_id = var("TALKJS_BENCH_BULK_APP");
    let secret_key = var("TALKJS_BENCH_BULK_KEY");
    let workload = Workload {
        users: var("TALKJS_BENCH_BULK_USERS").parse().expect("users"),
        conversations: var("TALKJS_BENCH_BULK_CONVERSATIONS")
            .parse()
            .expect("conversations"),
        per_conversation: var("TALKJS_BENCH_BULK_PER_CONVERSATION")
            .parse()
            .expect("messages per conversation"),
        interleaved: std::env::var("TALKJS_BENCH_BULK_INTERLEAVED").is_ok(),
        imports: std::env::var("TALKJS_BENCH_BULK_IMPORTS")
            .ok()
            .and_then(|n| n.parse().ok()),
    };
    let in_flight: Option<usize> = std::env::var("TALKJS_BENCH_BULK_IN_FLIGHT")
        .ok()
        .and_then(|n| n.parse().ok());
    let rt = common::client_runtime();
    let redis_url = std::env::var("TALKJS_BENCH_BULK_REDIS").ok();
    let client = rt.block_on(async {
        match (&redis_url, role) {
            (Some(url), "live") => redis_client(&base_url, &app_id, &secret_key, url, false).await,
            (Some(url), _) => redis_client(&base_url, &app_id, &secret_key, url, true).await,
            (None, _) => client(&base_url, &app_id, &secret_key),
        }
    });
    if role == "live" {
        live_main(&client, &rt);
        return;
    }
    let rss_before = common::reset_peak_rss();
    let start = Instant::now();
    let (requests, succeeded, failed) = match role {
        "bulk" => {
            let mut bulk = client.bulk();
            if let Some(n) = in_flight {
                bulk = bulk.in_flight(n);
            }
            let report = rt.block_on(bulk.run_iter(workload.generate()));
            if let Some(first) = report.failed.first() {
                eprintln!(
                    "bulk: {} items failed, the first: {first:?}",
                    report.failed.len()
                );
            }
            (report.requests, report.landed, report.failed.len())
        }
        "one_at_a_time" => {
            let (requests, failed) = rt.block_on(one_at_a_time(&client, workload.generate()));
            (requests, requests - failed, failed)
        }
        other => panic!("unknown {ROLE} {other:?}"),
    };
    let wall = start.elapsed();
    let growth = match (rss_before, common::status_kib("VmHWM:")) {
        (Some(before), Some(peak)) => peak.saturating_sub(before).to_string(),
        _ => "unknown".to_owned(),
    };
    println!(
        "result wall_ns={} requests={requests} succeeded={succeeded} failed={failed} peak_rss_growth_kib={growth}",
        wall.as_nanos()
    );
}

// ---------------------------------------------------------------------------------------
// The server side (this process)

/// What a child reported.
#[derive(Debug)]
struct Outcome {
    wall: Duration,
    requests: usize,
    succeeded: usize,
    failed: usize,
    peak_rss_growth_kib: Option<u64>,
}

/// A fake with the scaled limits (or none) and a fixed delay per request.
fn start_fake(server: &tokio::runtime::Runtime, latency: Duration, limited: bool) -> FakeTalkJs {
    let limits = limited.then_some(RateLimitConfig {
        time_scale: TIME_SCALE,
        ..RateLimitConfig::TALKJS
    });
    common::start_fake(server, latency, limits)
}

/// Runs `role` on `workload` in a child process against `fake`.
fn run_client(role: &str, fake: &FakeTalkJs, workload: Workload) -> Outcome {
    run_client_with(role, fake, workload, false)
}

/// [`run_client`], with the client's limiter off (`unlimited`) for the memory check.
fn run_client_with(role: &str, fake: &FakeTalkJs, workload: Workload, unlimited: bool) -> Outcome {
    let env: &[(&str, String)] = if unlimited {
        &[("TALKJS_BENCH_BULK_UNLIMITED", String::new())]
    } else {
        &[]
    };
    run_client_env(role, fake, workload, env)
}

/// [`run_client`], with more environment for the child.
fn run_client_env(
    role: &str,
    fake: &FakeTalkJs,
    workload: Workload,
    env: &[(&str, String)],
) -> Outcome {
    let exe = std::env::current_exe().expect("this binary");
    let mut command = Command::new(exe);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    if workload.interleaved {
        command.env("TALKJS_BENCH_BULK_INTERLEAVED", "1");
    }
    if let Some(n) = workload.imports {
        command.env("TALKJS_BENCH_BULK_IMPORTS", n.to_string());
    }
    command
        .env(ROLE, role)
        .env("TALKJS_BENCH_BULK_URL", fake.base_url())
        .env("TALKJS_BENCH_BULK_APP", fake.app_id())
        .env("TALKJS_BENCH_BULK_KEY", fake.secret_key())
        .env("TALKJS_BENCH_BULK_USERS", workload.users.to_string())
        .env(
            "TALKJS_BENCH_BULK_CONVERSATIONS",
            workload.conversations.to_string(),
        )
        .env(
            "TALKJS_BENCH_BULK_PER_CONVERSATION",
            workload.per_conversation.to_string(),
        )
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let output = command.output().expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "client failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line in {stdout:?}"));
    let fields: HashMap<&str, &str> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let number = |key: &str| -> u64 {
        fields
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} missing in {line:?}"))
    };
    let count = |key: &str| usize::try_from(number(key)).expect("count");
    Outcome {
        wall: Duration::from_nanos(number("wall_ns")),
        requests: count("requests"),
        succeeded: count("succeeded"),
        failed: count("failed"),
        peak_rss_growth_kib: fields
            .get("peak_rss_growth_kib")
            .and_then(|v| v.parse().ok()),
    }
}

fn memory(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unknown".to_owned(),
        |k| {
            format!(
                "{:.1} MiB",
                f64::from(u32::try_from(k).unwrap_or(u32::MAX)) / 1024.0
            )
        },
    )
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).map_or(true, |v| v != "0")
}

/// The bulk run and the one-at-a-time sample at one latency.
fn at_latency(server: &tokio::runtime::Runtime, latency: Duration, baseline: bool) {
    let workload = Workload::FULL;
    let rtt = latency.as_secs_f64();
    let ms = latency.as_millis();
    let n = workload.min_requests();
    let limiter_time = workload.limiter_time();
    let chain_time = latency * u32::try_from(workload.chain()).expect("chain");
    let minimum = limiter_time.max(chain_time);
    println!("bulk latency {ms} ms:");
    println!(
        "  physical minimum  {} = max(({n} requests - {BURST} burst) / {PER_SECOND}/s = {}, {} dependent requests x {ms} ms = {})",
        secs(minimum),
        secs(limiter_time),
        workload.chain(),
        secs(chain_time),
    );

    let fake = start_fake(server, latency, true);
    let (ours, seen) = common::watch(&fake, BURST, || run_client("bulk", &fake, workload));
    let refusals = seen.refusals;
    let ratio = ours.wall.as_secs_f64() / minimum.as_secs_f64();
    let target = if ms <= 50 { 1.05 } else { 1.10 };
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let (count_429, received) = (fake.count_429(), fake.request_count());
    let landed = (
        fake.users().len(),
        fake.conversations().len(),
        fake.message_count(),
    );
    drop(fake);
    println!(
        "  bulk (ours)       {} = {ratio:.3} x minimum (target <= {target:.2}: {}); the last answer alone needs +{ms} ms ({:.3} x)",
        secs(ours.wall),
        verdict(ratio <= target),
        (minimum.as_secs_f64() + rtt) / minimum.as_secs_f64(),
    );
    println!(
        "                    requests sent {} (server received {received}), 429s {count_429} (target 0: {}); items {} ok, {} failed; landed {} users, {} conversations, {} messages",
        ours.requests,
        verdict(count_429 == 0),
        ours.succeeded,
        ours.failed,
        landed.0,
        landed.1,
        landed.2,
    );
    for (at, received) in &refusals {
        println!(
            "                    a 429 at {} after the first request, the server having received {received} requests",
            secs(*at)
        );
    }
    println!(
        "                    client peak RSS growth {}",
        memory(ours.peak_rss_growth_kib)
    );

    if !baseline {
        return;
    }
    let sample = workload.part(SAMPLE);
    let fake = start_fake(server, latency, true);
    let theirs = run_client("one_at_a_time", &fake, sample);
    let sample_429 = fake.count_429();
    drop(fake);
    let scaled = theirs.wall * u32::try_from(SAMPLE).expect("sample");
    println!(
        "  one at a time     {} SCALED x{SAMPLE} from a 1/{SAMPLE} sample ({} requests in {}, {} failed, 429s {sample_429}): {} requests for the whole",
        secs(scaled),
        theirs.requests,
        secs(theirs.wall),
        theirs.failed,
        theirs.requests * SAMPLE,
    );
    println!(
        "  speed-up          {:.1} x (one at a time, scaled / ours)",
        scaled.as_secs_f64() / ours.wall.as_secs_f64()
    );
}

/// The share variant: the bulk job at 50 % of the limit in Redis beside a live app.
fn share_variant(server: &tokio::runtime::Runtime, latency: Duration) {
    let Some(redis) = redis_server::RedisServer::start("bulk share") else {
        println!("share: skipped (TALKJS_SKIP_REDIS=1)");
        return;
    };
    let workload = Workload::FULL;
    let ms = latency.as_millis();
    let quota = share_quota();
    let share_burst = quota.burst();
    let share_rate = 1.0 / quota.interval().as_secs_f64();
    let n = workload.min_requests();
    let beyond = u32::try_from(n)
        .expect("requests")
        .saturating_sub(share_burst);
    let limiter_time = Duration::from_secs_f64(f64::from(beyond) / share_rate);
    let chain_time = latency * u32::try_from(workload.chain()).expect("chain");
    let minimum = limiter_time.max(chain_time);
    println!("bulk share 50 % latency {ms} ms (Redis-shared limit, live app 30/s beside it):");
    println!(
        "  physical minimum  {} = max(({n} requests - {share_burst} burst) / {share_rate:.1}/s = {}, {} dependent requests x {ms} ms = {})",
        secs(minimum),
        secs(limiter_time),
        workload.chain(),
        secs(chain_time),
    );
    let fake = start_fake(server, latency, true);
    server.block_on(async {
        let setup = talkjs::Client::builder(fake.app_id(), fake.secret_key())
            .base_url(fake.base_url())
            .build()
            .expect("client");
        setup
            .users()
            .upsert("live", &talkjs::models::UserUpsert::new().name("Live"))
            .await
            .expect("live user");
    });
    let exe = std::env::current_exe().expect("this binary");
    let mut live_app = Command::new(exe)
        .env(ROLE, "live")
        .env("TALKJS_BENCH_BULK_URL", fake.base_url())
        .env("TALKJS_BENCH_BULK_APP", fake.app_id())
        .env("TALKJS_BENCH_BULK_KEY", fake.secret_key())
        .env("TALKJS_BENCH_BULK_USERS", "0")
        .env("TALKJS_BENCH_BULK_CONVERSATIONS", "0")
        .env("TALKJS_BENCH_BULK_PER_CONVERSATION", "0")
        .env("TALKJS_BENCH_BULK_REDIS", redis.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("live app");
    std::thread::sleep(Duration::from_millis(500));
    let ours = run_client_env(
        "bulk",
        &fake,
        workload,
        &[("TALKJS_BENCH_BULK_REDIS", redis.url())],
    );
    drop(live_app.stdin.take());
    let output = live_app.wait_with_output().expect("live app output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let live_result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_default()
        .to_owned();
    let (count_429, received) = (fake.count_429(), fake.request_count());
    drop(fake);
    let ratio = ours.wall.as_secs_f64() / minimum.as_secs_f64();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "  bulk job (50 %)   {} = {ratio:.3} x its minimum (target <= 1.05: {}); requests {}, items {} ok, {} failed",
        secs(ours.wall),
        verdict(ratio <= 1.05),
        ours.requests,
        ours.succeeded,
        ours.failed,
    );
    println!(
        "  live app          {live_result}; 429s at the server (both clients) {count_429} (target 0: {}); server received {received}",
        verdict(count_429 == 0),
    );
}

/// The client's peak-RSS growth at 1×, 4× and 16× the workload, with no limits (neither the
/// server's nor the client's) and no latency: streamed input keeps it flat once the runner's
/// read-ahead is full.
fn memory_check(server: &tokio::runtime::Runtime) {
    for factor in [1, 4, 16] {
        let workload = Workload::FULL.times(factor);
        let fake = start_fake(server, Duration::ZERO, false);
        let outcome = run_client_with("bulk", &fake, workload, true);
        drop(fake);
        println!(
            "memory bulk: x{factor} workload ({} items, {} requests, no limits, no latency): client peak RSS growth {} ({} failed, {})",
            workload.items(),
            outcome.requests,
            memory(outcome.peak_rss_growth_kib),
            outcome.failed,
            secs(outcome.wall),
        );
    }
}

/// Issue 24: the same messages as a chronological log (round robin over the 1,000
/// conversations) and grouped by conversation, at 50 ms: requests and wall time side by side.
/// Target: the log takes <= 1.05 x the grouped requests.
fn interleaved_variant(server: &tokio::runtime::Runtime) {
    let latency = Duration::from_millis(50);
    let grouped = Workload::FULL;
    let interleaved = Workload {
        interleaved: true,
        ..grouped
    };
    println!(
        "bulk interleaved (issue 24), latency 50 ms: {} conversations x {} messages, the same items grouped by conversation and as a chronological log",
        grouped.conversations, grouped.per_conversation
    );
    let mut rows = Vec::new();
    for (name, workload) in [("grouped", grouped), ("interleaved", interleaved)] {
        let fake = start_fake(server, latency, true);
        let outcome = run_client("bulk", &fake, workload);
        assert_eq!(outcome.failed, 0, "{name}");
        println!(
            "  {name:<12} {} requests, {}, peak RSS growth {} KiB",
            outcome.requests,
            secs(outcome.wall),
            outcome
                .peak_rss_growth_kib
                .map_or_else(|| "unknown".to_owned(), |k| k.to_string()),
        );
        rows.push(outcome);
    }
    let count = |n: usize| f64::from(u32::try_from(n).expect("requests"));
    let ratio = count(rows[1].requests) / count(rows[0].requests);
    let wall = rows[1].wall.as_secs_f64() / rows[0].wall.as_secs_f64();
    println!(
        "  interleaved / grouped: requests {ratio:.3} x (target <= 1.05: {}), wall time {wall:.3} x",
        if ratio <= 1.05 { "met" } else { "MISSED" }
    );
}

/// Issue 25: 100 conversations x 100 messages as imports at 50 ms, into a fake that takes 100
/// messages an import (TalkJS's transfer example) and one that takes 10 (its reference page):
/// the client tries 100, falls back to 10 after one refused probe, and each run is put beside
/// its own physical minimum.
fn import_sizes_variant(server: &tokio::runtime::Runtime) {
    let latency = Duration::from_millis(50);
    println!(
        "bulk import sizes (issue 25), latency 50 ms: 300 users, 100 conversations x 100 imported messages"
    );
    for size in [100, 10] {
        let workload = Workload {
            users: 300,
            conversations: 100,
            per_conversation: 100,
            interleaved: false,
            imports: Some(size),
        };
        let limits = RateLimitConfig {
            time_scale: TIME_SCALE,
            ..RateLimitConfig::TALKJS
        };
        let fake = common::start_fake_with(server, latency, Some(limits), size);
        let outcome = run_client("bulk", &fake, workload);
        assert_eq!(outcome.failed, 0, "{size}");
        let minimum = workload
            .limiter_time()
            .max(latency * u32::try_from(workload.chain()).expect("chain"));
        println!(
            "  fake takes {size:>3}: {} requests (minimum {}), {} = {:.3} x the physical minimum {}; {} messages landed",
            outcome.requests,
            workload.min_requests(),
            secs(outcome.wall),
            outcome.wall.as_secs_f64() / minimum.as_secs_f64(),
            secs(minimum),
            fake.message_count(),
        );
    }
}

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        client_main(&role);
        return;
    }
    let server = common::fake_runtime();

    if !common::bench_mode() {
        // `cargo test --benches`: a small run, to see that it works.
        let workload = Workload::FULL.part(SAMPLE);
        let fake = start_fake(&server, Duration::from_millis(1), true);
        let outcome = run_client("bulk", &fake, workload);
        assert_eq!(outcome.failed, 0);
        assert_eq!(outcome.succeeded, workload.items());
        assert_eq!(outcome.requests, workload.min_requests());
        assert_eq!(fake.count_429(), 0);
        println!(
            "bulk smoke test: {} items in {}",
            workload.items(),
            secs(outcome.wall)
        );
        let interleaved = Workload {
            interleaved: true,
            ..workload
        };
        let fake = start_fake(&server, Duration::from_millis(1), true);
        let outcome = run_client("bulk", &fake, interleaved);
        assert_eq!(outcome.failed, 0);
        assert_eq!(outcome.requests, workload.min_requests(), "interleaved");
        return;
    }

    let latencies: Vec<u64> = std::env::var("TALKJS_BENCH_BULK_LATENCIES")
        .unwrap_or_else(|_| "20,50,300".to_owned())
        .split(',')
        .filter(|ms| !ms.trim().is_empty())
        .map(|ms| ms.trim().parse().expect("latency in ms"))
        .collect();
    let workload = Workload::FULL;
    println!(
        "bulk: {} users, {} conversations x {} participants, {} messages ({} per conversation, in a row) = {} items; \
         limits burst {BURST}, {PER_SECOND}/s (TalkJS x{TIME_SCALE} in time); client limiter burst {}, {PER_SECOND}/s; fixed latency, no jitter",
        workload.users,
        workload.conversations,
        Workload::PARTICIPANTS,
        workload.messages(),
        workload.per_conversation,
        workload.items(),
        client_burst(),
    );
    let only = std::env::var("TALKJS_BENCH_BULK_ONLY").unwrap_or_default();
    if only != "share" {
        let baseline = env_flag("TALKJS_BENCH_BULK_BASELINE");
        for ms in latencies {
            at_latency(&server, Duration::from_millis(ms), baseline);
        }
        if env_flag("TALKJS_BENCH_BULK_MEMORY") {
            memory_check(&server);
        }
        if env_flag("TALKJS_BENCH_BULK_INTERLEAVED_ROW") {
            interleaved_variant(&server);
        }
        if env_flag("TALKJS_BENCH_BULK_IMPORT_ROW") {
            import_sizes_variant(&server);
        }
    }
    if only != "main" && env_flag("TALKJS_BENCH_BULK_SHARE") {
        let ms: u64 = std::env::var("TALKJS_BENCH_BULK_SHARE_LATENCY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        share_variant(&server, Duration::from_millis(ms));
    }
}
