//! The kill test of `talkjs migrate`: the fake TalkJS runs as its own process (`talkjs fake
//! serve`, which keeps its data while migrations come and go), and `talkjs migrate FILE
//! --journal J` runs as a child process that is SIGKILLed at 20 random moments, most of them
//! while requests are in flight (the fake delays every request). Then runs to completion, and
//! the target, read back through the REST API, must hold every message exactly once, in order,
//! with its timestamp, reply link and read state; `talkjs migrate --verify` must pass. Then
//! the same against a fake serving 15 % 5xx and 5 % resets.
//!
//! The migrations reach the fake through a relay in this process that counts requests and
//! answers as they pass, so that a kill can come after a number of answers (the same
//! progress on a slow machine as on a fast one) and the test knows whether requests were in
//! flight when it struck.
//!
//! The seed of the kill times is printed; set `TALKJS_MIGRATE_KILL_SEED` to replay one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use talkjs_migrate::talkjs_api::Client;
use talkjs_migrate::talkjs_api::transport::RetryConfig;
use talkjs_test_support::migrate::{Export, Scratch, assert_listed_target_matches};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The variables of the environment the tests run in that would point `talkjs` elsewhere.
const TALKJS_VARS: [&str; 6] = [
    "TALKJS_APP_ID",
    "TALKJS_SECRET_KEY",
    "TALKJS_BASE_URL",
    "TALKJS_FROM_SECRET_KEY",
    "TALKJS_FROM_BASE_URL",
    "TALKJS_REDIS_URL",
];

fn talkjs() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_talkjs"));
    for var in TALKJS_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// A `talkjs fake serve` process (killed when dropped).
struct Serve {
    child: Child,
    base_url: String,
    app_id: String,
    secret_key: String,
    /// Extra arguments of every `talkjs migrate` (e.g. `--settle`).
    migrate_args: Vec<String>,
}

impl Serve {
    /// Starts `talkjs fake serve --output json` with `args`, and reads the line it prints.
    async fn start(args: &[&str]) -> Self {
        let mut child = talkjs()
            .args(["fake", "serve", "--output", "json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start talkjs fake serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::time::timeout(
            Duration::from_secs(60),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("talkjs fake serve prints its line within 60 s")
        .expect("read the line of talkjs fake serve");
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("talkjs fake serve printed {line:?}: {e}"));
        let field = |name: &str| {
            info[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                .to_owned()
        };
        Self {
            base_url: field("baseUrl"),
            app_id: field("appId"),
            secret_key: field("secretKey"),
            child,
            migrate_args: Vec::new(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("base URL {}: {e}", self.base_url))
    }

    /// A client of the fake with no client-side rate limit, which retries what the fake's
    /// faults break until it gets an answer.
    fn client(&self) -> Client {
        Client::builder(&self.app_id, &self.secret_key)
            .base_url(&self.base_url)
            .rate_limiter(None)
            .retry(Some(
                RetryConfig::default()
                    .max_attempts(30)
                    .base_delay(Duration::from_millis(5))
                    .max_delay(Duration::from_millis(50))
                    .budget(None),
            ))
            .build()
            .expect("a client of talkjs fake serve")
    }

    /// `talkjs migrate FILE --journal JOURNAL` into this fake through `base_url` (the
    /// fake's own, or a relay's).
    fn migrate(&self, base_url: &str, file: &Path, journal: &Path) -> Command {
        let mut cmd = talkjs();
        cmd.args(["--base-url", base_url, "--app-id", &self.app_id])
            .env("TALKJS_SECRET_KEY", &self.secret_key)
            .args(["--output", "json", "migrate"])
            .arg(file)
            .arg("--journal")
            .arg(journal)
            .args(["--concurrency", "4"])
            .args(&self.migrate_args);
        cmd
    }

    async fn stop(mut self) {
        self.child.start_kill().expect("kill talkjs fake serve");
        self.child.wait().await.expect("reap talkjs fake serve");
    }
}

/// Counts the occurrences of a byte string in a stream read in pieces.
struct Occurrences {
    pattern: &'static [u8],
    tail: Vec<u8>,
}

impl Occurrences {
    fn new(pattern: &'static [u8]) -> Self {
        Self {
            pattern,
            tail: Vec::new(),
        }
    }

    fn count(&mut self, data: &[u8]) -> i64 {
        let mut text = std::mem::take(&mut self.tail);
        text.extend_from_slice(data);
        let n = text
            .windows(self.pattern.len())
            .filter(|w| *w == self.pattern)
            .count();
        // What could begin an occurrence that the next piece completes (too short to be one).
        let keep = (self.pattern.len() - 1).min(text.len());
        self.tail = text.split_off(text.len() - keep);
        i64::try_from(n).unwrap()
    }
}

/// A TCP relay to the fake that counts the HTTP/1.1 requests and answers passing through (a
/// request line ends with " HTTP/1.1\r\n", an answer begins with "HTTP/1.1 "; no JSON body
/// of this test contains either). When either side closes, so does the other: a killed
/// migration's connections close at the fake as if there were no relay, and so does a reset.
struct Relay {
    base_url: String,
    answers: watch::Receiver<u64>,
    in_flight: watch::Receiver<i64>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relay");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (answers_tx, answers) = watch::channel(0u64);
        let answers_tx = Arc::new(answers_tx);
        let (gauge, in_flight) = watch::channel(0i64);
        let gauge = Arc::new(gauge);
        let task = tokio::spawn(async move {
            // Dropped with the task: aborts every connection.
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                connections.spawn(relay(socket, upstream, answers_tx.clone(), gauge.clone()));
            }
        });
        Self {
            base_url,
            answers,
            in_flight,
            task,
        }
    }

    /// Waits until the relay passed `n` more answers than `since`; `false` if it waited 60 s.
    async fn answered(&mut self, since: u64, n: u64) -> bool {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.answers.wait_for(|a| *a >= since + n),
        )
        .await
        .is_ok()
    }

