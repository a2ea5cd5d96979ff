//! `talkjs sync plan|apply`: mirror a desired state (JSON lines in the export format) with
//! [`talkjs::runtime::sync`]. Exit codes as `terraform plan -detailed-exitcode`: 0 no
//! changes, 2 changes, 1 error (every error of this command exits 1, usage errors found
//! after clap included, so that 2 always means changes).

use std::fmt::Write as _;
use std::io::{self, BufReader, IsTerminal};

use serde_json::{Value, json};
use talkjs::runtime::ClientExt;
use talkjs::runtime::bulk::{self, Report};
use talkjs::runtime::sync::{
    self, ConversationChange, DesiredState, FieldChange, ParticipantAction, Plan, UserChange,
};

use super::{Ctx, confirm, note, progress_bar};
use crate::cli::{Format, SyncApplyArgs, SyncCommand, SyncPlanArgs};
use crate::error::{CliError, api_message};
use crate::input::open_input;

/// The exit code when there are changes (plan) or changes were applied (apply).
const EXIT_CHANGES: i32 = 2;

pub async fn run(ctx: &mut Ctx, cmd: SyncCommand) -> Result<(), CliError> {
    let changed = match cmd {
        SyncCommand::Plan(args) => plan(ctx, args).await,
        SyncCommand::Apply(args) => apply(ctx, args).await,
    };
    match changed {
        Ok(false) => Ok(()),
        Ok(true) => {
            ctx.out.flush()?;
            std::process::exit(EXIT_CHANGES);
        }
        // Exit 2 means changes: an error of any kind exits 1.
        Err(e) if e.exit_code() == 2 => Err(CliError::Failed(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Reads the desired state from a file or standard input; bad lines are listed, each with
/// its number.
fn read_desired(path: &str) -> Result<DesiredState, CliError> {
    let input = open_input(path)?;
    DesiredState::read(BufReader::new(input)).map_err(|e| match e {
        sync::ReadError::Lines(lines) => {
            for line in lines.iter().take(50) {
                note(&format!("{path}: {line}"));
            }
            if lines.len() > 50 {
                note(&format!("{path}: … and {} more", lines.len() - 50));
            }
            CliError::Failed(format!(
                "{path}: {} line(s) are not users or conversations as `talkjs export` writes them",
                lines.len()
            ))
        }
        other => CliError::Failed(format!("{path}: {other}")),
    })
}

fn sync_error(e: sync::Error) -> CliError {
    match e {
        sync::Error::Api(e) => CliError::Api(e),
        other => CliError::Failed(other.to_string()),
    }
}

/// Whether to print JSON: `--json`, or `--output json|jsonl`.
fn wants_json(ctx: &Ctx, json: bool) -> bool {
    json || matches!(ctx.out.explicit(), Some(Format::Json | Format::Jsonl))
}

/// `talkjs sync plan`: whether there are changes.
async fn plan(ctx: &mut Ctx, args: SyncPlanArgs) -> Result<bool, CliError> {
    let desired = read_desired(&args.file)?;
    let client = ctx.client()?;
    let plan = sync::plan(&client, &desired, args.prune)
        .await
        .map_err(sync_error)?;
    if wants_json(ctx, args.json) {
        let text = serde_json::to_string_pretty(&plan)
            .map_err(|e| CliError::Failed(format!("cannot write the plan: {e}")))?;
        ctx.out.raw(&text)?;
        ctx.out.raw("\n")?;
    } else {
        ctx.out.raw(&plan_table(&plan))?;
    }
    Ok(!plan.is_empty())
}

/// `talkjs sync apply`: whether changes were applied.
async fn apply(ctx: &mut Ctx, args: SyncApplyArgs) -> Result<bool, CliError> {
    let terminal = io::stdin().is_terminal();
    if args.prune && !args.yes && !terminal {
        return Err(CliError::Failed(
            "--prune removes participants: pass --yes to do it without asking (standard input \
             is not a terminal)"
                .into(),
        ));
    }
    let limits = super::Limits::open(&args.rate, None).await?;
    let client = limits.apply(ctx.client_builder()?, ctx.app_id()?).build()?;
    let (plan, saved) = load_plan(&client, &args).await?;
    let json = wants_json(ctx, args.json);
    if plan.is_empty() {
        if json {
            print_json(ctx, &plan, None)?;
        } else {
            ctx.out.raw(&plan_table(&plan))?;
        }
        return Ok(false);
    }
    if !json {
        // The plan first, so that a question about it can be answered.
        ctx.out.raw(&plan_table(&plan))?;
        ctx.out.flush()?;
    }
    let removals = removals(&plan);
    if removals > 0 && !args.yes {
        if !terminal {
            return Err(CliError::Failed(format!(
                "the plan removes {removals} participant(s): pass --yes to do it without asking \
                 (standard input is not a terminal)"
            )));
        }
        if !confirm(&format!("Remove {removals} participant(s)?"))? {
            return Err(CliError::Failed(
                "not applied: the removals were not confirmed".into(),
            ));
        }
    }

    let (report, total) = send(&client, &args, &plan, saved).await?;
    if json {
        print_json(ctx, &plan, Some(&report))?;
    } else {
        ctx.out.raw(&format!(
            "Applied: {} write(s) landed in {} request(s), {} failed.\n",
            report.landed,
            report.requests,
            report.failed.len() + report.uncertain.len()
        ))?;
    }
    let failed = report.failed.len() + report.uncertain.len();
    if failed > 0 {
        return Err(CliError::Failed(format!(
            "{failed} of {total} write(s) did not land (they are listed above); run the same \
             command again to retry them (every write of a sync is safe to repeat)"
        )));
    }
    Ok(true)
}

/// The plan to apply: the saved one of `--plan-file` (and `true`), or a fresh one of FILE.
async fn load_plan(
    client: &talkjs::Client,
    args: &SyncApplyArgs,
) -> Result<(Plan, bool), CliError> {
    match (&args.plan_file, &args.file) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::Io {
                context: format!("cannot read {}", path.display()),
                source: e,
            })?;
            let plan: Plan = serde_json::from_str(&text).map_err(|e| {
                CliError::Failed(format!(
                    "{}: not a plan of `talkjs sync plan --json`: {e}",
                    path.display()
                ))
            })?;
            Ok((plan, true))
        }
        (None, Some(file)) => {
            let desired = read_desired(file)?;
            let plan = sync::plan(client, &desired, args.prune)
                .await
                .map_err(sync_error)?;
            Ok((plan, false))
        }
        (None, None) => Err(CliError::Failed("FILE or --plan-file is needed".into())),
    }
}

/// Sends the plan's writes (a saved plan's after checking what it read), with a progress
/// bar; the report and the number of writes.
async fn send(
    client: &talkjs::Client,
    args: &SyncApplyArgs,
    plan: &Plan,
    saved: bool,
) -> Result<(Report, usize), CliError> {
    let total = plan.items().len();
    let bar = progress_bar(u64::try_from(total).ok(), "writes", false);
    let mut bulk = client.bulk();
    if let Some(n) = args.in_flight {
        bulk = bulk.in_flight(usize::from(n));
    }
    let bulk = {
        let bar = bar.clone();
        bulk.on_progress(move |p: &bulk::Progress| {
            let done = p.landed + p.failed + p.uncertain;
            bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
        })
    };
    let report = if saved {
        match sync::apply_saved(client, bulk, plan).await {
            Ok(report) => report,
            Err(e) => {
                bar.abandon();
                return Err(sync_error(e));
            }
        }
    } else {
        sync::apply_with(bulk, plan).await
    };
    bar.finish_and_clear();
    for failure in report.failed.iter().chain(&report.uncertain) {
        note(&format!(
            "{} did not land: {}",
            what(failure),
            api_message(&failure.error)
        ));
    }
    Ok((report, total))
}

fn print_json(ctx: &mut Ctx, plan: &Plan, report: Option<&Report>) -> Result<(), CliError> {
    let report = report.map(|r| {
        json!({
            "landed": r.landed,
            "failed": r.failed.len() + r.uncertain.len(),
            "requests": r.requests,
        })
    });
    let value = json!({"plan": plan, "applied": report});
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| CliError::Failed(format!("cannot write the outcome: {e}")))?;
    ctx.out.raw(&text)?;
    ctx.out.raw("\n")
}

