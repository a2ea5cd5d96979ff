//! The commands, and what they share: the client, list paging, progress bars.

mod conversations;
mod export;
mod fake;
mod import;
mod messages;
mod migrate;
mod participants;
mod sync;
mod token;
mod users;

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use talkjs::api::{Cursor, Items};
use talkjs::transport::{HyperClient, Quota, RateLimitLayer, RateLimitStore, RateLimiter};

use crate::cli::{Cli, Command, Format, GlobalArgs, LimitRate, ListArgs, RateArgs};
use crate::error::{CliError, one_line};
use crate::output::{Column, Output};

/// Which global options were given on the command line itself (not from the environment).
#[derive(Debug, Clone, Copy, Default)]
pub struct Explicit {
    /// `--app-id` was on the command line.
    pub app_id: bool,
    /// `--secret-key` was on the command line.
    pub secret_key: bool,
}

/// What every command gets.
pub struct Ctx {
    global: GlobalArgs,
    explicit: Explicit,
    out: Output,
}

impl Ctx {
    /// A client from the global options.
    fn client(&self) -> Result<talkjs::Client, CliError> {
        Ok(self.client_builder()?.build()?)
    }

    /// A client builder from the global options.
    fn client_builder(&self) -> Result<talkjs::ClientBuilder, CliError> {
        let (app_id, secret) = self.credentials()?;
        let mut builder = talkjs::Client::builder(app_id, secret);
        if let Some(url) = self.global.base_url.as_deref().filter(|u| !u.is_empty()) {
            builder = builder.base_url(url);
        }
        if let Some(version) = &self.global.api_version {
            builder = builder.api_version(version)?;
        }
        self.verbose(builder)
    }

    /// With `-v`, the HTTP client wrapped in [`Verbose`](crate::verbose::Verbose): every
    /// attempt on standard error.
    fn verbose(&self, builder: talkjs::ClientBuilder) -> Result<talkjs::ClientBuilder, CliError> {
        if self.global.verbose == 0 {
            return Ok(builder);
        }
        let client = HyperClient::new().map_err(talkjs::Error::from)?;
        Ok(builder.inner_service(crate::verbose::Verbose::new(client, self.global.verbose)))
    }

    /// The target app's id (from `--app-id` or the environment).
    fn app_id(&self) -> Result<&str, CliError> {
        Ok(self.credentials()?.0)
    }

    /// A client builder of the app `talkjs migrate --from-app-id` copies from: its own secret key,
    /// and the global base URL and API version unless given.
    fn source_client(
        &self,
        app_id: &str,
        args: &crate::cli::MigrateArgs,
    ) -> Result<talkjs::ClientBuilder, CliError> {
        let secret = args
            .from_secret_key
            .as_ref()
            .map(crate::cli::Secret::expose)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CliError::Usage(
                    "no secret key for the source app: set TALKJS_FROM_SECRET_KEY (or pass --from-secret-key)"
                        .into(),
                )
            })?;
        let mut builder = talkjs::Client::builder(app_id, secret);
        let url = args
            .from_base_url
            .as_deref()
            .or(self.global.base_url.as_deref());
        if let Some(url) = url.filter(|u| !u.is_empty()) {
            builder = builder.base_url(url);
        }
        if let Some(version) = &self.global.api_version {
            builder = builder.api_version(version)?;
        }
        self.verbose(builder)
    }

    /// The app id and the secret key, or a usage error that says how to give them.
    fn credentials(&self) -> Result<(&str, &str), CliError> {
        let app_id = self
            .global
            .app_id
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                CliError::Usage("no app id: pass --app-id or set TALKJS_APP_ID".into())
            })?;
        let secret = self
            .global
            .secret_key
            .as_ref()
            .map(crate::cli::Secret::expose)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CliError::Usage(
                    "no secret key: set TALKJS_SECRET_KEY (or pass --secret-key)".into(),
                )
            })?;
        Ok((app_id, secret))
    }
}

/// The rate limit of a bulk command (`import`, `export`, `migrate`): `--rate` / `--burst`,
/// and the Redis store of `--redis-url` that the app's other clients limit through.
pub struct Limits {
    quota: Option<Quota>,
    store: Option<Arc<dyn RateLimitStore>>,
}

