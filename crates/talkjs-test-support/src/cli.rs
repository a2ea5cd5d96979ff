//! The `talkjs` binary against a fake (feature `cli`), for the tests of talkjs-cli.

use assert_cmd::Command;
use talkjs_fake::FakeTalkJs;

/// The environment variables the `talkjs` binary reads: removed, so that the environment
/// the tests run in cannot change what a test sends or where.
pub const ENV: [&str; 6] = [
    "TALKJS_APP_ID",
    "TALKJS_SECRET_KEY",
    "TALKJS_BASE_URL",
    "TALKJS_REDIS_URL",
    "TALKJS_FROM_SECRET_KEY",
    "TALKJS_FROM_BASE_URL",
];

/// The `talkjs` binary (of the test's own build) with none of [`ENV`], pointed at `fake`:
/// `--base-url` and `--app-id`, and the secret key in `TALKJS_SECRET_KEY` (so that it is
/// never in a process listing). Add the command and its arguments.
pub fn talkjs(fake: &FakeTalkJs) -> Command {
    let mut cmd = Command::cargo_bin("talkjs").unwrap();
    for var in ENV {
        cmd.env_remove(var);
    }
    cmd.args(["--base-url", fake.base_url(), "--app-id", fake.app_id()])
        .env("TALKJS_SECRET_KEY", fake.secret_key());
    cmd
}
