//! `talkjs-migrate`: a minimal front end over the library (the `talkjs` CLI is the full one).
//!
//! ```text
//! talkjs-migrate FILE [--journal PATH] [--verify] [--concurrency N] [--no-rate-limit] [--progress]
//!                     [--system-messages] [--mark-source-ids]
//! ```
//!
//! The target app comes from TALKJS_APP_ID, TALKJS_SECRET_KEY and TALKJS_BASE_URL. Exit
//! status: 0 done (and, with --verify, the target matches), 1 done with failures (or a
//! verification that does not match), 3 not done (run again to resume), 2 an error.

use std::process::ExitCode;

use talkjs_migrate::Migration;
use talkjs_migrate::talkjs_api::ClientBuilder;

const USAGE: &str = "usage: talkjs-migrate FILE [--journal PATH] [--verify] [--concurrency N] [--no-rate-limit] [--progress] [--system-messages] [--mark-source-ids]
target app: TALKJS_APP_ID, TALKJS_SECRET_KEY, TALKJS_BASE_URL";

#[allow(clippy::struct_excessive_bools)] // one bool per command-line switch
struct Args {
    file: String,
    journal: Option<String>,
    verify: bool,
    concurrency: Option<usize>,
    no_rate_limit: bool,
    progress: bool,
    system_messages: bool,
    mark_source_ids: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut file = None;
    let mut parsed = Args {
        file: String::new(),
        journal: None,
        verify: false,
        concurrency: None,
        no_rate_limit: false,
        progress: false,
        system_messages: false,
        mark_source_ids: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--journal" => parsed.journal = Some(args.next().ok_or("--journal needs a path")?),
            "--verify" => parsed.verify = true,
            "--no-rate-limit" => parsed.no_rate_limit = true,
            "--progress" => parsed.progress = true,
            "--system-messages" => parsed.system_messages = true,
            "--mark-source-ids" => parsed.mark_source_ids = true,
            "--concurrency" => {
                let n = args.next().ok_or("--concurrency needs a number")?;
                parsed.concurrency = Some(
                    n.parse()
                        .map_err(|_| format!("--concurrency: {n:?} is not a number"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option {other:?}")),
            other if file.is_none() => file = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    parsed.file = file.ok_or("a FILE to migrate is needed")?;
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("talkjs-migrate: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let client = ClientBuilder::from_env().and_then(|b| {
        if args.no_rate_limit {
            b.rate_limiter(None).build()
        } else {
            b.build()
        }
    });
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            eprintln!("talkjs-migrate: {e}");
            return ExitCode::from(2);
        }
    };
    let mut migration = Migration::from_file(&args.file, client)
        .system_messages(args.system_messages)
        .mark_source_ids(args.mark_source_ids);
    if let Some(journal) = &args.journal {
        migration = migration.journal(journal);
    }
    if let Some(n) = args.concurrency {
        migration = migration.concurrency(n);
    }
    if args.progress {
        migration = migration.on_progress(|p| {
            eprintln!(
                "progress: {} done, {} failed of {}; {} requests",
                p.done, p.failed, p.total, p.requests
            );
        });
    }
    if args.verify {
        verify(&migration).await
    } else {
        run(&migration, &args.file).await
    }
}

/// `--verify`: prints the conversations that differ.
async fn verify(migration: &Migration) -> ExitCode {
    match migration.verify().await {
        Ok(report) => {
            for u in report.mismatched_users() {
                for f in &u.mismatches {
                    eprintln!(
                        "user {}: {}: expected {:?}, found {:?}",
                        u.user, f.field, f.expected, f.found
                    );
                }
            }
            for c in report.mismatched() {
                for f in &c.fields {
                    eprintln!(
                        "conversation {}: {}: expected {:?}, found {:?}",
                        c.conversation, f.field, f.expected, f.found
                    );
                }
                eprintln!(
                    "{}: {} messages expected, {} found",
                    c.conversation, c.expected, c.found
                );
                for m in &c.mismatches {
                    eprintln!(
                        "  #{} {}: expected {:?}, found {:?}",
                        m.position, m.field, m.expected, m.found
                    );
                }
            }
            if report.matches() {
                eprintln!(
                    "verified: {} users and {} conversations match",
                    report.users.len(),
                    report.conversations.len()
                );
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("talkjs-migrate: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs (or resumes) the migration and prints its notes, failures and counts.
async fn run(migration: &Migration, file: &str) -> ExitCode {
    match migration.run().await {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("{file}: {note}");
            }
            for f in &report.failures {
                let line = f.line.map_or_else(String::new, |l| format!("line {l}: "));
                eprintln!(
                    "{line}{} {} failed: {}",
                    f.kind.as_str(),
                    f.source_id,
                    f.error
                );
            }
            let m = &report.messages;
            eprintln!(
                "messages: {} done, {} failed, {} left; {} requests; {} uncertain requests resolved ({} landed, {} sent again)",
                m.done,
                m.failed,
                m.planned + m.in_flight,
                report.requests,
                report.resolved.chunks,
                report.resolved.landed,
                report.resolved.resent
            );
            let s = &report.system_messages;
            eprintln!(
                "system messages: {} sent, {} failed, {} left, {} skipped; files: {} uploaded ({} by this run)",
                s.done,
                s.failed,
                s.planned + s.in_flight,
                report.skipped_system_messages,
                report.files,
                report.uploads
            );
            if !report.is_complete() {
                ExitCode::from(3)
            } else if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("talkjs-migrate: {e}");
            ExitCode::from(2)
        }
    }
}
