//! Production's faults ([`Faults`]): late writes, listing lag, clock skew, slow answers,
//! injected 429s; each one happens, has the documented effect, and replays from its seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::Api;
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use talkjs_fake::{FakeTalkJs, FaultCounts, Faults, RateLimitConfig};
use talkjs_models::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;

// Most tests run on tokio's paused clock (`start_paused`): the fake's delays, lags and late
// writes follow tokio's clock, which moves only when the test advances it or when every
// task is idle (then it jumps to the next timer). A test sends a request and gets its
// answer without the clock moving unless a timer of that request is due first.

/// Asserts the paused clock has not moved since `at`.
fn still(at: Instant) {
    assert_eq!(Instant::now(), at, "the paused clock moved");
}

/// A fake with users `a` and `b` and conversation `c` of both, made before any fault.
async fn with_chat() -> Api {
    let api = Api::start().await;
    api.users(&["a", "b"]).await;
    api.conversation("c", &["a", "b"]).await;
    api
}

/// The body of a send of one message from `a`.
fn message(text: &str) -> Value {
    json!([{ "type": "UserMessage", "sender": "a", "text": text }])
}

/// The texts of the messages stored in conversation `c`, oldest first.
fn texts(api: &Api) -> Vec<String> {
    api.fake
        .messages("c")
        .into_iter()
        .map(|m| m.text.unwrap_or_default())
        .collect()
}

