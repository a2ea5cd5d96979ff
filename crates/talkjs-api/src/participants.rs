//! Participants of a conversation: `client.conversations().participants(id)`.

use http::Method;
use serde::Deserialize;
use talkjs_models::{Access, ParticipantOverwrite, ParticipantPatch};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::{ApiRequest, check_id, conversation_path};

/// The participants of one conversation. Created by
/// [`Conversations::participants`](crate::Conversations::participants).
#[derive(Debug, Clone)]
pub struct Participants {
    client: Client,
    conversation: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EmailAddress {
    email_address: String,
}

impl Participants {
    pub(crate) fn new(client: Client, conversation: String) -> Self {
        Self {
            client,
            conversation,
        }
    }

    fn path(
        &self,
        method: Method,
        user_id: &str,
        rest: &[&str],
        template: &'static str,
    ) -> Result<ApiRequest> {
        check_id("user id", user_id)?;
        Ok(conversation_path(
            template,
            method,
            &self.conversation,
            &["participants", user_id],
        )?
        .segments(rest))
    }

    /// Adds `user_id` to the conversation, or OVERWRITES their settings
    /// (`PUT …/participants/{userId}`): TalkJS resets every setting left out of `settings` to
    /// its default, so a participant who had `notify: false` is notified again after a join
    /// with [`ParticipantOverwrite::default`] (read-write, notified). To change one setting
    /// and keep the other, use [`modify`](Self::modify).
    ///
    /// The PUT accepts access `ReadWrite` or `Read` only: [`Access::None`] is rejected with
    /// [`Error::InvalidArgument`] before anything is sent; revoke access with
    /// [`modify`](Self::modify) instead.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::ParticipantOverwrite;
    /// client.conversations().participants("order_123").join("carol", &ParticipantOverwrite::default()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn join(
        &self,
        user_id: impl AsRef<str>,
        settings: &ParticipantOverwrite,
    ) -> Result<()> {
        let mut req = self.path(
            Method::PUT,
            user_id.as_ref(),
            &[],
            "/conversations/{conversationId}/participants/{userId}",
        )?;
        if matches!(settings.access, Some(Access::None)) {
            return Err(Error::InvalidArgument(
                "join (PUT) accepts access ReadWrite or Read only; use modify() to set access None"
                    .to_owned(),
            ));
        }
        req.json(settings)?;
        self.client.send_empty(req).await
    }

    /// Changes only the given settings of a participant (`PATCH …/participants/{userId}`).
    /// `access: None` revokes access but keeps the conversation in the user's list.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{Access, ParticipantPatch};
    /// client.conversations().participants("order_123")
    ///     .modify("carol", &ParticipantPatch::new().access(Access::Read)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn modify(&self, user_id: impl AsRef<str>, patch: &ParticipantPatch) -> Result<()> {
        let mut req = self.path(
            Method::PATCH,
            user_id.as_ref(),
            &[],
            "/conversations/{conversationId}/participants/{userId}",
        )?;
        req.json(patch)?;
        self.client.send_empty(req).await
    }

    /// Removes a participant (`DELETE …/participants/{userId}`). From API version 2021-07-30
    /// the conversation also disappears from the user's list; to keep the history visible,
    /// [`modify`](Self::modify) the access to `None` instead.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().participants("order_123").remove("carol").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(&self, user_id: impl AsRef<str>) -> Result<()> {
        let req = self.path(
            Method::DELETE,
            user_id.as_ref(),
            &[],
            "/conversations/{conversationId}/participants/{userId}",
        )?;
        self.client.send_empty(req).await
    }

    /// The participant's inbound email address (`GET …/participants/{userId}/email`): mail sent
    /// to it is posted in the conversation as that participant. Treat it as sensitive.
    ///
    /// Since the address works like a credential, a response that cannot be decoded is an
    /// [`Error::Decode`] with an empty `body`: the raw body, which may hold the address, is
    /// not kept where error messages and logs would show it.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let address = client.conversations().participants("order_123").email("alice").await?;
    /// # Ok(()) }
    /// ```
    pub async fn email(&self, user_id: impl AsRef<str>) -> Result<String> {
        let req = self.path(
            Method::GET,
            user_id.as_ref(),
            &["email"],
            "/conversations/{conversationId}/participants/{userId}/email",
        )?;
        let body: EmailAddress = self.client.send_json(req).await.map_err(|e| match e {
            Error::Decode { source, .. } => Error::Decode {
                source,
                body: bytes::Bytes::new(),
            },
            other => other,
        })?;
        Ok(body.email_address)
    }
}
