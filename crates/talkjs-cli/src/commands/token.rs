//! `talkjs token app|user`: mint tokens for debugging.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use talkjs::auth::{AppId, SecretKey, TokenSigner};

use super::Ctx;
use crate::cli::TokenCommand;
use crate::error::CliError;

/// Prints the bare token, or with `--output` an object with its claims.
pub fn run(ctx: &mut Ctx, cmd: TokenCommand) -> Result<(), CliError> {
    let (app_id, secret) = ctx.credentials()?;
    let signer = TokenSigner::new(AppId::new(app_id), SecretKey::new(secret));
    let app_id = app_id.to_owned();
    let now = SystemTime::now();
    let (minted, kind, user, ttl) = match cmd {
        TokenCommand::App { expires_in } => (
            signer.with_app_token_ttl(expires_in).app_token_at(now),
            "app",
            None,
            expires_in,
        ),
        TokenCommand::User { user, expires_in } => (
            signer.user_token_at(&user, expires_in, now),
            "user",
            Some(user),
            expires_in,
        ),
    };
    let token = minted.map_err(|e| CliError::Usage(format!("cannot mint the token: {e}")))?;
    if ctx.out.explicit().is_none() {
        return ctx.out.raw(&format!("{token}\n"));
    }
    // The claims hold whole seconds; the durations parsed here are whole seconds too.
    let issued = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let expires = issued.saturating_add(ttl.as_secs());
    let mut value = json!({
        "token": token,
        "tokenType": kind,
        "appId": app_id,
        "issuedAt": issued.saturating_mul(1000),
        "expiresAt": expires.saturating_mul(1000),
    });
    if let (Some(user), Some(object)) = (user, value.as_object_mut()) {
        object.insert("userId".into(), user.into());
    }
    ctx.out.object(&value)
}
