//! The memory budget the downloads of a run share: each file reserves its share before its
//! body is read, and holds it until it is dropped (after its upload).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::OwnedSemaphorePermit;

/// The bytes of files a downloader holds.
#[derive(Debug, Default)]
pub(super) struct Held {
    pub(super) now: AtomicUsize,
    pub(super) peak: AtomicUsize,
}

/// A file's share of the memory budget: the reservation, and the bytes read so far.
#[derive(Debug)]
pub(crate) struct Hold {
    permit: OwnedSemaphorePermit,
    held: Arc<Held>,
    bytes: usize,
}

impl Hold {
    /// A reservation of the budget, with no bytes read yet.
    pub(super) fn new(permit: OwnedSemaphorePermit, held: Arc<Held>) -> Self {
        Self {
            permit,
            held,
            bytes: 0,
        }
    }

    /// Counts `bytes` more read.
    pub(super) fn add(&mut self, bytes: usize) {
        self.bytes += bytes;
        let now = self.held.now.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.held.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Gives back the part of the reservation that `bytes` do not need.
    pub(super) fn shrink_to(&mut self, bytes: usize) {
        let keep = kib(bytes);
        let reserved = self.permit.num_permits();
        if reserved > keep {
            drop(self.permit.split(reserved - keep));
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.held.now.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// KiB (the budget's unit) needed for `bytes`: rounded up, at least 1.
pub(super) fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}
