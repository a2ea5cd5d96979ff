//! `talkjs-fake`: runs the fake TalkJS server until interrupted (Ctrl-C).
//!
//! ```text
//! talkjs-fake [--port N] [--app-id ID] [--secret-key KEY] [--rate-limit] [--webhook-url URL]
//!             [--max-import-batch N]
//! ```

use std::process::ExitCode;

use talkjs_fake::{FakeTalkJs, RateLimitConfig};

const USAGE: &str = "\
usage: talkjs-fake [options]

Runs an in-memory TalkJS-compatible REST server on 127.0.0.1 until interrupted.

options:
  --port N             listen on port N (default: any free port)
  --app-id ID          use this app id (default: random)
  --secret-key KEY     use this secret key (default: random sk_test_...)
  --rate-limit         enforce TalkJS's rate limits (burst 600, 9/s; batches burst 500, 1/s)
  --webhook-url URL    deliver signed webhook events to this http:// URL
  --max-import-batch N accept up to N messages per import request (default 10;
                       TalkJS's transfer example sends 100)
  -h, --help           show this help";

/// Parsed command line.
struct Args {
    port: u16,
    app_id: Option<String>,
    secret_key: Option<String>,
    rate_limit: bool,
    webhook_url: Option<String>,
    max_import_batch: Option<usize>,
}

/// Parses the arguments by hand; `Err` holds the message to print.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: 0,
        app_id: None,
        secret_key: None,
        rate_limit: false,
        webhook_url: None,
        max_import_batch: None,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value("--port")?;
                parsed.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port number"))?;
            }
            "--app-id" => parsed.app_id = Some(value("--app-id")?),
            "--secret-key" => parsed.secret_key = Some(value("--secret-key")?),
            "--webhook-url" => parsed.webhook_url = Some(value("--webhook-url")?),
            "--rate-limit" => parsed.rate_limit = true,
            "--max-import-batch" => {
                let v = value("--max-import-batch")?;
                parsed.max_import_batch =
                    Some(v.parse().ok().filter(|n: &usize| *n >= 1).ok_or_else(|| {
                        format!("--max-import-batch: {v:?} is not a whole number of at least 1")
                    })?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

/// The text printed once the server runs.
///
/// The secret key is shown only when the server generated it (`key_given` false): a key
/// typed on the command line is not echoed, so that it does not end up in terminal logs.
fn banner(fake: &FakeTalkJs, key_given: bool) -> String {
    let base_url = fake.base_url();
    let app_id = fake.app_id();
    let secret_line = if key_given {
        "(the one given with --secret-key)"
    } else {
        fake.secret_key()
    };
    let mut text = format!(
        "TalkJS fake server running (Ctrl-C to stop)\n\
         base URL:   {base_url}\n\
         app id:     {app_id}\n\
         secret key: {secret_line}\n\
         resources:  {}/\n\
         \n\
         export TALKJS_BASE_URL={base_url}\n\
         export TALKJS_APP_ID={app_id}\n",
        fake.app_url(),
    );
    if !key_given {
        text.push_str("export TALKJS_SECRET_KEY=");
        text.push_str(fake.secret_key());
        text.push('\n');
    }
    text
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("talkjs-fake: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = FakeTalkJs::builder().port(args.port);
    if let Some(app_id) = args.app_id {
        builder = builder.app_id(app_id);
    }
    let key_given = args.secret_key.is_some();
    if let Some(key) = args.secret_key {
        builder = builder.secret_key(key);
    }
    if args.rate_limit {
        builder = builder.rate_limit(RateLimitConfig::TALKJS);
    }
    if let Some(url) = args.webhook_url {
        builder = builder.webhook_url(url);
    }
    if let Some(n) = args.max_import_batch {
        builder = builder.max_import_batch(n);
    }
    let fake = match builder.start().await {
        Ok(fake) => fake,
        Err(e) => {
            eprintln!("talkjs-fake: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One write, so that a reader that sees the first line also has the rest.
    print!("{}", banner(&fake, key_given));
    // Runs until the process is interrupted (the default SIGINT action ends it).
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
