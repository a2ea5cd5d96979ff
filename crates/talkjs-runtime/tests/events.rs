//! The events stream against wiremock: the exact listing requests of a catch-up, the order
//! and flags of what it yields, webhook duplicates dropped, and the checkpoint it saves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::time::Duration;

use common::{assert_request, conversation_json, message_json, ok_json, page, requests, start};
use futures_util::StreamExt;
use serde_json::json;
use talkjs_api::Error;
use talkjs_models::{Timestamp, WebhookEvent, WebhookEventType};
use talkjs_runtime::ClientExt;
use talkjs_runtime::events::{Checkpoint, FileCheckpoint, MemoryCheckpoint};
use tokio::sync::mpsc;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer};

const SINCE: u64 = 1_700_000_000_000;

fn message(id: &str, created_at: u64) -> serde_json::Value {
    let mut m = message_json(id, "c1");
    m["createdAt"] = json!(created_at);
    m
}

/// Messages `msg_0` .. `msg_{n-1}`, a second apart after `SINCE`, newest first (as listed).
fn numbered(n: u64) -> Vec<serde_json::Value> {
    (0..n)
        .rev()
        .map(|i| message(&format!("msg_{i}"), SINCE + 1_000 * (i + 1)))
        .collect()
}

fn sent(message: &serde_json::Value) -> WebhookEvent {
    WebhookEvent::new(
        WebhookEventType::MessageSent,
        json!({ "conversation": conversation_json("c1"), "message": message }),
    )
}

/// A stream of webhook events fed through a channel.
fn channel() -> (
    mpsc::UnboundedSender<WebhookEvent>,
    impl futures_core::Stream<Item = WebhookEvent> + Send + 'static,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    (tx, stream)
}

/// A first run's stream (an empty checkpoint) with a settle slack of [`SLACK`], fed webhook
/// events through the returned sender.
fn fresh_stream(
    client: &talkjs_api::Client,
) -> (
    mpsc::UnboundedSender<WebhookEvent>,
    talkjs_runtime::events::MessageStream,
) {
    let (webhooks, webhook_stream) = channel();
    let events = client
        .events()
        .webhooks(webhook_stream)
        .checkpoint(MemoryCheckpoint::new())
        .settle(SLACK)
        .into_stream();
    (webhooks, events)
}

async fn mount_listing(server: &MockServer, messages: &[serde_json::Value]) {
    Mock::given(method("GET"))
        .and(path(common::p("/conversations")))
        .respond_with(ok_json(&page(&[conversation_json("c1")])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(common::p("/conversations/c1/messages")))
        .respond_with(ok_json(&page(messages)))
        .mount(server)
        .await;
}

async fn next_id(stream: &mut talkjs_runtime::events::MessageStream) -> (String, bool) {
    let event = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream goes on")
        .expect("no error");
    (event.message.id.to_string(), event.recovered)
}

#[tokio::test]
async fn catch_up_lists_by_creation_time_and_yields_oldest_first() {
    let (server, client) = start().await;
    // Newest first, as TalkJS lists them; the last one is older than the checkpoint.
    mount_listing(
        &server,
        &[
            message("msg_b", SINCE + 2_000),
            message("msg_a", SINCE + 1_000),
            message("msg_old", SINCE - 5),
        ],
    )
    .await;
    let store = MemoryCheckpoint::new();
    let (webhooks, webhook_stream) = channel();
    let mut events = client
        .events()
        .webhooks(webhook_stream)
        .checkpoint(store.clone())
        .since(Timestamp::from_millis(SINCE))
        .into_stream();

    assert_eq!(next_id(&mut events).await, ("msg_a".into(), true));
    assert_eq!(next_id(&mut events).await, ("msg_b".into(), true));

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "one page of conversations, one of messages");
    assert_request(
        &reqs[0],
        "GET",
        "/conversations",
        Some(&format!(
            "lastMessageAfter={SINCE}&orderBy=createdAt&orderDirection=ASC&limit=30"
        )),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/conversations/c1/messages",
        Some("limit=100"),
        None,
    );

    // A webhook for a message the catch-up found is a duplicate; a new one is yielded.
    let future = Timestamp::now().as_millis() + 3_600_000;
    webhooks
        .send(sent(&message("msg_a", SINCE + 1_000)))
        .unwrap();
    webhooks.send(sent(&message("msg_new", future))).unwrap();
    webhooks.send(sent(&message("msg_new", future))).unwrap();
    assert_eq!(next_id(&mut events).await, ("msg_new".into(), false));
    drop(events);

    // The catch-up moved the watermark to about 30 s (the settle time) before it ran; what
    // is older than that is no longer listed individually.
    let saved = store.get().expect("saved on drop");
    let now = Timestamp::now().as_millis();
    assert!(saved.watermark.as_millis() > SINCE + 2_000);
    assert!(saved.watermark.as_millis() <= now - 30_000);
    let seen: Vec<_> = saved.seen.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(seen, ["msg_new"]);
}

