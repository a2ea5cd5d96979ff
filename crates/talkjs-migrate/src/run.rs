//! The migration runner: planning, resolving uncertain requests, then the stages on the
//! bulk engine.
//!
//! Layers (each file imports only those above it in this list): `report` (progress, report,
//! stop handle), `state` (the run's shared state and how an answer is read), `attach`
//! (attachments), `settle` (baselines, resolving unknown outcomes, the reconcile pass),
//! `engine` (the stages on the bulk engine and their journal hooks), `reactions` (what
//! follows a conversation's messages: reactions and reply links),
//! `migration` (the builder and `run`).

mod attach;
mod engine;
mod migration;
mod reactions;
mod report;
mod settle;
mod state;

pub use migration::{DEFAULT_SETTLE_TIME, Migration};
pub use report::{Progress, Reconciled, Report, Resolved, StopHandle};
pub(crate) use settle::target_messages;
