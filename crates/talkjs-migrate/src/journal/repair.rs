//! The journal's side of settling unknown outcomes: which conversations had an import whose
//! outcome was unknown (to reconcile at the end of the run), what each held before this
//! migration imported into it (its baseline), and how a message is recognised in a listing
//! (its match key). Also the target the journal is bound to.

use std::collections::{HashMap, HashSet};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use talkjs_api::models::{Custom, ImportMessage, Message};

use super::row::{ROW_COLUMNS, Row, row};
use super::store::Journal;
use crate::item::{REPLY_TO_ID_KEY, SOURCE_ID_KEY};

/// How a message of the plan is recognised in a listing of the target: by its source id in
/// `custom` (with the marker), else by sender, time (ms), text and custom data, which the
/// import keeps as given. Messages repeated word for word (same sender, time and text) are
/// told apart by their custom data where it differs (a reply link, the source's own custom
/// data); where it does not, they are interchangeable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKey {
    /// `custom["talkjs-migrate:sourceId"]`.
    Marker,
    /// Sender, timestamp, text and custom data.
    Content,
}

impl ItemKey {
    /// The key of a planned message (its custom data as its journaled body has it).
    pub(crate) fn of_row(self, row: &Row) -> String {
        match self {
            Self::Marker => row.source_id.clone(),
            Self::Content => {
                let custom = serde_json::from_str::<ImportMessage>(&row.body)
                    .map(|m| m.custom)
                    .unwrap_or_default();
                content_key(
                    row.sender.as_deref().unwrap_or_default(),
                    row.ts.unwrap_or_default(),
                    row.text.as_deref().unwrap_or_default(),
                    &custom,
                )
            }
        }
    }

    /// The key of a listed message; `None` for a message without a marker (with the
    /// marker: it is not one of this migration's).
    pub(crate) fn of_message(self, m: &Message) -> Option<String> {
        match self {
            Self::Marker => m.custom.get(SOURCE_ID_KEY).cloned(),
            Self::Content => Some(content_key(
                m.sender_id.as_ref().map_or("", |s| s.as_str()),
                i64::try_from(m.created_at.as_millis()).unwrap_or(i64::MAX),
                m.text.as_deref().unwrap_or_default(),
                &m.custom,
            )),
        }
    }
}

/// Sender, time, text and custom data as one unambiguous string (a JSON array; custom data
/// is a sorted map, so equal maps give equal strings). The mapped reply link
/// ([`REPLY_TO_ID_KEY`]) is left out: it is added to a message after its import.
fn content_key(sender: &str, ts: i64, text: &str, custom: &Custom) -> String {
    let custom: std::collections::BTreeMap<&str, &str> = (custom.iter())
        .filter(|(k, _)| k.as_str() != REPLY_TO_ID_KEY)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    serde_json::json!([sender, ts, text, custom]).to_string()
}

/// A planned message of a conversation with what the journal knows of it.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub row: Row,
    /// Landed (`done`).
    pub done: bool,
    /// Its id in the target, when a listing found it.
    pub target_id: Option<String>,
}

/// `ROOT/v1/APP_ID` of a client built by `ClientBuilder`.
pub(crate) fn app_address(client: &talkjs_api::Client) -> Option<String> {
    match (client.api_root(), client.app_id()) {
        (Some(root), Some(app)) => Some(format!("{root}/v1/{app}")),
        _ => None,
    }
}

impl Journal {
    /// The target the journal sends to (`None`: planned before journals recorded it, or with
    /// a client that does not know its app).
    pub fn bound_target(&self) -> rusqlite::Result<Option<String>> {
        self.meta("target")
    }

