//! Receiving webhooks in an axum app with `talkjs-webhooks`: one route that verifies each
//! delivery, answers 200 at once, drops duplicates and hands the events over.
//!
//! ```sh
//! # Demo, no account needed: starts the fake TalkJS server with its webhooks pointed at
//! # this app, and makes the fake deliver every event twice (as TalkJS does when it missed
//! # the first answer). Creates two users and sends three messages, prints each verified
//! # event (once), and exits.
//! cargo run --example webhooks_axum
//!
//! # For real: listen on an address and verify with your secret key (the one flagged
//! # "use for webhooks" in the dashboard); runs until Ctrl-C.
//! TALKJS_SECRET_KEY=sk_live_… cargo run --example webhooks_axum -- 0.0.0.0:8080
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use talkjs::models::{ConversationUpsert, NewMessage, UserUpsert, WebhookData, WebhookEvent};
use talkjs_fake::{FakeTalkJs, WebhookFaults};
use talkjs_webhooks::{EventStream, SecretKey, WebhookConfig, channel};
use tokio::net::TcpListener;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The route TalkJS posts to.
const PATH: &str = "/talkjs-webhooks";

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let listen = std::env::args().nth(1);
    // An empty key counts as unset: the receiver would refuse every delivery anyway.
    let secret = std::env::var(talkjs::api::ENV_SECRET_KEY)
        .ok()
        .filter(|key| !key.is_empty());
    match (listen, secret) {
        (Some(addr), Some(secret)) => {
            let listener = TcpListener::bind(addr.parse::<SocketAddr>()?).await?;
            println!(
                "receiving webhooks on http://{}{PATH}",
                listener.local_addr()?
            );
            let mut events = serve(listener, SecretKey::new(secret));
            while let Some(event) = events.recv().await {
                print_event(&event);
            }
            Ok(())
        }
        (Some(_), None) => {
            Err("set TALKJS_SECRET_KEY to the key TalkJS signs webhooks with".into())
        }
        (None, _) => demo().await,
    }
}

/// Serves the webhook route on `listener` (in the background) and returns the stream of
/// verified, first-seen events.
fn serve(listener: TcpListener, secret: SecretKey) -> EventStream {
    // The handler forwards into a channel; a plain `async fn(WebhookEvent)` works too.
    let (handler, events) = channel(256);
    let app: axum::Router =
        talkjs_webhooks::axum::router(PATH, WebhookConfig::new(secret), handler);
    // ... .merge(the rest of your app)
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("the server stopped: {error}");
        }
    });
    events
}

fn print_event(event: &WebhookEvent) {
    let id = event.id.as_deref().unwrap_or("(no id)");
    let kind = event.event_type.as_str();
    match &event.data {
        WebhookData::MessageSent(sent) => {
            let sender = sent.sender.as_ref().map_or("(system)", |u| u.name.as_str());
            let text = sent
                .message
                .as_ref()
                .and_then(|m| m.text.as_deref())
                .unwrap_or("");
            println!("{kind} {id}: {sender} wrote {text:?}");
        }
        WebhookData::UserCreated(data) | WebhookData::UserUpdated(data) => {
            let user = data.user.as_ref().map_or("?", |u| u.id.as_str());
            println!("{kind} {id}: user {user}");
        }
        _ => println!("{kind} {id}"),
    }
}

/// The demo: the fake TalkJS server delivers its webhooks, each twice, to this app.
async fn demo() -> Result<(), AnyError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{PATH}", listener.local_addr()?);
    let fake = FakeTalkJs::builder()
        .webhook_url(&url)
        // Every event delivered twice with the same id: the receiver handles it once.
        .webhook_faults(WebhookFaults::seeded(1).duplicate_rate(1.0))
        .start()
        .await?;
    println!("no address given: demo with the fake TalkJS server, whose webhooks go to {url}");
    let mut events = serve(listener, fake.secret_key_typed());

    let client = talkjs::Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    for (id, name) in [("alice", "Alice"), ("bob", "Bob")] {
        client
            .users()
            .upsert(id, &UserUpsert::new().name(name))
            .await?;
    }
    client
        .conversations()
        .upsert(
            "demo",
            &ConversationUpsert::new().participants(["alice", "bob"]),
        )
        .await?;
    for (i, (sender, text)) in [
        ("alice", "Hello, webhooks!"),
        ("bob", "Hi Alice"),
        ("alice", "Every event arrives once"),
    ]
    .into_iter()
    .enumerate()
    {
        client
            .conversations()
            .messages("demo")
            .send([NewMessage::user(sender, text).idempotency_key(format!("demo-{i}"))])
            .await?;
    }

    // Two user.created and three message.sent.
    let produced = fake.events().len();
    for seen in 0..produced {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Some(event)) => print_event(&event),
            _ => {
                return Err(format!("only {seen} of {produced} events arrived within 10 s").into());
            }
        }
    }

    // The fake logs a delivery once both attempts are answered.
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let log = fake.webhook_deliveries();
            if log.len() >= produced {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .map_err(|_| "the fake did not log every delivery within 10 s")?;
    // No copy reached the handler (a copy is refused before its answer; give a handler
    // run that was still on its way a moment to show up).
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
        return Err(format!("event {:?} was handled twice", extra.id).into());
    }
    let attempts: u32 = finished.iter().map(|d| d.attempts).sum();
    let answered = finished.iter().filter(|d| d.succeeded()).count();
    println!(
        "{produced} events handled once each; the fake sent {attempts} deliveries, \
         {answered} of {produced} events answered 200 (the copies as duplicates)"
    );
    Ok(())
}
