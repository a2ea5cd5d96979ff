//! The tower service, through its public API with `ServiceExt::oneshot` (no sockets): what
//! is refused with which status and never reaches the handler, what is handled, and how
//! often.
//!
//! No verdict depends on timing: a handler's runs are counted once every holder of the
//! handler is gone (its channel closes), and "the answer does not wait for the handler" is
//! shown with a handler that cannot finish until the test releases it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{
    PATIENCE, SECRET, delivery, drain, event, large_event, read, recorder, reencoded_pretty,
    reencoded_sorted, request, secret, signed_ago, signed_ahead, uri,
};
use futures_util::StreamExt;
use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{HeaderName, StatusCode};
use http_body_util::{Full, StreamBody};
use talkjs_webhooks::models::WebhookData;
use talkjs_webhooks::{
    BoxFuture, DedupeError, DedupeStore, EventHandler, MemoryDedupeStore, SecretKey,
    SignedDelivery, WebhookConfig, WebhookEvent, WebhookRejection, WebhookService, WebhookVerifier,
    channel,
};
use tokio::sync::{Notify, mpsc};
use tower::ServiceExt;

/// Sends one request through a clone of `service`.
async fn send<H: EventHandler>(
    service: &WebhookService<H>,
    request: http::Request<Full<Bytes>>,
) -> (StatusCode, String) {
    read(service.clone().oneshot(request).await.unwrap()).await
}

/// Runs `requests` through a fresh service with `config` and a recording handler; returns
/// the answers and every event the handler ran for.
async fn run(
    config: WebhookConfig,
    requests: Vec<http::Request<Full<Bytes>>>,
) -> (Vec<(StatusCode, String)>, Vec<WebhookEvent>) {
    let (handler, rx) = recorder();
    let service = WebhookService::new(config, handler);
    let mut answers = Vec::new();
    for request in requests {
        answers.push(send(&service, request).await);
    }
    drop(service);
    (answers, drain(rx).await)
}

fn config() -> WebhookConfig {
    WebhookConfig::new(secret())
}

/// One request through a fresh service; the status, and that the handler did not run.
async fn refused(config: WebhookConfig, request: http::Request<Full<Bytes>>) -> StatusCode {
    let (answers, handled) = run(config, vec![request]).await;
    assert!(handled.is_empty(), "a refused delivery reached the handler");
    answers[0].0
}

#[tokio::test]
async fn a_valid_delivery_is_answered_200_and_handled() {
    let sent = event(Some("evt_1"), "hello");
    let (answers, handled) = run(config(), vec![delivery(&sent).to_request(uri())]).await;
    assert_eq!(answers, [(StatusCode::OK, "ok".to_owned())]);
    assert_eq!(handled, [sent]);
    // Typed, not raw: the test events have the documented shape.
    assert!(matches!(handled[0].data, WebhookData::MessageSent(_)));
}

