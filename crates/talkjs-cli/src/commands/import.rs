//! `talkjs import FILE`: JSON lines as `talkjs export` writes them (users, conversations,
//! messages), loaded through the library's bulk runner ([`talkjs::runtime::Bulk`]).
//!
//! The input is streamed: a reader thread reads and decodes one line at a time and hands the
//! bulk items over a bounded channel, so memory does not grow with the input (apart from
//! the list of lines to report and a compact map from items back to line numbers).
//!
//! Items that do not land are reported in two groups, as the bulk runner gives them: failed
//! (refused, never sent, or idempotent: safe to import again; `--failed-file` writes their
//! lines) and uncertain (a message import whose answer was lost: it may have landed, and is
//! never advised to be imported again without checking).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write as _};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::HumanDuration;
use serde_json::{Value, json};
use talkjs::models::ParticipantPatch;
use talkjs::runtime::translate::{self, MessageAction, ParticipantSetting, Translator, Write};
use talkjs::runtime::{ClientExt, bulk};
use tokio::sync::mpsc;

use super::{Ctx, interrupted, progress_bar};
use crate::cli::ImportArgs;
use crate::error::{CliError, api_message, one_line};

/// Items decoded ahead of the bulk runner (which reads ahead on its own as well).
const CHANNEL_ITEMS: usize = 1024;

/// Participant settings held back until the run of conversation lines they belong to ends
/// (the bulk runner does participants after conversations; handing them over between two
/// conversations would make it finish the conversations before them first). Past this many,
/// they are handed over early: correct, only slower.
const MAX_HELD_PARTICIPANTS: usize = 10_000;

pub async fn run(ctx: &mut Ctx, args: ImportArgs) -> Result<(), CliError> {
    let mut input = Input::open(&args.file)?;
    let limits = super::Limits::open(&args.rate, None).await?;
    let client = limits.apply(ctx.client_builder()?, ctx.app_id()?).build()?;
    let failed_file = match &args.failed_file {
        Some(path) => Some(FailedFile::create(path, &mut input)?),
        None => None,
    };
    // A first pass over a regular file counts the items, for the progress bar's ETA; a pipe
    // or standard input can be read only once.
    let total = match &input.path {
        Some(path) => Some(count_items(path, &input.name)?),
        None => None,
    };

    let bar = progress_bar(total.and_then(|n| u64::try_from(n).ok()), "items", false);
    let last: Arc<Mutex<Option<bulk::Progress>>> = Arc::new(Mutex::new(None));
    let mut bulk = client.bulk();
    if let Some(n) = args.in_flight {
        bulk = bulk.in_flight(usize::from(n));
    }
    if let Some(n) = total {
        bulk = bulk.total(n);
    }
    let bulk = {
        let bar = bar.clone();
        let last = Arc::clone(&last);
        bulk.on_progress(move |p| {
            let done = p.landed + p.failed + p.uncertain;
            bar.set_position(u64::try_from(done).unwrap_or(u64::MAX));
            bar.set_message(progress_message(p));
            if let Ok(mut last) = last.lock() {
                *last = Some(*p);
            }
        })
    };

    let (tx, mut rx) = mpsc::channel(CHANNEL_ITEMS);
    let reader = std::thread::Builder::new()
        .name("talkjs-import".into())
        .spawn(move || read_input(input, &tx))
        .map_err(|e| CliError::Failed(format!("cannot start the input reader: {e}")))?;
    let items = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));

    let stop = interrupted();
    tokio::pin!(stop);
    let report = tokio::select! {
        biased;
        () = &mut stop => {
            bar.abandon();
            if let Some(file) = failed_file {
                // No complete list of what failed: no file rather than a partial one.
                file.abandon();
            }
            let done = last.lock().ok().and_then(|p| *p);
            return Err(CliError::Interrupted(interrupted_text(done)));
        }
        report = bulk.run(items) => report,
    };
    bar.finish_and_clear();
    let read = reader
        .join()
        .map_err(|_| CliError::Failed("the input reader stopped unexpectedly".into()))?;

    let outcome = Outcome::new(&report, &read);
    let written = failed_file.map(|file| file.write(&outcome.failed_lines()));
    outcome.print_lines(read.notes);
    let printed = ctx.out.object(&outcome.summary());
    let (written, write_error) = match written {
        None => (Written::NotAsked, None),
        Some(Ok(path)) => (Written::To(path), None),
        Some(Err(e)) => {
            super::note(&format!("error: {}", e.one_line()));
            (Written::Failed, Some(e))
        }
    };
    // Failures decide the exit code even when the summary cannot be written (`| head`).
    outcome.result(&written)?;
    if let Some(e) = write_error {
        return Err(e);
    }
    printed
}

