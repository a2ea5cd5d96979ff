//! `talkjs migrate` against the in-process fake: a migration, a second run that sends
//! nothing, `--verify`, bad lines named by number, and Ctrl-C (stops after the requests in
//! flight, exit 130, the next run finishes). (The kill test, SIGKILLs of `talkjs
//! migrate` against `talkjs fake serve` in its own process, is tests/migrate_kill.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::{Duration, Instant};

use talkjs_fake::{FakeTalkJs, Faults};
use talkjs_test_support::redis_server;

/// `talkjs --output json` against `fake`.
fn talkjs(fake: &FakeTalkJs) -> Command {
    let mut cmd = talkjs_test_support::cli::talkjs(fake);
    cmd.args(["--output", "json"]);
    cmd
}

/// Runs a command that must exit with `code`: its JSON summary and standard error.
fn run(cmd: &mut Command, code: i32) -> (Value, String) {
    let out = cmd.assert().code(code).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (summary, stderr)
}

/// Two users, one conversation, 25 messages (a reply among them) written newest first as
/// `talkjs export` does, and one message from a user who is not in the file (line 4).
fn export() -> String {
    let mut text = String::new();
    for u in ["alice", "bob"] {
        writeln!(text, "{}", json!({"id": u, "name": u, "createdAt": 1})).unwrap();
    }
    let participants = json!({"alice": {"access": "ReadWrite", "notify": true}, "bob": {"access": "ReadWrite", "notify": true}});
    writeln!(
        text,
        "{}",
        json!({"id": "chat", "participants": participants, "createdAt": 1})
    )
    .unwrap();
    writeln!(
        text,
        "{}",
        json!({"id": "m_zoe", "type": "UserMessage", "conversationId": "chat", "senderId": "zoe", "text": "hi", "createdAt": 5})
    )
    .unwrap();
    for k in (0..25u64).rev() {
        let sender = if k % 2 == 0 { "alice" } else { "bob" };
        let reply = (k == 7).then_some("m3");
        writeln!(
            text,
            "{}",
            json!({"id": format!("m{k}"), "type": "UserMessage", "conversationId": "chat", "senderId": sender,
                   "text": format!("message {k}"), "createdAt": 1_600_000_000_000u64 + k * 1000,
                   "readBy": ["alice", "bob"], "referencedMessageId": reply})
        )
        .unwrap();
    }
    text
}

