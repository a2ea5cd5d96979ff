//! `talkjs migrate FILE` or `--from-app-id ID`: an exactly-once, resumable migration
//! through `talkjs-migrate` (a SQLite journal), and `--verify`.

use serde_json::{Value, json};
use talkjs_migrate::{
    Counts, Error as MigrateError, FieldMismatch, Migration, Progress, Report, Severity,
    VerifyReport,
};

use super::{Ctx, Limits, interrupted, note, progress_bar};
use crate::cli::MigrateArgs;
use crate::error::CliError;

pub async fn run(ctx: &mut Ctx, args: MigrateArgs) -> Result<(), CliError> {
    // Before anything opens (and so creates) the journal.
    if let Some(file) = &args.file {
        check_readable(file)?;
    }
    // During a Redis outage, each shard falls back to its share of the limit.
    let limits = Limits::open(&args.rate, args.shard.map(talkjs_migrate::Shard::count)).await?;
    let client = limits.apply(ctx.client_builder()?, ctx.app_id()?).build()?;
    let (mut migration, source) = match (&args.file, &args.from_app_id) {
        (Some(file), _) => (Migration::from_file(file, client), file.clone()),
        (None, Some(app_id)) => (
            Migration::from_app(
                limits
                    .apply_store(ctx.source_client(app_id, &args)?, app_id)
                    .build()?,
                client,
            ),
            format!("app {app_id}"),
        ),
        (None, None) => {
            return Err(CliError::Usage(
                "nothing to migrate: give a FILE or --from-app-id".into(),
            ));
        }
    };
    if let Some(journal) = &args.journal {
        migration = migration.journal(journal);
    }
    if let Some(n) = args.concurrency {
        migration = migration.concurrency(usize::from(n));
    }
    if let Some(shard) = args.shard {
        migration = migration.shard(shard);
    }
    if let Some(settle) = args.settle {
        migration = migration.settle_time(settle);
    }
    migration = migration
        .system_messages(args.system_messages)
        .mark_source_ids(args.mark_source_ids)
        .map_reply_links(args.map_reply_links)
        .allow_private_file_hosts(args.allow_private_file_hosts);
    if args.verify {
        return verify(ctx, &migration).await;
    }

    let bar = progress_bar(Some(0), "items", false);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {bar:30} {human_pos}/{human_len} items, {msg} [{elapsed}]",
    ) {
        bar.set_style(style);
    }
    let migration = {
        let bar = bar.clone();
        migration.on_progress(move |p| {
            bar.set_length(p.total);
            bar.set_position(p.landed + p.failed);
            bar.set_message(progress_message(p));
        })
    };
    let stop = migration.stop_handle();
    let stopper = tokio::spawn(async move {
        interrupted().await;
        note("stopping after the requests in flight (the journal keeps every answer)");
        stop.stop();
    });
    let result = migration.run().await;
    let ctrl_c_seen = stopper.is_finished();
    stopper.abort();
    bar.finish_and_clear();
    let report = result.map_err(cli_error)?;
    for n in &report.notes {
        note(&format!("{source}: {n}"));
    }
    for f in &report.failed {
        let line = f.line.map_or_else(String::new, |l| format!("line {l}: "));
        note(&format!(
            "{line}{} {} failed: {}",
            f.kind.as_str(),
            f.source_id,
            f.error
        ));
    }
    ctx.out
        .object(&summary(&report, migration.journal_path()))?;
    outcome(
        &report,
        ctrl_c_seen,
        migration.journal_path(),
        args.file.as_deref(),
    )
}

/// The exit of a run whose summary is printed: 130 when Ctrl-C stopped it before the end;
/// 1 when it is not finished, items failed, or records of the source were rejected (notes of
/// severity error); else 0.
fn outcome(
    report: &Report,
    ctrl_c_seen: bool,
    journal: &std::path::Path,
    file: Option<&str>,
) -> Result<(), CliError> {
    let resume = format!(
        "run the same command again to resume (journal {})",
        journal.display()
    );
    let rejected = report
        .notes
        .iter()
        .filter(|n| matches!(n.severity, Severity::Error))
        .count();
    if ctrl_c_seen && !report.is_complete() {
        Err(CliError::Interrupted(resume))
    } else if !report.is_complete() {
        Err(CliError::Failed(format!(
            "the migration is not finished; {resume}"
        )))
    } else if !report.failed.is_empty() || rejected > 0 {
        Err(CliError::Failed(not_migrated(
            report.failed.len(),
            rejected,
            planned_items(report),
            file,
        )))
    } else {
        Ok(())
    }
}