/// What a write that failed is about.
fn what(f: &bulk::Failure) -> String {
    match f.kind {
        bulk::Kind::User => format!("user {}", f.subject),
        bulk::Kind::Conversation => format!("conversation {}", f.subject),
        _ => format!("participant {}", f.subject),
    }
}

/// The participants the plan removes.
fn removals(plan: &Plan) -> usize {
    (plan.conversations.iter())
        .flat_map(|c| &c.participants)
        .filter(|p| p.action == ParticipantAction::Remove)
        .count()
}

/// A JSON value in a line of the table: `null` reads as (none).
fn show(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_owned(),
        other => other.to_string(),
    }
}

fn field_lines(text: &mut String, indent: &str, fields: &[FieldChange], create: bool) {
    for f in fields {
        if create {
            let _ = writeln!(text, "{indent}{}: {}", f.field, show(&f.new));
        } else {
            let _ = writeln!(
                text,
                "{indent}{}: {} -> {}",
                f.field,
                show(&f.old),
                show(&f.new)
            );
        }
    }
}

fn user_lines(text: &mut String, user: &UserChange) {
    let mark = if user.create { '+' } else { '~' };
    let _ = writeln!(text, "{mark} user {}", user.id);
    field_lines(text, "    ", &user.fields, user.create);
}