/// A runtime for the fakes (the test thread blocks while the binary runs).
fn fake_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn migrate_resumes_sends_nothing_twice_and_verifies() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir = std::env::temp_dir().join(format!("talkjs-cli-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("export.jsonl");
    std::fs::write(&file, export()).unwrap();
    let file = file.to_str().unwrap();

    // The rejected line (m_zoe) makes it exit 1, after the summary: the rest migrated.
    let (summary, stderr) = run(talkjs(&fake).args(["migrate", file]), 1);
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["messages"]["done"], 25, "{summary}");
    assert_eq!(summary["rejectedLines"], 1);
    assert!(
        stderr.contains("line 4: error: message \"m_zoe\" in \"chat\": unknown sender \"zoe\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 input line was rejected (listed above)")
            && stderr.contains("the rest has migrated"),
        "{stderr}"
    );
    assert_eq!(summary["journal"], format!("{file}.journal"));
    let messages = fake.messages("chat");
    assert_eq!(messages.len(), 25);
    assert_eq!(
        messages[7]
            .custom
            .get("talkjs-migrate:replyTo")
            .map(String::as_str),
        Some("m3")
    );
    assert_eq!(messages[0].read_by.len(), 2);

    // Run again: nothing sent, and the line is still rejected (the journal keeps the notes).
    let (again, stderr) = run(talkjs(&fake).args(["migrate", file]), 1);
    assert_eq!(again["requests"], 0, "{again}");
    assert_eq!(again["rejectedLines"], 1, "{again}");
    assert!(stderr.contains("1 input line was rejected"), "{stderr}");
    assert_eq!(fake.messages("chat").len(), 25);

    let (verify, _) = run(talkjs(&fake).args(["migrate", file, "--verify"]), 0);
    assert_eq!(verify["matches"], true, "{verify}");

    // A message deleted in the app: --verify says where, and exits 1.
    let victim = fake.messages("chat")[3].id.as_str().to_owned();
    let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()
        .unwrap();
    runtime
        .block_on(client.conversations().messages("chat").delete(&victim))
        .unwrap();
    // --verify lists a differing conversation again after --settle (listings may lag).
    let (verify, stderr) = run(
        talkjs(&fake).args(["migrate", file, "--verify", "--settle", "100ms"]),
        1,
    );
    assert_eq!(verify["matches"], false);
    assert_eq!(verify["mismatched"][0]["conversation"], "chat");
    assert!(
        stderr.contains("chat: 25 messages expected, 24 found"),
        "{stderr}"
    );

    // A journal of another input is refused (exit 2), nothing sent.
    std::fs::write(
        dir.join("other.jsonl"),
        "{\"id\": \"carol\", \"name\": \"Carol\"}\n",
    )
    .unwrap();
    let before = fake.request_count();
    talkjs(&fake)
        .args([
            "migrate",
            dir.join("other.jsonl").to_str().unwrap(),
            "--journal",
            &format!("{file}.journal"),
        ])
        .assert()
        .code(2);
    assert_eq!(fake.request_count(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Messages as the comparison sees them: sender, time, text, reply link, readers.
fn messages_of(fake: &FakeTalkJs, conversation: &str) -> Vec<(String, u64, String, String, usize)> {
    fake.messages(conversation)
        .iter()
        .map(|m| {
            (
                m.sender_id
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                m.created_at.as_millis(),
                m.text.clone().unwrap_or_default(),
                m.custom
                    .get("talkjs-migrate:replyTo")
                    .cloned()
                    .unwrap_or_default(),
                m.read_by.len(),
            )
        })
        .collect()
}

#[test]
fn migrate_copies_one_app_into_another_then_verifies() {
    let runtime = fake_runtime();
    let source = runtime.block_on(FakeTalkJs::start()).unwrap();
    let target = runtime.block_on(FakeTalkJs::start()).unwrap();
    assert_ne!(source.app_id(), target.app_id());
    let dir = std::env::temp_dir().join(format!("talkjs-cli-migrate-app-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, export()).unwrap();
    // The source app: the file migrated into it (but its line 4, exit 1).
    run(talkjs(&source).args(["migrate", file.to_str().unwrap()]), 1);
    assert_eq!(source.messages("chat").len(), 25);

    let journal = dir.join("copy.journal");
    let copy = |fake: &FakeTalkJs| {
        let mut cmd = talkjs(fake);
        cmd.args([
            "migrate",
            "--from-app-id",
            source.app_id(),
            "--from-base-url",
            source.base_url(),
            "--journal",
            journal.to_str().unwrap(),
        ])
        .env("TALKJS_FROM_SECRET_KEY", source.secret_key());
        cmd
    };
    let (summary, _) = run(&mut copy(&target), 0);
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["messages"]["done"], 25, "{summary}");
    assert_eq!(summary["users"]["done"], 2, "{summary}");
    assert_eq!(messages_of(&target, "chat"), messages_of(&source, "chat"));
    assert_eq!(target.conversation("chat").unwrap().participants.len(), 2);

    let (verify, _) = run(copy(&target).arg("--verify"), 0);
    assert_eq!(verify["matches"], true, "{verify}");
    // Without the source's secret key: a usage error, nothing sent.
    let before = target.request_count();
    talkjs(&target)
        .args(["migrate", "--from-app-id", source.app_id()])
        .assert()
        .code(2);
    assert_eq!(target.request_count(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Four users, eight conversations of 6 messages each.
fn export_of_eight() -> String {
    let mut text = String::new();
    for u in ["u0", "u1", "u2", "u3"] {
        writeln!(text, "{}", json!({"id": u, "name": u, "createdAt": 1})).unwrap();
    }
    for c in 0..8u64 {
        let members = [format!("u{}", c % 4), format!("u{}", (c + 1) % 4)];
        let participants: serde_json::Map<String, Value> = members
            .iter()
            .map(|m| (m.clone(), json!({"access": "ReadWrite", "notify": true})))
            .collect();
        writeln!(
            text,
            "{}",
            json!({"id": format!("c{c}"), "participants": participants, "createdAt": 1})
        )
        .unwrap();
        for k in 0..6u64 {
            writeln!(
                text,
                "{}",
                json!({"id": format!("m{c}_{k}"), "type": "UserMessage", "conversationId": format!("c{c}"),
                       "senderId": members[(k % 2) as usize], "text": format!("{c}/{k}"),
                       "createdAt": 1_600_000_000_000u64 + k * 1000, "readBy": []})
            )
            .unwrap();
        }
    }
    text
}

#[test]
fn two_shard_processes_share_a_redis_rate_limit_and_migrate_everything_once() {
    let Some(redis) = redis_server::RedisServer::start(
        "two_shard_processes_share_a_redis_rate_limit_and_migrate_everything_once",
    ) else {
        return;
    };
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir =
        std::env::temp_dir().join(format!("talkjs-cli-migrate-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, export_of_eight()).unwrap();
    let file = file.to_str().unwrap();

    // Two processes at once.
    let children: Vec<_> = ["0/2", "1/2"]
        .into_iter()
        .map(|shard| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("talkjs"));
            cmd.env_remove("TALKJS_APP_ID")
                .env_remove("TALKJS_BASE_URL")
                .env_remove("TALKJS_REDIS_URL")
                .args(["--base-url", fake.base_url(), "--app-id", fake.app_id()])
                .env("TALKJS_SECRET_KEY", fake.secret_key())
                .args(["--output", "json", "migrate", file, "--shard", shard])
                .args(["--redis-url", &redis.url()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    let mut done = 0;
    for (k, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "shard {k}: {stderr}");
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["complete"], true, "{summary}");
        assert_eq!(
            summary["journal"],
            format!("{file}.shard-{k}-of-2.journal"),
            "{summary}"
        );
        // The hash puts conversations in both shards (it is stable: always the same ones).
        assert!(
            summary["conversations"]["done"].as_u64().unwrap() > 0,
            "{summary}"
        );
        done += summary["messages"]["done"].as_u64().unwrap();
    }
    assert_eq!(done, 48);
    for c in 0..8 {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .iter()
            .map(|m| m.text.clone().unwrap())
            .collect();
        let expected: Vec<String> = (0..6).map(|k| format!("{c}/{k}")).collect();
        assert_eq!(texts, expected, "c{c}: every message once, in order");
    }
    // Both processes took their slots from Redis.
    let key = format!("talkjs:{}:general", fake.app_id());
    assert!(
        redis.get_int(&key).is_some(),
        "no rate-limit state in Redis"
    );

    // Unsharded, --verify sees the shards' work as one migration.
    let journal = dir.join("verify.journal");
    let (verify, _) = run(
        talkjs(&fake).args([
            "migrate",
            file,
            "--verify",
            "--journal",
            journal.to_str().unwrap(),
        ]),
        0,
    );
    assert_eq!(verify["matches"], true, "{verify}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client of a fake (for changes made behind the migration's back).
fn client_of(fake: &FakeTalkJs) -> talkjs::Client {
    talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()
        .unwrap()
}

#[test]
fn migrate_verify_compares_users_and_participants_and_exits_1_on_a_difference() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir =
        std::env::temp_dir().join(format!("talkjs-cli-migrate-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    let lines = [
        json!({"id": "alice", "name": "Alice", "email": ["alice@example.com"], "createdAt": 1}),
        json!({"id": "bob", "name": "Bob", "custom": {"tier": "gold"}, "createdAt": 1}),
        json!({"id": "chat", "subject": "Hello", "createdAt": 1, "participants": {
            "alice": {"access": "ReadWrite", "notify": true},
            "bob": {"access": "Read", "notify": false}}}),
        json!({"id": "m1", "type": "UserMessage", "conversationId": "chat", "senderId": "alice",
               "text": "hi", "createdAt": 1_600_000_000_000u64, "readBy": []}),
    ];
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();

    run(talkjs(&fake).args(["migrate", file]), 0);
    let (verify, _) = run(talkjs(&fake).args(["migrate", file, "--verify"]), 0);
    assert_eq!(verify["matches"], true, "{verify}");
    assert_eq!(verify["users"], 2, "{verify}");

    // A user renamed and a participant allowed to write, behind the migration's back.
    let client = client_of(&fake);
    runtime
        .block_on(
            client
                .users()
                .upsert("alice", &talkjs::models::UserUpsert::new().name("Alicia")),
        )
        .unwrap();
    runtime
        .block_on(client.conversations().participants("chat").modify(
            "bob",
            &talkjs::models::ParticipantPatch::new().access(talkjs::models::Access::ReadWrite),
        ))
        .unwrap();
    let (verify, stderr) = run(talkjs(&fake).args(["migrate", file, "--verify"]), 1);
    assert_eq!(verify["matches"], false, "{verify}");
    assert_eq!(verify["mismatchedUsers"][0]["user"], "alice", "{verify}");
    assert_eq!(
        verify["mismatchedUsers"][0]["fields"][0],
        json!({"field": "name", "expected": "Alice", "found": "Alicia"})
    );
    assert_eq!(
        verify["mismatched"][0]["fields"][0],
        json!({"field": "participants.bob.access", "expected": "Read", "found": "ReadWrite"}),
        "{verify}"
    );
    assert!(
        stderr.contains("user alice: name: expected \"Alice\", found \"Alicia\""),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "conversation chat: participants.bob.access: expected \"Read\", found \"ReadWrite\""
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("messages expected"),
        "the messages match: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrate_carries_attachments_and_system_messages_with_the_marker_on_request() {
    let runtime = fake_runtime();
    let host = runtime.block_on(FakeTalkJs::start()).unwrap();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let token = runtime
        .block_on(client_of(&host).files().upload(
            "report.txt",
            "text/plain",
            &b"quarterly numbers"[..],
            None,
        ))
        .unwrap();
    let url = format!("{}/files/{token}/report.txt", host.base_url());
    let dir = std::env::temp_dir().join(format!("talkjs-cli-migrate-carry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    let participants = json!({"alice": {"access": "ReadWrite", "notify": true},
                              "bob": {"access": "ReadWrite", "notify": true}});
    let lines = [
        json!({"id": "alice", "name": "Alice", "createdAt": 1}),
        json!({"id": "bob", "name": "Bob", "createdAt": 1}),
        json!({"id": "chat", "createdAt": 1, "participants": participants}),
        json!({"id": "m1", "type": "UserMessage", "conversationId": "chat", "senderId": "alice",
               "text": "the report", "createdAt": 1_600_000_000_000u64, "readBy": [],
               "attachment": {"url": url, "size": 17}}),
        json!({"id": "s1", "type": "SystemMessage", "conversationId": "chat", "senderId": null,
               "text": "Order shipped", "createdAt": 1_600_000_001_000u64, "readBy": []}),
        json!({"id": "m2", "type": "UserMessage", "conversationId": "chat", "senderId": "bob",
               "text": "thanks", "createdAt": 1_600_000_002_000u64, "readBy": ["alice"]}),
    ];
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();

    // By default the system message is skipped (and counted); the file is carried.
    let plain = runtime.block_on(FakeTalkJs::start()).unwrap();
    let journal = dir.join("plain.journal");
    let (summary, stderr) = run(
        talkjs(&plain).args([
            "migrate",
            file,
            "--journal",
            journal.to_str().unwrap(),
            "--allow-private-file-hosts",
        ]),
        0,
    );
    assert_eq!(summary["skippedSystemMessages"], 1, "{summary}");
    assert_eq!(summary["messages"]["done"], 2, "{summary}");
    assert!(
        stderr.contains("line 5: skipped: message \"s1\""),
        "{stderr}"
    );
    assert!(stderr.contains("--system-messages"), "{stderr}");

    let both = [
        "--system-messages",
        "--mark-source-ids",
        "--allow-private-file-hosts",
    ];
    let (summary, _) = run(talkjs(&fake).args(["migrate", file]).args(both), 0);
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["systemMessages"]["done"], 1, "{summary}");
    assert_eq!(summary["skippedSystemMessages"], 0, "{summary}");
    assert_eq!(
        (summary["files"].clone(), summary["uploads"].clone()),
        (json!(1), json!(1))
    );
    let messages = fake.messages("chat");
    let texts: Vec<&str> = messages.iter().filter_map(|m| m.text.as_deref()).collect();
    assert_eq!(texts, ["the report", "thanks", "Order shipped"]);
    let markers: Vec<&str> = messages
        .iter()
        .filter_map(|m| m.custom.get("talkjs-migrate:sourceId").map(String::as_str))
        .collect();
    assert_eq!(markers, ["m1", "m2", "s1"]);
    let attached = messages[0].attachment.as_ref().expect("the file");
    assert_eq!(
        fake.file_data(&attached.url).as_deref(),
        Some(&b"quarterly numbers"[..])
    );

    // The journal was planned with the marker: without it, refused (exit 2), nothing sent.
    let before = fake.request_count();
    let out = talkjs(&fake)
        .args(["migrate", file, "--system-messages"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--mark-source-ids"), "{stderr}");
    assert!(stderr.contains("--journal NEW_PATH"), "{stderr}");
    assert_eq!(fake.request_count(), before);

    let (again, _) = run(talkjs(&fake).args(["migrate", file]).args(both), 0);
    assert_eq!(
        (again["requests"].clone(), again["uploads"].clone()),
        (json!(0), json!(0))
    );
    let (verify, _) = run(
        talkjs(&fake).args(["migrate", file, "--verify"]).args(both),
        0,
    );
    assert_eq!(verify["matches"], true, "{verify}");
    assert_eq!(fake.file_count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_stops_after_the_requests_in_flight_and_the_next_run_finishes() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    // Slow answers, so that the interrupt finds requests in flight.
    fake.set_faults(Faults::none().latency(Duration::from_millis(150)));
    let dir = std::env::temp_dir().join(format!("talkjs-cli-migrate-int-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, export()).unwrap();
    let journal = dir.join("export.journal");
    let _ = std::fs::remove_file(&journal);
    let file = file.to_str().unwrap();
    let journal_arg = journal.to_str().unwrap();

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_talkjs"));
    cmd.args(["--base-url", fake.base_url(), "--app-id", fake.app_id()])
        .args([
            "--output",
            "json",
            "migrate",
            file,
            "--journal",
            journal_arg,
        ])
        .args(["--concurrency", "1"])
        .env("TALKJS_SECRET_KEY", fake.secret_key())
        .env_remove("TALKJS_BASE_URL")
        .env_remove("TALKJS_APP_ID")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Users and the conversation are up, messages are being imported.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.messages("chat").is_empty() {
        assert!(Instant::now() < deadline, "the migration did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopping after the requests in flight"),
        "{stderr}"
    );
    assert!(
        stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["complete"], false, "{summary}");
    let imported = fake.messages("chat").len();
    assert!(imported < 25, "stopped before the end: {imported}");
    // Every request sent got its answer recorded: nothing is left in flight.
    let in_flight: i64 = rusqlite::Connection::open(&journal)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM items WHERE state = 'in_flight'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_flight, 0, "{stderr}");

    fake.set_faults(Faults::none());
    // Finished, but for the rejected line 4 (exit 1).
    let (summary, stderr) = run(
        talkjs(&fake).args(["migrate", file, "--journal", journal_arg]),
        1,
    );
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["rejectedLines"], 1, "{summary}");
    assert!(stderr.contains("1 input line was rejected"), "{stderr}");
    let texts: Vec<_> = fake
        .messages("chat")
        .into_iter()
        .map(|m| m.text.unwrap_or_default())
        .collect();
    let expected: Vec<_> = (0..25).map(|k| format!("message {k}")).collect();
    assert_eq!(texts, expected, "every message once, in order");
}

#[test]
fn migrate_exits_1_when_lines_are_rejected_even_if_all_are_but_not_for_warnings() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir =
        std::env::temp_dir().join(format!("talkjs-cli-migrate-reject-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Every line rejected: nothing moves, exit 1, the summary still printed.
    let bad = dir.join("bad.jsonl");
    let lines = [
        "{not json".to_owned(),
        json!({"id": "m1", "type": "UserMessage", "conversationId": "nowhere", "senderId": "a",
               "text": "hi", "createdAt": 1})
        .to_string(),
        json!({"neither": "a user nor a conversation"}).to_string(),
    ];
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (summary, stderr) = run(talkjs(&fake).args(["migrate", bad.to_str().unwrap()]), 1);
    assert_eq!(summary["rejectedLines"], 3, "{summary}");
    assert_eq!(summary["messages"]["done"], 0, "{summary}");
    assert!(
        stderr.contains("3 input lines were rejected (listed above)"),
        "{stderr}"
    );
    assert_eq!(fake.request_count(), 0);

    // Warnings (reactions given as counts, which cannot say who reacted) and skipped system
    // messages: exit 0.
    let warned = dir.join("warned.jsonl");
    let participants = json!({"alice": {"access": "ReadWrite", "notify": true}});
    let lines = [
        json!({"id": "alice", "name": "Alice", "createdAt": 1}),
        json!({"id": "chat", "participants": participants, "createdAt": 1}),
        json!({"id": "m1", "type": "UserMessage", "conversationId": "chat", "senderId": "alice",
               "text": "hi", "createdAt": 1_600_000_000_000u64, "readBy": [],
               "reactions": {"👍": 2}}),
        json!({"id": "s1", "type": "SystemMessage", "conversationId": "chat", "senderId": null,
               "text": "Order shipped", "createdAt": 1_600_000_001_000u64, "readBy": []}),
    ];
    let text: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    std::fs::write(&warned, text).unwrap();
    let (summary, stderr) = run(talkjs(&fake).args(["migrate", warned.to_str().unwrap()]), 0);
    assert_eq!(summary["messages"]["done"], 1, "{summary}");
    assert!(stderr.contains("reactions"), "{stderr}");
    assert!(!stderr.contains("rejected"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrate_of_a_missing_file_is_a_usage_error_and_leaves_no_journal() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir =
        std::env::temp_dir().join(format!("talkjs-cli-migrate-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("nonexist.jsonl");
    for extra in [&[][..], &["--verify"][..]] {
        let out = talkjs(&fake)
            .args(["migrate", missing.to_str().unwrap()])
            .args(extra)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("cannot open"), "{stderr}");
        assert!(stderr.contains("nonexist.jsonl"), "{stderr}");
    }
    // A directory is no input either.
    talkjs(&fake)
        .args(["migrate", dir.to_str().unwrap()])
        .assert()
        .code(2);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "no journal: {left:?}");
    assert!(!dir.with_extension("journal").exists());
    assert_eq!(fake.request_count(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_command_with_another_apps_credentials_is_refused_not_done() {
    let runtime = fake_runtime();
    let app_a = runtime.block_on(FakeTalkJs::start()).unwrap();
    let app_b = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir = std::env::temp_dir().join(format!("talkjs-cli-migrate-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("export.jsonl");
    std::fs::write(&file, export()).unwrap();
    let file = file.to_str().unwrap();
    let (summary, _) = run(talkjs(&app_a).args(["migrate", file]), 1);
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(app_a.messages("chat").len(), 25);

    // The default journal (FILE.journal) is app A's: with app B's credentials it is refused
    // as a usage error naming --journal, and app B gets nothing (not a silent "done").
    app_b.reset_counters();
    let out = talkjs(&app_b)
        .args(["migrate", file])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--journal NEW_PATH"), "{stderr}");
    assert!(
        stderr.contains(app_a.app_id()) && stderr.contains(app_b.app_id()),
        "{stderr}"
    );
    assert_eq!(app_b.request_count(), 0);

    // A journal of its own migrates everything into app B.
    let journal = dir.join("b.journal");
    let (summary, _) = run(
        talkjs(&app_b).args(["migrate", file, "--journal", journal.to_str().unwrap()]),
        1,
    );
    assert_eq!(summary["messages"]["done"], 25, "{summary}");
    assert_eq!(app_b.messages("chat").len(), 25);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn map_reply_links_adds_the_new_id_of_the_message_replied_to_and_is_fixed_by_the_journal() {
    let runtime = fake_runtime();
    let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
    let dir =
        std::env::temp_dir().join(format!("talkjs-cli-migrate-replies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("export.jsonl");
    std::fs::write(&file, export()).unwrap();
    let file = file.to_str().unwrap();

    let (summary, _) = run(
        talkjs(&fake).args(["migrate", file, "--map-reply-links"]),
        1,
    );
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["replyLinks"]["done"], 1, "{summary}");
    let messages = fake.messages("chat");
    let custom = &messages[7].custom;
    assert_eq!(
        custom.get("talkjs-migrate:replyTo").map(String::as_str),
        Some("m3")
    );
    assert_eq!(
        custom.get("talkjs-migrate:replyToId").map(String::as_str),
        Some(messages[3].id.as_str())
    );
    let (verify, _) = run(
        talkjs(&fake).args(["migrate", file, "--map-reply-links", "--verify"]),
        0,
    );
    assert_eq!(verify["matches"], true, "{verify}");

    // The journal was planned with it: a run without it is refused, nothing sent.
    let before = fake.request_count();
    let out = talkjs(&fake)
        .args(["migrate", file])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--map-reply-links"), "{stderr}");
    assert_eq!(fake.request_count(), before);
    let _ = std::fs::remove_dir_all(&dir);
}
