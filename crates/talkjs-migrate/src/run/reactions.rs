//! The reactions stage: once a conversation's messages have all landed (or failed for good)
//! and it has no uncertain import left to reconcile, each planned reaction is added to its
//! target message with an idempotent `PUT …/reactions/{emoji}/{userId}`, journaled like the
//! upserts (an unknown outcome is simply sent again by the next run).
//!
//! The target message is the one the journal's id map names (from the import's answer, a
//! resolution, the reconcile pass or a verify); for messages it does not know yet, the
//! target conversation is listed once and matched by the same key as an uncertain import
//! (sender, time, text and custom data, or the source id marker), and the ids found are
//! recorded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::settle::target_messages;
use talkjs_runtime::bulk;

use super::state::{Run, decode_body};
use crate::error::Error;
use crate::journal::{ItemKey, ItemKind, ReactionTarget, Row};
use crate::plan::ReactionBody;

/// A reaction ready to send: its item, its body and the target message's id.
type Ready = (Row, ReactionBody, String);

impl Run {
    /// Sends the planned reactions of every conversation that is ready for them (see
    /// [`Self::ready_reactions`]), as many at once as allowed.
    pub(super) async fn reactions(self: &Arc<Self>) -> Result<(), Error> {
        let conversations = self.db(|j| j.reaction_conversations())?;
        if conversations.is_empty() {
            return Ok(());
        }
        let ready: Vec<Vec<Ready>> = stream::iter(conversations)
            .map(|c| async move { self.ready_reactions(&c).await })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        let items = ready.into_iter().flatten().map(|(row, body, target)| {
            let item = bulk::Item::Reaction {
                conversation: row.subject,
                message: target,
                emoji: body.emoji,
                user: body.user,
            };
            (row.seq, item)
        });
        self.send_items(items).await
    }

    /// A conversation's planned reactions with their target message ids, once its messages
    /// and system messages are all done or failed for good and it is not waiting for the
    /// reconcile pass (a copy of a message may still be deleted there). A reaction whose
    /// message failed for good, or is not found in the target, fails for good; when the
    /// target cannot be listed now, the conversation's reactions wait for the next run.
    async fn ready_reactions(&self, conversation: &str) -> Result<Vec<Ready>, Error> {
        if self.stop.is_stopped()
            || !self.db(|j| j.conversation_settled(ItemKind::Message, conversation))?
            || !self.db(|j| j.conversation_settled(ItemKind::SystemMessage, conversation))?
            || self.db(|j| j.dirty_since(conversation))?.is_some()
        {
            return Ok(Vec::new());
        }
        let rows = self.db(|j| j.planned_reactions(conversation))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let messages = self.db(|j| j.reaction_targets(conversation))?;
        let by_source: HashMap<&str, &ReactionTarget> = messages
            .iter()
            .map(|m| (m.row.source_id.as_str(), m))
            .collect();
        let mut ready = Vec::with_capacity(rows.len());
        let mut unknown: Vec<(Row, ReactionBody)> = Vec::new();
        for row in rows {
            let body: ReactionBody = match decode_body(&row.body) {
                Ok(body) => body,
                Err(e) => {
                    self.fail_item(&row, &e.to_string(), true)?;
                    continue;
                }
            };
            match by_source.get(row.source_id.as_str()) {
                Some(m) if m.is_done() => match &m.target_id {
                    Some(id) => ready.push((row, body, id.clone())),
                    None => unknown.push((row, body)),
                },
                Some(m) if m.is_lost() => {
                    self.fail_item(&row, "its message did not migrate", true)?;
                }
                // Not settled after all (e.g. failed for now): the next run.
                Some(_) => {}
                None => self.fail_item(&row, "its message is not in the plan", true)?,
            }
        }
        if unknown.is_empty() {
            return Ok(ready);
        }
        let wanted: HashSet<&str> = unknown.iter().map(|(r, _)| r.source_id.as_str()).collect();
        let Some(found) = self.find_targets(conversation, &messages, &wanted).await? else {
            // The target cannot be listed now: these wait for the next run.
            return Ok(ready);
        };
        for (row, body) in unknown {
            match found.get(row.source_id.as_str()) {
                Some(id) => ready.push((row, body, id.clone())),
                None => self.fail_item(
                    &row,
                    "its message was not found in the target conversation (a listing matched no copy of it \
                     that the journal does not already give to another message)",
                    true,
                )?,
            }
        }
        Ok(ready)
    }

    /// Lists the target conversation once and finds the landed messages `wanted` (by source
    /// id) that the journal knows no target id of, by their match key: by key, the copies
    /// no other message of the journal is known by, less the ones the conversation held
    /// before the migration (its baseline: the oldest), are this migration's; the newest of
    /// them are given to the messages of that key, in order, as in resolving an uncertain
    /// import. The ids found are recorded in the journal (so a later reconcile pass keeps
    /// the copy the reactions are on). Returns source id → target id, or `None` when the
    /// target cannot be listed now.
    async fn find_targets(
        &self,
        conversation: &str,
        messages: &[ReactionTarget],
        wanted: &HashSet<&str>,
    ) -> Result<Option<HashMap<String, String>>, Error> {
        let key = if self.marker {
            ItemKey::Marker
        } else {
            ItemKey::Content
        };
        let needing: Vec<&ReactionTarget> = messages
            .iter()
            .filter(|m| {
                m.is_done() && m.target_id.is_none() && wanted.contains(m.row.source_id.as_str())
            })
            .collect();
        // Back to the oldest of them; a system message (sent at the time of the migration,
        // no time of its own in the journal) needs the whole conversation.
        let since = needing
            .iter()
            .map(|m| m.row.ts)
            .collect::<Option<Vec<i64>>>()
            .and_then(|ts| ts.into_iter().min());
        let listed = match target_messages(&self.client, conversation, since).await {
            Ok(listed) => listed,
            Err(e @ (talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_))) => {
                return Err(Error::Target(e));
            }
            Err(_) => return Ok(None),
        };
        let known: HashSet<&str> = messages
            .iter()
            .filter_map(|m| m.target_id.as_deref())
            .collect();
        let mut copies: HashMap<String, Vec<String>> = HashMap::new();
        for m in &listed {
            if known.contains(m.id.as_str()) {
                continue;
            }
            if let Some(k) = key.of_message(m) {
                copies.entry(k).or_default().push(m.id.as_str().to_owned());
            }
        }
        let baseline = self.db(|j| j.baseline(conversation))?.unwrap_or_default();
        // By key, in plan order.
        let mut groups: HashMap<String, Vec<&ReactionTarget>> = HashMap::new();
        for m in needing {
            groups.entry(key.of_row(&m.row)).or_default().push(m);
        }
        let mut found = HashMap::new();
        let mut ids: Vec<(i64, String)> = Vec::new();
        for (k, group) in groups {
            let list = copies.get(&k).map_or(&[][..], Vec::as_slice);
            let before = baseline
                .get(&k)
                .and_then(|n| usize::try_from(*n).ok())
                .unwrap_or(0);
            let take = list.len().saturating_sub(before).min(group.len());
            let newest = &list[list.len() - take..];
            for (m, id) in group.iter().zip(newest) {
                found.insert(m.row.source_id.clone(), id.clone());
                ids.push((m.row.seq, id.clone()));
            }
        }
        if !ids.is_empty() {
            self.db(|j| j.set_seq_target_ids(&ids))?;
        }
        Ok(Some(found))
    }
}
