//! The command line, as clap derive types.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::input::{parse_duration, parse_key_value};

const AFTER_HELP: &str = "\
Credentials come from --app-id / --secret-key or, better for the secret, from the environment:
  export TALKJS_APP_ID=tAbC123x TALKJS_SECRET_KEY=sk_live_...
The secret key is never printed.

Output: a table on a terminal; otherwise JSON for one object and JSON lines for lists.

Exit codes: 0 success, 1 API or network error, 2 usage error.

Examples:
  talkjs users get alice
  talkjs users upsert alice --name Alice --email alice@example.com
  talkjs conversations list --all --output jsonl
  talkjs messages send order_123 --sender alice --text 'Hi Bob!'
  talkjs export users --file users.jsonl
  talkjs import users.jsonl
  talkjs token user alice --expires-in 1h
  talkjs fake serve --port 8080";

/// Look at and fix TalkJS data from the command line.
#[derive(Debug, Parser)]
#[command(name = "talkjs", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command (they may come before or after the command).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Your TalkJS app id (dashboard, Settings).
    #[arg(long, global = true, env = "TALKJS_APP_ID", value_name = "ID")]
    pub app_id: Option<String>,

    /// Your TalkJS secret key (better in the environment: arguments are visible to other
    /// users of the machine); never printed.
    #[arg(
        long,
        global = true,
        env = "TALKJS_SECRET_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub secret_key: Option<Secret>,

    /// The API root (e.g. a fake server's).
    #[arg(
        long,
        global = true,
        env = "TALKJS_BASE_URL",
        value_name = "URL",
        help = "The API root, e.g. http://127.0.0.1:8080 for a fake server [default: https://api.talkjs.com]"
    )]
    pub base_url: Option<String>,

    /// Pin the REST API version (TalkJS-REST-Version header), e.g. 2021-02-09.
    #[arg(long, global = true, value_name = "DATE")]
    pub api_version: Option<String>,

    /// Output format [default: table on a terminal, else json for one object, jsonl for lists].
    #[arg(long, short = 'o', global = true, value_name = "FORMAT")]
    pub output: Option<Format>,

    /// Show every request on standard error: one line per attempt (method, path template and
    /// path, status, attempt, rate-limit wait, time); -vv adds the request and response
    /// headers (the Authorization token redacted).
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How fast a bulk command (`import`, `export`, `migrate`) may go, and the limit it shares.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Rate limit")]
pub struct RateArgs {
    /// At most this rate: requests per second or minute (4/s, 240/m), or a share of TalkJS's
    /// limit (50% keeps half of the burst and of the 9 per second for the app's own
    /// servers). Above TalkJS's default for an app whose plan allows more (e.g. 20/s --burst
    /// 1200) [default: TalkJS's limit, burst 600 less a margin of 10, 9/s].
    #[arg(long, value_name = "RATE", value_parser = parse_limit_rate)]
    pub rate: Option<LimitRate>,
    /// The burst with --rate N/s or N/m (requests sent at once before the rate applies)
    /// [default: the same share of TalkJS's burst as the rate is of 9/s].
    #[arg(long, value_name = "N", requires = "rate", value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// Share one rate limit through this Redis, e.g. redis://127.0.0.1:6379/
    /// (talkjs-ratelimit-redis), with the other shards, other commands and the app's own
    /// servers limiting the same app id there. With --rate, this command keeps under its rate
    /// and under the shared limit.
    #[arg(
        long,
        env = "TALKJS_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis_url: Option<String>,
}

/// `--rate`: a rate of requests, or a share of TalkJS's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitRate {
    /// Requests per second.
    PerSecond(f64),
    /// A share of TalkJS's limit, from 0 (excluded) to 1.
    Share(f64),
}

/// Reads `--rate`: `4/s`, `240/m` (also `/sec`, `/min`), `2.5/s`, or `50%`.
fn parse_limit_rate(s: &str) -> Result<LimitRate, String> {
    let t = s.trim();
    let number = |n: &str| -> Option<f64> {
        n.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
    };
    if let Some(percent) = t.strip_suffix('%') {
        return match number(percent) {
            Some(p) if p <= 100.0 => Ok(LimitRate::Share(p / 100.0)),
            _ => Err(format!(
                "{s:?}: a share is above 0% and at most 100% (e.g. 50%)"
            )),
        };
    }
    let (count, unit) = t.split_once('/').ok_or_else(|| {
        format!("{s:?}: give requests per second or minute (4/s, 240/m) or a share (50%)")
    })?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        other => return Err(format!("{s:?}: unknown unit {other:?}; use /s or /m")),
    };
    let count = number(count).ok_or_else(|| format!("{s:?}: the rate must be a number above 0"))?;
    let per_second = count / per;
    // Below one request an hour is a typo rather than a plan.
    if per_second < 1.0 / 3600.0 {
        return Err(format!("{s:?}: below one request an hour"));
    }
    Ok(LimitRate::PerSecond(per_second))
}

