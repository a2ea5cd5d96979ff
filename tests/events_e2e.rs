//! The gap-free stream end to end: the fake TalkJS delivers webhooks to a `talkjs-webhooks`
//! receiver while dropping 30 % of them, duplicating 10 % and reordering; a consumer of
//! `client.events()` must still see every one of 2,000 messages sent across 20
//! conversations exactly once, also when it is stopped halfway and started again (webhooks
//! delivered while it is down are lost, as they would be in a restarting service). The same
//! again with listings that show new messages a second late and a TalkJS clock 1.5 s behind
//! ours, then 1.5 s ahead: within the stream's slack (`settle`, 3 s here), still every
//! message once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use talkjs::Client;
use talkjs::ClientExt;
use talkjs::models::{ConversationUpsert, NewMessage, Timestamp, UserUpsert, WebhookEvent};
use talkjs::runtime::events::{FileCheckpoint, MessageStream};
use talkjs_fake::{FakeTalkJs, Faults, WebhookFaults};
use talkjs_webhooks::{SecretKey, WebhookConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const CONVERSATIONS: usize = 20;
const PER_CONVERSATION: usize = 100;
const TOTAL: usize = CONVERSATIONS * PER_CONVERSATION;

/// Where the receiver forwards events: the running consumer's channel, or nowhere while
/// the consumer is down.
type Forward = Arc<Mutex<Option<mpsc::UnboundedSender<WebhookEvent>>>>;

fn channel_stream(
    forward: &Forward,
) -> impl futures_util::Stream<Item = WebhookEvent> + Send + 'static {
    let (tx, rx) = mpsc::unbounded_channel();
    *forward.lock().unwrap() = Some(tx);
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    })
}

/// A consumer with the stream's default start: on its first run it yields what was created
/// from `settle` before it started (the fake is new: every message).
fn consumer(
    client: &Client,
    forward: &Forward,
    checkpoint: &std::path::Path,
    settle: Duration,
) -> MessageStream {
    client
        .events()
        .webhooks(channel_stream(forward))
        .checkpoint(FileCheckpoint::new(checkpoint))
        .catch_up_every(Duration::from_millis(250))
        .settle(settle)
        .into_stream()
}

/// What the consumers saw: how often each message was yielded, how many were recovered by
/// listing, and the least age (our clock at the yield minus its `createdAt`) of a message.
struct Seen {
    times: HashMap<String, usize>,
    recovered: usize,
    min_age_ms: i64,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            times: HashMap::new(),
            recovered: 0,
            min_age_ms: i64::MAX,
        }
    }
}

/// Reads events until `until` distinct messages were seen in all, counting every yield.
async fn consume(stream: &mut MessageStream, seen: &mut Seen, until: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.times.len() < until {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!("only {} of {until} messages within 120 s", seen.times.len())
            })
            .expect("the stream goes on")
            .expect("no error from the fake");
        *seen.times.entry(event.message.id.to_string()).or_default() += 1;
        if event.recovered {
            seen.recovered += 1;
        }
        let now = i64::try_from(Timestamp::now().as_millis()).unwrap();
        let created = i64::try_from(event.message.created_at.as_millis()).unwrap();
        seen.min_age_ms = seen.min_age_ms.min(now - created);
    }
}

