//! `talkjs participants add|update|remove`.

use serde_json::json;
use talkjs::models::{Access, Notify, ParticipantOverwrite, ParticipantPatch};

use super::Ctx;
use crate::cli::{AccessArg, NotifyArg, ParticipantsCommand};
use crate::error::CliError;

fn access(arg: AccessArg) -> Access {
    match arg {
        AccessArg::ReadWrite => Access::ReadWrite,
        AccessArg::Read => Access::Read,
        AccessArg::None => Access::None,
    }
}

fn notify(arg: NotifyArg) -> Notify {
    match arg {
        NotifyArg::All => Notify::All,
        NotifyArg::Off => Notify::Off,
        NotifyArg::MentionsOnly => Notify::MentionsOnly,
    }
}

pub async fn run(ctx: &mut Ctx, cmd: ParticipantsCommand) -> Result<(), CliError> {
    match cmd {
        ParticipantsCommand::Add {
            conversation,
            user,
            access: access_arg,
            notify: notify_arg,
        } => {
            if access_arg == Some(AccessArg::None) {
                return Err(CliError::Usage(
                    "add does not take --access none; add the user, then `talkjs participants update --access none`".into(),
                ));
            }
            let mut body = ParticipantOverwrite::new();
            body.access = access_arg.map(access);
            body.notify = notify_arg.map(notify);
            let client = ctx.client()?;
            client
                .conversations()
                .participants(&conversation)
                .join(&user, &body)
                .await?;
            show(ctx, &client, &conversation, &user).await
        }
        ParticipantsCommand::Update {
            conversation,
            user,
            access: access_arg,
            notify: notify_arg,
        } => {
            let mut body = ParticipantPatch::new();
            body.access = access_arg.map(access);
            body.notify = notify_arg.map(notify);
            let client = ctx.client()?;
            client
                .conversations()
                .participants(&conversation)
                .modify(&user, &body)
                .await?;
            show(ctx, &client, &conversation, &user).await
        }
        ParticipantsCommand::Remove { conversation, user } => {
            let client = ctx.client()?;
            client
                .conversations()
                .participants(&conversation)
                .remove(&user)
                .await?;
            ctx.out.object(&json!({
                "conversationId": conversation,
                "userId": user,
                "removed": true,
            }))
        }
    }
}

/// Prints the participant's settings as the conversation now has them.
async fn show(
    ctx: &mut Ctx,
    client: &talkjs::Client,
    conversation: &str,
    user: &str,
) -> Result<(), CliError> {
    let c = client.conversations().get(conversation).await?;
    let settings = c.participants.get(user);
    let mut value = json!({ "conversationId": conversation, "userId": user });
    if let (Some(object), Some(settings)) = (value.as_object_mut(), settings) {
        object.insert("access".into(), json!(settings.access));
        object.insert("notify".into(), json!(settings.notify));
    }
    ctx.out.object(&value)
}
