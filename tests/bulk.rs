//! The bulk runner (`client.bulk()`) against the in-process fake: a workload with bad records
//! mixed in lands every good record once, in order, and reports every bad one with its
//! reason; requests are packed as TalkJS allows; a shared limit is never exceeded. Under
//! faults (the fake's, and exact ones from wiremock and a resetting server), refused items
//! and items whose outcome is unknown are reported apart, and nothing is sent twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use talkjs::models::{
    ConversationUpsert, ImportMessage, NewMessage, ParticipantOverwrite, Timestamp, UserUpsert,
};
use talkjs::runtime::{ClientExt, bulk};
use talkjs::transport::{Quota, RateLimiter, RetryConfig};
use talkjs_fake::{FakeTalkJs, Faults, RateLimitConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn user(id: &str) -> bulk::Item {
    bulk::Item::User {
        id: id.to_owned(),
        user: UserUpsert::new().name(format!("User {id}")),
    }
}

fn conversation(id: &str, participants: &[&str]) -> bulk::Item {
    bulk::Item::Conversation {
        id: id.to_owned(),
        conversation: ConversationUpsert::new().participants(participants.iter().copied()),
    }
}

fn send(conversation: &str, sender: &str, text: &str) -> bulk::Item {
    bulk::Item::Send {
        conversation: conversation.to_owned(),
        message: NewMessage::user(sender, text).idempotency_key(format!("{conversation}-{text}")),
    }
}

#[tokio::test]
async fn a_workload_with_bad_records_lands_every_good_one_once_and_reports_the_bad_ones() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);

    let mut items = Vec::new();
    // 250 users, two of them bad (a new user needs a name): three PUT /users, split down to
    // the bad records.
    for i in 0..250 {
        if i == 17 || i == 140 {
            items.push(bulk::Item::User {
                id: format!("u{i}"),
                user: UserUpsert::new().email(["nameless@example.com"]),
            });
        } else {
            items.push(user(&format!("u{i}")));
        }
    }
    // 20 conversations of three users; one names a user that does not exist.
    for c in 0..20 {
        let members = [
            format!("u{}", 3 * c),
            format!("u{}", 3 * c + 1),
            format!("u{}", 3 * c + 2),
        ];
        let mut members: Vec<&str> = members.iter().map(String::as_str).collect();
        let bad_member = "ghost".to_owned();
        if c == 5 {
            members.push(&bad_member);
        }
        items.push(conversation(&format!("c{c}"), &members));
    }
    // A participant added afterwards.
    items.push(bulk::Item::Participant {
        conversation: "c0".to_owned(),
        user: "u100".to_owned(),
        settings: ParticipantOverwrite::default(),
    });
    // 25 messages per conversation, in order; one message in c1 is from a non-participant,
    // which refuses its whole chunk of ten until the split isolates it.
    for c in 0..20 {
        for m in 0..25 {
            let sender = if c == 1 && m == 12 {
                "u200".to_owned()
            } else {
                format!("u{}", 3 * c + m % 3)
            };
            items.push(send(&format!("c{c}"), &sender, &format!("m{m:02}")));
        }
    }
    // Imports into c2, with their own times.
    for m in 0..5u64 {
        items.push(bulk::Item::Import {
            conversation: "c2".to_owned(),
            message: ImportMessage::new(
                "u6",
                format!("old {m}"),
                Timestamp::from_millis(1_600_000_000_000 + m),
            ),
        });
    }
    let total = items.len();

    let progress_calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&progress_calls);
    let report = client
        .bulk()
        .total(total)
        .on_progress(move |p| {
            assert!(p.landed + p.failed <= p.total.unwrap());
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .run_iter(items)
        .await;

    // The bad ones, each with its reason and position.
    let failed: BTreeSet<(usize, bulk::Kind, String)> = report
        .failed
        .iter()
        .map(|f| (f.index, f.kind, f.subject.clone()))
        .collect();
    let first_message = 250 + 20 + 1;
    let mut expected = BTreeSet::from([
        (17, bulk::Kind::User, "u17".to_owned()),
        (140, bulk::Kind::User, "u140".to_owned()),
        (255, bulk::Kind::Conversation, "c5".to_owned()),
        (first_message + 25 + 12, bulk::Kind::Send, "c1".to_owned()),
    ]);
    // c5 was refused (a missing member), so its 25 messages fail too.
    expected.extend((0..25).map(|m| {
        (
            first_message + 5 * 25 + m,
            bulk::Kind::Send,
            "c5".to_owned(),
        )
    }));
    assert_eq!(failed, expected, "{:#?}", report.failed);
    for failure in &report.failed {
        assert!(!failure.error.is_transient(), "{failure:?}");
        if failure.subject != "c5" || failure.kind == bulk::Kind::Conversation {
            assert!(
                matches!(*failure.error, talkjs::Error::BadRequest { .. }),
                "{failure:?}"
            );
        }
    }
    assert_eq!(report.landed + report.failed.len(), total);
    assert_eq!(progress_calls.load(Ordering::SeqCst), report.requests);

    // Every good record landed once.
    assert_eq!(fake.users().len(), 248);
    assert!(fake.user("u17").is_none() && fake.user("u140").is_none());
    assert_eq!(fake.conversations().len(), 19);
    assert!(fake.conversation("c5").is_none());
    assert!(
        fake.conversation("c0")
            .unwrap()
            .participants
            .contains_key("u100")
    );
    for c in (0..20).filter(|&c| c != 5) {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let mut expected: Vec<String> = (0..25)
            .filter(|&m| !(c == 1 && m == 12))
            .map(|m| format!("m{m:02}"))
            .collect();
        if c == 2 {
            expected.splice(0..0, (0..5).map(|m| format!("old {m}")));
        }
        assert_eq!(texts, expected, "c{c}: every message once, in order");
    }
}

#[tokio::test]
async fn requests_are_packed_and_a_shared_limit_is_never_exceeded() {
    // The server allows 20 at once and 50 a second; the client's limiter, shared with a
    // clone that makes calls of its own meanwhile, keeps a margin under it (5 at once, 25 a
    // second) so that a stalled, loaded test machine cannot bunch requests past the server's
    // limit.
    let fake = FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 20,
            per_second: 50.0,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await
        .unwrap();
    let client = common::builder(&fake)
        .rate_limiter(Some(
            RateLimiter::new(fake.app_id()).general_quota(Quota::per_second(25, 5)),
        ))
        .build()
        .unwrap();
    let users = (0..200).map(|i| user(&format!("u{i}")));
    let conversations = (0..30).map(|c| {
        conversation(
            &format!("c{c}"),
            &[&format!("u{c}"), &format!("u{}", c + 100)],
        )
    });
    let messages = (0..30).flat_map(|c| {
        (0..10).map(move |m| send(&format!("c{c}"), &format!("u{c}"), &format!("m{m}")))
    });
    let other = client.clone();
    let meanwhile = tokio::spawn(async move {
        for _ in 0..5 {
            other.users().get("u0").await.ok();
        }
    });
    let report = client
        .bulk()
        .run_iter(users.chain(conversations).chain(messages))
        .await;
    meanwhile.await.unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.landed, 200 + 30 + 300);
    // 2 PUT /users of 100, 30 conversation PUTs, 30 sends of 10.
    assert_eq!(report.requests, 2 + 30 + 30);
    assert_eq!(
        fake.count_429(),
        0,
        "the shared limiter kept the run under the limit"
    );
    assert_eq!(fake.request_count(), 62 + 5, "no request was retried");
    assert_eq!(fake.message_count(), 300);
}

