//! The journal: one SQLite file holding what was planned, what was sent and what landed.
//!
//! Every state change is one transaction, written before the request it describes is sent
//! (`in_flight`) and after its answer (`done`, `failed`, or back to `planned`), so a process
//! killed at any instant leaves each item either not sent (`planned`), landed (`done`),
//! refused (`failed`), or `in_flight`: sent or about to be, outcome unknown. A new run
//! resolves the unknown ones before it sends anything else.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::plan::{Note, PlannedItem, Severity};

mod reactions;
mod repair;
pub(crate) use reactions::{REACTION_LISTINGS, ReactionTarget};
pub(crate) use repair::{Held, ItemKey, app_address};

/// The journal layout this version writes; another one is refused rather than guessed at
/// (version 1, the layout before attachments and system messages, is upgraded in place: it
/// lacks only the `attachment` column, which none of its items needs).
/// Version 2 (before the target binding and the reconcile pass) is upgraded in place too: it
/// lacks the chunks' `started_ms` and the tables of the reconcile pass, made empty.
const SCHEMA_VERSION: &str = "3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per unit of work, in plan order (seq): a user, a conversation, a message, a
-- participant's settings.
CREATE TABLE IF NOT EXISTS items (
    seq       INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL,      -- user | conversation | message | system_message | participant | reaction
    subject   TEXT NOT NULL,      -- user id, or the conversation id
    source_id TEXT NOT NULL,      -- the id in the source (user, conversation, message, user, message)
    line      INTEGER,            -- the input line, for a file source
    body      TEXT NOT NULL,      -- the JSON body to send
    sender    TEXT,               -- messages: the match key (sender, ts, text)
    ts        INTEGER,
    text      TEXT,
    state     TEXT NOT NULL DEFAULT 'planned',  -- planned | in_flight | done | failed
    chunk     INTEGER,            -- the request that carries (or carried) it
    solo      INTEGER NOT NULL DEFAULT 0,       -- send alone (its chunk was refused with a 400)
    permanent INTEGER NOT NULL DEFAULT 0,       -- a failure that a rerun would repeat
    error     TEXT,
    target_id TEXT,               -- the id in the target, once known
    attachment TEXT               -- messages: the URL of the source's attached file
);
CREATE INDEX IF NOT EXISTS items_work ON items (kind, state, subject, seq);
CREATE INDEX IF NOT EXISTS items_key ON items (subject, sender, ts);
-- Marking a chunk done, failed or abandoned finds its items by chunk: without this index
-- every answered request scanned the whole table (quadratic: 7.7 ms a request at 50,000
-- messages; BENCHMARKS.md, Migration).
CREATE INDEX IF NOT EXISTS items_chunk ON items (chunk);
-- One row per request sent.
CREATE TABLE IF NOT EXISTS chunks (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    state   TEXT NOT NULL,        -- in_flight | done | failed | resolved | abandoned
    outcome TEXT,
    started_ms INTEGER            -- when it was sent (Unix ms): a resolution waits the settle time
);
-- Conversations with an import whose outcome was unknown, not yet reconciled: the end of the
-- run lists them again and removes surplus copies (a write that landed late) or imports what
-- is missing. since_ms: the last uncertain answer (Unix ms).
CREATE TABLE IF NOT EXISTS dirty (
    subject  TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL
);
-- What a conversation held before this migration imported into it, as copies per match key
-- of its planned messages (JSON object key -> count): empty for a conversation the target did
-- not have (a survey of its conversations before the first upsert), else listed before the
-- first import. Resolving and the reconcile pass never count those as this migration's.
CREATE TABLE IF NOT EXISTS baselines (
    subject TEXT PRIMARY KEY,
    copies  TEXT NOT NULL
);
-- Attachments uploaded to the target: the source file's URL and the token the upload gave.
-- A file is recorded after its upload answered, so a rerun never uploads it again (an
-- upload whose answer was lost is simply done again: an unused upload is invisible).
CREATE TABLE IF NOT EXISTS files (
    url   TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    bytes INTEGER
);
-- What planning found in the input: errors with their line, skipped records, warnings.
CREATE TABLE IF NOT EXISTS notes (
    id       INTEGER PRIMARY KEY,
    line     INTEGER,
    severity TEXT NOT NULL,
    text     TEXT NOT NULL
);
";

