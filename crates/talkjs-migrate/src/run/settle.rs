//! Settling unknown outcomes: an import whose answer was lost is resolved by listing the
//! target once the settle time has passed (a write may land after its answer was lost), and
//! every conversation that had one is reconciled at the end of the run: listed again, surplus
//! copies deleted, missing messages imported again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};
use talkjs_api::Client;
use talkjs_api::models::Message;

use super::state::{Run, is_fatal};
use crate::error::Error;
use crate::journal::{Held, ItemKey, ItemKind, Row, unix_ms};

/// Reconcile rounds per conversation and run (a round that imports again may meet another
/// lost answer); what is left waits for the next run.
const MAX_ROUNDS: usize = 3;

impl Run {
    /// Resolves every import left in flight (by an earlier run, or with an unknown outcome
    /// in this one), or only `conversation`'s: each once the settle time since it was sent
    /// has passed.
    pub(super) async fn resolve_in_flight(&self, conversation: Option<&str>) -> Result<(), Error> {
        let mut chunks = self.db(|j| j.in_flight_imports())?;
        if let Some(only) = conversation {
            chunks.retain(|c| c.conversation == only);
        }
        stream::iter(chunks)
            .map(Ok)
            .try_for_each_concurrent(self.concurrency, |c| async move {
                let sent = c.started_ms.unwrap_or(0);
                self.db(|j| j.mark_dirty(&c.conversation, sent))?;
                if !self.wait_settled(sent).await {
                    return Ok(());
                }
                let resolved = self
                    .resolve(
                        &c.conversation,
                        c.chunk,
                        &c.rows,
                        "the answer was lost, or the process ended before it",
                    )
                    .await;
                match resolved {
                    // The target cannot be listed now: the chunk stays in flight (its
                    // conversation waits) and the next run resolves it first.
                    Err(Error::Target(e)) if !is_fatal(&e) => Ok(()),
                    other => other,
                }
            })
            .await
    }

    /// Surveys the target's conversations before any conversation is upserted, so that
    /// the conversations it did not have need no listing of what they held before (their
    /// baseline is empty). Lists at most one page (30 conversations) per ten conversations
    /// of the plan, at least one: a fresh target costs one request; a target with over
    /// three times as many conversations as the plan is not read whole (that would cost more
    /// than it saves), and each of the plan's conversations is then listed before its first
    /// import instead. A journal that already sent to conversations (resumed from an
    /// earlier version) skips it.
    pub(super) async fn survey(&self) -> Result<(), Error> {
        if self.db(|j| j.surveyed())? {
            return Ok(());
        }
        if !self.db(|j| j.nothing_sent_to_conversations())? {
            return self.db(|j| j.record_survey(None));
        }
        let planned: HashSet<String> = self.db(|j| j.import_conversations())?.into_iter().collect();
        if planned.is_empty() {
            return self.db(|j| j.record_survey(None));
        }
        let budget = planned.len().div_ceil(10).max(1);
        let mut pages = self.client.conversations().list().limit(30).pages();
        let mut existing = HashSet::new();
        let mut complete = false;
        for _ in 0..budget {
            let Some(page) = pages.try_next().await.map_err(Error::Target)? else {
                complete = true;
                break;
            };
            let full = page.len() == 30;
            existing.extend(
                page.into_iter()
                    .map(|c| c.id.as_str().to_owned())
                    .filter(|id| planned.contains(id)),
            );
            if !full {
                complete = true;
                break;
            }
        }
        self.db(|j| j.record_survey(complete.then_some(&existing)))
    }