#[tokio::test]
async fn messages_of_interleaved_conversations_are_still_packed_ten_to_a_request_in_order() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    let users = (0..10).map(|c| user(&format!("u{c}")));
    let conversations = (0..10).map(|c| conversation(&format!("c{c}"), &[&format!("u{c}")]));
    // Round robin: m0 of every conversation, then m1 of every conversation, ...
    let messages = (0..10).flat_map(|m| {
        (0..10).map(move |c| send(&format!("c{c}"), &format!("u{c}"), &format!("m{m}")))
    });
    // Then, in c0, an import: another kind, so a request of its own.
    let import = std::iter::once(bulk::Item::Import {
        conversation: "c0".to_owned(),
        message: ImportMessage::new("u0", "imported", Timestamp::from_millis(4_000_000_000_000)),
    });
    let report = client
        .bulk()
        .run_iter(users.chain(conversations).chain(messages).chain(import))
        .await;
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    // 1 PUT /users, 10 conversation PUTs, 10 sends of 10, 1 import.
    assert_eq!(report.requests, 1 + 10 + 10 + 1);
    for c in 0..10 {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let mut expected: Vec<String> = (0..10).map(|m| format!("m{m}")).collect();
        if c == 0 {
            expected.push("imported".to_owned());
        }
        assert_eq!(texts, expected, "c{c}");
    }
}

