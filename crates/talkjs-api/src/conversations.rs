//! Conversations: `client.conversations()`.

use http::Method;
use talkjs_models::{Conversation, ConversationUpsert};

use crate::client::Client;
use crate::error::Result;
use crate::list::{ListRequest, ListSpec, conversation_filters, list_builder};
use crate::messages::Messages;
use crate::participants::Participants;
use crate::request::{ApiRequest, check_id, conversation_path};

const CONVERSATIONS: ListSpec = ListSpec {
    max_limit: 30,
    what: "conversations",
};

/// The conversations of the app. Created by [`Client::conversations`].
#[derive(Debug, Clone)]
pub struct Conversations {
    client: Client,
}

impl Client {
    /// The conversations of the app.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let conversation = client.conversations().get("order_123").await?;
    /// # Ok(()) }
    /// ```
    pub fn conversations(&self) -> Conversations {
        Conversations {
            client: self.clone(),
        }
    }
}

impl Conversations {
    /// Creates or updates a conversation (`PUT /conversations/{conversationId}`). A merge:
    /// unset fields keep their value. `participants` only ADDS users (with default access);
    /// remove one with [`Participants::remove`].
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::ConversationUpsert;
    /// client.conversations().upsert("order_123", &ConversationUpsert::new()
    ///     .participants(["alice", "bob"])
    ///     .subject("Order #123")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upsert(
        &self,
        id: impl AsRef<str>,
        conversation: &ConversationUpsert,
    ) -> Result<()> {
        let mut req = conversation_path(
            "/conversations/{conversationId}",
            Method::PUT,
            id.as_ref(),
            &[],
        )?;
        req.json(conversation)?;
        self.client.send_empty(req).await
    }

    /// Gets a conversation; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let c = client.conversations().get("order_123").await?;
    /// println!("{:?} with {} participants", c.subject, c.participants.len());
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: impl AsRef<str>) -> Result<Conversation> {
        let req = conversation_path(
            "/conversations/{conversationId}",
            Method::GET,
            id.as_ref(),
            &[],
        )?;
        self.client.send_json(req).await
    }

    /// Deletes a conversation with all its messages (irrevocable; fires the
    /// `conversation.deleted` webhook).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().delete("order_123").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: impl AsRef<str>) -> Result<()> {
        let req = conversation_path(
            "/conversations/{conversationId}",
            Method::DELETE,
            id.as_ref(),
            &[],
        )?;
        self.client.send_empty(req).await
    }

    /// Marks every message of the conversation as read by `user_id`
    /// (`POST /conversations/{conversationId}/readBy/{userId}`).
    ///
    /// **No official TalkJS doc describes this endpoint** (it comes from peer SDKs); if TalkJS
    /// answers differently, look here first.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().mark_read("order_123", "alice").await?;
    /// # Ok(()) }
    /// ```
    pub async fn mark_read(&self, id: impl AsRef<str>, user_id: impl AsRef<str>) -> Result<()> {
        check_id("user id", user_id.as_ref())?;
        let mut req = conversation_path(
            "/conversations/{conversationId}/readBy/{userId}",
            Method::POST,
            id.as_ref(),
            &["readBy", user_id.as_ref()],
        )?;
        // Marking read twice has the same effect as once.
        req.idempotency(talkjs_transport::Idempotency::Idempotent);
        self.client.send_empty(req).await
    }

    /// Lists all conversations of the app (`GET /conversations`).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let all: Vec<_> = client.conversations().list().limit(30).into_stream().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListConversations {
        let base = ApiRequest::new(Method::GET, "/conversations", &["conversations"]);
        ListConversations {
            list: ListRequest::new(self.client.clone(), CONVERSATIONS, Ok(base)),
        }
    }

    /// The participants of a conversation.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().participants("order_123").remove("carol").await?;
    /// # Ok(()) }
    /// ```
    pub fn participants(&self, id: impl Into<String>) -> Participants {
        Participants::new(self.client.clone(), id.into())
    }

    /// The messages of a conversation.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let latest = client.conversations().messages("order_123").list().limit(1).await?;
    /// # Ok(()) }
    /// ```
    pub fn messages(&self, id: impl Into<String>) -> Messages {
        Messages::new(self.client.clone(), id.into())
    }
}

/// A request listing conversations; see [`Conversations::list`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until awaited or streamed"]
pub struct ListConversations {
    list: ListRequest,
}

conversation_filters!(ListConversations, "client.conversations().list()");
list_builder!(
    ListConversations,
    Conversation,
    "client.conversations().list()"
);