    /// Before the first import into a conversation the target may have held before:
    /// lists it and records its baseline (copies of the plan's keys), so that resolving
    /// and reconciling never count what it held as this migration's. `false` when the
    /// target cannot be listed now (the conversation waits for the next run).
    pub(super) async fn take_baseline(&self, conversation: &str) -> Result<bool, Error> {
        if self.db(|j| j.baseline(conversation))?.is_some()
            || self.db(|j| j.imported_into(conversation))?
        {
            return Ok(true);
        }
        let held = self.db(|j| j.held(conversation))?;
        let Some(oldest) = held.iter().filter_map(|h| h.row.ts).min() else {
            return Ok(true);
        };
        let listed = match target_messages(&self.client, conversation, Some(oldest)).await {
            Ok(listed) => listed,
            Err(e @ (talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_))) => {
                return Err(Error::Target(e));
            }
            Err(_) => return Ok(false),
        };
        let key = self.key();
        let before = copies_beyond(&held_keys(key, &held), &copies_by_key(key, &listed), |_| 0);
        self.db(|j| j.set_baseline(conversation, &before))?;
        Ok(true)
    }

    /// Waits until the settle time has passed since `since_ms` (Unix ms), or the run is
    /// stopped (then `false`).
    pub(super) async fn wait_settled(&self, since_ms: i64) -> bool {
        self.wait_until(since_ms, self.settle_time).await
    }

    /// Waits until `wait` has passed since `since_ms` (Unix ms), or the run is stopped
    /// (then `false`).
    async fn wait_until(&self, since_ms: i64, wait: Duration) -> bool {
        let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        let until = since_ms.saturating_add(wait);
        loop {
            if self.stop.is_stopped() {
                return false;
            }
            let left = until.saturating_sub(unix_ms());
            if left <= 0 {
                return true;
            }
            let step = u64::try_from(left.min(200)).unwrap_or(200);
            tokio::time::sleep(Duration::from_millis(step)).await;
        }
    }

    /// How messages are recognised in a listing.
    fn key(&self) -> ItemKey {
        if self.marker {
            ItemKey::Marker
        } else {
            ItemKey::Content
        }
    }

    /// Finds out which messages of an uncertain import landed: lists the target conversation
    /// and matches by sender, timestamp, text and custom data (the import keeps the given
    /// timestamp), or by the source id in `custom` with the marker. Copies the journal already
    /// has as landed, and copies the conversation held before the migration (its baseline), are
    /// discounted, so a message repeated word for word is not mistaken for its twin. Found ones
    /// are done (with their target ids); the rest go back to planned.
    ///
    /// A conversation's baseline is recorded before its first import; a journal from an
    /// earlier version that has none gets one here, at its first uncertain import: what the
    /// listing shows with the keys of the conversation's plan, less what the journal landed
    /// and what this import is found to have landed (which assumes the target held no copy of
    /// this import's messages).
    pub(super) async fn resolve(
        &self,
        conversation: &str,
        chunk: i64,
        rows: &[Row],
        why: &str,
    ) -> Result<(), Error> {
        let key = self.key();
        let held = self.db(|j| j.held(conversation))?;
        let baseline = self.db(|j| j.baseline(conversation))?;
        // Back to the chunk's oldest message; for a baseline, to the conversation's.
        let since = if baseline.is_some() {
            rows.iter().filter_map(|r| r.ts).min()
        } else {
            held.iter().filter_map(|h| h.row.ts).min()
        };
        let Some(since) = since else {
            return Ok(());
        };
        let listed = target_messages(&self.client, conversation, Some(since))
            .await
            .map_err(Error::Target)?;
        let copies = copies_by_key(key, &listed);
        let keys = held_keys(key, &held);
        let done = done_by_key(&held, &keys);
        let before = baseline.clone().unwrap_or_default();

        let mut landed: Vec<(i64, Option<String>)> = Vec::new();
        let mut landed_by_key: HashMap<String, usize> = HashMap::new();
        for (k, seqs) in group_by_key(key, rows) {
            let ids = copies.get(&k).map_or(&[][..], Vec::as_slice);
            let mine = count(&done, &k) + count(&before, &k);
            let take = ids.len().saturating_sub(mine).min(seqs.len());
            let newest = &ids[ids.len() - take..];
            for (seq, id) in seqs.iter().zip(newest) {
                landed.push((*seq, Some(id.clone())));
            }
            landed_by_key.insert(k, take);
        }
        if baseline.is_none() {
            let held_before = copies_beyond(&keys, &copies, |k| {
                count(&done, k) + count(&landed_by_key, k)
            });
            self.db(|j| j.set_baseline(conversation, &held_before))?;
        }

        let n_landed = landed.len() as u64;
        let n_resent = rows.len() as u64 - n_landed;
        let outcome = format!(
            "outcome unknown ({why}); a listing found {n_landed} of {} messages in the target",
            rows.len()
        );
        self.db(|j| j.chunk_resolved(chunk, &landed, &outcome))?;
        self.resolved_chunks.fetch_add(1, Ordering::Relaxed);
        self.resolved_landed.fetch_add(n_landed, Ordering::Relaxed);
        self.resolved_resent.fetch_add(n_resent, Ordering::Relaxed);
        self.done.fetch_add(n_landed, Ordering::Relaxed);
        self.messages_landed.fetch_add(n_landed, Ordering::Relaxed);
        Ok(())
    }

    /// The reconcile pass: every conversation that had an import with an unknown outcome
    /// (this run or an earlier one) and whose imports are all settled is listed again once
    /// twice the settle time has passed since its last unknown outcome, and made to hold each
    /// planned message exactly once (see [`Self::reconcile_conversation`]).
    pub(super) async fn reconcile(self: &Arc<Self>) -> Result<(), Error> {
        let dirty = self.db(|j| j.dirty())?;
        stream::iter(dirty)
            .map(Ok)
            .try_for_each_concurrent(self.concurrency, |(conversation, _)| async move {
                self.reconcile_conversation(&conversation).await
            })
            .await
    }

    /// Lists the conversation back to its oldest planned message and compares, key by key,
    /// the copies in the target (less its baseline) with the messages the journal has as
    /// landed: a surplus copy (a write that landed after its answer was lost and after the
    /// settle time, and was sent again) is deleted, preferring copies the journal does not
    /// know by id; a landed message the target does not hold is imported again. Repeats
    /// (at most [`MAX_ROUNDS`] times) until the conversation is clean; what is left waits
    /// for the next run.
    async fn reconcile_conversation(self: &Arc<Self>, conversation: &str) -> Result<(), Error> {
        for round in 0..MAX_ROUNDS {
            let Some(since) = self.db(|j| j.dirty_since(conversation))? else {
                return Ok(());
            };
            if !self.db(|j| j.conversation_settled(ItemKind::Message, conversation))? {
                // Imports still to send (a transient failure): the next run finishes them.
                return Ok(());
            }
            // Twice the settle time: a write that lands later than the settle time (so
            // that it was resolved as lost and sent again) is still caught. And the settle
            // time since the conversation's last import, even one that landed for sure: a
            // listing may not show it yet, and it would look missing.
            let last_import = self.db(|j| j.last_import_ms(conversation))?.unwrap_or(0);
            if !self
                .wait_until(since, self.settle_time.saturating_mul(2))
                .await
                || !self.wait_settled(last_import).await
            {
                return Ok(());
            }
            let listed_at = unix_ms();
            let held = self.db(|j| j.held(conversation))?;
            let Some(oldest) = held.iter().filter_map(|h| h.row.ts).min() else {
                self.db(|j| j.clear_dirty(conversation, listed_at))?;
                return Ok(());
            };
            let listed = match target_messages(&self.client, conversation, Some(oldest)).await {
                Ok(listed) => listed,
                Err(
                    e @ (talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_)),
                ) => {
                    return Err(Error::Target(e));
                }
                // It stays recorded: the next run lists it again.
                Err(_) => return Ok(()),
            };
            if round == 0 {
                self.reconciled_conversations
                    .fetch_add(1, Ordering::Relaxed);
            }
            let baseline = if let Some(b) = self.db(|j| j.baseline(conversation))? {
                b
            } else {
                // Never resolved (nothing was uncertain after all): take what is there
                // beyond the landed messages as held before, and change nothing.
                let key = self.key();
                let keys = held_keys(key, &held);
                let done = done_by_key(&held, &keys);
                let b = copies_beyond(&keys, &copies_by_key(key, &listed), |k| count(&done, k));
                self.db(|j| j.set_baseline(conversation, &b))?;
                b
            };
            let fix = self.compare(&listed, &held, &baseline);
            if fix.is_clean() {
                if round == 0 {
                    self.reconciled_clean.fetch_add(1, Ordering::Relaxed);
                }
                self.db(|j| j.set_seq_target_ids(&fix.found))?;
                self.db(|j| j.clear_dirty(conversation, listed_at))?;
                return Ok(());
            }
            if !self.delete_surplus(conversation, &fix.delete).await? {
                // Stays dirty: the next run lists it again.
                return Ok(());
            }
            self.db(|j| j.set_seq_target_ids(&fix.found))?;
            if !fix.missing.is_empty() {
                self.db(|j| {
                    j.replan(
                        &fix.missing,
                        "counted as landed, but a listing after the settle time did not find it",
                    )
                })?;
                self.reconciled_resent
                    .fetch_add(fix.missing.len() as u64, Ordering::Relaxed);
                self.pass(vec![conversation.to_owned()]).await?;
                self.resolve_in_flight(Some(conversation)).await?;
            }
            // Clean now, unless an import just sent again had an unknown outcome too (then
            // its newer mark stays and the next round lists again).
            self.db(|j| j.clear_dirty(conversation, listed_at))?;
        }
        Ok(())
    }

    /// Deletes surplus copies from a conversation; `false` when one cannot be deleted now.
    async fn delete_surplus(&self, conversation: &str, ids: &[String]) -> Result<bool, Error> {
        for id in ids {
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self
                .client
                .conversations()
                .messages(conversation.to_owned())
                .delete(id)
                .await
            {
                Ok(()) | Err(talkjs_api::Error::NotFound { .. }) => {
                    self.reconciled_deleted.fetch_add(1, Ordering::Relaxed);
                }
                Err(
                    e @ (talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_)),
                ) => {
                    return Err(Error::Target(e));
                }
                Err(_) => return Ok(false),
            }
        }
        Ok(true)
    }

    /// What a listing of a conversation says must change for it to hold each landed
    /// message exactly once: by key, copies beyond the landed messages and the baseline are
    /// surplus (delete the ones no landed message is known by first), landed messages
    /// beyond the copies are missing (send again the ones whose known id is not listed
    /// first). A copy whose key no landed message has (e.g. other custom data) is not this
    /// migration's: never touched.
    fn compare(&self, listed: &[Message], held: &[Held], baseline: &HashMap<String, u64>) -> Fix {
        let key = self.key();
        let copies = copies_by_key(key, listed);
        let known: HashSet<&str> = held.iter().filter_map(|h| h.target_id.as_deref()).collect();
        let mut landed: Vec<(String, Vec<&Held>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for h in held.iter().filter(|h| h.done) {
            let k = key.of_row(&h.row);
            let i = *index.entry(k.clone()).or_insert_with(|| {
                landed.push((k, Vec::new()));
                landed.len() - 1
            });
            landed[i].1.push(h);
        }
        let mut fix = Fix::default();
        for (k, items) in landed {
            let ids = copies.get(&k).map_or(&[][..], Vec::as_slice);
            let ours = ids.len().saturating_sub(count(baseline, &k));
            let expected = items.len();
            if ours > expected {
                let mut candidates: Vec<&String> = ids
                    .iter()
                    .rev()
                    .filter(|id| !known.contains(id.as_str()))
                    .collect();
                candidates.extend(ids.iter().rev().filter(|id| known.contains(id.as_str())));
                fix.delete
                    .extend(candidates.into_iter().take(ours - expected).cloned());
            } else if ours < expected {
                let listed_ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
                let is_listed = |h: &&Held| {
                    h.target_id
                        .as_deref()
                        .is_some_and(|id| listed_ids.contains(id))
                };
                let mut candidates: Vec<&Held> =
                    items.iter().copied().filter(|h| !is_listed(h)).collect();
                candidates.extend(items.iter().copied().filter(|h| is_listed(h)));
                fix.missing.extend(
                    candidates
                        .into_iter()
                        .take(expected - ours)
                        .map(|h| h.row.seq),
                );
            } else if let ([h], [id]) = (items.as_slice(), ids) {
                if h.target_id.is_none() && count(baseline, &k) == 0 {
                    fix.found.push((h.row.seq, id.clone()));
                }
            }
        }
        fix
    }
}