/// A chronological log of 300 conversations x 10 messages (round robin: every conversation's
/// first message, then every second one, ...), more conversations than requests in flight.
fn chronological_log(conversations: usize) -> impl Iterator<Item = bulk::Item> {
    (0..10).flat_map(move |m| {
        (0..conversations).map(move |c| send(&format!("c{c}"), &format!("u{c}"), &format!("m{m}")))
    })
}

/// Checks that each of `conversations` holds the log's 10 messages once, in order.
fn assert_log_landed_in_order(fake: &FakeTalkJs, conversations: impl IntoIterator<Item = usize>) {
    let expected: Vec<String> = (0..10).map(|m| format!("m{m}")).collect();
    for c in conversations {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        assert_eq!(texts, expected, "c{c}");
    }
}

async fn setup_conversations(client: &talkjs::Client, conversations: usize) {
    let users = (0..conversations).map(|c| user(&format!("u{c}")));
    let chats = (0..conversations).map(|c| conversation(&format!("c{c}"), &[&format!("u{c}")]));
    let report = client.bulk().run_iter(users.chain(chats)).await;
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
}

#[tokio::test]
async fn a_chronological_log_of_more_conversations_than_in_flight_packs_like_grouped_input() {
    const CONVERSATIONS: usize = 300;
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    setup_conversations(&client, CONVERSATIONS).await;

    let report = client
        .bulk()
        .in_flight(8)
        .run_iter(chronological_log(CONVERSATIONS))
        .await;
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.landed, CONVERSATIONS * 10);
    // Grouped by conversation this is one send of 10 per conversation: so is the log.
    assert_eq!(report.requests, CONVERSATIONS);
    assert_log_landed_in_order(&fake, [0, 150, 299]);
}

#[tokio::test]
async fn the_open_budget_bounds_what_is_held_and_sends_the_oldest_chunks_early() {
    const CONVERSATIONS: usize = 50;
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    setup_conversations(&client, CONVERSATIONS).await;
    // Room for about 20 messages open: 50 conversations take turns, so requests go out
    // before they are full, and every message still lands once, in order.
    let weight = send("c0", "u0", "m0").weight();
    let report = client
        .bulk()
        .open_budget(weight * 20)
        .run_iter(chronological_log(CONVERSATIONS))
        .await;
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.landed, CONVERSATIONS * 10);
    assert!(
        report.requests > CONVERSATIONS * 3,
        "a budget of 20 messages cannot hold 50 conversations' requests open: {} requests",
        report.requests
    );
    assert_log_landed_in_order(&fake, 0..CONVERSATIONS);
}

/// A fake and a client without rate limits (the client retrying fast), with users `u0`..
/// and conversations `c0`.. (one user each) set up without faults.
async fn faulty_setup(conversations: usize) -> (FakeTalkJs, talkjs::Client) {
    let fake = FakeTalkJs::builder()
        .rate_limit(None)
        .start()
        .await
        .unwrap();
    let client = common::builder(&fake)
        .rate_limiter(None)
        .retry(Some(fast_retry()))
        .build()
        .unwrap();
    let setup = (0..conversations)
        .map(|c| user(&format!("u{c}")))
        .chain((0..conversations).map(|c| conversation(&format!("c{c}"), &[&format!("u{c}")])));
    let report = client.bulk().run_iter(setup).await;
    assert!(report.failed.is_empty() && report.uncertain.is_empty());
    (fake, client)
}