#[tokio::test]
async fn a_restarted_stream_does_not_repeat_what_was_handled() {
    let (server, client) = start().await;
    mount_listing(&server, &numbered(5)).await;
    let store = MemoryCheckpoint::new();
    let open = || {
        client
            .events()
            .checkpoint(store.clone())
            .settle(Duration::from_secs(10 * 365 * 86_400)) // keep everything in `seen`
            .since(Timestamp::from_millis(SINCE))
            .into_stream()
    };

    let mut first = open();
    assert_eq!(next_id(&mut first).await.0, "msg_0");
    assert_eq!(next_id(&mut first).await.0, "msg_1");
    drop(first); // a clean stop: both count as handled

    let mut second = open();
    for i in 2..5 {
        assert_eq!(next_id(&mut second).await, (format!("msg_{i}"), true));
    }
    drop(second);
    let saved = store.get().unwrap();
    assert_eq!(saved.watermark, Timestamp::from_millis(SINCE));
    assert_eq!(saved.seen.len(), 5);
}

#[tokio::test]
async fn a_crash_yields_again_what_was_not_saved() {
    let (server, client) = start().await;
    mount_listing(&server, &numbered(3)).await;
    let store = MemoryCheckpoint::new();
    let open = || {
        client
            .events()
            .checkpoint(store.clone())
            .commit_every(Duration::from_secs(3_600))
            .since(Timestamp::from_millis(SINCE))
            .into_stream()
    };

    let mut first = open();
    assert_eq!(next_id(&mut first).await.0, "msg_0");
    assert_eq!(next_id(&mut first).await.0, "msg_1");
    // A crash: no drop, so no save (and none was due within the hour).
    std::mem::forget(first);
    assert_eq!(store.get(), None);

    let mut second = open();
    assert_eq!(next_id(&mut second).await.0, "msg_0");
}

