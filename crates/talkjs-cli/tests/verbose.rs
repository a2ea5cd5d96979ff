//! `talkjs -v` and `-vv` against the fake: one line per attempt on standard error (method,
//! path template and path, status, attempt, rate-limit wait, time), the headers with `-vv`,
//! and never the secret key or a token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs::models::UserUpsert;
use talkjs_fake::{FakeTalkJs, Faults};
use talkjs_test_support::cli::talkjs;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A fake with users `alice` and `bob`.
fn fake(rt: &tokio::runtime::Runtime) -> FakeTalkJs {
    let fake = rt.block_on(FakeTalkJs::start()).unwrap();
    rt.block_on(async {
        let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
            .base_url(fake.base_url())
            .build()
            .unwrap();
        for id in ["alice", "bob"] {
            client
                .users()
                .upsert(id, &UserUpsert::new().name(id))
                .await
                .unwrap();
        }
    });
    fake
}

/// Runs `talkjs ARGS` against `fake`: exit code and standard error.
fn run(fake: &FakeTalkJs, args: &[&str]) -> (i32, String) {
    let out = talkjs(fake).args(args).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap(), stderr)
}

/// Neither the secret nor any app token (a JWT starts `eyJ`).
fn no_secret(fake: &FakeTalkJs, text: &str) {
    assert!(!text.contains(fake.secret_key()), "{text}");
    assert!(!text.contains("eyJ"), "{text}");
}

#[test]
fn one_line_per_attempt() {
    let rt = runtime();
    let fake = fake(&rt);
    let (code, stderr) = run(&fake, &["-v", "users", "get", "alice"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(
        line.starts_with(
            "talkjs: GET /users/{userId} /users/alice -> 200 (attempt 1, waited 0 ms, "
        ),
        "{line}"
    );
    assert!(line.ends_with(" ms)"), "{line}");
    no_secret(&fake, &stderr);

    // A missing user: the 404 is shown, once (not retried).
    let (code, stderr) = run(&fake, &["users", "get", "nobody", "--verbose"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("GET /users/{userId} /users/nobody -> 404 (attempt 1,"),
        "{stderr}"
    );

    // Without -v, nothing of the kind.
    let (code, stderr) = run(&fake, &["users", "get", "alice"]);
    assert_eq!(code, 0);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn retries_show_their_attempt_numbers() {
    let rt = runtime();
    let fake = fake(&rt);
    // Half the requests answered 5xx (seeded: the same ones every run).
    fake.set_faults(Faults::seeded(3).error_rate(0.5));
    let (code, stderr) = run(&fake, &["-v", "export", "users", "--page-size", "1"]);
    assert_eq!(code, 0, "{stderr}");
    no_secret(&fake, &stderr);
    let attempts: Vec<&str> = stderr.lines().filter(|l| l.contains(" -> ")).collect();
    let failed = attempts
        .iter()
        .filter(|l| l.contains("-> 500 ") || l.contains("-> 503 "))
        .count();
    assert!(failed >= 1, "{stderr}");
    assert!(
        attempts.iter().any(|l| l.contains("(attempt 2,")),
        "{stderr}"
    );
    for line in &attempts {
        assert!(line.starts_with("talkjs: GET /users /users -> "), "{line}");
    }
}

#[test]
fn vv_adds_headers_with_the_token_redacted() {
    let rt = runtime();
    let fake = fake(&rt);
    let (code, stderr) = run(
        &fake,
        &["-vv", "users", "upsert", "carol", "--name", "Carol"],
    );
    assert_eq!(code, 0, "{stderr}");
    no_secret(&fake, &stderr);
    assert!(
        stderr.contains("talkjs: > authorization: Bearer [redacted]"),
        "{stderr}"
    );
    assert!(
        stderr.contains("talkjs: > content-type: application/json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("talkjs: < content-type: application/json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("PUT /users/{userId} /users/carol -> 200 (attempt 1,"),
        "{stderr}"
    );
}

#[test]
fn a_rate_limit_wait_is_shown() {
    let rt = runtime();
    let fake = fake(&rt);
    // Burst 1, then 2 a second: the second page waits about 500 ms for its slot.
    let (code, stderr) = run(
        &fake,
        &[
            "-v",
            "export",
            "users",
            "--page-size",
            "1",
            "--rate",
            "2/s",
            "--burst",
            "1",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let waits: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.split("waited ").nth(1)?.split(" ms").next()?.parse().ok())
        .collect();
    assert!(waits.len() >= 2, "{stderr}");
    assert_eq!(waits[0], 0, "{stderr}");
    assert!(waits[1..].iter().all(|w| *w >= 300), "{stderr}");
}
