//! `talkjs messages list|send|import`.

use std::hash::{BuildHasher, RandomState};
use std::io::{BufRead, BufReader};

use serde_json::{Value, json};
use talkjs::models::{
    Custom, ImportMessage, NewMessage, NewSystemMessage, NewUserMessage, SentMessage,
};

use super::{Ctx, print_list, progress_bar};
use crate::cli::{MessagesCommand, SendArgs};
use crate::error::CliError;
use crate::input::{decode_object, open_input, read_json_arg};
use crate::output::{MESSAGE_COLUMNS, SENT_COLUMNS};

/// The fields of a user message to send.
const USER_MESSAGE_FIELDS: &[&str] = &[
    "type",
    "sender",
    "text",
    "referencedMessageId",
    "custom",
    "idempotencyKey",
    "attachmentToken",
    "location",
];

/// The fields of a system message to send.
const SYSTEM_MESSAGE_FIELDS: &[&str] = &[
    "type",
    "text",
    "custom",
    "idempotencyKey",
    "attachmentToken",
];

/// The fields of a message to import: the Import reference page's (`timestamp`, `readBy`,
/// `attachmentToken`), and the shape TalkJS's transfer example sends (`createdAt` for
/// `timestamp`, `content` blocks, a file block carrying its `fileToken`).
const IMPORT_FIELDS: &[&str] = &[
    "type",
    "sender",
    "text",
    "timestamp",
    "createdAt",
    "readBy",
    "attachmentToken",
    "custom",
    "content",
];

pub async fn run(ctx: &mut Ctx, cmd: MessagesCommand) -> Result<(), CliError> {
    match cmd {
        MessagesCommand::List { conversation, list } => {
            let request = ctx.client()?.conversations().messages(conversation).list();
            print_list(&mut ctx.out, request, list, MESSAGE_COLUMNS, "messages").await
        }
        MessagesCommand::Send(args) => {
            let conversation = args.conversation.clone();
            let messages = send_body(*args)?;
            let ids = ctx
                .client()?
                .conversations()
                .messages(conversation)
                .send_all(messages)
                .await?;
            let mut list = ctx.out.list(SENT_COLUMNS);
            for id in ids {
                list.item(&SentMessage::new(id))?;
            }
            list.finish()
        }
        MessagesCommand::Import { conversation, file } => {
            let messages = read_import(&file)?;
            let client = ctx.client()?;
            let handle = client.conversations().messages(&conversation);
            let total = messages.len();
            let bar = progress_bar(u64::try_from(total).ok(), "messages imported", false);
            let mut imported = 0;
            // Up to 100 a request (10 once TalkJS refused more; `import` falls back by itself).
            while imported < total {
                let size = client.import_batch_size().max(1);
                let chunk = &messages[imported..total.min(imported + size)];
                if let Err(e) = handle.import(chunk.iter().map(|(_, m)| m.clone())).await {
                    bar.abandon();
                    // The first `completed` of this call landed (its later requests failed).
                    if let talkjs::Error::Incomplete { completed, .. } = &e {
                        imported += completed;
                    }
                    let next_line = messages.get(imported).map_or(0, |(line, _)| *line);
                    let progress = if e.may_have_landed() {
                        format!(
                            "{imported} of {total} messages imported for sure; the request starting at line {next_line} may have been stored (its answer was lost): check the conversation (talkjs messages list {conversation}) before importing from line {next_line} again (imports are not de-duplicated)"
                        )
                    } else {
                        format!(
                            "{imported} of {total} messages imported; the rest start at line {next_line} of the input (imports are not de-duplicated: import only the rest again)"
                        )
                    };
                    return Err(CliError::Partial {
                        source: Box::new(e.into()),
                        progress,
                    });
                }
                imported += chunk.len();
                bar.inc(chunk.len() as u64);
            }
            bar.finish_and_clear();
            ctx.out.object(&json!({
                "conversationId": conversation,
                "imported": imported,
            }))
        }
    }
}

