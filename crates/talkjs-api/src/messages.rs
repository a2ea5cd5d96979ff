//! Messages of a conversation: `client.conversations().messages(id)`.

use http::Method;
use talkjs_models::{ImportMessage, Message, MessageEdit, MessageId, NewMessage, SentMessage};
use talkjs_transport::Idempotency;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::list::{ListRequest, ListSpec, list_builder};
use crate::request::{ApiRequest, check_id, conversation_path};

/// Most messages in one send or import request.
pub const MAX_MESSAGES_PER_REQUEST: usize = 10;

const MESSAGES: ListSpec = ListSpec {
    max_limit: 100,
    what: "messages",
};

/// The messages of one conversation. Created by
/// [`Conversations::messages`](crate::Conversations::messages).
#[derive(Debug, Clone)]
pub struct Messages {
    client: Client,
    conversation: String,
}

impl Messages {
    pub(crate) fn new(client: Client, conversation: String) -> Self {
        Self {
            client,
            conversation,
        }
    }

    fn message_path(
        &self,
        method: Method,
        id: &str,
        rest: &[&str],
        template: &'static str,
    ) -> Result<ApiRequest> {
        check_id("message id", id)?;
        Ok(
            conversation_path(template, method, &self.conversation, &["messages", id])?
                .segments(rest),
        )
    }

