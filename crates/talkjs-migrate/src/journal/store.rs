//! The journal file: its layout, and opening it (with its lock, upgrading older layouts).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

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

/// The journal file, opened with an exclusive lock (one migration process at a time).
pub(crate) struct Journal {
    pub(super) conn: Connection,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (or creates) the journal and takes its lock: a second process on the same file
    /// gets a busy error (`is_busy` in the error module) instead of sending the same work
    /// twice. The lock is a file lock, so the operating system releases it when the process
    /// dies.
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

    pub(super) fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
    }
}
