//! A client layer that loses one answer (or one request), or lets it land late, for the
//! tests of what an uncertain request leaves behind (tests/carry.rs, tests/late.rs,
//! tests/reactions.rs).
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use talkjs_fake::FakeTalkJs;
use talkjs_migrate::talkjs_api::Client;
use talkjs_migrate::talkjs_api::transport::{BoxError, BoxFuture, HttpRequest, HttpResponse};

use talkjs_test_support::migrate::builder;

/// Which requests [`Lose`] acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `POST /import/conversations/{id}/messages`.
    Import,
    /// `POST /conversations/{id}/messages` (a send).
    Send,
    /// `PUT /conversations/{id}/messages/{messageId}/reactions/{emoji}/{userId}`.
    Reaction,
    /// `GET /conversations/{id}/messages` (a listing of a conversation's messages).
    List,
    /// `PUT /conversations/{id}/messages/{messageId}` (an edit).
    Edit,
}

impl Request {
    fn matches(self, req: &HttpRequest) -> bool {
        let path = req.uri().path();
        match self {
            Self::Import | Self::Send => {
                req.method().as_str() == "POST"
                    && path.ends_with("/messages")
                    && (path.contains("/import/") == (self == Self::Import))
            }
            Self::Reaction => req.method().as_str() == "PUT" && path.contains("/reactions/"),
            Self::List => req.method().as_str() == "GET" && path.ends_with("/messages"),
            Self::Edit => {
                req.method().as_str() == "PUT"
                    && path.contains("/messages/")
                    && !path.contains("/reactions/")
            }
        }
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
    /// The client gets a connection reset at once, and the request reaches the fake this
    /// much later: a write that lands after its answer was lost.
    LandsLate(Duration),
}

/// A client whose first request of a kind meets `fault`; no retries, so the migration sees
/// the failure.
pub fn lossy_client(fake: &FakeTalkJs, request: Request, fault: Fault) -> (Client, Lose) {
    lossy_client_nth(fake, request, 1, fault)
}

/// A client whose `nth` request of a kind (1-based) meets `fault`; no retries.
pub fn lossy_client_nth(
    fake: &FakeTalkJs,
    request: Request,
    nth: usize,
    fault: Fault,
) -> (Client, Lose) {
    let lose = lose_nth(request, nth, fault);
    let client = builder(fake)
        .retry(None)
        .layer(lose.clone())
        .build()
        .expect("a lossy client of the fake");
    (client, lose)
}

/// The layer of [`lossy_client_nth`], for a client built with other layers too (give it
/// `.retry(None)`).
pub fn lose_nth(request: Request, nth: usize, fault: Fault) -> Lose {
    Lose {
        request,
        fault,
        skip: Arc::new(AtomicUsize::new(nth.saturating_sub(1))),
        armed: Arc::new(AtomicBool::new(true)),
        applied: Arc::new(AtomicBool::new(false)),
    }
}

/// The layer of [`lossy_client`].
#[derive(Debug, Clone)]
pub struct Lose {
    request: Request,
    fault: Fault,
    /// Requests of the kind to let through first.
    skip: Arc<AtomicUsize>,
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
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let matches = self.lose.request.matches(&req);
        let skipped = matches
            && self
                .lose
                .skip
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let hit = matches && !skipped && self.lose.armed.swap(false, Ordering::SeqCst);
        if !hit {
            return Box::pin(self.inner.call(req));
        }
        let fault = self.lose.fault;
        if fault == Fault::NotSent {
            return Box::pin(async { Err(reset()) });
        }
        if let Fault::LandsLate(delay) = fault {
            let mut inner = self.inner.clone();
            let applied = self.lose.applied.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if tower::ServiceExt::ready(&mut inner).await.is_ok()
                    && inner.call(req).await.is_ok()
                {
                    applied.store(true, Ordering::SeqCst);
                }
            });
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