/// What the reconcile pass changes in a conversation.
#[derive(Debug, Default)]
struct Fix {
    /// Surplus copies to delete (target ids).
    delete: Vec<String>,
    /// Landed messages the target does not hold (seqs), to import again.
    missing: Vec<i64>,
    /// Target ids learnt for landed messages (seq, id).
    found: Vec<(i64, String)>,
}

impl Fix {
    fn is_clean(&self) -> bool {
        self.delete.is_empty() && self.missing.is_empty()
    }
}

/// A count in a map by key (0 when absent).
fn count<N: Copy + TryInto<usize>>(map: &HashMap<String, N>, key: &str) -> usize {
    map.get(key).and_then(|n| (*n).try_into().ok()).unwrap_or(0)
}

/// The listed messages' ids by key, oldest first.
fn copies_by_key(key: ItemKey, listed: &[Message]) -> HashMap<String, Vec<String>> {
    let mut copies: HashMap<String, Vec<String>> = HashMap::new();
    for m in listed {
        if let Some(k) = key.of_message(m) {
            copies.entry(k).or_default().push(m.id.as_str().to_owned());
        }
    }
    copies
}

/// The key of each planned message, in the order of `held` (computed once: without the
/// marker it decodes the message's body).
fn held_keys(key: ItemKey, held: &[Held]) -> Vec<String> {
    held.iter().map(|h| key.of_row(&h.row)).collect()
}

