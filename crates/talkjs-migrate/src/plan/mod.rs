//! Planning: reading a source (a JSON lines file, another app) into the list of work, in
//! the order it is sent, with what cannot move reported.
//!
//! The records become writes through the one translator `talkjs import` shares
//! ([`talkjs_runtime::translate`]); what the migration adds is layered on its output.
//!
//! | file | what it does |
//! |---|---|
//! | `source` | reads a file (with its fingerprint) or another app into a planner |
//! | `planner` | collects the records (a repeated one replaces the earlier), keeps one shard's |
//! | `layout` | checks the records against each other and lays out the items in sending order |
//! | `messages` | a message's item: readers, reply link and source id, idempotency key, file |
//! | `reactions` | who reacted (listed from an app or read from a file) and the reaction items |

mod layout;
mod messages;
mod planner;
mod reactions;
mod source;

pub(crate) use messages::ReplyLinkBody;
pub(crate) use planner::{Plan, PlanOptions};
pub(crate) use reactions::ReactionBody;
pub(crate) use source::{app_fingerprint, fingerprint_file, plan_app, plan_file, shard_suffix};

// Moved; re-exported here for run.rs, which imports them from this path.
pub(crate) use crate::note::{Note, Severity};
pub(crate) use talkjs_runtime::translate::ParticipantSetting;