    /// Lists the messages, newest first (`GET …/messages`). Await for one page, or stream.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let mut messages = client.conversations().messages("order_123").list().into_stream();
    /// while let Some(m) = messages.try_next().await? {
    ///     println!("{:?}: {:?}", m.sender_id, m.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListMessages {
        let base = conversation_path(
            "/conversations/{conversationId}/messages",
            Method::GET,
            &self.conversation,
            &["messages"],
        );
        ListMessages {
            list: ListRequest::new(self.client.clone(), MESSAGES, base),
        }
    }

    /// Gets one message (`GET …/messages/{messageId}`).
    ///
    /// **No official TalkJS doc describes this endpoint** (it comes from peer SDKs); if TalkJS
    /// answers differently, look here first.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let m = client.conversations().messages("order_123").get("msg_abc").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: impl AsRef<str>) -> Result<Message> {
        let req = self.message_path(
            Method::GET,
            id.as_ref(),
            &[],
            "/conversations/{conversationId}/messages/{messageId}",
        )?;
        self.client.send_json(req).await
    }

    /// Sends up to 10 user or system messages in one request (`POST …/messages`) and returns
    /// their ids, in order. The request is retried after failures only when every message has
    /// an idempotency key (TalkJS then creates each message once).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::NewMessage;
    /// // User and system messages mixed in one request: convert both into `NewMessage`.
    /// let batch: [NewMessage; 2] = [
    ///     NewMessage::user("alice", "Hi Bob!").idempotency_key("order_123-1").into(),
    ///     NewMessage::system("Alice joined the order chat").idempotency_key("order_123-2").into(),
    /// ];
    /// let ids = client.conversations().messages("order_123").send(batch).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send<M: Into<NewMessage>>(
        &self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<Vec<MessageId>> {
        let messages: Vec<NewMessage> = messages.into_iter().map(Into::into).collect();
        if messages.len() > MAX_MESSAGES_PER_REQUEST {
            return Err(Error::InvalidArgument(format!(
                "{} messages in one send; TalkJS accepts at most {MAX_MESSAGES_PER_REQUEST} (use send_all to send them in chunks)",
                messages.len()
            )));
        }
        self.send_chunk(&messages).await
    }

    /// Sends any number of messages in requests of 10, in order, and returns all ids.
    ///
    /// When a request fails after earlier ones were accepted, the error is
    /// [`Error::Incomplete`]: `completed` messages were sent, `message_ids` holds their ids,
    /// and the failing request's error is its `source`; resume with the messages from index
    /// `completed`. When the first request fails, its error is returned as it is. Giving each
    /// message an idempotency key also makes re-running the whole call safe.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::NewMessage;
    /// let msgs = (0..25).map(|i| NewMessage::user("alice", format!("#{i}")).idempotency_key(format!("k{i}")));
    /// let ids = client.conversations().messages("order_123").send_all(msgs).await?;
    /// assert_eq!(ids.len(), 25);
    /// # Ok(()) }
    /// ```
    pub async fn send_all<M: Into<NewMessage>>(
        &self,
        messages: impl IntoIterator<Item = M>,
    ) -> Result<Vec<MessageId>> {
        let messages: Vec<NewMessage> = messages.into_iter().map(Into::into).collect();
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(MAX_MESSAGES_PER_REQUEST) {
            match self.send_chunk(chunk).await {
                Ok(sent) => ids.extend(sent),
                Err(e) => return Err(e.incomplete(ids.len(), ids)),
            }
        }
        Ok(ids)
    }

    async fn send_chunk(&self, messages: &[NewMessage]) -> Result<Vec<MessageId>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut req = conversation_path(
            "/conversations/{conversationId}/messages",
            Method::POST,
            &self.conversation,
            &["messages"],
        )?;
        req.json(messages)?;
        if messages.iter().all(|m| m.idempotency_key().is_some()) {
            req.idempotency(Idempotency::Idempotent);
        }
        let body = self.client.send(req).await?.into_body();
        let sent: Vec<SentMessage> = crate::client::decode(body.clone())?;
        if sent.len() != messages.len() {
            return Err(Error::Decode {
                source: serde::de::Error::custom(format!(
                    "sent {} messages but TalkJS returned {} ids",
                    messages.len(),
                    sent.len()
                )),
                body,
            });
        }
        Ok(sent.into_iter().map(|s| s.id).collect())
    }

    /// Edits a message's text or custom data (`PUT …/messages/{messageId}`); sets `editedAt`.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::MessageEdit;
    /// client.conversations().messages("order_123").edit("msg_abc", &MessageEdit::new().text("fixed typo")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn edit(&self, id: impl AsRef<str>, edit: &MessageEdit) -> Result<()> {
        let mut req = self.message_path(
            Method::PUT,
            id.as_ref(),
            &[],
            "/conversations/{conversationId}/messages/{messageId}",
        )?;
        req.json(edit)?;
        self.client.send_empty(req).await
    }

    /// Deletes a message (`DELETE …/messages/{messageId}`).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().messages("order_123").delete("msg_abc").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, id: impl AsRef<str>) -> Result<()> {
        let req = self.message_path(
            Method::DELETE,
            id.as_ref(),
            &[],
            "/conversations/{conversationId}/messages/{messageId}",
        )?;
        self.client.send_empty(req).await
    }

    /// Adds `user_id`'s reaction `emoji` to a message
    /// (`PUT …/messages/{messageId}/reactions/{emoji}/{userId}`).
    ///
    /// **No official TalkJS doc describes this endpoint** (it comes from peer SDKs); if TalkJS
    /// answers differently, look here first.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().messages("order_123").add_reaction("msg_abc", "👍", "bob").await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_reaction(
        &self,
        id: impl AsRef<str>,
        emoji: &str,
        user_id: impl AsRef<str>,
    ) -> Result<()> {
        let req = self.reaction(Method::PUT, id.as_ref(), emoji, user_id.as_ref())?;
        self.client.send_empty(req).await
    }

    /// Removes `user_id`'s reaction `emoji` from a message
    /// (`DELETE …/messages/{messageId}/reactions/{emoji}/{userId}`).
    ///
    /// **No official TalkJS doc describes this endpoint** (it comes from peer SDKs); if TalkJS
    /// answers differently, look here first.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// client.conversations().messages("order_123").remove_reaction("msg_abc", "👍", "bob").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove_reaction(
        &self,
        id: impl AsRef<str>,
        emoji: &str,
        user_id: impl AsRef<str>,
    ) -> Result<()> {
        let req = self.reaction(Method::DELETE, id.as_ref(), emoji, user_id.as_ref())?;
        self.client.send_empty(req).await
    }

    fn reaction(&self, method: Method, id: &str, emoji: &str, user_id: &str) -> Result<ApiRequest> {
        check_id("emoji", emoji)?;
        check_id("user id", user_id)?;
        self.message_path(
            method,
            id,
            &["reactions", emoji, user_id],
            "/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}",
        )
    }

    /// Imports historical messages (`POST /import/conversations/{conversationId}/messages`),
    /// in requests of 10, in order. Imported messages trigger no notifications and get
    /// `origin: "import"`. Import does NOT de-duplicate: the request is never retried once it
    /// may have reached the server, and re-running an import duplicates messages. Returns how
    /// many messages were imported.
    ///
    /// When a request fails after earlier ones were accepted, the error is
    /// [`Error::Incomplete`]: the first `completed` messages were imported (import only the
    /// ones from index `completed` again), and the failing request's error is its `source`.
    /// When the first request fails, its error is returned as it is.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{ImportMessage, Timestamp};
    /// let n = client.conversations().messages("order_123").import([
    ///     ImportMessage::new("alice", "Hello from 2019", Timestamp::from_millis(1_550_000_000_000)).read_by(["bob"]),
    /// ]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn import(&self, messages: impl IntoIterator<Item = ImportMessage>) -> Result<usize> {
        check_id("conversation id", &self.conversation)?;
        let messages: Vec<ImportMessage> = messages.into_iter().collect();
        let mut imported = 0;
        for chunk in messages.chunks(MAX_MESSAGES_PER_REQUEST) {
            self.import_chunk(chunk)
                .await
                .map_err(|e| e.incomplete(imported, Vec::new()))?;
            imported += chunk.len();
        }
        Ok(imported)
    }

    async fn import_chunk(&self, chunk: &[ImportMessage]) -> Result<()> {
        let mut req = ApiRequest::new(
            Method::POST,
            "/import/conversations/{conversationId}/messages",
            &["import", "conversations", &self.conversation, "messages"],
        );
        req.json(chunk)?;
        req.idempotency(Idempotency::NonIdempotent);
        self.client.send_empty(req).await
    }
}

/// A request listing messages; see [`Messages::list`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until awaited or streamed"]
pub struct ListMessages {
    list: ListRequest,
}

list_builder!(
    ListMessages,
    Message,
    "client.conversations().messages(\"order_123\").list()"
);
