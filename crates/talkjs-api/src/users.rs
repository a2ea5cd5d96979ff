//! Users: `client.users()`.

use std::collections::BTreeMap;

use http::Method;
use talkjs_models::{PresenceQuery, Presences, User, UserConversation, UserUpsert};
use talkjs_transport::Idempotency;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::list::{ListRequest, ListSpec, conversation_filters, list_builder};
use crate::request::{ApiRequest, check_id, user_path};

/// Most users in one batch upsert (`PUT /users`).
pub const MAX_USERS_PER_BATCH: usize = 100;

const USERS: ListSpec = ListSpec {
    max_limit: 100,
    what: "users",
};
const USER_CONVERSATIONS: ListSpec = ListSpec {
    max_limit: 30,
    what: "conversations",
};

/// The users of the app. Created by [`Client::users`].
#[derive(Debug, Clone)]
pub struct Users {
    client: Client,
}

impl Client {
    /// The users of the app.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let alice = client.users().get("alice").await?;
    /// # Ok(()) }
    /// ```
    pub fn users(&self) -> Users {
        Users {
            client: self.clone(),
        }
    }
}

impl Users {
    /// Creates or updates a user (`PUT /users/{userId}`). A merge: fields left unset in
    /// `user` keep their value, cleared fields are set to `null`. `name` is required when the
    /// user is created.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::UserUpsert;
    /// client.users().upsert("alice", &UserUpsert::new().name("Alice").email(["alice@example.com"])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upsert(&self, id: impl AsRef<str>, user: &UserUpsert) -> Result<()> {
        let mut req = user_path("/users/{userId}", Method::PUT, id.as_ref(), &[])?;
        req.json(user)?;
        self.client.send_empty(req).await
    }

    /// Creates or updates up to 100 users in one call (`PUT /users`). All or nothing: if one
    /// entry is invalid TalkJS applies none. More than 100 is rejected before sending; use
    /// [`upsert_all`](Self::upsert_all) for more.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::UserUpsert;
    /// client.users().upsert_many([
    ///     ("alice", UserUpsert::new().name("Alice")),
    ///     ("bob", UserUpsert::new().name("Bob")),
    /// ]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn upsert_many<I, K>(&self, users: I) -> Result<()>
    where
        I: IntoIterator<Item = (K, UserUpsert)>,
        K: Into<String>,
    {
        let map = collect_batch(users)?;
        if map.len() > MAX_USERS_PER_BATCH {
            return Err(Error::InvalidArgument(format!(
                "{} users in one batch upsert; TalkJS accepts at most {MAX_USERS_PER_BATCH} (use upsert_all to send them in chunks)",
                map.len()
            )));
        }
        self.send_batch(&map).await
    }

    /// Creates or updates any number of users, in calls of 100 (`PUT /users` each), in order.
    /// Returns how many users were sent. Each chunk is all-or-nothing; a chunk TalkJS rejects
    /// is a [`Error::BadRequest`] with TalkJS's answer as its body, unchanged.
    ///
    /// When a chunk fails after earlier ones were applied, the error is
    /// [`Error::Incomplete`]: the first `completed` users were applied, the failing chunk is
    /// the (up to) 100 users from index `completed`, and its error is the `source`; resume
    /// with the users from index `completed`. When the first chunk fails (users `0..100`),
    /// its error is returned as it is. Upserts are idempotent: sending a chunk again is safe
    /// whatever the error.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::UserUpsert;
    /// let users = (0..250).map(|i| (format!("user{i}"), UserUpsert::new().name(format!("User {i}"))));
    /// let sent = client.users().upsert_all(users).await?;
    /// assert_eq!(sent, 250);
    /// # Ok(()) }
    /// ```
    pub async fn upsert_all<I, K>(&self, users: I) -> Result<usize>
    where
        I: IntoIterator<Item = (K, UserUpsert)>,
        K: Into<String>,
    {
        let mut sent = 0;
        let mut chunk = Vec::with_capacity(MAX_USERS_PER_BATCH);
        let mut iter = users.into_iter().peekable();
        while iter.peek().is_some() {
            chunk.clear();
            chunk.extend(iter.by_ref().take(MAX_USERS_PER_BATCH));
            let map = collect_batch(chunk.drain(..)).map_err(|e| e.incomplete(sent, Vec::new()))?;
            let n = map.len();
            self.send_batch(&map)
                .await
                .map_err(|e| e.incomplete(sent, Vec::new()))?;
            sent += n;
        }
        Ok(sent)
    }

    async fn send_batch(&self, map: &BTreeMap<String, UserUpsert>) -> Result<()> {
        if map.is_empty() {
            return Ok(());
        }
        let mut req = ApiRequest::new(Method::PUT, "/users", &["users"]);
        req.json(map)?;
        self.client.send_empty(req).await
    }

    /// Gets a user (`GET /users/{userId}`); [`Error::NotFound`] if there is none.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let alice = client.users().get("alice").await?;
    /// println!("{} <{:?}>", alice.name, alice.email);
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, id: impl AsRef<str>) -> Result<User> {
        let req = user_path("/users/{userId}", Method::GET, id.as_ref(), &[])?;
        self.client.send_json(req).await
    }

    /// Lists users (`GET /users`), newest first. Await for one page, or stream them all.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let first_page = client.users().list().limit(50).await?;
    /// let mut all = client.users().list().is_online(true).into_stream();
    /// while let Some(user) = all.try_next().await? {
    ///     println!("{}", user.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListUsers {
        let base = ApiRequest::new(Method::GET, "/users", &["users"]);
        ListUsers {
            list: ListRequest::new(self.client.clone(), USERS, Ok(base)),
        }
    }

    /// Lists the conversations a user takes part in (`GET /users/{userId}/conversations`),
    /// with the user's own unread state.
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let unread = client.users().conversations("alice").unreads_only(true).await?;
    /// println!("{} conversations with unread messages", unread.len());
    /// # Ok(()) }
    /// ```
    pub fn conversations(&self, id: impl AsRef<str>) -> ListUserConversations {
        let base = user_path(
            "/users/{userId}/conversations",
            Method::GET,
            id.as_ref(),
            &["conversations"],
        );
        ListUserConversations {
            list: ListRequest::new(self.client.clone(), USER_CONVERSATIONS, base),
        }
    }

    /// Who is online (`POST /presences`), optionally filtered by `query` (user ids, focus,
    /// typing, selected conversation, or [`PresenceQuery::no_conversation_selected`]). Only
    /// online users appear in the answer, each with their sessions (visible TalkJS UIs, and
    /// background sessions when the query includes them).
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::PresenceQuery;
    /// let online = client.users().presence(&PresenceQuery::new().user_ids(["alice", "bob"])).await?;
    /// for user in online.online_users() {
    ///     println!("{user} is online");
    /// }
    /// for user in online.typing_in("order_123") {
    ///     println!("{user} is typing in order_123");
    /// }
    /// if let Some(conversation) = online.get("alice").and_then(|p| p.focused_conversation()) {
    ///     println!("alice is looking at {conversation}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn presence(&self, query: &PresenceQuery) -> Result<Presences> {
        let mut req = ApiRequest::new(Method::POST, "/presences", &["presences"]);
        req.json(query)?;
        // A query: asking twice changes nothing.
        req.idempotency(Idempotency::Idempotent);
        self.client.send_json(req).await
    }
}

