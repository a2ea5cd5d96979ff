//! `talkjs fake serve` into a file or a pipe prints the README's `export` lines (as a file a
//! shell can `source`), not JSON; JSON only with `--output json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// `talkjs fake serve ARGS` with standard output piped; killed on drop.
struct Serve(Child);

impl Serve {
    fn start(args: &[&str]) -> Self {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("talkjs"))
            .env_remove("TALKJS_APP_ID")
            .env_remove("TALKJS_SECRET_KEY")
            .env_remove("TALKJS_BASE_URL")
            .args(["fake", "serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }

    /// Its output up to and including the first line that starts with `last`.
    fn lines_until(&mut self, last: &str) -> Vec<String> {
        let mut out = BufReader::new(self.0.stdout.take().unwrap());
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "no line starting with {last:?} in {lines:#?}"
            );
            let done = line.starts_with(last);
            lines.push(line.trim_end_matches('\n').to_owned());
            if done {
                return lines;
            }
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn into_a_pipe_it_prints_export_lines_a_shell_can_source() {
    let mut serve = Serve::start(&[]);
    let lines = serve.lines_until("export TALKJS_SECRET_KEY=");
    // Every line is a comment, empty or an export: `source`-able.
    for line in &lines {
        assert!(
            line.is_empty() || line.starts_with("# ") || line.starts_with("export "),
            "{line:?} in {lines:#?}"
        );
    }
    assert_eq!(lines[0], "# TalkJS fake server running (Ctrl-C to stop)");
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no export of {name} in {lines:#?}"))
            .to_owned()
    };
    assert!(value("TALKJS_BASE_URL").starts_with("http://127.0.0.1:"));
    assert!(value("TALKJS_SECRET_KEY").starts_with("sk_test_"));

    // The exported values point the other commands at it.
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("talkjs"))
        .env("TALKJS_BASE_URL", value("TALKJS_BASE_URL"))
        .env("TALKJS_APP_ID", value("TALKJS_APP_ID"))
        .env("TALKJS_SECRET_KEY", value("TALKJS_SECRET_KEY"))
        .args(["users", "upsert", "alice", "--name", "Alice"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn its_faults_line_is_a_comment_too() {
    let mut serve = Serve::start(&["--error-rate", "0.1", "--fault-seed", "5"]);
    let lines = serve.lines_until("# faults:");
    assert!(
        lines.last().unwrap().ends_with("--fault-seed 5"),
        "{lines:#?}"
    );
}

#[test]
fn json_only_when_asked_for() {
    let mut serve = Serve::start(&["-o", "json"]);
    let line = serve.lines_until("{").remove(0);
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        info["baseUrl"].as_str().unwrap().starts_with("http://"),
        "{info}"
    );
}