/// What became of `--failed-file`.
#[derive(Debug)]
enum Written {
    /// Not given.
    NotAsked,
    /// Written to this path.
    To(PathBuf),
    /// Could not be written (the error is printed).
    Failed,
}

/// The progress bar's message: counts, and the ETA when the total is known.
fn progress_message(p: &bulk::Progress) -> String {
    let mut text = format!("items, {} failed", p.failed);
    if p.uncertain > 0 {
        let _ = write!(text, ", {} may have landed", p.uncertain);
    }
    let _ = write!(text, ", {} requests", p.requests);
    if let Some(eta) = p.eta {
        let _ = write!(text, ", ETA {}", HumanDuration(eta));
    }
    text
}

/// How far an interrupted import got.
fn interrupted_text(done: Option<bulk::Progress>) -> String {
    let counts = done.map_or_else(
        || "no request had finished".to_owned(),
        |p| {
            let total = p.total.map_or_else(String::new, |n| format!(" of {n}"));
            format!(
                "{} items{total} landed, {} failed, {} may have landed",
                p.landed, p.failed, p.uncertain
            )
        },
    );
    format!(
        "{counts}; imported messages are not de-duplicated: importing the same file again \
         duplicates the messages that landed (`talkjs migrate` can be stopped and resumed \
         without duplicates)"
    )
}

/// The input: a file or standard input.
struct Input {
    reader: Box<dyn Read + Send>,
    /// The name for messages.
    name: String,
    /// The path of a regular file, which can be read twice.
    path: Option<std::path::PathBuf>,
    /// Why the copy of an input that can be read only once (for `--failed-file`) is
    /// incomplete, if it is.
    copy_error: Option<Arc<Mutex<Option<io::Error>>>>,
}

impl Input {
    fn open(file: &str) -> Result<Self, CliError> {
        if file == "-" {
            return Ok(Self {
                reader: Box::new(io::stdin()),
                name: "standard input".into(),
                path: None,
                copy_error: None,
            });
        }
        let opened = std::fs::File::open(file)
            .map_err(|e| CliError::Usage(format!("cannot open {file:?}: {e}")))?;
        let regular = opened.metadata().is_ok_and(|m| m.is_file());
        Ok(Self {
            reader: Box::new(opened),
            name: file.to_owned(),
            path: regular.then(|| file.into()),
            copy_error: None,
        })
    }

    /// Copies everything read from now on to `copy` (an input that can be read only once,
    /// kept to pick the failed lines from at the end).
    fn tee(&mut self, copy: std::fs::File) {
        let error = Arc::new(Mutex::new(None));
        self.copy_error = Some(Arc::clone(&error));
        let inner = std::mem::replace(&mut self.reader, Box::new(io::empty()));
        self.reader = Box::new(Tee { inner, copy, error });
    }
}

/// A reader that writes what it reads to a file; a write error is kept (and the copy
/// stops), the reading goes on.
struct Tee {
    inner: Box<dyn Read + Send>,
    copy: std::fs::File,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut error) = self.error.lock() {
            if error.is_none() {
                if let Err(e) = self.copy.write_all(&buf[..n]) {
                    *error = Some(e);
                }
            }
        }
        Ok(n)
    }
}

