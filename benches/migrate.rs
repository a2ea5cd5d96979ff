//! `migrate` (issue 18): a 10,000-message migration from a JSON lines file (as `talkjs export`
//! writes it) into the fake TalkJS server enforcing TalkJS's limits, through
//! `talkjs_migrate::Migration` with its SQLite journal, compared with the time the rate limit
//! allows.
//!
//! Run: `cargo bench --bench migrate` (TalkJS's limits ×10 in time: ~12 s a latency), or
//! `TALKJS_BENCH_MIGRATE_REAL=1 cargo bench --bench migrate` for TalkJS's real limits (burst
//! 600, 9 requests/s: ~1 min 45 s a latency).
//!
//! - Workload: 1,500 users, 500 conversations of 3 participants, 20 messages each (10,000
//!   messages), every 5th a reply, with read state, written to a JSON lines file in a fresh
//!   temporary directory (users, conversations, then each conversation's messages newest
//!   first, as `talkjs export` writes them); the journal beside it.
//! - Server: `talkjs-fake` with [`RateLimitConfig::TALKJS`] (at `time_scale` 10 unless
//!   `TALKJS_BENCH_MIGRATE_REAL=1`) and a fixed delay per request (no jitter), the round-trip
//!   time, added before the limit check.
//! - Client: the default talkjs client and its default limiter (`RateLimiter::new`: TalkJS's
//!   quota less `RateLimiter::DEFAULT_BURST_MARGIN`, a burst of 590), with the general quota
//!   ×10 (`Quota::per_second(90, 590)`) in the scaled variant; `Migration::from_file(..)
//!   .journal(..)` with its default concurrency unless `TALKJS_BENCH_MIGRATE_CONCURRENCY=N`.
//!   It runs in a child process (this binary again, with `TALKJS_BENCH_MIGRATE_ROLE` set) on a
//!   current-thread runtime, as `talkjs migrate` does; the fake runs in this one.
//! - The time the rate limit allows (the physical minimum): `max((N − 600) / rate, chain ×
//!   RTT)`, with the fake's burst of 600, N the fewest requests the API allows (users 100 to a
//!   `PUT /users`, one `PUT` per conversation with its participants, 100 messages of one
//!   conversation to an import, or 10 with `TALKJS_BENCH_MIGRATE_IMPORT_BATCH=10`) and chain the longest chain of dependent requests (user →
//!   conversation → that conversation's imports, one after the other). The same with the
//!   client limiter's burst of 590 is printed too. Our time is the whole `run()`, planning
//!   (reading the file, writing the plan to the journal) included.
//!
//! Settings (environment): `TALKJS_BENCH_MIGRATE_REAL=1` (TalkJS's real limits),
//! `TALKJS_BENCH_MIGRATE_LATENCIES=50` (milliseconds, comma-separated; the default),
//! `TALKJS_BENCH_MIGRATE_CONCURRENCY=N` (the migration's concurrency; default: its own),
//! `TALKJS_BENCH_MIGRATE_IMPORT_BATCH=100` (what the fake takes in one import: 100, as
//! TalkJS's transfer example sends, or 10, as its reference page says),
//! `TALKJS_BENCH_MIGRATE_CONVERSATIONS=500` and `TALKJS_BENCH_MIGRATE_PER_CONVERSATION=20`
//! (the workload; 3 users per conversation), `TALKJS_BENCH_MIGRATE_MAP_REPLY_LINKS=1` (with
//! `Migration::map_reply_links`: one edit per reply after the imports, counted in the
//! minimum and the chain), `TALKJS_BENCH_MIGRATE_DIR=PATH` (where the input
//! and the journal go, e.g. `/dev/shm` to take the disk's fsyncs out; default: the system's
//! temporary directory), `TALKJS_BENCH_MIGRATE_UNLIMITED=1` (no limits in the fake or the
//! client: the migration's own pace, a diagnostic).
//!
//! Under `cargo test --benches` (no `--bench` flag) it migrates 200 messages once with no
//! latency, as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::secs;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use talkjs::api::MAX_USERS_PER_BATCH;
use talkjs::transport::{Quota, RateLimiter};
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_migrate::Migration;