/// The messages to send, from `--json` or the options; every message without an
/// idempotency key gets a random one, so that a retried request cannot send it twice.
fn send_body(args: SendArgs) -> Result<Vec<NewMessage>, CliError> {
    let mut messages = match &args.json {
        Some(arg) => messages_from_json(arg)?,
        None => vec![message_from_options(args)],
    };
    for message in &mut messages {
        if let Some((_, key)) = shared_fields(message) {
            key.get_or_insert_with(random_key);
        }
    }
    Ok(messages)
}

/// The custom data and the idempotency key of a message, whichever kind it is.
fn shared_fields(message: &mut NewMessage) -> Option<(&mut Custom, &mut Option<String>)> {
    match message {
        NewMessage::User(m) => Some((&mut m.custom, &mut m.idempotency_key)),
        NewMessage::System(m) => Some((&mut m.custom, &mut m.idempotency_key)),
        _ => None,
    }
}

/// `--json`: one message object or an array of them.
fn messages_from_json(arg: &str) -> Result<Vec<NewMessage>, CliError> {
    let value = read_json_arg(arg, "--json")?;
    let items = if let Value::Array(items) = value {
        items
    } else {
        vec![value]
    };
    if items.is_empty() {
        return Err(CliError::Usage("--json: the array has no messages".into()));
    }
    let many = items.len() > 1;
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let what = if many {
                format!("--json message {}", i + 1)
            } else {
                "--json".to_owned()
            };
            decode_new_message(v, &what)
        })
        .collect()
}

/// The message of `--sender`/`--system`, `--text` and the other options.
fn message_from_options(args: SendArgs) -> NewMessage {
    let text = args.text.unwrap_or_default();
    let mut message: NewMessage = match args.sender {
        Some(sender) if !args.system => {
            let mut m = NewUserMessage::new(sender, text);
            if let Some(reply) = args.reply_to {
                m = m.referenced_message_id(reply);
            }
            m.into()
        }
        _ => NewSystemMessage::new(text).into(),
    };
    if let Some((custom, key)) = shared_fields(&mut message) {
        custom.extend(args.custom);
        *key = args.idempotency_key;
    }
    message
}

/// One message of `--json`; `type` defaults to a user message when there is a sender.
fn decode_new_message(value: Value, what: &str) -> Result<NewMessage, CliError> {
    let Value::Object(mut object) = value else {
        return Err(CliError::Usage(format!(
            "{what} must be a JSON object like {{\"sender\": \"alice\", \"text\": \"Hi\"}}"
        )));
    };
    if !object.contains_key("type") {
        let kind = if object.contains_key("sender") {
            "UserMessage"
        } else {
            "SystemMessage"
        };
        object.insert("type".into(), kind.into());
    }
    let fields = match object.get("type").and_then(Value::as_str) {
        Some("UserMessage") => USER_MESSAGE_FIELDS,
        Some("SystemMessage") => SYSTEM_MESSAGE_FIELDS,
        _ => {
            return Err(CliError::Usage(format!(
                "{what}: \"type\" must be \"UserMessage\" or \"SystemMessage\""
            )));
        }
    };
    decode_object(Value::Object(object), fields, what)
}

/// A random idempotency key.
fn random_key() -> String {
    let state = RandomState::new();
    let now = std::time::SystemTime::now();
    format!(
        "talkjs-cli-{:016x}{:016x}",
        state.hash_one(now),
        state.hash_one((now, std::process::id()))
    )
}

