//! # talkjs-test-support
//!
//! Helpers shared by the tests and benches of several crates of this workspace, one module
//! per job. Not published (`publish = false`): a crate names it as a dev-dependency, with the
//! features of the modules it uses.
//!
//! - [`redis_server`]: a real `redis-server` on a free loopback port (only `std`);
//! - `cli` (feature `cli`): the `talkjs` binary pointed at a fake, for talkjs-cli's tests;
//! - `logs` (feature `logs`): what `tracing` logs, captured;
//! - `migrate` (feature `migrate`): scratch directories, generated exports, clients of the
//!   fake and checks of a migration's target;
//! - `mock_api` (feature `mock-api`): a client pointed at a wiremock server, exact request
//!   assertions and fixtures (the tests of talkjs-api and talkjs-runtime).
//!
//! Every helper panics when something goes wrong (a server that does not start, a file that
//! cannot be written, a target that does not match): that is how the test using it fails.
#![deny(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc // every helper panics on failure (see above)
)]

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "logs")]
pub mod logs;
#[cfg(feature = "migrate")]
pub mod migrate;
#[cfg(feature = "mock-api")]
pub mod mock_api;
pub mod redis_server;