/// A secret given on the command line or in the environment: never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON: an object, or an array for lists.
    Json,
    /// JSON lines: one compact JSON value per line.
    Jsonl,
    /// A table for people.
    Table,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Users: get, list, create or update.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Conversations: get, list, create or update, delete.
    #[command(subcommand)]
    Conversations(ConversationsCommand),
    /// Participants of a conversation: add, update, remove.
    #[command(subcommand)]
    Participants(ParticipantsCommand),
    /// Messages of a conversation: list, send, import.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Export every user, conversation or message of a conversation as JSON lines.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Load users, conversations and messages from JSON lines as `export` writes them, at
    /// the rate-limit ceiling.
    #[command(long_about = BULK_IMPORT_HELP)]
    Import(ImportArgs),
    /// Copy users, conversations and messages from JSON lines or another app into an app
    /// exactly once, resumable after any interruption (a journal file); --verify compares.
    #[command(long_about = MIGRATE_HELP)]
    Migrate(MigrateArgs),
    /// Mirror users, conversations and memberships from JSON lines: plan the difference
    /// (exit 2 when there is one), apply only that.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Mint tokens for debugging (app tokens for the REST API, user tokens for a frontend).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The fake TalkJS server (for trying things out and for tests).
    #[command(subcommand)]
    Fake(FakeCommand),
}

/// Paging options of the `list` commands.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Items per page (users and messages: 1-100, conversations: 1-30; TalkJS's default is 10).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Follow every page (then --limit is the page size).
    #[arg(long)]
    pub all: bool,
    /// Start after this id (the last id of the previous page).
    #[arg(long, value_name = "ID")]
    pub starting_after: Option<String>,
}

/// A JSON request body.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// The request body as JSON: inline ('{"name":"Alice"}'), @FILE, or - for standard input.
    /// The other options override its fields.
    #[arg(long, value_name = "JSON|@FILE|-")]
    pub json: Option<String>,
}

/// `talkjs users ...`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Show one user.
    Get {
        /// The user id.
        id: String,
    },
    /// List users, newest first.
    List {
        #[command(flatten)]
        list: ListArgs,
        /// Only users who are online.
        #[arg(long, conflicts_with = "offline")]
        online: bool,
        /// Only users who are offline.
        #[arg(long)]
        offline: bool,
    },
    /// Create a user or update some of its fields (fields not given are kept), then show it.
    Upsert(Box<UserUpsertArgs>),
}

/// `talkjs users upsert ...`
#[derive(Debug, Args)]
pub struct UserUpsertArgs {
    /// The user id.
    pub id: String,
    #[command(flatten)]
    pub json: JsonArg,
    /// Display name (required when the user is created).
    #[arg(long)]
    pub name: Option<String>,
    /// Email address (repeat for several; replaces the stored list).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Vec<String>,
    /// Phone number in E.164 format (repeat for several).
    #[arg(long, value_name = "NUMBER")]
    pub phone: Vec<String>,
    /// Avatar URL.
    #[arg(long, value_name = "URL")]
    pub photo_url: Option<String>,
    /// Role (configured in the dashboard).
    #[arg(long)]
    pub role: Option<String>,
    /// Locale, e.g. en-US.
    #[arg(long)]
    pub locale: Option<String>,
    /// Welcome message.
    #[arg(long, value_name = "TEXT")]
    pub welcome_message: Option<String>,
    /// Custom data field (repeat for several). TalkJS replaces the whole custom map.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub custom: Vec<(String, String)>,
}