/// How many messages of the plan the journal has as landed, by key (`keys` from
/// [`held_keys`]).
fn done_by_key(held: &[Held], keys: &[String]) -> HashMap<String, usize> {
    let mut done: HashMap<String, usize> = HashMap::new();
    for (h, k) in held.iter().zip(keys) {
        if h.done {
            *done.entry(k.clone()).or_default() += 1;
        }
    }
    done
}

/// The rows' sequence numbers grouped by key, in the rows' order.
fn group_by_key(key: ItemKey, rows: &[Row]) -> Vec<(String, Vec<i64>)> {
    let mut groups: Vec<(String, Vec<i64>)> = Vec::new();
    for r in rows {
        let k = key.of_row(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, seqs)) => seqs.push(r.seq),
            None => groups.push((k, vec![r.seq])),
        }
    }
    groups
}

/// For each key of the plan, the listed copies beyond `discount(key)` (only those over 0).
fn copies_beyond(
    keys: &[String],
    copies: &HashMap<String, Vec<String>>,
    discount: impl Fn(&str) -> usize,
) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for k in keys {
        if out.contains_key(k) {
            continue;
        }
        let n = copies
            .get(k)
            .map_or(0, Vec::len)
            .saturating_sub(discount(k));
        if n > 0 {
            out.insert(k.clone(), n as u64);
        }
    }
    out
}

/// The messages of a target conversation, oldest first, back to `since` (milliseconds;
/// `None`: all of them). A conversation that does not exist (or no longer does) has none.
pub(crate) async fn target_messages(
    client: &Client,
    conversation: &str,
    since: Option<i64>,
) -> Result<Vec<Message>, talkjs_api::Error> {
    let mut listed = Vec::new();
    let mut messages = client
        .conversations()
        .messages(conversation.to_owned())
        .list()
        .limit(100)
        .into_stream();
    loop {
        match messages.try_next().await {
            Ok(Some(m)) => {
                let ts = i64::try_from(m.created_at.as_millis()).unwrap_or(i64::MAX);
                if since.is_some_and(|since| ts < since) {
                    break;
                }
                listed.push(m);
            }
            Ok(None) => break,
            // No conversation: nothing can have landed in it.
            Err(talkjs_api::Error::NotFound { .. }) => {
                listed.clear();
                break;
            }
            Err(e) => return Err(e),
        }
    }
    listed.reverse();
    Ok(listed)
}