fn collect_batch<I, K>(users: I) -> Result<BTreeMap<String, UserUpsert>>
where
    I: IntoIterator<Item = (K, UserUpsert)>,
    K: Into<String>,
{
    let mut map = BTreeMap::new();
    for (id, user) in users {
        let id = id.into();
        check_id("user id", &id)?;
        if map.insert(id.clone(), user).is_some() {
            return Err(Error::InvalidArgument(format!(
                "user id {id:?} appears twice in one batch"
            )));
        }
    }
    Ok(map)
}

/// A request listing users; see [`Users::list`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until awaited or streamed"]
pub struct ListUsers {
    list: ListRequest,
}

impl ListUsers {
    /// Only users who are online (`true`) or offline (`false`).
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let online = client.users().list().is_online(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn is_online(mut self, online: bool) -> Self {
        self.list
            .query("isOnline", if online { "true" } else { "false" });
        self
    }
}

list_builder!(ListUsers, User, "client.users().list()");

/// A request listing a user's conversations; see [`Users::conversations`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until awaited or streamed"]
pub struct ListUserConversations {
    list: ListRequest,
}

impl ListUserConversations {
    /// Only conversations with messages the user has not read.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// let unread = client.users().conversations("alice").unreads_only(true).await?;
    /// # Ok(()) }
    /// ```
    pub fn unreads_only(mut self, yes: bool) -> Self {
        self.list
            .query("unreadsOnly", if yes { "true" } else { "false" });
        self
    }
}

conversation_filters!(
    ListUserConversations,
    "client.users().conversations(\"alice\")"
);
list_builder!(
    ListUserConversations,
    UserConversation,
    "client.users().conversations(\"alice\")"
);
