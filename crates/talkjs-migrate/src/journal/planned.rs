//! The plan in the journal: written in one transaction, with the settings and counts it was
//! made with and what planning found in the input; getting a resumed journal ready.

use rusqlite::{TransactionBehavior, params};

use super::row::line_out;
use super::store::Journal;
use crate::item::PlannedItem;
use crate::note::{Note, Severity};

/// The journal's record of [`Migration::mark_source_ids`](crate::Migration::mark_source_ids):
/// the matching of uncertain imports depends on it, so a resumed run must have the same.
pub(crate) const MARK_SOURCE_IDS: &str = "mark_source_ids";

/// The journal's record of [`Migration::system_messages`](crate::Migration::system_messages):
/// the plan has the system messages or not.
pub(crate) const SYSTEM_MESSAGES: &str = "system_messages";

/// The journal's record of [`Migration::map_reply_links`](crate::Migration::map_reply_links):
/// the plan has the reply-link items or not.
pub(crate) const MAP_REPLY_LINKS: &str = "map_reply_links";

/// How many system messages the plan skips (without `system_messages`).
pub(crate) const SKIPPED_SYSTEM_MESSAGES: &str = "skipped_system_messages";

impl Journal {
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use rusqlite::Connection;

    use super::*;
    use crate::item::ItemKind;

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
        let rows = journal.planned_in(ItemKind::Message, "c0").unwrap();
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
