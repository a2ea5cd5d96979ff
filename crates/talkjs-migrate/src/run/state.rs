//! The state of one run, shared by its concurrent requests, and how an answer is read.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use talkjs_api::Client;

use super::report::{Progress, ProgressFn, Reconciled, Report, Resolved, StopHandle};
use crate::error::Error;
use crate::files::Downloader;
use crate::journal::{Fate, ItemKind, Journal, REACTION_LISTINGS, SKIPPED_SYSTEM_MESSAGES};

/// The state of one run, shared by its concurrent requests.
pub(super) struct Run {
    pub(super) client: Client,
    /// Downloads the source's attachments.
    pub(super) downloader: Downloader,
    /// Messages carry their source id (resolve by the marker).
    pub(super) marker: bool,
    /// One lock per source file URL: a file shared by messages of several conversations is
    /// uploaded once even when they are sent side by side.
    pub(super) file_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(super) uploads: AtomicU64,
    pub(super) journal: Mutex<Journal>,
    pub(super) path: PathBuf,
    pub(super) concurrency: usize,
    /// How long after a lost answer an import is taken to have landed or not.
    pub(super) settle_time: Duration,
    pub(super) stop: StopHandle,
    pub(super) progress: Option<ProgressFn>,
    pub(super) start: Instant,
    /// When planning was over: the pace of requests is measured from here.
    pub(super) sending_since: Instant,
    pub(super) total: u64,
    pub(super) done_before: u64,
    pub(super) messages_total: u64,
    pub(super) messages_before: u64,
    pub(super) messages_landed: AtomicU64,
    /// The estimate of the requests left when sending started.
    pub(super) requests_left: u64,
    pub(super) done: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) resolved_chunks: AtomicU64,
    pub(super) resolved_landed: AtomicU64,
    pub(super) resolved_resent: AtomicU64,
    pub(super) reconciled_conversations: AtomicU64,
    pub(super) reconciled_clean: AtomicU64,
    pub(super) reconciled_deleted: AtomicU64,
    pub(super) reconciled_resent: AtomicU64,
}

/// What an answer says about whether the request was applied (an unknown outcome is
/// resolved by listing, a refusal of the credentials ends the run: neither is recorded as
/// an answer).
pub(super) enum Answer {
    /// Applied.
    Landed,
    /// Not applied; what becomes of the items.
    Refused(Fate, String),
}

/// Whether an error ends the run: the credentials were refused (nothing else would land).
pub(super) fn is_fatal(e: &talkjs_api::Error) -> bool {
    matches!(
        e,
        talkjs_api::Error::Unauthorized { .. } | talkjs_api::Error::Config(_)
    )
}

/// What becomes of the items of a request that failed with `e` (not fatal), or `None` when
/// it may have been applied and sending it again is not harmless (an unknown outcome).
pub(super) fn refusal(e: &talkjs_api::Error, several: bool, idempotent: bool) -> Option<Fate> {
    use talkjs_api::Error as E;
    match e {
        E::BadRequest { .. } if several => Some(Fate::Split),
        // Refused before (or without) being applied.
        E::BadRequest { .. }
        | E::NotFound { .. }
        | E::InvalidArgument(_)
        | E::Status { .. }
        | E::Pagination(_) => Some(Fate::Permanent),
        E::RateLimited { .. } | E::LocalRateLimit { .. } => Some(Fate::Transient),
        _ if idempotent => Some(if e.is_transient() {
            Fate::Transient
        } else {
            Fate::Permanent
        }),
        _ => None,
    }
}

