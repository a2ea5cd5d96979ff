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
//! Modules: [`ids`], [`timestamp`], [`patch`], [`user`], [`conversation`], [`participant`],
//! [`message`], [`filter`], [`batch`], [`presence`], [`page`], [`webhook`]. The main types
//! are re-exported at the crate root.
#![deny(missing_docs)]

mod util;

pub mod batch;
pub mod conversation;
pub mod filter;
pub mod ids;
pub mod message;
pub mod page;
pub mod participant;
pub mod patch;
pub mod presence;
pub mod timestamp;
pub mod user;
pub mod webhook;

/// Your own data on users, conversations and messages: a flat map of strings.
pub type Custom = std::collections::BTreeMap<String, String>;

pub use batch::{BatchMethod, BatchOperation, BatchOptions, BatchResponse, BatchResult};
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
pub use timestamp::{Timestamp, TimestampOutOfRange};
pub use user::{User, UserUpsert};
pub use webhook::{
    ConversationEventData, MessageEventData, MessageReadData, MessageSentData,
    NotificationEventData, RawWebhookData, UserEventData, WebhookData, WebhookEvent,
    WebhookEventType,
};
