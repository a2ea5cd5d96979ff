//! `talkjs export users|conversations|messages`: JSON lines, following every page.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, IsTerminal, Write};

use futures_util::TryStreamExt;
use serde::Serialize;
use talkjs::api::{Cursor, Items};

use super::{
    Ctx, ListRequest, interrupted, note, partial, progress_bar, progress_text, with_paging,
};
use crate::cli::{ExportArgs, ExportCommand, Format};
use crate::error::CliError;
use crate::output::json_error;

pub async fn run(ctx: &mut Ctx, cmd: ExportCommand) -> Result<(), CliError> {
    if let Some(format) = ctx.out.explicit().filter(|f| *f != Format::Jsonl) {
        return Err(CliError::Usage(format!(
            "export writes JSON lines only, not {format:?}; leave out --output (or use --output jsonl)"
        )));
    }
    let rate = match &cmd {
        ExportCommand::Users(args)
        | ExportCommand::Conversations(args)
        | ExportCommand::Messages { args, .. } => &args.rate,
    };
    let limits = super::Limits::open(rate, None).await?;
    let client = limits.apply(ctx.client_builder()?, ctx.app_id()?).build()?;
    let terminal = ctx.out.is_terminal();
    match cmd {
        ExportCommand::Users(args) => export(client.users().list(), &args, "users", terminal).await,
        ExportCommand::Conversations(args) => {
            export(
                client.conversations().list(),
                &args,
                "conversations",
                terminal,
            )
            .await
        }
        ExportCommand::Messages { conversation, args } => {
            let request = client.conversations().messages(conversation).list();
            export(request, &args, "messages", terminal).await
        }
    }
}

/// Where an export goes.
struct Sink {
    writer: Box<dyn Write>,
    name: String,
}

/// The file an export writes to, or `None` for standard output (no `--file`, or `--file -`).
fn target_file(args: &ExportArgs) -> Option<&std::path::Path> {
    args.file.as_deref().filter(|path| path.as_os_str() != "-")
}

impl Sink {
    fn open(args: &ExportArgs) -> Result<Self, CliError> {
        match target_file(args) {
            Some(path) => {
                let name = path.display().to_string();
                let file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .append(args.append)
                    .truncate(!args.append)
                    .open(path)
                    .map_err(|source| CliError::Io {
                        context: format!("cannot open {name}"),
                        source,
                    })?;
                Ok(Self {
                    writer: Box::new(BufWriter::new(file)),
                    name,
                })
            }
            None if args.append => Err(CliError::Usage(
                "--append needs a file to append to, not standard output (--file -); \
                 to append on the shell, leave out --append and redirect with >>"
                    .into(),
            )),
            None => Ok(Self {
                writer: Box::new(BufWriter::new(io::stdout())),
                name: "standard output".into(),
            }),
        }
    }

    fn line<T: Serialize>(&mut self, item: &T) -> Result<(), CliError> {
        serde_json::to_writer(&mut self.writer, item).map_err(|e| json_error(e, &self.name))?;
        self.writer
            .write_all(b"\n")
            .map_err(|e| CliError::write(e, &self.name))
    }

    fn flush(&mut self) -> Result<(), CliError> {
        self.writer
            .flush()
            .map_err(|e| CliError::write(e, &self.name))
    }
}

async fn export<L: ListRequest>(
    request: L,
    args: &ExportArgs,
    what: &str,
    stdout_terminal: bool,
) -> Result<(), CliError> {
    let mut sink = Sink::open(args)?;
    let request = with_paging(request, args.page_size, args.starting_after.clone());
    let mut items: Items<L::Item> = request.stream();
    // No bar when the items themselves scroll by on the same terminal.
    let bar = progress_bar(None, what, target_file(args).is_none() && stdout_terminal);
    let stop = interrupted();
    tokio::pin!(stop);
    let mut written = 0usize;
    let mut last: Option<String> = None;
    loop {
        let next = tokio::select! {
            biased;
            () = &mut stop => {
                bar.abandon();
                sink.flush()?;
                return Err(CliError::Interrupted(progress_text(written, what, last.as_deref())));
            }
            next = items.try_next() => next,
        };
        match next {
            Ok(Some(item)) => {
                sink.line(&item)?;
                written += 1;
                last = Some(item.cursor().to_owned());
                bar.inc(1);
            }
            Ok(None) => break,
            Err(e) => {
                bar.abandon();
                // Everything counted as written is in the file before the resume hint is given.
                sink.flush()?;
                return Err(partial(e.into(), written, what, last.as_deref()));
            }
        }
    }
    sink.flush()?;
    bar.finish_and_clear();
    if io::stderr().is_terminal() {
        note(&format!("exported {written} {what} to {}", sink.name));
    }
    Ok(())
}
