//! The loopback server of the network benches: an in-process HTTP/1.1 server answering with
//! fixed, TalkJS-shaped JSON, and the runtime it shares with the clients.
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

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