/// `--failed-file PATH`: created (empty) before anything is sent, so that a path that
/// cannot be written is a usage error; filled at the end with the failed items' lines,
/// read again from the input file, or from a copy of an input that can be read only once.
struct FailedFile {
    path: PathBuf,
    /// The copy of standard input or a pipe, next to PATH; removed when done.
    spool: Option<PathBuf>,
    /// The input file to read the lines from again, or the spool.
    source: PathBuf,
    copy_error: Option<Arc<Mutex<Option<io::Error>>>>,
}

impl FailedFile {
    fn create(path: &Path, input: &mut Input) -> Result<Self, CliError> {
        if let Some(input_path) = &input.path {
            let same = std::fs::canonicalize(path)
                .ok()
                .is_some_and(|p| std::fs::canonicalize(input_path).is_ok_and(|i| i == p));
            if same {
                return Err(CliError::Usage(format!(
                    "--failed-file {} is the input file; give another path",
                    path.display()
                )));
            }
        }
        std::fs::File::create(path).map_err(|e| {
            CliError::Usage(format!(
                "--failed-file: cannot create {}: {e}",
                path.display()
            ))
        })?;
        let (source, spool) = if let Some(input_path) = &input.path {
            (input_path.clone(), None)
        } else {
            let spool = spool_path(path);
            let copy = create_private(&spool).map_err(|e| {
                CliError::Usage(format!(
                    "--failed-file: cannot create {} (a copy of {} to pick the failed lines \
                     from): {e}",
                    spool.display(),
                    input.name
                ))
            })?;
            input.tee(copy);
            (spool.clone(), Some(spool))
        };
        Ok(Self {
            path: path.to_owned(),
            spool,
            source,
            copy_error: input.copy_error.clone(),
        })
    }

    /// Writes the input lines numbered `lines`, in order; returns the path written.
    fn write(self, lines: &BTreeSet<usize>) -> Result<PathBuf, CliError> {
        let context = || format!("cannot write the failed lines to {}", self.path.display());
        let copy_error = self.copy_error.as_ref().and_then(|e| e.lock().ok()?.take());
        if let Some(error) = copy_error.filter(|_| !lines.is_empty()) {
            return Err(CliError::Io {
                context: format!("{} (the copy of the input failed)", context()),
                source: error,
            });
        }
        let io_error = |source| CliError::Io {
            context: context(),
            source,
        };
        let source = std::fs::File::open(&self.source).map_err(io_error)?;
        let mut out = io::BufWriter::new(std::fs::File::create(&self.path).map_err(io_error)?);
        let mut left = lines.len();
        let mut failed = None;
        let ended = for_each_line(source, |number, text| {
            if left == 0 {
                return ControlFlow::Break(());
            }
            if !lines.contains(&number) {
                return ControlFlow::Continue(());
            }
            left -= 1;
            // A failed item's line was read as text (it became an item).
            let text = text.unwrap_or_default();
            let written = out.write_all(text.as_bytes()).and_then(|()| {
                if text.ends_with('\n') {
                    Ok(())
                } else {
                    out.write_all(b"\n")
                }
            });
            match written {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        });
        if let Some(e) = failed.or(ended.err().map(|(_, e)| e)) {
            return Err(io_error(e));
        }
        out.flush().map_err(io_error)?;
        if left > 0 {
            return Err(CliError::Failed(format!(
                "{}: {left} of the lines were not found again in {}",
                context(),
                self.source.display()
            )));
        }
        Ok(self.path.clone())
    }

    /// After Ctrl-C: removes the (empty) file, as there is no complete list to put in it.
    fn abandon(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for FailedFile {
    fn drop(&mut self) {
        if let Some(spool) = &self.spool {
            let _ = std::fs::remove_file(spool);
        }
    }
}

/// Where a copy of standard input is kept: next to the failed file (the user chose that
/// place for these lines), hidden, with the process id.
fn spool_path(failed_file: &Path) -> PathBuf {
    let name = failed_file
        .file_name()
        .map_or_else(|| "failed".into(), |n| n.to_string_lossy().into_owned());
    failed_file.with_file_name(format!(".{name}.{}.input", std::process::id()))
}

/// Creates a new file only its owner can read (it holds a copy of the input).
fn create_private(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Calls `f` with the number and the text of every line that is not blank; stops early when
/// `f` breaks. A line that is not UTF-8 is passed as an error; a read error ends the input
/// with an error naming the line.
fn for_each_line(
    reader: impl Read,
    mut f: impl FnMut(usize, Result<&str, String>) -> ControlFlow<()>,
) -> Result<(), (usize, io::Error)> {
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        number += 1;
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                number -= 1;
                continue;
            }
            Err(e) => return Err((number, e)),
        }
        let text = std::str::from_utf8(&buf).map_err(|e| format!("not UTF-8 text: {e}"));
        if text.as_ref().is_ok_and(|t| t.trim().is_empty()) {
            continue;
        }
        if f(number, text).is_break() {
            return Ok(());
        }
    }
}

/// The first pass over a file: how many bulk items it makes.
fn count_items(path: &std::path::Path, name: &str) -> Result<usize, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::Usage(format!("cannot open {name:?}: {e}")))?;
    let mut items = 0;
    // A read error is reported by the second pass, which reads as far as it can.
    let _ = for_each_line(file, |line, text| {
        if let Ok(Ok(record)) = text.map(|text| parse_line(line, text)) {
            items += record.items();
        }
        ControlFlow::Continue(())
    });
    Ok(items)
}

