//! `--rate`, `--burst` and `--redis-url` of `talkjs import` and `talkjs export` against the
//! fake with a rate limit: the command keeps under the rate it is given (no 429, and at
//! least the time the rate forces: lower bounds only), and joins the limit that the app's
//! own servers share in Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::json;
use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_test_support::{cli::talkjs, redis_server};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A fake allowing 3 requests at once, then 5 a second: the library's default limiter
/// (burst 590) would be refused.
fn limited_fake(runtime: &tokio::runtime::Runtime) -> FakeTalkJs {
    runtime
        .block_on(
            FakeTalkJs::builder()
                .rate_limit(RateLimitConfig {
                    burst: 3,
                    per_second: 5.0,
                    ..RateLimitConfig::TALKJS
                })
                .start(),
        )
        .unwrap()
}

/// One user and `n` conversations with them: 1 + `n` requests (users go 100 to a request,
/// each conversation in its own, with its participants).
fn import_lines(n: usize) -> String {
    let mut text = String::new();
    writeln!(
        text,
        "{}",
        json!({"id": "u0", "name": "U0", "createdAt": 1})
    )
    .unwrap();
    for c in 0..n {
        let conversation = json!({"id": format!("c{c}"), "participants": {"u0": {"access": "ReadWrite", "notify": true}}, "createdAt": 1});
        writeln!(text, "{conversation}").unwrap();
    }
    text
}

/// Runs `cmd` and checks it succeeded; returns its standard error and how long it took.
fn timed(cmd: &mut Command) -> (String, Duration) {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (stderr, took)
}

#[test]
fn import_keeps_under_its_rate() {
    let rt = runtime();
    let fake = limited_fake(&rt);
    // 11 requests at 4 a second after a burst of 2: at least (11 - 2) / 4 = 2.25 s.
    let (_, took) = timed(
        talkjs(&fake)
            .args(["import", "-", "--rate", "4/s", "--burst", "2"])
            .write_stdin(import_lines(10)),
    );
    assert_eq!(fake.count_429(), 0);
    assert_eq!(fake.conversations().len(), 10);
    assert!(fake.request_count() >= 11);
    assert!(took >= Duration::from_millis(2_200), "{took:?}");
}

#[test]
fn export_keeps_under_its_rate_given_per_minute() {
    let rt = runtime();
    let fake = limited_fake(&rt);
    rt.block_on(async {
        let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
            .base_url(fake.base_url())
            .rate_limiter(None)
            .build()
            .unwrap();
        let users = (0..5).map(|i| {
            (
                format!("u{i}"),
                talkjs::models::UserUpsert::new().name(format!("U{i}")),
            )
        });
        client.users().upsert_all(users).await.unwrap();
    });
    // Wait for the fake's bucket to fill again, then count from here.
    std::thread::sleep(Duration::from_secs(1));
    let before = fake.request_count();
    // One user a page: 5 pages (and an empty one, or not); 300/m is 5/s with a burst of 1.
    let (_, took) = timed(talkjs(&fake).args([
        "export",
        "users",
        "--page-size",
        "1",
        "--rate",
        "300/m",
        "--burst",
        "1",
    ]));
    let requests = fake.request_count() - before;
    assert!(requests >= 5, "{requests}");
    assert_eq!(fake.count_429(), 0);
    let at_least = Duration::from_millis(200) * u32::try_from(requests - 1).unwrap();
    assert!(
        took >= at_least.saturating_sub(Duration::from_millis(20)),
        "{took:?} for {requests}"
    );
}

#[test]
fn a_share_of_the_default_is_accepted_and_bad_rates_are_usage_errors() {
    let rt = runtime();
    let fake = rt.block_on(FakeTalkJs::start()).unwrap();
    timed(
        talkjs(&fake)
            .args(["import", "-", "--rate", "50%"])
            .write_stdin(import_lines(2)),
    );
    assert_eq!(fake.conversations().len(), 2);
    for bad in [
        &["--rate", "150%"][..],
        &["--rate", "4/h"],
        &["--burst", "5"],
    ] {
        let out = talkjs(&fake)
            .args(["import", "-"])
            .args(bad)
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn import_with_redis_joins_the_limit_of_the_apps_servers() {
    let Some(redis) =
        redis_server::RedisServer::start("import_with_redis_joins_the_limit_of_the_apps_servers")
    else {
        return;
    };
    let rt = runtime();
    let fake = rt.block_on(FakeTalkJs::start()).unwrap();
    // The app's own servers got a 429 with Retry-After: 2 and pushed the shared limit back:
    // the import, joining that limit, sends nothing for 2 s.
    rt.block_on(async {
        let store = talkjs_ratelimit_redis::RedisStore::open(redis.url()).unwrap();
        store.connect().await.unwrap();
        let servers =
            talkjs::transport::RateLimiter::new(fake.app_id()).with_store(Arc::new(store));
        servers
            .on_rate_limited(
                talkjs::transport::RequestClass::General,
                Some(Duration::from_secs(2)),
            )
            .await
            .unwrap();
    });
    let (_, took) = timed(
        talkjs(&fake)
            .args([
                "import",
                "-",
                "--redis-url",
                &redis.url(),
                "--rate",
                "4/s",
                "--burst",
                "2",
            ])
            .write_stdin(import_lines(3)),
    );
    assert!(took >= Duration::from_millis(1_900), "{took:?}");
    assert_eq!(fake.conversations().len(), 3);
    // Both keys live in Redis: the import's rate (below TalkJS's limit, so kept apart) and
    // the app's limit.
    for key in ["bulk:general", "general"] {
        let key = format!("talkjs:{}:{key}", fake.app_id());
        assert!(redis.get_int(&key).is_some(), "no {key} in Redis");
    }
}
