//! The journal's side of what follows a conversation's messages (reactions and reply links):
//! which conversations have some to send, and what the journal knows of the messages they
//! belong to (landed or not, the target id).

use rusqlite::params;

use super::row::{ROW_COLUMNS, Row, row};
use super::store::Journal;
use crate::item::ItemKind;

/// The journal's record of how many requests planning made to list who reacted to the
/// source app's messages.
pub(crate) const REACTION_LISTINGS: &str = "reaction_listings";

/// A planned message (import or system message) of a conversation, as a reaction needs it.
#[derive(Debug, Clone)]
pub(crate) struct ReactionTarget {
    /// The message's item.
    pub row: Row,
    /// `done`, `failed`, `planned` or `in_flight`.
    pub state: String,
    /// It failed for good.
    pub permanent: bool,
    /// Its id in the target, once known.
    pub target_id: Option<String>,
}

impl ReactionTarget {
    /// Landed.
    pub fn is_done(&self) -> bool {
        self.state == "done"
    }

    /// Failed for good: it will not land, so neither will its reactions.
    pub fn is_lost(&self) -> bool {
        self.state == "failed" && self.permanent
    }
}

impl Journal {
    /// Conversations with reactions or reply links still to send, in plan order.
    pub fn reaction_conversations(&self) -> rusqlite::Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT subject FROM items WHERE kind IN ('reaction', 'reply_link') AND state = 'planned'
             GROUP BY subject ORDER BY MIN(seq)",
        )?;
        stmt.query_map([], |r| r.get(0))?.collect()
    }

    /// A conversation's planned items of `kind` (reactions or reply links), in plan order.
    pub fn planned_after_messages(
        &self,
        kind: ItemKind,
        conversation: &str,
    ) -> rusqlite::Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM items
             WHERE kind = ?1 AND subject = ?2 AND state = 'planned' ORDER BY seq"
        ))?;
        stmt.query_map(params![kind.as_str(), conversation], row)?
            .collect()
    }

    /// Every planned message (imports and system messages) of a conversation, in plan
    /// order, with its state and target id.
    pub fn reaction_targets(&self, conversation: &str) -> rusqlite::Result<Vec<ReactionTarget>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLUMNS}, state, permanent, target_id FROM items
             WHERE kind IN ('message', 'system_message') AND subject = ?1 ORDER BY seq"
        ))?;
        stmt.query_map(params![conversation], |r| {
            Ok(ReactionTarget {
                row: row(r)?,
                state: r.get(9)?,
                permanent: r.get::<_, i64>(10)? != 0,
                target_id: r.get(11)?,
            })
        })?
        .collect()
    }
}
