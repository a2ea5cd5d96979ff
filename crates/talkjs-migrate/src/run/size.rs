//! How many messages go in one import request. TalkJS's Import reference page allows 10;
//! its own transfer example sends 100, which at the rate limit is ten times the messages a
//! second. The migration tries 100 and falls back to 10 for good when a request of more
//! than 10 is refused (a 400, which applies nothing) and the same messages then land 10 at a
//! time (so the size, not a message, was the problem). What it learnt is kept in the
//! journal, which is bound to one target app, so a resumed run does not ask again.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::Notify;

use talkjs_api::{MAX_IMPORT_MESSAGES_PER_REQUEST, MAX_MESSAGES_PER_REQUEST};

/// Nothing known yet: try 100.
const UNKNOWN: u8 = 0;
/// A request of more than 10 landed: 100.
const ACCEPTED: u8 = 1;
/// A request of more than 10 was refused: 10 until a request of 10 tells why.
const SUSPECT: u8 = 2;
/// Refused over 10, landed at 10: 10.
const LIMITED: u8 = 3;

/// The import request size, shared by the conversations a run imports side by side. While
/// nothing is known, one conversation at a time tries 100 (the probe) and the others wait
/// for its answer, so a target that takes 10 costs one refused request, not one per
/// conversation in flight.
#[derive(Debug, Default)]
pub(crate) struct ImportSize {
    state: AtomicU8,
    /// Whether a conversation is trying 100 while nothing is known.
    probing: Mutex<bool>,
    /// Wakes the conversations waiting for the probe.
    probed: Notify,
    /// While [`SUSPECT`]: the conversation whose request of more than 10 was refused, and
    /// the last of its messages. Its next requests (10 each) tell why: all of them landing
    /// means the size was refused; one refused means a message was.
    probe: Mutex<Option<(String, i64)>>,
}

impl ImportSize {
    /// From the journal's record (`None`: nothing learnt yet).
    pub(crate) fn from_record(record: Option<&str>) -> Self {
        let state = match record {
            Some("100") => ACCEPTED,
            Some("10") => LIMITED,
            _ => UNKNOWN,
        };
        Self {
            state: AtomicU8::new(state),
            probe: Mutex::new(None),
            probing: Mutex::new(false),
            probed: Notify::new(),
        }
    }

    /// Messages in the next import request, and the probe to hold until its outcome is
    /// known (dropping it lets a waiting conversation go). While nothing is known and
    /// another conversation probes, waits for its answer.
    pub(crate) async fn batch(&self) -> (usize, Option<Probe<'_>>) {
        loop {
            let answered = self.probed.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            match self.state.load(Ordering::Acquire) {
                ACCEPTED => return (MAX_IMPORT_MESSAGES_PER_REQUEST, None),
                SUSPECT | LIMITED => return (MAX_MESSAGES_PER_REQUEST, None),
                _ => {
                    let mut probing = self.probing.lock().unwrap_or_else(PoisonError::into_inner);
                    if !*probing {
                        *probing = true;
                        return (MAX_IMPORT_MESSAGES_PER_REQUEST, Some(Probe(self)));
                    }
                }
            }
            answered.await;
        }
    }

    /// Messages in the next import request as far as known now (no waiting): for
    /// estimates.
    pub(crate) fn current(&self) -> usize {
        match self.state.load(Ordering::Acquire) {
            UNKNOWN | ACCEPTED => MAX_IMPORT_MESSAGES_PER_REQUEST,
            _ => MAX_MESSAGES_PER_REQUEST,
        }
    }

    fn probe(&self) -> std::sync::MutexGuard<'_, Option<(String, i64)>> {
        self.probe.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn change(&self, from: u8, to: u8) -> bool {
        self.state
            .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// A request of `n` messages of `conversation`, the last of them `last` (its plan
    /// order), landed. Returns the record to keep in the journal when this settles the size.
    pub(crate) fn landed(&self, n: usize, conversation: &str, last: i64) -> Option<&'static str> {
        if n > MAX_MESSAGES_PER_REQUEST {
            return (self.change(UNKNOWN, ACCEPTED) || self.change(SUSPECT, ACCEPTED))
                .then_some("100");
        }
        let mut probe = self.probe();
        let proven = probe
            .as_ref()
            .is_some_and(|(c, end)| c == conversation && last >= *end);
        if proven && self.change(SUSPECT, LIMITED) {
            *probe = None;
            return Some("10");
        }
        None
    }