/// What one line of the input becomes: the translator's writes
/// ([`talkjs::runtime::translate`]) as bulk items.
#[derive(Debug)]
enum Record {
    User(bulk::Item),
    Conversation {
        id: String,
        item: bulk::Item,
        /// Participants whose settings the participant PUT sets.
        participants: Vec<bulk::Item>,
        /// Participants whose settings only a PATCH sets (access `None`), with the PATCH.
        patches: Vec<(String, ParticipantPatch)>,
    },
    Message {
        item: bulk::Item,
        /// What the import leaves out (an attachment, a location).
        warning: Option<String>,
    },
    /// A message the import cannot take, and why.
    Skipped(String),
}

impl Record {
    /// The bulk items this record hands to the runner.
    fn items(&self) -> usize {
        match self {
            Self::User(_) | Self::Message { .. } => 1,
            Self::Conversation { participants, .. } => 1 + participants.len(),
            Self::Skipped(_) => 0,
        }
    }
}

/// Decodes and translates one line (the translator of a plain import: no `readUntil`,
/// no files, no system messages).
fn parse_line(line: usize, text: &str) -> Result<Record, String> {
    let line = u64::try_from(line).unwrap_or(u64::MAX);
    let record = translate::read_line(line, text).map_err(|e| e.reason)?;
    Ok(match Translator::new().translate(record) {
        Write::User(user) => Record::User(bulk::Item::User {
            id: user.id,
            user: user.upsert,
        }),
        Write::Conversation(conversation) => conversation_record(conversation),
        Write::Message(message) => message_record(message),
        // A kind of write this version does not know: nothing to send.
        _ => Record::Skipped("a record this version cannot import".to_owned()),
    })
}

