//! What the journal knows of the items: counts by state, failures, what is left to send,
//! target ids, and the uploaded files.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::row::{ROW_COLUMNS, Row, line_out, row};
use super::store::Journal;
use crate::item::ItemKind;

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

impl Journal {
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

    /// Conversations with messages still to send, in plan order (the runner asks only once
    /// every conversation upsert landed or failed, and orphans are failed).
    pub fn conversations_with_planned_messages(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT m.subject FROM items m
             WHERE m.kind IN ('message', 'system_message') AND m.state = 'planned'
             GROUP BY m.subject ORDER BY MIN(m.seq)",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect()
    }

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
                "SELECT COUNT(*) FROM items WHERE kind IN ('conversation', 'participant', 'reaction', 'reply_link') AND {left}"
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
}
