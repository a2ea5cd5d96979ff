//! The `talkjs` binary against the in-process fake TalkJS server: every command, JSON output
//! parsed and checked, exports, exit codes, and the secret key never shown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};

use assert_cmd::Command;
use serde_json::{Value, json};
use talkjs::models::UserUpsert;
use talkjs_fake::{FakeTalkJs, Faults};

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

    /// The options that point the binary at this fake, with its credentials.
    fn server_args(&self) -> [&str; 6] {
        server_args(
            self.fake.base_url(),
            self.fake.app_id(),
            self.fake.secret_key(),
        )
    }

    /// The binary with this fake's base URL and credentials.
    fn cmd(&self) -> Command {
        let mut cmd = bare();
        cmd.args(self.server_args());
        cmd
    }

    /// The command `args` against this fake, with `stdin` as its standard input if given.
    fn with_args(&self, args: &[&str], stdin: Option<&str>) -> Command {
        let mut cmd = self.cmd();
        cmd.args(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        cmd
    }

    /// Runs a command that must succeed; returns standard output.
    fn stdout(&self, args: &[&str], stdin: Option<&str>) -> Vec<u8> {
        success_stdout(&mut self.with_args(args, stdin))
    }

    /// Runs a command that must succeed and prints one JSON value.
    fn json(&self, args: &[&str]) -> Value {
        json_of(args, &self.stdout(args, None))
    }

    /// The same, with `stdin` as standard input.
    fn json_in(&self, args: &[&str], stdin: &str) -> Value {
        json_of(args, &self.stdout(args, Some(stdin)))
    }

    /// Runs a command that must succeed and prints JSON lines.
    fn jsonl(&self, args: &[&str]) -> Vec<Value> {
        parse_lines(&self.stdout(args, None))
    }

    /// Runs a command that must succeed; returns standard output as text.
    fn text(&self, args: &[&str]) -> String {
        String::from_utf8(self.stdout(args, None)).unwrap()
    }

    /// Runs a command that must fail with `code`; returns standard error.
    fn fails(&self, args: &[&str], code: i32) -> String {
        failure_stderr(&mut self.with_args(args, None), code)
    }

    /// The same, with `stdin` as standard input.
    fn fails_in(&self, args: &[&str], stdin: &str, code: i32) -> String {
        failure_stderr(&mut self.with_args(args, Some(stdin)), code)
    }

    /// Starts a command against this fake without waiting for it (to read its output while it
    /// runs).
    fn spawn(&self, args: &[&str], stdout: Stdio, stderr: Stdio) -> KillOnDrop {
        spawn(binary().args(self.server_args()).args(args), stdout, stderr)
    }

    fn client(&self) -> talkjs::Client {
        talkjs::Client::builder(self.fake.app_id(), self.fake.secret_key())
            .base_url(self.fake.base_url())
            .build()
            .unwrap()
    }

    /// Creates `n` users `user0000`... through the library, in batches of 100.
    fn create_users(&self, n: usize) -> BTreeSet<String> {
        let ids: Vec<String> = (0..n).map(|i| format!("user{i:04}")).collect();
        let client = self.client();
        let users = ids
            .iter()
            .map(|id| (id.clone(), UserUpsert::new().name(format!("User {id}"))));
        let sent = self
            .runtime
            .block_on(client.users().upsert_all(users))
            .unwrap();
        assert_eq!(sent, n);
        ids.into_iter().collect()
    }

    /// Creates conversation `id` through the CLI, with `participants` (comma-separated).
    fn upsert_conversation(&self, id: &str, participants: &str) {
        self.json(&["conversations", "upsert", id, "--participant", participants]);
    }
}

/// The binary with none of the TALKJS_* variables of the environment the tests run in.
fn bare() -> Command {
    let mut cmd = Command::cargo_bin("talkjs").unwrap();
    for var in ["TALKJS_APP_ID", "TALKJS_SECRET_KEY", "TALKJS_BASE_URL"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `--base-url`, `--app-id` and `--secret-key` with these values.
fn server_args<'a>(base_url: &'a str, app_id: &'a str, secret_key: &'a str) -> [&'a str; 6] {
    [
        "--base-url",
        base_url,
        "--app-id",
        app_id,
        "--secret-key",
        secret_key,
    ]
}

/// [`bare`] pointed at `base_url` with these credentials.
fn against(base_url: &str, app_id: &str, secret_key: &str) -> Command {
    let mut cmd = bare();
    cmd.args(server_args(base_url, app_id, secret_key));
    cmd
}

/// Runs `cmd`, which must succeed; returns standard output.
fn success_stdout(cmd: &mut Command) -> Vec<u8> {
    cmd.assert().success().get_output().stdout.clone()
}

/// Runs `cmd`, which must exit with `code`; returns standard error.
fn failure_stderr(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8(out.stderr).unwrap()
}

/// The one JSON value printed by the command `args`.
fn json_of(args: &[&str], stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(stdout)))
}

fn parse_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {e}: {line:?}"))
        })
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A file path in the temporary directory, unique to this process and test.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("talkjs-cli-test-{}-{name}", std::process::id()))
}

