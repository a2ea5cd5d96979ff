//! # talkjs-api
//!
//! The TalkJS REST API, resource by resource, over the `talkjs-transport` stack.
//!
//! | handle | endpoints |
//! |---|---|
//! | [`Client::users`] | upsert, batch upsert, get, list, a user's conversations, presence |
//! | [`Client::conversations`] | upsert, get, list, delete, mark read |
//! | [`Conversations::participants`] | join (PUT, overwrite), modify (PATCH, merge), remove, inbound email |
//! | [`Conversations::messages`] | list, get, send, edit, delete, reactions (add, remove, list who reacted), import |
//! | [`Client::files`] | upload (multipart) for attachment tokens |
//! | [`Client::batch`] | up to 10 operations in one request |
//!
//! This crate is requests and their answers. The long-running machinery on top of it (bulk
//! workloads at the rate limit, the gap-free events stream) is the `talkjs-runtime` crate,
//! as `kube-runtime` is to `kube-client`.
//!
//! Lists are builders: `.await` one for a single page, `.into_stream()` for every item across
//! pages (a `futures::Stream` following `startingAfter` cursors), or `.pages()` for whole
//! pages. Ids are percent-encoded in paths; empty ids and page sizes outside TalkJS's ranges
//! are rejected before any request is sent ([`Error::InvalidArgument`]).
//!
//! **Paths.** The types of the request bodies and answers come from `talkjs-models`, the
//! stack's from `talkjs-transport`, credentials from `talkjs-auth`; this crate re-exports the
//! three as [`models`], [`transport`] and [`auth`], so `talkjs_api::models::UserUpsert` works
//! without depending on them. Through the facade crate `talkjs`, `talkjs_api::Client` is
//! `talkjs::Client` (or `talkjs::api::Client`) and `talkjs_models::UserUpsert` is
//! `talkjs::models::UserUpsert`; the examples here use the member crates' own names.
//!
//! ```no_run
//! # async fn run() -> Result<(), talkjs_api::Error> {
//! use futures_util::TryStreamExt;
//! use talkjs_api::models::{ConversationUpsert, NewMessage, UserUpsert};
//!
//! let client = talkjs_api::Client::from_env()?; // TALKJS_APP_ID, TALKJS_SECRET_KEY
//! client.users().upsert("alice", &UserUpsert::new().name("Alice")).await?;
//! client.users().upsert("bob", &UserUpsert::new().name("Bob")).await?;
//! let id = talkjs_api::one_on_one_id("alice", "bob");
//! client.conversations().upsert(&id, &ConversationUpsert::new().participants(["alice", "bob"])).await?;
//! client.conversations().messages(&id).send([NewMessage::user("alice", "Hi Bob!")]).await?;
//! let mut messages = client.conversations().messages(&id).list().into_stream();
//! while let Some(message) = messages.try_next().await? {
//!     println!("{:?}", message.text);
//! }
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod batch;
mod client;
mod conversations;
mod error;
mod files;
mod list;
mod messages;
mod one_on_one;
mod pagination;
mod participants;
mod request;
mod users;

pub use batch::{Batch, MAX_OPERATIONS_PER_BATCH, batch_path};
pub use client::{AuthScheme, Client, ClientBuilder, ENV_APP_ID, ENV_BASE_URL, ENV_SECRET_KEY};
pub use conversations::{Conversations, ListConversations};
pub use error::{Error, NonIdempotentWrite, Result};
pub use files::{FileSubtype, Files, UploadOptions};
pub use messages::{
    ImportSize, ImportedMessages, ListMessages, ListReactions, MAX_IMPORT_MESSAGES_PER_REQUEST,
    MAX_MESSAGES_PER_REQUEST, Messages, ReactionUsers,
};
pub use one_on_one::one_on_one_id;
pub use pagination::{Cursor, Items, Pages};
pub use participants::Participants;
pub use talkjs_models::{OrderBy, OrderDirection};
pub use users::{ListUserConversations, ListUsers, MAX_USERS_PER_BATCH, Users};

// The crates whose types this crate's signatures use, so that a user of `talkjs-api` alone
// can name them (`talkjs_api::models::UserUpsert`) without adding them as dependencies.
/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) are the bodies of
/// [`transport::HttpRequest`] and [`transport::HttpResponse`] (and of [`Error::Decode`]):
/// re-exported so that a custom stack or test service needs no dependency of its own.
pub use bytes;
/// The `http` crate, whose types this crate's signatures use: [`Error::status`] is an
/// [`http::StatusCode`], [`transport::HttpRequest`] an `http::Request<Bytes>`.
/// Re-exported so that `talkjs_api::http::StatusCode::NOT_FOUND` works with this crate as
/// the only dependency.
pub use http;
pub use talkjs_auth as auth;
pub use talkjs_models as models;
pub use talkjs_transport as transport;