/// Retries after a millisecond or so, with no budget: a faulty server does not slow the
/// test down, and every idempotent request gets its retries.
fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .max_attempts(3)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .budget(None)
}

fn import(conversation: &str, sender: &str, text: &str) -> bulk::Item {
    bulk::Item::Import {
        conversation: conversation.to_owned(),
        message: ImportMessage::new(sender, text, Timestamp::from_millis(1_600_000_000_000)),
    }
}

fn send_without_key(conversation: &str, sender: &str, text: &str) -> bulk::Item {
    bulk::Item::Send {
        conversation: conversation.to_owned(),
        message: NewMessage::user(sender, text),
    }
}

/// The text of a message item.
fn text_of(item: &bulk::Item) -> String {
    match item {
        bulk::Item::Send { message, .. } => serde_json::to_value(message).unwrap()["text"]
            .as_str()
            .unwrap()
            .to_owned(),
        bulk::Item::Import { message, .. } => message.text.clone(),
        other => panic!("not a message: {other:?}"),
    }
}

#[tokio::test]
async fn under_faults_refused_and_unknown_outcomes_are_apart_and_nothing_is_sent_twice() {
    // The users and conversations first, without faults.
    let (fake, client) = faulty_setup(30).await;

    // Then, with 30 % 5xx (half a 503 before processing, half a 500 after it) and 5 %
    // resets: per conversation 20 imports, 10 sends without an idempotency key and 10
    // with one.
    fake.set_faults(Faults::seeded(23).error_rate(0.3).reset_rate(0.05));
    let mut items = Vec::new();
    for c in 0..30 {
        let (conversation, sender) = (format!("c{c}"), format!("u{c}"));
        items.extend((0..20).map(|m| import(&conversation, &sender, &format!("imp {c}.{m}"))));
        items.extend(
            (0..10).map(|m| send_without_key(&conversation, &sender, &format!("raw {c}.{m}"))),
        );
        items.extend((0..10).map(|m| send(&conversation, &sender, &format!("key {c}.{m}"))));
    }
    let last = Arc::new(std::sync::Mutex::new(None));
    let seen = Arc::clone(&last);
    let report = client
        .bulk()
        .total(items.len())
        .on_progress(move |p| *seen.lock().unwrap() = Some(*p))
        .run_iter(items.clone())
        .await;
    fake.set_faults(Faults::none());

    let progress = last.lock().unwrap().unwrap();
    assert_eq!(
        (progress.landed, progress.failed, progress.uncertain),
        (report.landed, report.failed.len(), report.uncertain.len())
    );
    assert_eq!(
        report.landed + report.failed.len() + report.uncertain.len(),
        items.len()
    );
    // Unknown outcomes are only imports and sends without a key, with an error that says
    // so; a non-idempotent item in `failed` was refused.
    for unknown in &report.uncertain {
        assert!(
            !items[unknown.index].is_idempotent() && unknown.error.may_have_landed(),
            "{unknown:?}"
        );
    }
    for failure in &report.failed {
        assert!(
            items[failure.index].is_idempotent() || !failure.error.may_have_landed(),
            "{failure:?}"
        );
    }

    // What the fake holds: every message that succeeded once, none that was refused, and
    // nothing twice (no item was sent again after an unknown outcome).
    let mut stored: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in 0..30 {
        for message in fake.messages(&format!("c{c}")) {
            *stored.entry(message.text.unwrap()).or_default() += 1;
        }
    }
    assert!(stored.values().all(|&n| n == 1), "nothing twice");
    let failed: BTreeSet<usize> = report.failed.iter().map(|f| f.index).collect();
    let uncertain: BTreeSet<usize> = report.uncertain.iter().map(|f| f.index).collect();
    let (mut unknown_landed, mut unknown_not_landed) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        let text = text_of(item);
        let landed = stored.contains_key(&text);
        if uncertain.contains(&index) {
            if landed {
                unknown_landed += 1;
            } else {
                unknown_not_landed += 1;
            }
        } else if failed.contains(&index) {
            // A keyed send may have landed on an earlier attempt; the rest were refused.
            assert!(
                item.is_idempotent() || !landed,
                "{text} was refused but landed"
            );
        } else {
            assert!(landed, "{text} succeeded but is not stored");
        }
    }
    // Both kinds of unknown outcome happened: a 500 after the write (it landed) and a 503
    // or a reset before it (it did not); the client cannot tell them apart.
    assert!(
        unknown_landed > 0 && unknown_not_landed > 0,
        "{unknown_landed} landed, {unknown_not_landed} did not, of {}",
        report.uncertain.len()
    );
    let counts = fake.fault_counts();
    assert!(
        counts.errors_after > 0 && counts.unavailable > 0,
        "{counts:?}"
    );

    // Sending the failed items again is safe: afterwards everything but the unknown
    // outcomes is stored exactly once.
    let again: Vec<bulk::Item> = report
        .failed
        .iter()
        .map(|f| items[f.index].clone())
        .collect();
    let retry = client.bulk().run_iter(again).await;
    assert!(
        retry.failed.is_empty() && retry.uncertain.is_empty(),
        "{retry:#?}"
    );
    let mut stored: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for c in 0..30 {
        for message in fake.messages(&format!("c{c}")) {
            *stored.entry(message.text.unwrap()).or_default() += 1;
        }
    }
    for (index, item) in items.iter().enumerate() {
        let n = stored.get(&text_of(item)).copied().unwrap_or(0);
        if uncertain.contains(&index) {
            assert!(n <= 1, "{index}: {n}");
        } else {
            assert_eq!(n, 1, "{}", text_of(item));
        }
    }
}

