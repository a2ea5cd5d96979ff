//! The stage after the messages: reactions and reply links. Once a conversation's messages
//! have all landed (or failed for good) and it has no uncertain import left to reconcile,
//! each planned reaction is added to its target message with an idempotent
//! `PUT …/reactions/{emoji}/{userId}`, and each planned reply link
//! ([`Migration::map_reply_links`](crate::Migration::map_reply_links)) edits the target reply
//! to add the target id of the message it replied to. Both are journaled like the upserts
//! (an unknown outcome is simply sent again by the next run).
//!
//! The target messages are the ones the journal's id map names (from the import's answer,
//! a resolution, the reconcile pass or a verify); for messages it does not know yet, the
//! target conversation is listed once and matched by the same key as an uncertain import
//! (sender, time, text and custom data, or the source id marker), and the ids found are
//! recorded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};
use talkjs_api::models::MessageEdit;

use super::settle::target_messages;
use talkjs_runtime::bulk;

use super::state::{Run, decode_body};
use crate::error::Error;
use crate::item::REPLY_TO_ID_KEY;
use crate::journal::{ItemKey, ItemKind, ReactionTarget, Row};
use crate::plan::{ReactionBody, ReplyLinkBody};

/// Where a planned message is in the target, as far as the journal and a listing tell.
enum Found {
    /// Landed, with this id.
    At(String),
    /// It will not be there: why (after "its message").
    Lost(&'static str),
    /// Not known yet (not settled, or the target cannot be listed now): the next run.
    Later,
}

impl Run {
    /// Sends the planned reactions and reply links of every conversation that is ready for
    /// them (see [`Self::ready_after_messages`]), as many at once as allowed.
    pub(super) async fn after_messages(self: &Arc<Self>) -> Result<(), Error> {
        let conversations = self.db(|j| j.reaction_conversations())?;
        if conversations.is_empty() {
            return Ok(());
        }
        let ready: Vec<Vec<(i64, bulk::Item)>> = stream::iter(conversations)
            .map(|c| async move { self.ready_after_messages(&c).await })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        self.send_items(ready.into_iter().flatten()).await
    }

    /// A conversation's planned reactions and reply links as engine items, once its
    /// messages and system messages are all done or failed for good and it is not waiting
    /// for the reconcile pass (a copy of a message may still be deleted there). One whose
    /// message (or, for a reply link, either message) failed for good, or is not found in
    /// the target, fails for good; when the target cannot be listed now, they wait for the
    /// next run.
    async fn ready_after_messages(
        &self,
        conversation: &str,
    ) -> Result<Vec<(i64, bulk::Item)>, Error> {
        if self.stop.is_stopped()
            || !self.db(|j| j.conversation_settled(ItemKind::Message, conversation))?
            || !self.db(|j| j.conversation_settled(ItemKind::SystemMessage, conversation))?
            || self.db(|j| j.dirty_since(conversation))?.is_some()
        {
            return Ok(Vec::new());
        }
        let reactions: Vec<(Row, ReactionBody)> = self.decoded(ItemKind::Reaction, conversation)?;
        let links: Vec<(Row, ReplyLinkBody)> = self.decoded(ItemKind::ReplyLink, conversation)?;
        if reactions.is_empty() && links.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: HashSet<&str> = (reactions.iter().map(|(r, _)| r.source_id.as_str()))
            .chain(links.iter().map(|(r, _)| r.source_id.as_str()))
            .chain(links.iter().map(|(_, b)| b.reply_to.as_str()))
            .collect();
        let found = self.locate(conversation, &wanted).await?;
        let at = |source: &str| found.get(source).unwrap_or(&Found::Later);
        let mut ready = Vec::with_capacity(reactions.len() + links.len());
        for (row, body) in reactions {
            match at(&row.source_id) {
                Found::At(id) => {
                    let item = bulk::Item::Reaction {
                        conversation: conversation.to_owned(),
                        message: id.clone(),
                        emoji: body.emoji,
                        user: body.user,
                    };
                    ready.push((row.seq, item));
                }
                Found::Lost(why) => self.fail_item(&row, &format!("its message {why}"), true)?,
                Found::Later => {}
            }
        }
        for (row, body) in links {
            match (at(&row.source_id), at(&body.reply_to)) {
                (Found::At(reply), Found::At(target)) => {
                    let mut custom = body.custom;
                    custom.insert(REPLY_TO_ID_KEY.to_owned(), target.clone());
                    let item = bulk::Item::EditMessage {
                        conversation: conversation.to_owned(),
                        message: reply.clone(),
                        edit: MessageEdit::new().custom(custom),
                    };
                    ready.push((row.seq, item));
                }
                (Found::Lost(why), _) => {
                    self.fail_item(&row, &format!("the reply {why}"), true)?;
                }
                (_, Found::Lost(why)) => {
                    let why = format!("the message it replies to {why}");
                    self.fail_item(&row, &why, true)?;
                }
                _ => {}
            }
        }
        Ok(ready)
    }

    /// A conversation's planned items of `kind` with their bodies; one whose body cannot
    /// be read fails for good.
    fn decoded<B: serde::de::DeserializeOwned>(
        &self,
        kind: ItemKind,
        conversation: &str,
    ) -> Result<Vec<(Row, B)>, Error> {
        let rows = self.db(|j| j.planned_after_messages(kind, conversation))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            match decode_body(&row.body) {
                Ok(body) => out.push((row, body)),
                Err(e) => self.fail_item(&row, &e.to_string(), true)?,
            }
        }
        Ok(out)
    }

    /// Where the conversation's planned messages `wanted` (by source id) are in the target:
    /// the journal's id map, and for landed ones it names no id of, one listing
    /// ([`Self::find_targets`]) once the settle time has passed since the conversation's
    /// last import (a stopped run leaves them for the next).
    async fn locate(
        &self,
        conversation: &str,
        wanted: &HashSet<&str>,
    ) -> Result<HashMap<String, Found>, Error> {
        let messages = self.db(|j| j.reaction_targets(conversation))?;
        let by_source: HashMap<&str, &ReactionTarget> = messages
            .iter()
            .map(|m| (m.row.source_id.as_str(), m))
            .collect();
        let mut found = HashMap::with_capacity(wanted.len());
        let mut unknown: HashSet<&str> = HashSet::new();
        for &source in wanted {
            let where_ = match by_source.get(source) {
                Some(m) if m.is_done() => {
                    let Some(id) = &m.target_id else {
                        unknown.insert(source);
                        continue;
                    };
                    Found::At(id.clone())
                }
                Some(m) if m.is_lost() => Found::Lost("did not migrate"),
                // Not settled after all (e.g. failed for now): the next run.
                Some(_) => Found::Later,
                None => Found::Lost("is not in the plan"),
            };
            found.insert(source.to_owned(), where_);
        }
        if unknown.is_empty() {
            return Ok(found);
        }
        // A listing may show a new message late: list once the settle time has passed since
        // the conversation's last import (else a landed message looks missing).
        let last_import = self.db(|j| j.last_import_ms(conversation))?.unwrap_or(0);
        let listed = if self.wait_settled(last_import).await {
            self.find_targets(conversation, &messages, &unknown).await?
        } else {
            None
        };
        for source in unknown {
            let where_ = match listed.as_ref().map(|l| l.get(source)) {
                Some(Some(id)) => Found::At(id.clone()),
                Some(None) => Found::Lost(
                    "was not found in the target conversation (a listing matched no copy of it \
                     that the journal does not already give to another message)",
                ),
                // The target cannot be listed now.
                None => Found::Later,
            };
            found.insert(source.to_owned(), where_);
        }
        Ok(found)
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