impl Limits {
    /// TalkJS's limit as the library keeps under it: burst 600 less the margin, 9 per second.
    fn talkjs() -> Quota {
        Quota::TALKJS_GENERAL.below(RateLimiter::DEFAULT_BURST_MARGIN)
    }

    /// The quota of `--rate` and `--burst`, if given.
    pub fn quota(args: &RateArgs) -> Option<Quota> {
        let talkjs = Self::talkjs();
        let (share, interval) = match args.rate? {
            LimitRate::Share(share) => (share, talkjs.interval().as_secs_f64() / share),
            LimitRate::PerSecond(rate) => (rate * talkjs.interval().as_secs_f64(), 1.0 / rate),
        };
        let burst = args.burst.unwrap_or_else(|| {
            // The same share of TalkJS's burst as of its rate.
            let burst = (f64::from(talkjs.burst()) * share).round();
            if burst >= f64::from(u32::MAX) {
                u32::MAX
            } else if burst >= 1.0 {
                // In range: checked above.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let burst = burst as u32;
                burst
            } else {
                1
            }
        });
        // Rounded up to the microsecond, so the rate never exceeds the one asked for.
        let micros = (interval * 1e6).ceil().min(1e12);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let interval = Duration::from_micros(micros.max(1.0) as u64);
        Some(Quota::with_interval(interval, burst))
    }

    /// Reads `--rate` and `--burst` and connects to `--redis-url`'s Redis (a usage error if
    /// the URL is bad, a failure if Redis does not answer). `replicas`: how many processes
    /// share the limit (during a Redis outage each falls back to its share).
    pub async fn open(args: &RateArgs, replicas: Option<u32>) -> Result<Self, CliError> {
        Ok(Self {
            quota: Self::quota(args),
            store: redis_store(args, replicas).await?,
        })
    }

    /// A client builder of app `app_id` keeping under these limits:
    ///
    /// - neither `--rate` nor `--redis-url`: the library's default limiter, unchanged;
    /// - `--rate` only: a limiter with that quota, in this process;
    /// - `--redis-url` only: TalkJS's limit, shared through Redis (the key the app's own
    ///   servers use with `RateLimiter::new(app_id).with_store(...)`);
    /// - both: first the rate (its own key in Redis, `talkjs:{app_id}:bulk:general`, shared
    ///   by every bulk command given it), then TalkJS's limit shared with everyone. A rate
    ///   at or above TalkJS's limit (a larger plan) is the shared limit itself.
    pub fn apply(&self, builder: talkjs::ClientBuilder, app_id: &str) -> talkjs::ClientBuilder {
        let limiter = |name: &str, quota: Quota| {
            let limiter = RateLimiter::new(name).general_quota(quota);
            match &self.store {
                Some(store) => limiter.with_store(Arc::clone(store)),
                None => limiter,
            }
        };
        let talkjs = Self::talkjs();
        match (self.quota, &self.store) {
            (None, None) => builder,
            (None, Some(_)) => builder.rate_limiter(Some(limiter(app_id, talkjs))),
            (Some(quota), None) => builder.rate_limiter(Some(limiter(app_id, quota))),
            (Some(quota), Some(_)) => {
                if quota.interval() <= talkjs.interval() && quota.burst() >= talkjs.burst() {
                    builder.rate_limiter(Some(limiter(app_id, quota)))
                } else {
                    builder
                        .rate_limiter(Some(limiter(&format!("{app_id}:bulk"), quota)))
                        .layer(RateLimitLayer::new(limiter(app_id, talkjs)))
                }
            }
        }
    }

    /// A client builder of another app (`talkjs migrate --from-app-id`): its own TalkJS
    /// limit, through the Redis store if there is one (`--rate` is the target's).
    pub fn apply_store(
        &self,
        builder: talkjs::ClientBuilder,
        app_id: &str,
    ) -> talkjs::ClientBuilder {
        match &self.store {
            Some(store) => {
                builder.rate_limiter(Some(RateLimiter::new(app_id).with_store(Arc::clone(store))))
            }
            None => builder,
        }
    }
}