/// Whether the migration maps reply links (`TALKJS_BENCH_MIGRATE_MAP_REPLY_LINKS=1`).
fn map_reply_links() -> bool {
    std::env::var("TALKJS_BENCH_MIGRATE_MAP_REPLY_LINKS").is_ok_and(|v| v != "0")
}

/// The environment variable that makes this binary the client of one run.
const ROLE: &str = "TALKJS_BENCH_MIGRATE_ROLE";

/// The messages the fake takes in one import: 100 (TalkJS's transfer example; the default)
/// or 10 (the Import reference page), `TALKJS_BENCH_MIGRATE_IMPORT_BATCH`. With 10 the
/// migration's first imports of more than 10 (one per conversation in flight, at most its
/// concurrency) are refused once, beyond the minimum.
fn import_batch() -> usize {
    std::env::var("TALKJS_BENCH_MIGRATE_IMPORT_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// The fake (in this process) with the bench's import batch.
fn start_fake(
    server: &tokio::runtime::Runtime,
    latency: Duration,
    limits: Option<talkjs_fake::RateLimitConfig>,
) -> talkjs_fake::FakeTalkJs {
    server
        .block_on(
            talkjs_fake::FakeTalkJs::builder()
                .app_id(common::APP_ID)
                .secret_key(common::SECRET_KEY)
                .rate_limit(limits)
                .max_import_batch(import_batch())
                .faults(talkjs_fake::Faults::none().latency(latency))
                .start(),
        )
        .expect("fake")
}
/// The fake's burst (TalkJS's, unchanged by the time scale).
const BURST: u32 = RateLimitConfig::TALKJS.burst;
/// The time scale of the quick variant.
const SCALED: f64 = 10.0;

/// A workload: `conversations` conversations of 3 users of their own, `per_conversation`
/// messages in each.
#[derive(Debug, Clone, Copy)]
struct Workload {
    conversations: usize,
    per_conversation: usize,
}

impl Workload {
    const PARTICIPANTS: usize = 3;

    fn from_env() -> Self {
        let var = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .map_or(default, |v| v.parse().expect("a number"))
        };
        Self {
            conversations: var("TALKJS_BENCH_MIGRATE_CONVERSATIONS", 500),
            per_conversation: var("TALKJS_BENCH_MIGRATE_PER_CONVERSATION", 20),
        }
    }

    fn users(self) -> usize {
        self.conversations * Self::PARTICIPANTS
    }

    fn messages(self) -> usize {
        self.conversations * self.per_conversation
    }

    /// The fewest requests the API allows: users 100 to a `PUT /users`, one `PUT` per
    /// conversation with its participants, messages [`import_batch`] to an import per
    /// conversation.
    fn min_requests(self) -> usize {
        self.users().div_ceil(MAX_USERS_PER_BATCH)
            + self.conversations
            + self.conversations * self.per_conversation.div_ceil(import_batch())
            + self.reply_link_edits()
    }

    /// The edits that map reply links (one per reply; every 5th message replies to one in
    /// the input), when [`map_reply_links`]; else 0.
    fn reply_link_edits(self) -> usize {
        if map_reply_links() {
            self.conversations * (self.per_conversation / 5)
        } else {
            0
        }
    }

    /// The longest chain of requests that must follow one another: a user's `PUT /users`,
    /// its conversation's `PUT`, then that conversation's imports one after the other.
    fn chain(self) -> usize {
        2 + self.per_conversation.div_ceil(import_batch()) + usize::from(map_reply_links())
    }

    /// The export file: users, conversations, then each conversation's messages newest
    /// first, one JSON object a line, as `talkjs export` writes them.
    fn write(self, path: &Path) {
        let file = std::fs::File::create(path).expect("create the export file");
        let mut out = std::io::BufWriter::new(file);
        let mut line = |value: serde_json::Value| writeln!(out, "{value}").expect("write");
        for u in 0..self.users() {
            let id = user_id(u);
            line(json!({
                "id": id, "name": format!("User {u}"), "email": [format!("{id}@example.com")],
                "custom": {"tier": "gold"}, "createdAt": 1_500_000_000_000_u64
            }));
        }
        for c in 0..self.conversations {
            let participants: serde_json::Map<String, serde_json::Value> = (0..Self::PARTICIPANTS)
                .map(|p| {
                    (
                        user_id(c * Self::PARTICIPANTS + p),
                        json!({"access": "ReadWrite", "notify": true}),
                    )
                })
                .collect();
            line(json!({
                "id": conversation_id(c), "subject": format!("Conversation {c}"),
                "custom": {"k": "v"}, "participants": participants,
                "createdAt": 1_500_000_000_000_u64
            }));
        }
        for c in 0..self.conversations {
            let members: Vec<String> = (0..Self::PARTICIPANTS)
                .map(|p| user_id(c * Self::PARTICIPANTS + p))
                .collect();
            let base = 1_600_000_000_000_u64 + c as u64 * 10_000_000;
            for m in (0..self.per_conversation).rev() {
                let sender = &members[m % Self::PARTICIPANTS];
                let read_by: Vec<&String> = members.iter().filter(|u| *u != sender).collect();
                let reply_to = (m % 5 == 4).then(|| format!("msg_{c}_{}", m - 3));
                line(json!({
                    "id": format!("msg_{c}_{m}"), "type": "UserMessage",
                    "conversationId": conversation_id(c), "senderId": sender,
                    "text": format!("Message {m} of conversation {c}"), "origin": "web",
                    "readBy": read_by, "createdAt": base + m as u64 * 1_000, "editedAt": null,
                    "custom": {"n": m.to_string()}, "referencedMessageId": reply_to,
                    "attachment": null, "location": null
                }));
            }
        }
        out.flush().expect("flush the export file");
    }
}

fn user_id(u: usize) -> String {
    format!("user{u:05}")
}

fn conversation_id(c: usize) -> String {
    format!("conv{c:04}")
}

/// The limits of a variant.
#[derive(Debug, Clone, Copy)]
struct Limits {
    real: bool,
}

impl Limits {
    fn time_scale(self) -> f64 {
        if self.real { 1.0 } else { SCALED }
    }

    /// Requests per second sustained (9, or 90 scaled).
    fn per_second(self) -> f64 {
        RateLimitConfig::TALKJS.per_second * self.time_scale()
    }

    fn fake(self) -> RateLimitConfig {
        RateLimitConfig {
            time_scale: self.time_scale(),
            ..RateLimitConfig::TALKJS
        }
    }

    /// The time for `n` requests to pass a bucket of `burst` (the burst at once, the rest at
    /// the sustained rate).
    fn limiter_time(self, n: usize, burst: u32) -> Duration {
        let beyond = u32::try_from(n.saturating_sub(burst as usize)).expect("requests");
        Duration::from_secs_f64(f64::from(beyond) / self.per_second())
    }
}

// ---------------------------------------------------------------------------------------
// The client side (child process)

/// The talkjs client of a run: the default stack and the default limiter, its general
/// quota ×10 in the scaled variant (the same margin of 10 below the burst).
fn client(base_url: &str, app_id: &str, secret_key: &str, real: bool) -> talkjs::Client {
    let mut limiter = RateLimiter::new(app_id);
    if std::env::var_os("TALKJS_BENCH_MIGRATE_UNLIMITED").is_some() {
        limiter = limiter.general_quota(Quota::per_second(1_000_000, 1_000_000));
    } else if !real {
        limiter = limiter.general_quota(Quota::per_second(
            90,
            BURST - RateLimiter::DEFAULT_BURST_MARGIN,
        ));
    }
    talkjs::Client::builder(app_id, secret_key)
        .base_url(base_url)
        .rate_limiter(Some(limiter))
        .build()
        .expect("talkjs client")
}

/// The child: migrates the file named in the environment into the fake named there (again
/// until complete, at most 5 runs) and prints one `result key=value …` line.
fn client_main() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"));
    let real = var("TALKJS_BENCH_MIGRATE_LIMITS") == "real";
    let file = PathBuf::from(var("TALKJS_BENCH_MIGRATE_FILE"));
    let journal = PathBuf::from(var("TALKJS_BENCH_MIGRATE_JOURNAL"));
    let concurrency: Option<usize> = std::env::var("TALKJS_BENCH_MIGRATE_CONCURRENCY")
        .ok()
        .and_then(|n| n.parse().ok());
    let rt = common::client_runtime();
    let client = rt.block_on(async {
        client(
            &var("TALKJS_BENCH_MIGRATE_URL"),
            &var("TALKJS_BENCH_MIGRATE_APP"),
            &var("TALKJS_BENCH_MIGRATE_KEY"),
            real,
        )
    });
    let mut migration = Migration::from_file(&file, client)
        .journal(&journal)
        .map_reply_links(map_reply_links());
    if let Some(n) = concurrency {
        migration = migration.concurrency(n);
    }
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let start = Instant::now();
    let (mut runs, mut requests) = (0, 0);
    let report = loop {
        let report = rt.block_on(migration.run()).expect("migration");
        runs += 1;
        requests += report.requests;
        if report.is_complete() || runs == 5 {
            break report;
        }
    };
    let wall = start.elapsed();
    for failure in report.failed.iter().take(3) {
        eprintln!("migrate: failure {failure:?}");
    }
    for note in report.rejected_lines().take(3) {
        eprintln!("migrate: {note}");
    }
    println!(
        "result wall_ns={} started_unix_ns={started_unix} runs={runs} requests={requests} complete={} \
         users_done={} conversations_done={} messages_landed={} participants_total={} failures={} rejected={} resolved_chunks={} \
         reply_links_done={}",
        wall.as_nanos(),
        u8::from(report.is_complete()),
        report.users.done,
        report.conversations.done,
        report.messages.done,
        report.participants.total,
        report.failed.len(),
        report.rejected_lines().count(),
        report.resolved.chunks,
        report.reply_links.done,
    );
}

