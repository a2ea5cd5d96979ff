//! # talkjs-models
//!
//! Serde types for every object, request body and webhook event of the TalkJS REST API.
//! No I/O: only `serde` and `serde_json`.
#![deny(missing_docs)]

pub mod ids;
pub mod timestamp;
pub mod webhook;

pub use ids::{ConversationId, MessageId, UserId};
pub use timestamp::{Timestamp, TimestampOutOfRange};
pub use webhook::{WebhookEvent, WebhookEventType};
