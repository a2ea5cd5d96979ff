//! # talkjs
//!
//! A command line tool to look at and fix the data of a [TalkJS](https://talkjs.com) app
//! without writing code, on top of the `talkjs` crate:
//!
//! ```text
//! talkjs users get|list|upsert
//! talkjs conversations get|list|upsert|delete
//! talkjs participants add|update|remove
//! talkjs messages list|send|import
//! talkjs export users|conversations|messages <conversation>
//! talkjs import FILE
//! talkjs token app|user
//! talkjs fake serve
//! ```
//!
//! Credentials: `--app-id` / `--secret-key`, or `TALKJS_APP_ID` / `TALKJS_SECRET_KEY` (and
//! `TALKJS_BASE_URL`). The secret key is never printed, in errors and `--help` included.
//!
//! `-v` prints every request on standard error (one line per attempt: method, path template
//! and path, status, attempt, rate-limit wait, time); `-vv` adds the headers, the token
//! redacted. `import`, `export` and `migrate` take `--rate` (`4/s`, `240/m`, or a share of
//! TalkJS's limit such as `50%`), `--burst` and `--redis-url` (to share the limit of the
//! app's own servers).
//!
//! Output: `--output json|jsonl|table`; by default a table on a terminal, otherwise JSON for
//! one object and JSON lines for lists. Exports always write JSON lines.
//!
//! Exit codes: 0 success (also when the reader of the output went away, as with `| head`),
//! 1 API or network error, 2 usage error, 130 interrupted.
//!
//! This library holds the whole tool; the `talkjs` binary only calls [`main`]. See the
//! repository's README for examples.

mod cli;
mod commands;
mod error;
mod input;
mod output;
mod verbose;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::commands::Explicit;

/// Runs the `talkjs` command line (the binary's `main`): parses the arguments, runs the
/// command and returns the exit code.
pub fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => exit_clap(&e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => exit_clap(&e),
    };
    let from_command_line =
        |id: &str| matches!(matches.value_source(id), Some(ValueSource::CommandLine));
    let explicit = Explicit {
        app_id: from_command_line("app_id"),
        secret_key: from_command_line("secret_key"),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            commands::note(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(error::EXIT_API);
        }
    };
    match runtime.block_on(commands::run(cli, explicit)) {
        Ok(()) | Err(error::CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(e) => {
            commands::note(&format!("error: {}", e.one_line()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints a clap error (or the help or version) and exits: 2 for usage errors, 0 for help;
/// under `talkjs sync`, whose 2 means "changes" (as `terraform plan -detailed-exitcode`),
/// 1 for usage errors, so that a typo in a cron job is not taken for drift.
fn exit_clap(error: &clap::Error) -> ! {
    // A closed standard output (e.g. `talkjs --help | head -1`) is not worth a panic.
    let _ = error.print();
    let code = error.exit_code();
    let under_sync = std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "sync");
    std::process::exit(if code == 2 && under_sync { 1 } else { code });
}