/// The journal's record of [`Migration::mark_source_ids`](crate::Migration::mark_source_ids):
/// the matching of uncertain imports depends on it, so a resumed run must have the same.
pub(crate) const MARK_SOURCE_IDS: &str = "mark_source_ids";

/// The journal's record of [`Migration::system_messages`](crate::Migration::system_messages):
/// the plan has the system messages or not.
pub(crate) const SYSTEM_MESSAGES: &str = "system_messages";

/// How many system messages the plan skips (without `system_messages`).
pub(crate) const SKIPPED_SYSTEM_MESSAGES: &str = "skipped_system_messages";

/// What a unit of work is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ItemKind {
    /// A user upsert (sent 100 to a `PUT /users`).
    User,
    /// A conversation upsert with its participants.
    Conversation,
    /// A message import (sent 10 to a request, in order, per conversation).
    Message,
    /// A system message, sent (not imported: the import takes user messages only) after
    /// its conversation's imported messages, with an idempotency key; only with
    /// [`Migration::system_messages`](crate::Migration::system_messages).
    SystemMessage,
    /// A participant whose access or notification settings differ from the defaults, or
    /// who has a `readUntil` (set after the messages).
    Participant,
    /// One user's reaction with one emoji to a message (its source id is the message's),
    /// added to the target message once the conversation's messages landed: an idempotent
    /// `PUT`, sent again when its outcome is unknown.
    Reaction,
}

impl ItemKind {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Conversation => "conversation",
            Self::Message => "message",
            Self::SystemMessage => "system_message",
            Self::Participant => "participant",
            Self::Reaction => "reaction",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "conversation" => Self::Conversation,
            "message" => Self::Message,
            "system_message" => Self::SystemMessage,
            "participant" => Self::Participant,
            "reaction" => Self::Reaction,
            _ => return None,
        })
    }

    /// Every kind, in the order they are sent (a conversation's system messages follow its
    /// imported messages; reactions follow its messages, and wait for the reconcile pass
    /// where an import's outcome was unknown).
    pub const ALL: [Self; 6] = [
        Self::User,
        Self::Conversation,
        Self::Message,
        Self::SystemMessage,
        Self::Reaction,
        Self::Participant,
    ];
}

/// How a refused request's items go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Not applied; send each item alone (one bad record refuses a whole request).
    Split,
    /// Not applied, and sending it again would be refused again.
    Permanent,
    /// Not applied now; a later run tries again.
    Transient,
}

/// An import left in flight by an earlier run: its outcome is unknown.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub chunk: i64,
    pub conversation: String,
    pub rows: Vec<Row>,
    /// When it was sent (Unix ms; `None` in a journal from before start times).
    pub started_ms: Option<i64>,
}

/// An item as the runner needs it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub seq: i64,
    pub subject: String,
    pub source_id: String,
    pub body: String,
    pub solo: bool,
    pub sender: Option<String>,
    pub ts: Option<i64>,
    pub text: Option<String>,
    pub attachment: Option<String>,
}

const ROW_COLUMNS: &str = "seq, subject, source_id, body, solo, sender, ts, text, attachment";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get(0)?,
        subject: r.get(1)?,
        source_id: r.get(2)?,
        body: r.get(3)?,
        solo: r.get::<_, i64>(4)? != 0,
        sender: r.get(5)?,
        ts: r.get(6)?,
        text: r.get(7)?,
        attachment: r.get(8)?,
    })
}

/// A line number read back from the journal.
fn line_out(line: Option<i64>) -> Option<u64> {
    line.and_then(|l| u64::try_from(l).ok())
}

/// An item that did not land, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// What it is.
    pub kind: ItemKind,
    /// Its id in the source (for a message, the source message id; for a participant, the
    /// user id).
    pub source_id: String,
    /// The conversation (messages, participants) or the user/conversation id itself.
    pub subject: String,
    /// Its line in the input file, if the source is a file.
    pub line: Option<u64>,
    /// Why it failed.
    pub error: String,
    /// Whether a rerun would fail the same way (`false`: a rerun tries it again).
    pub permanent: bool,
}

