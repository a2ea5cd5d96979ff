//! Shared by the benches, one module per job; each bench binary uses a part, through the
//! re-exports below (`common::Server`, `common::criterion_config`, …).
//!
//! - [`server`]: the loopback HTTP/1.1 server of the network benches and its runtime;
//! - [`clients`]: the talkjs client and the hand-written baseline they compare;
//! - [`report`]: criterion's settings, the ratios read back from its results, the printed
//!   figures;
//! - [`interleaved`]: a paired, interleaved comparison outside criterion;
//! - [`memory`]: this process's resident set and its peak, from `/proc`;
//! - [`fake`]: the load benches against the fake TalkJS (`bulk`, `migrate`).
//!
//! A real `redis-server` (the bulk bench's shared limit) is in the workspace's
//! talkjs-test-support (`redis_server`), shared with the tests.
// Each bench binary uses a different part of these modules and of their re-exports.
#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod fake;
pub mod interleaved;
pub mod memory;
pub mod report;
pub mod server;

pub use clients::*;
pub use fake::*;
pub use interleaved::*;
pub use memory::*;
pub use report::*;
pub use server::*;
