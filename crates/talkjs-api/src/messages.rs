//! Messages of a conversation: `client.conversations().messages(id)`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http::Method;
use serde_json::Value;
use talkjs_models::{
    ImportMessage, Message, MessageEdit, MessageId, NewMessage, ReactionUser, SentMessage, UserId,
};
use talkjs_transport::Idempotency;

use crate::client::Client;
use crate::error::{Error, NonIdempotentWrite, Result};
use crate::list::{ListRequest, ListSpec, list_builder};
use crate::pagination::{Cursor, Items, Pages};
use crate::request::{ApiRequest, check_id, conversation_path};

/// Most messages in one send request, and in one import request as the Import reference page
/// states it (the size an import falls back to).
pub const MAX_MESSAGES_PER_REQUEST: usize = 10;

/// Most messages in one import request as TalkJS's official transfer example sends them
/// (talkjs-examples, `rest-api/transfer-data/transferData.js`): the size imports try first,
/// falling back to [`MAX_MESSAGES_PER_REQUEST`] when TalkJS refuses it
/// ([`Messages::import`]).
pub const MAX_IMPORT_MESSAGES_PER_REQUEST: usize = 100;

const MESSAGES: ListSpec = ListSpec {
    max_limit: 100,
    what: "messages",
};

const REACTIONS: ListSpec = ListSpec {
    max_limit: 100,
    what: "reactions",
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
    /// their ids, in order.
    ///
    /// **Idempotency keys.** TalkJS creates a message with an idempotency key once, however
    /// often it is sent (within its de-duplication window). When every message has one, the
    /// request is retried after a 5xx, a reset or an attempt timeout, and sending the same
    /// messages again after any failure is safe. Without, a message is created each time it
    /// is sent: the request is retried only after failures where nothing was processed (a
    /// 429, a refused connection), and a failure that may have been processed (a 5xx, a
    /// timeout, a lost connection) is an [`Error::UnknownOutcome`], whose message says to
    /// resend only with keys or after checking the conversation. This crate does not add
    /// keys of its own: a key made up inside this call would protect only its retries, not
    /// your next call. Derive keys from your own data (`"order_123-1"`), so that a resend,
    /// even from another process, carries the same ones.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::NewMessage;
    /// // User and system messages in one request, each with a key of its own.
    /// let ids = client.conversations().messages("order_123").send([
    ///     NewMessage::user("alice", "Hi Bob!").idempotency_key("order_123-1"),
    ///     NewMessage::system("Alice joined the order chat").idempotency_key("order_123-2"),
    /// ]).await?;
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
    /// `completed`. When the first request fails, its error is returned as it is. A failing
    /// request whose messages do not all carry an idempotency key and whose outcome is unknown
    /// is an [`Error::UnknownOutcome`] (inside `Incomplete` after earlier requests): check
    /// the conversation before sending its messages again. Giving each message an
    /// idempotency key makes re-running the whole call safe.
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
        let keyed = messages.iter().all(NewMessage::has_idempotency_key);
        if keyed {
            req.idempotency(Idempotency::Idempotent);
        }
        let body = match self.client.send(req).await {
            Ok(response) => response.into_body(),
            // Without a key on every message, sending them again may duplicate them: a
            // failure that may have landed says so.
            Err(e) if !keyed => return Err(e.for_write(NonIdempotentWrite::Send)),
            Err(e) => return Err(e),
        };
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

    /// Lists the users who reacted to a message with `emoji`
    /// (`GET …/messages/{messageId}/reactions/{emoji}`, the emoji percent-encoded). Await for
    /// one page of user ids, or stream them all.
    ///
    /// **No TalkJS reference page describes this endpoint**; TalkJS's official transfer
    /// example calls it with `?limit=100` and reads `userId` from each item, in `data` or a
    /// bare array (both decode). The example reads one page only ("only the first 100
    /// reactors per emoji", its README says): whether TalkJS honours `startingAfter` here is
    /// **unconfirmed**. The stream follows `startingAfter` with the last user id after a full
    /// page; a server that ignores it answers the same page again, which ends the stream with
    /// [`Error::Pagination`] after the first page's users (never an endless loop). Await the
    /// builder for exactly one page, as the example does.
    ///
    /// The emoji of a message's reactions are [`Message::reaction_emojis`].
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let messages = client.conversations().messages("order_123");
    /// // One page (up to 100), as TalkJS's transfer example reads them:
    /// let first: Vec<_> = messages.reactions("msg_abc", "👍").limit(100).await?;
    /// // Every page:
    /// let all: Vec<_> = messages.reactions("msg_abc", "👍").into_stream().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn reactions(&self, id: impl AsRef<str>, emoji: &str) -> ListReactions {
        let base = check_id("emoji", emoji).and_then(|()| {
            self.message_path(
                Method::GET,
                id.as_ref(),
                &["reactions", emoji],
                "/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}",
            )
        });
        ListReactions {
            list: ListRequest::new(self.client.clone(), REACTIONS, base),
        }
    }

    /// Imports historical messages (`POST /import/conversations/{conversationId}/messages`),
    /// in order, and returns how many were imported. Imported messages trigger no
    /// notifications and get `origin: "import"`. Import does NOT de-duplicate: a request is
    /// never retried once it may have reached the server, and re-running an import
    /// duplicates messages. [`import_with_ids`](Self::import_with_ids) also returns the
    /// created messages' ids.
    ///
    /// **Request size.** The Import reference page allows 10 messages a request; TalkJS's
    /// official transfer example sends 100. Requests carry up to
    /// [`Client::import_batch_size`] messages: 100 until TalkJS refuses that size, then 10.
    /// A request of more than 10 refused with a `400` (TalkJS then applied none of it) is
    /// sent again as requests of 10, in order; when all of those land, the size was the
    /// problem and the client imports 10 at a time from then on (remembered per app and API
    /// root for the life of the process, so every clone and every later call shares it; a
    /// client made with [`Client::from_service`] remembers it per call). When one of them is
    /// refused too, the `400` was about that message and the size stays 100.
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
        self.import_with_ids(messages).await.map(|done| done.count)
    }

    /// Imports like [`import`](Self::import), and returns the created messages' ids too when
    /// TalkJS sends them.
    ///
    /// The Import reference page shows no answer body; TalkJS's official transfer example
    /// reads the new messages' ids from it (`{"data": [{"id": …}, …]}` or a bare array, one
    /// per imported message, in order). [`ImportedMessages::ids`] holds them, in input
    /// order, when every request's answer had one id per message; `None` when any answer
    /// had none (`{}`, empty) or not one per message. The import itself succeeded either way
    /// (success is judged by the HTTP status only).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{ImportMessage, Timestamp};
    /// let done = client.conversations().messages("order_123").import_with_ids([
    ///     ImportMessage::new("alice", "Hello from 2019", Timestamp::from_millis(1_550_000_000_000)),
    /// ]).await?;
    /// if let Some(ids) = &done.ids {
    ///     println!("imported as {}", ids[0]);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn import_with_ids(
        &self,
        messages: impl IntoIterator<Item = ImportMessage>,
    ) -> Result<ImportedMessages> {
        check_id("conversation id", &self.conversation)?;
        let messages: Vec<ImportMessage> = messages.into_iter().collect();
        let size = import_size(&self.client);
        let mut done = ImportedMessages {
            count: 0,
            ids: Some(Vec::with_capacity(messages.len())),
        };
        while done.count < messages.len() {
            let end = messages.len().min(done.count + size.batch_size());
            let chunk = &messages[done.count..end];
            match self.import_request(chunk).await {
                Ok(created) => {
                    if chunk.len() > MAX_MESSAGES_PER_REQUEST {
                        size.large_accepted();
                    }
                    done.add(chunk.len(), created);
                }
                Err(Error::BadRequest { .. }) if chunk.len() > MAX_MESSAGES_PER_REQUEST => {
                    // Refused whole (a 400 applies nothing): the same messages again, 10 to
                    // a request, in order.
                    size.large_refused();
                    for part in chunk.chunks(MAX_MESSAGES_PER_REQUEST) {
                        match self.import_request(part).await {
                            Ok(created) => done.add(part.len(), created),
                            Err(e) => {
                                size.parts_failed();
                                return Err(e.incomplete(done.count, Vec::new()));
                            }
                        }
                    }
                    size.parts_landed();
                }
                Err(e) => return Err(e.incomplete(done.count, Vec::new())),
            }
        }
        Ok(done)
    }

    /// Sends the messages in **one** import request, as given: no chunking, no fallback to
    /// 10 when a larger request is refused, no size memory (see [`import`](Self::import)
    /// for all that). For callers that keep their own record of each request, such as a
    /// journal that must know exactly which messages one request carried. Returns the
    /// created messages' ids, in order, when the answer has one per message.
    ///
    /// TalkJS's reference page allows 10 messages a request, its transfer example sends
    /// 100; a larger request may be refused with a 400, which applies nothing.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_api::models::ImportMessage;
    /// let batch = [ImportMessage::new("alice", "hello", 1_600_000_000_000u64.into())];
    /// let ids = client.conversations().messages("c1").import_request(&batch).await?;
    /// # let _ = ids;
    /// # Ok(()) }
    /// ```
    pub async fn import_request(&self, chunk: &[ImportMessage]) -> Result<Option<Vec<MessageId>>> {
        check_id("conversation id", &self.conversation)?;
        let mut req = ApiRequest::new(
            Method::POST,
            "/import/conversations/{conversationId}/messages",
            &["import", "conversations", &self.conversation, "messages"],
        );
        req.json(chunk)?;
        req.idempotency(Idempotency::NonIdempotent);
        let body = self
            .client
            .send(req)
            .await
            .map_err(|e| e.for_write(NonIdempotentWrite::Import))?
            .into_body();
        Ok(created_ids(&body).filter(|ids| ids.len() == chunk.len()))
    }
}