/// The Redis store of `--redis-url`, connected; none without it.
#[cfg(feature = "redis")]
async fn redis_store(
    args: &RateArgs,
    replicas: Option<u32>,
) -> Result<Option<Arc<dyn RateLimitStore>>, CliError> {
    let Some(url) = args.redis_url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let mut builder = talkjs_ratelimit_redis::RedisStore::builder();
    if let Some(replicas) = replicas {
        builder = builder.replicas(replicas);
    }
    let store = builder
        .open(url)
        .map_err(|e| CliError::Usage(format!("--redis-url: {e}")))?;
    // Fail now if Redis is misconfigured, rather than fall back later.
    store
        .connect()
        .await
        .map_err(|e| CliError::Failed(format!("--redis-url: {e}")))?;
    Ok(Some(Arc::new(store)))
}

/// Without the `redis` feature, `--redis-url` is refused.
#[cfg(not(feature = "redis"))]
#[allow(clippy::unused_async)]
async fn redis_store(
    args: &RateArgs,
    _replicas: Option<u32>,
) -> Result<Option<Arc<dyn RateLimitStore>>, CliError> {
    match args.redis_url.as_deref().filter(|u| !u.is_empty()) {
        Some(_) => Err(CliError::Usage(
            "--redis-url: this talkjs was built without the `redis` feature".into(),
        )),
        None => Ok(None),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, explicit: Explicit) -> Result<(), CliError> {
    let mut ctx = Ctx {
        out: Output::new(cli.global.output),
        global: cli.global,
        explicit,
    };
    let result = match cli.command {
        Command::Users(cmd) => users::run(&mut ctx, cmd).await,
        Command::Conversations(cmd) => conversations::run(&mut ctx, cmd).await,
        Command::Participants(cmd) => participants::run(&mut ctx, cmd).await,
        Command::Messages(cmd) => messages::run(&mut ctx, cmd).await,
        Command::Export(cmd) => export::run(&mut ctx, cmd).await,
        Command::Import(args) => import::run(&mut ctx, args).await,
        Command::Migrate(args) => migrate::run(&mut ctx, args).await,
        Command::Sync(cmd) => sync::run(&mut ctx, cmd).await,
        Command::Token(cmd) => token::run(&mut ctx, cmd),
        Command::Fake(cmd) => fake::run(&mut ctx, cmd).await,
    };
    // Whatever was written before an error still goes out.
    let flushed = ctx.out.flush();
    result.and(flushed)
}

/// The list builders of the library (each its own type), seen through one trait.
trait ListRequest: Sized {
    type Item: Serialize + Cursor + Send + 'static;
    fn limit(self, n: u32) -> Self;
    fn starting_after(self, cursor: String) -> Self;
    fn stream(self) -> Items<Self::Item>;
    async fn page(self) -> talkjs::Result<Vec<Self::Item>>;
}

macro_rules! list_request {
    ($builder:ty, $item:ty) => {
        impl ListRequest for $builder {
            type Item = $item;
            fn limit(self, n: u32) -> Self {
                <$builder>::limit(self, n)
            }
            fn starting_after(self, cursor: String) -> Self {
                <$builder>::starting_after(self, cursor)
            }
            fn stream(self) -> Items<Self::Item> {
                self.into_stream()
            }
            async fn page(self) -> talkjs::Result<Vec<Self::Item>> {
                self.send().await
            }
        }
    };
}

list_request!(talkjs::api::ListUsers, talkjs::models::User);
list_request!(talkjs::api::ListConversations, talkjs::models::Conversation);
list_request!(talkjs::api::ListMessages, talkjs::models::Message);

/// Applies `--limit` and `--starting-after`.
fn with_paging<L: ListRequest>(mut request: L, limit: Option<u32>, after: Option<String>) -> L {
    if let Some(n) = limit {
        request = request.limit(n);
    }
    if let Some(cursor) = after {
        request = request.starting_after(cursor);
    }
    request
}

/// Prints a list: one page, or every page with `--all`.
async fn print_list<L: ListRequest>(
    out: &mut Output,
    request: L,
    args: ListArgs,
    columns: &'static [Column],
    what: &str,
) -> Result<(), CliError> {
    let request = with_paging(request, args.limit, args.starting_after);
    let mut list = out.list(columns);
    if args.all {
        let mut stream = request.stream();
        let mut cursor: Option<String> = None;
        loop {
            match stream.try_next().await {
                Ok(Some(item)) => {
                    list.item(&item)?;
                    cursor = Some(item.cursor().to_owned());
                }
                Ok(None) => break,
                Err(e) => {
                    let written = list.count();
                    // What was listed so far still goes out (it is valid JSON lines).
                    list.finish()?;
                    return Err(partial(e.into(), written, what, cursor.as_deref()));
                }
            }
        }
        list.finish()
    } else {
        let page = request.page().await?;
        for item in &page {
            list.item(item)?;
        }
        let table = list.format() == Format::Table;
        list.finish()?;
        let full = u32::try_from(page.len()).ok() == Some(args.limit.unwrap_or(10));
        if let (true, true, Some(last)) = (table, full, page.last()) {
            // The table first, then the note under it.
            out.flush()?;
            note(&format!(
                "more {what} may follow: add --starting-after {} (or --all)",
                shell_word(last.cursor())
            ));
        }
        Ok(())
    }
}

/// The error of a listing or export that stopped part way, with how to resume it.
fn partial(error: CliError, written: usize, what: &str, last: Option<&str>) -> CliError {
    CliError::Partial {
        source: Box::new(error),
        progress: progress_text(written, what, last),
    }
}

/// How far a listing or export got, and how to resume it.
fn progress_text(written: usize, what: &str, last: Option<&str>) -> String {
    match last {
        Some(cursor) => format!(
            "{written} {what} written; resume with --starting-after {}",
            shell_word(cursor)
        ),
        None => format!("no {what} written"),
    }
}

/// A word as it would be typed in a shell (quoted when needed).
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@:/+=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", one_line(word).replace('\'', r"'\''"))
    }
}

