//! What a command can fail with, its exit code and its one-line message.

use std::io;

/// Exit code of API and network errors.
pub const EXIT_API: u8 = 1;
/// Exit code of usage errors (the same as clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or an input is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The API call failed (exit 1; exit 2 for arguments the library refused before sending).
    #[error("{}", api_message(.0))]
    Api(#[from] talkjs::Error),
    /// Reading or writing a file failed (exit 1).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The reader of standard output went away (`talkjs export users | head`): not an error
    /// worth a message; the command stops quietly (exit 0).
    #[error("broken pipe")]
    BrokenPipe,
    /// Something else that is not the user's fault (exit 1).
    #[error("{0}")]
    Failed(String),
    /// An export or import stopped part way: the cause, plus how to go on.
    #[error("{source}; {progress}")]
    Partial {
        /// Why it stopped.
        source: Box<CliError>,
        /// What was done and how to resume.
        progress: String,
    },
    /// Stopped by Ctrl-C (exit 130), with how to resume.
    #[error("interrupted; {0}")]
    Interrupted(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::Api(talkjs::Error::InvalidArgument(_) | talkjs::Error::Config(_)) => EXIT_USAGE,
            Self::Api(_) | Self::Io { .. } | Self::Failed(_) => EXIT_API,
            Self::BrokenPipe => 0,
            Self::Partial { source, .. } => source.exit_code(),
            Self::Interrupted(_) => EXIT_INTERRUPTED,
        }
    }

    /// An error writing the output: a broken pipe becomes [`CliError::BrokenPipe`].
    pub fn write(error: io::Error, what: &str) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Self::BrokenPipe
        } else {
            Self::Io {
                context: format!("cannot write {what}"),
                source: error,
            }
        }
    }

    /// The message for standard error: one line, no control characters.
    pub fn one_line(&self) -> String {
        one_line(&self.to_string())
    }
}

/// The library's message, followed by the causes it does not already show (e.g. "connection
/// refused" under a transport error).
pub(crate) fn api_message(error: &talkjs::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Collapses whitespace runs (newlines included) to one space and drops other control
/// characters, so a message is one line and cannot drive the terminal.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            space = true;
        } else if !c.is_control() {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_newlines_and_escapes() {
        assert_eq!(one_line(" a\n  b\r\n\tc \u{1b}[31mred "), "a b c [31mred");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            CliError::Api(talkjs::Error::InvalidArgument("limit".into())).exit_code(),
            2
        );
        assert_eq!(
            CliError::Api(talkjs::Error::Unauthorized {
                body: String::new()
            })
            .exit_code(),
            1
        );
        assert_eq!(
            CliError::write(io::Error::from(io::ErrorKind::BrokenPipe), "x").exit_code(),
            0
        );
        let partial = CliError::Partial {
            source: Box::new(CliError::Api(talkjs::Error::NotFound {
                body: String::new(),
            })),
            progress: "3 written".into(),
        };
        assert_eq!(partial.exit_code(), 1);
        assert!(partial.to_string().ends_with("; 3 written"));
    }
}
