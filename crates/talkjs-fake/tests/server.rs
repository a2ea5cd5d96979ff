//! The server itself: HTTP/2, shutdown, the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bytes::Bytes;
use common::Api;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use talkjs_fake::FakeTalkJs;

#[tokio::test]
async fn speaks_http2_with_prior_knowledge() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    let h2: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let token = api.fake.app_token().unwrap();
    let response = h2
        .request(
            Request::get(api.url("/users/a"))
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let user: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(user["id"], "a");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let fake = FakeTalkJs::builder().port(0).start().await.unwrap();
    let addr = fake.addr();
    assert!(fake.base_url().ends_with(&addr.port().to_string()));
    fake.shutdown();
    fake.shutdown(); // idempotent
    // The accept loop closes the listener when it next runs: wait for that (up to a
    // generous deadline, so a busy machine cannot fail the test), not a fixed sleep.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepting connections 20 s after shutdown"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn clear_forgets_the_data() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    api.conversation("c", &["a"]).await;
    api.fake.clear();
    assert!(api.fake.users().is_empty());
    assert!(api.fake.conversations().is_empty());
    assert!(api.fake.events().is_empty());
    assert_eq!(api.get("/users/a").await.status, 404);
}

/// Runs the binary with `args`, waits for its banner (up to the `export TALKJS_APP_ID=`
/// line), stops it and returns all it printed to stdout.
fn binary_banner(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_talkjs-fake"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let timeout = std::time::Duration::from_secs(30);
    while let Ok(line) = rx.recv_timeout(timeout) {
        let last = line.starts_with("export TALKJS_APP_ID=");
        lines.push(line);
        if last {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The banner is written at once, so the lines after the awaited one are in the pipe;
    // the pipe closes now that the process is gone.
    lines.extend(rx.iter());
    reader.join().unwrap();
    let text = lines.join("\n");
    assert!(
        text.contains("export TALKJS_APP_ID="),
        "no banner within {timeout:?}: {text}"
    );
    text
}

#[test]
fn the_binary_prints_its_settings_but_not_a_given_secret_key() {
    let text = binary_banner(&[
        "--port",
        "0",
        "--app-id",
        "tBinApp",
        "--secret-key",
        "some_secret",
    ]);
    assert!(text.contains("base URL:   http://127.0.0.1:"), "{text}");
    assert!(text.contains("app id:     tBinApp"), "{text}");
    assert!(text.contains("export TALKJS_APP_ID=tBinApp"), "{text}");
    assert!(!text.contains("some_secret"), "{text}");
    assert!(
        text.contains("secret key: (the one given with --secret-key)"),
        "{text}"
    );
    assert!(!text.contains("TALKJS_SECRET_KEY"), "{text}");
}

#[test]
fn the_binary_prints_a_generated_secret_key() {
    let text = binary_banner(&["--app-id", "tBinApp"]);
    let key = text
        .lines()
        .find_map(|line| line.strip_prefix("secret key: "))
        .unwrap();
    assert!(
        key.starts_with("sk_test_") && key.len() > "sk_test_".len(),
        "{text}"
    );
    assert!(
        text.contains(&format!("export TALKJS_SECRET_KEY={key}")),
        "{text}"
    );
}

#[test]
fn the_binary_prints_help_and_rejects_unknown_arguments() {
    let help = Command::new(env!("CARGO_BIN_EXE_talkjs-fake"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let bad = Command::new(env!("CARGO_BIN_EXE_talkjs-fake"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<FakeTalkJs>();
    check::<talkjs_fake::Builder>();
}

#[tokio::test]
async fn secrets_are_not_printed() {
    let builder = FakeTalkJs::builder().secret_key("sk_test_hidden");
    assert!(!format!("{builder:?}").contains("hidden"));
    let fake = builder.start().await.unwrap();
    assert!(!format!("{fake:?}").contains("hidden"));
}

#[tokio::test]
async fn default_api_version_is_configurable() {
    let api = Api::with(FakeTalkJs::builder().default_api_version("2021-07-30")).await;
    // Before 2024-01-01, an unknown user has an empty list rather than a 404.
    let r = api.get("/users/ghost/conversations").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let bad = FakeTalkJs::builder()
        .default_api_version("latest")
        .start()
        .await;
    assert!(matches!(bad, Err(talkjs_fake::Error::Config(_))));
}
