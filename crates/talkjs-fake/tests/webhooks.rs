//! Webhook events: recorded, and delivered signed to a receiver, with and without faults.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Api;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use talkjs_auth::WebhookVerifier;
use talkjs_fake::{FakeTalkJs, WebhookDelivery, WebhookFaults};
use talkjs_models::{MessageEventData, WebhookData, WebhookEvent, WebhookEventType};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One request the receiver got.
#[derive(Debug)]
struct Hit {
    timestamp: String,
    signature: String,
    body: Bytes,
    /// When it arrived, by tokio's clock.
    at: Instant,
}

impl Hit {
    /// Checks the signature and decodes the event.
    fn verify(&self, verifier: &WebhookVerifier) -> WebhookEvent {
        verifier
            .verify(&self.body, &self.timestamp, &self.signature)
            .unwrap()
    }
}

/// A receiver that forwards every request it gets and answers 200, or never answers
/// (`answer: false`).
async fn receiver_that(answer: bool) -> (String, mpsc::UnboundedReceiver<Hit>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let at = Instant::now();
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .map(|v| v.to_str().unwrap().to_owned())
                                .unwrap_or_default()
                        };
                        let timestamp = header("x-talkjs-timestamp");
                        let signature = header("x-talkjs-signature");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send(Hit {
                            timestamp,
                            signature,
                            body,
                            at,
                        });
                        if !answer {
                            std::future::pending::<()>().await;
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

/// A receiver that answers 200.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Hit>) {
    receiver_that(true).await
}

/// The next request the receiver gets (within a minute, by tokio's clock).
async fn next(hits: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(Duration::from_secs(60), hits.recv())
        .await
        .expect("a webhook delivery within a minute")
        .unwrap()
}

