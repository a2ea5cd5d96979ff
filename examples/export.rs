//! Export every user and every conversation as JSON lines, streaming: memory stays flat however
//! many pages there are, and an interrupted export can resume from the last id it printed.
//!
//! ```sh
//! # Demo against the fake server, seeded with 250 users and 40 conversations:
//! cargo run --example export > export.jsonl
//!
//! # Against your app, and resuming users after a given id:
//! TALKJS_APP_ID=… TALKJS_SECRET_KEY=… cargo run --example export -- --users-after user_0420
//! ```

use std::io::{BufWriter, Write};

use futures_util::TryStreamExt;
use talkjs::Client;
use talkjs::models::{ConversationUpsert, UserUpsert};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), AnyError> {
    let mut args = std::env::args().skip(1);
    let mut users_after = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--users-after" => {
                users_after = Some(args.next().ok_or("--users-after needs a user id")?);
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: export [--users-after <user id>]"
                )
                .into());
            }
        }
    }

    let (client, _fake) = connect().await?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());

    // Users: pages of 100 (the largest TalkJS allows), fetched lazily, one page ahead.
    let mut users = client.users().list().limit(100);
    if let Some(after) = users_after {
        users = users.starting_after(after);
    }
    let mut users = users.into_stream();
    let mut user_count = 0;
    while let Some(user) = users.try_next().await? {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "kind": "user", "user": user })
        )?;
        user_count += 1;
    }

    // Conversations: pages of 30.
    let mut conversations = client.conversations().list().into_stream();
    let mut conversation_count = 0;
    while let Some(conversation) = conversations.try_next().await? {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "kind": "conversation", "conversation": conversation })
        )?;
        conversation_count += 1;
    }
    out.flush()?;
    eprintln!("exported {user_count} users and {conversation_count} conversations");
    Ok(())
}

/// The app from the environment, or a fake server seeded with some data.
async fn connect() -> Result<(Client, Option<talkjs_fake::FakeTalkJs>), AnyError> {
    if std::env::var_os(talkjs::api::ENV_APP_ID).is_some() {
        return Ok((Client::from_env()?, None));
    }
    let fake = talkjs_fake::FakeTalkJs::start().await?;
    eprintln!("TALKJS_APP_ID is not set: exporting from a fake server seeded with demo data");
    let client = Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .build()?;
    let users = (0..250).map(|i| {
        (
            format!("user_{i:04}"),
            UserUpsert::new().name(format!("User {i}")),
        )
    });
    client.users().upsert_all(users).await?;
    for i in 0..40 {
        let members = [
            format!("user_{:04}", i * 2),
            format!("user_{:04}", i * 2 + 1),
        ];
        client
            .conversations()
            .upsert(
                format!("conversation_{i:03}"),
                &ConversationUpsert::new().participants(members),
            )
            .await?;
    }
    Ok((client, Some(fake)))
}