/// `talkjs conversations ...`
#[derive(Debug, Subcommand)]
pub enum ConversationsCommand {
    /// Show one conversation.
    Get {
        /// The conversation id.
        id: String,
    },
    /// List the conversations of the app.
    List {
        #[command(flatten)]
        list: ListArgs,
        /// Only conversations matching this filter (JSON).
        #[arg(
            long,
            value_name = "JSON",
            long_help = r#"Only conversations matching this filter (JSON), e.g. '{"custom":{"category":["==","shoes"]}}'"#
        )]
        filter: Option<String>,
    },
    /// Create a conversation or update some of its fields, then show it. Participants given
    /// are added (never removed: use `participants remove`).
    Upsert(Box<ConversationUpsertArgs>),
    /// Delete a conversation and all its messages (irrevocable).
    Delete {
        /// The conversation id.
        id: String,
        /// Do not ask for confirmation (it is only asked on a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `talkjs conversations upsert ...`
#[derive(Debug, Args)]
pub struct ConversationUpsertArgs {
    /// The conversation id.
    pub id: String,
    #[command(flatten)]
    pub json: JsonArg,
    /// A user to add (repeat, or separate with commas); the users must exist.
    #[arg(long, value_name = "USER", value_delimiter = ',')]
    pub participant: Vec<String>,
    /// Subject line.
    #[arg(long)]
    pub subject: Option<String>,
    /// Conversation photo URL.
    #[arg(long, value_name = "URL")]
    pub photo_url: Option<String>,
    /// Welcome message (repeat for several; replaces the stored list).
    #[arg(long, value_name = "TEXT")]
    pub welcome_message: Vec<String>,
    /// Custom data field (repeat for several).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub custom: Vec<(String, String)>,
}

/// Access levels of a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccessArg {
    /// Read and send messages (the default).
    ReadWrite,
    /// Read only.
    Read,
    /// No access, but the conversation stays in the user's list (`update` only).
    None,
}

/// Notification settings of a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifyArg {
    /// Every message (the default).
    #[value(alias = "true")]
    All,
    /// Never.
    #[value(alias = "false")]
    Off,
    /// Only when mentioned.
    MentionsOnly,
}

/// `talkjs participants ...`
#[derive(Debug, Subcommand)]
pub enum ParticipantsCommand {
    /// Add a user to a conversation, or reset their settings: options not given go back
    /// to the defaults (read-write, notify all).
    Add {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
        /// Access level.
        #[arg(long)]
        access: Option<AccessArg>,
        /// When to notify.
        #[arg(long)]
        notify: Option<NotifyArg>,
    },
    /// Change some settings of a participant (the others are kept).
    Update {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
        /// Access level (none: revoke access but keep the conversation in their list).
        #[arg(long, required_unless_present = "notify")]
        access: Option<AccessArg>,
        /// When to notify.
        #[arg(long)]
        notify: Option<NotifyArg>,
    },
    /// Remove a user from a conversation.
    Remove {
        /// The conversation id.
        conversation: String,
        /// The user id.
        user: String,
    },
}

/// `talkjs messages ...`
#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// List the messages of a conversation, newest first.
    List {
        /// The conversation id.
        conversation: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Send a user message (--sender) or a system message (--system), or messages given as
    /// JSON (--json: one message object or an array). Prints the new message ids.
    Send(Box<SendArgs>),
    /// Import historical messages from JSON lines (every line is checked before anything is
    /// sent; imports are never de-duplicated).
    #[command(long_about = IMPORT_HELP)]
    Import {
        /// The conversation id.
        conversation: String,
        /// The JSON lines file (- for standard input).
        #[arg(default_value = "-", value_name = "FILE")]
        file: String,
    },
}

const IMPORT_HELP: &str = r#"Import historical messages from JSON lines, one message per line:
  {"sender":"alice","text":"hi","timestamp":1550000000000,"readBy":["bob"]}
Optional fields: attachmentToken, custom. TalkJS's transfer example's shape works too:
createdAt for timestamp, and content blocks (a file block with its fileToken). Every line is
checked before anything is sent. Up to 100 messages go in one request (10 when TalkJS refuses
more). Imports are never de-duplicated: importing the same lines twice makes duplicates; when
an import's answer is lost the command says from which line it may have been stored."#;