/// The ids in an import answer: `{"data": [{"id": …}, …]}` or `[{"id": …}, …]`; `None` for
/// anything else (`{}`, an empty body, an item without an id).
fn created_ids(body: &Bytes) -> Option<Vec<MessageId>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove("data") {
            Some(Value::Array(items)) => items,
            _ => return None,
        },
        _ => return None,
    };
    items
        .iter()
        .map(|item| item.get("id")?.as_str().map(MessageId::from))
        .collect()
}

/// The outcome of [`Messages::import_with_ids`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportedMessages {
    /// How many messages were imported.
    pub count: usize,
    /// The created messages' ids, in input order, when every answer carried one per message
    /// (TalkJS's transfer example reads them; the reference page shows no answer body).
    pub ids: Option<Vec<MessageId>>,
}

impl ImportedMessages {
    /// Counts `n` more imported messages with the ids an answer gave for them.
    fn add(&mut self, n: usize, created: Option<Vec<MessageId>>) {
        self.count += n;
        match (&mut self.ids, created) {
            (Some(ids), Some(created)) => ids.extend(created),
            (ids, _) => *ids = None,
        }
    }
}

/// What this process knows about the import request size TalkJS accepts: shared per app and
/// API root ([`Client::import_size`]; see [`Messages::import`] for the rule). For runners
/// that send import requests of their own ([`Messages::import_request`]) and must learn and
/// share the size the same way: ask [`batch_size`](Self::batch_size) before each request,
/// and report what the answer showed.
#[derive(Debug, Default)]
pub struct ImportSize {
    state: AtomicU8,
}