/// A client of the test server at `base_url`, with fast retries and an attempt timeout of a
/// second.
fn mock_client(base_url: &str) -> talkjs::Client {
    talkjs::Client::builder("app", "sk_test_bulk")
        .base_url(base_url)
        .rate_limiter(None)
        .retry(Some(fast_retry()))
        .attempt_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap()
}

/// Mounts `POST|PUT /v1/app{rel}` answering `status` (after `delay`).
async fn answer(server: &MockServer, verb: &str, rel: &str, status: u16, delay: Duration) {
    Mock::given(method(verb))
        .and(path(format!("/v1/app{rel}")))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_string("{}")
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

/// How many requests `server` received for `/v1/app{rel}`.
async fn hits(server: &MockServer, rel: &str) -> usize {
    let want = format!("/v1/app{rel}");
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == want)
        .count()
}

#[tokio::test]
async fn a_4xx_is_refused_and_a_5xx_or_timeout_of_an_import_is_unknown_but_of_an_upsert_failed() {
    let server = MockServer::start().await;
    let none = Duration::ZERO;
    answer(&server, "PUT", "/users", 500, none).await;
    answer(&server, "PUT", "/conversations/lost", 503, none).await;
    answer(
        &server,
        "POST",
        "/import/conversations/refused/messages",
        400,
        none,
    )
    .await;
    answer(
        &server,
        "POST",
        "/import/conversations/gone/messages",
        404,
        none,
    )
    .await;
    answer(
        &server,
        "POST",
        "/import/conversations/lost/messages",
        500,
        none,
    )
    .await;
    let slow = Duration::from_secs(10);
    answer(
        &server,
        "POST",
        "/import/conversations/slow/messages",
        200,
        slow,
    )
    .await;
    // One request with a keyed and a key-less message; one with keyed messages only.
    answer(&server, "POST", "/conversations/mixed/messages", 502, none).await;
    answer(&server, "POST", "/conversations/keyed/messages", 500, none).await;
    let client = mock_client(&server.uri());
    let items = vec![
        user("alice"),                           // 0
        conversation("lost", &["alice"]),        // 1
        import("refused", "alice", "a"),         // 2
        import("gone", "alice", "b"),            // 3
        import("lost", "alice", "c"),            // 4
        import("slow", "alice", "d"),            // 5
        send("mixed", "alice", "e"),             // 6: keyed
        send_without_key("mixed", "alice", "f"), // 7
        send("keyed", "alice", "g"),             // 8
        send("keyed", "alice", "h"),             // 9
    ];
    let report = client.bulk().run_iter(items).await;
    let indexes =
        |list: &[bulk::Failure]| -> BTreeSet<usize> { list.iter().map(|f| f.index).collect() };
    assert_eq!(report.landed, 0);
    assert_eq!(
        indexes(&report.failed),
        BTreeSet::from([0, 1, 2, 3, 6, 8, 9]),
        "{:#?}",
        report.failed
    );
    assert_eq!(
        indexes(&report.uncertain),
        BTreeSet::from([4, 5, 7]),
        "{:#?}",
        report.uncertain
    );
    let error_of = |index| {
        report
            .failed
            .iter()
            .chain(&report.uncertain)
            .find(|f| f.index == index)
            .unwrap()
            .error
            .clone()
    };
    assert!(matches!(*error_of(2), talkjs::Error::BadRequest { .. }));
    assert!(matches!(*error_of(3), talkjs::Error::NotFound { .. }));
    // The uncertain imports come as UnknownOutcome around the server error or the timeout.
    assert!(matches!(cause(&error_of(4)), talkjs::Error::Server { .. }));
    assert!(matches!(cause(&error_of(5)), talkjs::Error::Timeout { .. }));
    for unknown in &report.uncertain {
        assert!(
            matches!(*unknown.error, talkjs::Error::UnknownOutcome { .. }),
            "{unknown:?}"
        );
    }
    // The upserts and the keyed-only send were retried by the transport (safe), the
    // imports and the mixed send were not (their items may have landed).
    assert_eq!(hits(&server, "/users").await, 3);
    assert_eq!(hits(&server, "/conversations/lost").await, 3);
    assert_eq!(hits(&server, "/conversations/keyed/messages").await, 3);
    assert_eq!(hits(&server, "/conversations/mixed/messages").await, 1);
    assert_eq!(
        hits(&server, "/import/conversations/lost/messages").await,
        1
    );
    assert_eq!(
        hits(&server, "/import/conversations/slow/messages").await,
        1
    );
    assert_eq!(
        hits(&server, "/import/conversations/refused/messages").await,
        1
    );
}