/// The message of a finished migration that left something behind: `failed` items that
/// failed at the API, `rejected` records of the source (`file`, or an app) that planning
/// refused (notes of severity error; skipped records and warnings do not count), `planned`
/// items in the plan.
fn not_migrated(failed: usize, rejected: usize, planned: u64, file: Option<&str>) -> String {
    let failed_text = match failed {
        1 => "1 item failed".to_owned(),
        n => format!("{n} items failed"),
    };
    let rejected_text = match (rejected, file.is_some()) {
        (1, true) => "1 input line was rejected".to_owned(),
        (n, true) => format!("{n} input lines were rejected"),
        (1, false) => "1 record of the source app was rejected".to_owned(),
        (n, false) => format!("{n} records of the source app were rejected"),
    };
    let rest = if planned == 0 {
        "there was nothing else to migrate"
    } else {
        "the rest has migrated"
    };
    let (them, they_need) = if rejected == 1 {
        ("it", "it needs")
    } else {
        ("them", "they need")
    };
    match (failed, rejected, file) {
        (_, 0, _) => format!("{failed_text} (listed above)"),
        // Fixing the lines in place would not do: the journal refuses a changed file.
        (0, _, Some(file)) => format!(
            "{rejected_text} (listed above); {rest}. To migrate {them}, fix {them} in a new file \
             with the user and conversation lines {they_need}, and migrate that file ({file} \
             itself, changed, would no longer match its journal)"
        ),
        (0, _, None) => format!("{rejected_text} (listed above); {rest}"),
        _ => format!("{failed_text} and {rejected_text} (listed above)"),
    }
}

/// How many items (users, conversations, messages, participant settings, reactions, reply
/// links) the plan holds.
fn planned_items(report: &Report) -> u64 {
    [
        &report.users,
        &report.conversations,
        &report.messages,
        &report.system_messages,
        &report.participants,
        &report.reactions,
        &report.reply_links,
    ]
    .iter()
    .map(|c| c.total)
    .sum()
}

/// A usage error unless `file` can be opened for reading (as `talkjs import` checks its
/// input), so that a mistyped path leaves no journal behind.
fn check_readable(file: &str) -> Result<(), CliError> {
    let opened = std::fs::File::open(file).map_err(|e| {
        let hint = if file == "-" {
            " (migrate reads a file, not standard input: a resumed run reads it again)"
        } else {
            ""
        };
        CliError::Usage(format!("cannot open {file:?}: {e}{hint}"))
    })?;
    if opened.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::Usage(format!(
            "cannot open {file:?}: it is a directory"
        )));
    }
    Ok(())
}

/// What the bar shows besides the items: messages, requests, failures and the time left.
fn progress_message(p: &Progress) -> String {
    use indicatif::{HumanCount, HumanDuration};
    use std::fmt::Write as _;
    let mut text = format!(
        "{}/{} messages, {} requests",
        HumanCount(p.messages_landed),
        HumanCount(p.messages_total),
        HumanCount(p.requests)
    );
    if p.failed > 0 {
        let _ = write!(text, ", {} failed", HumanCount(p.failed));
    }
    let _ = match p.eta {
        Some(eta) => write!(
            text,
            ", ~{} left ({} requests)",
            HumanDuration(eta),
            HumanCount(p.requests_left)
        ),
        None => write!(text, ", {} requests to go", HumanCount(p.requests_left)),
    };
    text
}

/// `--verify`: the users and conversations that differ on stderr, the report on stdout,
/// exit 1 if any differ.
async fn verify(ctx: &mut Ctx, migration: &Migration) -> Result<(), CliError> {
    let report = migration.verify().await.map_err(cli_error)?;
    for u in report.mismatched_users() {
        for f in &u.mismatches {
            note(&format!(
                "user {}: {}: expected {:?}, found {:?}",
                u.user, f.field, f.expected, f.found
            ));
        }
    }
    for c in report.mismatched() {
        for f in &c.fields {
            note(&format!(
                "conversation {}: {}: expected {:?}, found {:?}",
                c.conversation, f.field, f.expected, f.found
            ));
        }
        if c.expected != c.found || !c.mismatches.is_empty() {
            note(&format!(
                "{}: {} messages expected, {} found",
                c.conversation, c.expected, c.found
            ));
        }
        for m in &c.mismatches {
            note(&format!(
                "  {} #{} {}: expected {:?}, found {:?}",
                c.conversation, m.position, m.field, m.expected, m.found
            ));
        }
    }
    ctx.out.object(&verify_summary(&report))?;
    if report.matches() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} of {} conversations and {} of {} users differ between the source and the target",
            report.mismatched().count(),
            report.conversations.len(),
            report.mismatched_users().count(),
            report.users.len()
        )))
    }
}

