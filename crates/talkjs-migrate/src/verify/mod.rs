//! Verification: the source and the target compared: users field by field, conversations
//! field by field with their participants, and each conversation's messages.
//!
//! | file | what it does |
//! |---|---|
//! | `check` | `Migration::verify`: the plan made again, the target listed and compared |
//! | `fields` | users and conversations field by field, participants with their settings |
//! | `messages` | each conversation's messages, in order or by the marker |
//! | `report` | what is reported |

mod check;
mod fields;
mod messages;
mod report;

pub use report::{ConversationCheck, FieldMismatch, Mismatch, UserCheck, VerifyReport};
