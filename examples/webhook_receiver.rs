//! A webhook receiver: a small hyper server that checks each delivery's signature with
//! `talkjs-auth` and answers 200 at once (TalkJS waits 5 s and retries once).
//!
//! ```sh
//! # Demo, no account needed: starts the fake TalkJS server, points its webhooks here,
//! # creates two users and sends a message, and prints the verified events.
//! cargo run --example webhook_receiver
//!
//! # For real: listen on an address and verify with your secret key (the one flagged
//! # "use for webhooks" in the dashboard); runs until Ctrl-C.
//! TALKJS_SECRET_KEY=sk_live_… cargo run --example webhook_receiver -- 0.0.0.0:8080
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use talkjs::auth::{SecretKey, WebhookVerifier};
use talkjs::models::{ConversationUpsert, NewMessage, UserUpsert, WebhookData, WebhookEvent};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// Webhook bodies are small JSON documents; refuse anything much larger.
const MAX_BODY: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let listen = std::env::args().nth(1);
    // An empty key counts as unset: the verifier would refuse every delivery anyway.
    let secret = std::env::var(talkjs::api::ENV_SECRET_KEY)
        .ok()
        .filter(|key| !key.is_empty());
    match (listen, secret) {
        (Some(addr), Some(secret)) => {
            let listener = TcpListener::bind(addr.parse::<SocketAddr>()?).await?;
            println!("verifying webhooks on http://{}", listener.local_addr()?);
            let (events, mut received) = mpsc::unbounded_channel();
            tokio::spawn(serve(
                listener,
                WebhookVerifier::new(SecretKey::new(secret)),
                events,
            ));
            while let Some(event) = received.recv().await {
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

/// Accepts connections until the listener fails; every verified event goes to `events`.
async fn serve(
    listener: TcpListener,
    verifier: WebhookVerifier,
    events: mpsc::UnboundedSender<WebhookEvent>,
) {
    let verifier = Arc::new(verifier);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let verifier = Arc::clone(&verifier);
        let events = events.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&verifier), events.clone()));
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {error}");
            }
        });
    }
}

/// One delivery: read the raw body, verify it against the headers, answer.
async fn handle(
    req: Request<Incoming>,
    verifier: Arc<WebhookVerifier>,
    events: mpsc::UnboundedSender<WebhookEvent>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return Ok(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body too large or unreadable",
        ));
    };
    // The raw bytes, exactly as received: re-serializing would break the signature.
    let outcome = verifier.verify_headers(&body, |name| {
        parts.headers.get(name).and_then(|v| v.to_str().ok())
    });
    match outcome {
        Ok(event) => {
            // Answer first, work later: hand the event to another task.
            let _ = events.send(event);
            Ok(reply(StatusCode::OK, "ok"))
        }
        Err(error) => {
            // The error never contains the secret; it says what was wrong.
            eprintln!("rejected a delivery: {error}");
            Ok(reply(StatusCode::UNAUTHORIZED, "invalid signature"))
        }
    }
}

fn reply(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

fn print_event(event: &WebhookEvent) {
    let id = event.id.as_deref().unwrap_or("(no id)");
    let kind = event.event_type.as_str();
    // `data` is typed by event type; an event type this crate does not know arrives as
    // `WebhookData::Other` with the raw JSON instead of failing the delivery.
    match &event.data {
        WebhookData::MessageSent(sent) => {
            let sender = sent.sender.as_ref().map_or("(system)", |u| u.name.as_str());
            let text = sent
                .message
                .as_ref()
                .and_then(|m| m.text.as_deref())
                .unwrap_or("");
            println!("verified {kind} event {id}: {sender} wrote {text:?}");
        }
        WebhookData::MessageRead(read) => {
            let reader = read.recipient.as_ref().map_or("?", |u| u.id.as_str());
            println!("verified {kind} event {id}: read by {reader}");
        }
        WebhookData::UserCreated(data) | WebhookData::UserUpdated(data) => {
            let user = data.user.as_ref().map_or("?", |u| u.id.as_str());
            println!("verified {kind} event {id}: user {user}");
        }
        WebhookData::Other(raw) => {
            println!(
                "verified {kind} event {id} (not typed by this crate): {}",
                raw.data
            );
        }
        _ => println!("verified {kind} event {id}"),
    }
}

/// The demo: the fake TalkJS server sends its webhooks to this receiver.
async fn demo() -> Result<(), AnyError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/talkjs-webhooks", listener.local_addr()?);
    let fake = talkjs_fake::FakeTalkJs::builder()
        .webhook_url(&url)
        .start()
        .await?;
    println!("no address given: demo with the fake TalkJS server, whose webhooks go to {url}");
    let (events, mut received) = mpsc::unbounded_channel();
    tokio::spawn(serve(
        listener,
        WebhookVerifier::new(fake.secret_key_typed()),
        events,
    ));

    let client = talkjs::Client::builder()
        .app_id(fake.app_id())
        .secret_key(fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await?;
    client
        .users()
        .upsert("bob", &UserUpsert::new().name("Bob"))
        .await?;
    client
        .conversations()
        .upsert(
            "demo",
            &ConversationUpsert::new().participants(["alice", "bob"]),
        )
        .await?;
    client
        .conversations()
        .messages("demo")
        .send([NewMessage::user("alice", "Hello, webhooks!")])
        .await?;

    // user.created twice and message.sent.
    let mut seen = 0;
    while seen < 3 {
        match tokio::time::timeout(Duration::from_secs(5), received.recv()).await {
            Ok(Some(event)) => {
                print_event(&event);
                seen += 1;
            }
            _ => return Err(format!("only {seen} of 3 webhook events arrived within 5 s").into()),
        }
    }
    // The fake logs a delivery once it has read the receiver's answer, which can be just
    // after the receiver has handed the event over: wait for the log to catch up.
    let succeeded = || {
        fake.webhook_deliveries()
            .iter()
            .filter(|d| d.succeeded())
            .count()
    };
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while succeeded() < seen {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    if waited.is_err() {
        return Err(format!(
            "the fake logged {} of {seen} deliveries as answered 200 within 5 s",
            succeeded()
        )
        .into());
    }
    println!(
        "{} deliveries answered 200, every one with a valid signature",
        succeeded()
    );
    Ok(())
}