    /// Answers passed so far.
    fn answers(&self) -> u64 {
        *self.answers.borrow()
    }

    /// Waits until no request is in flight (the connections of a killed run are closed).
    async fn idle(&mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            self.in_flight.wait_for(|n| *n <= 0),
        )
        .await;
    }

    /// Waits until a request is in flight; `false` if it waited 60 s.
    async fn sending(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(60), self.in_flight.wait_for(|n| *n > 0))
            .await
            .is_ok()
    }

    /// Requests sent and not answered yet.
    fn in_flight(&self) -> i64 {
        *self.in_flight.borrow()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection through the relay.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    answers: Arc<watch::Sender<u64>>,
    in_flight: Arc<watch::Sender<i64>>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // Requests of this connection not answered yet.
    let open = AtomicI64::new(0);
    let up = async {
        let mut requests = Occurrences::new(b" HTTP/1.1\r\n");
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let sent = requests.count(&buf[..n]);
            open.fetch_add(sent, Ordering::SeqCst);
            if sent > 0 {
                in_flight.send_modify(|n| *n += sent);
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async {
        let mut responses = Occurrences::new(b"HTTP/1.1 ");
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let answered = responses.count(&buf[..n]);
            open.fetch_sub(answered, Ordering::SeqCst);
            if answered > 0 {
                in_flight.send_modify(|n| *n -= answered);
                answers.send_modify(|a| *a += u64::try_from(answered).unwrap());
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
    }
    // Whatever was in flight on this connection never gets its answer.
    in_flight.send_modify(|n| *n -= open.load(Ordering::SeqCst));
}

fn seed() -> u64 {
    let seed = std::env::var("TALKJS_MIGRATE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("kill seed: {seed} (TALKJS_MIGRATE_KILL_SEED={seed} replays it)");
    seed
}

/// Resolved import requests recorded in the journal, and the messages they were found to
/// have landed (an uncertain import that had landed keeps its chunk).
fn resolved_chunks(journal: &Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(journal).expect("open the journal");
    let chunks = conn
        .query_row(
            "SELECT COUNT(*) FROM chunks WHERE state = 'resolved'",
            [],
            |r| r.get(0),
        )
        .expect("count resolved chunks");
    let landed = conn
        .query_row(
            "SELECT COUNT(*) FROM items i JOIN chunks c ON i.chunk = c.id
             WHERE c.state = 'resolved' AND i.state = 'done'",
            [],
            |r| r.get(0),
        )
        .expect("count messages found landed");
    (chunks, landed)
}

/// What the fake and the migration are run with, and what the run must show.
struct Setup<'a> {
    /// `talkjs fake serve` arguments (faults).
    fake: &'a [&'a str],
    /// Extra `talkjs migrate` arguments.
    migrate: &'a [&'a str],
    kills: usize,
    max_answers: u64,
    /// At least one uncertain import must be found to have landed.
    some_found_landed: bool,
}

/// Collects a child's standard error in the background.
fn collect_stderr(child: &mut Child) -> JoinHandle<String> {
    let mut stderr = child.stderr.take().expect("piped stderr");
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    })
}

