//! What a run tells: its progress as it goes, its report at the end, and the handle that
//! stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::journal::{Counts, Failure};
use crate::plan::{Note, Severity};

/// Stops a running migration cleanly: no new request starts, the ones in flight finish and
/// are recorded. Clone it into a Ctrl-C handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Asks the migration to stop after the requests in flight.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How far a run is; given to the [progress callback](crate::Migration::on_progress) after every
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Items landed (this run and earlier ones).
    pub landed: u64,
    /// Items failed.
    pub failed: u64,
    /// Items in the plan.
    pub total: u64,
    /// Messages landed (this run and earlier ones).
    pub messages_landed: u64,
    /// Messages in the plan.
    pub messages_total: u64,
    /// Requests sent by this run.
    pub requests: u64,
    /// About how many requests are left: users 100 to a request, each conversation's
    /// messages 100 to a request (10 once the target refused more, and system messages),
    /// conversations, participant settings, reactions and reply links one each (more if answers are lost
    /// or refused).
    pub requests_left: u64,
    /// Time since this run started (planning included).
    pub elapsed: Duration,
    /// The time left: [`requests_left`](Self::requests_left) at this run's pace of
    /// requests since planning. `None` until a request was answered.
    pub eta: Option<Duration>,
}

/// In-flight requests of an earlier run (or of this one, after a timeout or a reset) whose
/// outcome was unknown, and how they were resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resolved {
    /// Uncertain import requests resolved by listing the target conversation.
    pub chunks: u64,
    /// Their messages found in the target (marked done, not sent again).
    pub landed: u64,
    /// Their messages not found (sent again).
    pub resent: u64,
}

/// The outcome of a run, read back from the journal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// Users by state.
    pub users: Counts,
    /// Conversations by state.
    pub conversations: Counts,
    /// Messages (imports) by state.
    pub messages: Counts,
    /// System messages by state (none unless
    /// [`Migration::system_messages`](crate::Migration::system_messages) is on).
    pub system_messages: Counts,
    /// System messages of the source that are skipped (without
    /// [`Migration::system_messages`](crate::Migration::system_messages); each is in
    /// [`notes`](Self::notes) with its line).
    pub skipped_system_messages: u64,
    /// Source files uploaded to the target as attachments, one per distinct URL (this run
    /// and earlier ones).
    pub files: u64,
    /// Uploads this run made (a file whose upload answer was lost by a killed run is
    /// uploaded again: an unused upload is invisible).
    pub uploads: u64,
    /// Participant settings (access or notify other than the defaults, or a `readUntil`)
    /// by state.
    pub participants: Counts,
    /// Reactions (one per message, emoji and user who reacted) by state.
    pub reactions: Counts,
    /// Reply links mapped to the target's ids, one edit per reply
    /// ([`Migration::map_reply_links`](crate::Migration::map_reply_links); all 0 without
    /// it), by state.
    pub reply_links: Counts,
    /// Requests planning made to list who reacted to the source app's messages (one per
    /// message and emoji, one more per further page of 100 users; 0 for a file). Not in
    /// [`requests`](Self::requests): counted when the plan was made (also on later runs).
    pub reaction_listings: u64,
    /// Requests this run sent, the reconcile pass's deletes included (listings, to survey
    /// the target, read what a conversation held before, resolve or reconcile, not
    /// included).
    pub requests: u64,
    /// Uncertain requests resolved by this run.
    pub resolved: Resolved,
    /// What the reconcile pass at the end of this run found and changed in the
    /// conversations that had an uncertain request.
    pub reconciled: Reconciled,
    /// Items that failed, with their reasons and input lines.
    pub failed: Vec<Failure>,
    /// What planning found in the input: errors and skipped records with their lines,
    /// and what migrates incompletely.
    pub notes: Vec<Note>,
    /// Whether this run made the plan (a first run), or resumed one.
    pub planned: bool,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Report {
    /// Whether nothing is left to do: every item landed or failed for good, and no
    /// conversation waits for its reconcile pass ([`Reconciled::pending`]). A report that is
    /// not complete (stopped, transient failures, a conversation to list again) is finished
    /// by running again.
    pub fn is_complete(&self) -> bool {
        [
            &self.users,
            &self.conversations,
            &self.messages,
            &self.system_messages,
            &self.participants,
            &self.reactions,
            &self.reply_links,
        ]
        .iter()
        .all(|c| c.planned == 0 && c.in_flight == 0)
            && self.failed.iter().all(|f| f.permanent)
            && self.reconciled.pending == 0
    }

    /// Notes of severity [`Severity::Error`] or [`Severity::Skipped`]: records of the input
    /// that did not migrate.
    pub fn rejected_lines(&self) -> impl Iterator<Item = &Note> {
        self.notes
            .iter()
            .filter(|n| matches!(n.severity, Severity::Error | Severity::Skipped))
    }
}

pub(super) type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How uncertain requests were settled by a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconciled {
    /// Conversations listed again at the end of the run because an import into them had an
    /// unknown outcome.
    pub conversations: u64,
    /// Of those, the ones that held exactly what the journal says.
    pub clean: u64,
    /// Surplus copies deleted (an import that landed after its answer was lost and after
    /// the settle time, so that it was sent again).
    pub deleted: u64,
    /// Messages imported again: counted as landed, but not in the target.
    pub resent: u64,
    /// Conversations still to be listed again: their reconcile pass could not finish in
    /// this run (a listing or a delete failed for now, an import of theirs is not sent yet,
    /// or the rounds ran out). They may hold a surplus copy until it does: the report is
    /// not [complete](Report::is_complete) while any is left; run again.
    pub pending: u64,
}
