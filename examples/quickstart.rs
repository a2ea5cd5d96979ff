//! The quickstart: users, a conversation, messages, and a `Stream` over them.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With `TALKJS_APP_ID` and `TALKJS_SECRET_KEY` set (and optionally `TALKJS_BASE_URL`) it talks
//! to that TalkJS app; without them it starts the in-process fake TalkJS server from
//! `talkjs-fake`, so it runs on a fresh machine with no account.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use talkjs::models::{ConversationUpsert, NewMessage, ParticipantPatch, UserUpsert};
use talkjs::{Client, api::one_on_one_id};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    // Keep the fake server alive for the whole run (it stops when dropped).
    let (client, _fake) = connect().await?;
    let (direct, group) = create_users_and_conversations(&client).await?;
    send_messages(&client, &direct, group).await?;
    read_back(&client, group).await
}

/// Users, a one-on-one conversation and a group; returns their ids.
async fn create_users_and_conversations(
    client: &Client,
) -> Result<(String, &'static str), AnyError> {
    // 1. Users: upsert is a merge, so running this twice changes nothing.
    for (id, name, email) in [
        ("alice", "Alice", "alice@example.com"),
        ("bob", "Bob", "bob@example.com"),
        ("carol", "Carol", "carol@example.com"),
    ] {
        client
            .users()
            .upsert(
                id,
                &UserUpsert::new().name(name).email([email]).role("default"),
            )
            .await?;
    }
    println!("created users alice, bob and carol");

    // 2. A one-on-one conversation (same id as the JavaScript SDK's Talk.oneOnOneId) and a group.
    let direct = one_on_one_id("alice", "bob");
    client
        .conversations()
        .upsert(
            &direct,
            &ConversationUpsert::new()
                .participants(["alice", "bob"])
                .subject("Alice & Bob"),
        )
        .await?;
    let group = "quickstart-group";
    client
        .conversations()
        .upsert(
            group,
            &ConversationUpsert::new()
                .participants(["alice", "bob", "carol"])
                .subject("Launch plan"),
        )
        .await?;
    // Carol may read the group but not write to it.
    client
        .conversations()
        .participants(group)
        .modify(
            "carol",
            &ParticipantPatch::new().access(talkjs::models::Access::Read),
        )
        .await?;
    println!("created conversations {direct:?} and {group:?}");
    Ok((direct, group))
}

/// A few messages, with idempotency keys.
async fn send_messages(client: &Client, direct: &str, group: &str) -> Result<(), AnyError> {
    // 3. Messages: idempotency keys make the sends safe to retry (the client does so on 5xx).
    // A run id keeps the keys of this run apart from those of earlier runs on a real app.
    let run = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let lines = [
        ("alice", "Hi Bob! Ready for the launch?"),
        ("bob", "Almost: the release notes need one more pass."),
        (
            "alice",
            "I'll take them. Carol, can you watch the dashboards?",
        ),
    ];
    let messages = lines.iter().enumerate().map(|(i, (sender, text))| {
        NewMessage::user(*sender, *text).idempotency_key(format!("quickstart-{run}-{i}"))
    });
    let ids = client
        .conversations()
        .messages(group)
        .send_all(messages)
        .await?;
    let system = [NewMessage::system("Carol joined as an observer")];
    client.conversations().messages(group).send(system).await?;
    client
        .conversations()
        .messages(direct)
        .send([NewMessage::user("bob", "Lunch after the launch?")])
        .await?;
    println!(
        "sent {} messages to {group:?} (plus one system message)",
        ids.len()
    );
    Ok(())
}

/// The messages through a `Stream`, and a summary.
async fn read_back(client: &Client, group: &str) -> Result<(), AnyError> {
    // 4. Read them back through a Stream that follows the pages lazily (2 per page, to show it).
    println!("\nthe messages of {group:?}, newest first:");
    let mut stream = client
        .conversations()
        .messages(group)
        .list()
        .limit(2)
        .into_stream();
    let mut count = 0;
    while let Some(message) = stream.try_next().await? {
        count += 1;
        let sender = message
            .sender_id
            .as_ref()
            .map_or("(system)", |s| s.as_str());
        println!("  {sender:>9}: {}", message.text.as_deref().unwrap_or(""));
    }

    // 5. A summary.
    let conversation = client.conversations().get(group).await?;
    let alices: Vec<_> = client
        .users()
        .conversations("alice")
        .into_stream()
        .try_collect()
        .await?;
    println!("\nsummary:");
    println!(
        "  {count} messages in {:?}",
        conversation.subject.as_deref().unwrap_or(group)
    );
    for (user, participant) in &conversation.participants {
        println!("  participant {user}: access {}", participant.access);
    }
    println!("  alice takes part in {} conversations", alices.len());
    Ok(())
}

/// A client for the real TalkJS app in the environment, or for a fake server started here.
async fn connect() -> Result<(Client, Option<talkjs_fake::FakeTalkJs>), AnyError> {
    if std::env::var_os(talkjs::api::ENV_APP_ID).is_some()
        && std::env::var_os(talkjs::api::ENV_SECRET_KEY).is_some()
    {
        let client = Client::from_env()?;
        println!("using the TalkJS app from TALKJS_APP_ID / TALKJS_SECRET_KEY");
        return Ok((client, None));
    }
    let fake = talkjs_fake::FakeTalkJs::start().await?;
    println!(
        "TALKJS_APP_ID / TALKJS_SECRET_KEY are not set: using the in-process fake TalkJS server at {}",
        fake.base_url()
    );
    let client = Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    Ok((client, Some(fake)))
}