/// Nothing known yet: try 100.
const SIZE_UNKNOWN: u8 = 0;
/// A request of more than 10 landed: keep 100.
const SIZE_ACCEPTED: u8 = 1;
/// A request of more than 10 was refused, its messages are being sent 10 at a time: use 10
/// until that tells whether the size was the problem.
const SIZE_SUSPECT: u8 = 2;
/// A request of more than 10 was refused while the same messages landed 10 at a time: 10.
const SIZE_LIMITED: u8 = 3;

impl ImportSize {
    /// The number of messages to put in the next import request.
    pub fn batch_size(&self) -> usize {
        match self.state.load(Ordering::Acquire) {
            SIZE_UNKNOWN | SIZE_ACCEPTED => MAX_IMPORT_MESSAGES_PER_REQUEST,
            _ => MAX_MESSAGES_PER_REQUEST,
        }
    }

    fn change(&self, from: &[u8], to: u8) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                from.contains(&now).then_some(to)
            });
    }

    /// Whether the size is settled: a request of more than 10 landed (100), or one was
    /// refused while the same messages landed 10 at a time (10). Until then a runner tries
    /// 100 with one request at a time (see [`Messages::import`]).
    pub fn is_known(&self) -> bool {
        matches!(
            self.state.load(Ordering::Acquire),
            SIZE_ACCEPTED | SIZE_LIMITED
        )
    }

    /// A request of more than 10 messages landed.
    pub fn large_accepted(&self) {
        self.change(&[SIZE_UNKNOWN, SIZE_SUSPECT], SIZE_ACCEPTED);
    }

    /// A request of more than 10 messages was refused with a 400.
    pub fn large_refused(&self) {
        self.change(&[SIZE_UNKNOWN], SIZE_SUSPECT);
    }

    /// Every 10-message part of a refused request landed: the size was refused.
    pub fn parts_landed(&self) {
        self.state.store(SIZE_LIMITED, Ordering::Release);
    }

    /// A part of a refused request failed too: the refusal tells nothing about the size.
    pub fn parts_failed(&self) {
        self.change(&[SIZE_SUSPECT], SIZE_UNKNOWN);
    }
}