    /// A request of `n` messages of `conversation`, the last of them `last`, was refused
    /// with a 400 (nothing applied). Whether it was refused for its size, as far as known
    /// yet: its messages then go back to be sent 10 at a time, not one by one.
    pub(crate) fn refused(&self, n: usize, conversation: &str, last: i64) -> bool {
        let mut probe = self.probe();
        if n > MAX_MESSAGES_PER_REQUEST {
            if self.change(UNKNOWN, SUSPECT) {
                *probe = Some((conversation.to_owned(), last));
            }
            return true;
        }
        if probe.as_ref().is_some_and(|(c, _)| c == conversation) && self.change(SUSPECT, UNKNOWN) {
            // A message of the refused request was refused, not the size: try 100 again.
            *probe = None;
        }
        false
    }
}

/// The right to try 100 while nothing is known; dropped once the request's outcome is
/// recorded (or it was never sent), which wakes the conversations waiting for it.
#[derive(Debug)]
pub(crate) struct Probe<'a>(&'a ImportSize);

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        *self
            .0
            .probing
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = false;
        self.0.probed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_100_and_falls_back_to_10_only_when_the_refused_messages_land_10_at_a_time() {
        let size = ImportSize::default();
        assert_eq!(size.current(), 100);
        assert!(size.refused(37, "c0", 37));
        assert_eq!(size.current(), 10);
        // Another conversation's 10 landing proves nothing; the first 10 of c0's neither.
        assert_eq!(size.landed(10, "c1", 500), None);
        assert_eq!(size.landed(10, "c0", 10), None);
        assert_eq!(size.current(), 10);
        // The last of the refused messages landed: the size was refused.
        assert_eq!(size.landed(7, "c0", 37), Some("10"));
        assert_eq!(size.current(), 10);
        assert_eq!(size.landed(10, "c0", 47), None);

        // One of the refused messages is refused again: a message, not the size.
        let size = ImportSize::default();
        assert!(size.refused(100, "c0", 100));
        assert_eq!(size.landed(10, "c0", 10), None);
        assert!(!size.refused(10, "c0", 20));
        assert_eq!(size.current(), 100);
        assert_eq!(size.landed(100, "c0", 120), Some("100"));
        assert_eq!(size.landed(100, "c0", 220), None);

        assert_eq!(ImportSize::from_record(Some("10")).current(), 10);
        assert_eq!(ImportSize::from_record(Some("100")).current(), 100);
        assert_eq!(ImportSize::from_record(None).current(), 100);
    }

    /// Whether a future is still pending after one poll.
    fn pending<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
        let waker = std::task::Waker::noop();
        f.poll(&mut std::task::Context::from_waker(waker))
            .is_pending()
    }

    #[tokio::test]
    async fn one_conversation_probes_while_the_others_wait_for_its_answer() {
        let size = ImportSize::default();
        let (n, probe) = size.batch().await;
        assert_eq!(n, 100);
        assert!(probe.is_some());
        // A second conversation waits while the probe is out...
        let second = size.batch();
        tokio::pin!(second);
        assert!(pending(second.as_mut()));
        // ...and is told 10 once the probe is refused.
        assert!(size.refused(37, "c0", 37));
        drop(probe);
        let (n, probe) = second.await;
        assert_eq!((n, probe.is_some()), (10, false));

        // A probe dropped without an answer (a small conversation, a lost answer) hands the
        // probe over.
        let size = ImportSize::default();
        let (_, first) = size.batch().await;
        let second = size.batch();
        tokio::pin!(second);
        assert!(pending(second.as_mut()));
        drop(first);
        let (n, probe) = second.await;
        assert_eq!((n, probe.is_some()), (100, true));
    }
}
