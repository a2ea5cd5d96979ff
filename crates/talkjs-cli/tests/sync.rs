//! `talkjs sync plan|apply` against the in-process fake: exit codes 0 (no changes), 2
//! (changes) and 1 (errors), prune's confirmation, one apply, a saved plan refused after the
//! live state moved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use talkjs::models::{ConversationUpsert, UserUpsert};
use talkjs_fake::FakeTalkJs;
use talkjs_test_support::cli::talkjs;

/// A fake server on its own runtime (the test thread blocks while the binary runs).
struct App {
    fake: FakeTalkJs,
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
}

impl App {
    /// alice and bob in c1.
    fn start(name: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
        let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
            .base_url(fake.base_url())
            .build()
            .unwrap();
        runtime.block_on(async {
            client
                .users()
                .upsert_many([
                    ("alice", UserUpsert::new().name("Alice")),
                    ("bob", UserUpsert::new().name("Bob")),
                ])
                .await
                .unwrap();
            client
                .conversations()
                .upsert(
                    "c1",
                    &ConversationUpsert::new().participants(["alice", "bob"]),
                )
                .await
                .unwrap();
        });
        let dir =
            std::env::temp_dir().join(format!("talkjs-cli-sync-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { fake, runtime, dir }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Runs `talkjs sync ARGS`: exit code, standard output, standard error.
    fn sync(&self, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
        let mut cmd = talkjs(&self.fake);
        cmd.arg("sync").args(args);
        cmd.write_stdin(stdin.unwrap_or(""));
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn name(&self, user: &str) -> String {
        self.fake.user(user).unwrap().name
    }

    fn members(&self, conversation: &str) -> Vec<String> {
        let c = self.fake.conversation(conversation).unwrap();
        c.participants
            .keys()
            .map(|u| u.as_str().to_owned())
            .collect()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const DESIRED: &str = r#"{"id": "alice", "name": "Alice Smith", "createdAt": 1}
{"id": "carol", "name": "Carol", "createdAt": 1}
{"id": "c1", "participants": {"alice": {"access": "ReadWrite", "notify": true}, "carol": {"access": "Read", "notify": true}}, "createdAt": 1}
"#;

#[test]
fn plan_exits_2_on_changes_and_apply_makes_it_0() {
    let fake = App::start("apply");
    let file = fake.file("desired.jsonl", DESIRED);

    let (code, out, err) = fake.sync(&["plan", &file], None);
    assert_eq!(code, 2, "{err}");
    assert!(out.contains("~ user alice"), "{out}");
    assert!(out.contains(r#"name: "Alice" -> "Alice Smith""#), "{out}");
    assert!(out.contains("+ user carol"), "{out}");
    assert!(out.contains("+ participant carol Read/true"), "{out}");
    assert!(!out.contains("participant bob"), "no prune: {out}");

    let (code, out, _) = fake.sync(&["plan", "-", "--json", "--prune"], Some(DESIRED));
    assert_eq!(code, 2);
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["users"].as_array().unwrap().len(), 2);
    let removed = &plan["conversations"][0]["participants"][1];
    assert_eq!(
        (removed["user"].as_str(), removed["action"].as_str()),
        (Some("bob"), Some("remove"))
    );
    assert_eq!(fake.name("alice"), "Alice", "a plan writes nothing");

    // Prune without --yes, and standard input not a terminal: refused, nothing sent.
    let (code, _, err) = fake.sync(&["apply", &file, "--prune"], None);
    assert_eq!(code, 1);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(fake.name("alice"), "Alice");

    let (code, out, err) = fake.sync(&["apply", &file, "--prune", "--yes"], None);
    assert_eq!(code, 2, "{err}");
    assert!(out.contains("Applied: "), "{out}");
    assert_eq!(fake.name("alice"), "Alice Smith");
    assert_eq!(fake.members("c1"), ["alice", "carol"]);
    assert!(fake.fake.user("bob").is_some(), "prune never deletes users");

    let (code, out, err) = fake.sync(&["plan", &file, "--prune"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("No changes"), "{out}");
    let (code, _, _) = fake.sync(&["apply", &file, "--prune", "--yes"], None);
    assert_eq!(code, 0, "nothing to change");
}

#[test]
fn errors_exit_1_with_the_bad_lines_numbers() {
    let fake = App::start("errors");
    let bad = "{\"id\": \"alice\", \"name\": \"A\", \"createdAt\": 1}\n\
        {\"id\": \"m\", \"type\": \"UserMessage\", \"conversationId\": \"c1\", \"senderId\": \"alice\", \"text\": \"hi\", \"createdAt\": 1}\n\
        {nope\n";
    let (code, _, err) = fake.sync(&["plan", "-"], Some(bad));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 2: a message"), "{err}");
    assert!(err.contains("line 3: not valid JSON"), "{err}");

    let (code, _, err) = fake.sync(&["plan", "/nonexistent/desired.jsonl"], None);
    assert_eq!(code, 1, "a missing file is an error, not changes: {err}");

    // A usage error too (elsewhere 2, which here means changes).
    let (code, _, err) = fake.sync(&["plan", "-", "--no-such-flag"], Some(""));
    assert_eq!(code, 1, "a typo is an error, not changes: {err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

#[test]
fn a_saved_plan_is_refused_after_the_live_state_moved() {
    let fake = App::start("saved");
    let file = fake.file("desired.jsonl", DESIRED);
    let (code, out, _) = fake.sync(&["plan", &file, "--json"], None);
    assert_eq!(code, 2);
    let saved = fake.file("plan.json", &out);

    let client = talkjs::Client::builder(fake.fake.app_id(), fake.fake.secret_key())
        .base_url(fake.fake.base_url())
        .build()
        .unwrap();
    fake.runtime.block_on(async {
        client
            .users()
            .upsert("alice", &UserUpsert::new().name("Alicia"))
            .await
            .unwrap();
    });
    let (code, _, err) = fake.sync(&["apply", "--plan-file", &saved], None);
    assert_eq!(code, 1);
    assert!(err.contains("user alice"), "{err}");
    assert!(err.contains("changed since the plan"), "{err}");
    assert!(fake.fake.user("carol").is_none(), "nothing applied");

    // A fresh plan applies.
    let (_, out, _) = fake.sync(&["plan", &file, "--json"], None);
    let fresh = fake.file("fresh.json", &out);
    let (code, _, err) = fake.sync(&["apply", "--plan-file", &fresh], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(fake.name("alice"), "Alice Smith");
    assert_eq!(fake.members("c1"), ["alice", "bob", "carol"]);
}
