//! `sync` (issue 27): `talkjs::runtime::sync` plan + apply of a desired state of 10,000 users
//! and 2,000 conversations (3 participants each) of which 5 % differ from the live state,
//! against the fake TalkJS server enforcing TalkJS's limits scaled ×10 in time, beside the
//! physical minimum and beside upserting everything (packed by the bulk engine) in the same
//! run.
//!
//! Run: `cargo bench --bench sync` (about half a minute).
//!
//! - Live state (set up without limits before the clock starts): the 10,000 users and 2,000
//!   conversations; then the fake's limits (burst 600, 90 requests/s) and a fixed 50 ms
//!   delay per request are on.
//! - Desired state: the same records, except 500 users with another name and 100
//!   conversations with another subject (5 %).
//! - Ours: `sync::plan` (listing users 100 a page and conversations 30 a page, side by side)
//!   then `sync::apply` (the 500 users in 5 requests, the 100 conversations in 100).
//! - The physical minimum: the reads are two chains of pages (100 and 67), the writes a chain
//!   of two stages (users, then conversations), all within the burst: `(100 + 2) x RTT`;
//!   the rate bound `(N - 600) / 90 s` is below it.
//! - The users' pages alone: the same chain of 100 pages listed plainly (a `pages()` loop),
//!   timed in the same run: what serving the chain costs beyond the round trips.
//! - Upserting everything: the whole desired state through the bulk engine (100 user requests
//!   and 2,000 conversation requests), the way a mirror without a plan rewrites what did not
//!   change. One call per record, as ad-hoc scripts do, would be 12,000 requests: at TalkJS's
//!   real 9/s, (12,000 - 600) / 9 s = 21 min, printed and not run.
//!
//! Under `cargo test --benches` (no `--bench` flag) it syncs a 1/20 state once, as a smoke
//! test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::secs;
use talkjs::ClientExt;
use talkjs::runtime::sync::{self, DesiredState};
use talkjs::transport::{Quota, RateLimiter};
use talkjs_fake::RateLimitConfig;

const USERS: usize = 10_000;
const CONVERSATIONS: usize = 2_000;
const LATENCY: Duration = Duration::from_millis(50);

/// The desired state as JSON lines: `users` users, `conversations` conversations of 3
/// participants; the first `changed_users` users and `changed_conversations` conversations
/// with another name or subject than `live` has.
fn state(users: usize, conversations: usize, changed: (usize, usize), is_live: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for u in 0..users {
        let name = if !is_live && u < changed.0 {
            format!("User {u} (renamed)")
        } else {
            format!("User {u}")
        };
        let record = serde_json::json!({ "id": format!("u{u}"), "name": name, "createdAt": 1_600_000_000_000_u64 });
        writeln!(out, "{record}").unwrap();
    }
    for c in 0..conversations {
        let subject = if !is_live && c < changed.1 {
            format!("Conversation {c} (renamed)")
        } else {
            format!("Conversation {c}")
        };
        let participants: serde_json::Map<String, serde_json::Value> = (0..3)
            .map(|p| {
                let user = format!("u{}", (c * 3 + p) % users);
                (
                    user,
                    serde_json::json!({ "access": "ReadWrite", "notify": true }),
                )
            })
            .collect();
        let record = serde_json::json!({
            "id": format!("c{c}"),
            "subject": subject,
            "createdAt": 1_600_000_000_000_u64,
            "participants": participants,
        });
        writeln!(out, "{record}").unwrap();
    }
    out
}

fn client(fake: &talkjs_fake::FakeTalkJs, limited: bool) -> talkjs::Client {
    let quota = if limited {
        Quota::per_second(90, 590)
    } else {
        Quota::per_second(1_000_000, 1_000_000)
    };
    talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(Some(RateLimiter::new(fake.app_id()).general_quota(quota)))
        .build()
        .expect("client")
}

struct Run {
    users: usize,
    conversations: usize,
    changed: (usize, usize),
}

