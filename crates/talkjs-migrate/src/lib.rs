//! # talkjs-migrate
//!
//! Moves chat data into a TalkJS app **exactly once**, in a process that may be killed at
//! any instant and run again until done: users, conversations (subject, photo, custom,
//! welcome messages, participants with their access and notify settings and `readUntil`)
//! and messages, imported with their original senders, timestamps, custom data, read state
//! and attachments (each source file uploaded to the target once), then their reactions;
//! system messages on request.
//!
//! Sources: a JSON lines file as `talkjs export` writes it (user, conversation and message
//! objects, one a line, in any order), or another TalkJS app read through its list
//! endpoints.
//!
//! ```no_run
//! # async fn run() -> Result<(), talkjs_migrate::Error> {
//! let target = talkjs_api::Client::from_env().map_err(talkjs_migrate::Error::Target)?;
//! let migration = talkjs_migrate::Migration::from_file("export.jsonl", target)
//!     .journal("export.jsonl.journal");
//! let report = migration.run().await?;
//! for note in report.rejected_lines() {
//!     eprintln!("{note}"); // e.g. "line 12: error: message \"m9\" in \"c1\": unknown sender \"zoe\" ..."
//! }
//! if report.is_complete() {
//!     assert!(migration.verify().await?.matches());
//! } // else: run it again; it resumes from the journal
//! # Ok(()) }
//! ```
//!
//! ## How it stays exactly once
//!
//! TalkJS's import endpoint does not remove duplicates, so "send again what may not have
//! landed" duplicates messages, and "skip what looks done" loses them. The migration keeps a
//! **journal**, one SQLite file (bundled SQLite: nothing to install):
//!
//! - **the plan**: every item of the source (with its source id and input line) in the
//!   order it is sent, written in one transaction, so a kill while planning leaves no plan;
//! - **what was sent**: each request is recorded as *in flight* (in its own transaction,
//!   on disk) **before** it is sent, and as *done* or *failed* **after** the answer; so a
//!   kill at any instant leaves each item *not sent*, *done*, *failed* or *in flight*
//!   (outcome unknown);
//! - **the source→target id map**: users and conversations keep their ids; an imported
//!   message's new id is recorded when a listing of the target finds it (resolving an
//!   uncertain request, or [`Migration::verify`]).
//!
//! On every (re)start, each import left in flight is **resolved before anything else is
//! sent to its conversation**: once the [settle time](Migration::settle_time) has passed
//! since it was sent, the target conversation is listed back to the request's oldest
//! timestamp and its messages are matched by sender, timestamp, text and custom data (the
//! import keeps the given timestamp), discounting copies the journal already has as done
//! and copies the conversation held before the migration (or by a marker: see below). The
//! messages found are done; the others are sent again. The same happens during a run when
//! an import's answer is lost (a 5xx, a timeout, a reset: the client never retries an
//! import by itself): the requests go through `talkjs-runtime`'s bulk engine, whose hooks
//! write the journal before each request leaves and after its outcome; an unknown outcome
//! holds its conversation (nothing more of it is sent) until a later pass of the run has
//! resolved it. Each conversation has at most one request in flight, so at most one request
//! per conversation is ever uncertain. Users, conversations, participant settings
//! and reactions are upserts: sending one again is harmless, so they are simply sent again.
//!
//! ## Faults it holds under
//!
//! Production loses answers in meaner ways than a 503 before the write: a gateway gives up
//! (a 504, a reset, the client's attempt timeout) while TalkJS goes on and stores the
//! import **a moment later**, and a listing may show a new message **late**. So:
//!
//! - **Settle time** ([`Migration::settle_time`], `talkjs migrate --settle`, default
//!   [`DEFAULT_SETTLE_TIME`], 10 s): an uncertain import is resolved only once this long has
//!   passed since its answer was lost (or since it was sent, for a killed run). Only that
//!   conversation waits. Set it above the longest delay after which TalkJS may still apply
//!   a write plus the listing lag.
//! - **Reconcile pass**: every conversation that had an uncertain import is recorded in the
//!   journal and listed again at the end of the run, once **twice** the settle time has
//!   passed since its last uncertain import: a copy that landed after the settle time (and
//!   was therefore sent again) is deleted, and a message counted as landed that the target
//!   does not hold is imported again, until the conversation holds each message exactly
//!   once ([`Report::reconciled`]). A conversation stays recorded until a listing shows it
//!   clean, across runs.
//! - **What the target held before is never touched**: before the first conversation is
//!   upserted, the target's conversations are surveyed (one page of 30 per ten of the
//!   plan's conversations, so a fresh target costs one request); a conversation the target
//!   already had is listed before its first import, and the copies of the plan's messages
//!   it held (its baseline) are never counted, deleted or matched as this migration's.
//!   Where the survey could not read the whole target, every conversation is listed before
//!   its first import.
//! - **Clock skew** does not matter: imported messages keep their source timestamps, and
//!   the settle time is measured on this machine's clock.
//! - **429s**, with or without `Retry-After`, are retried by the client's transport (the
//!   request was not applied); **slow answers** past the attempt timeout are uncertain
//!   imports like a lost answer.
//! - **A journal is bound to its source and its target**: the input file's length and hash
//!   (or the source app's API root and app id) and the target's API root and app id. A
//!   journal resumed with another input ([`Error::WrongInput`]) or another target
//!   ([`Error::WrongTarget`]) is refused before anything is sent: its "done" would be
//!   about another app. Use a new journal (`--journal NEW_PATH`).
//!
//! What it does not survive: a write that lands more than twice the settle time after its
//! answer was lost (the reconcile pass has looked by then: a later run lists the
//! conversation again only if it had another uncertain import), a listing that lags more
//! than the settle time, and a target conversation changed by someone else while it is
//! migrated (a message with the same sender, time, text and custom data as one of the
//! plan's, without the marker).
//!
//! What the target conversation held before the migration is counted apart (its baseline,
//! see "Faults" above); the matching assumes that nobody else adds a message with the same
//! sender, time (to the millisecond), text and custom data while it migrates, and
//! [`Migration::verify`] that the target holds no such message besides the migrated ones
//! (e.g. the same file imported before without a journal). Where that may not hold, opt in
//! to a **marker**:
//! with [`Migration::mark_source_ids`] (`talkjs migrate --mark-source-ids`) every migrated
//! message carries its source id in `custom` under [`SOURCE_ID_KEY`]
//! (`"talkjs-migrate:sourceId"`), and resolving and [`Migration::verify`] find messages by
//! it instead. It is off by default because it adds a key to your data. The setting is
//! recorded in the journal when it is planned; a resumed run with another setting is
//! refused ([`Error::SettingChanged`]), since the requests in flight were sent with (or
//! without) it.
//!
//! **Attachments**: a message's file (its `attachment.url`, as the source app lists it or
//! the export file holds it) is downloaded with a plain GET (following redirects, up to
//! 100 MiB) and uploaded to the target (`POST /files`) right before the message is
//! imported with the upload's `attachmentToken`. The journal records each source URL's
//! token once the upload answered, so a rerun never uploads a file again and a file shared
//! by several messages is uploaded once. A kill between the upload and its record only
//! means that file is uploaded again: an unused upload is invisible. A file that cannot be
//! downloaded or uploaded fails its message (reported with its line, the URL without its
//! query); the rest of the conversation goes on (after a transient failure, e.g. a 5xx or
//! a timeout, the conversation waits for the next run, to keep its order).
//!
//! Attachment URLs are not trusted: a host that is or resolves to a loopback, private,
//! link-local, shared, multicast or reserved address is refused before any connection
//! (every redirect too, on the addresses the connection would use) unless
//! [`Migration::allow_private_file_hosts`]; cloud metadata addresses and https → http
//! redirects are refused always. Files over 100 MiB fail their message, and the files held
//! in memory at once (downloaded, not yet uploaded) stay within a 256 MiB budget.
//!
//! **System messages** (opt-in: [`Migration::system_messages`], `talkjs migrate
//! --system-messages`): the import takes user messages only, and the send endpoint
//! (`POST /conversations/{id}/messages`) stamps the time of sending. So a conversation's
//! system messages are sent **after its whole imported history**, in their original order:
//! they appear at the end of the conversation, with the date of the migration, not at
//! their original places. Each carries an `idempotencyKey` made of the source's identity
//! (an export file's length and hash, or `app` for a source app, whose message ids are
//! unique across apps) and its source message id, so a send whose outcome is unknown (a
//! lost answer, a kill) is simply sent again without duplicating (how long TalkJS keeps
//! idempotency keys is not documented: finish an interrupted migration soon). They are
//! journaled like the other requests. Without the option they are skipped, each reported
//! with its line and counted in a warning.
//!
//! The journal is locked while a run has it open: a second process on the same journal
//! gets [`Error::JournalBusy`] rather than sending the same work twice.
//!
//! ## Shards: one migration, several processes
//!
//! [`Migration::shard`] splits a migration by conversation into N shards run as separate
//! processes (on one machine or several), each with its own journal (by default
//! `FILE.shard-I-of-N.journal`). Conversation `id` belongs to shard
//! [`shard_of`]`(id, N)`: the 64-bit FNV-1a hash of the id's UTF-8 bytes modulo N, which
//! depends on nothing else, so every process and every version agrees. A shard migrates its
//! conversations, their messages, reactions and participant settings, and **the users they
//! name** (participants, senders, readers, users who reacted), so a conversation's users
//! exist before its messages in every shard; a user named in several shards is upserted
//! by each (upserts are idempotent).
//! Shard 0 also takes the users no conversation names. The shards together migrate exactly
//! what one unsharded run does. TalkJS's rate limit is per app: give the shards one limit,
//! e.g. a `RateLimiter` on `talkjs-ratelimit-redis`'s `RedisStore` (`talkjs migrate
//! --redis-url`).
//!
//! ## What does not move, or moves differently
//!
//! - **Reply links**: TalkJS's import body has no `referencedMessageId` (the Importing
//!   Messages page lists `text`, `sender`, `timestamp`, `readBy`, `type`,
//!   `attachmentToken` and `custom` only), so a reply migrates as a plain message with the
//!   source id of the message it replied to in `custom` under [`REPLY_TO_KEY`]
//!   (`"talkjs-migrate:replyTo"`); look the target message up through the journal's id map.
//!   With [`Migration::map_reply_links`] (`talkjs migrate --map-reply-links`), the reply is
//!   also edited once it and the message it replied to have landed, to add that message's
//!   **target** id under [`REPLY_TO_ID_KEY`] (`"talkjs-migrate:replyToId"`): the ids come
//!   from the import's answers where TalkJS sends them, otherwise from one listing of the
//!   conversation, as for reactions. One request per reply ([`Report::reply_links`]).
//! - **Read state** is restored through `readBy` in the import body, and each participant's
//!   `readUntil` (from the export line's or the listed conversation's `participants`) with
//!   a participant `PATCH` after the messages (TalkJS's transfer example does the same; no
//!   reference page lists the field). TalkJS may move `readUntil` on as the user reads, so
//!   [`Migration::verify`] only checks that the target's is at or after the source's.
//! - **Reactions** are not part of the import: they are added after the messages, one
//!   idempotent `PUT …/messages/{id}/reactions/{emoji}/{userId}` per message, emoji and
//!   user ([`ItemKind::Reaction`], [`Report::reactions`]), journaled like the upserts (an
//!   unknown outcome is sent again). A conversation's reactions go once its messages have
//!   all landed or failed for good, and, where an import's outcome was unknown, after the
//!   reconcile pass (a surplus copy may still be deleted there). The target message is the
//!   one the journal's id map names (from the import's answer or a resolution); where it
//!   names none, the target conversation is listed once (after the settle time since its last
//!   import: a listing may show a new message late) and matched by the same key as an
//!   uncertain import, and the ids found are recorded. **From a source app**, who reacted
//!   is listed while planning, as TalkJS's transfer example does: one
//!   `GET …/messages/{id}/reactions/{emoji}?limit=100` per message and emoji (one more per
//!   further page), counted in [`Report::reaction_listings`]. **From a file**, a message's
//!   `reactions` object is carried when its values name the users (a list of user ids, or
//!   of `{"userId": …}` objects: what `talkjs export` writes where the source listed them
//!   so; no TalkJS page documents the values); other values (e.g. counts) cannot say who
//!   reacted: the message migrates without them, with a warning that points to
//!   [`Migration::from_app`]. A reaction by a user who is not in the input is left out with
//!   a warning. What the target has beyond the source's reactions is left alone.
//! - **System messages** cannot be imported (user messages only): skipped (reported with
//!   their lines, counted in a warning) unless [`Migration::system_messages`] sends them,
//!   after the history and with the time of sending (see above); their read state does not
//!   move (the send endpoint takes none).
//! - **Locations**: the import body has no location, so a message's location is left out
//!   (a warning names each message); a message with only a location is skipped.
//!   Attachments move (see above).
//! - Messages from users who are no longer participants cannot be imported (TalkJS takes
//!   messages from participants only); they are reported as errors with their lines.
//!
//! [`Migration::verify`] compares the source with the target: users and conversations field
//! by field (participants with access, notify and `readUntil`), and every message (see its
//! docs for the fields compared and those that are not, reactions included);
//! [`VerifyReport::matches`] says whether they match.
//!
//! Bad input (a line that is not JSON or not a record, an unknown sender, a message for a
//! conversation that is not in the input) is reported with its line number in
//! [`Report::notes`]; the rest migrates.
#![deny(missing_docs)]

mod error;
mod files;
mod fnv;
mod item;
mod journal;
mod note;
mod plan;
mod run;
mod shard;
mod verify;

pub use error::Error;
pub use item::{ItemKind, REPLY_TO_ID_KEY, REPLY_TO_KEY, SOURCE_ID_KEY};
pub use journal::{Counts, Failure};
pub use note::{Note, Severity};
pub use run::{DEFAULT_SETTLE_TIME, Migration, Progress, Reconciled, Report, Resolved, StopHandle};
pub use shard::{ParseShardError, Shard, shard_of};
pub use verify::{ConversationCheck, FieldMismatch, Mismatch, UserCheck, VerifyReport};

// The client crate, so that users of this crate alone can build the `Client`s it takes.
pub use talkjs_api;
