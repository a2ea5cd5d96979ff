//! `talkjs import` against the in-process fake when requests fail: refused items and items
//! whose outcome is unknown (an import whose answer was lost) are listed apart, the
//! `--failed-file` holds exactly the lines that failed, and no advice re-sends what may have
//! landed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};
use talkjs::models::{ConversationUpsert, UserUpsert};
use talkjs_fake::{FakeTalkJs, Faults};
use talkjs_test_support::cli::talkjs;

/// A fake server on its own runtime (the test thread blocks while the binary runs).
struct Fake {
    fake: FakeTalkJs,
    runtime: tokio::runtime::Runtime,
}

impl Fake {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = runtime.block_on(FakeTalkJs::start()).unwrap();
        Self { fake, runtime }
    }

    /// Users `u0..u{n}` and conversations `c0..c{n}`, each with its user, made through the
    /// library (before any fault is set).
    fn setup(&self, n: usize) {
        let client = talkjs::Client::builder(self.fake.app_id(), self.fake.secret_key())
            .base_url(self.fake.base_url())
            .build()
            .unwrap();
        self.runtime.block_on(async {
            let users = (0..n).map(|i| (format!("u{i}"), UserUpsert::new().name(format!("U{i}"))));
            client.users().upsert_all(users).await.unwrap();
            for i in 0..n {
                client
                    .conversations()
                    .upsert(
                        format!("c{i}"),
                        &ConversationUpsert::new().participants([format!("u{i}")]),
                    )
                    .await
                    .unwrap();
            }
        });
    }

    /// Runs `talkjs import ARGS` with `stdin` if given: exit code, summary (`null` if none),
    /// standard error.
    fn import(&self, args: &[&str], stdin: Option<&str>) -> (i32, Value, String) {
        let mut cmd = talkjs(&self.fake);
        cmd.arg("import").args(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        // No summary after a usage error.
        let summary = if out.stdout.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout))
            })
        };
        (out.status.code().unwrap(), summary, stderr)
    }

    /// How many times each message text is stored in conversations `names`.
    fn stored(&self, names: impl IntoIterator<Item = String>) -> BTreeMap<String, usize> {
        let mut stored = BTreeMap::new();
        for name in names {
            for message in self.fake.messages(&name) {
                *stored.entry(message.text.unwrap()).or_default() += 1;
            }
        }
        stored
    }
}

/// A fresh directory of this test in the temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("talkjs-import-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn line(value: &Value) -> String {
    format!("{value}\n")
}

fn user_line(id: &str) -> String {
    line(&json!({"id": id, "name": id, "createdAt": 1}))
}

fn conversation_line(id: &str, participants: &[&str]) -> String {
    let participants: serde_json::Map<String, Value> = participants
        .iter()
        .map(|p| {
            (
                (*p).to_owned(),
                json!({"access": "ReadWrite", "notify": true}),
            )
        })
        .collect();
    line(&json!({"id": id, "createdAt": 1, "participants": participants}))
}

/// A message line as `talkjs export messages` writes it.
fn message_line(conversation: &str, sender: &str, text: &str, at: u64) -> String {
    line(&json!({"id": format!("msg_{at}"), "type": "UserMessage",
        "conversationId": conversation, "senderId": sender, "text": text, "readBy": [],
        "createdAt": at, "custom": {}}))
}

/// The line numbers standard error lists as failed and as "may have landed".
fn listed(stderr: &str) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let (mut failed, mut uncertain) = (BTreeSet::new(), BTreeSet::new());
    for text in stderr.lines() {
        let Some(rest) = text.strip_prefix("talkjs: line ") else {
            continue;
        };
        let (number, what) = rest.split_once(": ").unwrap();
        let number: usize = number.parse().unwrap();
        if what.contains(": failed: ") {
            assert!(failed.insert(number), "{text}");
        } else if what.contains(": may have landed (outcome unknown: ") {
            assert!(uncertain.insert(number), "{text}");
        }
    }
    (failed, uncertain)
}

/// The lines of `input` numbered `numbers` (1-based), in order, as one text.
fn lines_of(input: &str, numbers: &BTreeSet<usize>) -> String {
    input
        .lines()
        .enumerate()
        .filter(|(i, _)| numbers.contains(&(i + 1)))
        .flat_map(|(_, l)| [l, "\n"])
        .collect()
}