#[tokio::test]
async fn a_reset_after_the_request_is_unknown_for_an_import_and_a_plain_failure_for_an_upsert() {
    // A loopback server that reads each request whole, then closes the connection without
    // answering.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let read = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&read);
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { return };
            if read_request(&mut socket) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    });
    let client = mock_client(&url);
    let report = client
        .bulk()
        .run_iter([
            user("alice"),
            import("chat", "alice", "a"),
            send_without_key("other", "alice", "b"),
        ])
        .await;
    let kinds =
        |list: &[bulk::Failure]| -> Vec<bulk::Kind> { list.iter().map(|f| f.kind).collect() };
    assert_eq!(kinds(&report.failed), [bulk::Kind::User], "{report:#?}");
    let mut unknown = kinds(&report.uncertain);
    unknown.sort();
    assert_eq!(
        unknown,
        [bulk::Kind::Send, bulk::Kind::Import],
        "{report:#?}"
    );
    for failure in report.failed.iter().chain(&report.uncertain) {
        assert!(
            matches!(cause(&failure.error), talkjs::Error::Transport(_)),
            "{failure:?}"
        );
        assert!(failure.error.may_have_landed());
    }
    // The user upsert three times (retried), the import and the send once each.
    assert_eq!(read.load(Ordering::SeqCst), 3 + 1 + 1);
}