// ---------------------------------------------------------------------------------------
// The server side (this process)

/// What a child reported.
struct Outcome {
    wall: Duration,
    started_unix_ns: u128,
    fields: HashMap<String, u64>,
}

impl Outcome {
    fn get(&self, key: &str) -> u64 {
        *self
            .fields
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing"))
    }
}

/// Migrates `file` (journal `journal`) into `fake` in a child process.
fn run_client(fake: &FakeTalkJs, file: &Path, journal: &Path, real: bool) -> Outcome {
    let exe = std::env::current_exe().expect("this binary");
    let output = Command::new(exe)
        .env(ROLE, "client")
        .env("TALKJS_BENCH_MIGRATE_URL", fake.base_url())
        .env("TALKJS_BENCH_MIGRATE_APP", fake.app_id())
        .env("TALKJS_BENCH_MIGRATE_KEY", fake.secret_key())
        .env("TALKJS_BENCH_MIGRATE_FILE", file)
        .env("TALKJS_BENCH_MIGRATE_JOURNAL", journal)
        .env(
            "TALKJS_BENCH_MIGRATE_LIMITS",
            if real { "real" } else { "scaled" },
        )
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "client failed: {stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line in {stdout:?}"));
    let mut fields: HashMap<String, u64> = HashMap::new();
    let mut started_unix_ns = 0;
    for (k, v) in line.split_whitespace().filter_map(|kv| kv.split_once('=')) {
        if k == "started_unix_ns" {
            started_unix_ns = v.parse().expect("a number");
        } else {
            fields.insert(k.to_owned(), v.parse().expect("a number"));
        }
    }
    let wall = Duration::from_nanos(fields["wall_ns"]);
    Outcome {
        wall,
        started_unix_ns,
        fields,
    }
}