#[test]
fn users_upsert_get_and_list() {
    let f = Fake::start();
    let alice = f.json(&[
        "users",
        "upsert",
        "alice",
        "--name",
        "Alice",
        "--email",
        "alice@example.com",
        "--email",
        "a@example.com",
        "--role",
        "admin",
        "--custom",
        "plan=pro",
    ]);
    assert_eq!(alice["id"], "alice");
    assert_eq!(alice["name"], "Alice");
    assert_eq!(
        alice["email"],
        json!(["alice@example.com", "a@example.com"])
    );
    assert_eq!(alice["role"], "admin");
    assert_eq!(alice["custom"], json!({"plan": "pro"}));

    // The body as inline JSON, a file and standard input; the options win over --json.
    let bob = f.json(&[
        "users",
        "upsert",
        "bob",
        "--json",
        r#"{"name":"Bob","locale":"nl-NL"}"#,
    ]);
    assert_eq!(
        (bob["name"].as_str(), bob["locale"].as_str()),
        (Some("Bob"), Some("nl-NL"))
    );
    let file = temp_path("carol.json");
    std::fs::write(&file, r#"{"name": "Carol", "phone": ["+14155550100"]}"#).unwrap();
    let carol = f.json(&[
        "users",
        "upsert",
        "carol",
        "--json",
        &format!("@{}", file.display()),
    ]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(carol["phone"], json!(["+14155550100"]));
    let dave = f.json_in(
        &["users", "upsert", "dave", "--json", "-", "--name", "Dave"],
        r#"{"name": "not Dave", "custom": {"team": "blue"}}"#,
    );
    assert_eq!(
        (dave["name"].as_str(), dave["custom"]["team"].as_str()),
        (Some("Dave"), Some("blue"))
    );
    // A merge: fields not given are kept.
    let alice = f.json(&["users", "upsert", "alice", "--locale", "en-GB"]);
    assert_eq!(alice["name"], "Alice");
    assert_eq!(alice["locale"], "en-GB");
    assert_eq!(
        f.fake.user("alice").unwrap().locale.as_deref(),
        Some("en-GB")
    );

    let got = f.json(&["users", "get", "carol"]);
    assert_eq!(got["name"], "Carol");

    // One page (TalkJS's order: newest first), every page, and every page in pages of 1.
    let page = f.jsonl(&["users", "list", "--limit", "2"]);
    assert_eq!(ids(&page), ["dave", "carol"]);
    let next = f.jsonl(&["users", "list", "--limit", "2", "--starting-after", "carol"]);
    assert_eq!(ids(&next), ["bob", "alice"]);
    let all = f.jsonl(&["users", "list", "--all"]);
    assert_eq!(ids(&all), ["dave", "carol", "bob", "alice"]);
    let by_one = f.jsonl(&["users", "list", "--all", "--limit", "1"]);
    assert_eq!(ids(&by_one), ids(&all));
    let array = f.json(&["users", "list", "--output", "json"]);
    assert_eq!(array.as_array().unwrap().len(), 4);

    // The table for people.
    let table = f.text(&["users", "list", "-o", "table"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID"), "{table}");
    assert!(
        lines[0].contains("NAME") && lines[0].contains("EMAIL"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        table.contains("alice@example.com, a@example.com"),
        "{table}"
    );
    let table = f.text(&["users", "get", "alice", "-o", "table"]);
    assert!(table.starts_with("id "), "{table}");
    assert!(table.contains("UTC"), "{table}");

    // A user that does not exist: exit 1, status and what to do.
    let err = f.fails(&["users", "get", "nobody"], 1);
    assert!(
        err.contains("not found (404)") && err.contains("check the id"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn conversations_upsert_get_list_delete() {
    let f = Fake::start();
    f.create_users(3);
    let c = f.json(&[
        "conversations",
        "upsert",
        "order_1",
        "--participant",
        "user0000,user0001",
        "--subject",
        "Order #1",
        "--custom",
        "category=shoes",
    ]);
    assert_eq!(c["id"], "order_1");
    assert_eq!(c["subject"], "Order #1");
    let participants: Vec<&String> = c["participants"].as_object().unwrap().keys().collect();
    assert_eq!(participants, ["user0000", "user0001"]);
    // Participants are added, never removed.
    let c = f.json(&[
        "conversations",
        "upsert",
        "order_1",
        "--json",
        r#"{"participants":["user0002"]}"#,
    ]);
    assert_eq!(c["participants"].as_object().unwrap().len(), 3);
    assert_eq!(c["subject"], "Order #1");
    f.json(&[
        "conversations",
        "upsert",
        "order_2",
        "--custom",
        "category=hats",
    ]);
    f.json(&["conversations", "upsert", "order_3"]);

    let got = f.json(&["conversations", "get", "order_2"]);
    assert_eq!(got["custom"], json!({"category": "hats"}));
    let all = f.jsonl(&["conversations", "list", "--all", "--limit", "2"]);
    let mut listed = ids(&all);
    listed.sort();
    assert_eq!(listed, ["order_1", "order_2", "order_3"]);
    let shoes = f.jsonl(&[
        "conversations",
        "list",
        "--filter",
        r#"{"custom":{"category":["==","shoes"]}}"#,
    ]);
    assert_eq!(ids(&shoes), ["order_1"]);

    let deleted = f.json(&["conversations", "delete", "order_2"]);
    assert_eq!(
        deleted,
        json!({"conversationId": "order_2", "deleted": true})
    );
    assert!(f.fake.conversation("order_2").is_none());
    let err = f.fails(&["conversations", "get", "order_2"], 1);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn participants_add_update_remove() {
    let f = Fake::start();
    f.create_users(2);
    f.upsert_conversation("chat", "user0000");

    let added = f.json(&[
        "participants",
        "add",
        "chat",
        "user0001",
        "--access",
        "read",
        "--notify",
        "mentions-only",
    ]);
    assert_eq!(
        added,
        json!({"conversationId": "chat", "userId": "user0001", "access": "Read", "notify": "MentionsOnly"})
    );
    let updated = f.json(&[
        "participants",
        "update",
        "chat",
        "user0001",
        "--notify",
        "off",
    ]);
    assert_eq!(
        (updated["access"].as_str(), &updated["notify"]),
        (Some("Read"), &json!(false))
    );
    let updated = f.json(&[
        "participants",
        "update",
        "chat",
        "user0001",
        "--access",
        "none",
    ]);
    assert_eq!(updated["access"], "None");
    // `add` overwrites: options not given go back to the defaults.
    let reset = f.json(&["participants", "add", "chat", "user0001"]);
    assert_eq!(
        (reset["access"].as_str(), &reset["notify"]),
        (Some("ReadWrite"), &json!(true))
    );

    let removed = f.json(&["participants", "remove", "chat", "user0001"]);
    assert_eq!(
        removed,
        json!({"conversationId": "chat", "userId": "user0001", "removed": true})
    );
    let conversation = f.fake.conversation("chat").unwrap();
    assert!(!conversation.participants.contains_key("user0001"));

    let err = f.fails(
        &[
            "participants",
            "add",
            "chat",
            "user0001",
            "--access",
            "none",
        ],
        2,
    );
    assert!(err.contains("participants update --access none"), "{err}");
    let err = f.fails(&["participants", "update", "chat", "user0001"], 2);
    assert!(err.contains("--access"), "{err}");
}

#[test]
fn messages_send_list_import() {
    let f = Fake::start();
    f.create_users(2);
    f.upsert_conversation("chat", "user0000,user0001");

    let sent = f.jsonl(&[
        "messages", "send", "chat", "--sender", "user0000", "--text", "Hi!", "--custom", "k=v",
    ]);
    assert_eq!(sent.len(), 1);
    let first_id = sent[0]["id"].as_str().unwrap().to_owned();
    assert!(first_id.starts_with("msg_"), "{first_id}");
    let system = f.jsonl(&[
        "messages",
        "send",
        "chat",
        "--system",
        "--text",
        "user0001 joined",
    ]);
    assert_eq!(system.len(), 1);
    let reply = f.jsonl(&[
        "messages",
        "send",
        "chat",
        "--sender",
        "user0001",
        "--text",
        "Hello",
        "--reply-to",
        &first_id,
    ]);
    assert_eq!(reply.len(), 1);
    let batch = f.jsonl(&[
        "messages", "send", "chat", "--json",
        r#"[{"sender":"user0000","text":"one"},{"text":"two (system)"},{"type":"UserMessage","sender":"user0001","text":"three","idempotencyKey":"k3"}]"#,
    ]);
    assert_eq!(batch.len(), 3);
    // The same idempotency key again: the same message, not a new one.
    let again = f.jsonl(&[
        "messages",
        "send",
        "chat",
        "--sender",
        "user0001",
        "--text",
        "three",
        "--idempotency-key",
        "k3",
    ]);
    assert_eq!(again[0]["id"], batch[2]["id"]);
    assert_eq!(f.fake.messages("chat").len(), 6);

    let listed = f.jsonl(&["messages", "list", "chat", "--all", "--limit", "4"]);
    assert_eq!(listed.len(), 6);
    assert_eq!(
        listed[5]["id"].as_str(),
        Some(first_id.as_str()),
        "oldest last"
    );
    assert_eq!(listed[5]["custom"], json!({"k": "v"}));
    assert_eq!(
        listed[3]["referencedMessageId"].as_str(),
        Some(first_id.as_str())
    );
    let page = f.jsonl(&["messages", "list", "chat", "--limit", "2"]);
    assert_eq!(ids(&page), ids(&listed[..2]));

    // Import from standard input (blank lines are skipped) and from a file.
    let lines = concat!(
        r#"{"sender":"user0000","text":"from 2019","timestamp":1550000000000,"readBy":["user0001"]}"#,
        "\n",
        "\n",
        r#"{"type":"UserMessage","sender":"user0001","text":"from 2018","timestamp":1540000000000}"#,
        "\n",
    );
    let imported = f.json_in(&["messages", "import", "chat"], lines);
    assert_eq!(imported, json!({"conversationId": "chat", "imported": 2}));
    let file = temp_path("import.jsonl");
    let mut many = String::new();
    for i in 0..25_u64 {
        let line = json!({"sender": "user0000", "text": format!("old {i}"), "timestamp": 1_500_000_000_000 + i});
        many.push_str(&line.to_string());
        many.push('\n');
    }
    std::fs::write(&file, many).unwrap();
    let imported = f.json(&["messages", "import", "chat", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(imported["imported"], 25);
    let messages = f.fake.messages("chat");
    assert_eq!(messages.len(), 33);
    let from_2019 = messages
        .iter()
        .find(|m| m.text.as_deref() == Some("from 2019"))
        .unwrap();
    assert_eq!(from_2019.created_at.as_millis(), 1_550_000_000_000);
    assert_eq!(from_2019.read_by, ["user0001"]);

    // A bad line: nothing is imported, and the message names the line.
    let bad = concat!(
        r#"{"sender":"user0000","text":"fine","timestamp":1}"#,
        "\n",
        r#"{"sender":"user0000","txt":"typo","timestamp":2}"#,
        "\n",
    );
    let err = f.fails_in(&["messages", "import", "chat"], bad, 2);
    assert!(
        err.contains("line 2") && err.contains("unknown field \"txt\""),
        "{err}"
    );
    let err = f.fails_in(&["messages", "import", "chat"], "{not json\n", 2);
    assert!(err.contains("line 1: not valid JSON"));
    assert_eq!(f.fake.messages("chat").len(), 33);

    // An answer lost (every request a 5xx): the message says the request may have been
    // stored and to check before importing again, not "import the rest".
    f.fake
        .set_faults(talkjs_fake::Faults::seeded(3).error_rate(1.0));
    let err = f.fails_in(&["messages", "import", "chat"], lines, 1);
    f.fake.set_faults(talkjs_fake::Faults::none());
    assert!(
        err.contains("0 of 2 messages imported for sure")
            && err.contains("may have been stored")
            && err.contains("before importing from line 1 again"),
        "{err}"
    );

    // A sender who is not a participant: the API's 400, exit 1.
    let err = f.fails(
        &[
            "messages", "send", "chat", "--sender", "stranger", "--text", "x",
        ],
        1,
    );
    assert!(err.contains("bad request (400)"), "{err}");
}

#[test]
fn export_of_1000_users_loses_and_repeats_nothing() {
    let f = Fake::start();
    let created = f.create_users(1000);

    let exported = ids(&f.jsonl(&["export", "users"]));
    assert_eq!(exported.len(), 1000);
    let unique: BTreeSet<String> = exported.iter().cloned().collect();
    assert_eq!(unique, created, "every user exactly once");

    // To a file, in small pages, then resumed half way with --starting-after and --append.
    let file = temp_path("users.jsonl");
    f.cmd()
        .args([
            "export",
            "users",
            "--page-size",
            "37",
            "--file",
            file.to_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout("");
    let from_file = ids(&parse_lines(&std::fs::read(&file).unwrap()));
    assert_eq!(from_file, exported);
    let first_half: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .take(400)
        .flat_map(|l| [l, "\n"])
        .collect();
    std::fs::write(&file, first_half).unwrap();
    f.cmd()
        .args([
            "export",
            "users",
            "--append",
            "--file",
            file.to_str().unwrap(),
            "--starting-after",
            &exported[399],
        ])
        .assert()
        .success();
    let resumed = ids(&parse_lines(&std::fs::read(&file).unwrap()));
    std::fs::remove_file(&file).unwrap();
    assert_eq!(resumed, exported);
}

#[test]
fn export_conversations_and_messages() {
    let f = Fake::start();
    f.create_users(2);
    // Three conversations through the CLI, the rest (and 150 messages) through the library.
    for id in ["conv00", "conv01", "conv02"] {
        f.upsert_conversation(id, "user0000,user0001");
    }
    let client = f.client();
    f.runtime.block_on(async {
        for i in 3..45 {
            client
                .conversations()
                .upsert(
                    format!("conv{i:02}"),
                    &talkjs::models::ConversationUpsert::new(),
                )
                .await
                .unwrap();
        }
        let messages =
            (0..150).map(|i| talkjs::models::NewMessage::user("user0000", format!("m{i}")));
        client
            .conversations()
            .messages("conv00")
            .send_all(messages)
            .await
            .unwrap();
    });

    let conversations: BTreeSet<String> = ids(&f.jsonl(&["export", "conversations"]))
        .into_iter()
        .collect();
    assert_eq!(conversations.len(), 45);
    assert!(conversations.contains("conv00") && conversations.contains("conv44"));

    let messages = f.jsonl(&["export", "messages", "conv00", "-o", "jsonl"]);
    assert_eq!(messages.len(), 150);
    let unique: BTreeSet<String> = ids(&messages).into_iter().collect();
    assert_eq!(unique.len(), 150);
    assert_eq!(messages[0]["text"], "m149", "newest first");

    // An export of a conversation that does not exist: exit 1, nothing written.
    let err = f.fails(&["export", "messages", "nope"], 1);
    assert!(
        err.contains("not found") && err.contains("no messages written"),
        "{err}"
    );
    // Exports write JSON lines only.
    let err = f.fails(&["export", "users", "-o", "table"], 2);
    assert!(err.contains("JSON lines"), "{err}");
}

/// Decodes the payload of a JWT (base64url without padding).
fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let v = u32::try_from(alphabet.iter().position(|&a| a == c).unwrap()).unwrap();
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(u8::try_from((bits >> count) & 0xff).unwrap());
        }
    }
    serde_json::from_slice(&bytes).unwrap()
}

/// The status of `GET /users` at the fake with `token` as the bearer, over a plain socket
/// (so nothing but the token authenticates the request).
fn get_users_status(f: &Fake, token: &str) -> u16 {
    use std::io::{Read, Write};
    let host = f.fake.base_url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    write!(
        stream,
        "GET /v1/{}/users HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
        f.fake.app_id()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"))
}

#[test]
fn tokens_for_debugging() {
    let f = Fake::start();
    // The bare token by default.
    let token = f.text(&["token", "app"]);
    let claims = jwt_claims(token.trim());
    assert_eq!(claims["tokenType"], "app");
    assert_eq!(claims["iss"], f.fake.app_id());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        30
    );

    let user = f.json(&["token", "user", "alice", "--expires-in", "2h", "-o", "json"]);
    assert_eq!(user["tokenType"], "user");
    assert_eq!(user["userId"], "alice");
    assert_eq!(
        user["expiresAt"].as_u64().unwrap() - user["issuedAt"].as_u64().unwrap(),
        7_200_000
    );
    let claims = jwt_claims(user["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(
        claims["exp"].as_u64().unwrap() * 1000,
        user["expiresAt"].as_u64().unwrap()
    );

    // An app token minted by the CLI is accepted by the server; a tampered one is not.
    let app = f.json(&["token", "app", "--expires-in", "1m", "-o", "json"]);
    assert_eq!(app["tokenType"], "app");
    assert!(app.get("userId").is_none());
    let minted = app["token"].as_str().unwrap();
    assert_eq!(get_users_status(&f, minted), 200);
    let tampered = format!("{minted}x");
    assert_eq!(get_users_status(&f, &tampered), 401);

    let err = f.fails(&["token", "user", "alice", "--expires-in", "soon"], 2);
    assert!(err.contains("30s, 15m, 2h, 1d"), "{err}");
    let err = f.fails(&["token", "user", ""], 2);
    assert!(err.contains("user id is empty"), "{err}");
}

#[test]
fn bad_arguments_exit_2_with_a_helpful_message() {
    let f = Fake::start();
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage: talkjs"),
        (&["users", "lst"], "similar subcommand exists: 'list'"),
        (
            &["users", "list", "--limit", "many"],
            "invalid value 'many' for '--limit <N>'",
        ),
        (
            &["users", "list", "--limit", "1000"],
            "TalkJS accepts 1 to 100",
        ),
        (
            &["conversations", "list", "--limit", "31"],
            "TalkJS accepts 1 to 30",
        ),
        (
            &["users", "list", "--output", "xml"],
            "possible values: json, jsonl, table",
        ),
        (&["users", "get"], "<ID>"),
        (&["users", "get", ""], "empty"),
        (&["users", "upsert", "x"], "nothing to change"),
        (
            &[
                "conversations",
                "upsert",
                "c",
                "--participant",
                "alice,,bob",
            ],
            "--participant: empty user id",
        ),
        (
            &["users", "upsert", "x", "--json", "{nope"],
            "--json: not valid JSON",
        ),
        (
            &["users", "upsert", "x", "--json", r#"{"nmae":"X"}"#],
            "unknown field \"nmae\"",
        ),
        (
            &["users", "upsert", "x", "--json", r#"{"email":"a@b"}"#],
            "invalid type",
        ),
        (
            &["users", "upsert", "x", "--json", "@/nonexistent/x.json"],
            "cannot read",
        ),
        (
            &["users", "upsert", "x", "--custom", "novalue"],
            "KEY=VALUE",
        ),
        (
            &[
                "conversations",
                "list",
                "--filter",
                r#"{"custom":{"a":["~","b"]}}"#,
            ],
            "one of ==",
        ),
        (&["messages", "send", "chat", "--text", "hi"], "--sender"),
        (&["messages", "send", "chat", "--sender", "a"], "--text"),
        (
            &[
                "messages", "send", "chat", "--system", "--sender", "a", "--text", "x",
            ],
            "cannot be used with",
        ),
        (
            &["messages", "import", "chat", "/nonexistent/file.jsonl"],
            "cannot open",
        ),
        (&["export", "users", "--append"], "--file"),
        (
            &["export", "users", "--file", "-", "--append"],
            "--append needs a file to append to",
        ),
        (
            &["participants", "add", "c", "u", "--notify", "sometimes"],
            "possible values",
        ),
        (
            &["fake", "serve", "--port", "99999"],
            "invalid value '99999'",
        ),
        (
            &["fake", "serve", "--error-rate", "1.5"],
            "invalid value '1.5' for '--error-rate <F>': a share is from 0 to 1 (e.g. 0.2 for 20 %)",
        ),
        (
            &["fake", "serve", "--reset-rate=-0.1"],
            "a share is from 0 to 1",
        ),
        (
            &[
                "fake",
                "serve",
                "--webhook-url",
                "http://127.0.0.1:9/hook",
                "--webhook-drop-rate",
                "2",
            ],
            "invalid value '2' for '--webhook-drop-rate <F>': a share is from 0 to 1",
        ),
        (
            &["fake", "serve", "--error-rate", "often"],
            "invalid value 'often' for '--error-rate <F>': not a number",
        ),
        (&["fake", "serve", "--reset-rate", "NaN"], "from 0 to 1"),
        (
            &["fake", "serve", "--latency", "5ms"],
            "invalid value '5ms' for '--latency <MS>'",
        ),
        (
            &["fake", "serve", "--latency-jitter=-1"],
            "invalid value '-1' for '--latency-jitter <MS>'",
        ),
        (
            &["fake", "serve", "--fault-seed", "x"],
            "invalid value 'x' for '--fault-seed <N>'",
        ),
        (
            &["fake", "serve", "--webhook-url", "ftp://127.0.0.1/hook"],
            "http:// URLs only",
        ),
        (
            &["fake", "serve", "--webhook-drop-rate", "0.5"],
            "--webhook-url",
        ),
        (
            &[
                "fake",
                "serve",
                "--webhook-url",
                "http://127.0.0.1:9/hook",
                "--webhook-drop-rate",
                "0.7",
                "--webhook-duplicate-rate",
                "0.5",
            ],
            "add up to more than 1",
        ),
        (
            &[
                "fake",
                "serve",
                "--webhook-url",
                "http://127.0.0.1:9/h",
                "--webhook-duplicate-rate",
                "2",
            ],
            "invalid value '2' for '--webhook-duplicate-rate <F>'",
        ),
    ];
    for (args, expected) in cases {
        let err = f.fails(args, 2);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }

    // No credentials at all.
    let err = failure_stderr(bare().args(["users", "list"]), 2);
    assert!(
        err.contains("no app id: pass --app-id or set TALKJS_APP_ID"),
        "{err}"
    );
    let err = failure_stderr(bare().args(["--app-id", "tApp", "users", "list"]), 2);
    assert!(err.contains("set TALKJS_SECRET_KEY"), "{err}");
    // Plain http to a host that is not loopback is refused before anything is sent.
    let err = failure_stderr(
        against("http://example.com", "tApp", "sk_test_x").args(["users", "list"]),
        2,
    );
    assert!(err.contains("https"));
}

#[test]
fn wrong_secret_exits_1_with_an_unauthorized_message_and_never_shows_the_secret() {
    let f = Fake::start();
    let secret = "sk_test_the_wrong_secret_42";
    let out = against(f.fake.base_url(), f.fake.app_id(), secret)
        .args(["users", "list"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unauthorized (401)"), "{err}");
    assert!(err.contains("check the app id and the secret key"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains(secret) && out.stdout.is_empty());

    // The same from the environment.
    let err = failure_stderr(
        bare()
            .env("TALKJS_BASE_URL", f.fake.base_url())
            .env("TALKJS_APP_ID", f.fake.app_id())
            .env("TALKJS_SECRET_KEY", secret)
            .args(["export", "users"]),
        1,
    );
    assert!(
        err.contains("unauthorized") && !err.contains(secret),
        "{err}"
    );
}

#[test]
fn the_secret_is_not_shown_by_help_or_errors() {
    let secret = "sk_live_must_never_be_printed";
    for args in [
        &["--help"][..],
        &["users", "list", "--help"],
        &["export", "users", "--help"],
        &["users", "nope"],
        &["--output", "bad", "users", "list"],
    ] {
        let out = bare()
            .env("TALKJS_SECRET_KEY", secret)
            .args(args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(secret), "{args:?}:\n{all}");
        assert!(!all.contains("must_never"), "{args:?}:\n{all}");
    }
    let out = bare()
        .env("TALKJS_SECRET_KEY", secret)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("--secret-key <KEY>") && help.contains("TALKJS_SECRET_KEY"),
        "{help}"
    );
    assert!(
        help.contains("--app-id") && help.contains("--base-url") && help.contains("--output"),
        "{help}"
    );
}

#[test]
fn network_error_exits_1_with_a_one_line_message() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = failure_stderr(
        against(&format!("http://127.0.0.1:{port}"), "tApp", "sk_test_x")
            .args(["users", "get", "alice"]),
        1,
    );
    assert!(
        err.contains("transport error") && err.contains("check the network"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_closed_pipe_ends_the_export_quietly() {
    let f = Fake::start();
    f.create_users(1000);
    let mut child = f.spawn(
        &["export", "users", "--page-size", "10"],
        Stdio::piped(),
        Stdio::piped(),
    );
    // Like `| head -1`: read one line, then close the pipe.
    let first = child.first_line();
    assert!(first.starts_with("{\"id\""), "{first}");
    let (status, err) = child.wait_with_stderr();
    assert!(status.success(), "{status}: {err}");
    assert!(err.is_empty(), "{err}");
}

/// The binary as a std command, to start it and read its output while it runs.
fn binary() -> std::process::Command {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("talkjs"))
}

/// Starts `cmd` with these standard output and error.
fn spawn(cmd: &mut std::process::Command, stdout: Stdio, stderr: Stdio) -> KillOnDrop {
    KillOnDrop(cmd.stdout(stdout).stderr(stderr).spawn().unwrap())
}

/// Kills a started child (`fake serve`, an export) even when an assertion fails.
struct KillOnDrop(Child);

impl KillOnDrop {
    /// Reads the first line of its (piped) standard output, then closes the pipe.
    fn first_line(&mut self) -> String {
        let mut line = String::new();
        BufReader::new(self.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line
    }

    /// Waits until it ends; returns how, and its (piped) standard error.
    fn wait_with_stderr(&mut self) -> (ExitStatus, String) {
        let status = self.0.wait().unwrap();
        let mut err = String::new();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fake_serve_runs_a_server_the_other_commands_can_use() {
    let mut child = spawn(
        binary()
            .env_remove("TALKJS_APP_ID")
            .env("TALKJS_SECRET_KEY", "sk_live_from_the_environment")
            .args([
                "fake", "serve", "--port", "0", "--app-id", "tServe", "-o", "json",
            ]),
        Stdio::piped(),
        Stdio::null(),
    );
    let line = child.first_line();
    let info: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["appId"], "tServe");
    let secret = info["secretKey"].as_str().unwrap();
    // The secret of the environment is not the fake's (and is not printed).
    assert!(secret.starts_with("sk_test_"), "{secret}");
    let base = info["baseUrl"].as_str().unwrap();

    let stdout = success_stdout(
        against(base, "tServe", secret).args(["users", "upsert", "alice", "--name", "Alice"]),
    );
    let alice: Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(alice["name"], "Alice");

    // A secret key given on the command line is used, and not echoed.
    let mut child = spawn(
        binary().args([
            "fake",
            "serve",
            "--secret-key",
            "sk_test_given",
            "-o",
            "json",
        ]),
        Stdio::piped(),
        Stdio::null(),
    );
    let line = child.first_line();
    assert!(!line.contains("sk_test_given"), "{line}");
    let info: Value = serde_json::from_str(&line).unwrap();
    against(
        info["baseUrl"].as_str().unwrap(),
        info["appId"].as_str().unwrap(),
        "sk_test_given",
    )
    .args(["users", "list"])
    .assert()
    .success();
}

#[test]
fn fake_serve_injects_faults_and_delivers_webhooks() {
    // Every request answered with a 5xx: the command fails with the status (after its
    // retries), and the seed given is the one printed.
    let mut child = spawn(
        binary().args([
            "fake",
            "serve",
            "--error-rate",
            "1",
            "--latency",
            "1",
            "--latency-jitter",
            "2",
            "--fault-seed",
            "42",
            "-o",
            "json",
        ]),
        Stdio::piped(),
        Stdio::null(),
    );
    let info: Value = serde_json::from_str(&child.first_line()).unwrap();
    assert_eq!(info["faultSeed"], 42, "{info}");
    let err = failure_stderr(
        against(
            info["baseUrl"].as_str().unwrap(),
            info["appId"].as_str().unwrap(),
            info["secretKey"].as_str().unwrap(),
        )
        .args(["users", "get", "alice"]),
        1,
    );
    assert!(err.contains("500") || err.contains("503"), "{err}");
    drop(child);

    // Every connection closed without an answer.
    let mut child = spawn(
        binary().args(["fake", "serve", "--reset-rate", "1", "-o", "json"]),
        Stdio::piped(),
        Stdio::null(),
    );
    let info: Value = serde_json::from_str(&child.first_line()).unwrap();
    assert!(
        info["faultSeed"].is_u64(),
        "a random seed is printed: {info}"
    );
    failure_stderr(
        against(
            info["baseUrl"].as_str().unwrap(),
            info["appId"].as_str().unwrap(),
            info["secretKey"].as_str().unwrap(),
        )
        .args(["users", "get", "alice"]),
        1,
    );
    drop(child);

    // No faults (rates of 0, a delay): the server answers, and delivers a webhook event to
    // --webhook-url.
    let hooks = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", hooks.local_addr().unwrap());
    let mut child = spawn(
        binary().args([
            "fake",
            "serve",
            "--error-rate",
            "0",
            "--reset-rate",
            "0.0",
            "--latency",
            "2",
            "--webhook-url",
            &hook_url,
            "-o",
            "json",
        ]),
        Stdio::piped(),
        Stdio::null(),
    );
    let info: Value = serde_json::from_str(&child.first_line()).unwrap();
    assert!(
        info.get("faultSeed").is_some(),
        "a delay is a fault: {info}"
    );
    let stdout = success_stdout(
        against(
            info["baseUrl"].as_str().unwrap(),
            info["appId"].as_str().unwrap(),
            info["secretKey"].as_str().unwrap(),
        )
        .args(["users", "upsert", "alice", "--name", "Alice"]),
    );
    assert_eq!(json_of(&["users", "upsert"], &stdout)["name"], "Alice");
    let (mut socket, _) = hooks.accept().unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&request).contains("user.created") {
        let n = socket
            .read(&mut buf)
            .expect("the webhook delivery within 30 s");
        assert!(n > 0, "{}", String::from_utf8_lossy(&request));
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    assert!(request.starts_with("POST /hook "), "{request}");
    let _ = std::io::Write::write_all(&mut socket, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

#[test]
fn fake_serve_duplicates_webhook_deliveries_on_request() {
    let hooks = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hook", hooks.local_addr().unwrap());
    let mut child = spawn(
        binary().args([
            "fake",
            "serve",
            "--webhook-url",
            &hook_url,
            "--webhook-duplicate-rate",
            "1",
            "-o",
            "json",
        ]),
        Stdio::piped(),
        Stdio::null(),
    );
    let info: Value = serde_json::from_str(&child.first_line()).unwrap();
    assert!(info["faultSeed"].is_u64(), "{info}");
    success_stdout(
        against(
            info["baseUrl"].as_str().unwrap(),
            info["appId"].as_str().unwrap(),
            info["secretKey"].as_str().unwrap(),
        )
        .args(["users", "upsert", "alice", "--name", "Alice"]),
    );
    // The one event arrives twice (each answered 200), with the same event id.
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let (mut socket, _) = hooks.accept().unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.ends_with(b"}") {
            let n = socket.read(&mut buf).expect("a delivery within 30 s");
            assert!(n > 0, "{}", String::from_utf8_lossy(&request));
            request.extend_from_slice(&buf[..n]);
        }
        let request = String::from_utf8_lossy(&request).into_owned();
        let _ = std::io::Write::write_all(
            &mut socket,
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["type"], "user.created", "{event}");
        ids.push(event["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);
}

/// Waits (at most 10 s) until the fake has answered `n` requests.
fn wait_for_requests(fake: &FakeTalkJs, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fake.request_count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the export did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `N users written; resume with --starting-after ID` from an error message.
fn resume_point(err: &str) -> (usize, String) {
    let (before, after) = err
        .split_once(" users written; resume with --starting-after ")
        .unwrap_or_else(|| panic!("no resume hint in {err:?}"));
    let written = before.rsplit(' ').next().unwrap().parse().unwrap();
    (written, after.trim().to_owned())
}

/// An `export users` of 1000 users into a file, 10 users per (slowed down) request, a few
/// requests in.
struct RunningExport {
    child: KillOnDrop,
    f: Fake,
    created: BTreeSet<String>,
    file: PathBuf,
}

impl RunningExport {
    fn start(file_name: &str) -> Self {
        let f = Fake::start();
        let created = f.create_users(1000);
        f.fake.reset_counters();
        f.fake
            .set_faults(Faults::none().latency(std::time::Duration::from_millis(20)));
        let file = temp_path(file_name);
        let child = f.spawn(
            &[
                "export",
                "users",
                "--page-size",
                "10",
                "--file",
                file.to_str().unwrap(),
            ],
            Stdio::null(),
            Stdio::piped(),
        );
        wait_for_requests(&f.fake, 5);
        Self {
            child,
            f,
            created,
            file,
        }
    }

    /// Waits until the export ends; returns its exit code and standard error.
    fn stderr(&mut self) -> (Option<i32>, String) {
        let (status, err) = self.child.wait_with_stderr();
        (status.code(), err)
    }

    /// Clears the faults, resumes the export from the hint in `err` and checks that the file
    /// then holds every user once.
    fn resume_and_check(&self, err: &str) {
        let Self {
            f, created, file, ..
        } = self;
        f.fake.set_faults(Faults::none());
        let (written, cursor) = resume_point(err);
        let partial = ids(&parse_lines(&std::fs::read(file).unwrap()));
        assert_eq!(partial.len(), written, "{err}");
        assert!(written > 0 && written < 1000, "{err}");
        assert_eq!(
            partial.last(),
            Some(&cursor),
            "the cursor is the last line written"
        );
        f.cmd()
            .args([
                "export",
                "users",
                "--append",
                "--starting-after",
                &cursor,
                "--file",
            ])
            .arg(file)
            .assert()
            .success();
        let all = ids(&parse_lines(&std::fs::read(file).unwrap()));
        std::fs::remove_file(file).unwrap();
        assert_eq!(all.len(), 1000);
        assert_eq!(&all.into_iter().collect::<BTreeSet<_>>(), created);
    }
}

#[test]
fn an_export_stopped_by_errors_says_where_to_resume() {
    let mut export = RunningExport::start("failed-export.jsonl");
    // Every request fails from now on, retries included.
    export.f.fake.set_faults(Faults::seeded(7).error_rate(1.0));
    let (code, err) = export.stderr();
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("TalkJS server error (50"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    export.resume_and_check(&err);
}

#[test]
fn an_interrupted_export_says_where_to_resume() {
    let mut export = RunningExport::start("interrupted-export.jsonl");
    // Ctrl-C (through the shell's built-in `kill`, present on every machine).
    let pid = export.child.0.id();
    let sent = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}")])
        .status()
        .unwrap();
    assert!(sent.success());
    let (code, err) = export.stderr();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted;"), "{err}");
    export.resume_and_check(&err);
}

/// A JSON value without the fields a copy into another app cannot keep.
fn without(mut value: Value, fields: &[&str]) -> Value {
    if let Value::Object(object) = &mut value {
        for field in fields {
            object.remove(*field);
        }
    }
    value
}

/// Runs `talkjs import` with these arguments, which must exit with `code`: the summary it
/// printed (JSON) and standard error.
fn import(f: &Fake, args: &[&str], stdin: Option<&str>, code: i32) -> (Value, String) {
    let mut cmd = f.with_args(&[&["import"], args].concat(), stdin);
    let out = cmd.assert().code(code).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    (summary, stderr)
}

/// The line number (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the input"))
        + 1
}

#[test]
fn import_loads_an_export_into_another_app() {
    let from = Fake::start();
    let to = Fake::start();
    // 150 plain users (two PUT /users) and three with every field the import carries.
    from.create_users(150);
    from.json(&[
        "users",
        "upsert",
        "alice",
        "--name",
        "Alice",
        "--email",
        "a@example.com",
        "--phone",
        "+14155550100",
        "--photo-url",
        "https://example.com/a.png",
        "--role",
        "buyer",
        "--locale",
        "nl-NL",
        "--welcome-message",
        "Hi!",
        "--custom",
        "plan=pro",
    ]);
    from.json(&["users", "upsert", "bob", "--name", "Bob"]);
    from.json(&["users", "upsert", "carol", "--name", "Carol"]);
    // A conversation with a read-only participant and one whose access is revoked, and one
    // with the default settings.
    from.json(&[
        "conversations",
        "upsert",
        "chat",
        "--participant",
        "alice,bob,carol",
        "--subject",
        "Order #1",
        "--photo-url",
        "https://example.com/c.png",
        "--welcome-message",
        "Welcome",
        "--custom",
        "order=1",
    ]);
    from.stdout(
        &[
            "participants",
            "update",
            "chat",
            "bob",
            "--access",
            "read",
            "--notify",
            "mentions-only",
        ],
        None,
    );
    from.stdout(
        &[
            "participants",
            "update",
            "chat",
            "carol",
            "--access",
            "none",
        ],
        None,
    );
    from.upsert_conversation("other", "user0000,user0001");
    // 25 old messages with their readers and custom data, two sent now, one system message.
    let history: String = (0..25_u64)
        .map(|i| {
            let sender = if i % 2 == 0 { "alice" } else { "bob" };
            line(&json!({"sender": sender, "text": format!("old {i}"),
                "timestamp": 1_500_000_000_000 + i * 1000, "readBy": ["carol"],
                "custom": {"n": i.to_string()}}))
        })
        .collect();
    from.json_in(&["messages", "import", "chat"], &history);
    from.stdout(
        &[
            "messages", "send", "chat", "--sender", "alice", "--text", "now",
        ],
        None,
    );
    from.stdout(
        &[
            "messages",
            "send",
            "chat",
            "--system",
            "--text",
            "Bob joined",
        ],
        None,
    );
    from.stdout(
        &[
            "messages", "send", "other", "--sender", "user0001", "--text", "hey",
        ],
        None,
    );

    let mut export = String::new();
    for args in [
        &["export", "users"][..],
        &["export", "conversations"],
        &["export", "messages", "chat"],
        &["export", "messages", "other"],
    ] {
        export.push_str(&String::from_utf8(from.stdout(args, None)).unwrap());
    }
    let file = temp_path("import-roundtrip.jsonl");
    std::fs::write(&file, &export).unwrap();
    let (summary, stderr) = import(&to, &[file.to_str().unwrap(), "--in-flight", "4"], None, 0);
    std::fs::remove_file(&file).unwrap();

    // 153 users, 2 conversations, bob's settings, 27 user messages, then carol's revoked
    // access (a PATCH, last: a new round of the engine's stages); the system message is skipped and listed.
    assert_eq!(
        summary["succeeded"],
        153 + 2 + 1 + 27 + 1,
        "{summary}\n{stderr}"
    );
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(summary["invalidLines"], 0, "{summary}");
    // Packed: at best PUT /users twice, two conversations, one participant PUT, 3 + 1
    // imports and one PATCH (the runner may send a chunk early while the input is read).
    let requests = summary["requests"].as_u64().unwrap();
    assert!((10..=20).contains(&requests), "{summary}");
    let system_line = export
        .lines()
        .position(|l| serde_json::from_str::<Value>(l).unwrap()["text"] == "Bob joined")
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!("line {system_line}: skipped message"))
            && stderr.contains("system message"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    // Users: the same, but for the creation time.
    let users = |f: &Fake| -> Vec<Value> {
        let mut users: Vec<Value> = f
            .fake
            .users()
            .into_iter()
            .map(|u| without(serde_json::to_value(u).unwrap(), &["createdAt"]))
            .collect();
        users.sort_by_key(|u| u["id"].as_str().unwrap().to_owned());
        users
    };
    assert_eq!(users(&to).len(), 153);
    assert_eq!(users(&to), users(&from));

    // Conversations: the same fields and participant settings.
    for id in ["chat", "other"] {
        let strip = |f: &Fake| {
            let conversation = serde_json::to_value(f.fake.conversation(id).unwrap()).unwrap();
            let participants: Value = conversation["participants"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(user, p)| (user.clone(), json!([p["access"], p["notify"]])))
                .collect::<serde_json::Map<_, _>>()
                .into();
            let mut conversation = without(
                conversation,
                &[
                    "createdAt",
                    "lastMessage",
                    "participants",
                    "everyoneReadUntil",
                ],
            );
            conversation["participants"] = participants;
            conversation
        };
        assert_eq!(strip(&to), strip(&from), "{id}");
    }
    assert_eq!(
        to.fake.conversation("chat").unwrap().participants["bob"].access,
        talkjs::models::Access::Read
    );

    // Messages: every user message once, with its sender, text, time, readers and custom
    // data; new ids, origin "import".
    for id in ["chat", "other"] {
        let keep = |f: &Fake| -> Vec<Value> {
            let mut messages: Vec<Value> = f
                .fake
                .messages(id)
                .into_iter()
                .filter(|m| m.sender_id.is_some())
                .map(|m| {
                    let v = serde_json::to_value(m).unwrap();
                    json!([
                        v["createdAt"],
                        v["senderId"],
                        v["text"],
                        v["readBy"],
                        v["custom"]
                    ])
                })
                .collect();
            messages.sort_by_key(Value::to_string);
            messages
        };
        assert_eq!(keep(&to), keep(&from), "{id}");
    }
    assert_eq!(to.fake.messages("chat").len(), 26);
    assert!(
        to.fake
            .messages("chat")
            .iter()
            .all(|m| m.origin == Some(talkjs::models::MessageOrigin::Import))
    );
}

/// A line of the input: `value` as one line of JSON.
fn line(value: &Value) -> String {
    format!("{value}\n")
}

/// A message line as `export messages` writes it.
fn message_line(conversation: &str, sender: Option<&str>, text: &str, at: u64) -> String {
    let kind = if sender.is_some() {
        "UserMessage"
    } else {
        "SystemMessage"
    };
    line(
        &json!({"id": format!("msg_{at}"), "type": kind, "conversationId": conversation,
        "senderId": sender, "text": text, "readBy": [], "createdAt": at, "custom": {}}),
    )
}

#[test]
fn import_with_bad_lines_lands_every_good_record_once_and_names_the_bad_ones() {
    let f = Fake::start();
    let mut input = String::new();
    input.push_str(&line(
        &json!({"id": "alice", "name": "Alice", "createdAt": 1}),
    ));
    input.push_str("{not json\n");
    input.push_str(&line(&json!({"hello": "world"})));
    input.push_str(&line(&json!({"id": "bob", "name": "Bob", "createdAt": 1})));
    input.push('\n');
    input.push_str(&line(
        &json!({"id": "chat", "createdAt": 1, "participants": {
        "alice": {"access": "ReadWrite", "notify": true},
        "bob": {"access": "Read", "notify": false}}}),
    ));
    input.push_str(&message_line("chat", None, "system", 1000));
    for i in 0..12_u64 {
        // Message 7 is from a user who is not a participant: TalkJS refuses its request.
        let sender = if i == 7 { "mallory" } else { "alice" };
        input.push_str(&message_line(
            "chat",
            Some(sender),
            &format!("m{i}"),
            2000 + i,
        ));
    }
    input.push_str(&message_line("nowhere", Some("alice"), "lost", 3000));
    input.push_str(&message_line("chat", Some("bob"), "last", 4000));
    let file = temp_path("import-bad-lines.jsonl");
    std::fs::write(&file, &input).unwrap();
    let (summary, stderr) = import(&f, &[file.to_str().unwrap()], None, 1);
    std::fs::remove_file(&file).unwrap();

    // 2 users, the conversation, bob's settings, 12 messages.
    assert_eq!(summary["succeeded"], 2 + 1 + 1 + 12, "{summary}\n{stderr}");
    assert_eq!(summary["failed"], 2, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(summary["invalidLines"], 2, "{summary}");
    let expected = [
        (2, "not valid JSON"),
        (3, "neither a user, a conversation nor a message"),
        (
            line_of(&input, "\"system\""),
            "skipped message msg_1000 in chat",
        ),
        (
            line_of(&input, "mallory"),
            "message in chat: failed: bad request (400)",
        ),
        (
            line_of(&input, "nowhere"),
            "message in nowhere: failed: not found (404)",
        ),
    ];
    for (number, text) in expected {
        assert!(
            stderr.contains(&format!("talkjs: line {number}: {text}")),
            "line {number}: {text:?} in\n{stderr}"
        );
    }
    assert!(
        stderr.contains("error: 2 of 18 items failed") && stderr.contains("not de-duplicated"),
        "{stderr}"
    );

    // Every good message landed once, in its conversation.
    let mut texts: Vec<String> = f
        .fake
        .messages("chat")
        .into_iter()
        .map(|m| m.text.unwrap())
        .collect();
    texts.sort();
    let mut expected: Vec<String> = (0..12)
        .filter(|i| *i != 7)
        .map(|i| format!("m{i}"))
        .chain(["last".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(texts, expected);
    assert_eq!(f.fake.users().len(), 2);
    let chat = f.fake.conversation("chat").unwrap();
    assert_eq!(chat.participants["bob"].notify, talkjs::models::Notify::Off);

    // Only unreadable lines (the rest lands): exit 2.
    let input = [
        line(&json!({"id": "carol", "name": "Carol", "createdAt": 1})),
        line(&json!({"id": "dave", "name": "Dave", "custom": {"n": 1}, "createdAt": 1})),
    ]
    .concat();
    let (summary, stderr) = import(&f, &["-"], Some(&input), 2);
    assert_eq!(summary["succeeded"], 1, "{summary}");
    assert!(
        stderr.contains("line 2: not a user") && stderr.contains("1 lines could not be read"),
        "{stderr}"
    );
    assert!(f.fake.user("carol").is_some());
}

#[test]
fn import_reads_standard_input() {
    let f = Fake::start();
    let input = [
        line(&json!({"id": "alice", "name": "Alice", "createdAt": 1})),
        line(&json!({"id": "bob", "name": "Bob", "createdAt": 1})),
        line(&json!({"id": "chat", "createdAt": 1, "participants": {
            "alice": {"access": "ReadWrite", "notify": true}, "bob": {}}})),
        message_line("chat", Some("bob"), "second", 2000),
        message_line("chat", Some("alice"), "first", 1000),
    ]
    .concat();
    let (summary, stderr) = import(&f, &["-"], Some(&input), 0);
    assert_eq!(summary["succeeded"], 5, "{summary}\n{stderr}");
    // One PUT /users, one conversation, one import, unless the runner sent a chunk early
    // while the input was still being read.
    let requests = summary["requests"].as_u64().unwrap();
    assert!((3..=5).contains(&requests), "{summary}");
    assert_eq!(stderr, "");
    let texts: Vec<_> = f
        .fake
        .messages("chat")
        .into_iter()
        .map(|m| (m.created_at.as_millis(), m.text.unwrap()))
        .collect();
    assert_eq!(
        texts,
        [(1000, "first".to_owned()), (2000, "second".to_owned())]
    );

    // A file that is not there, and a missing FILE: usage errors.
    let err = f.fails(&["import", "/nonexistent/dump.jsonl"], 2);
    assert!(err.contains("cannot open"), "{err}");
    f.fails(&["import"], 2);
    let err = f.fails(&["import", "-", "--in-flight", "0"], 2);
    assert!(err.contains("--in-flight"), "{err}");
}