impl Run {
    /// The outcome, read back from the journal.
    pub(super) fn report(&self, planned: bool) -> Result<Report, Error> {
        let db = |e| Error::journal(&self.path, e);
        let journal = self.lock();
        let counts = |kind| journal.counts(kind).map_err(db);
        Ok(Report {
            users: counts(ItemKind::User)?,
            conversations: counts(ItemKind::Conversation)?,
            messages: counts(ItemKind::Message)?,
            system_messages: counts(ItemKind::SystemMessage)?,
            skipped_system_messages: journal.count(SKIPPED_SYSTEM_MESSAGES).map_err(db)?,
            files: journal.files_uploaded().map_err(db)?,
            uploads: self.uploads.load(Ordering::Relaxed),
            participants: counts(ItemKind::Participant)?,
            reactions: counts(ItemKind::Reaction)?,
            reply_links: counts(ItemKind::ReplyLink)?,
            reaction_listings: journal.count(REACTION_LISTINGS).map_err(db)?,
            requests: self.requests.load(Ordering::Relaxed),
            resolved: Resolved {
                chunks: self.resolved_chunks.load(Ordering::Relaxed),
                landed: self.resolved_landed.load(Ordering::Relaxed),
                resent: self.resolved_resent.load(Ordering::Relaxed),
            },
            reconciled: Reconciled {
                conversations: self.reconciled_conversations.load(Ordering::Relaxed),
                clean: self.reconciled_clean.load(Ordering::Relaxed),
                deleted: self.reconciled_deleted.load(Ordering::Relaxed),
                resent: self.reconciled_resent.load(Ordering::Relaxed),
                pending: journal.dirty().map_err(db)?.len() as u64,
            },
            failed: journal.failures().map_err(db)?,
            notes: journal.notes().map_err(db)?,
            planned,
            elapsed: self.start.elapsed(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Journal> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back), so the journal stays usable.
        self.journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn db<T>(
        &self,
        f: impl FnOnce(&mut Journal) -> rusqlite::Result<T>,
    ) -> Result<T, Error> {
        let mut journal = self.lock();
        f(&mut journal).map_err(|e| Error::journal(&self.path, e))
    }

    pub(super) fn report_progress(&self) {
        let Some(progress) = &self.progress else {
            return;
        };
        let done_now = self.done.load(Ordering::Relaxed);
        let failed_now = self.failed.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        let finished = self.done_before + done_now + failed_now;
        // Requests sent count as done (the ones in flight are about to be); at least one is
        // left while items are.
        let mut requests_left = self.requests_left.saturating_sub(requests);
        if requests_left == 0 && finished < self.total {
            requests_left = 1;
        }
        let answered = done_now + failed_now > 0;
        let eta = (answered && requests > 0).then(|| {
            let pace = self.sending_since.elapsed() / u32::try_from(requests).unwrap_or(u32::MAX);
            pace.saturating_mul(u32::try_from(requests_left).unwrap_or(u32::MAX))
        });
        progress(&Progress {
            landed: self.done_before + done_now,
            failed: failed_now,
            total: self.total,
            messages_landed: self.messages_before + self.messages_landed.load(Ordering::Relaxed),
            messages_total: self.messages_total,
            requests,
            requests_left,
            elapsed: self.start.elapsed(),
            eta,
        });
    }

    /// Records an answer for a chunk of `n` items.
    pub(super) fn settle(
        &self,
        kind: ItemKind,
        chunk: i64,
        n: usize,
        answer: Answer,
    ) -> Result<(), Error> {
        let n = n as u64;
        match answer {
            Answer::Landed => {
                self.db(|j| j.chunk_done(chunk))?;
                self.done.fetch_add(n, Ordering::Relaxed);
                if kind == ItemKind::Message {
                    self.messages_landed.fetch_add(n, Ordering::Relaxed);
                }
            }
            Answer::Refused(fate, why) => {
                self.db(|j| j.chunk_failed(chunk, &why, fate))?;
                if fate != Fate::Split {
                    self.failed.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        self.report_progress();
        Ok(())
    }

    /// The stages in dependency order; a stage starts only when every item of the ones
    /// before it landed or failed for good (a user that failed for now would make its
    /// conversations fail for good).
    pub(super) async fn stages(self: &Arc<Self>) -> Result<(), Error> {
        self.survey().await?;
        self.upserts(ItemKind::User).await?;
        if !self.db(|j| j.settled(ItemKind::User))? {
            return Ok(());
        }
        self.upserts(ItemKind::Conversation).await?;
        if !self.db(|j| j.settled(ItemKind::Conversation))? {
            return Ok(());
        }
        self.db(Journal::fail_orphans)?;
        self.messages().await?;
        // Each conversation's reactions and reply links once its messages are settled
        // (before access is restricted by the participant settings).
        self.after_messages().await?;
        if !self.db(|j| j.settled(ItemKind::Message))?
            || !self.db(|j| j.settled(ItemKind::SystemMessage))?
        {
            return Ok(());
        }
        self.upserts(ItemKind::Participant).await
    }

    /// Records that a chunk of messages landed with the ids its answer gave, in the order of
    /// `seqs`.
    pub(super) fn landed_with_ids(
        &self,
        kind: ItemKind,
        chunk: i64,
        seqs: &[i64],
        ids: Vec<talkjs_api::models::MessageId>,
    ) -> Result<(), Error> {
        let ids: Vec<(i64, String)> = seqs
            .iter()
            .zip(ids)
            .map(|(seq, id)| (*seq, id.as_str().to_owned()))
            .collect();
        self.db(|j| j.chunk_sent(chunk, &ids))?;
        let n = seqs.len() as u64;
        self.done.fetch_add(n, Ordering::Relaxed);
        if kind == ItemKind::Message {
            self.messages_landed.fetch_add(n, Ordering::Relaxed);
        }
        self.report_progress();
        Ok(())
    }
}

/// Decodes a body stored in the journal.
pub(super) fn decode_body<T: serde::de::DeserializeOwned>(
    body: &str,
) -> Result<T, talkjs_api::Error> {
    serde_json::from_str(body).map_err(|e| {
        talkjs_api::Error::InvalidArgument(format!("the journal's body does not decode: {e}"))
    })
}