/// A count or a size as a float, for a printed rate or size.
#[allow(clippy::cast_precision_loss)]
fn to_f64(n: u64) -> f64 {
    n as f64
}

/// A fresh directory for the input and the journal (removed on drop).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let base = std::env::var_os("TALKJS_BENCH_MIGRATE_DIR")
            .map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("talkjs-bench-migrate-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every message landed once: the fake's total and each conversation's count.
fn landed_once(fake: &FakeTalkJs, workload: Workload) -> (usize, usize) {
    let wrong = (0..workload.conversations)
        .filter(|c| fake.messages(&conversation_id(*c)).len() != workload.per_conversation)
        .count();
    (fake.message_count(), wrong)
}

/// One migration of `workload` at `latency`, with the real or the scaled limits.
fn at_latency(server: &tokio::runtime::Runtime, workload: Workload, latency: Duration, real: bool) {
    let limits = Limits { real };
    let ms = latency.as_millis();
    let n = workload.min_requests();
    let chain = workload.chain();
    let chain_time = latency * u32::try_from(chain).expect("chain");
    let minimum = limits.limiter_time(n, BURST).max(chain_time);
    let client_burst = BURST - RateLimiter::DEFAULT_BURST_MARGIN;
    let client_minimum = limits.limiter_time(n, client_burst).max(chain_time);
    let rate = limits.per_second();
    println!("migrate latency {ms} ms:");
    println!(
        "  allowed (physical minimum)  {} = max(({n} requests - {BURST} burst of the fake) / {rate}/s = {}, {chain} dependent requests x {ms} ms = {})",
        secs(minimum),
        secs(limits.limiter_time(n, BURST)),
        secs(chain_time),
    );
    println!(
        "  allowed by the client's limiter (burst {client_burst} = {BURST} - DEFAULT_BURST_MARGIN)  {}",
        secs(client_minimum)
    );

    let dir = Scratch::new(&format!("{ms}ms"));
    let file = dir.0.join("export.jsonl");
    let journal = dir.0.join("export.jsonl.journal");
    workload.write(&file);
    let unlimited = std::env::var("TALKJS_BENCH_MIGRATE_UNLIMITED").is_ok_and(|v| v != "0");
    let fake = start_fake(server, latency, (!unlimited).then(|| limits.fake()));
    let (ours, seen) = common::watch(&fake, BURST, || run_client(&fake, &file, &journal, real));
    let journal_size = std::fs::metadata(&journal).map_or(0, |m| m.len())
        + std::fs::metadata(dir.0.join("export.jsonl.journal-wal")).map_or(0, |m| m.len());
    let (received, count_429) = (fake.request_count(), fake.count_429());
    let (landed, wrong) = landed_once(&fake, workload);
    drop(fake);

    // From the start of the run to the first request the server saw: planning.
    let planning = seen.first_unix_ns.map(|first| {
        Duration::from_nanos(u64::try_from(first.saturating_sub(ours.started_unix_ns)).unwrap_or(0))
    });
    if unlimited {
        println!(
            "  NO LIMITS (TALKJS_BENCH_MIGRATE_UNLIMITED): the migration's own pace: {} requests in {} = {:.0} requests/s; planning {}",
            ours.get("requests"),
            secs(ours.wall),
            to_f64(ours.get("requests")) / ours.wall.as_secs_f64(),
            planning.map_or_else(|| "?".to_owned(), secs),
        );
    }
    let ratio = ours.wall.as_secs_f64() / minimum.as_secs_f64();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "  migration (ours)            {} = {ratio:.3} x allowed (target <= 1.05: {}); {:.3} x the client limiter's",
        secs(ours.wall),
        verdict(ratio <= 1.05),
        ours.wall.as_secs_f64() / client_minimum.as_secs_f64(),
    );
    println!(
        "                              planning (start to the first request) {}, first to last request {}, the {BURST}th request at {} after the first",
        planning.map_or_else(|| "?".to_owned(), secs),
        seen.last.map_or_else(|| "?".to_owned(), secs),
        seen.burst_end.map_or_else(|| "-".to_owned(), secs),
    );
    println!(
        "                              requests sent {} in {} run(s) (fewest possible {n}; server received {received}), 429s {count_429}, complete {}",
        ours.get("requests"),
        ours.get("runs"),
        ours.get("complete") == 1,
    );
    println!(
        "                              landed: {} users, {} conversations, {} messages done in the journal; the fake holds {landed} messages (expected {}), conversations with a wrong count {wrong}: {}",
        ours.get("users_done"),
        ours.get("conversations_done"),
        ours.get("messages_landed"),
        workload.messages(),
        if landed == workload.messages() && wrong == 0 {
            "every message exactly once"
        } else {
            "NOT exactly once"
        },
    );
    println!(
        "                              failures {}, rejected lines {}, participant settings {}, uncertain chunks resolved {}, reply links mapped {} (of {}), journal {:.1} MiB",
        ours.get("failures"),
        ours.get("rejected"),
        ours.get("participants_total"),
        ours.get("resolved_chunks"),
        ours.get("reply_links_done"),
        workload.reply_link_edits(),
        to_f64(journal_size) / (1024.0 * 1024.0),
    );
    for (at, received) in &seen.refusals {
        println!(
            "                              a 429 at {} after the first request, the server having received {received}",
            secs(*at)
        );
    }
}