/// Reads and checks every line of an import before anything is sent: `(line number, message)`.
fn read_import(file: &str) -> Result<Vec<(usize, ImportMessage)>, CliError> {
    let reader = BufReader::new(open_input(file)?);
    let name = if file == "-" { "standard input" } else { file };
    let mut messages = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line =
            line.map_err(|e| CliError::Usage(format!("{name}, line {number}: cannot read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let what = format!("{name}, line {number}");
        let mut value: Value = serde_json::from_str(&line)
            .map_err(|e| CliError::Usage(format!("{what}: not valid JSON: {e}")))?;
        if let Value::Object(object) = &mut value {
            object.entry("type").or_insert_with(|| "UserMessage".into());
        }
        messages.push((number, decode_object(value, IMPORT_FIELDS, &what)?));
    }
    if messages.is_empty() {
        return Err(CliError::Usage(format!(
            "{name} has no messages (expected one JSON object per line)"
        )));
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn user_and_system_messages_from_json() {
        let user = decode_new_message(json!({"sender": "alice", "text": "hi"}), "--json").unwrap();
        assert!(matches!(user, NewMessage::User(_)));
        let system = decode_new_message(json!({"text": "joined"}), "--json").unwrap();
        assert!(matches!(system, NewMessage::System(_)));
        let err = decode_new_message(json!({"text": "x", "location": [1, 2]}), "--json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field \"location\""), "{err}");
        let err = decode_new_message(json!({"type": "Other", "text": "x"}), "--json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be \"UserMessage\""), "{err}");
    }

    #[test]
    fn known_fields_match_the_models() {
        let user = json!({"type": "UserMessage", "sender": "a", "text": "t", "referencedMessageId": "m",
            "custom": {"k": "v"}, "idempotencyKey": "i", "attachmentToken": "f", "location": [1.5, 2.5]});
        let decoded = decode_new_message(user.clone(), "--json").unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), user);
        let import = json!({"type": "UserMessage", "sender": "a", "text": "t", "timestamp": 5,
            "readBy": ["b"], "attachmentToken": "f", "custom": {"k": "v"}});
        let decoded: ImportMessage =
            decode_object(import.clone(), IMPORT_FIELDS, "line 1").unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), import);
        // The transfer example's shape: createdAt and content blocks.
        let script = json!({"type": "UserMessage", "sender": "a", "createdAt": 5,
            "content": [{"type": "text", "children": ["hi"]}, {"type": "file", "fileToken": "ft"}]});
        let decoded: ImportMessage =
            decode_object(script.clone(), IMPORT_FIELDS, "line 1").unwrap();
        assert_eq!(decoded.timestamp.as_millis(), 5);
        let sent = serde_json::to_value(&decoded).unwrap();
        assert_eq!(sent["createdAt"], 5, "{sent}");
        assert_eq!(sent["content"], script["content"], "{sent}");
    }

    /// The body of `messages send` with these options.
    fn send_options(options: &[&str]) -> Vec<NewMessage> {
        let args = ["talkjs", "messages", "send", "chat"].iter().chain(options);
        let cli = <crate::cli::Cli as clap::Parser>::try_parse_from(args).unwrap();
        let crate::cli::Command::Messages(MessagesCommand::Send(send)) = cli.command else {
            panic!("not messages send: {cli:?}");
        };
        send_body(*send).unwrap()
    }

    #[test]
    fn messages_from_options() {
        let user = send_options(&[
            "--sender",
            "alice",
            "--text",
            "hi",
            "--reply-to",
            "m1",
            "--custom",
            "k=v",
            "--idempotency-key",
            "i1",
        ]);
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            json!([{"type": "UserMessage", "sender": "alice", "text": "hi",
                "referencedMessageId": "m1", "custom": {"k": "v"}, "idempotencyKey": "i1"}])
        );
        let system = send_options(&["--system", "--text", "joined", "--custom", "k=v"]);
        let NewMessage::System(m) = &system[0] else {
            panic!("not a system message: {system:?}");
        };
        assert_eq!(
            (m.text.as_str(), m.custom.get("k").map(String::as_str)),
            ("joined", Some("v"))
        );
        // No --idempotency-key: a random one.
        assert!(
            m.idempotency_key
                .as_deref()
                .is_some_and(|k| k.starts_with("talkjs-cli-"))
        );
    }

    #[test]
    fn random_keys_are_unique_and_well_formed() {
        // Each send gets an idempotency key of its own: a repeated key would make TalkJS drop
        // a different message as a duplicate.
        let keys: std::collections::HashSet<String> = (0..1000).map(|_| random_key()).collect();
        assert_eq!(keys.len(), 1000, "no key repeats");
        for key in &keys {
            let hex = key.strip_prefix("talkjs-cli-").unwrap_or_default();
            assert_eq!(hex.len(), 32, "{key}");
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        }
    }
}