fn conversation_lines(text: &mut String, conversation: &ConversationChange) {
    let mark = if conversation.create { '+' } else { '~' };
    let _ = writeln!(text, "{mark} conversation {}", conversation.id);
    field_lines(text, "    ", &conversation.fields, conversation.create);
    for p in &conversation.participants {
        let show = |s: Option<&sync::Settings>| s.map(ToString::to_string).unwrap_or_default();
        let _ = match p.action {
            ParticipantAction::Add => {
                writeln!(
                    text,
                    "    + participant {} {}",
                    p.user,
                    show(p.new.as_ref())
                )
            }
            ParticipantAction::Update => writeln!(
                text,
                "    ~ participant {} {} -> {}",
                p.user,
                show(p.old.as_ref()),
                show(p.new.as_ref())
            ),
            _ => writeln!(
                text,
                "    - participant {} {}",
                p.user,
                show(p.old.as_ref())
            ),
        };
    }
}

/// The plan for people: one block per user and conversation, then the counts.
fn plan_table(plan: &Plan) -> String {
    let mut text = String::new();
    if plan.is_empty() {
        text.push_str("No changes: the app holds the desired state.\n");
        return text;
    }
    for user in &plan.users {
        user_lines(&mut text, user);
    }
    for conversation in &plan.conversations {
        conversation_lines(&mut text, conversation);
    }
    let users_new = plan.users.iter().filter(|u| u.create).count();
    let conversations_new = plan.conversations.iter().filter(|c| c.create).count();
    let count = |action| {
        (plan.conversations.iter())
            .flat_map(|c| &c.participants)
            .filter(|p| p.action == action)
            .count()
    };
    let _ = writeln!(
        text,
        "\nPlan: users {} to create, {} to update; conversations {} to create, {} to update; \
         participants {} to add, {} to update, {} to remove.",
        users_new,
        plan.users.len() - users_new,
        conversations_new,
        plan.conversations.len() - conversations_new,
        count(ParticipantAction::Add),
        count(ParticipantAction::Update),
        count(ParticipantAction::Remove),
    );
    text
}