/// Reads one HTTP/1 request (head and `Content-Length` body); false if the connection ended
/// first.
fn read_request(socket: &mut std::net::TcpStream) -> bool {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = match socket.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= head_end + 4 + length {
            return true;
        }
    }
}

/// The error of the request itself: the source of an `UnknownOutcome` (an import or a
/// key-less send whose outcome is unknown), the error otherwise.
fn cause(error: &talkjs::Error) -> &talkjs::Error {
    match error {
        talkjs::Error::UnknownOutcome { cause: source, .. } => source,
        other => other,
    }
}

/// A journal as `talkjs migrate` keeps one: what each request carried before it left, and
/// what became of it.
#[derive(Default)]
struct Journal {
    events: std::sync::Mutex<Vec<(&'static str, Vec<usize>)>>,
    /// Stop the run at this `before` (1-based), if set.
    stop_at: Option<usize>,
    /// Hold a conversation after an unknown outcome.
    hold_on_unknown: bool,
}

impl bulk::Hooks for Journal {
    fn before(&self, request: &bulk::Request<'_>) -> Result<(), bulk::HookError> {
        let mut events = self.events.lock().unwrap();
        let befores = events.iter().filter(|(e, _)| *e == "before").count();
        if self.stop_at == Some(befores + 1) {
            return Err("the journal's disk is full".into());
        }
        events.push(("before", request.indexes().collect()));
        Ok(())
    }

    fn after(
        &self,
        request: &bulk::Request<'_>,
        outcome: &bulk::Outcome<'_>,
    ) -> Result<bulk::Next, bulk::HookError> {
        let what = match outcome {
            bulk::Outcome::Landed { .. } => "landed",
            bulk::Outcome::Refused { again: true, .. } => "again",
            bulk::Outcome::Refused { .. } => "refused",
            bulk::Outcome::Unknown { .. } => "unknown",
            _ => "other",
        };
        self.events
            .lock()
            .unwrap()
            .push((what, request.indexes().collect()));
        Ok(if self.hold_on_unknown && what == "unknown" {
            bulk::Next::HoldConversation
        } else {
            bulk::Next::Continue
        })
    }
}

#[tokio::test]
async fn hooks_see_every_request_before_it_leaves_and_its_outcome_after_under_faults() {
    let (fake, client) = faulty_setup(20).await;

    fake.set_faults(Faults::seeded(7).error_rate(0.3).reset_rate(0.05));
    let mut items = vec![bulk::Item::User {
        id: "nameless".to_owned(),
        user: UserUpsert::new().email(["x@example.com"]),
    }];
    items.extend((0..5).map(|i| user(&format!("v{i}"))));
    for c in 0..20 {
        let (conversation, sender) = (format!("c{c}"), format!("u{c}"));
        items.extend((0..15).map(|m| import(&conversation, &sender, &format!("imp {c}.{m}"))));
        items.extend((0..5).map(|m| send(&conversation, &sender, &format!("key {c}.{m}"))));
    }
    let journal = Arc::new(Journal::default());
    let report = client
        .bulk()
        .hooks(SharedJournal(Arc::clone(&journal)))
        .run_iter(items.clone())
        .await;
    fake.set_faults(Faults::none());
    assert!(report.stopped.is_none());

    let events = journal.events.lock().unwrap().clone();
    let befores: Vec<&Vec<usize>> = events
        .iter()
        .filter(|(e, _)| *e == "before")
        .map(|(_, i)| i)
        .collect();
    assert_eq!(
        befores.len(),
        report.requests,
        "one before per request sent"
    );
    assert_eq!(events.len(), 2 * report.requests, "one after per request");
    // Each item's last outcome is where the report counts it.
    let mut last: std::collections::HashMap<usize, &str> = std::collections::HashMap::new();
    for (what, indexes) in events.iter().filter(|(e, _)| *e != "before") {
        for index in indexes {
            last.insert(*index, what);
        }
    }
    let of = |what: &str| -> BTreeSet<usize> {
        (last.iter())
            .filter(|(_, w)| **w == what)
            .map(|(i, _)| *i)
            .collect()
    };
    let failed: BTreeSet<usize> = report.failed.iter().map(|f| f.index).collect();
    let uncertain: BTreeSet<usize> = report.uncertain.iter().map(|f| f.index).collect();
    assert_eq!(of("refused"), failed);
    assert_eq!(of("unknown"), uncertain);
    assert_eq!(of("landed").len(), report.landed);
    assert!(
        of("again").is_empty(),
        "a split request's items end elsewhere"
    );
    assert!(
        failed.contains(&0),
        "the nameless user was refused: {report:#?}"
    );
    assert!(
        !uncertain.is_empty(),
        "the faults made some outcome unknown: {report:#?}"
    );
    assert_eq!(last.len(), items.len(), "every item had an outcome");
}

/// An `Arc<Journal>` as hooks, so the test keeps reading it.
struct SharedJournal(Arc<Journal>);

impl bulk::Hooks for SharedJournal {
    fn before(&self, request: &bulk::Request<'_>) -> Result<(), bulk::HookError> {
        self.0.before(request)
    }