/// Waits (up to a minute, by tokio's clock) until the delivery log has `n` entries.
async fn log_of(fake: &FakeTalkJs, n: usize) -> Vec<WebhookDelivery> {
    for _ in 0..6000 {
        let log = fake.webhook_deliveries();
        if log.len() >= n {
            assert_eq!(log.len(), n, "{log:#?}");
            return log;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{} deliveries logged, not {n}",
        fake.webhook_deliveries().len()
    );
}

/// Creates users `u0`..`u{n-1}` in one batch per 100 (one `user.created` event each).
async fn many_users(api: &Api, n: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
    for chunk in ids.chunks(100) {
        let body: serde_json::Map<String, serde_json::Value> = chunk
            .iter()
            .map(|id| (id.clone(), json!({ "name": id })))
            .collect();
        let r = api.put("/users", &serde_json::Value::Object(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

/// The ids of the events the fake produced, in order.
fn event_ids(fake: &FakeTalkJs) -> Vec<String> {
    fake.events().into_iter().map(|e| e.id.unwrap()).collect()
}

#[tokio::test]
async fn events_are_recorded_and_delivered_signed() {
    let (url, mut deliveries) = receiver().await;
    let api = Api::with(FakeTalkJs::builder().webhook_url(url)).await;
    api.users(&["alice"]).await;
    api.put("/users/alice", &json!({ "locale": "en" })).await;
    api.conversation("c", &["alice"]).await;
    let id = api.say("c", "alice", "hello").await;

    let types: Vec<WebhookEventType> = api
        .fake
        .events()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            WebhookEventType::UserCreated,
            WebhookEventType::UserUpdated,
            WebhookEventType::MessageSent
        ]
    );

    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(next(&mut deliveries).await.verify(&verifier));
    }
    assert_eq!(received[0].event_type, WebhookEventType::UserCreated);
    assert_eq!(received[2].event_type, WebhookEventType::MessageSent);
    let data: MessageEventData = received[2].data_as().unwrap();
    assert_eq!(data.message.unwrap().id, id.as_str());
    assert_eq!(data.sender.unwrap().id, "alice");
    assert!(
        data.conversation
            .unwrap()
            .participants
            .contains_key("alice")
    );
    assert!(received[2].id.as_deref().unwrap().starts_with("evt_"));

    // The delivery log fills in once the receiver answered: in order, no faults.
    let log = log_of(&api.fake, 3).await;
    assert!(log.iter().all(|d| d.succeeded() && d.attempts == 1));
    assert!(
        log.iter()
            .all(|d| !d.dropped && !d.duplicated && d.delay.is_zero())
    );
    assert_eq!(log.iter().map(|d| d.seq).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(api.fake.webhook_faults(), WebhookFaults::none());
}

#[tokio::test]
async fn non_http_webhook_urls_are_refused() {
    let result = FakeTalkJs::builder()
        .webhook_url("https://example.com/hook")
        .start()
        .await;
    assert!(matches!(result, Err(talkjs_fake::Error::Config(_))));
}

#[tokio::test]
async fn every_event_has_the_documented_shape() {
    let api = Api::start().await;
    api.users(&["alice", "bob"]).await;
    api.put("/users/bob", &json!({ "role": "seller" })).await;
    api.conversation("c", &["alice", "bob"]).await;
    let id = api.say("c", "alice", "hello").await;
    let r = api.post("/conversations/c/readBy/bob", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api
        .put(
            &format!("/conversations/c/messages/{id}"),
            &json!({ "text": "hello!" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.delete(&format!("/conversations/c/messages/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.delete("/conversations/c").await;
    assert_eq!(r.status, 200, "{}", r.text);

    let events = api.fake.events();
    for event in &events {
        assert!(event.id.as_deref().unwrap().starts_with("evt_"));
        assert!(event.created_at.is_some());
        // What a receiver decodes from the wire is typed, never the raw fallback.
        let wire: WebhookEvent =
            serde_json::from_slice(&serde_json::to_vec(event).unwrap()).unwrap();
        assert_eq!(&wire, event);
        assert!(
            !matches!(wire.data, WebhookData::Other(_)),
            "{}: {:?}",
            event.event_type,
            wire.data
        );
    }
    let find = |kind: WebhookEventType| {
        events
            .iter()
            .find(|e| e.event_type == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
    };
    let WebhookData::MessageSent(sent) = &find(WebhookEventType::MessageSent).data else {
        unreachable!()
    };
    assert_eq!(sent.sender.as_ref().unwrap().id, "alice");
    assert_eq!(sent.message.as_ref().unwrap().id, id.as_str());
    assert!(
        sent.conversation
            .as_ref()
            .unwrap()
            .participants
            .contains_key("bob")
    );
    let WebhookData::MessageRead(read) = &find(WebhookEventType::MessageRead).data else {
        unreachable!()
    };
    assert_eq!(
        read.recipient.as_ref().unwrap().id,
        "bob",
        "the reader is the recipient"
    );
    assert_eq!(
        read.recipient.as_ref().unwrap().role.as_deref(),
        Some("seller")
    );
    assert_eq!(read.message.as_ref().unwrap().id, id.as_str());
    assert!(read.conversation.is_some());
    let WebhookData::MessageUpdated(updated) = &find(WebhookEventType::MessageUpdated).data else {
        unreachable!()
    };
    assert_eq!(
        updated.message.as_ref().unwrap().text.as_deref(),
        Some("hello!")
    );
    assert!(matches!(
        find(WebhookEventType::MessageDeleted).data,
        WebhookData::MessageDeleted(_)
    ));
    let WebhookData::ConversationDeleted(deleted) =
        &find(WebhookEventType::ConversationDeleted).data
    else {
        unreachable!()
    };
    assert_eq!(deleted.conversation.as_ref().unwrap().id, "c");
    let WebhookData::UserUpdated(user) = &find(WebhookEventType::UserUpdated).data else {
        unreachable!()
    };
    assert_eq!(user.user.as_ref().unwrap().id, "bob");
}

#[tokio::test]
async fn a_drop_rate_of_one_delivers_nothing() {
    let (url, mut hits) = receiver().await;
    let faults = WebhookFaults::seeded(1).drop_rate(1.0);
    let api = Api::with(
        FakeTalkJs::builder()
            .webhook_url(url)
            .webhook_faults(faults),
    )
    .await;
    assert_eq!(api.fake.webhook_faults(), faults);
    many_users(&api, 20).await;

    let log = log_of(&api.fake, 20).await;
    assert!(
        log.iter()
            .all(|d| d.dropped && d.attempts == 0 && d.status.is_none() && !d.succeeded()),
        "{log:#?}"
    );
    let ids = event_ids(&api.fake);
    let logged: Vec<String> = log.iter().map(|d| d.event_id.clone().unwrap()).collect();
    assert_eq!(logged, ids, "dropped events are logged at once, in order");

    // Faults off at runtime: the next event is the first the receiver ever sees.
    api.fake.set_webhook_faults(WebhookFaults::none());
    api.users(&["late"]).await;
    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let event = next(&mut hits).await.verify(&verifier);
    assert_eq!(event.id, api.fake.events().last().unwrap().id);
    let log = log_of(&api.fake, 21).await;
    assert!(log[20].succeeded() && !log[20].dropped && log[20].seq == 20);
    assert!(hits.try_recv().is_err(), "a dropped event was delivered");
}

#[tokio::test]
async fn drops_are_reproducible_from_the_seed() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (url, _hits) = receiver().await;
        let faults = WebhookFaults::seeded(42).drop_rate(0.5);
        let api = Api::with(
            FakeTalkJs::builder()
                .webhook_url(url)
                .webhook_faults(faults),
        )
        .await;
        many_users(&api, 40).await;
        let log = log_of(&api.fake, 40).await;
        let dropped: BTreeSet<u64> = log.iter().filter(|d| d.dropped).map(|d| d.seq).collect();
        assert!(
            log.iter()
                .filter(|d| !d.dropped)
                .all(WebhookDelivery::succeeded),
            "{log:#?}"
        );
        runs.push(dropped);
    }
    assert_eq!(runs[0], runs[1], "the same seed drops the same events");
    assert!(
        (5..=35).contains(&runs[0].len()),
        "about half dropped: {:?}",
        runs[0]
    );
}

#[tokio::test]
async fn a_duplicate_rate_of_one_delivers_every_event_twice() {
    let (url, mut hits) = receiver().await;
    let faults = WebhookFaults::seeded(3).duplicate_rate(1.0);
    let api = Api::with(
        FakeTalkJs::builder()
            .webhook_url(url)
            .webhook_faults(faults),
    )
    .await;
    api.users(&["alice", "bob"]).await;
    api.conversation("c", &["alice", "bob"]).await;
    api.say("c", "alice", "hello").await;
    let ids = event_ids(&api.fake);
    assert_eq!(ids.len(), 3);

    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let mut copies: BTreeMap<String, Vec<WebhookEvent>> = BTreeMap::new();
    for _ in 0..6 {
        // Every copy carries a valid signature of its own.
        let event = next(&mut hits).await.verify(&verifier);
        copies
            .entry(event.id.clone().unwrap())
            .or_default()
            .push(event);
    }
    assert_eq!(
        copies.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect()
    );
    for (id, events) in &copies {
        assert_eq!(events.len(), 2, "{id}");
        assert_eq!(events[0], events[1], "the same event, twice");
    }
    let log = log_of(&api.fake, 3).await;
    assert!(
        log.iter()
            .all(|d| d.duplicated && !d.dropped && d.attempts == 2 && d.succeeded()),
        "{log:#?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(hits.try_recv().is_err(), "no third copy");
}

#[tokio::test]
async fn reorder_changes_the_order_and_delivers_everything_once() {
    let (url, mut hits) = receiver().await;
    let faults = WebhookFaults::seeded(5)
        .reorder(true)
        .delay_jitter(Duration::from_millis(500));
    let api = Api::with(
        FakeTalkJs::builder()
            .webhook_url(url)
            .webhook_faults(faults),
    )
    .await;
    many_users(&api, 50).await;
    let produced = event_ids(&api.fake);
    assert_eq!(produced.len(), 50);

    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let mut arrived = Vec::new();
    for _ in 0..50 {
        arrived.push(next(&mut hits).await.verify(&verifier).id.unwrap());
    }
    let position: BTreeMap<&String, usize> =
        produced.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let order: Vec<usize> = arrived.iter().map(|id| position[id]).collect();
    let unique: BTreeSet<usize> = order.iter().copied().collect();
    assert_eq!(unique.len(), 50, "every event exactly once: {order:?}");
    assert!(
        order.windows(2).any(|w| w[0] > w[1]),
        "some event overtook an earlier one: {order:?}"
    );

    let log = log_of(&api.fake, 50).await;
    assert!(
        log.iter()
            .all(|d| d.succeeded() && d.attempts == 1 && !d.dropped && !d.duplicated),
        "{log:#?}"
    );
    assert!(log.iter().all(|d| d.delay < Duration::from_millis(500)));
    let seqs: Vec<u64> = log.iter().map(|d| d.seq).collect();
    assert!(seqs.windows(2).any(|w| w[0] > w[1]), "{seqs:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(hits.try_recv().is_err(), "no event twice");
}

// On tokio's paused clock: the fake's webhook timeouts, retry pause and delays read
// tokio's clock, which jumps ahead whenever every task waits for a timer, so the 5 s
// timeouts pass at once and the times below are exact, however slow the machine.

#[tokio::test(start_paused = true)]
async fn a_receiver_that_never_answers_gets_two_attempts_of_five_seconds() {
    let (url, mut hits) = receiver_that(false).await;
    let api = Api::with(FakeTalkJs::builder().webhook_url(url)).await;
    api.users(&["alice", "bob", "carol"]).await;
    let ids = event_ids(&api.fake);

    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let mut arrivals: Vec<(String, Instant)> = Vec::new();
    for _ in 0..6 {
        let hit = next(&mut hits).await;
        arrivals.push((hit.verify(&verifier).id.unwrap(), hit.at));
    }
    let log = log_of(&api.fake, 3).await;
    assert!(
        log.iter()
            .all(|d| d.attempts == 2 && d.status.is_none() && !d.succeeded()),
        "{log:#?}"
    );
    // In order, each event twice: the first attempt, then 5 s of waiting and the
    // 500 ms pause before the retry; the next event after the retry's 5 s.
    let order: Vec<&str> = arrivals.iter().map(|(id, _)| id.as_str()).collect();
    let expected: Vec<&str> = ids
        .iter()
        .flat_map(|id| [id.as_str(), id.as_str()])
        .collect();
    assert_eq!(order, expected);
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1].1 - w[0].1).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let least = if i % 2 == 0 {
            Duration::from_millis(5500)
        } else {
            Duration::from_secs(5)
        };
        assert!(
            *gap >= least && *gap < least + Duration::from_millis(100),
            "gap {i}: {gap:?}"
        );
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(hits.try_recv().is_err(), "no third attempt");
}

#[tokio::test(start_paused = true)]
async fn a_delay_holds_each_delivery_but_not_the_request() {
    let (url, mut hits) = receiver().await;
    let faults = WebhookFaults::seeded(9)
        .delay(Duration::from_secs(3))
        .delay_jitter(Duration::from_secs(1));
    let api = Api::with(
        FakeTalkJs::builder()
            .webhook_url(url)
            .webhook_faults(faults),
    )
    .await;
    let t0 = Instant::now();
    api.users(&["alice", "bob"]).await;
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "the requests were held up"
    );

    let first = next(&mut hits).await;
    let second = next(&mut hits).await;
    assert!(
        first.at - t0 >= Duration::from_secs(3),
        "{:?}",
        first.at - t0
    );
    assert!(
        second.at - t0 < Duration::from_secs(5),
        "{:?}",
        second.at - t0
    );
    let log = log_of(&api.fake, 2).await;
    for d in &log {
        assert!(d.succeeded());
        assert!(d.delay >= Duration::from_secs(3) && d.delay < Duration::from_secs(4));
    }
}

#[tokio::test]
async fn no_message_read_is_sent_for_more_than_300_participants() {
    let (url, mut hits) = receiver().await;
    let api = Api::with(FakeTalkJs::builder().webhook_url(url)).await;
    // Setting up: 301 users and their events, all dropped (nothing to deliver).
    api.fake
        .set_webhook_faults(WebhookFaults::seeded(0).drop_rate(1.0));
    many_users(&api, 301).await;
    let everyone: Vec<String> = (0..301).map(|i| format!("u{i}")).collect();
    let r = api
        .put("/conversations/big", &json!({ "participants": everyone }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    api.conversation("small", &["u0", "u1"]).await;
    api.say("big", "u0", "hello all").await;
    api.say("small", "u0", "hello you").await;
    let setup = api.fake.events().len();
    api.fake.set_webhook_faults(WebhookFaults::none());

    for conversation in ["big", "small"] {
        let r = api
            .post(
                &format!("/conversations/{conversation}/readBy/u1"),
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let events = api.fake.events();
    assert_eq!(events.len(), setup + 2, "both reads are recorded");
    let small_read = events.last().unwrap();

    // In order: the small conversation's read is the first delivery, nothing came before.
    let verifier = WebhookVerifier::new(api.fake.secret_key_typed());
    let delivered = next(&mut hits).await.verify(&verifier);
    assert_eq!(delivered.event_type, WebhookEventType::MessageRead);
    assert_eq!(delivered.id, small_read.id);
    let log = log_of(&api.fake, setup + 1).await;
    let reads: Vec<&WebhookDelivery> = log.iter().filter(|d| !d.dropped).collect();
    assert_eq!(reads.len(), 1, "{reads:#?}");
    assert_eq!(reads[0].event_id, small_read.id);
    assert_eq!(reads[0].seq, u64::try_from(setup + 1).unwrap());
    assert!(hits.try_recv().is_err());
}