/// `talkjs messages send ...`
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The conversation id.
    pub conversation: String,
    /// Messages as JSON: one object or an array (inline, @FILE or - for standard input).
    #[arg(
        long,
        value_name = "JSON|@FILE|-",
        conflicts_with_all = ["sender", "system", "text", "reply_to", "custom", "idempotency_key"]
    )]
    pub json: Option<String>,
    /// The sender of a user message (a participant).
    #[arg(long, value_name = "USER", required_unless_present_any = ["system", "json"])]
    pub sender: Option<String>,
    /// Send a system message (no sender).
    #[arg(long, conflicts_with = "sender")]
    pub system: bool,
    /// The text.
    #[arg(long, required_unless_present = "json")]
    pub text: Option<String>,
    /// Reply to this message id.
    #[arg(long, value_name = "MESSAGE", conflicts_with = "system")]
    pub reply_to: Option<String>,
    /// Custom data field (repeat for several).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub custom: Vec<(String, String)>,
    /// Idempotency key (default: a random one, so that a retried request cannot send the
    /// message twice).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// Options of the `export` commands.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output (`-` is standard output).
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Append to the file instead of replacing it (to resume an export); needs a file.
    #[arg(long, requires = "file")]
    pub append: bool,
    /// Resume after this id (printed when an export stops on an error).
    #[arg(long, value_name = "ID")]
    pub starting_after: Option<String>,
    /// Items per request [default: the largest TalkJS allows].
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
    #[command(flatten)]
    pub rate: RateArgs,
}

/// `talkjs export ...`
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every user, newest first.
    Users(ExportArgs),
    /// Every conversation.
    Conversations(ExportArgs),
    /// Every message of a conversation, newest first.
    Messages {
        /// The conversation id.
        conversation: String,
        #[command(flatten)]
        args: ExportArgs,
    },
}

const BULK_IMPORT_HELP: &str = r#"Load users, conversations and messages from JSON lines as `talkjs export` writes them,
as fast as TalkJS's rate limit allows (users 100 to a request, messages 10 to a request,
many requests in flight), with a progress bar on a terminal.

Every line is an object as the API returns it: a user (it has "name"), a conversation (it has
"participants") or a message (it has "conversationId"). Keep the kinds together, users first:
  cat users.jsonl conversations.jsonl messages-*.jsonl | talkjs import -
(a line of an earlier kind after later ones waits until the work before it is done).

- Users and conversations are created or updated with the fields of the line; fields that are
  missing or null are left as they are. Not carried: createdAt, a user's headerPhotoUrl and
  push tokens, a conversation's topicId.
- A conversation's participants are added with their access and notify settings.
- Messages are imported into their conversationId with their sender, text, original time
  (createdAt), readBy and custom data. They get new ids; replies, reactions and edit times
  are not carried; an attachment or a location is left out with a warning. System messages and
  messages without a sender or text cannot be imported: they are skipped and listed.
- Imported messages are never de-duplicated: importing the same lines twice duplicates the
  messages.

An item that does not land is one of two kinds, listed apart:
- failed: TalkJS refused it (a 4xx: a bad record, a missing conversation) or it was never
  sent, or it is a user, conversation or participant (sending those again is harmless). Fix
  the cause and import only those lines again: --failed-file PATH writes exactly them.
- may have landed (outcome unknown): a message import whose answer was lost (a 5xx, a
  timeout, a broken connection). TalkJS may have stored it, so importing it again may
  duplicate it: check its conversation (talkjs export messages CONVERSATION) and import only
  what is missing. `talkjs migrate` journals every import and settles such answers itself.

At the end, the summary (succeeded, failed, uncertain, skipped, invalidLines, warnings,
requests, seconds) goes to standard output, and every line that failed, may have landed, was
skipped or could not be read to standard error, with its line number and the reason.

Exit codes: 0 if every item landed (skipped messages are listed but do not fail the import),
1 if an item failed at the API or may have landed, 2 if only lines could not be read (or
for bad arguments), 130 after Ctrl-C (with how many items had landed)."#;

/// `talkjs import ...`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON lines file (- for standard input).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// At most this many requests in flight at once [default: the library's, 64]. Requests
    /// still wait for the rate limiter: more does not send faster than TalkJS allows.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub in_flight: Option<u16>,
    /// At the end, write the input lines of the items that failed (refused, or safe to send
    /// again) to PATH, to import them again once fixed; never a line that may have landed.
    /// Empty when nothing failed; not written after Ctrl-C.
    #[arg(long, value_name = "PATH")]
    pub failed_file: Option<PathBuf>,
    #[command(flatten)]
    pub rate: RateArgs,
}