/// Counts of one kind of item by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Planned items.
    pub total: u64,
    /// Landed.
    pub done: u64,
    /// Refused or failed (see the report's failures).
    pub failed: u64,
    /// Not sent yet.
    pub planned: u64,
    /// Sent with an outcome not known yet (resolved by the next run).
    pub in_flight: u64,
}

/// The journal file, opened with an exclusive lock (one migration process at a time).
pub(crate) struct Journal {
    conn: Connection,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

/// Whether an error is SQLite's "database is locked/busy".
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Journal {
    /// Opens (or creates) the journal and takes its lock: a second process on the same file
    /// gets a busy error ([`is_busy`]) instead of sending the same work twice. The lock is a
    /// file lock, so the operating system releases it when the process dies.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        // No waiting for a lock: a journal held by another process is refused at once.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        // WAL with synchronous=FULL: a committed state change survives a kill and a power
        // loss (the exactly-once argument rests on "in_flight" being on disk before the
        // request leaves).
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Takes the exclusive lock now (and keeps it: locking_mode=EXCLUSIVE).
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match version.as_deref() {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(old @ ("1" | "2")) => {
                // Version 1 had no attachments (the files table is made above), version 2
                // no chunk start times (the dirty and baselines tables are made above).
                let tx = conn.unchecked_transaction()?;
                if old == "1" {
                    tx.execute_batch("ALTER TABLE items ADD COLUMN attachment TEXT;")?;
                }
                // A version 1 journal with no request sent yet got its chunks table (with
                // the column) from the schema above.
                let has_started: bool = tx.query_row(
                    "SELECT COUNT(*) > 0 FROM pragma_table_info('chunks') WHERE name = 'started_ms'",
                    [],
                    |r| r.get(0),
                )?;
                if !has_started {
                    tx.execute_batch("ALTER TABLE chunks ADD COLUMN started_ms INTEGER;")?;
                }
                tx.execute_batch("UPDATE meta SET value = '3' WHERE key = 'schema';")?;
                tx.commit()?;
            }
            Some(other) => {
                return Err(rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    format!(
                        "journal layout {other} is not the one this version reads ({SCHEMA_VERSION})"
                    )
                    .into(),
                ));
            }
        }
        Ok(Self { conn })
    }

    fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }

    /// The fingerprint of the input the plan was made from, if a plan is complete.
    pub fn planned_fingerprint(&self) -> rusqlite::Result<Option<String>> {
        if self.meta("planned")?.is_none() {
            return Ok(None);
        }
        Ok(Some(self.meta("fingerprint")?.unwrap_or_default()))
    }

    /// Writes the whole plan in one transaction: after a kill during planning the journal
    /// has no plan at all, never half of one.
    /// `meta` holds the options the plan was made with ([`MARK_SOURCE_IDS`],
    /// [`SYSTEM_MESSAGES`]: `"1"` on, `"0"` off) and its counts ([`SKIPPED_SYSTEM_MESSAGES`]).
    pub fn write_plan(
        &mut self,
        fingerprint: &str,
        meta: &[(&str, String)],
        items: &[PlannedItem],
        notes: &[Note],
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "DELETE FROM items; DELETE FROM chunks; DELETE FROM notes; DELETE FROM files;",
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO items (kind, subject, source_id, line, body, sender, ts, text, attachment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for item in items {
                let (sender, ts, text) = match &item.key {
                    Some(k) => (Some(k.sender.as_str()), Some(k.ts), Some(k.text.as_str())),
                    None => (None, None, None),
                };
                insert.execute(params![
                    item.kind.as_str(),
                    item.subject,
                    item.source_id,
                    item.line.and_then(|l| i64::try_from(l).ok()),
                    item.body,
                    sender,
                    ts,
                    text,
                    item.attachment,
                ])?;
            }
            let mut note =
                tx.prepare("INSERT INTO notes (line, severity, text) VALUES (?1, ?2, ?3)")?;
            for n in notes {
                note.execute(params![
                    n.line.and_then(|l| i64::try_from(l).ok()),
                    n.severity.as_str(),
                    n.text
                ])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('fingerprint', ?1)",
            [fingerprint],
        )?;
        for (key, value) in meta {
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('planned', '1')",
            [],
        )?;
        tx.commit()
    }

    /// A setting the plan was made with (see [`Self::write_plan`]); `false` when the
    /// journal does not record it (a journal written before the setting existed was planned
    /// without it).
    pub fn setting(&self, key: &str) -> rusqlite::Result<bool> {
        Ok(self.meta(key)?.as_deref() == Some("1"))
    }

    /// A count the plan recorded (0 if it did not).
    pub fn count(&self, key: &str) -> rusqlite::Result<u64> {
        Ok(self
            .meta(key)?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    /// Gets a resumed journal ready: failures a rerun may fix go back to `planned`, and so
    /// do upserts left in flight (users, conversations and participant settings are
    /// idempotent: sending them again is safe). Message imports left in flight stay: they
    /// must be resolved first ([`Self::in_flight_imports`]).
    pub fn prepare_resume(&mut self) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE items SET state = 'planned', error = NULL
             WHERE state = 'failed' AND permanent = 0",
            [],
        )?;
        tx.execute(
            "UPDATE chunks SET state = 'abandoned', outcome = 'process ended before the answer; sent again'
             WHERE state = 'in_flight' AND kind != 'message'",
            [],
        )?;
        tx.execute(
            "UPDATE items SET state = 'planned', chunk = NULL
             WHERE state = 'in_flight' AND kind != 'message'",
            [],
        )?;
        tx.commit()
    }

    /// Message chunks whose outcome is unknown, oldest first.
    pub fn in_flight_imports(&self) -> rusqlite::Result<Vec<InFlight>> {
        let mut chunks = self.conn.prepare(
            "SELECT id, subject, started_ms FROM chunks
             WHERE state = 'in_flight' AND kind = 'message' ORDER BY id",
        )?;
        let ids: Vec<(i64, String, Option<i64>)> = chunks
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut items = self.conn.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM items WHERE chunk = ?1 AND state = 'in_flight' ORDER BY seq"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for (chunk, conversation, started_ms) in ids {
            let rows = items
                .query_map([chunk], row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.push(InFlight {
                chunk,
                conversation,
                rows,
                started_ms,
            });
        }
        Ok(out)
    }

    /// Every planned item of a kind, in plan order.
    pub fn planned(&self, kind: ItemKind) -> rusqlite::Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM items WHERE kind = ?1 AND state = 'planned' ORDER BY seq"
        ))?;
        stmt.query_map([kind.as_str()], row)?.collect()
    }

    /// Whether every item of the kind is done or failed for good (the next stage may start).
    pub fn settled(&self, kind: ItemKind) -> rusqlite::Result<bool> {
        let open: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM items WHERE kind = ?1
             AND NOT (state = 'done' OR (state = 'failed' AND permanent = 1))",
            [kind.as_str()],
            |r| r.get(0),
        )?;
        Ok(open == 0)
    }

    /// Conversations with messages still to send, in plan order (the runner asks only once
    /// every conversation upsert landed or failed, and orphans are failed).
    /// The requests the items left (planned or in flight) take at least: users 100 to a
    /// request, each conversation's messages `import_batch` to a request (and system
    /// messages 10), the others one each.
    pub fn requests_left(&self, import_batch: usize) -> rusqlite::Result<u64> {
        let left = "state IN ('planned', 'in_flight')";
        let users: i64 = self.conn.query_row(
            &format!("SELECT (COUNT(*) + 99) / 100 FROM items WHERE kind = 'user' AND {left}"),
            [],
            |r| r.get(0),
        )?;
        let singles: i64 = self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM items WHERE kind IN ('conversation', 'participant', 'reaction') AND {left}"
            ),
            [],
            |r| r.get(0),
        )?;
        let batch = i64::try_from(import_batch.max(1)).unwrap_or(10);
        let imports: i64 = self.conn.query_row(
            &format!(
                "SELECT COALESCE(SUM(CASE WHEN kind = 'message' THEN (n + ?1 - 1) / ?1
                                     ELSE (n + 9) / 10 END), 0) FROM
                 (SELECT kind, COUNT(*) AS n FROM items WHERE kind IN ('message', 'system_message')
                  AND {left} GROUP BY kind, subject)"
            ),
            [batch],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(users + singles + imports).unwrap_or(0))
    }

    pub fn conversations_with_planned_messages(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT m.subject FROM items m
             WHERE m.kind IN ('message', 'system_message') AND m.state = 'planned'
             GROUP BY m.subject ORDER BY MIN(m.seq)",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect()
    }

    /// Whether every item of a kind in a conversation is done or failed for good (its
    /// system messages may follow its imports).
    pub fn conversation_settled(
        &self,
        kind: ItemKind,
        conversation: &str,
    ) -> rusqlite::Result<bool> {
        let open: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM items WHERE kind = ?1 AND subject = ?2
             AND NOT (state = 'done' OR (state = 'failed' AND permanent = 1))",
            params![kind.as_str(), conversation],
            |r| r.get(0),
        )?;
        Ok(open == 0)
    }

    /// Records that an item failed before any request carried it (its attachment could
    /// not be carried, or its body does not decode).
    pub fn item_failed(&mut self, seq: i64, error: &str, permanent: bool) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE items SET state = 'failed', error = ?2, permanent = ?3
             WHERE seq = ?1 AND state = 'planned'",
            params![seq, error, i64::from(permanent)],
        )?;
        Ok(())
    }

    /// The attachment token of a source file uploaded before, if any.
    pub fn file_token(&self, url: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT token FROM files WHERE url = ?1")?
            .query_row([url], |r| r.get(0))
            .optional()
    }

    /// Records the token of an uploaded source file.
    pub fn record_file(&mut self, url: &str, token: &str, bytes: usize) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO files (url, token, bytes) VALUES (?1, ?2, ?3)",
            params![url, token, i64::try_from(bytes).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }

    /// How many source files are uploaded (recorded with their tokens).
    pub fn files_uploaded(&self) -> rusqlite::Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The next request's worth of messages (imports or system messages) of a
    /// conversation: up to `max` planned ones in order, or one alone if it is to be sent
    /// alone.
    pub fn next_items(
        &self,
        kind: ItemKind,
        conversation: &str,
        max: usize,
    ) -> rusqlite::Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM items
             WHERE kind = ?1 AND subject = ?2 AND state = 'planned'
             ORDER BY seq LIMIT ?3"
        ))?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows: Vec<Row> = stmt
            .query_map(params![kind.as_str(), conversation, limit], row)?
            .collect::<rusqlite::Result<_>>()?;
        // A solo item goes alone; others stop before the next solo one.
        let mut out = Vec::new();
        for r in rows {
            if r.solo {
                if out.is_empty() {
                    out.push(r);
                }
                break;
            }
            out.push(r);
        }
        Ok(out)
    }

    /// Records that a request carrying these items is about to be sent. Returns the chunk id.
    pub fn start_chunk(
        &mut self,
        kind: ItemKind,
        subject: &str,
        seqs: &[i64],
    ) -> rusqlite::Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO chunks (kind, subject, state, started_ms) VALUES (?1, ?2, 'in_flight', ?3)",
            params![kind.as_str(), subject, unix_ms()],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut update = tx.prepare_cached(
                "UPDATE items SET state = 'in_flight', chunk = ?1 WHERE seq = ?2 AND state = 'planned'",
            )?;
            for seq in seqs {
                update.execute(params![id, seq])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// Records that a chunk landed. Users and conversations keep their ids, so their target id
    /// is the source id; imported messages get theirs when a listing finds them.
    pub fn chunk_done(&mut self, chunk: i64) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE chunks SET state = 'done', outcome = 'ok' WHERE id = ?1",
            [chunk],
        )?;
        tx.execute(
            "UPDATE items SET state = 'done', error = NULL,
                 target_id = CASE WHEN kind IN ('user', 'conversation') THEN source_id ELSE target_id END
             WHERE chunk = ?1 AND state = 'in_flight'",
            [chunk],
        )?;
        tx.commit()
    }

    /// Records that a chunk of sent messages landed, with the ids the send answered (in
    /// the order of `seqs`).
    pub fn chunk_sent(&mut self, chunk: i64, ids: &[(i64, String)]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE chunks SET state = 'done', outcome = 'ok' WHERE id = ?1",
            [chunk],
        )?;
        mark_landed(
            &tx,
            chunk,
            ids.iter().map(|(seq, id)| (*seq, Some(id.as_str()))),
        )?;
        tx.execute(
            "UPDATE items SET state = 'done', error = NULL WHERE chunk = ?1 AND state = 'in_flight'",
            [chunk],
        )?;
        tx.commit()
    }

    /// Records that a chunk was refused (not applied) and what becomes of its items.
    pub fn chunk_failed(&mut self, chunk: i64, error: &str, fate: Fate) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE chunks SET state = 'failed', outcome = ?2 WHERE id = ?1",
            params![chunk, error],
        )?;
        match fate {
            Fate::Split => tx.execute(
                "UPDATE items SET state = 'planned', solo = 1, chunk = NULL
                 WHERE chunk = ?1 AND state = 'in_flight'",
                [chunk],
            )?,
            Fate::Permanent | Fate::Transient => tx.execute(
                "UPDATE items SET state = 'failed', error = ?2, permanent = ?3
                 WHERE chunk = ?1 AND state = 'in_flight'",
                params![chunk, error, i64::from(fate == Fate::Permanent)],
            )?,
        };
        tx.commit()
    }

    /// Puts a chunk's items back to `planned` without marking a failure: the process is
    /// stopping (e.g. the credentials were refused) and a rerun sends them.
    pub fn chunk_abandoned(&mut self, chunk: i64, why: &str) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE chunks SET state = 'abandoned', outcome = ?2 WHERE id = ?1",
            params![chunk, why],
        )?;
        tx.execute(
            "UPDATE items SET state = 'planned', chunk = NULL WHERE chunk = ?1 AND state = 'in_flight'",
            [chunk],
        )?;
        tx.commit()
    }

    /// Records how an in-flight import was resolved: the items in `landed` (with their
    /// target ids) are done, the others of the chunk go back to `planned`.
    pub fn chunk_resolved(
        &mut self,
        chunk: i64,
        landed: &[(i64, Option<String>)],
        outcome: &str,
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE chunks SET state = 'resolved', outcome = ?2 WHERE id = ?1",
            params![chunk, outcome],
        )?;
        mark_landed(
            &tx,
            chunk,
            landed.iter().map(|(seq, target)| (*seq, target.as_deref())),
        )?;
        tx.execute(
            "UPDATE items SET state = 'planned', chunk = NULL WHERE chunk = ?1 AND state = 'in_flight'",
            [chunk],
        )?;
        tx.commit()
    }

    /// Marks every planned message and participant setting of conversations whose upsert
    /// failed for good as failed too (they cannot land without it).
    pub fn fail_orphans(&mut self) -> rusqlite::Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE items SET state = 'failed', permanent = 1,
                 error = 'its conversation could not be created: ' ||
                     (SELECT COALESCE(c.error, '') FROM items c
                      WHERE c.kind = 'conversation' AND c.subject = items.subject LIMIT 1)
             WHERE kind IN ('message', 'system_message', 'participant', 'reaction') AND state = 'planned'
             AND subject IN (SELECT subject FROM items WHERE kind = 'conversation'
                             AND state = 'failed' AND permanent = 1)",
            [],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Counts per kind and state.
    pub fn counts(&self, kind: ItemKind) -> rusqlite::Result<Counts> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, COUNT(*) FROM items WHERE kind = ?1 GROUP BY state")?;
        let mut counts = Counts::default();
        let rows = stmt.query_map([kind.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        for r in rows {
            let (state, n) = r?;
            let n = u64::try_from(n).unwrap_or(0);
            counts.total += n;
            match state.as_str() {
                "done" => counts.done += n,
                "failed" => counts.failed += n,
                "in_flight" => counts.in_flight += n,
                _ => counts.planned += n,
            }
        }
        Ok(counts)
    }

    /// Items that failed, in plan order.
    pub fn failures(&self) -> rusqlite::Result<Vec<Failure>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, source_id, subject, line, error, permanent FROM items
             WHERE state = 'failed' ORDER BY seq",
        )?;
        stmt.query_map([], |r| {
            let kind: String = r.get(0)?;
            Ok(Failure {
                kind: ItemKind::parse(&kind).unwrap_or(ItemKind::Message),
                source_id: r.get(1)?,
                subject: r.get(2)?,
                line: line_out(r.get(3)?),
                error: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                permanent: r.get::<_, i64>(5)? != 0,
            })
        })?
        .collect()
    }

    /// What planning found in the input.
    pub fn notes(&self) -> rusqlite::Result<Vec<Note>> {
        let mut stmt = self
            .conn
            .prepare("SELECT line, severity, text FROM notes ORDER BY id")?;
        stmt.query_map([], |r| {
            let severity: String = r.get(1)?;
            Ok(Note {
                line: line_out(r.get(0)?),
                severity: Severity::parse(&severity),
                text: r.get(2)?,
            })
        })?
        .collect()
    }

    /// The target id of a source item, once known: users and conversations keep their ids;
    /// a message's is learnt when a listing of the target finds it (resolving an uncertain
    /// request, or verifying).
    pub fn target_id(&self, kind: ItemKind, source_id: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT target_id FROM items WHERE kind = ?1 AND source_id = ?2 AND target_id IS NOT NULL",
                params![kind.as_str(), source_id],
                |r| r.get(0),
            )
            .optional()
    }

    /// Records target ids found by a listing (verification).
    pub fn set_target_ids(&mut self, ids: &[(String, String)]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE items SET target_id = ?2 WHERE kind IN ('message', 'system_message')
                 AND source_id = ?1 AND state = 'done'",
            )?;
            for (source, target) in ids {
                stmt.execute(params![source, target])?;
            }
        }
        tx.commit()
    }
}

