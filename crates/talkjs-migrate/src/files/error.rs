//! Why a file could not be carried.

/// Why a file could not be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    /// What happened (URLs without their query: it may hold a credential).
    pub why: String,
    /// Whether a later run may succeed (a connection failure, a 5xx, a 429, a host refused
    /// until the user allows private hosts).
    pub transient: bool,
}

impl FileError {
    pub(super) fn permanent(why: impl Into<String>) -> Self {
        Self {
            why: why.into(),
            transient: false,
        }
    }

    pub(super) fn transient(why: impl Into<String>) -> Self {
        Self {
            why: why.into(),
            transient: true,
        }
    }
}
