//! The error of a migration run.

use std::path::PathBuf;

/// Why a migration (or a verification) stopped. Items that fail one by one are not errors
/// of the run: they are in the report ([`Report::failed`](crate::Report::failed)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The journal file could not be opened, read or written.
    #[error("journal {}: {source}; check the path and the disk (the journal is a SQLite file)", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another process has the journal open (a migration is running on it).
    #[error("journal {} is in use by another migration process; wait for it to end (two runs on one journal would send the same work twice)", path.display())]
    JournalBusy {
        /// The journal file.
        path: PathBuf,
    },
    /// The journal holds the plan of another input.
    #[error("journal {} was written for another input ({expected}, this one is {found}); use a new journal for a new input (--journal NEW_PATH, or Migration::journal), or the input the journal was made from to resume", path.display())]
    WrongInput {
        /// The journal file.
        path: PathBuf,
        /// The fingerprint in the journal.
        expected: String,
        /// The fingerprint of this input.
        found: String,
    },
    /// The journal was made for another target app (or API root): what it has as done
    /// landed in that app, not in this one. Nothing was sent.
    #[error("journal {} was made for the target {expected}, and this run's target is {found}; a journal holds what landed in one app: use a new journal for this target with --journal NEW_PATH (or Migration::journal), or the journal's target to resume", path.display())]
    WrongTarget {
        /// The journal file.
        path: PathBuf,
        /// The target the journal records (`ROOT/v1/APP_ID`).
        expected: String,
        /// This run's target.
        found: String,
    },
    /// The journal's plan was made with another setting than this run asks for
    /// ([`Migration::mark_source_ids`](crate::Migration::mark_source_ids) or
    /// [`Migration::system_messages`](crate::Migration::system_messages)); nothing was sent.
    /// The matching of uncertain imports (and the plan itself) depends on it, so a resumed
    /// run must use the journal's setting.
    #[error("journal {} was planned with {setting} {}, and this run asks for it {}; resume with the journal's setting (matching in-flight requests depends on it), or start a new journal with --journal NEW_PATH (it sends everything again: only for a target app this journal has not migrated into)", path.display(), on_off(*planned), on_off(*requested))]
    SettingChanged {
        /// The journal file.
        path: PathBuf,
        /// The setting, as the CLI spells it: `--mark-source-ids`, `--system-messages`
        /// or `--map-reply-links`.
        setting: &'static str,
        /// Whether the journal's plan has it on.
        planned: bool,
        /// Whether this run asks for it.
        requested: bool,
    },
    /// The input file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Reading the source app failed.
    #[error("reading the source app failed: {0}")]
    Source(#[source] talkjs_api::Error),
    /// The target refused the credentials, or a listing needed to resolve an uncertain
    /// request failed; nothing more was sent. Rerun when it is fixed: the journal resumes.
    #[error("the target app: {0}")]
    Target(#[source] talkjs_api::Error),
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

impl Error {
    pub(crate) fn journal(path: &std::path::Path, e: rusqlite::Error) -> Self {
        if is_busy(&e) {
            return Self::JournalBusy {
                path: path.to_owned(),
            };
        }
        Self::Journal {
            path: path.to_owned(),
            source: Box::new(e),
        }
    }
}

/// Whether an error is SQLite's "database is locked/busy".
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
