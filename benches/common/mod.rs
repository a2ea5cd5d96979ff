//! Shared by the benches: an in-process loopback HTTP/1.1 server answering with fixed,
//! TalkJS-shaped JSON, the clients under test, and the ratio report.
//!
//! The server runs as tasks of the clients' current-thread runtime (see [`Server::start`])
//! and answers from bodies prepared before the first request (a `Bytes` clone per response),
//! so what a bench measures is the client. It serves:
//!
//! - `GET /v1/{app}/users/{id}`: one user (the same body whatever the id);
//! - `GET /v1/{app}/users?limit=100[&startingAfter=u0000099]`: pages of 100 users with ids
//!   `u0000000`, `u0000001`, …; for app [`APP_ID`], 100 full pages then an empty one. An app
//!   id `pages{N}` (e.g. `pages1000`) gets N full pages, generated per request (for the
//!   memory check of the export bench, where speed does not matter).
#![allow(dead_code)] // each bench binary uses a different part of this module

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// The app id of the benches.
pub const APP_ID: &str = "benchApp";
/// The secret key of the benches (the server does not check tokens).
pub const SECRET_KEY: &str = "sk_test_benchmarks_0123456789abcdef";
/// Items per page.
pub const PAGE_SIZE: usize = 100;
/// Full pages served for [`APP_ID`].
pub const PAGES: usize = 100;
/// The bearer of the hand-written baselines: one app token of [`APP_ID`], minted once at
/// start (the baselines do not mint per call), so that they send the same bytes as the
/// talkjs client does. The header's length is a cost of its own, in hyper and in the server.
pub fn static_bearer() -> &'static str {
    static BEARER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BEARER.get_or_init(|| {
        use talkjs::auth::{AppId, SecretKey, TokenSigner};
        let signer = TokenSigner::new(AppId::new(APP_ID), SecretKey::new(SECRET_KEY));
        format!("Bearer {}", signer.app_token().expect("app token"))
    })
}

/// One user as TalkJS returns it (every documented field set, as a realistic size).
pub fn user_json(id: &str) -> String {
    format!(
        concat!(
            r#"{{"id":"{id}","name":"User {id}","email":["{id}@example.com"],"phone":null,"#,
            r#""photoUrl":"https://cdn.example.com/avatars/{id}.png","headerPhotoUrl":null,"#,
            r#""role":"default","welcomeMessage":"Hi, I am {id}","#,
            r#""custom":{{"plan":"pro","country":"nl","team":"support"}},"locale":"en-US","#,
            r#""availabilityText":null,"pushTokens":{{"fcm:tok_{id}":true}},"#,
            r#""createdAt":1700000000123}}"#
        ),
        id = id
    )
}

/// The id of the `n`-th user of a listing.
pub fn user_id(n: usize) -> String {
    format!("u{n:07}")
}

/// The page of users `start..min(start + PAGE_SIZE, total)` as `{"data":[…]}`.
pub fn page_json(start: usize, total: usize) -> String {
    let end = total.min(start + PAGE_SIZE);
    let mut out = String::with_capacity(PAGE_SIZE * 400 + 16);
    out.push_str(r#"{"data":["#);
    for n in start..end {
        if n > start {
            out.push(',');
        }
        out.push_str(&user_json(&user_id(n)));
    }
    out.push_str("]}");
    out
}

/// What the server answers with, prepared once.
struct Bodies {
    user: Bytes,
    /// `pages[k]`: the page starting at user `k * PAGE_SIZE` (the last one is empty).
    pages: Vec<Bytes>,
}

impl Bodies {
    fn new() -> Self {
        let total = PAGES * PAGE_SIZE;
        Self {
            user: Bytes::from(user_json("alice")),
            pages: (0..=PAGES)
                .map(|k| Bytes::from(page_json(k * PAGE_SIZE, total)))
                .collect(),
        }
    }

    fn respond(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let Some(rest) = path.strip_prefix("/v1/") else {
            return not_found();
        };
        let Some((app, rest)) = rest.split_once('/') else {
            return not_found();
        };
        if rest.strip_prefix("users/").is_some_and(|id| !id.is_empty()) {
            return json(self.user.clone());
        }
        if rest != "users" {
            return not_found();
        }
        let start = starting_index(req.uri().query().unwrap_or(""));
        if app == APP_ID {
            if start % PAGE_SIZE == 0 {
                let page = (start / PAGE_SIZE).min(PAGES);
                return json(self.pages[page].clone());
            }
            return json(Bytes::from(page_json(start, PAGES * PAGE_SIZE)));
        }
        match app
            .strip_prefix("pages")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(pages) => json(Bytes::from(page_json(start, pages * PAGE_SIZE))),
            None => not_found(),
        }
    }
}

/// The index of the first user of the page asked for (`startingAfter=u0000099` → 100).
fn starting_index(query: &str) -> usize {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("startingAfter="))
        .and_then(|id| id.strip_prefix('u'))
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1)
}

