//! The life of a request in the journal: its items in flight before it leaves, then done,
//! refused, abandoned or resolved after its answer (or after a new run settled it).

use rusqlite::{TransactionBehavior, params};

use super::row::{ROW_COLUMNS, Row, row};
use super::store::Journal;
use crate::item::ItemKind;

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

impl Journal {
    /// Every planned message (imports or system messages) of a conversation, in order.
    pub fn planned_in(&self, kind: ItemKind, conversation: &str) -> rusqlite::Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM items
             WHERE kind = ?1 AND subject = ?2 AND state = 'planned'
             ORDER BY seq"
        ))?;
        stmt.query_map(params![kind.as_str(), conversation], row)?
            .collect()
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
            // `solo` is kept for journals read by earlier versions; the bulk engine splits a
            // refused request itself.
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