/// The ids in a list answer (`{"data": [...]}`).
fn ids(r: &common::Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A send to conversation `c`: `Some(status)`, or `None` when the connection was closed
/// without an answer.
async fn try_send(api: &Api, text: &str) -> Option<u16> {
    let request = api.request(
        Method::POST,
        "/conversations/c/messages",
        Some(&message(text)),
    );
    api.send(request).await.ok().map(|r| r.status)
}

#[tokio::test(start_paused = true)]
async fn a_late_write_loses_its_answer_and_lands_after_the_delay() {
    let api = with_chat().await;
    let delay = Duration::from_secs(2);
    let jitter = Duration::from_secs(1);
    api.fake.set_faults(
        Faults::seeded(11)
            .late_write_rate(1.0)
            .late_write_delay(delay)
            .late_write_jitter(jitter),
    );
    let events_before = api.fake.events().len();
    let t0 = Instant::now();
    let mut resets = 0;
    let mut timeouts = 0;
    for i in 0..10 {
        match try_send(&api, &format!("m{i}")).await {
            None => resets += 1,
            Some(504) => timeouts += 1,
            Some(other) => panic!("a late write answered {other}"),
        }
    }
    // Reads are never late writes: a GET is answered normally.
    assert_eq!(api.get("/conversations/c").await.status, 200);
    still(t0);
    // Both ways of losing the answer happen, and nothing has landed yet.
    assert!(
        resets > 0 && timeouts > 0,
        "{resets} resets, {timeouts} 504s"
    );
    assert_eq!(api.fake.status_count(504), timeouts);
    assert!(texts(&api).is_empty());
    assert_eq!(api.fake.events().len(), events_before);
    let counts = api.fake.fault_counts();
    assert_eq!(counts.late_writes, 10);
    assert_eq!(counts.late_writes_applied, 0);
    assert_eq!(
        counts.resets, 0,
        "a late write's reset is not a plain reset"
    );
    assert_eq!(api.fake.reset_count(), 0);

    // Not before the delay of 2 s (the jitter only adds)...
    tokio::time::sleep(Duration::from_millis(1999)).await;
    assert!(texts(&api).is_empty());
    assert_eq!(api.fake.fault_counts().late_writes_applied, 0);
    // ...and all of them by the delay plus the jitter: stored, and their webhook events
    // produced, although every client is gone.
    tokio::time::sleep(jitter + Duration::from_millis(2)).await;
    let counts = api.fake.fault_counts();
    assert_eq!(counts.late_writes_applied, 10);
    let mut landed = texts(&api);
    landed.sort();
    let mut expected: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(landed, expected);
    assert_eq!(api.fake.events().len(), events_before + 10);
    let listed = api.get("/conversations/c/messages?limit=100").await;
    assert_eq!(ids(&listed).len(), 10);
}

#[tokio::test(start_paused = true)]
async fn a_late_write_is_checked_like_any_request_first_and_may_have_no_effect() {
    let api = with_chat().await;
    let delay = Duration::from_secs(1);
    api.fake.set_faults(
        Faults::seeded(5)
            .late_write_rate(1.0)
            .late_write_delay(delay),
    );

    // Authentication is checked first: a 401 is answered, and nothing happens later.
    let mut bad = api.request(
        Method::POST,
        "/conversations/c/messages",
        Some(&message("x")),
    );
    bad.headers_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(api.send(bad).await.unwrap().status, 401);
    assert_eq!(api.fake.fault_counts().late_writes, 0);

    // A write that fails validation when it is applied has no effect (here, a missing
    // conversation); its answer was lost all the same.
    let request = api.request(
        Method::POST,
        "/conversations/nowhere/messages",
        Some(&message("lost")),
    );
    let answer = api.send(request).await.ok().map(|r| r.status);
    assert!(matches!(answer, None | Some(504)), "{answer:?}");
    tokio::time::sleep(delay + Duration::from_millis(1)).await;
    let counts = api.fake.fault_counts();
    assert_eq!((counts.late_writes, counts.late_writes_applied), (1, 1));
    assert!(api.fake.conversation("nowhere").is_none());
    assert_eq!(api.fake.message_count(), 0);

    // The rate limit is checked first too: a 429 is answered normally.
    api.fake.set_rate_limit(RateLimitConfig {
        burst: 1,
        per_second: 0.001,
        ..RateLimitConfig::TALKJS
    });
    let t0 = Instant::now();
    let first = try_send(&api, "first").await;
    assert!(matches!(first, None | Some(504)), "{first:?}");
    let second = api
        .post("/conversations/c/messages", &message("second"))
        .await;
    assert_eq!(second.status, 429, "{}", second.text);
    still(t0);
    assert_eq!(api.fake.fault_counts().late_writes, 2);
    tokio::time::sleep(delay + Duration::from_millis(1)).await;
    assert_eq!(texts(&api), ["first"]);
}

#[tokio::test(start_paused = true)]
async fn listing_lag_hides_new_messages_and_conversations_from_listings_only() {
    let api = with_chat().await;
    let first = api.say("c", "a", "before the lag").await;
    let lag = Duration::from_secs(3);
    // A skew of a second, so that the new messages are newer than `first` by the clock too.
    api.fake
        .set_faults(Faults::seeded(1).listing_lag(lag).clock_skew_ms(1000));
    let t0 = Instant::now();

    let second = api.say("c", "b", "lagging").await;
    api.conversation("d", &["a", "b"]).await;
    let imported = api
        .post(
            "/import/conversations/c/messages",
            &json!([{ "type": "UserMessage", "sender": "a", "text": "imported",
                      "timestamp": 1_000, "readBy": [] }]),
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    let imported = imported.body[0]["id"].as_str().unwrap().to_owned();
    still(t0);

    // By id: there at once.
    assert_eq!(
        api.get(&format!("/conversations/c/messages/{second}"))
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/conversations/c/messages/{imported}"))
            .await
            .status,
        200
    );
    assert_eq!(api.get("/conversations/d").await.status, 200);
    // In listings: not yet.
    assert_eq!(
        ids(&api.get("/conversations/c/messages").await),
        std::slice::from_ref(&first)
    );
    assert_eq!(ids(&api.get("/conversations").await), ["c"]);
    assert_eq!(ids(&api.get("/users/a/conversations").await), ["c"]);
    // A conversation's lastMessage and the lastMessage filters see the listed messages only.
    let listed = api.get("/conversations").await;
    assert_eq!(listed.body["data"][0]["lastMessage"]["id"], first.as_str());
    let first_at = api.fake.messages("c")[1].created_at.as_millis();
    let after = api
        .get(&format!("/conversations?lastMessageAfter={first_at}"))
        .await;
    assert!(ids(&after).is_empty(), "{}", after.text);
    let mine = api.get("/users/b/conversations").await;
    assert_eq!(mine.body["data"][0]["lastMessage"]["id"], first.as_str());
    // Inside a batch too.
    let batch = api
        .post(
            "/batch",
            &json!([
                [1, "GET", "/conversations/c/messages"],
                [2, "GET", "/conversations"]
            ]),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    for result in batch.body.as_array().unwrap() {
        let body: Value = serde_json::from_str(result[2].as_str().unwrap()).unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    }
    // The fake's own view is not lagged.
    assert_eq!(api.fake.messages("c").len(), 3);
    still(t0);

    // Just before the lag of 3 s: still hidden; at the lag: listed.
    tokio::time::advance(Duration::from_millis(2999)).await;
    assert_eq!(ids(&api.get("/conversations/c/messages").await).len(), 1);
    tokio::time::advance(Duration::from_millis(1)).await;
    let messages = ids(&api.get("/conversations/c/messages").await);
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0], second, "newest first: {messages:?}");
    assert!(messages.contains(&imported));
    let mut conversations = ids(&api.get("/conversations").await);
    conversations.sort();
    assert_eq!(conversations, ["c", "d"]);
    let after = api
        .get(&format!("/conversations?lastMessageAfter={first_at}"))
        .await;
    assert_eq!(ids(&after), ["c"]);
    assert_eq!(after.body["data"][0]["lastMessage"]["id"], second.as_str());
}

/// A receiver of webhooks that sends on `hits` each request's `X-TalkJS-Timestamp` and body,
/// and answers 200.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, Bytes)>) {
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
                        use http_body_util::BodyExt as _;
                        let timestamp = req
                            .headers()
                            .get("x-talkjs-timestamp")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let _ = tx.send((timestamp, body));
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

/// Asserts `stamped` is `skew` milliseconds off the time between `before` and `after`
/// (the system clock), give or take a minute.
fn assert_skewed(what: &str, stamped: u64, before: u64, after: u64, skew: i64) {
    let low = before.saturating_add_signed(skew - 60_000);
    let high = after.saturating_add_signed(skew + 60_000);
    assert!(
        (low..=high).contains(&stamped),
        "{what}: {stamped} is not {skew} ms off [{before}, {after}]"
    );
}

#[tokio::test]
async fn clock_skew_shifts_every_time_the_fake_stamps_but_not_imported_timestamps() {
    for skew in [-86_400_000_i64, 86_400_000] {
        let (url, mut hits) = receiver().await;
        let api = Api::with(
            FakeTalkJs::builder()
                .webhook_url(url)
                .faults(Faults::seeded(3).clock_skew_ms(skew)),
        )
        .await;
        let before = Timestamp::now().as_millis();
        api.users(&["a"]).await;
        api.conversation("c", &["a"]).await;
        let sent = api.say("c", "a", "hello").await;
        let imported = api
            .post(
                "/import/conversations/c/messages",
                &json!([{ "type": "UserMessage", "sender": "a", "text": "old",
                          "timestamp": 1_234, "readBy": [] }]),
            )
            .await;
        assert_eq!(imported.status, 200, "{}", imported.text);
        let after = Timestamp::now().as_millis();

        let user = api.get("/users/a").await;
        let conversation = api.get("/conversations/c").await;
        let message = api.get(&format!("/conversations/c/messages/{sent}")).await;
        for (what, value) in [
            ("user createdAt", &user.body["createdAt"]),
            ("conversation createdAt", &conversation.body["createdAt"]),
            (
                "joinedAt",
                &conversation.body["participants"]["a"]["joinedAt"],
            ),
            ("message createdAt", &message.body["createdAt"]),
        ] {
            let stamped = value.as_u64().unwrap_or_else(|| panic!("{what}: {value}"));
            assert_skewed(what, stamped, before, after, skew);
        }
        let old = api.fake.messages("c");
        assert_eq!(old[0].text.as_deref(), Some("old"));
        assert_eq!(
            old[0].created_at.as_millis(),
            1_234,
            "imported: kept as given"
        );

        // Webhook events: their createdAt and the X-TalkJS-Timestamp header.
        let events = api.fake.events();
        assert_eq!(events.len(), 2, "{events:?}"); // user.created, message.sent
        for event in &events {
            let at = event.created_at.unwrap().as_millis();
            assert_skewed("event createdAt", at, before, after, skew);
        }
        let mut seen = 0;
        while seen < events.len() {
            let (timestamp, body) = tokio::time::timeout(Duration::from_secs(60), hits.recv())
                .await
                .expect("a delivery within a minute")
                .unwrap();
            let header: u64 = timestamp.parse().unwrap();
            let now = Timestamp::now().as_millis();
            assert_skewed("X-TalkJS-Timestamp", header, before, now, skew);
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_skewed(
                "delivered createdAt",
                body["createdAt"].as_u64().unwrap(),
                before,
                after,
                skew,
            );
            seen += 1;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_answer_comes_after_the_delay_while_the_write_landed_at_once() {
    let api = with_chat().await;
    let slow = Duration::from_secs(40);
    api.fake
        .set_faults(Faults::seeded(2).slow_rate(1.0).slow_delay(slow));

    // A client that waits 30 s per attempt gives up...
    let request = api.request(
        Method::POST,
        "/conversations/c/messages",
        Some(&message("one")),
    );
    let t0 = Instant::now();
    let gave_up = tokio::time::timeout(Duration::from_secs(30), api.send(request)).await;
    assert!(
        gave_up.is_err(),
        "answered before the slow delay: {gave_up:?}"
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    // ...while the write had landed.
    assert_eq!(texts(&api), ["one"]);
    assert_eq!(api.fake.fault_counts().slow, 1);

    // A patient client gets the answer, after the delay.
    let t1 = Instant::now();
    let r = api.post("/conversations/c/messages", &message("two")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(t1.elapsed() >= slow, "{:?}", t1.elapsed());
    assert_eq!(texts(&api), ["one", "two"]);
    assert_eq!(api.fake.fault_counts().slow, 2);
}

#[tokio::test(start_paused = true)]
async fn throttling_answers_429_with_and_without_retry_after_and_stores_nothing() {
    let api = with_chat().await;
    api.fake.set_faults(Faults::seeded(9).throttle_rate(1.0));
    let t0 = Instant::now();
    let mut with = 0;
    let mut without = 0;
    for i in 0..12 {
        let r = api
            .post("/conversations/c/messages", &message(&format!("m{i}")))
            .await;
        assert_eq!(r.status, 429, "{}", r.text);
        assert_eq!(r.body["errorCode"], "RATE_LIMITED");
        match r.headers.get("retry-after") {
            Some(value) => {
                assert_eq!(value, "1");
                with += 1;
            }
            None => without += 1,
        }
    }
    still(t0);
    assert!(
        with > 0 && without > 0,
        "{with} with Retry-After, {without} without"
    );
    assert_eq!(api.fake.message_count(), 0);
    assert!(
        api.fake
            .events()
            .iter()
            .all(|e| e.event_type.as_str() != "message.sent")
    );
    let counts = api.fake.fault_counts();
    assert_eq!(counts.throttled, 12);
    assert_eq!(counts.throttled_without_retry_after, without);
    assert_eq!(api.fake.count_429(), 12);
    // Reads are throttled too.
    assert_eq!(api.get("/conversations/c").await.status, 429);
}

/// What one request got: its status (0: reset), whether it carried `Retry-After`, and
/// whether its answer took longer than `slow`.
type Outcome = (u16, bool, bool);

/// Sends a fixed mix of writes and reads, one after another; their outcomes.
async fn mixed_run(api: &Api, slow: Duration) -> Vec<Outcome> {
    let mut out = Vec::new();
    for i in 0..60 {
        let request = if i % 3 == 0 {
            api.request(Method::GET, "/conversations/c/messages", None)
        } else {
            api.request(
                Method::POST,
                "/conversations/c/messages",
                Some(&message(&format!("m{i}"))),
            )
        };
        let t0 = Instant::now();
        let outcome = match api.send(request).await {
            Ok(r) => (r.status, r.headers.contains_key("retry-after"), false),
            Err(_) => (0, false, false),
        };
        out.push((outcome.0, outcome.1, t0.elapsed() >= slow));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_fates() {
    let slow = Duration::from_secs(100);
    let faults = Faults::seeded(21)
        .reset_rate(0.1)
        .error_rate(0.1)
        .late_write_rate(0.2)
        .late_write_delay(Duration::from_secs(1000))
        .slow_rate(0.1)
        .slow_delay(slow)
        .throttle_rate(0.2);
    let first = with_chat().await;
    let second = with_chat().await;
    first.fake.set_faults(faults);
    second.fake.set_faults(faults);
    let a = mixed_run(&first, slow).await;
    let b = mixed_run(&second, slow).await;
    assert_eq!(a, b);
    let counts = first.fake.fault_counts();
    // (Late writes land as the paused clock moves: the first fake's while the second ran.)
    let fates = |c: FaultCounts| {
        [
            c.resets,
            c.unavailable,
            c.errors_after,
            c.late_writes,
            c.slow,
            c.throttled,
            c.throttled_without_retry_after,
        ]
    };
    assert_eq!(fates(counts), fates(second.fake.fault_counts()));
    // Every fate happened.
    for (what, n) in [
        ("resets", counts.resets),
        ("503s", counts.unavailable),
        ("500s", counts.errors_after),
        ("late writes", counts.late_writes),
        ("slow answers", counts.slow),
        ("429s", counts.throttled),
        (
            "429s without Retry-After",
            counts.throttled_without_retry_after,
        ),
    ] {
        assert!(n > 0, "no {what}: {counts:?}");
    }
    assert!(a.contains(&(200, false, false)), "{a:?}");
    assert!(a.contains(&(200, false, true)), "{a:?}");
    assert!(a.contains(&(504, false, false)) || a.contains(&(0, false, false)));
    // Reseeding replays the same sequence.
    first.fake.set_faults(faults);
    assert_eq!(mixed_run(&first, slow).await, a);
    // Another seed gives another.
    first.fake.set_faults(Faults { seed: 22, ..faults });
    assert_ne!(mixed_run(&first, slow).await, a);
    // Counters start again from zero.
    first.fake.reset_counters();
    assert_eq!(first.fake.fault_counts(), FaultCounts::default());
}

#[test]
fn every_new_setting_makes_the_faults_active() {
    let d = Duration::from_millis(1);
    assert!(!Faults::seeded(5).is_active());
    for faults in [
        Faults::none().late_write_rate(0.1),
        Faults::none().late_write_delay(d),
        Faults::none().late_write_jitter(d),
        Faults::none().listing_lag(d),
        Faults::none().clock_skew_ms(-1),
        Faults::none().slow_rate(0.1),
        Faults::none().slow_delay(d),
        Faults::none().throttle_rate(0.1),
    ] {
        assert!(faults.is_active(), "{faults:?}");
    }
}
