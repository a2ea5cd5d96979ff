//! The gap-free stream end to end: the fake TalkJS delivers webhooks to a `talkjs-webhooks`
//! receiver while dropping 30 % of them, duplicating 10 % and reordering; a consumer of
//! `client.events()` must still see every one of 2,000 messages sent across 20
//! conversations exactly once, also when it is stopped halfway and started again (webhooks
//! delivered while it is down are lost, as they would be in a restarting service).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use talkjs::Client;
use talkjs::api::{FileCheckpoint, MessageStream};
use talkjs::models::{ConversationUpsert, NewMessage, Timestamp, UserUpsert, WebhookEvent};
use talkjs_fake::{FakeTalkJs, WebhookFaults};
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

fn consumer(
    client: &Client,
    forward: &Forward,
    checkpoint: &std::path::Path,
    since: Timestamp,
) -> MessageStream {
    client
        .events()
        .webhooks(channel_stream(forward))
        .checkpoint(FileCheckpoint::new(checkpoint))
        .catch_up_every(Duration::from_millis(250))
        .settle(Duration::from_secs(2))
        .since(since)
        .into_stream()
}

/// Reads events until `until` distinct messages were seen in all, counting every yield.
async fn consume(
    stream: &mut MessageStream,
    seen: &mut HashMap<String, usize>,
    recovered: &mut usize,
    until: usize,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.len() < until {
        let event = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {until} messages within 120 s", seen.len()))
            .expect("the stream goes on")
            .expect("no error from the fake");
        *seen.entry(event.message.id.to_string()).or_default() += 1;
        if event.recovered {
            *recovered += 1;
        }
    }
}

/// The fake (delivering with faults) and a receiver on a free port forwarding to `forward`.
async fn fake_with_receiver(forward: &Forward) -> FakeTalkJs {
    // The receiver's address first, so that the fake can be pointed at it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/talkjs", listener.local_addr().unwrap());
    let fake = FakeTalkJs::builder()
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
    let forward: Forward = Arc::default();
    let fake = fake_with_receiver(&forward).await;
    // The catch-up lists every 250 ms: no client-side rate limit against the fake.
    let client = common::builder(&fake).rate_limiter(None).build().unwrap();
    // The stream yields messages created after `since`: none may share its millisecond.
    let since = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let sender = start_sending(&client).await;

    let dir = std::env::temp_dir().join(format!("talkjs-events-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = dir.join("events.checkpoint.json");
    let _ = std::fs::remove_file(&checkpoint);

    let mut seen = HashMap::new();
    let mut recovered = 0;
    let mut first = consumer(&client, &forward, &checkpoint, since);
    consume(&mut first, &mut seen, &mut recovered, TOTAL / 2).await;
    // Stopped halfway: the stream is dropped (which saves its checkpoint), and webhooks
    // that arrive before the restart are lost.
    drop(first);
    *forward.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut second = consumer(&client, &forward, &checkpoint, since);
    consume(&mut second, &mut seen, &mut recovered, TOTAL).await;
    sender.await.unwrap();
    // Two more catch-ups and the late (delayed, duplicated) webhooks: nothing more comes.
    let extra = tokio::time::timeout(Duration::from_secs(1), second.next()).await;
    assert!(extra.is_err(), "nothing after the last message: {extra:?}");

    assert_eq!(seen.len(), TOTAL);
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "yielded more than once: {repeated:?}");
    // Every message the client sent is among them.
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
                seen.contains_key(m.id.as_str()),
                "{} was never yielded",
                m.id
            );
        }
    }
    // The faults did happen, and both sources were used.
    let deliveries = fake.webhook_deliveries();
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
}