/// A line on standard error (never fails: a closed stderr is ignored).
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(io::stderr(), "talkjs: {}", one_line(text));
}

/// A progress bar on standard error, hidden when stderr is not a terminal (or `hide`).
fn progress_bar(total: Option<u64>, what: &str, hide: bool) -> ProgressBar {
    let target = if hide || !io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(total, target);
    let template = if total.is_some() {
        "{spinner} {bar:30} {human_pos}/{human_len} {msg} [{elapsed}, {per_sec}]"
    } else {
        "{spinner} {human_pos} {msg} [{elapsed}, {per_sec}]"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Resolves on Ctrl-C; never if the signal cannot be watched.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Asks a yes/no question on the terminal; `false` unless the answer starts with `y`.
fn confirm(question: &str) -> Result<bool, CliError> {
    use std::io::{BufRead, Write};
    let mut stderr = io::stderr();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim_start().to_ascii_lowercase().starts_with('y'))
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn quotas_of_rates() {
        use super::Limits;
        use crate::cli::{LimitRate, RateArgs};
        use std::time::Duration;
        let args = |rate, burst| RateArgs {
            rate: Some(rate),
            burst,
            redis_url: None,
        };
        let half = Limits::quota(&args(LimitRate::Share(0.5), None)).unwrap();
        assert_eq!(half.burst(), 295);
        assert_eq!(half.interval(), Duration::from_micros(222_223));
        let four = Limits::quota(&args(LimitRate::PerSecond(4.0), Some(200))).unwrap();
        assert_eq!(
            (four.burst(), four.interval()),
            (200, Duration::from_millis(250))
        );
        let default_burst = Limits::quota(&args(LimitRate::PerSecond(18.0), None)).unwrap();
        assert_eq!(default_burst.burst(), 1180);
        let tiny = Limits::quota(&args(LimitRate::PerSecond(0.01), None)).unwrap();
        assert_eq!(
            (tiny.burst(), tiny.interval()),
            (1, Duration::from_secs(100))
        );
        assert!(
            Limits::quota(&RateArgs {
                rate: None,
                burst: None,
                redis_url: None
            })
            .is_none()
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("user_12"), "user_12");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