/// The fake (delivering webhooks with faults, and with `faults` on its API) and a receiver
/// on a free port forwarding to `forward`.
async fn fake_with_receiver(forward: &Forward, faults: Faults) -> FakeTalkJs {
    // The receiver's address first, so that the fake can be pointed at it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/talkjs", listener.local_addr().unwrap());
    let fake = FakeTalkJs::builder()
        .faults(faults)
        .webhook_url(url)
        .webhook_faults(
            WebhookFaults::seeded(7)
                .drop_rate(0.3)
                .duplicate_rate(0.1)
                .reorder(true)
                .delay_jitter(Duration::from_millis(100)),
        )
        .start()
        .await
        .unwrap();
    let to_consumer = forward.clone();
    let app = talkjs_webhooks::axum::router(
        "/talkjs",
        WebhookConfig::new(SecretKey::new(fake.secret_key())),
        move |event: WebhookEvent| {
            let to_consumer = to_consumer.clone();
            async move {
                if let Some(tx) = to_consumer.lock().unwrap().as_ref() {
                    let _ = tx.send(event);
                }
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    fake
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];

/// Users and conversations, then a task sending 2,000 messages in requests of 10,
/// conversations interleaved.
async fn start_sending(client: &Client) -> tokio::task::JoinHandle<()> {
    for user in USERS {
        client
            .users()
            .upsert(user, &UserUpsert::new().name(user))
            .await
            .unwrap();
    }
    for c in 0..CONVERSATIONS {
        client
            .conversations()
            .upsert(
                format!("c{c}"),
                &ConversationUpsert::new().participants(USERS),
            )
            .await
            .unwrap();
    }
    let client = client.clone();
    tokio::spawn(async move {
        for round in 0..PER_CONVERSATION / 10 {
            for c in 0..CONVERSATIONS {
                let batch: Vec<_> = (0..10)
                    .map(|k| {
                        let n = round * 10 + k;
                        NewMessage::user(USERS[n % USERS.len()], format!("c{c} #{n}"))
                    })
                    .collect();
                client
                    .conversations()
                    .messages(format!("c{c}"))
                    .send(batch)
                    .await
                    .unwrap();
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_through_lost_duplicated_and_reordered_webhooks() {
    let seen = every_message_once(Faults::none(), Duration::from_secs(2)).await;
    assert!(seen.min_age_ms >= 0, "no message from the future");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_with_listing_lag_and_a_server_clock_behind() {
    let faults = Faults::seeded(11)
        .listing_lag(Duration::from_secs(1))
        .clock_skew_ms(-1_500);
    let seen = every_message_once(faults, Duration::from_secs(3)).await;
    // The skew reached the stream: every message is stamped 1.5 s before it was sent.
    assert!(seen.min_age_ms >= 1_000, "least age {} ms", seen.min_age_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_once_with_listing_lag_and_a_server_clock_ahead() {
    let faults = Faults::seeded(12)
        .listing_lag(Duration::from_secs(1))
        .clock_skew_ms(1_500);
    let seen = every_message_once(faults, Duration::from_secs(3)).await;
    // Stamped 1.5 s ahead: a message a webhook brought at once is dated in our future.
    assert!(seen.min_age_ms < 0, "least age {} ms", seen.min_age_ms);
}

/// Sends 2,000 messages through a fake with `faults` (and webhook faults), and consumes them
/// with a stream of slack `settle` that is stopped halfway and started again: every message
/// is yielded exactly once.
async fn every_message_once(faults: Faults, settle: Duration) -> Seen {
    let lag = faults.listing_lag;
    let forward: Forward = Arc::default();
    let fake = fake_with_receiver(&forward, faults).await;
    // The catch-up lists every 250 ms: no client-side rate limit against the fake.
    let client = common::builder(&fake).rate_limiter(None).build().unwrap();
    let sender = start_sending(&client).await;

    let dir = std::env::temp_dir().join(format!(
        "talkjs-events-e2e-{}-{}",
        std::process::id(),
        faults.seed
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = dir.join("events.checkpoint.json");
    let _ = std::fs::remove_file(&checkpoint);

    let mut seen = Seen::default();
    let mut first = consumer(&client, &forward, &checkpoint, settle);
    consume(&mut first, &mut seen, TOTAL / 2).await;
    // Stopped halfway: the stream is dropped (which saves its checkpoint), and webhooks
    // that arrive before the restart are lost.
    drop(first);
    *forward.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut second = consumer(&client, &forward, &checkpoint, settle);
    consume(&mut second, &mut seen, TOTAL).await;
    sender.await.unwrap();
    // More catch-ups, once the last messages show in listings, and the late (delayed,
    // duplicated) webhooks: nothing more comes.
    let extra = tokio::time::timeout(lag + Duration::from_secs(1), second.next()).await;
    assert!(extra.is_err(), "nothing after the last message: {extra:?}");

    assert_eq!(seen.times.len(), TOTAL);
    let repeated: Vec<_> = seen.times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "yielded more than once: {repeated:?}");
    // Every message the client sent is among them (all listed by now: the lag has passed).
    for c in 0..CONVERSATIONS {
        let page = client
            .conversations()
            .messages(format!("c{c}"))
            .list()
            .limit(100)
            .await
            .unwrap();
        assert_eq!(page.len(), PER_CONVERSATION);
        for m in page {
            assert!(
                seen.times.contains_key(m.id.as_str()),
                "{} was never yielded",
                m.id
            );
        }
    }
    // The faults did happen, and both sources were used.
    let deliveries = fake.webhook_deliveries();
    let recovered = seen.recovered;
    eprintln!(
        "{} deliveries, {} dropped, {} duplicated; {recovered} of {TOTAL} messages recovered by listing",
        deliveries.len(),
        deliveries.iter().filter(|d| d.dropped).count(),
        deliveries.iter().filter(|d| d.duplicated).count(),
    );
    assert!(deliveries.iter().filter(|d| d.dropped).count() > TOTAL / 5);
    assert!(deliveries.iter().filter(|d| d.duplicated).count() > TOTAL / 20);
    assert!(recovered > TOTAL / 5, "{recovered} recovered");
    assert!(recovered < TOTAL, "webhooks brought some");
    std::fs::remove_dir_all(&dir).unwrap();
    seen
}