/// The wall clock in Unix milliseconds (what the journal records: it must mean the same to
/// the next process).
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Marks the in-flight items `(seq, target id)` of `chunk` done, with their target ids.
fn mark_landed<'a>(
    tx: &rusqlite::Transaction<'_>,
    chunk: i64,
    landed: impl Iterator<Item = (i64, Option<&'a str>)>,
) -> rusqlite::Result<()> {
    let mut done = tx.prepare_cached(
        "UPDATE items SET state = 'done', error = NULL, target_id = ?2
         WHERE seq = ?1 AND chunk = ?3 AND state = 'in_flight'",
    )?;
    for (seq, target) in landed {
        done.execute(params![seq, target, chunk])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_version_1_journal_is_upgraded_in_place() {
        let path = std::env::temp_dir().join(format!(
            "talkjs-migrate-journal-v1-{}.journal",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        {
            // The layout of version 1: no attachment column, no files table.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema', '1'), ('planned', '1'), ('fingerprint', 'file:1:0');
                 CREATE TABLE items (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,
                     subject TEXT NOT NULL, source_id TEXT NOT NULL, line INTEGER,
                     body TEXT NOT NULL, sender TEXT, ts INTEGER, text TEXT,
                     state TEXT NOT NULL DEFAULT 'planned', chunk INTEGER,
                     solo INTEGER NOT NULL DEFAULT 0, permanent INTEGER NOT NULL DEFAULT 0,
                     error TEXT, target_id TEXT);
                 INSERT INTO items (kind, subject, source_id, body, sender, ts, text)
                     VALUES ('message', 'c0', 'm1', '{}', 'alice', 1, 'hi');",
            )
            .unwrap();
        }
        let mut journal = Journal::open(&path).unwrap();
        assert_eq!(journal.meta("schema").unwrap().as_deref(), Some("3"));
        let rows = journal.next_items(ItemKind::Message, "c0", 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].attachment, None);
        // Planned before the settings existed: both off.
        assert!(!journal.setting(MARK_SOURCE_IDS).unwrap());
        assert!(!journal.setting(SYSTEM_MESSAGES).unwrap());
        journal.record_file("http://h/f", "att_1", 3).unwrap();
        assert_eq!(
            journal.file_token("http://h/f").unwrap().as_deref(),
            Some("att_1")
        );
        drop(journal);
        let _ = std::fs::remove_file(&path);
    }
}
