//! `Client::from_env`: the three variables, through a child process of this test binary
//! (setting variables in a running test process is unsound; `Command::env` is not).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::process::Command;

use common::{APP_ID, SECRET, assert_app_token, mount, ok_json, single_request, start, user_json};
use talkjs_api::{Client, ENV_APP_ID, ENV_BASE_URL, ENV_SECRET_KEY, Error};

/// Set for the child: what it should do.
const ROLE: &str = "TALKJS_TEST_FROM_ENV_ROLE";

/// The child's side: runs only when re-executed by the tests below.
#[tokio::test]
async fn child() {
    match std::env::var(ROLE).as_deref() {
        Ok("get") => {
            let user = Client::from_env()
                .unwrap()
                .users()
                .get("alice")
                .await
                .unwrap();
            assert_eq!(user.id, "alice");
        }
        Ok("fails") => match Client::from_env() {
            Err(Error::Config(message)) => println!("CONFIG ERROR: {message}"),
            other => panic!("expected a configuration error, got {other:?}"),
        },
        _ => {} // Not the child: nothing to do.
    }
}

/// Runs the `child` test of this binary with `vars` set (and the three variables otherwise
/// unset); returns its standard output.
fn run_child(role: &str, vars: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env_remove(ENV_APP_ID)
        .env_remove(ENV_SECRET_KEY)
        .env_remove(ENV_BASE_URL);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed"), "the child test ran: {stdout}");
    stdout
}

#[tokio::test]
async fn from_env_reads_the_app_id_the_secret_key_and_the_base_url() {
    let (server, _client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ok_json(&user_json("alice")),
        1,
    )
    .await;
    let base = server.uri();
    run_child(
        "get",
        &[
            (ENV_APP_ID, APP_ID),
            (ENV_SECRET_KEY, SECRET),
            (ENV_BASE_URL, &base),
        ],
    );
    // The request the child sent: to the base URL, signed with the key, for the app id.
    let request = single_request(&server).await;
    assert_eq!(request.url.path(), common::p("/users/alice"));
    assert_app_token(&request);
}

#[test]
fn from_env_names_the_missing_variable() {
    let missing_app = run_child("fails", &[(ENV_SECRET_KEY, SECRET)]);
    assert!(missing_app.contains(ENV_APP_ID), "{missing_app}");
    assert!(!missing_app.contains(SECRET), "{missing_app}");
    let missing_key = run_child("fails", &[(ENV_APP_ID, APP_ID)]);
    assert!(missing_key.contains(ENV_SECRET_KEY), "{missing_key}");
    // An empty value counts as missing.
    let empty_key = run_child("fails", &[(ENV_APP_ID, APP_ID), (ENV_SECRET_KEY, "")]);
    assert!(empty_key.contains(ENV_SECRET_KEY), "{empty_key}");
}