fn json(body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn not_found() -> Response<Full<Bytes>> {
    let mut response = json(Bytes::from_static(br#"{"errorCode":"NOT_FOUND"}"#));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A running loopback server.
#[derive(Debug, Clone)]
pub struct Server {
    /// Its address.
    pub addr: SocketAddr,
    /// How many connections it has accepted (a pooled client should open few).
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    /// Starts the server on 127.0.0.1 (an ephemeral port) as tasks of `rt`, the clients'
    /// runtime: a call is then one thread handing off to itself, with no cross-thread
    /// wake-up, whose latency on an idle virtual machine is large and erratic and would swamp
    /// what is measured. The server's own work is the same for every client under test.
    ///
    /// With `TALKJS_BENCH_SERVER_THREAD=1` the server runs on a thread and runtime of its own
    /// instead (closer to a real network peer, but noisier).
    pub fn start(rt: &tokio::runtime::Runtime) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let bodies = Arc::new(Bodies::new());
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        if std::env::var_os("TALKJS_BENCH_SERVER_THREAD").is_some_and(|v| v == "1") {
            std::thread::Builder::new()
                .name("bench-server".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("server runtime");
                    rt.block_on(serve(listener, bodies, accepted));
                })
                .expect("server thread");
        } else {
            rt.spawn(serve(listener, bodies, accepted));
        }
        Self { addr, connections }
    }

    /// The API root to give the clients (`http://127.0.0.1:PORT`).
    pub fn root(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections the server has accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// The URL of `path` under `/v1/{APP_ID}` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/v1/{APP_ID}{path}", self.addr)
    }
}

async fn serve(listener: std::net::TcpListener, bodies: Arc<Bodies>, accepted: Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let bodies = Arc::clone(&bodies);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = bodies.respond(&req);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The runtime of the network benches, for the clients and (by default) the server: one
/// thread.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

/// The fake's own runtime in the process benches (bulk, migrate): one worker thread, apart
/// from the client's process.
pub fn fake_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime")
}

/// The talkjs client through the full default stack (app tokens, rate limiter, retry,
/// deadline and per-attempt timeouts, JSON headers, tracing without a subscriber), with
/// rate limits high enough never to wait.
#[cfg(feature = "client")]
pub fn talkjs_client(server: &Server) -> talkjs::Client {
    use talkjs::transport::{Quota, RateLimiter};
    let limiter = RateLimiter::new(APP_ID).general_quota(Quota::per_second(1_000_000, 1_000_000));
    talkjs::Client::builder()
        .app_id(APP_ID)
        .secret_key(SECRET_KEY)
        .base_url(server.root())
        .rate_limiter(Some(limiter))
        .build()
        .expect("talkjs client")
}

/// The baseline: hyper-util's pooled client over plain TCP, as one would hand-write it.
pub type RawClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// A hyper-util client with TCP_NODELAY, like the talkjs transport's.
pub fn raw_client() -> RawClient {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(http)
}

/// GET `url` with the hand-written headers and read the body.
pub async fn raw_get(client: &RawClient, url: &str) -> Bytes {
    use http_body_util::BodyExt;
    let request = Request::get(url)
        .header(http::header::AUTHORIZATION, static_bearer())
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client.request(request).await.expect("response");
    assert!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

/// [`raw_get`] of one user, decoded with serde.
pub async fn raw_get_user(client: &RawClient, url: &str) -> talkjs::models::User {
    serde_json::from_slice(&raw_get(client, url).await).expect("user JSON")
}

/// [`raw_get`] of one page of users, decoded with serde.
pub async fn raw_get_users(
    client: &RawClient,
    url: &str,
) -> talkjs::models::Page<talkjs::models::User> {
    serde_json::from_slice(&raw_get(client, url).await).expect("page JSON")
}

/// Where criterion writes its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else `target/criterion` (benches run in the package root).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("criterion")
}

/// The time per iteration of `group/function` measured since `since` (the slope estimate
/// when criterion has one, else the mean), in nanoseconds; `None` when that function did not
/// run in this process (filtered out).
pub fn estimate_ns(group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value
        .get("slope")
        .and_then(|s| s.get("point_estimate"))
        .and_then(serde_json::Value::as_f64)
        .or_else(|| value.get("mean")?.get("point_estimate")?.as_f64())
}

/// Prints `name / baseline` for this run, with the target, or why it cannot.
pub fn report_ratio(group: &str, name: &str, baseline: &str, target: &str, since: SystemTime) {
    match (
        estimate_ns(group, name, since),
        estimate_ns(group, baseline, since),
    ) {
        (Some(a), Some(b)) => println!(
            "ratio {group}: {name} / {baseline} = {:.3}  ({} vs {}; target: {target})",
            a / b,
            format_ns(a),
            format_ns(b)
        ),
        _ => println!("ratio {group}: {name} / {baseline}: not both measured in this run"),
    }
}

/// `1.23 µs`, `45.6 ms`, …
pub fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Short runs by default (the machine is shared; ratios matter, not absolute precision);
/// command-line flags still override.
pub fn criterion_config() -> criterion::Criterion {
    criterion::Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// One operation of an interleaved comparison: a closure making a fresh future per run.
pub type Job<'a> = (&'a str, JobFn<'a>);

/// Makes the future of one run of a [`Job`].
pub type JobFn<'a> =
    Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>> + 'a>;

/// Whether the bench binary runs in benchmark mode (`cargo bench`), not as a test
/// (`cargo test --benches` runs each benchmark once, with no `--bench` flag).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A paired, interleaved comparison, robust to the load drifting on a shared machine:
/// `rounds` rounds, each running every job `batch` times in a shuffled order; prints each
/// job's median time per operation and the median over rounds of its time divided by the
/// first job's time in the same round.
pub fn interleaved(
    rt: &tokio::runtime::Runtime,
    title: &str,
    rounds: usize,
    batch: u32,
    jobs: &[Job<'_>],
) {
    let n = jobs.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..rounds {
        for i in (1..n).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = usize::try_from(seed % (i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        for &job in &order {
            let start = std::time::Instant::now();
            rt.block_on(async {
                for _ in 0..batch {
                    (jobs[job].1)().await;
                }
            });
            times[job].push(start.elapsed().as_secs_f64() * 1e9 / f64::from(batch));
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("interleaved {title}: {rounds} rounds x {batch} per job, shuffled order");
    for (i, (name, _)) in jobs.iter().enumerate() {
        let ratios = (0..rounds).map(|r| times[i][r] / times[0][r]).collect();
        println!(
            "  {name:40} median {:>12}  paired ratio to {} {:.3}",
            format_ns(median(times[i].clone())),
            jobs[0].0,
            median(ratios)
        );
    }
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (through
/// `/proc/self/clear_refs`) and returns the current RSS in KiB; `None` where `/proc` does not
/// allow it.
pub fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:")
}

/// A `kB` line of `/proc/self/status` (e.g. `"VmHWM:"`), in KiB.
pub fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------
// The load benches against the fake (`bulk`, `migrate`)

/// A fake TalkJS with `limits` (or none) and a fixed delay per request (the round-trip
/// time, no jitter), on the server runtime.
pub fn start_fake(
    server: &tokio::runtime::Runtime,
    latency: Duration,
    limits: Option<talkjs_fake::RateLimitConfig>,
) -> talkjs_fake::FakeTalkJs {
    server
        .block_on(
            talkjs_fake::FakeTalkJs::builder()
                .app_id(APP_ID)
                .secret_key(SECRET_KEY)
                .rate_limit(limits)
                .faults(talkjs_fake::Faults::none().latency(latency))
                .start(),
        )
        .expect("fake")
}

/// What the fake saw while a client ran: when the first request arrived, when the
/// `burst`-th, when the last, and each 429 (when, and how many requests had arrived by then).
#[derive(Debug, Default)]
pub struct Seen {
    /// The first request's arrival, as Unix nanoseconds (to compare with another process).
    pub first_unix_ns: Option<u128>,
    /// The first request's arrival.
    pub first: Option<std::time::Instant>,
    /// When the `burst`-th request arrived, after the first.
    pub burst_end: Option<Duration>,
    /// When the last request arrived, after the first.
    pub last: Option<Duration>,
    /// Each 429: when, after the first request, and how many requests had arrived by then.
    pub refusals: Vec<(Duration, u64)>,
}

/// Runs `f` while watching the fake's counters every millisecond.
pub fn watch<T: Send>(
    fake: &talkjs_fake::FakeTalkJs,
    burst: u32,
    f: impl FnOnce() -> T + Send,
) -> (T, Seen) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let mut seen = Seen::default();
            let (mut received_before, mut refused_before) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                let received = fake.request_count();
                if received > 0 && seen.first.is_none() {
                    seen.first = Some(std::time::Instant::now());
                    seen.first_unix_ns = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .map(|d| d.as_nanos());
                }
                let since = seen.first.map_or(Duration::ZERO, |t| t.elapsed());
                if received > received_before {
                    seen.last = Some(since);
                    if received >= u64::from(burst) && seen.burst_end.is_none() {
                        seen.burst_end = Some(since);
                    }
                    received_before = received;
                }
                let refused = fake.count_429();
                if refused > refused_before {
                    seen.refusals
                        .extend((refused_before..refused).map(|_| (since, received)));
                    refused_before = refused;
                }
            }
            seen
        });
        let out = f();
        done.store(true, Ordering::Relaxed);
        (out, watcher.join().expect("watcher"))
    })
}

/// A duration in seconds, for the printed figures.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
