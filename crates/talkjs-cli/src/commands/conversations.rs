//! `talkjs conversations get|list|upsert|delete`.

use std::io::IsTerminal;

use talkjs::models::{ConversationFilter, ConversationUpsert};

use super::{Ctx, confirm, print_list};
use crate::cli::{ConversationUpsertArgs, ConversationsCommand};
use crate::error::CliError;
use crate::input::read_json_object;
use crate::output::CONVERSATION_COLUMNS;

/// The fields of a conversation upsert body.
pub const CONVERSATION_FIELDS: &[&str] = &[
    "participants",
    "subject",
    "photoUrl",
    "welcomeMessages",
    "custom",
];

/// The fields of a conversation filter.
const FILTER_FIELDS: &[&str] = &["custom", "access", "hasUnreadMessages"];

pub async fn run(ctx: &mut Ctx, cmd: ConversationsCommand) -> Result<(), CliError> {
    match cmd {
        ConversationsCommand::Get { id } => {
            let conversation = ctx.client()?.conversations().get(&id).await?;
            ctx.out.object(&conversation)
        }
        ConversationsCommand::List { list, filter } => {
            let mut request = ctx.client()?.conversations().list();
            if let Some(filter) = filter {
                let filter: ConversationFilter =
                    read_json_object(&filter, FILTER_FIELDS, "--filter")?;
                request = request.filter(&filter);
            }
            print_list(
                &mut ctx.out,
                request,
                list,
                CONVERSATION_COLUMNS,
                "conversations",
            )
            .await
        }
        ConversationsCommand::Upsert(args) => {
            let id = args.id.clone();
            let body = upsert_body(*args)?;
            let client = ctx.client()?;
            client.conversations().upsert(&id, &body).await?;
            let conversation = client.conversations().get(&id).await?;
            ctx.out.object(&conversation)
        }
        ConversationsCommand::Delete { id, yes } => {
            let client = ctx.client()?;
            if !yes && std::io::stdin().is_terminal() {
                let question = format!(
                    "Delete conversation {id:?} and all its messages? This cannot be undone."
                );
                if !confirm(&question)? {
                    return Err(CliError::Failed(
                        "not deleted (the answer was not yes)".into(),
                    ));
                }
            }
            client.conversations().delete(&id).await?;
            ctx.out.object(&serde_json::json!({
                "conversationId": id,
                "deleted": true,
            }))
        }
    }
}

/// The body from `--json` and the field options (which win; participants are added to
/// those of `--json`).
fn upsert_body(args: ConversationUpsertArgs) -> Result<ConversationUpsert, CliError> {
    let mut body: ConversationUpsert = match &args.json.json {
        Some(arg) => read_json_object(arg, CONVERSATION_FIELDS, "--json")?,
        None => ConversationUpsert::new(),
    };
    if args.participant.iter().any(String::is_empty) {
        return Err(CliError::Usage(
            "--participant: empty user id (check for a stray comma)".into(),
        ));
    }
    for user in args.participant {
        body = body.participant(user);
    }
    if let Some(subject) = args.subject {
        body = body.subject(subject);
    }
    if let Some(url) = args.photo_url {
        body = body.photo_url(url);
    }
    if !args.welcome_message.is_empty() {
        body = body.welcome_messages(args.welcome_message);
    }
    for (key, value) in args.custom {
        body = body.custom_field(key, value);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::CONVERSATION_FIELDS;

    #[test]
    fn known_fields_match_the_model() {
        let body = serde_json::json!({
            "participants": ["a"], "subject": "s", "photoUrl": "u", "welcomeMessages": ["w"],
            "custom": {"k": "v"},
        });
        let decoded: talkjs::models::ConversationUpsert =
            crate::input::decode_object(body.clone(), CONVERSATION_FIELDS, "--json").unwrap();
        assert_eq!(serde_json::to_value(&decoded).unwrap(), body);
    }
}