/// A conversation: its upsert, the participant PUTs for the bulk runner, and the PATCHes
/// sent after the run.
fn conversation_record(conversation: translate::ConversationWrite) -> Record {
    let id = conversation.id;
    let mut participants = Vec::new();
    let mut patches = Vec::new();
    for participant in conversation.participants {
        match participant.setting {
            ParticipantSetting::Overwrite(settings) => {
                participants.push(bulk::Item::Participant {
                    conversation: id.clone(),
                    user: participant.user,
                    settings,
                });
            }
            ParticipantSetting::Patch(patch) => patches.push((participant.user, patch)),
        }
    }
    Record::Conversation {
        item: bulk::Item::Conversation {
            id: id.clone(),
            conversation: conversation.upsert,
        },
        id,
        participants,
        patches,
    }
}

/// A message: an import, or the reason it cannot be imported.
fn message_record(message: translate::MessageWrite) -> Record {
    let (id, conversation) = (message.id, message.conversation);
    match message.action {
        MessageAction::Import {
            message, left_out, ..
        } => Record::Message {
            warning: (!left_out.is_empty())
                .then(|| format!("message {id} in {conversation}: imported {left_out}")),
            item: bulk::Item::Import {
                conversation,
                message,
            },
        },
        MessageAction::Skip(skip) => {
            Record::Skipped(format!("message {id} in {conversation}: {skip}"))
        }
        // Only with the options a plain import does not set.
        _ => Record::Skipped(format!(
            "message {id} in {conversation}: not a message the import takes"
        )),
    }
}

/// A line to report that never became a bulk item.
#[derive(Debug)]
struct Note {
    line: usize,
    kind: NoteKind,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoteKind {
    /// Not a record: an error.
    Invalid,
    /// A message the import cannot take.
    Skipped,
    /// Imported, with something left out.
    Warning,
}

/// Which line each bulk item came from, kept compact: only the items where the line is not
/// the one after the previous item's are stored (items after skipped lines, the participant
/// items of a conversation).
#[derive(Debug, Default)]
struct LineMap {
    /// `(index of an item, its line)`, by index.
    starts: Vec<(usize, usize)>,
    next_index: usize,
    last_line: usize,
}

impl LineMap {
    /// Records that the next item comes from `line`.
    fn push(&mut self, line: usize) {
        if self.starts.is_empty() || line != self.last_line + 1 {
            self.starts.push((self.next_index, line));
        }
        self.next_index += 1;
        self.last_line = line;
    }