/// Starts a `talkjs fake serve` with the fake's `args` and migrates `export` into it, killing
/// the migration `kills` times at random moments, then runs it to completion (through the
/// fake's faults, if any), checks the target through the REST API, and `--verify`.
async fn kill_and_finish(setup: &Setup<'_>, export: &Export) {
    let Setup {
        kills, max_answers, ..
    } = *setup;
    let seed = seed();
    let fault_seed = seed.to_string();
    let mut args = setup.fake.to_vec();
    args.extend(["--fault-seed", &fault_seed]);
    let mut serve = Serve::start(&args).await;
    serve.migrate_args = setup.migrate.iter().map(|a| (*a).to_owned()).collect();
    let dir = Scratch::new("cli-kill");
    let file = dir.path("export.jsonl");
    let journal = dir.path("migration.journal");
    export.write(&file);
    let started = Instant::now();
    // One relay for every run: the journal is bound to the target's API root, which the
    // relay's address is to `talkjs migrate`.
    let relay = Relay::start(serve.addr()).await;
    let mut migrations = Killer {
        serve: &serve,
        relay,
        file: &file,
        journal: &journal,
        rng: fastrand::Rng::with_seed(seed),
        startup: Duration::from_millis(50),
        max_answers,
    };
    let mut in_flight_kills = 0;
    let mut finished_early = 0;
    let mut killed = 0;
    while killed < kills {
        let moment = match killed % 4 {
            0 => Moment::Anywhere,
            2 => Moment::InFlight,
            _ => Moment::AfterAnswers,
        };
        match migrations.run_and_kill(moment).await {
            Ok(in_flight) => {
                killed += 1;
                in_flight_kills += usize::from(in_flight);
            }
            Err(stderr) => {
                // Stopped short by faults (a conversation waits for the next run): go on.
                finished_early += 1;
                assert!(
                    finished_early < 50,
                    "the migration keeps ending before the kill (last: {stderr})"
                );
            }
        }
    }
    let relay_url = migrations.relay.base_url.clone();
    let (runs, summary) = run_to_completion(&serve, &relay_url, &file, &journal).await;
    let (resolved, landed) = resolved_chunks(&journal);
    eprintln!(
        "{killed} kills ({in_flight_kills} with requests in flight, {finished_early} runs ended first), {runs} runs to finish, {resolved} uncertain imports resolved ({landed} messages found landed), {:?}",
        started.elapsed()
    );
    assert_eq!(summary["complete"], true, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(resolved > 0, "no kill left an import in flight");
    if setup.some_found_landed {
        assert!(landed > 0, "no uncertain import was found to have landed");
    }
    assert!(
        in_flight_kills >= kills / 4,
        "only {in_flight_kills} of {kills} kills struck while requests were in flight"
    );

    // The fake's faults stay on: the client retries what they break.
    assert_listed_target_matches(&serve.client(), export).await;
    verify(&serve, &relay_url, &file, &journal).await;
    serve.stop().await;
    eprintln!("checked, {:?}", started.elapsed());
}

/// When a kill strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// At any instant from the start of the run (within the longest time to a first answer
    /// seen yet): opening the journal, planning, resolving, sending.
    Anywhere,
    /// After 1 to `max_answers` answers (counted rather than timed, so that a slow or busy
    /// machine makes the same progress per kill), then at a random instant within 3 ms:
    /// mostly while the next requests are in flight, sometimes while the journal is written.
    AfterAnswers,
    /// Like `AfterAnswers`, then as soon as a request is in flight.
    InFlight,
}

/// Runs `talkjs migrate` and kills it.
struct Killer<'a> {
    serve: &'a Serve,
    relay: Relay,
    file: &'a Path,
    journal: &'a Path,
    rng: fastrand::Rng,
    /// How long a run takes to have its first answer (opening, planning or checking the
    /// input, resolving, sending): the "anywhere" kills fall within it, or a little after.
    startup: Duration,
    /// A kill comes after at most this many answers.
    max_answers: u64,
}