    fn after(
        &self,
        request: &bulk::Request<'_>,
        outcome: &bulk::Outcome<'_>,
    ) -> Result<bulk::Next, bulk::HookError> {
        self.0.after(request, outcome)
    }
}

#[tokio::test]
async fn a_hook_error_stops_the_run_and_says_what_was_not_sent() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    // 5 conversations (one request each, in_flight 1 so they go one at a time), the third
    // `before` fails.
    let users = std::iter::once(user("u0"));
    let conversations = (0..5).map(|c| conversation(&format!("c{c}"), &["u0"]));
    let journal = Arc::new(Journal {
        stop_at: Some(3),
        ..Journal::default()
    });
    let report = client
        .bulk()
        .in_flight(1)
        .hooks(SharedJournal(Arc::clone(&journal)))
        .run_iter(users.chain(conversations))
        .await;
    let stopped = report.stopped.as_ref().expect("stopped").to_string();
    assert!(stopped.contains("disk is full"), "{stopped}");
    // The user and the first conversation were sent; the rest was not (the items read by
    // then are counted; the input after them was not read).
    assert_eq!(report.requests, 2);
    assert_eq!(report.landed, 2);
    assert!((1..=4).contains(&report.not_sent), "{report:#?}");
    assert!(report.failed.is_empty() && report.uncertain.is_empty());
    assert_eq!(fake.conversations().len(), 1);
}

#[tokio::test]
async fn a_held_conversation_sends_nothing_after_its_unknown_outcome() {
    let (fake, client) = faulty_setup(10).await;
    // 5 imports of 10 per conversation, one request at a time; 30 % of answers lost.
    fake.set_faults(Faults::seeded(11).error_rate(0.3));
    let mut items = Vec::new();
    for c in 0..10 {
        let (conversation, sender) = (format!("c{c}"), format!("u{c}"));
        items.extend((0..50).map(|m| import(&conversation, &sender, &format!("imp {c}.{m}"))));
    }
    let journal = Arc::new(Journal {
        hold_on_unknown: true,
        ..Journal::default()
    });
    let report = client
        .bulk()
        .hooks(SharedJournal(Arc::clone(&journal)))
        .run_iter(items.clone())
        .await;
    fake.set_faults(Faults::none());
    assert!(!report.uncertain.is_empty(), "{report:#?}");
    assert_eq!(
        report.landed + report.failed.len() + report.uncertain.len() + report.held,
        items.len()
    );
    // After its first unknown outcome, a conversation had no other request.
    let events = journal.events.lock().unwrap().clone();
    let conversation_of = |index: usize| index / 50;
    let mut unknown_in = BTreeSet::new();
    for (what, indexes) in &events {
        let c = conversation_of(indexes[0]);
        if *what == "before" {
            assert!(
                !unknown_in.contains(&c),
                "c{c} sent after its unknown outcome"
            );
        } else if *what == "unknown" {
            unknown_in.insert(c);
        }
    }
    assert!(report.held > 0, "{report:#?}");
}