const MIGRATE_HELP: &str = r#"Copy users, conversations and messages from JSON lines as `talkjs export` writes them
(or from another app: --from-app-id ID with TALKJS_FROM_SECRET_KEY or --from-secret-key, and
--from-base-url) into the app, every message exactly once, even when the command is killed at
any moment and run again: a journal (a SQLite file, FILE.journal, or talkjs-migrate.journal
for an app, unless --journal) records what was planned, what was sent and what landed. Run
the same command again to resume; a finished migration run again sends nothing. An import
whose answer was lost (a 5xx, a reset, a timeout, a kill) is checked against the app, once
--settle has passed (TalkJS may apply it late), before anything else is sent to that
conversation (its messages are looked up by sender, time, text and custom data, or by their
source id with --mark-source-ids); at the end of the run each such conversation is listed
again, and a copy that landed even later is deleted (messages the app held before are never
touched). The journal is bound to its input and its target app: another FILE or another app is
refused.

- Messages are imported with their sender, text, original time, readBy (read state), custom
  data and attachments: each file (the message's attachment URL) is downloaded and uploaded
  to the app once (the journal keeps its token; a rerun never uploads it again). A file that
  cannot be carried fails its message, listed with its line. TalkJS's import takes no reply
  reference: a reply carries the source id of the message it replied to in
  custom["talkjs-migrate:replyTo"]; --map-reply-links also adds the new id of that message
  in custom["talkjs-migrate:replyToId"] (one edit per reply, once both landed). Imports carry up to 100 messages (10 once the app
  refuses more). Reactions move from an app (who reacted is listed per message and emoji)
  or from a file whose reactions name the users; participants' readUntil moves. Locations
  cannot be imported (warned).
- System messages cannot be imported: they are skipped (listed, counted in a warning) unless
  --system-messages sends them through the send endpoint, after each conversation's imported
  history and stamped with the time they are sent (so not at their original places), each
  with an idempotency key from the source and its id (a resend cannot duplicate it).
- --mark-source-ids puts each message's source id in custom["talkjs-migrate:sourceId"];
  resolving a lost answer and --verify then find messages by it, which is reliable even when
  the app already holds identical messages. It changes your data, so it is off by default.
  --system-messages, --mark-source-ids and --map-reply-links are fixed when the journal is
  planned: resuming with another setting is refused (exit 2).
- Lines that cannot migrate (bad JSON, an unknown sender, a message for a conversation that is
  not in the file) are listed with their line numbers; the rest migrates, and the command
  exits 1. The journal refuses a changed FILE: put the fixed lines, with the user and
  conversation lines they need, in a new file and migrate that.
- --verify compares the source with the app: users (name, email, phone, photoUrl,
  welcomeMessage, locale, role, custom, availabilityText), conversations (subject, photoUrl,
  welcomeMessages, custom, participants with access and notify) and, conversation by
  conversation, the messages (count, then each message's type, sender, time, text, reply link,
  readers, custom data, attachment); fields the source lacks and what the app makes itself
  (ids, createdAt, attachment URLs) are not compared. Exit 1 if they differ.
- --shard I/N splits the work by conversation (a stable hash of its id: FNV-1a 64 mod N) for N
  processes, on one machine or several, each with its own journal (FILE.shard-I-of-N.journal);
  each shard also upserts the users its conversations name, shard 0 the users none names.
  Together the N shards migrate exactly what one run does. --redis-url gives them one rate
  limit (TalkJS's limit is per app). --verify --shard I/N checks that shard; without --shard,
  everything.

The summary goes to standard output (also when the command fails after the run), notes and
failures to standard error. Exit codes:
  0    all migrated (skipped records, such as system messages, and warnings do not count)
  1    not finished (run again to resume), items failed, or input lines were rejected;
       also when the app refuses the credentials, the journal cannot be written, or
       --verify finds a difference
  2    usage: bad arguments, no credentials, an input file that cannot be opened, or a
       journal of another input or target app, in use by another process, or planned
       with another --mark-source-ids or --system-messages (--journal NEW_PATH)
  130  interrupted by Ctrl-C (requests in flight finish first; run again to resume)"#;

/// A settle time: `500ms`, `0`, or a duration as `parse_duration` reads it.
fn parse_settle(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if let Some(ms) = t.strip_suffix("ms") {
        return ms
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("expected milliseconds such as 500ms, got {s:?}"));
    }
    parse_duration(t)
}

/// `talkjs sync ...`
#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Show what would change to make the app hold FILE's users and conversations (only
    /// reads). Exit 0: no changes, 2: changes, 1: error.
    #[command(long_about = SYNC_PLAN_HELP)]
    Plan(SyncPlanArgs),
    /// Make the app hold FILE's users and conversations: only the writes the plan lists.
    /// Exit 0: nothing to change, 2: changes applied, 1: error or writes that failed.
    #[command(long_about = SYNC_APPLY_HELP)]
    Apply(SyncApplyArgs),
}

