//! Every new message once: `client.events()` takes the webhook events a `talkjs-webhooks`
//! route receives and fills what they miss by listing, with a checkpoint file so that a
//! restart neither skips nor repeats.
//!
//! ```sh
//! # Demo, no account needed: starts the fake TalkJS server, which loses half of its
//! # webhook deliveries and sends a tenth twice, lists new messages a second late and
//! # keeps a clock 1.5 s behind ours; sends 30 messages in 3 conversations and prints each
//! # one once, saying whether a webhook brought it or the catch-up found it.
//! cargo run --example events
//! ```
//!
//! For real, serve the route where TalkJS posts webhooks, build the client with
//! `talkjs::Client::from_env()`, and keep the checkpoint file on a disk that survives
//! restarts; the rest is as below.

use std::time::Duration;

use futures_util::TryStreamExt;
use talkjs::ClientExt;
use talkjs::models::{ConversationUpsert, NewMessage, UserUpsert};
use talkjs_fake::{FakeTalkJs, Faults, WebhookFaults};
use talkjs_webhooks::{SecretKey, WebhookConfig, channel};
use tokio::net::TcpListener;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

const MESSAGES: usize = 30;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    // The webhook route first, so that the fake can be pointed at it.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/talkjs", listener.local_addr()?);
    let fake = FakeTalkJs::builder()
        // Listings a second behind, and a server clock 1.5 s behind ours: within the
        // stream's slack (`settle`) below.
        .faults(
            Faults::seeded(1)
                .listing_lag(Duration::from_secs(1))
                .clock_skew_ms(-1_500),
        )
        .webhook_url(url)
        .webhook_faults(
            WebhookFaults::seeded(1)
                .drop_rate(0.5)
                .duplicate_rate(0.1)
                .reorder(true),
        )
        .start()
        .await?;
    let (handler, webhook_events) = channel(1024);
    let config = WebhookConfig::new(SecretKey::new(fake.secret_key()));
    let app: axum::Router = talkjs_webhooks::axum::router("/talkjs", config, handler);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    for user in ["alice", "bob"] {
        client
            .users()
            .upsert(user, &UserUpsert::new().name(user))
            .await?;
    }
    for i in 0..3 {
        client
            .conversations()
            .upsert(
                format!("order_{i}"),
                &ConversationUpsert::new().participants(["alice", "bob"]),
            )
            .await?;
    }

    // The consumer: webhook events as they come, a catch-up every second. Its slack for
    // listing lag plus clock skew is 3 s here (the default, 30 s, is safer for real use);
    // its first run starts that long before now, which the new fake makes "every message".
    let checkpoint = std::env::temp_dir().join(format!("talkjs-events-{}.json", fake.app_id()));
    let mut messages = client
        .events()
        .webhooks(webhook_events)
        .checkpoint_file(&checkpoint)
        .catch_up_every(Duration::from_secs(1))
        .settle(Duration::from_secs(3))
        .into_stream();
    let consumer = tokio::spawn(async move {
        let (mut by_webhook, mut recovered) = (0, 0);
        while by_webhook + recovered < MESSAGES {
            let Some(event) = messages.try_next().await? else {
                break;
            };
            let how = if event.recovered {
                recovered += 1;
                "found by the catch-up"
            } else {
                by_webhook += 1;
                "brought by a webhook"
            };
            println!(
                "{} in {}: {:?} ({how})",
                event.message.id,
                event.message.conversation_id,
                event.message.text.unwrap_or_default()
            );
        }
        // Dropping the stream saves the checkpoint.
        Ok::<_, talkjs::Error>((by_webhook, recovered))
    });

    tokio::time::sleep(Duration::from_millis(10)).await;
    for i in 0..MESSAGES {
        let sender = if i % 2 == 0 { "alice" } else { "bob" };
        client
            .conversations()
            .messages(format!("order_{}", i % 3))
            .send([NewMessage::user(sender, format!("message {i}"))])
            .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (by_webhook, recovered) = consumer.await??;
    let lost = fake
        .webhook_deliveries()
        .iter()
        .filter(|d| d.dropped)
        .count();
    println!(
        "{MESSAGES} messages, each once: {by_webhook} by webhook, {recovered} by the catch-up \
         ({lost} webhook deliveries were lost); checkpoint in {}",
        checkpoint.display()
    );
    std::fs::remove_file(&checkpoint)?;
    Ok(())
}