fn main() {
    if std::env::var_os(ROLE).is_some() {
        client_main();
        return;
    }
    let server = common::fake_runtime();

    if !common::bench_mode() {
        // `cargo test --benches`: a small run with no latency and no limits, to see it work.
        let workload = Workload {
            conversations: 10,
            per_conversation: 20,
        };
        let dir = Scratch::new("smoke");
        let file = dir.0.join("export.jsonl");
        let journal = dir.0.join("export.jsonl.journal");
        workload.write(&file);
        let fake = start_fake(&server, Duration::ZERO, None);
        let outcome = run_client(&fake, &file, &journal, false);
        assert_eq!(outcome.get("complete"), 1);
        assert_eq!(outcome.get("runs"), 1);
        assert_eq!(outcome.get("requests"), workload.min_requests() as u64);
        assert_eq!(landed_once(&fake, workload), (workload.messages(), 0));
        println!(
            "migrate smoke test: {} messages in {}",
            workload.messages(),
            secs(outcome.wall)
        );
        return;
    }

    let real = std::env::var("TALKJS_BENCH_MIGRATE_REAL").is_ok_and(|v| v != "0");
    let latencies: Vec<u64> = std::env::var("TALKJS_BENCH_MIGRATE_LATENCIES")
        .unwrap_or_else(|_| "50".to_owned())
        .split(',')
        .filter(|ms| !ms.trim().is_empty())
        .map(|ms| ms.trim().parse().expect("latency in ms"))
        .collect();
    let workload = Workload::from_env();
    let limits = Limits { real };
    println!(
        "migrate: {} users, {} conversations x {} participants, {} messages ({} per conversation) from a JSON lines file; \
         limits burst {BURST}, {}/s ({}); client: default limiter (burst {}), migration concurrency {}; fixed latency, no jitter",
        workload.users(),
        workload.conversations,
        Workload::PARTICIPANTS,
        workload.messages(),
        workload.per_conversation,
        limits.per_second(),
        if real {
            "TalkJS's real limits"
        } else {
            "TalkJS x10 in time; TALKJS_BENCH_MIGRATE_REAL=1 for the real ones"
        },
        BURST - RateLimiter::DEFAULT_BURST_MARGIN,
        std::env::var("TALKJS_BENCH_MIGRATE_CONCURRENCY").unwrap_or_else(|_| "default".to_owned()),
    );
    for ms in latencies {
        at_latency(&server, workload, Duration::from_millis(ms), real);
    }
}
