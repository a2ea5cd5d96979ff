//! What planning found in the source: [`Note`]s with their [`Severity`].

use std::fmt;

/// How serious a [`Note`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The line is not a record (bad JSON, unknown shape) or refers to something missing
    /// (an unknown sender, a conversation not in the input); it does not migrate.
    Error,
    /// A valid record that cannot migrate (e.g. a system message without
    /// [`Migration::system_messages`](crate::Migration::system_messages): the import takes
    /// user messages only).
    Skipped,
    /// It migrates, but something is left out (a location, reactions).
    Warning,
}

impl Severity {
    /// `error`, `skipped` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::Warning => "warning",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "error" => Self::Error,
            "skipped" => Self::Skipped,
            _ => Self::Warning,
        }
    }
}

/// Something planning found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Note {
    /// The line of the input file (1-based), when the source is a file.
    pub line: Option<u64>,
    /// How serious it is.
    pub severity: Severity,
    /// What it is.
    pub text: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "{}: {}", self.severity.as_str(), self.text)
    }
}