const SYNC_PLAN_HELP: &str = r"Show what would change to make the app hold FILE's users and conversations. FILE (- for
standard input) is JSON lines as `talkjs export users` and `talkjs export conversations` write
them (or a database query writes them): users, and conversations with their participants'
access and notify; message lines are refused. A field absent from a line is kept as it is in
the app; a field that is null (or a custom that is {}) is cleared. A conversation's
participants are its whole membership: missing ones are added, ones with other access or
notify updated, and with --prune the others removed (only from FILE's conversations; users
and conversations are never deleted). Ids not in FILE are never touched.

The plan only reads: users 100 a page and conversations 30 a page, with their participants,
while that is cheaper than a GET of each id not seen yet. A table for people; --json (or
--output json) prints the plan as JSON, which `talkjs sync apply --plan-file` applies later.

Exit codes (as terraform plan -detailed-exitcode): 0 no changes, 2 changes, 1 error.";

const SYNC_APPLY_HELP: &str = r"Make the app hold FILE's users and conversations (see `talkjs sync plan --help` for the
format and the rules): the same comparison, then only the writes the plan lists, through the
bulk engine (users 100 to a request, each with only its changed fields), at the rate limit (or
--rate's share of it), with progress on a terminal. A plan right after shows no changes.

--plan-file PLAN applies a plan saved with `talkjs sync plan FILE --json > PLAN`: the records it
read are read again first, and the apply is refused if any changed meanwhile.

--prune removes participants FILE does not name from FILE's conversations: it asks on a
terminal unless --yes, and is refused without --yes when standard input is not a terminal.

Exit codes: 0 nothing to change, 2 changes applied, 1 error or writes that failed.";

/// `talkjs sync plan ...`
#[derive(Debug, Args)]
pub struct SyncPlanArgs {
    /// The desired state: JSON lines (- for standard input).
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Also remove participants FILE does not name from FILE's conversations.
    #[arg(long)]
    pub prune: bool,
    /// The plan as JSON (for tools, and for `sync apply --plan-file`).
    #[arg(long)]
    pub json: bool,
}

/// `talkjs sync apply ...`
#[derive(Debug, Args)]
pub struct SyncApplyArgs {
    /// The desired state: JSON lines (- for standard input).
    #[arg(value_name = "FILE", required_unless_present = "plan_file")]
    pub file: Option<String>,
    /// Also remove participants FILE does not name from FILE's conversations.
    #[arg(long, conflicts_with = "plan_file")]
    pub prune: bool,
    /// Remove participants without asking (--prune, or a saved plan that removes some).
    #[arg(long)]
    pub yes: bool,
    /// Apply this saved plan (`talkjs sync plan FILE --json > PLAN`), refused if what it
    /// read changed since.
    #[arg(long, value_name = "PLAN", conflicts_with = "file")]
    pub plan_file: Option<PathBuf>,
    /// The plan and the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// At most this many requests in flight at once [default: the library's, 64].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub in_flight: Option<u16>,
    #[command(flatten)]
    pub rate: RateArgs,
}

/// `talkjs migrate ...`
// Each bool is an independent command-line switch, as clap spells them.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "from_app_id"])))]
pub struct MigrateArgs {
    /// The JSON lines file (or --from-app-id).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,
    /// Copy from this TalkJS app instead of a file (read through its list endpoints).
    #[arg(long, value_name = "ID")]
    pub from_app_id: Option<String>,
    /// The source app's secret key (better in the environment); never printed.
    #[arg(
        long,
        env = "TALKJS_FROM_SECRET_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub from_secret_key: Option<Secret>,
    /// The source app's API root [default: --base-url's].
    #[arg(
        long,
        env = "TALKJS_FROM_BASE_URL",
        value_name = "URL",
        requires = "from_app_id"
    )]
    pub from_base_url: Option<String>,
    /// The journal file [default: FILE.journal, or talkjs-migrate.journal with
    /// --from-app-id].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<String>,
    /// Compare the source with the app instead of migrating.
    #[arg(long)]
    pub verify: bool,
    /// Send the source's system messages (the import takes none) after each conversation's
    /// imported history, stamped with the time they are sent, with idempotency keys.
    #[arg(long)]
    pub system_messages: bool,
    /// Put each message's source id in its custom data (key `talkjs-migrate:sourceId`);
    /// match lost answers and --verify by it (reliable when the app may hold identical
    /// messages).
    #[arg(long)]
    pub mark_source_ids: bool,
    /// Once a reply and the message it replied to have landed, edit the reply to add the
    /// new id of that message to its custom data (key `talkjs-migrate:replyToId`): one
    /// request per reply.
    #[arg(long)]
    pub map_reply_links: bool,
    /// Download attachments from loopback, private and link-local hosts too (e.g. a file
    /// server on this machine or its network). Without it such a file URL, or a redirect to
    /// one, fails its message (rerun with this flag to carry it); cloud metadata addresses
    /// are refused always.
    #[arg(long)]
    pub allow_private_file_hosts: bool,
    /// At most this many requests in flight at once [default: 32].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
    /// How long after an import's answer was lost to wait before listing the app to see
    /// whether it landed (TalkJS may apply a write after the answer was lost, and list a new
    /// message late): 10s, 1m, 500ms, 0 [default: 10s]. Only that conversation waits.
    #[arg(long, value_name = "DURATION", value_parser = parse_settle)]
    pub settle: Option<Duration>,
    /// Migrate shard I of N only (0-based, e.g. 0/2 and 1/2 in two processes): the
    /// conversations whose id hashes to I (FNV-1a 64 mod N), with the users they name.
    /// Each shard has its own journal [default: FILE.shard-I-of-N.journal].
    #[arg(long, value_name = "I/N")]
    pub shard: Option<talkjs_migrate::Shard>,
    /// --rate, --burst and --redis-url (shared with the other shards, or any other client of
    /// the app).
    #[command(flatten)]
    pub rate: RateArgs,
}

