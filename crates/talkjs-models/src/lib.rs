//! # talkjs-models
//!
//! Serde types for every object, request body and webhook event of the TalkJS REST API.
//! No I/O: only `serde` and `serde_json`.
//!
//! **Paths.** The examples name this crate `talkjs_models`. Through the `talkjs` facade it is
//! `talkjs::models`: `talkjs_models::UserUpsert` is `talkjs::models::UserUpsert`.
//!
//! * Response objects ([`User`], [`Conversation`], [`Message`], …) are `#[non_exhaustive]`
//!   and forward compatible: unknown fields are ignored, unknown enum strings are kept in
//!   `Other(String)` variants, and `null` decodes like a missing field.
//! * Request bodies are builders: `new()` plus chainable setters.
//! * Merge-style updates (user PUT, conversation PUT, message edit) use [`Patch`] for
//!   each field, so "leave unchanged", "clear" and "set" are three distinct states.
//!
//! ```
//! use talkjs_models::UserUpsert;
//!
//! // `locale` is not touched (omitted: kept by TalkJS), `email` is cleared (null),
//! // `name` is set.
//! let update = UserUpsert::new().name("Alice").clear_email();
//! assert_eq!(
//!     serde_json::to_value(&update).unwrap(),
//!     serde_json::json!({ "name": "Alice", "email": null })
//! );
//! ```
//!
//! Every type is at the crate root (one path each): ids ([`UserId`], [`ConversationId`],
//! [`MessageId`]), [`Timestamp`], [`Patch`], [`User`] and [`UserUpsert`], [`Conversation`]
//! and [`ConversationUpsert`], participants ([`ParticipantOverwrite`],
//! [`ParticipantPatch`]), messages ([`Message`], [`NewMessage`], [`MessageEdit`],
//! [`ImportMessage`], content blocks [`ContentBlock`], [`ReactionUser`]),
//! [`ConversationFilter`], the batch body ([`BatchOperation`], [`BatchResponse`]),
//! [`Presences`], envelopes ([`Page`], [`Empty`]) and [`WebhookEvent`].
#![deny(missing_docs)]

mod util;

mod batch;
mod content;
mod conversation;
mod filter;
mod ids;
mod message;
mod page;
mod participant;
mod patch;
mod presence;
mod reaction;
mod timestamp;
mod user;
mod webhook;

/// Your own data on users, conversations and messages: a flat map of strings.
pub type Custom = std::collections::BTreeMap<String, String>;

pub use batch::{BatchMethod, BatchOperation, BatchOptions, BatchResponse, BatchResult};
pub use content::{ContentBlock, FileBlock, FileSubtype, LocationBlock, TextBlock};
pub use conversation::{
    Conversation, ConversationUpsert, OrderBy, OrderDirection, UserConversation,
};
pub use filter::{ConversationFilter, FieldPredicate, TimePredicate};
pub use ids::{ConversationId, MessageId, UserId};
pub use message::{
    Attachment, ImportMessage, Location, Message, MessageEdit, MessageOrigin, MessageType,
    NewMessage, NewSystemMessage, NewUserMessage, SentMessage, UploadedFile,
};
pub use page::{Empty, Page};
pub use participant::{
    Access, ConversationParticipant, Notify, ParticipantEmail, ParticipantOverwrite,
    ParticipantPatch,
};
pub use patch::Patch;
pub use presence::{Presence, PresenceQuery, PresenceSession, PresenceStatus, Presences};
pub use reaction::ReactionUser;
pub use timestamp::{Timestamp, TimestampOutOfRange};
pub use user::{User, UserUpsert};
pub use webhook::{
    ConversationEventData, MessageEventData, MessageReadData, MessageSentData,
    NotificationEventData, RawWebhookData, UserEventData, WebhookData, WebhookEvent,
    WebhookEventType,
};