impl Run {
    fn go(&self, server: &tokio::runtime::Runtime, report: bool) {
        let rt = common::client_runtime();
        let fake = common::start_fake_with(server, LATENCY, None, 10);
        let live =
            DesiredState::read(&state(self.users, self.conversations, self.changed, true)[..])
                .expect("live state");
        let desired =
            DesiredState::read(&state(self.users, self.conversations, self.changed, false)[..])
                .expect("desired state");
        // The live state, without limits.
        let setup = rt.block_on(sync::apply(
            &client(&fake, false),
            &rt.block_on(sync::plan(&client(&fake, false), &live, false))
                .expect("setup plan"),
        ));
        assert!(setup.failed.is_empty(), "setup: {:?}", setup.failed.first());
        fake.set_rate_limit(RateLimitConfig {
            time_scale: 10.0,
            ..RateLimitConfig::TALKJS
        });
        let limited = client(&fake, true);

        let before = fake.request_count();
        let start = Instant::now();
        let plan = rt
            .block_on(sync::plan(&limited, &desired, false))
            .expect("plan");
        let planned = start.elapsed();
        let reads = fake.request_count() - before;
        let applied = rt.block_on(sync::apply(&limited, &plan));
        let ours = start.elapsed();
        let writes = fake.request_count() - before - reads;
        assert!(applied.failed.is_empty(), "{:?}", applied.failed.first());
        assert_eq!(
            applied.landed,
            self.changed.0 + self.changed.1,
            "exactly the difference"
        );
        let again = rt
            .block_on(sync::plan(&limited, &desired, false))
            .expect("again");
        assert!(again.is_empty(), "a plan right after shows no changes");
        if !report {
            return;
        }
        // Upserting everything, through the bulk engine, into the synced state.
        fake.set_rate_limit(None);
        std::thread::sleep(Duration::from_millis(100));
        fake.set_rate_limit(RateLimitConfig {
            time_scale: 10.0,
            ..RateLimitConfig::TALKJS
        });
        let everything = client(&fake, true);
        let before_all = fake.request_count();
        let start = Instant::now();
        let all = rt.block_on(
            everything
                .bulk()
                .run_iter(sync_items(server, &rt, &desired)),
        );
        let upsert_all = start.elapsed();
        let all_requests = fake.request_count() - before_all;
        assert!(all.failed.is_empty());

        // The chain of user pages alone, read as plainly as the API allows (the same client,
        // one page after the other, nothing kept): what the fake needs to serve it.
        let chain_alone = list_users(&rt, &limited, self.users);
        let user_pages = self.users.div_ceil(100);
        let conversation_pages = self.conversations.div_ceil(30);
        let chain = u32::try_from(user_pages.max(conversation_pages) + 2).unwrap();
        let n = reads + writes;
        let beyond = u32::try_from(n.saturating_sub(600)).unwrap();
        let rate = Duration::from_secs_f64(f64::from(beyond) / 90.0);
        let minimum = (LATENCY * chain).max(rate);
        println!(
            "sync: {} desired users, {} conversations, {} + {} differ; limits burst 600, 90/s (TalkJS x10 in time), {} ms a request",
            self.users,
            self.conversations,
            self.changed.0,
            self.changed.1,
            LATENCY.as_millis()
        );
        println!(
            "  ours (plan + apply)  {} (plan {}): {reads} reads + {writes} writes = {n} requests; {:.3} x the physical minimum {} ({chain} dependent requests x {} ms)",
            secs(ours),
            secs(planned),
            ours.as_secs_f64() / minimum.as_secs_f64(),
            secs(minimum),
            LATENCY.as_millis(),
        );
        println!(
            "  the users' pages alone, listed plainly: {} ({:.1} ms a page); ours is {:.3} x that plus the writes' two round trips",
            secs(chain_alone),
            chain_alone.as_secs_f64() * 1000.0 / f64::from(u32::try_from(user_pages).unwrap()),
            ours.as_secs_f64() / (chain_alone + LATENCY * 2).as_secs_f64(),
        );
        println!(
            "  upsert everything    {}: {all_requests} requests ({:.1} x ours); one call per record would be {} requests, (n - 600) / 9 s = {} at TalkJS's real limit",
            secs(upsert_all),
            upsert_all.as_secs_f64() / ours.as_secs_f64(),
            self.users + self.conversations,
            secs(Duration::from_secs_f64(
                f64::from(u32::try_from(self.users + self.conversations - 600).unwrap()) / 9.0
            )),
        );
    }
}

/// Lists every user page by page, keeping nothing, and says how long it took.
fn list_users(rt: &tokio::runtime::Runtime, client: &talkjs::Client, users: usize) -> Duration {
    let start = Instant::now();
    let listed: usize = rt.block_on(async {
        let mut pages = std::pin::pin!(client.users().list().limit(100).pages());
        let mut n = 0;
        while let Some(page) = futures_util::StreamExt::next(&mut pages).await {
            n += page.expect("page").len();
        }
        n
    });
    assert_eq!(listed, users);
    start.elapsed()
}

/// The whole desired state as bulk items: what a mirror without a plan sends.
fn sync_items(
    server: &tokio::runtime::Runtime,
    rt: &tokio::runtime::Runtime,
    desired: &DesiredState,
) -> Vec<talkjs::runtime::bulk::Item> {
    // A plan against an empty app is "create everything": its items are the whole state.
    let empty = common::start_fake_with(server, Duration::ZERO, None, 10);
    let plan = rt
        .block_on(sync::plan(
            &talkjs::Client::builder(empty.app_id(), empty.secret_key())
                .base_url(empty.base_url())
                .build()
                .expect("client"),
            desired,
            false,
        ))
        .expect("plan against an empty app");
    plan.items()
}

fn main() {
    let server = common::fake_runtime();
    if common::bench_mode() {
        Run {
            users: USERS,
            conversations: CONVERSATIONS,
            changed: (USERS / 20, CONVERSATIONS / 20),
        }
        .go(&server, true);
    } else {
        Run {
            users: USERS / 20,
            conversations: CONVERSATIONS / 20,
            changed: (USERS / 400, CONVERSATIONS / 400),
        }
        .go(&server, false);
        println!("sync smoke test: ok");
    }
}
