//! Shared by the tests of attachments, system messages, the marker and verify: scratch
//! directories, clients of the fake, and a client layer that loses one answer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use talkjs_fake::FakeTalkJs;
use talkjs_migrate::talkjs_api::transport::{BoxError, BoxFuture, HttpRequest, HttpResponse};
use talkjs_migrate::talkjs_api::{Client, ClientBuilder};

/// A fresh directory under the system's temporary directory (removed on drop).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "talkjs-migrate-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut file = std::fs::File::create(path).expect("create the export file");
    for line in lines {
        writeln!(file, "{line}").expect("write the export file");
    }
}

fn builder(fake: &FakeTalkJs) -> ClientBuilder {
    Client::builder()
        .app_id(fake.app_id())
        .secret_key(fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(None)
}

/// A client of the fake with no client-side rate limit.
pub fn client(fake: &FakeTalkJs) -> Client {
    builder(fake).build().expect("a client of the fake")
}

/// Which requests [`Lose`] acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `POST /import/conversations/{id}/messages`.
    Import,
    /// `POST /conversations/{id}/messages` (a send).
    Send,
}

impl Request {
    fn matches(self, req: &HttpRequest) -> bool {
        let path = req.uri().path();
        req.method().as_str() == "POST"
            && path.ends_with("/messages")
            && (path.contains("/import/") == (self == Self::Import))
    }
}

/// What happens to the first request of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The fake applies it, the client gets a connection reset: the answer is lost.
    LostAnswer,
    /// A connection reset before it is sent: the fake never sees it.
    NotSent,
    /// The fake applies it and the answer never comes (the process is killed meanwhile).
    HangAfterApplied,
}

/// A client whose first request of a kind meets `fault`; no retries, so the migration sees
/// the failure.
pub fn lossy_client(fake: &FakeTalkJs, request: Request, fault: Fault) -> (Client, Lose) {
    let lose = Lose {
        request,
        fault,
        armed: Arc::new(AtomicBool::new(true)),
        applied: Arc::new(AtomicBool::new(false)),
    };
    let client = builder(fake)
        .retry(None)
        .layer(lose.clone())
        .build()
        .expect("a lossy client of the fake");
    (client, lose)
}

/// The layer of [`lossy_client`].
#[derive(Debug, Clone)]
pub struct Lose {
    request: Request,
    fault: Fault,
    armed: Arc<AtomicBool>,
    applied: Arc<AtomicBool>,
}

impl Lose {
    /// Whether it acted already.
    pub fn fired(&self) -> bool {
        !self.armed.load(Ordering::SeqCst)
    }

    /// Whether the fake answered the request it acted on (and so applied it).
    pub fn applied(&self) -> bool {
        self.applied.load(Ordering::SeqCst)
    }
}

impl<S> tower::Layer<S> for Lose {
    type Service = LoseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoseService {
            inner,
            lose: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LoseService<S> {
    inner: S,
    lose: Lose,
}

fn reset() -> BoxError {
    Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection reset (injected by the test)",
    ))
}

impl<S> tower::Service<HttpRequest> for LoseService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let hit = self.lose.request.matches(&req) && self.lose.armed.swap(false, Ordering::SeqCst);
        if !hit {
            return Box::pin(self.inner.call(req));
        }
        let fault = self.lose.fault;
        if fault == Fault::NotSent {
            return Box::pin(async { Err(reset()) });
        }
        let answer = self.inner.call(req);
        let applied = self.lose.applied.clone();
        Box::pin(async move {
            answer.await?;
            applied.store(true, Ordering::SeqCst);
            if fault == Fault::HangAfterApplied {
                std::future::pending::<()>().await;
            }
            Err(reset())
        })
    }
}
