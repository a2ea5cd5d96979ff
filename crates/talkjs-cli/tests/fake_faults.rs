//! `talkjs fake serve` with production's faults: --late-write-rate, --late-write-delay,
//! --late-write-jitter, --listing-lag, --clock-skew, --slow-rate, --slow-delay,
//! --throttle-rate. Parsing, usage errors, the printed faults, and faults seen end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::Command;
use serde_json::Value;

/// The binary with none of the TALKJS_* variables of the environment the tests run in.
fn bare() -> Command {
    let mut cmd = Command::cargo_bin("talkjs").unwrap();
    for var in ["TALKJS_APP_ID", "TALKJS_SECRET_KEY", "TALKJS_BASE_URL"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd`, which must exit with `code`; returns standard error.
fn failure_stderr(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8(out.stderr).unwrap()
}

/// A running `talkjs fake serve`, killed on drop (also when an assertion fails).
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `talkjs fake serve ARGS`.
    fn start(args: &[&str]) -> Self {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("talkjs"))
            .env_remove("TALKJS_APP_ID")
            .env_remove("TALKJS_SECRET_KEY")
            .env_remove("TALKJS_BASE_URL")
            .args(["fake", "serve"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdout }
    }

    /// The next line of its standard output.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// Starts it with `-o json` and reads the one line it prints.
    fn json(args: &[&str]) -> (Self, Value) {
        let mut server = Self::start(&[args, &["-o", "json"]].concat());
        let line = server.line();
        let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        (server, info)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary pointed at the server described by `info` (its JSON line).
fn against(info: &Value) -> Command {
    let mut cmd = bare();
    cmd.args([
        "--base-url",
        info["baseUrl"].as_str().unwrap(),
        "--app-id",
        info["appId"].as_str().unwrap(),
        "--secret-key",
        info["secretKey"].as_str().unwrap(),
    ]);
    cmd
}

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

#[test]
fn bad_fault_flags_are_usage_errors_with_the_reason() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--late-write-rate", "1.5"],
            "invalid value '1.5' for '--late-write-rate <F>': a share is from 0 to 1",
        ),
        (
            &["--slow-rate", "often"],
            "invalid value 'often' for '--slow-rate <F>': not a number",
        ),
        (
            &["--throttle-rate=-0.1"],
            "invalid value '-0.1' for '--throttle-rate <F>'",
        ),
        (
            &["--late-write-delay", "2s"],
            "invalid value '2s' for '--late-write-delay <MS>'",
        ),
        (
            &["--late-write-jitter=-1"],
            "invalid value '-1' for '--late-write-jitter <MS>'",
        ),
        (
            &["--listing-lag=-5"],
            "invalid value '-5' for '--listing-lag <MS>'",
        ),
        (
            &["--slow-delay", "x"],
            "invalid value 'x' for '--slow-delay <MS>'",
        ),
        (
            &["--clock-skew", "1.5"],
            "invalid value '1.5' for '--clock-skew <MS>'",
        ),
        (
            &["--clock-skew=-ahead"],
            "invalid value '-ahead' for '--clock-skew <MS>'",
        ),
        (
            &["--clock-skew", "-99999999999999999999"],
            "invalid value '-99999999999999999999' for '--clock-skew <MS>'",
        ),
        // Each request gets at most one fault: the shares must fit in 1.
        (
            &[
                "--reset-rate",
                "0.3",
                "--late-write-rate",
                "0.5",
                "--throttle-rate",
                "0.4",
            ],
            "fake serve: --reset-rate 0.3, --late-write-rate 0.5, --throttle-rate 0.4 add up to 1.2, more than 1",
        ),
        (
            &["--error-rate", "0.6", "--slow-rate", "0.6"],
            "--error-rate 0.6, --slow-rate 0.6 add up to 1.2",
        ),
    ];
    for (args, expected) in cases {
        let err = failure_stderr(bare().args(["fake", "serve"]).args(*args), 2);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The help says what each flag does.
    let help = bare().args(["fake", "serve", "--help"]).assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    for needle in [
        "--late-write-rate <F>",
        "answered 504",
        "--late-write-delay <MS>",
        "--late-write-jitter <MS>",
        "--listing-lag <MS>",
        "getting it by id is not delayed",
        "--clock-skew <MS>",
        "X-TalkJS-Timestamp",
        "--slow-rate <F>",
        "--slow-delay <MS>",
        "--throttle-rate <F>",
        "half without Retry-After",
    ] {
        assert!(help.contains(needle), "{needle:?} not in the help:\n{help}");
    }
}

#[test]
fn the_faults_are_printed_to_replay_the_run() {
    let flags = [
        "--late-write-rate",
        "0.1",
        "--late-write-delay",
        "1500",
        "--late-write-jitter",
        "500",
        "--listing-lag",
        "1000",
        // A negative number after a space is a value, not a flag.
        "--clock-skew",
        "-1500",
        "--slow-rate",
        "0.05",
        "--slow-delay",
        "31000",
        "--throttle-rate",
        "0.2",
        "--fault-seed",
        "9",
    ];
    // For people: the faults line gives every flag that is set, and the seed.
    let mut server = Server::start(&[&flags[..], &["-o", "table"]].concat());
    let faults = loop {
        let line = server.line();
        assert!(!line.is_empty(), "no faults line");
        if line.starts_with("faults:") {
            break line;
        }
    };
    assert_eq!(
        faults,
        "faults: --error-rate 0 --reset-rate 0 --latency 0 --latency-jitter 0 \
         --late-write-rate 0.1 --late-write-delay 1500 --late-write-jitter 500 \
         --listing-lag 1000 --clock-skew -1500 --slow-rate 0.05 --slow-delay 31000 \
         --throttle-rate 0.2 --fault-seed 9\n"
    );
    drop(server);

    // For scripts: the same as JSON.
    let (_server, info) = Server::json(&flags);
    assert_eq!(info["faultSeed"], 9, "{info}");
    let faults = &info["faults"];
    for (key, value) in [
        ("errorRate", "0.0"),
        ("resetRate", "0.0"),
        ("latencyMs", "0"),
        ("latencyJitterMs", "0"),
        ("lateWriteRate", "0.1"),
        ("lateWriteDelayMs", "1500"),
        ("lateWriteJitterMs", "500"),
        ("listingLagMs", "1000"),
        ("clockSkewMs", "-1500"),
        ("slowRate", "0.05"),
        ("slowDelayMs", "31000"),
        ("throttleRate", "0.2"),
    ] {
        assert_eq!(faults[key].to_string(), value, "{key} in {info}");
    }

    // Shares adding up to exactly 1 are fine (decimal rounding included); --clock-skew=-N
    // too. Skew alone turns the faults on.
    let (_server, info) = Server::json(&[
        "--error-rate",
        "0.7",
        "--late-write-rate",
        "0.2",
        "--throttle-rate",
        "0.1",
    ]);
    assert_eq!(info["faults"]["lateWriteRate"], 0.2, "{info}");
    let (_server, info) = Server::json(&["--clock-skew=-20"]);
    assert_eq!(info["faults"]["clockSkewMs"], -20, "{info}");
    assert!(info["faultSeed"].is_u64(), "{info}");
    // No faults: neither.
    let (_server, info) = Server::json(&[]);
    assert!(
        info.get("faults").is_none() && info.get("faultSeed").is_none(),
        "{info}"
    );
}

#[test]
fn a_skewed_clock_stamps_every_created_at() {
    let day: i64 = 86_400_000;
    let (_server, info) = Server::json(&["--clock-skew", &(-day).to_string()]);
    let before = now_ms();
    let out = against(&info)
        .args(["users", "upsert", "alice", "--name", "Alice"])
        .assert()
        .success();
    let after = now_ms();
    let alice: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let created = alice["createdAt"].as_u64().unwrap();
    // A day behind, give or take a minute.
    let day = day.unsigned_abs();
    assert!(
        (before - day - 60_000..=after - day + 60_000).contains(&created),
        "createdAt {created} is not a day before [{before}, {after}]"
    );
}

#[test]
fn a_late_write_fails_the_command_but_lands() {
    let (_server, info) = Server::json(&[
        "--late-write-rate",
        "1",
        "--late-write-delay",
        "300",
        "--fault-seed",
        "4",
    ]);
    // Every answer to a write is lost (a reset or a 504), so the command fails even after
    // its retries...
    let err = failure_stderr(
        against(&info).args(["users", "upsert", "alice", "--name", "Alice"]),
        1,
    );
    assert!(!err.contains("panicked"), "{err}");
    // ...while the write lands a moment later (reads are never late writes).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = against(&info)
            .args(["users", "get", "alice"])
            .output()
            .unwrap();
        if out.status.success() {
            let alice: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(alice["name"], "Alice");
            break;
        }
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(Instant::now() < deadline, "alice never landed: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An export of two users, a conversation and 30 messages, as `talkjs export` writes it.
fn thirty_messages() -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for u in ["alice", "bob"] {
        writeln!(text, r#"{{"id":"{u}","name":"{u}","createdAt":1}}"#).unwrap();
    }
    writeln!(
        text,
        r#"{{"id":"chat","participants":{{"alice":{{"access":"ReadWrite","notify":true}},"bob":{{"access":"ReadWrite","notify":true}}}},"createdAt":1}}"#
    )
    .unwrap();
    for k in 0..30u64 {
        writeln!(
            text,
            r#"{{"id":"m{k}","type":"UserMessage","conversationId":"chat","senderId":"alice","text":"message {k}","createdAt":{},"readBy":[]}}"#,
            1_600_000_000_000u64 + k
        )
        .unwrap();
    }
    text
}

#[test]
fn max_import_batch_sets_what_one_import_may_carry() {
    let dir = std::env::temp_dir().join(format!("talkjs-fake-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, thirty_messages()).unwrap();
    // 100 taken: the 30 messages go in one import.
    let (_wide, info) = Server::json(&["--max-import-batch", "100"]);
    let out = against(&info)
        .args(["-o", "json", "import", file.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .clone();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["succeeded"], 33, "{summary}");
    // 2 users in one request, the conversation, and the 30 messages in one or two imports
    // (how the bulk runner packs them depends on timing): at least one of more than 10.
    let requests = summary["requests"].as_u64().unwrap();
    assert!((3..=4).contains(&requests), "{summary}");
    // The default, 10 as the reference page says: an import of more than 10 is refused, then
    // they go 10 at a time.
    let (_narrow, info) = Server::json(&[]);
    let out = against(&info)
        .args(["-o", "json", "import", file.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .clone();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["succeeded"], 33, "{summary}");
    // At least the 3 imports of 10 after users and conversation (and a refused one).
    let requests = summary["requests"].as_u64().unwrap();
    assert!(requests >= 1 + 1 + 3, "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
    // Out of range: a usage error.
    bare()
        .args(["fake", "serve", "--max-import-batch", "0"])
        .assert()
        .code(2);
}