/// Asserts that no advice re-sends what may have landed, in any wording the import ever
/// used: neither the lines of uncertain items nor the closing message (failed items, which
/// are safe to send again, may say "retry later").
fn assert_no_resend_advice(stderr: &str) {
    for text in stderr.lines().filter(|l| !l.contains(": failed: ")) {
        for advice in [
            "import only the failed lines again",
            "retry later",
            "then retry",
        ] {
            assert!(!text.contains(advice), "{advice:?} in {text}");
        }
    }
}

#[test]
fn refused_lines_go_to_the_failed_file_from_a_file_or_standard_input() {
    let f = Fake::start();
    let mut input = [
        user_line("alice"),
        user_line("bob"),
        conversation_line("chat", &["alice", "bob"]),
    ]
    .concat();
    for i in 0..12_u64 {
        // mallory is no participant (400); "nowhere" does not exist (404).
        let sender = if i == 4 { "mallory" } else { "alice" };
        input.push_str(&message_line("chat", sender, &format!("m{i}"), 1000 + i));
    }
    input.push_str(&message_line("nowhere", "bob", "lost", 3000));
    input.push_str(&message_line("chat", "bob", "last", 4000));
    let refused: BTreeSet<usize> = [8, 16].into();
    let dir = scratch("refused");
    let file = dir.join("dump.jsonl");
    std::fs::write(&file, &input).unwrap();

    let failed_file = dir.join("failed.jsonl");
    let (code, summary, stderr) = f.import(
        &[
            file.to_str().unwrap(),
            "--failed-file",
            failed_file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        (
            &summary["succeeded"],
            &summary["failed"],
            &summary["uncertain"]
        ),
        (&json!(3 + 11 + 1), &json!(2), &json!(0)),
        "{summary}\n{stderr}"
    );
    assert_eq!(
        listed(&stderr),
        (refused.clone(), BTreeSet::new()),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&failed_file).unwrap(),
        lines_of(&input, &refused)
    );
    assert!(
        stderr.contains(&format!("written to {}", failed_file.display()))
            && stderr.contains("not de-duplicated")
            && !stderr.contains("may have landed"),
        "{stderr}"
    );
    assert_no_resend_advice(&stderr);
    assert_eq!(f.fake.messages("chat").len(), 12);

    // From standard input: the same lines, and the copy it was picked from is gone.
    f.fake.clear();
    let from_stdin = dir.join("failed-stdin.jsonl");
    let (code, _, stderr) = f.import(
        &["-", "--failed-file", from_stdin.to_str().unwrap()],
        Some(&input),
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&from_stdin).unwrap(),
        lines_of(&input, &refused)
    );
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["dump.jsonl", "failed-stdin.jsonl", "failed.jsonl"]);

    // Without --failed-file, the message says how to get them.
    let (code, _, stderr) = f.import(&[file.to_str().unwrap()], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--failed-file PATH writes them"),
        "{stderr}"
    );

    // The input itself, or a place that cannot be written: a usage error, nothing sent.
    f.fake.reset_counters();
    let (code, _, stderr) = f.import(
        &[
            file.to_str().unwrap(),
            "--failed-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is the input file"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), input);
    let nowhere = dir.join("no-such-dir").join("failed.jsonl");
    let (code, _, stderr) = f.import(
        &[
            file.to_str().unwrap(),
            "--failed-file",
            nowhere.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--failed-file"), "{stderr}");
    assert_eq!(f.fake.request_count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lost_answers_are_listed_as_may_have_landed_and_never_put_in_the_failed_file() {
    // Every request answered with a 5xx: half a 503 before processing, half a 500 after
    // it. The upserts are retried (harmless) and fail; the imports are not retried, and
    // their outcome is unknown.
    let f = Fake::start();
    f.fake.set_faults(Faults::seeded(5).error_rate(1.0));
    let mut input = [
        user_line("alice"),
        user_line("bob"),
        conversation_line("chat", &["alice", "bob"]),
    ]
    .concat();
    for i in 0..25_u64 {
        input.push_str(&message_line("chat", "alice", &format!("m{i}"), 1000 + i));
    }
    let dir = scratch("unknown");
    let file = dir.join("dump.jsonl");
    std::fs::write(&file, &input).unwrap();
    let failed_file = dir.join("failed.jsonl");
    let (code, summary, stderr) = f.import(
        &[
            file.to_str().unwrap(),
            "--failed-file",
            failed_file.to_str().unwrap(),
        ],
        None,
    );
    f.fake.set_faults(Faults::none());

    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        (
            &summary["succeeded"],
            &summary["failed"],
            &summary["uncertain"]
        ),
        (&json!(0), &json!(3), &json!(25)),
        "{summary}\n{stderr}"
    );
    let (failed, uncertain) = listed(&stderr);
    assert_eq!(failed, (1..=3).collect(), "{stderr}");
    assert_eq!(uncertain, (4..=28).collect(), "{stderr}");
    assert!(
        stderr.contains("3 of 28 items failed and 25 may have landed")
            && stderr.contains("do not import their lines again without checking")
            && stderr.contains("talkjs migrate")
            && stderr.contains("may have landed (outcome unknown: TalkJS answered 50"),
        "{stderr}"
    );
    assert_no_resend_advice(&stderr);
    // The failed file holds the user and conversation lines only: importing it again is
    // safe, and duplicates nothing.
    let failed_lines = std::fs::read_to_string(&failed_file).unwrap();
    assert_eq!(failed_lines, lines_of(&input, &failed));
    let before = f.stored(["chat".to_owned()]);
    let (code, summary, stderr) = f.import(&[failed_file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{summary}\n{stderr}");
    assert_eq!(f.stored(["chat".to_owned()]), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn under_faults_every_item_is_landed_failed_or_uncertain_and_nothing_lands_twice() {
    let f = Fake::start();
    f.setup(15);
    // 30 % 5xx (half of them after the write), 5 % resets.
    f.fake
        .set_faults(Faults::seeded(11).error_rate(0.3).reset_rate(0.05));
    let mut input = String::new();
    let mut texts = Vec::new();
    for c in 0..15_u64 {
        for m in 0..20_u64 {
            // One message per conversation from a user who is not in it: refused.
            let sender = if m == 7 {
                "u99".to_owned()
            } else {
                format!("u{c}")
            };
            let text = format!("c{c} m{m}");
            input.push_str(&message_line(&format!("c{c}"), &sender, &text, c * 100 + m));
            texts.push(text);
        }
    }
    let dir = scratch("faults");
    let file = dir.join("dump.jsonl");
    std::fs::write(&file, &input).unwrap();
    let failed_file = dir.join("failed.jsonl");
    let (code, summary, stderr) = f.import(
        &[
            file.to_str().unwrap(),
            "--failed-file",
            failed_file.to_str().unwrap(),
        ],
        None,
    );
    f.fake.set_faults(Faults::none());
    assert_eq!(code, 1, "{stderr}");

    let (failed, uncertain) = listed(&stderr);
    assert_eq!(summary["failed"], failed.len(), "{summary}\n{stderr}");
    assert_eq!(summary["uncertain"], uncertain.len(), "{summary}\n{stderr}");
    assert_eq!(
        usize::try_from(summary["succeeded"].as_u64().unwrap()).unwrap()
            + failed.len()
            + uncertain.len(),
        texts.len(),
        "{summary}"
    );
    assert!(failed.is_disjoint(&uncertain));
    assert!(!uncertain.is_empty(), "{summary}\n{stderr}");
    assert!(
        stderr.contains("do not import their lines again without checking"),
        "{stderr}"
    );
    assert_no_resend_advice(&stderr);
    assert_eq!(
        std::fs::read_to_string(&failed_file).unwrap(),
        lines_of(&input, &failed)
    );

    // The fake: what succeeded once, what failed never, what is uncertain at most once.
    let stored = f.stored((0..15).map(|c| format!("c{c}")));
    let (mut landed, mut not_landed) = (0, 0);
    for (i, text) in texts.iter().enumerate() {
        let n = stored.get(text).copied().unwrap_or(0);
        let number = i + 1;
        if failed.contains(&number) {
            assert_eq!(n, 0, "{text} failed (refused) but is stored");
        } else if uncertain.contains(&number) {
            assert!(n <= 1, "{text}: {n}");
            if n == 1 {
                landed += 1;
            } else {
                not_landed += 1;
            }
        } else {
            assert_eq!(n, 1, "{text} succeeded");
        }
    }
    // Both happened to items listed as "may have landed": the client cannot tell them apart.
    assert!(
        landed > 0 && not_landed > 0,
        "{landed} landed, {not_landed} not"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