/// The import size memory of `client`: see [`Client::import_size`].
fn import_size(client: &Client) -> Arc<ImportSize> {
    type Registry = Mutex<HashMap<(String, String), Arc<ImportSize>>>;
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let (Some(app), Some(root)) = (client.app_id(), client.api_root()) else {
        return Arc::new(ImportSize::default());
    };
    let mut registry = REGISTRY
        .get_or_init(Registry::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(
        registry
            .entry((app.to_owned(), root.to_owned()))
            .or_default(),
    )
}

impl Client {
    /// How many messages the next import request will carry:
    /// [`MAX_IMPORT_MESSAGES_PER_REQUEST`] (100, TalkJS's transfer example) until TalkJS
    /// refused that size, then [`MAX_MESSAGES_PER_REQUEST`] (10, the Import reference page).
    /// Shared by every client of the same app and API root in this process; see
    /// [`Messages::import`].
    ///
    /// ```
    /// # fn run() -> Result<(), talkjs_api::Error> {
    /// let client = talkjs_api::Client::builder("tNCnKd4d", "sk_test_…").build()?;
    /// assert_eq!(client.import_batch_size(), 100);
    /// # Ok(()) }
    /// # run().unwrap();
    /// ```
    pub fn import_batch_size(&self) -> usize {
        import_size(self).batch_size()
    }

    /// What this process knows about the import request size TalkJS accepts for this
    /// client's app: shared by every client of the same app id and API root in this
    /// process; a fresh one for a client without them ([`Client::from_service`]).
    pub fn import_size(&self) -> Arc<ImportSize> {
        import_size(self)
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

impl Cursor for ReactionUser {
    fn cursor(&self) -> &str {
        self.user_id.as_str()
    }
}

/// A request listing who reacted with an emoji; see [`Messages::reactions`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until awaited or streamed"]
pub struct ListReactions {
    list: ListRequest,
}

impl ListReactions {
    /// Page size, 1 to 100 (checked before any request is sent; streams use 100 unless set).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let users = client.conversations().messages("order_123").reactions("msg_abc", "👍").limit(100).await?;
    /// # Ok(()) }
    /// ```
    pub fn limit(mut self, limit: u32) -> Self {
        self.list.limit = Some(limit);
        self
    }

    /// Start after this user id (the cursor).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let next = client.conversations().messages("order_123").reactions("msg_abc", "👍").starting_after("bob").await?;
    /// # Ok(()) }
    /// ```
    pub fn starting_after(mut self, cursor: impl Into<String>) -> Self {
        self.list.starting_after = Some(cursor.into());
        self
    }

    /// Fetches one page of user ids (awaiting the builder does the same).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let users = client.conversations().messages("order_123").reactions("msg_abc", "👍").send().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<Vec<UserId>> {
        let page: Vec<ReactionUser> = self.list.first_page().await?;
        Ok(page.into_iter().map(|r| r.user_id).collect())
    }

    /// Every user id of every page, fetched lazily (see [`Messages::reactions`] on paging).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let mut users = client.conversations().messages("order_123").reactions("msg_abc", "👍").into_stream();
    /// while let Some(user) = users.try_next().await? {
    ///     println!("{user}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_stream(self) -> ReactionUsers {
        ReactionUsers {
            items: self.list.items(),
        }
    }

    /// Every page, as the listed items.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let mut pages = client.conversations().messages("order_123").reactions("msg_abc", "👍").pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     println!("{} users", page.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn pages(self) -> Pages<ReactionUser> {
        self.list.pages()
    }
}

impl std::future::IntoFuture for ListReactions {
    type Output = Result<Vec<UserId>>;
    type IntoFuture = talkjs_transport::BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The user ids who reacted with an emoji, across pages: a `Stream` of
/// `Result<UserId>`; see [`ListReactions::into_stream`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct ReactionUsers {
    items: Items<ReactionUser>,
}

impl Stream for ReactionUsers {
    type Item = Result<UserId>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.items)
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(|reaction| reaction.user_id)))
    }
}
