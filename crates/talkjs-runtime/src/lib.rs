//! # talkjs-runtime
//!
//! The long-running machinery on top of `talkjs-api`, as `kube-runtime` is to `kube-client`:
//!
//! | module | what it does |
//! |---|---|
//! | [`bulk`] | runs a whole workload (users, conversations, participants, messages) in the fewest requests TalkJS allows, at the rate limit: the engine `talkjs import` and `talkjs migrate` run on |
//! | [`events`] | every new message once: webhooks plus catching up by listing, resumable |
//! | [`sync`] | mirrors a desired state (users, conversations, memberships, as export lines): plans the difference with only reads, applies only that on the bulk engine: `talkjs sync` |
//! | [`translate`] | `talkjs export` lines into writes (upserts, participant settings, imports): the one translator `talkjs import` and `talkjs migrate` share |
//!
//! [`ClientExt`] adds `client.bulk()` and `client.events()` to [`talkjs_api::Client`]
//! (the facade crate `talkjs` re-exports it, and its prelude brings it into scope).
//!
//! ```no_run
//! # async fn run(client: talkjs_api::Client) {
//! use talkjs_runtime::ClientExt;
//! use talkjs_runtime::bulk::Item;
//! use talkjs_api::models::UserUpsert;
//!
//! let users = (0..1000).map(|i| Item::User {
//!     id: format!("u{i}"),
//!     user: UserUpsert::new().name(format!("User {i}")),
//! });
//! let report = client.bulk().run_iter(users).await;
//! assert_eq!(report.landed, 1000);
//! # }
//! ```
#![deny(missing_docs)]

pub mod bulk;
pub mod events;
pub mod sync;
pub mod translate;

pub use bulk::Bulk;
pub use events::Events;

/// `client.bulk()` and `client.events()` on a [`talkjs_api::Client`].
pub trait ClientExt {
    /// A bulk workload runner for this client's app: see [`Bulk`].
    fn bulk(&self) -> Bulk;
    /// The gap-free stream of this app's new messages: see [`Events`].
    fn events(&self) -> Events;
}

impl ClientExt for talkjs_api::Client {
    fn bulk(&self) -> Bulk {
        Bulk::new(self)
    }

    fn events(&self) -> Events {
        Events::new(self)
    }
}
