//! `talkjs users get|list|upsert`.

use talkjs::models::UserUpsert;

use super::{Ctx, print_list};
use crate::cli::{UserUpsertArgs, UsersCommand};
use crate::error::CliError;
use crate::input::read_json_object;
use crate::output::USER_COLUMNS;

/// The fields of a user upsert body.
pub const USER_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "photoUrl",
    "welcomeMessage",
    "locale",
    "role",
    "custom",
    "pushTokens",
    "availabilityText",
];

pub async fn run(ctx: &mut Ctx, cmd: UsersCommand) -> Result<(), CliError> {
    match cmd {
        UsersCommand::Get { id } => {
            let user = ctx.client()?.users().get(&id).await?;
            ctx.out.object(&user)
        }
        UsersCommand::List {
            list,
            online,
            offline,
        } => {
            let mut request = ctx.client()?.users().list();
            if online || offline {
                request = request.is_online(online);
            }
            print_list(&mut ctx.out, request, list, USER_COLUMNS, "users").await
        }
        UsersCommand::Upsert(args) => {
            let id = args.id.clone();
            let body = upsert_body(*args)?;
            let client = ctx.client()?;
            client.users().upsert(&id, &body).await?;
            let user = client.users().get(&id).await?;
            ctx.out.object(&user)
        }
    }
}

/// The body from `--json` and the field options (which win).
fn upsert_body(args: UserUpsertArgs) -> Result<UserUpsert, CliError> {
    let mut body: UserUpsert = match &args.json.json {
        Some(arg) => read_json_object(arg, USER_FIELDS, "--json")?,
        None => UserUpsert::new(),
    };
    if let Some(name) = args.name {
        body = body.name(name);
    }
    if !args.email.is_empty() {
        body = body.email(args.email);
    }
    if !args.phone.is_empty() {
        body = body.phone(args.phone);
    }
    if let Some(url) = args.photo_url {
        body = body.photo_url(url);
    }
    if let Some(role) = args.role {
        body = body.role(role);
    }
    if let Some(locale) = args.locale {
        body = body.locale(locale);
    }
    if let Some(text) = args.welcome_message {
        body = body.welcome_message(text);
    }
    for (key, value) in args.custom {
        body = body.custom_field(key, value);
    }
    if body == UserUpsert::new() {
        return Err(CliError::Usage(
            "nothing to change: give --name (required for a new user), another field option, or --json".into(),
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::USER_FIELDS;

    /// Every known field decodes and encodes again (the list matches the model).
    #[test]
    fn known_fields_match_the_model() {
        let body = serde_json::json!({
            "name": "A", "email": ["a@x"], "phone": ["+1"], "photoUrl": "u", "welcomeMessage": "w",
            "locale": "en", "role": "r", "custom": {"k": "v"}, "pushTokens": {"fcm:x": true},
            "availabilityText": "t",
        });
        let decoded: talkjs::models::UserUpsert =
            crate::input::decode_object(body.clone(), USER_FIELDS, "--json").unwrap();
        let encoded = serde_json::to_value(&decoded).unwrap();
        assert_eq!(encoded, body);
        assert_eq!(encoded.as_object().unwrap().len(), USER_FIELDS.len());
    }
}