impl Killer<'_> {
    /// Starts a migration and SIGKILLs it at `moment`. Whether requests were in flight when
    /// it struck; `Err` with its standard error if the migration ended first, which only
    /// faults explain.
    async fn run_and_kill(&mut self, moment: Moment) -> Result<bool, String> {
        let relay = &mut self.relay;
        relay.idle().await;
        let before = relay.answers();
        let spawned = Instant::now();
        let mut child = self
            .serve
            .migrate(&relay.base_url, self.file, self.journal)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn talkjs migrate");
        let stderr = collect_stderr(&mut child);
        if moment == Moment::Anywhere {
            let limit = u64::try_from(self.startup.mul_f64(1.2).as_micros()).unwrap();
            tokio::time::sleep(Duration::from_micros(self.rng.u64(0..=limit))).await;
        } else {
            let answers = self.rng.u64(1..=self.max_answers);
            let answered = tokio::select! {
                status = child.wait() => {
                    status.expect("wait for talkjs migrate");
                    false
                }
                answered = relay.answered(before, answers) => {
                    assert!(answered, "no {answers} answers within 60 s");
                    true
                }
            };
            if answered {
                self.startup = self.startup.max(spawned.elapsed());
                tokio::time::sleep(Duration::from_micros(self.rng.u64(0..=3000))).await;
            }
            if answered && moment == Moment::InFlight {
                tokio::select! {
                    status = child.wait() => {
                        status.expect("wait for talkjs migrate");
                    }
                    sending = relay.sending() => {
                        assert!(sending, "no request within 60 s");
                    }
                }
            }
        }
        if let Some(status) = child.try_wait().expect("poll talkjs migrate") {
            let stderr = stderr.await.unwrap();
            assert!(
                !status.success(),
                "the migration finished before its kill: make the input larger or max_answers smaller"
            );
            assert_eq!(status.code(), Some(1), "talkjs migrate: {stderr}");
            return Err(stderr);
        }
        let in_flight = relay.in_flight() > 0;
        child.start_kill().expect("SIGKILL talkjs migrate");
        child.wait().await.expect("reap talkjs migrate");
        Ok(in_flight)
    }
}

/// Runs the migration, straight to the fake, until it reports completion: with faults a
/// run may stop short (a conversation whose imports keep failing waits for the next run).
/// How many runs it took, and the last one's summary.
async fn run_to_completion(
    serve: &Serve,
    base_url: &str,
    file: &Path,
    journal: &Path,
) -> (u32, Value) {
    for runs in 1..=20 {
        let out = serve
            .migrate(base_url, file, journal)
            .output()
            .await
            .expect("run talkjs migrate");
        match out.status.code() {
            Some(0) => return (runs, serde_json::from_slice(&out.stdout).unwrap()),
            Some(1) => {}
            other => panic!(
                "talkjs migrate ended with {other:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    panic!("the migration did not finish in 20 runs");
}

/// `talkjs migrate --verify` must pass. It exits 1 when a listing fails for good (the
/// fake's faults outlast the client's retries) as well as when the target differs: only the
/// first, which prints no report, is run again.
async fn verify(serve: &Serve, base_url: &str, file: &Path, journal: &Path) {
    for attempt in 1.. {
        let verify = serve
            .migrate(base_url, file, journal)
            .arg("--verify")
            .output()
            .await
            .expect("run talkjs migrate --verify");
        if verify.status.success() {
            return;
        }
        let stdout = String::from_utf8_lossy(&verify.stdout);
        assert!(
            stdout.trim().is_empty() && attempt < 10,
            "--verify ({attempt}): {:?}\n{stdout}\n{}",
            verify.status,
            String::from_utf8_lossy(&verify.stderr)
        );
    }
}

/// 3050 messages in 50 conversations, with replies, read state, shared milliseconds and
/// repeated messages.
fn export() -> Export {
    let export = Export::generate(60, 50, 61);
    assert!(export.message_count() >= 3000);
    export
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_message_lands_exactly_once() {
    let setup = Setup {
        fake: &["--latency", "5", "--latency-jitter", "5"],
        // No late writes here: a short settle time keeps the restarts quick.
        migrate: &["--settle", "200ms"],
        kills: 20,
        max_answers: 10,
        some_found_landed: false,
    };
    kill_and_finish(&setup, &export()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_through_5xx_and_resets() {
    // Half of the 5xx are answered after the import was applied: found landed.
    let setup = Setup {
        fake: &[
            "--latency",
            "5",
            "--latency-jitter",
            "5",
            "--error-rate",
            "0.15",
            "--reset-rate",
            "0.05",
        ],
        migrate: &["--settle", "0"],
        kills: 20,
        max_answers: 6,
        some_found_landed: true,
    };
    kill_and_finish(&setup, &export()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_through_late_writes_and_listing_lag() {
    // 10 % of writes lose their answer (a reset or a 504) and land 1-2 s later; listings
    // show a new message 300 ms late. With --settle 1500ms some uncertain imports are found
    // landed and some land after the listing looked (sent again; the reconcile pass deletes
    // the late copy 3 s after).
    let setup = Setup {
        fake: &[
            "--latency",
            "5",
            "--latency-jitter",
            "5",
            "--late-write-rate",
            "0.1",
            "--late-write-delay",
            "1000",
            "--late-write-jitter",
            "1000",
            "--listing-lag",
            "300",
        ],
        migrate: &["--settle", "1500ms"],
        kills: 20,
        max_answers: 10,
        some_found_landed: true,
    };
    kill_and_finish(&setup, &export()).await;
}