/// `talkjs token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// An app token for the REST API (Authorization: Bearer ...).
    App {
        /// Lifetime: seconds, or with a unit: 30s, 15m, 2h, 1d.
        #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Duration,
    },
    /// A user token for a frontend session of one user.
    User {
        /// The user id.
        user: String,
        /// Lifetime: seconds, or with a unit: 30s, 15m, 2h, 1d.
        #[arg(long, default_value = "1d", value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Duration,
    },
}

/// `talkjs fake ...`
#[derive(Debug, Subcommand)]
pub enum FakeCommand {
    /// Run an in-memory TalkJS-compatible server on 127.0.0.1 until Ctrl-C. It uses a random
    /// app id and secret key, unless --app-id / --secret-key are given on the command line
    /// (the environment variables are ignored here).
    ///
    /// With --output json it prints one line, {"baseUrl", "appId", "secretKey"}, once it
    /// listens. Its data lives as long as the process.
    ///
    /// To test a client against a bad network or a struggling TalkJS: --latency and
    /// --latency-jitter delay every request; --reset-rate closes a share of connections
    /// without an answer (the request has no effect); --error-rate answers a share with a 5xx
    /// (half 503 before the request takes effect, half 500 after it did, as when an answer is
    /// lost). E.g. `talkjs fake serve --error-rate 0.15 --reset-rate 0.05 --latency 5`.
    Serve {
        /// The port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Enforce TalkJS's rate limits (burst 600, 9/s, 1 batch/s).
        #[arg(long)]
        rate_limit: bool,
        /// Deliver webhook events (user.created, message.sent, ...) to this http:// URL.
        #[arg(long, value_name = "URL")]
        webhook_url: Option<String>,
        /// The most messages one import request may carry: 10 as TalkJS's Import reference
        /// page says (more is a 400), or e.g. 100 as its transfer example sends.
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
        max_import_batch: u16,
        #[command(flatten)]
        faults: FaultArgs,
        #[command(flatten)]
        webhook_faults: WebhookFaultArgs,
    },
}

/// Webhook delivery faults of `talkjs fake serve` (`talkjs_fake::WebhookFaults`), to test a
/// receiver against lost, repeated, late and reordered deliveries. Seeded by --fault-seed.
#[derive(Debug, Args)]
#[command(next_help_heading = "Webhook faults (with --webhook-url)")]
#[allow(
    clippy::struct_field_names,
    reason = "the field names are the flags, --webhook-*"
)]
pub struct WebhookFaultArgs {
    /// Never deliver this share of events (0 to 1): neither attempt is made, as when TalkJS
    /// gives up after its retry.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate, requires = "webhook_url")]
    pub webhook_drop_rate: f64,
    /// Deliver this share of events (0 to 1) twice, as TalkJS's retry does when it missed
    /// the first answer (the answer to the first attempt is ignored).
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate, requires = "webhook_url")]
    pub webhook_duplicate_rate: f64,
    /// Wait this many milliseconds before delivering each event.
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "webhook_url")]
    pub webhook_delay: u64,
    /// Wait a further random 0 to MS milliseconds before delivering each event.
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "webhook_url")]
    pub webhook_delay_jitter: u64,
    /// Deliver events concurrently, each after its own delay, so they arrive out of order
    /// (give --webhook-delay-jitter for a real shuffle).
    #[arg(long, requires = "webhook_url")]
    pub webhook_reorder: bool,
}

