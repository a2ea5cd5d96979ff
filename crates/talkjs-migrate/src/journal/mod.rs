//! The journal: one SQLite file holding what was planned, what was sent and what landed.
//!
//! Every state change is one transaction, written before the request it describes is sent
//! (`in_flight`) and after its answer (`done`, `failed`, or back to `planned`), so a process
//! killed at any instant leaves each item either not sent (`planned`), landed (`done`),
//! refused (`failed`), or `in_flight`: sent or about to be, outcome unknown. A new run
//! resolves the unknown ones before it sends anything else.
//!
//! | file | what it holds |
//! |---|---|
//! | `store` | the file: its layout, opening it with its lock, upgrading older layouts |
//! | `row` | an item as the runner reads it back |
//! | `planned` | writing the plan, the settings and counts it was made with, its notes |
//! | `chunks` | the life of a request: in flight, done, refused, abandoned, resolved |
//! | `state` | counts, failures, what is left, target ids, uploaded files |
//! | `reactions` | what reactions need of the journal |
//! | `repair` | settling unknown outcomes: dirty conversations, baselines, match keys, the bound target |

mod chunks;
mod planned;
mod reactions;
mod repair;
mod row;
mod state;
mod store;

pub(crate) use chunks::{Fate, unix_ms};
pub(crate) use planned::{
    MAP_REPLY_LINKS, MARK_SOURCE_IDS, SKIPPED_SYSTEM_MESSAGES, SYSTEM_MESSAGES,
};
pub(crate) use reactions::{REACTION_LISTINGS, ReactionTarget};
pub(crate) use repair::{Held, ItemKey, app_address};
pub(crate) use row::Row;
pub use state::{Counts, Failure};
pub(crate) use store::Journal;

// Moved to the crate's bottom module; re-exported here for run.rs (and run/), which import
// them from this path.
pub use crate::item::ItemKind;