    /// The line of item `index`.
    fn line(&self, index: usize) -> Option<usize> {
        let after = self.starts.partition_point(|(start, _)| *start <= index);
        let (start, line) = self.starts.get(after.checked_sub(1)?)?;
        Some(line + (index - start))
    }
}

/// What the reader thread found besides the items.
#[derive(Debug, Default)]
struct Scanned {
    lines: LineMap,
    notes: Vec<Note>,
}

/// Reads the input line by line, hands the items to the runner, and keeps what is to be
/// reported. Runs on its own thread (reading may block).
fn read_input(input: Input, tx: &mpsc::Sender<bulk::Item>) -> Scanned {
    let mut read = Scanned::default();
    // Participant items of the current run of conversation lines, with their lines.
    let mut held: Vec<(usize, bulk::Item)> = Vec::new();
    // Participants whose access is `None` (only a PATCH sets it), with their lines: last,
    // after every message (they were added with the default access so that their messages
    // could be imported; a later stage in the input is a new round of the engine's stages).
    let mut revokes: Vec<(usize, bulk::Item)> = Vec::new();
    let hand_over = |read: &mut Scanned, line: usize, item: bulk::Item| {
        read.lines.push(line);
        // The receiver is gone only when the run was interrupted.
        tx.blocking_send(item).is_ok()
    };
    let hand_over_held = |read: &mut Scanned, held: &mut Vec<(usize, bulk::Item)>| {
        held.drain(..)
            .all(|(line, item)| hand_over(read, line, item))
    };
    let name = input.name;
    let ended = for_each_line(input.reader, |line, text| {
        let record = match text.and_then(|text| parse_line(line, text)) {
            Ok(record) => record,
            Err(text) => {
                read.notes.push(Note {
                    line,
                    kind: NoteKind::Invalid,
                    text,
                });
                return ControlFlow::Continue(());
            }
        };
        let went_on = match record {
            Record::Skipped(text) => {
                read.notes.push(Note {
                    line,
                    kind: NoteKind::Skipped,
                    text,
                });
                true
            }
            Record::Conversation {
                id,
                item,
                participants,
                patches,
            } => {
                revokes.extend(patches.into_iter().map(|(user, patch)| {
                    let item = bulk::Item::ParticipantPatch {
                        conversation: id.clone(),
                        user,
                        patch,
                    };
                    (line, item)
                }));
                held.extend(participants.into_iter().map(|item| (line, item)));
                let went_on = hand_over(&mut read, line, item);
                if held.len() >= MAX_HELD_PARTICIPANTS {
                    went_on && hand_over_held(&mut read, &mut held)
                } else {
                    went_on
                }
            }
            Record::User(item) => {
                hand_over_held(&mut read, &mut held) && hand_over(&mut read, line, item)
            }
            Record::Message { item, warning } => {
                if let Some(text) = warning {
                    read.notes.push(Note {
                        line,
                        kind: NoteKind::Warning,
                        text,
                    });
                }
                hand_over_held(&mut read, &mut held) && hand_over(&mut read, line, item)
            }
        };
        if went_on {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    if let Err((line, e)) = ended {
        read.notes.push(Note {
            line,
            kind: NoteKind::Invalid,
            text: format!("cannot read {name}: {e}; the rest of it was not read"),
        });
    }
    // (The receiver is gone only when the run was interrupted: then nothing more goes.)
    if hand_over_held(&mut read, &mut held) {
        hand_over_held(&mut read, &mut revokes);
    }
    read
}

/// The result of the whole import.
#[derive(Debug)]
struct Outcome {
    succeeded: usize,
    /// `(line, text)` of every item that failed: refused, never sent, or safe to send again.
    failures: Vec<(Option<usize>, String)>,
    /// `(line, text)` of every item whose outcome is unknown (it may have landed).
    uncertain: Vec<(Option<usize>, String)>,
    requests: usize,
    elapsed: Duration,
    skipped: usize,
    invalid: usize,
    warnings: usize,
    /// Whether a failed item was a message (the hint about duplicates).
    failed_messages: bool,
}

impl Outcome {
    fn new(report: &bulk::Report, read: &Scanned) -> Self {
        let count = |kind| read.notes.iter().filter(|n| n.kind == kind).count();
        let failed_messages = report
            .failed
            .iter()
            .any(|f| matches!(f.kind, bulk::Kind::Import));
        let failures = report
            .failed
            .iter()
            .map(|f| {
                (
                    read.lines.line(f.index),
                    format!("{}: failed: {}", what(f), api_message(&f.error)),
                )
            })
            .collect();
        let uncertain = report
            .uncertain
            .iter()
            .map(|f| {
                (
                    read.lines.line(f.index),
                    format!(
                        "{}: may have landed (outcome unknown: {})",
                        what(f),
                        unknown_cause(&f.error)
                    ),
                )
            })
            .collect();
        Self {
            succeeded: report.landed,
            failures,
            uncertain,
            requests: report.requests,
            elapsed: report.elapsed,
            skipped: count(NoteKind::Skipped),
            invalid: count(NoteKind::Invalid),
            warnings: count(NoteKind::Warning),
            failed_messages,
        }
    }

    /// The input lines of the failed items (not of the uncertain ones), for `--failed-file`.
    fn failed_lines(&self) -> BTreeSet<usize> {
        self.failures.iter().filter_map(|(line, _)| *line).collect()
    }

    /// Prints every failure, uncertain item, skipped line, unreadable line and warning on
    /// standard error, by line number.
    fn print_lines(&self, notes: Vec<Note>) {
        let mut lines: Vec<(Option<usize>, String)> = notes
            .into_iter()
            .map(|note| {
                let text = match note.kind {
                    NoteKind::Invalid => note.text,
                    NoteKind::Skipped => format!("skipped {}", note.text),
                    NoteKind::Warning => format!("warning: {}", note.text),
                };
                (Some(note.line), text)
            })
            .chain(self.failures.iter().cloned())
            .chain(self.uncertain.iter().cloned())
            .collect();
        lines.sort_by_key(|(line, _)| *line);
        for (line, text) in lines {
            let at = line.map_or_else(|| "line ?".to_owned(), |n| format!("line {n}"));
            super::note(&format!("{at}: {}", one_line(&text)));
        }
    }

    /// The summary on standard output.
    fn summary(&self) -> Value {
        json!({
            "succeeded": self.succeeded,
            "failed": self.failures.len(),
            "uncertain": self.uncertain.len(),
            "skipped": self.skipped,
            "invalidLines": self.invalid,
            "warnings": self.warnings,
            "requests": self.requests,
            "seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        })
    }

    /// Exit 1 if an item failed or may have landed, 2 if only lines could not be read.
    /// `failed_file`: whether and where the failed lines were written.
    fn result(&self, failed_file: &Written) -> Result<(), CliError> {
        let (failed, uncertain) = (self.failures.len(), self.uncertain.len());
        if failed == 0 && uncertain == 0 {
            return if self.invalid > 0 {
                Err(CliError::Usage(format!(
                    "{} lines could not be read (listed above); the others were imported",
                    self.invalid
                )))
            } else {
                Ok(())
            };
        }
        let total = self.succeeded + failed + uncertain;
        let mut text = match (failed, uncertain) {
            (_, 0) => format!("{failed} of {total} items failed (listed above)"),
            (0, _) => format!("{uncertain} of {total} items may have landed (listed above)"),
            _ => format!(
                "{failed} of {total} items failed and {uncertain} may have landed (listed above)"
            ),
        };
        if failed > 0 {
            let written = match failed_file {
                Written::NotAsked => " (--failed-file PATH writes them)".to_owned(),
                Written::To(path) => format!(", written to {}", path.display()),
                Written::Failed => " (listed above; --failed-file could not be written)".into(),
            };
            let _ = write!(
                text,
                "; the failed ones did not land or are safe to send again: fix them and import \
                 only their lines again{written}"
            );
            if self.failed_messages {
                text.push_str(", not the whole input: imported messages are not de-duplicated");
            }
        }
        if uncertain > 0 {
            text.push_str(
                "; the ones that may have landed are imports whose answer was lost: TalkJS may \
                 have stored them, so do not import their lines again without checking (that \
                 may duplicate them): look for them in their conversations (talkjs export \
                 messages CONVERSATION) and import only the missing ones; `talkjs migrate` \
                 journals every import and settles lost answers by itself",
            );
        }
        Err(CliError::Failed(text))
    }
}

/// What a failed or uncertain item is, for its line.
fn what(f: &bulk::Failure) -> String {
    match f.kind {
        bulk::Kind::User => format!("user {}", f.subject),
        bulk::Kind::Conversation => format!("conversation {}", f.subject),
        bulk::Kind::Participant => format!("participant {}", f.subject),
        bulk::Kind::ParticipantPatch => format!("participant {} (access None)", f.subject),
        bulk::Kind::RemoveParticipant => format!("participant {} (removal)", f.subject),
        bulk::Kind::Reaction => format!("reaction {}", f.subject),
        _ => format!("message in {}", f.subject),
    }
}

/// Why an item's outcome is unknown, without the library's advice (which may be to try
/// again: not for a write that may have landed).
fn unknown_cause(error: &talkjs::Error) -> String {
    match error {
        // The library's own unknown-outcome wrapper: the cause inside it.
        talkjs::Error::UnknownOutcome { cause, .. } => unknown_cause(cause),
        talkjs::Error::Server { status, .. } | talkjs::Error::Status { status, .. } => {
            format!("TalkJS answered {status}")
        }
        talkjs::Error::Timeout { after, .. } => format!("no answer within {after:?}"),
        talkjs::Error::Decode { .. } => "TalkJS answered success in an unreadable body".into(),
        talkjs::Error::Transport(_) => {
            // The innermost cause says what happened to the connection.
            let mut cause: &(dyn std::error::Error + 'static) = error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            format!("the connection failed: {cause}")
        }
        other => api_message(other),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    fn parse(value: &Value) -> Result<Record, String> {
        parse_line(1, &value.to_string())
    }

    #[test]
    fn line_map_finds_lines_through_gaps_and_extra_items() {
        let mut map = LineMap::default();
        // Items from lines 1, 2, 4 (3 skipped), 5, 5, 5 (a conversation and two
        // participants), 6, 9.
        for line in [1, 2, 4, 5, 5, 5, 6, 9] {
            map.push(line);
        }
        let lines: Vec<_> = (0..8).map(|i| map.line(i)).collect();
        assert_eq!(
            lines,
            [1, 2, 4, 5, 5, 5, 6, 9].map(Some),
            "{:?}",
            map.starts
        );
        assert_eq!(map.starts.len(), 5, "only where the line jumps");
        let mut plain = LineMap::default();
        for line in 1..=1000 {
            plain.push(line);
        }
        assert_eq!(plain.starts.len(), 1);
        assert_eq!(plain.line(999), Some(1000));
    }

    #[test]
    fn lines_become_bulk_items_and_patches() {
        let conversation = json!({"id": "c", "participants": {
            "a": {"access": "ReadWrite", "notify": true},
            "b": {"access": "Read", "notify": "MentionsOnly"},
            "c": {"access": "None", "notify": false}}, "createdAt": 1});
        let Record::Conversation {
            item: bulk::Item::Conversation { id, .. },
            participants,
            patches,
            ..
        } = parse(&conversation).unwrap()
        else {
            panic!("not a conversation");
        };
        assert_eq!(id, "c");
        assert!(
            matches!(&participants[..], [bulk::Item::Participant { user, .. }] if user == "b"),
            "{participants:?}"
        );
        let [(user, patch)] = &patches[..] else {
            panic!("{patches:?}");
        };
        assert_eq!(user, "c");
        assert_eq!(patch.access, Some(talkjs::models::Access::None));

        let mut message = json!({"id": "msg_1", "type": "UserMessage", "conversationId": "chat",
            "senderId": "alice", "text": "hi", "location": [1.0, 2.0], "createdAt": 1});
        let Ok(Record::Message {
            item: bulk::Item::Import { conversation, .. },
            warning: Some(warning),
        }) = parse(&message)
        else {
            panic!("not an import with a warning");
        };
        assert_eq!(conversation, "chat");
        assert_eq!(
            warning,
            "message msg_1 in chat: imported without its location"
        );
        message["type"] = json!("SystemMessage");
        let Ok(Record::Skipped(reason)) = parse(&message) else {
            panic!("not skipped");
        };
        assert!(
            reason.starts_with("message msg_1 in chat: a system message"),
            "{reason}"
        );
        assert!(parse_line(2, "[1]").unwrap_err().contains("neither a user"));
    }

    #[test]
    fn lines_are_numbered_and_blank_ones_passed_over() {
        let input = b"a\n\n  \nb\n\xff\nc" as &[u8];
        let mut seen = Vec::new();
        for_each_line(input, |n, text| {
            seen.push((n, text.map(str::trim).map(str::to_owned)));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], (1, Ok("a".into())));
        assert_eq!(seen[1], (4, Ok("b".into())));
        assert!(seen[2].0 == 5 && seen[2].1.is_err());
        assert_eq!(seen[3], (6, Ok("c".into())));
    }
}