/// Fault injection of `talkjs fake serve` (`talkjs_fake::Faults`): each request first waits
/// --latency plus up to --latency-jitter, then gets at most one fault, drawn in this order:
/// reset (--reset-rate), 5xx (--error-rate: half 503 before it takes effect, half 500 after
/// it did), late write (--late-write-rate), slow answer (--slow-rate), 429
/// (--throttle-rate). The five shares may add up to 1 at most. --listing-lag and
/// --clock-skew apply to every request.
#[derive(Debug, Args)]
#[command(next_help_heading = "Faults")]
pub struct FaultArgs {
    /// Answer this share of requests (0 to 1) with a 5xx: half 503 before the request takes
    /// effect, half 500 after it did (the answer is lost, the change is not).
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Close the connection without an answer for this share of requests (0 to 1); the
    /// request has no effect.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub reset_rate: f64,
    /// Delay every request by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,
    /// Delay every request by a further random 0 to MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_jitter: u64,
    /// Lose the answer of this share of requests (0 to 1; writes only, every method but
    /// GET) while the write still lands: the connection is closed (half of them) or answered
    /// 504 (the other half) at once, and the request is processed --late-write-delay later,
    /// as when a gateway gives up and TalkJS goes on. A 401 or 429 is answered as usual.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub late_write_rate: f64,
    /// Process a late write this many milliseconds after its answer was lost.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub late_write_delay: u64,
    /// Delay each late write by a further random 0 to MS milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub late_write_jitter: u64,
    /// Show a new message or conversation in listings (GET /conversations,
    /// /users/{id}/conversations, /conversations/{id}/messages, also in a batch) only MS
    /// milliseconds after it was stored; getting it by id is not delayed.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub listing_lag: u64,
    /// The server's clock minus yours, in milliseconds (negative: the server is behind):
    /// shifts every createdAt it stamps and the webhook X-TalkJS-Timestamp. Imported messages
    /// keep their timestamp.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub clock_skew: i64,
    /// Process this share of requests (0 to 1) at once but answer them only --slow-delay
    /// later: a client that gives up first does not see that the write landed.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub slow_rate: f64,
    /// Hold a slow answer back this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub slow_delay: u64,
    /// Answer this share of requests (0 to 1) with 429 Too Many Requests without processing
    /// them: half with Retry-After: 1, half without Retry-After.
    #[arg(long, value_name = "F", default_value_t = 0.0, value_parser = parse_rate)]
    pub throttle_rate: f64,
    /// Seed of the faults' random draws (in arrival order: a sequential client sees the
    /// same faults every time) [default: random, printed when faults are on].
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
}

/// A share (of requests, or of webhook events): a number from 0 to 1.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        Ok(_) => Err("a share is from 0 to 1 (e.g. 0.2 for 20 %)".into()),
        Err(_) => Err("not a number (a share from 0 to 1, e.g. 0.2 for 20 %)".into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rates() {
        use super::{LimitRate, parse_limit_rate};
        assert_eq!(parse_limit_rate("4/s"), Ok(LimitRate::PerSecond(4.0)));
        assert_eq!(parse_limit_rate("120/m"), Ok(LimitRate::PerSecond(2.0)));
        assert_eq!(parse_limit_rate(" 50% "), Ok(LimitRate::Share(0.5)));
        for bad in [
            "0%", "101%", "4", "4/h", "-1/s", "x/s", "0/s", "NaN/s", "1/m/s",
        ] {
            assert!(parse_limit_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        let cli = <Cli as clap::Parser>::try_parse_from([
            "talkjs",
            "--secret-key",
            "sk_live_very_secret",
            "token",
            "app",
        ]);
        let text = format!("{cli:?}");
        assert!(!text.contains("very_secret"), "{text}");
    }
}