#[tokio::test]
async fn a_checkpoint_file_that_does_not_decode_ends_the_stream_with_an_error() {
    let (_server, client) = start().await;
    let dir = std::env::temp_dir().join(format!("talkjs-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.checkpoint.json");
    std::fs::write(&file, b"{not json").unwrap();
    let mut events = client.events().checkpoint_file(&file).into_stream();
    let first = events.next().await.unwrap();
    assert!(matches!(first, Err(Error::Checkpoint(_))), "{first:?}");
    let message = first.unwrap_err().to_string();
    assert!(
        message.contains("bad.checkpoint.json is not a checkpoint"),
        "{message}"
    );
    assert!(events.next().await.is_none());

    // A checkpoint of a format this version does not know is refused too.
    std::fs::write(&file, br#"{"version":2,"watermark":1,"seen":[]}"#).unwrap();
    let mut events = client.events().checkpoint_file(&file).into_stream();
    let first = events.next().await.unwrap().unwrap_err().to_string();
    assert!(first.contains("version 2"), "{first}");
    assert!(events.next().await.is_none());
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test]
async fn a_checkpoint_that_cannot_be_saved_is_an_error_naming_the_file_and_the_stream_goes_on() {
    let (server, client) = start().await;
    mount_listing(&server, &[]).await;
    let file = std::env::temp_dir()
        .join(format!("talkjs-events-missing-dir-{}", std::process::id()))
        .join("events.checkpoint.json");
    let mut events = client
        .events()
        .checkpoint_file(&file)
        .catch_up_every(Duration::from_millis(100))
        .commit_every(Duration::from_secs(1))
        .into_stream();
    // Nothing to yield: the stream saves before it waits, and the directory is missing.
    let first = next_error(&mut events).await;
    assert!(
        first.contains("cannot write") && first.contains("events.checkpoint.json.tmp"),
        "{first}"
    );
    // It tries again later (after `commit_every`, not in a tight loop) rather than ending.
    let failed_at = tokio::time::Instant::now();
    let again = next_error(&mut events).await;
    assert!(again.contains("cannot write"), "{again}");
    assert!(
        failed_at.elapsed() >= Duration::from_millis(500),
        "retried at once"
    );
}

async fn next_error(stream: &mut talkjs_runtime::events::MessageStream) -> String {
    let item = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an item within 20 s")
        .expect("the stream goes on");
    match item {
        Err(Error::Checkpoint(e)) => e.to_string(),
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_of_one_millisecond_keep_their_order() {
    let (server, client) = start().await;
    // Listed newest first, all created in the same millisecond.
    mount_listing(
        &server,
        &[
            message("msg_z", SINCE + 1),
            message("msg_a", SINCE + 1),
            message("msg_m", SINCE + 1),
        ],
    )
    .await;
    let mut events = client
        .events()
        .checkpoint(MemoryCheckpoint::new())
        .since(Timestamp::from_millis(SINCE))
        .into_stream();
    for id in ["msg_m", "msg_a", "msg_z"] {
        assert_eq!(next_id(&mut events).await.0, id);
    }
}

#[tokio::test]
async fn the_file_checkpoint_is_replaced_whole() {
    let (server, client) = start().await;
    mount_listing(&server, &[message("msg_a", SINCE + 1)]).await;
    let dir = std::env::temp_dir().join(format!("talkjs-events-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.checkpoint.json");
    let _ = std::fs::remove_file(&file);
    let mut events = client
        .events()
        .checkpoint(FileCheckpoint::new(&file))
        .settle(Duration::from_secs(10 * 365 * 86_400))
        .since(Timestamp::from_millis(SINCE))
        .into_stream();
    assert_eq!(next_id(&mut events).await.0, "msg_a");
    drop(events);
    let saved: Checkpoint = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.watermark, Timestamp::from_millis(SINCE));
    assert_eq!(saved.seen.len(), 1);
    assert!(!dir.join("events.checkpoint.json.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_refused_creation_order_falls_back_to_the_default_order_and_a_second_look() {
    let server = MockServer::start().await;
    let client = common::client(&server);
    // TalkJS does not document the values of orderBy/orderDirection: refuse ours.
    Mock::given(method("GET"))
        .and(path(common::p("/conversations")))
        .and(query_param("orderBy", "createdAt"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_string("bad orderBy"))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_listing(&server, &[message("msg_a", SINCE + 1_000)]).await;
    let mut events = client
        .events()
        .checkpoint(MemoryCheckpoint::new())
        .catch_up_every(Duration::from_millis(50))
        .since(Timestamp::from_millis(SINCE))
        .into_stream();
    assert_eq!(next_id(&mut events).await, ("msg_a".into(), true));
    // The next catch-up lists in the default order at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = tokio::time::timeout(Duration::from_millis(100), events.next()).await;
    drop(events);

    let reqs = requests(&server).await;
    let queries: Vec<_> = reqs
        .iter()
        .map(|r| format!("{} {}", r.url.path(), r.url.query().unwrap_or("")))
        .collect();
    let conversations = common::p("/conversations");
    let messages = common::p("/conversations/c1/messages");
    assert_eq!(
        queries[..4],
        [
            format!(
                "{conversations} lastMessageAfter={SINCE}&orderBy=createdAt&orderDirection=ASC&limit=30"
            ),
            format!("{conversations} lastMessageAfter={SINCE}&limit=30"),
            format!("{messages} limit=100"),
            // the second look: conversations active since the catch-up began (less the
            // settle time); c1 was read already
            queries[3].clone(),
        ]
    );
    assert!(queries[3].starts_with(&format!("{conversations} lastMessageAfter=")));
    assert!(queries[3].ends_with("&limit=30"));
    let after: u64 = queries[3]
        .split("lastMessageAfter=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(after <= Timestamp::now().as_millis() - 30_000 && after > SINCE);
    assert!(
        queries[4..].iter().all(|q| !q.contains("orderBy")),
        "the creation order is not tried again: {queries:?}"
    );
    assert!(queries.len() > 4, "a second catch-up ran: {queries:?}");
}

/// The `lastMessageAfter` of a conversations listing request.
fn last_message_after(request: &wiremock::Request) -> u64 {
    request
        .url
        .query_pairs()
        .find(|(name, _)| name == "lastMessageAfter")
        .map(|(_, value)| value.parse().unwrap())
        .expect("a lastMessageAfter parameter")
}

/// The listing requests, `(path, lastMessageAfter)` for conversations and `(path, 0)` for
/// messages.
async fn listings(server: &MockServer) -> Vec<(String, u64)> {
    requests(server)
        .await
        .iter()
        .map(|r| {
            let after = if r.url.path() == common::p("/conversations") {
                last_message_after(r)
            } else {
                0
            };
            (r.url.path().to_owned(), after)
        })
        .collect()
}

/// Polls `stream`, which must yield nothing, until `server` has had `n` requests.
async fn nothing_until_listed(
    server: &MockServer,
    stream: &mut talkjs_runtime::events::MessageStream,
    n: usize,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while requests(server).await.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {n} requests in 20 s"
        );
        let item = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(item.is_err(), "yielded: {item:?}");
    }
}

const SLACK: Duration = Duration::from_secs(5);
const SLACK_MS: u64 = 5_000;

/// Conversation c1 listed always; its messages listed as `early` the first `n` times, then as
/// `later` (a listing that shows a message late).
async fn mount_lagging_listing(
    server: &MockServer,
    n: u64,
    early: &[serde_json::Value],
    later: &[serde_json::Value],
) {
    Mock::given(method("GET"))
        .and(path(common::p("/conversations")))
        .respond_with(ok_json(&page(&[conversation_json("c1")])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(common::p("/conversations/c1/messages")))
        .respond_with(ok_json(&page(early)))
        .up_to_n_times(n)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(common::p("/conversations/c1/messages")))
        .respond_with(ok_json(&page(later)))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_message_that_shows_late_in_the_listing_is_found_by_a_later_catch_up() {
    let (server, client) = start().await;
    let before = Timestamp::now().as_millis();
    // Created a second before the stream started, and listed only from the second catch-up
    // on (listing lag): the first catch-up must not move the watermark past it.
    let created = before - 1_000;
    mount_lagging_listing(&server, 1, &[], &[message("msg_late", created)]).await;
    let store = MemoryCheckpoint::new();
    let mut events = client
        .events()
        .checkpoint(store.clone())
        .settle(SLACK)
        .catch_up_every(Duration::from_millis(100))
        .into_stream();
    assert_eq!(next_id(&mut events).await, ("msg_late".into(), true));
    let after = Timestamp::now().as_millis();
    // Read again by the catch-ups that follow: not yielded twice.
    nothing_until_listed(&server, &mut events, 6).await;
    drop(events);

    let listed = listings(&server).await;
    let conversations = common::p("/conversations");
    let messages = common::p("/conversations/c1/messages");
    for pair in listed.chunks(2) {
        assert_eq!(pair[0].0, conversations);
        assert_eq!(pair[1].0, messages);
    }
    // The first run starts the slack before now; every catch-up asks from a watermark that
    // trails its start by the slack, so the late message (a second old) is still asked for.
    let first = listed[0].1;
    assert!(
        (before - SLACK_MS..=after - SLACK_MS).contains(&first),
        "{first} not the slack before {before}..{after}"
    );
    for (_, after_ms) in listed.iter().step_by(2) {
        assert!(*after_ms >= first && *after_ms < created, "{listed:?}");
    }
    // The checkpoint keeps its id while the watermark is below its createdAt.
    let saved = store.get().unwrap();
    assert!(saved.watermark.as_millis() < created);
    assert_eq!(saved.seen.len(), 1);
    assert_eq!(saved.seen[0].id.as_str(), "msg_late");
}

#[tokio::test]
async fn a_webhook_for_a_message_the_listing_did_not_show_yet_is_yielded_once() {
    let (server, client) = start().await;
    let created = Timestamp::now().as_millis() - 1_000;
    let late = message("msg_lagging", created);
    // The first two catch-ups do not show it yet.
    mount_lagging_listing(&server, 2, &[], std::slice::from_ref(&late)).await;
    let (webhooks, webhook_stream) = channel();
    let mut events = client
        .events()
        .webhooks(webhook_stream)
        .checkpoint(MemoryCheckpoint::new())
        .settle(SLACK)
        .catch_up_every(Duration::from_millis(100))
        .into_stream();
    // Let the first catch-up run (it finds nothing and earns its watermark), then the webhook.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let nothing = tokio::time::timeout(Duration::from_millis(50), events.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    webhooks.send(sent(&late)).unwrap();
    assert_eq!(next_id(&mut events).await, ("msg_lagging".into(), false));
    // Later catch-ups list it (from the third on): not again.
    nothing_until_listed(&server, &mut events, 8).await;
}

#[tokio::test]
async fn a_first_run_yields_what_a_clock_behind_ours_stamps_before_the_start() {
    let (server, client) = start().await;
    mount_listing(&server, &[]).await;
    let (webhooks, mut events) = fresh_stream(&client);
    // The first catch-up runs (nothing listed), then messages sent after the start arrive,
    // stamped by a TalkJS clock 2 s behind ours; and one from before the slack.
    let nothing = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    let now = Timestamp::now().as_millis();
    webhooks
        .send(sent(&message("msg_ancient", now - 60_000)))
        .unwrap();
    webhooks
        .send(sent(&message("msg_behind", now - 2_000)))
        .unwrap();
    assert_eq!(next_id(&mut events).await, ("msg_behind".into(), false));
    drop(events);
    let listed = listings(&server).await;
    assert!(listed[0].1 <= now - SLACK_MS, "{listed:?}");
}

#[tokio::test]
async fn an_explicit_since_is_taken_as_given() {
    let (server, client) = start().await;
    mount_listing(&server, &[]).await;
    let mut events = client
        .events()
        .checkpoint(MemoryCheckpoint::new())
        .settle(SLACK)
        .since(Timestamp::from_millis(SINCE))
        .into_stream();
    let nothing = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    drop(events);
    assert_eq!(listings(&server).await[0].1, SINCE);
}

#[cfg(unix)]
#[tokio::test]
async fn the_file_checkpoint_is_renamed_into_place_and_a_leftover_temp_file_is_ignored() {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    use talkjs_runtime::events::CheckpointStore;

    let dir = std::env::temp_dir().join(format!("talkjs-events-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.checkpoint.json");
    let tmp = dir.join("events.checkpoint.json.tmp");
    let mut store = FileCheckpoint::new(&file);
    let first = Checkpoint::at(Timestamp::from_millis(SINCE));
    store.save(&first).unwrap();
    assert!(!tmp.exists());

    // A reader of the old file keeps reading the old checkpoint whole: the new one is a
    // new file renamed over it, not the old one rewritten.
    let mut old = std::fs::File::open(&file).unwrap();
    let old_inode = old.metadata().unwrap().ino();
    let second = Checkpoint::at(Timestamp::from_millis(SINCE + 1));
    store.save(&second).unwrap();
    assert_ne!(std::fs::metadata(&file).unwrap().ino(), old_inode);
    let mut text = String::new();
    old.read_to_string(&mut text).unwrap();
    assert_eq!(serde_json::from_str::<Checkpoint>(&text).unwrap(), first);

    // A crash mid-save leaves a partial temp file: loading reads the checkpoint, not it,
    // and removes it.
    std::fs::write(&tmp, br#"{"version":1,"waterm"#).unwrap();
    assert_eq!(store.load().unwrap(), Some(second.clone()));
    assert!(!tmp.exists());
    // And a save over a leftover temp file replaces it.
    std::fs::write(&tmp, b"garbage from a crash, longer than the checkpoint itself ........................................................................").unwrap();
    let third = Checkpoint::at(Timestamp::from_millis(SINCE + 2));
    store.save(&third).unwrap();
    assert_eq!(
        FileCheckpoint::new(&file).load().unwrap(),
        Some(third),
        "the whole new checkpoint, nothing of the leftover"
    );
    assert!(!tmp.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Collects the messages of `tracing` warnings logged on this thread.
#[derive(Clone, Default)]
struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn a_webhook_dated_before_the_watermark_is_dropped_with_one_warning() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(warnings.clone());
    let (server, client) = start().await;
    mount_listing(&server, &[]).await;
    let (webhooks, mut events) = fresh_stream(&client);
    let nothing = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
    assert!(nothing.is_err(), "{nothing:?}");
    // A TalkJS clock 10 s behind ours, beyond the 5 s slack: taken for old messages.
    let now = Timestamp::now().as_millis();
    for i in 0..3 {
        webhooks
            .send(sent(&message(&format!("msg_{i}"), now - 10_000)))
            .unwrap();
    }
    webhooks.send(sent(&message("msg_new", now))).unwrap();
    assert_eq!(next_id(&mut events).await, ("msg_new".into(), false));
    let logged = warnings.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("raise settle"), "{logged:?}");
}