fn cli_error(e: MigrateError) -> CliError {
    match e {
        MigrateError::Target(e) | MigrateError::Source(e) => CliError::Api(e),
        MigrateError::Input { path, source } => CliError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        },
        e @ (MigrateError::JournalBusy { .. }
        | MigrateError::WrongInput { .. }
        | MigrateError::WrongTarget { .. }
        | MigrateError::SettingChanged { .. }) => CliError::Usage(e.to_string()),
        e => CliError::Failed(e.to_string()),
    }
}

fn counts(c: &Counts) -> Value {
    json!({
        "total": c.total, "done": c.done, "failed": c.failed,
        "left": c.planned + c.in_flight,
    })
}

fn summary(report: &Report, journal: &std::path::Path) -> Value {
    json!({
        "complete": report.is_complete(),
        "users": counts(&report.users),
        "conversations": counts(&report.conversations),
        "messages": counts(&report.messages),
        "systemMessages": counts(&report.system_messages),
        "skippedSystemMessages": report.skipped_system_messages,
        "files": report.files,
        "uploads": report.uploads,
        "participants": counts(&report.participants),
        "reactions": counts(&report.reactions),
        "reactionListings": report.reaction_listings,
        "replyLinks": counts(&report.reply_links),
        "requests": report.requests,
        "resolved": {
            "requests": report.resolved.chunks,
            "landed": report.resolved.landed,
            "sentAgain": report.resolved.resent,
        },
        "reconciled": {
            "conversations": report.reconciled.conversations,
            "clean": report.reconciled.clean,
            "deleted": report.reconciled.deleted,
            "sentAgain": report.reconciled.resent,
            "pending": report.reconciled.pending,
        },
        "rejectedLines": report.rejected_lines().count(),
        "failed": report.failed.len(),
        "journal": journal.display().to_string(),
        "seconds": report.elapsed.as_secs_f64(),
    })
}

fn fields(list: &[FieldMismatch]) -> Vec<Value> {
    list.iter()
        .map(|f| json!({"field": f.field, "expected": f.expected, "found": f.found}))
        .collect()
}

fn verify_summary(report: &VerifyReport) -> Value {
    json!({
        "matches": report.matches(),
        "conversations": report.conversations.len(),
        "users": report.users.len(),
        "mismatched": report.mismatched().map(|c| json!({
            "conversation": c.conversation,
            "expected": c.expected,
            "found": c.found,
            "unmarked": c.unmarked,
            "fields": fields(&c.fields),
            "mismatches": c.mismatches.iter().map(|m| json!({
                "position": m.position, "field": m.field,
                "expected": m.expected, "found": m.found,
                "sourceId": m.source_id, "targetId": m.target_id,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "mismatchedUsers": report.mismatched_users().map(|u| json!({
            "user": u.user,
            "fields": fields(&u.mismatches),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::not_migrated;

    #[test]
    fn not_migrated_names_failures_and_rejected_lines_and_how_to_go_on() {
        assert_eq!(
            not_migrated(2, 0, 9, Some("x.jsonl")),
            "2 items failed (listed above)"
        );
        assert_eq!(
            not_migrated(0, 1, 9, Some("x.jsonl")),
            "1 input line was rejected (listed above); the rest has migrated. To migrate it, fix \
             it in a new file with the user and conversation lines it needs, and migrate that \
             file (x.jsonl itself, changed, would no longer match its journal)"
        );
        let all = not_migrated(0, 3, 0, Some("x.jsonl"));
        assert!(
            all.starts_with(
                "3 input lines were rejected (listed above); there was nothing else to migrate. \
                 To migrate them, fix them"
            ),
            "{all}"
        );
        assert_eq!(
            not_migrated(0, 2, 9, None),
            "2 records of the source app were rejected (listed above); the rest has migrated"
        );
        assert_eq!(
            not_migrated(1, 1, 9, Some("x.jsonl")),
            "1 item failed and 1 input line was rejected (listed above)"
        );
    }
}