    /// Records the target (a journal planned before targets were recorded adopts the first
    /// one it is resumed with).
    pub fn bind_target(&mut self, target: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('target', ?1)",
            [target],
        )?;
        Ok(())
    }

    /// What the journal recorded of the import request size the target accepts.
    pub fn import_batch(&self) -> rusqlite::Result<Option<String>> {
        self.meta("import_batch")
    }

    /// Records the import request size the target accepts (`"100"` or `"10"`).
    pub fn record_import_batch(&mut self, size: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('import_batch', ?1)",
            [size],
        )?;
        Ok(())
    }

    /// Records that an import into `conversation` had an unknown outcome at `since_ms`
    /// (Unix ms): the reconcile pass lists it again once the settle time has passed.
    pub fn mark_dirty(&mut self, conversation: &str, since_ms: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO dirty (subject, since_ms) VALUES (?1, ?2)
             ON CONFLICT (subject) DO UPDATE SET since_ms = MAX(since_ms, excluded.since_ms)",
            params![conversation, since_ms],
        )?;
        Ok(())
    }

    /// Conversations to reconcile, with their last unknown outcome (Unix ms), in order of
    /// that time.
    pub fn dirty(&self) -> rusqlite::Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT subject, since_ms FROM dirty ORDER BY since_ms, subject")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    }

    /// A conversation's last unknown outcome (Unix ms), if it is to be reconciled.
    pub fn dirty_since(&self, conversation: &str) -> rusqlite::Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT since_ms FROM dirty WHERE subject = ?1",
                [conversation],
                |r| r.get(0),
            )
            .optional()
    }

    /// Records that a conversation holds exactly what the journal says, unless another
    /// unknown outcome came after `listed_after_ms` (the time of the listing that showed it).
    pub fn clear_dirty(
        &mut self,
        conversation: &str,
        listed_after_ms: i64,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "DELETE FROM dirty WHERE subject = ?1 AND since_ms <= ?2",
            params![conversation, listed_after_ms],
        )?;
        Ok(())
    }

    /// What a conversation held before this migration imported into it: copies per match
    /// key. `None` until its first uncertain import was resolved.
    pub fn baseline(&self, conversation: &str) -> rusqlite::Result<Option<HashMap<String, u64>>> {
        let copies: Option<String> = self
            .conn
            .query_row(
                "SELECT copies FROM baselines WHERE subject = ?1",
                [conversation],
                |r| r.get(0),
            )
            .optional()?;
        // A baseline that does not decode is refused, not read as empty: an empty one would
        // let the reconcile pass delete what the conversation held before.
        copies
            .map(|c| {
                serde_json::from_str(&c).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })
            })
            .transpose()
    }

    /// Records a conversation's baseline (the first one recorded stays).
    pub fn set_baseline(
        &mut self,
        conversation: &str,
        copies: &HashMap<String, u64>,
    ) -> rusqlite::Result<()> {
        let copies = serde_json::to_string(copies).unwrap_or_else(|_| "{}".to_owned());
        self.conn.execute(
            "INSERT OR IGNORE INTO baselines (subject, copies) VALUES (?1, ?2)",
            params![conversation, copies],
        )?;
        Ok(())
    }

    /// Whether the target's conversations were surveyed (or the survey was given up: see
    /// [`Self::record_survey`]).
    pub fn surveyed(&self) -> rusqlite::Result<bool> {
        Ok(self.meta("surveyed")?.is_some())
    }

    /// Whether a survey can still tell which conversations the target held before: no
    /// conversation upsert or import was sent yet.
    pub fn nothing_sent_to_conversations(&self) -> rusqlite::Result<bool> {
        let sent: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM chunks WHERE kind IN ('conversation', 'message')",
            [],
            |r| r.get(0),
        )?;
        Ok(sent == 0)
    }

    /// The conversations the plan imports messages into.
    pub fn import_conversations(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT subject FROM items WHERE kind = 'message'")?;
        stmt.query_map([], |r| r.get(0))?.collect()
    }

    /// Records the survey of the target's conversations: with `existing` (a complete
    /// survey: the plan's conversations the target held), every other conversation of the
    /// plan is new, so it held nothing before (an empty baseline, no listing needed);
    /// without (given up), each conversation's baseline is read before its first import.
    pub fn record_survey(&mut self, existing: Option<&HashSet<String>>) -> rusqlite::Result<()> {
        let conversations = match existing {
            Some(existing) => self
                .import_conversations()?
                .into_iter()
                .filter(|c| !existing.contains(c))
                .collect(),
            None => Vec::new(),
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO baselines (subject, copies) VALUES (?1, '{}')",
            )?;
            for c in &conversations {
                stmt.execute([c])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('surveyed', '1')",
            [],
        )?;
        tx.commit()
    }

    /// When the conversation's last import request was sent (Unix ms), if any.
    pub fn last_import_ms(&self, conversation: &str) -> rusqlite::Result<Option<i64>> {
        self.conn.query_row(
            "SELECT MAX(started_ms) FROM chunks WHERE kind = 'message' AND subject = ?1",
            [conversation],
            |r| r.get(0),
        )
    }

    /// Whether an import into the conversation was ever sent.
    pub fn imported_into(&self, conversation: &str) -> rusqlite::Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM chunks WHERE kind = 'message' AND subject = ?1",
            [conversation],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Every planned message (import) of a conversation, in plan order, with its state.
    pub fn held(&self, conversation: &str) -> rusqlite::Result<Vec<Held>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS}, state = 'done', target_id FROM items
             WHERE kind = 'message' AND subject = ?1 ORDER BY seq"
        ))?;
        stmt.query_map([conversation], |r| {
            Ok(Held {
                row: row(r)?,
                done: r.get(9)?,
                target_id: r.get(10)?,
            })
        })?
        .collect()
    }

    /// Sends landed messages again: a listing after the settle time did not find them (they
    /// were counted as landed, but the target does not hold them).
    pub fn replan(&mut self, seqs: &[i64], why: &str) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE items SET state = 'planned', chunk = NULL, target_id = NULL, error = ?2
                 WHERE seq = ?1 AND state = 'done'",
            )?;
            for seq in seqs {
                stmt.execute(params![seq, why])?;
            }
        }
        tx.commit()
    }

    /// Records the target ids a listing matched to landed messages.
    pub fn set_seq_target_ids(&mut self, ids: &[(i64, String)]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE items SET target_id = ?2 WHERE seq = ?1 AND state = 'done'",
            )?;
            for (seq, id) in ids {
                stmt.execute(params![seq, id])?;
            }
        }
        tx.commit()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_mapped_reply_link_does_not_change_a_message_s_key() {
        let planned: Custom = [("n", "1"), (crate::item::REPLY_TO_KEY, "msg_src")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut edited = planned.clone();
        edited.insert(REPLY_TO_ID_KEY.to_owned(), "msg_target".to_owned());
        assert_eq!(
            content_key("alice", 5, "hi", &planned),
            content_key("alice", 5, "hi", &edited)
        );
        // Any other key still tells messages apart.
        edited.insert("other".to_owned(), "x".to_owned());
        assert_ne!(
            content_key("alice", 5, "hi", &planned),
            content_key("alice", 5, "hi", &edited)
        );
    }
}