#[tokio::test]
async fn a_reencoded_body_is_refused_with_401() {
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    for body in [
        reencoded_pretty(signed.body()),
        reencoded_sorted(signed.body()),
    ] {
        // Same JSON, same headers, other bytes.
        let status = refused(config(), request(signed.headers(), body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A changed value, too.
    let tampered = String::from_utf8(signed.body().to_vec())
        .unwrap()
        .replace("hello", "HELLO");
    let status = refused(config(), request(signed.headers(), tampered)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn header_names_in_any_case_are_accepted() {
    // `http` stores names in lower case whatever they were built from; hyper does the same
    // for names read from the wire (tests/hyper.rs sends them over a socket).
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    let mut requests = Vec::new();
    for (timestamp, signature) in [
        ("x-talkjs-timestamp", "x-talkjs-signature"),
        ("X-TALKJS-TIMESTAMP", "X-TALKJS-SIGNATURE"),
        ("X-TalkJS-Timestamp", "X-TalkJS-Signature"),
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(timestamp.as_bytes()).unwrap(),
            HeaderValue::from_str(signed.timestamp()).unwrap(),
        );
        headers.insert(
            HeaderName::from_bytes(signature.as_bytes()).unwrap(),
            HeaderValue::from_str(&signed.signature()).unwrap(),
        );
        requests.push(request(headers, signed.body().clone()));
    }
    let (answers, handled) = run(config().without_dedupe(), requests).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    assert_eq!(handled.len(), 3);
}

#[tokio::test]
async fn a_lower_case_signature_is_accepted() {
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    let mut headers = signed.headers();
    headers.insert(
        "x-talkjs-signature",
        HeaderValue::from_str(&signed.signature().to_lowercase()).unwrap(),
    );
    let (answers, handled) = run(config(), vec![request(headers, signed.body().clone())]).await;
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(handled, [sent]);
}

#[tokio::test]
async fn stale_and_future_timestamps_are_refused_with_401() {
    let sent = event(Some("evt_1"), "hello");
    let six_minutes = Duration::from_secs(6 * 60);
    assert_eq!(
        refused(config(), signed_ago(&sent, six_minutes).to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refused(config(), signed_ahead(&sent, six_minutes).to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
    // Timestamps in seconds are read as such: ten minutes ago is stale too.
    let ten_minutes_ago = signed_ago(&sent, Duration::from_secs(600));
    let seconds = (ten_minutes_ago.timestamp().parse::<u64>().unwrap() / 1000).to_string();
    let mut headers = ten_minutes_ago.headers();
    headers.insert("x-talkjs-timestamp", seconds.parse().unwrap());
    let verifier = WebhookVerifier::new(secret());
    headers.insert(
        "x-talkjs-signature",
        verifier
            .sign(&seconds, ten_minutes_ago.body())
            .parse()
            .unwrap(),
    );
    assert_eq!(
        refused(config(), request(headers, ten_minutes_ago.body().clone())).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn timestamps_within_the_tolerance_are_accepted_and_the_tolerance_is_configurable() {
    let four_minutes = Duration::from_secs(4 * 60);
    let requests = vec![
        signed_ago(&event(Some("evt_old"), "a"), four_minutes).to_request(uri()),
        signed_ahead(&event(Some("evt_new"), "b"), four_minutes).to_request(uri()),
    ];
    let (answers, handled) = run(config(), requests).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK));
    assert_eq!(handled.len(), 2);

    // With a tolerance of one minute, two minutes is too old.
    let strict = config().with_tolerance(Duration::from_secs(60));
    assert_eq!(strict.tolerance(), Some(Duration::from_secs(60)));
    let two_minutes_ago = signed_ago(&event(Some("evt_2"), "c"), Duration::from_secs(120));
    assert_eq!(
        refused(strict, two_minutes_ago.to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_401() {
    let sent = event(Some("evt_1"), "hello");
    let forged = SignedDelivery::new(&SecretKey::new("sk_test_someone_else"), &sent);
    assert_eq!(
        refused(config(), forged.to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
    // The service's own key must be the webhook one, too.
    let other_config = WebhookConfig::new(SecretKey::new("sk_test_other"));
    assert_eq!(
        refused(other_config, delivery(&sent).to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn missing_or_garbled_headers_are_refused_with_401() {
    let signed = delivery(&event(Some("evt_1"), "hello"));
    for name in ["x-talkjs-timestamp", "x-talkjs-signature"] {
        let mut headers = signed.headers();
        headers.remove(name);
        let status = refused(config(), request(headers, signed.body().clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "without {name}");

        let mut headers = signed.headers();
        headers.insert(name, HeaderValue::from_static(""));
        let status = refused(config(), request(headers, signed.body().clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "with an empty {name}");
    }
    let mut headers = signed.headers();
    headers.insert("x-talkjs-timestamp", HeaderValue::from_static("yesterday"));
    let status = refused(config(), request(headers, signed.body().clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut headers = signed.headers();
    headers.insert("x-talkjs-signature", HeaderValue::from_static("not hex"));
    let status = refused(config(), request(headers, signed.body().clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let status = refused(
        config(),
        request(http::HeaderMap::new(), signed.body().clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_event_is_refused_with_400() {
    for body in [
        &b"not json"[..],
        b"",
        b"[1, 2, 3]",
        br#"{"id": "evt_1", "data": {}}"#, // no type
    ] {
        let signed = SignedDelivery::from_body(&secret(), Bytes::copy_from_slice(body));
        let status = refused(config(), signed.to_request(uri())).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
    // Unsigned, the same body is a 401: the signature is checked first.
    let unsigned = SignedDelivery::from_body(&SecretKey::new("sk_wrong"), "not json");
    assert_eq!(
        refused(config(), unsigned.to_request(uri())).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unknown_event_type_is_handled() {
    let body =
        br#"{"id":"evt_9","createdAt":1700000000000,"type":"reaction.added","data":{"emoji":"x"}}"#;
    let signed = SignedDelivery::from_body(&secret(), &body[..]);
    let (answers, handled) = run(config(), vec![signed.to_request(uri())]).await;
    assert_eq!(answers[0].0, StatusCode::OK);
    assert!(
        matches!(&handled[0].data, WebhookData::Other(raw) if raw.event_type == "reaction.added")
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_not_handled() {
    let small = config().with_max_body(4096);
    assert_eq!(small.max_body(), 4096);
    let big = delivery(&large_event("evt_big", 5000));
    assert!(big.body().len() > 4096);

    // Without Content-Length: the body is read up to the limit.
    assert_eq!(
        refused(small.clone(), big.to_request(uri())).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // With it: refused before reading.
    let mut declared = big.to_request(uri());
    declared
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(big.body().len()));
    assert_eq!(
        refused(small.clone(), declared).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A streamed body of many small chunks, no length known in advance.
    let (handler, rx) = recorder();
    let service = WebhookService::new(small.clone(), handler);
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = big
        .body()
        .chunks(100)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let mut streamed = http::Request::new(StreamBody::new(futures_util::stream::iter(chunks)));
    *streamed.method_mut() = http::Method::POST;
    *streamed.headers_mut() = big.headers();
    let (status, _) = read(service.clone().oneshot(streamed).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    drop(service);
    assert!(drain(rx).await.is_empty());

    // The same event fits the default limit of 1 MiB.
    let (answers, events) = run(config(), vec![big.to_request(uri())]).await;
    assert_eq!(answers[0].0, StatusCode::OK);
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn a_body_that_fails_while_read_is_refused_with_400() {
    let signed = delivery(&event(Some("evt_1"), "hello"));
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = vec![
        Ok(http_body::Frame::data(signed.body().slice(..10))),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        )),
    ];
    let mut broken = http::Request::new(StreamBody::new(futures_util::stream::iter(chunks)));
    *broken.headers_mut() = signed.headers();
    let (handler, rx) = recorder();
    let service = WebhookService::new(config(), handler);
    let (status, _) = read(service.clone().oneshot(broken).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    drop(service);
    assert!(drain(rx).await.is_empty());
}

#[tokio::test]
async fn a_duplicate_delivery_runs_the_handler_once() {
    let sent = event(Some("evt_dup"), "hello");
    let first = delivery(&sent);
    // TalkJS's retry is signed again, at a later time; a replay repeats the same request.
    let retry = first
        .clone()
        .at(std::time::SystemTime::now() + Duration::from_secs(2));
    assert_ne!(retry.signature(), first.signature());
    let requests = vec![
        first.to_request(uri()),
        retry.to_request(uri()),
        first.to_request(uri()),
    ];
    let (answers, handled) = run(config(), requests).await;
    // Every delivery is answered 200, so TalkJS stops retrying.
    assert_eq!(
        answers,
        [
            (StatusCode::OK, "ok".to_owned()),
            (StatusCode::OK, "duplicate".to_owned()),
            (StatusCode::OK, "duplicate".to_owned()),
        ]
    );
    assert_eq!(handled, [sent]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_run_the_handler_once() {
    let (handler, rx) = recorder();
    let service = WebhookService::new(config(), handler);
    let sent = event(Some("evt_race"), "hello");
    let signed = delivery(&sent);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let service = service.clone();
        let request = signed.to_request(uri());
        tasks.spawn(async move { read(service.oneshot(request).await.unwrap()).await });
    }
    let mut oks = 0;
    let mut duplicates = 0;
    while let Some(answer) = tasks.join_next().await {
        let (status, text) = answer.unwrap();
        assert_eq!(status, StatusCode::OK);
        match text.as_str() {
            "ok" => oks += 1,
            "duplicate" => duplicates += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((oks, duplicates), (1, 19));
    drop(service);
    assert_eq!(drain(rx).await, [sent]);
}

#[tokio::test]
async fn events_without_an_id_are_handled_every_time() {
    let sent = event(None, "no id");
    let signed = delivery(&sent);
    let (answers, handled) = run(
        config(),
        vec![signed.to_request(uri()), signed.to_request(uri())],
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|(status, text)| *status == StatusCode::OK && text == "ok")
    );
    assert_eq!(handled, [sent.clone(), sent]);
}

#[tokio::test]
async fn without_dedupe_every_delivery_is_handled() {
    let config = config().without_dedupe();
    assert!(!config.dedupes());
    let signed = delivery(&event(Some("evt_1"), "hello"));
    let (_, handled) = run(
        config,
        vec![signed.to_request(uri()), signed.to_request(uri())],
    )
    .await;
    assert_eq!(handled.len(), 2);
}

/// A memory store whose first `failures` calls fail: `after` the work is done (the claim is
/// recorded, only the answer is lost, as when Redis times out after its write) or before
/// it. Counts its calls.
struct Flaky {
    inner: MemoryDedupeStore,
    failures: AtomicUsize,
    after: bool,
    claims: AtomicUsize,
    releases: AtomicUsize,
}

impl Flaky {
    fn new(failures: usize, after: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryDedupeStore::new(),
            failures: AtomicUsize::new(failures),
            after,
            claims: AtomicUsize::new(0),
            releases: AtomicUsize::new(0),
        })
    }

    /// Whether this call fails (one of the first `failures`).
    fn fails(&self) -> bool {
        self.failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn error() -> DedupeError {
        DedupeError::new("the store did not answer in time")
    }
}

impl DedupeStore for Flaky {
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        Box::pin(async move {
            self.claims.fetch_add(1, Ordering::SeqCst);
            if !self.after && self.fails() {
                return Err(Self::error());
            }
            let held = self.inner.claim(id, token, ttl).await?;
            if self.after && self.fails() {
                return Err(Self::error());
            }
            Ok(held)
        })
    }

    fn release<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), DedupeError>> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        self.inner.release(id, token)
    }
}

#[tokio::test]
async fn a_store_failing_after_it_recorded_the_claim_loses_no_event() {
    // The claim is recorded but its answer lost: 500, and the retry finds the claim.
    let store = Flaky::new(1, true);
    let config = config().with_dedupe_store(Arc::clone(&store));
    let signed = delivery(&event(Some("evt_1"), "hello"));
    let (answers, handled) = run(
        config,
        vec![signed.to_request(uri()), signed.to_request(uri())],
    )
    .await;
    assert_eq!(answers[0].0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answers[1], (StatusCode::OK, "duplicate".to_owned()));
    // The first delivery asked again, found its own claim and handled the event: once.
    assert_eq!(handled, [event(Some("evt_1"), "hello")]);
    assert!(store.claims.load(Ordering::SeqCst) >= 3);
    assert_eq!(store.releases.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_store_failing_before_it_recorded_the_claim_loses_no_event() {
    let store = Flaky::new(1, false);
    let config = config().with_dedupe_store(Arc::clone(&store));
    let signed = delivery(&event(Some("evt_1"), "hello"));
    let (answers, handled) = run(
        config,
        vec![signed.to_request(uri()), signed.to_request(uri())],
    )
    .await;
    assert_eq!(answers[0].0, StatusCode::INTERNAL_SERVER_ERROR);
    // Whichever claimed it (the first delivery asking again, or the retry) handled it.
    assert_eq!(answers[1].0, StatusCode::OK);
    assert_eq!(handled, [event(Some("evt_1"), "hello")]);
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_gets_500s_and_is_asked_until_the_ttl() {
    let store = Flaky::new(usize::MAX, false);
    let config = config()
        .with_dedupe_store(Arc::clone(&store))
        .with_dedupe_ttl(Duration::from_secs(10));
    let (answers, handled) = run(
        config,
        vec![delivery(&event(Some("evt_1"), "hello")).to_request(uri())],
    )
    .await;
    assert_eq!(answers[0].0, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(handled.is_empty());
    // Asked again, backing off (50 ms doubling to 5 s) for the 10 s time to live: ten times
    // in all, not in a tight loop and not forever (the handler's holders are all gone).
    let claims = store.claims.load(Ordering::SeqCst);
    assert!((5..=20).contains(&claims), "{claims} claims");
}

#[tokio::test]
async fn receive_withdraws_a_claim_whose_answer_was_lost_so_the_retry_is_handled() {
    let store = Flaky::new(1, true);
    let config = config().with_dedupe_store(Arc::clone(&store));
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    let first = config.receive(signed.to_request(uri())).await.unwrap_err();
    assert!(matches!(first, WebhookRejection::Store(_)), "{first:?}");
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // The claim was recorded; it is withdrawn on a task of its own.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !store.inner.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never withdrawn");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(store.releases.load(Ordering::SeqCst), 1);
    // TalkJS's retry is handled, and the one after it is a duplicate.
    assert_eq!(
        config.receive(signed.to_request(uri())).await.unwrap(),
        sent
    );
    let again = config.receive(signed.to_request(uri())).await.unwrap_err();
    assert!(
        matches!(again, WebhookRejection::Duplicate { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_empty_secret_key_answers_500() {
    let config = WebhookConfig::new(SecretKey::new(""));
    let status = refused(
        config,
        delivery(&event(Some("evt_1"), "x")).to_request(uri()),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_answer_does_not_wait_for_the_handler() {
    let release = Arc::new(Notify::new());
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let handler = {
        let release = Arc::clone(&release);
        move |event: WebhookEvent| {
            let release = Arc::clone(&release);
            let done_tx = done_tx.clone();
            async move {
                // Cannot finish before the test has its answer.
                release.notified().await;
                let _ = done_tx.send(event);
            }
        }
    };
    let service = WebhookService::new(config(), handler);
    let sent = event(Some("evt_slow"), "hello");
    let (status, _) = send(&service, delivery(&sent).to_request(uri())).await;
    assert_eq!(status, StatusCode::OK);
    // The handler is still waiting; let it finish.
    release.notify_one();
    let finished = tokio::time::timeout(PATIENCE, done_rx.recv())
        .await
        .unwrap();
    assert_eq!(finished, Some(sent));
}

#[tokio::test]
async fn the_channel_handler_streams_the_events() {
    let (handler, mut events) = channel(8);
    let service = WebhookService::new(config(), handler);
    let sent: Vec<WebhookEvent> = (0..5)
        .map(|i| event(Some(&format!("evt_{i}")), &format!("message {i}")))
        .collect();
    for e in &sent {
        let (status, _) = send(&service, delivery(e).to_request(uri())).await;
        assert_eq!(status, StatusCode::OK);
    }
    // A duplicate is not streamed.
    send(&service, delivery(&sent[0]).to_request(uri())).await;
    drop(service);
    let mut received = Vec::new();
    while let Some(e) = tokio::time::timeout(PATIENCE, events.next()).await.unwrap() {
        received.push(e);
    }
    received.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(received, sent);
}

#[tokio::test]
async fn receive_gives_the_event_or_the_rejection() {
    let config = config();
    let sent = event(Some("evt_1"), "hello");
    let received = config.receive(delivery(&sent).to_request(uri())).await;
    assert_eq!(received.unwrap(), sent);
    let again = config.receive(delivery(&sent).to_request(uri())).await;
    assert!(matches!(again, Err(WebhookRejection::Duplicate { ref id }) if id == "evt_1"));
    let stale = config
        .receive(signed_ago(&sent, Duration::from_secs(3600)).to_request(uri()))
        .await
        .unwrap_err();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert!(matches!(stale, WebhookRejection::Unauthorized(_)));
    assert_eq!(stale.to_response().status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn debug_output_never_shows_the_secret() {
    let config = config();
    let signed = delivery(&event(Some("evt_1"), "hello"));
    let (handler, _rx) = recorder();
    let service = WebhookService::new(config.clone(), handler);
    for text in [
        format!("{config:?}"),
        format!("{signed:?}"),
        format!("{service:?}"),
    ] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("WEBHOOK_SECRET"), "{text}");
    }
}

#[test]
fn a_signed_delivery_verifies_with_talkjs_auth() {
    let sent = event(Some("evt_1"), "hello");
    let signed = delivery(&sent);
    let verifier = WebhookVerifier::new(secret());
    let decoded = verifier
        .verify(signed.body(), signed.timestamp(), &signed.signature())
        .unwrap();
    assert_eq!(decoded, sent);
    let headers = signed.headers();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["X-TalkJS-Timestamp"], signed.timestamp());
    assert_eq!(headers["X-TalkJS-Signature"], signed.signature().as_str());
    let request = signed.to_request(uri());
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri(), "/talkjs");

    // `at` moves the timestamp (milliseconds) and the signature with it.
    let epoch_plus = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let moved = signed.clone().at(epoch_plus);
    assert_eq!(moved.timestamp(), "1700000000123");
    assert_ne!(moved.signature(), signed.signature());
    assert!(
        verifier
            .verify_at(
                moved.body(),
                moved.timestamp(),
                &moved.signature(),
                epoch_plus
            )
            .is_ok()
    );
}
