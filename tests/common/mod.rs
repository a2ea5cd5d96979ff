//! Shared by the facade's end-to-end tests: a client pointed at an in-process fake.
#![allow(dead_code, clippy::unwrap_used)]

use talkjs::{Client, ClientBuilder};
use talkjs_fake::FakeTalkJs;

/// A builder pointed at `fake`, with its app id and secret key (the default stack
/// otherwise).
pub fn builder(fake: &FakeTalkJs) -> ClientBuilder {
    Client::builder(fake.app_id(), fake.secret_key()).base_url(fake.base_url())
}

/// A client pointed at `fake`, with the default stack.
pub fn client(fake: &FakeTalkJs) -> Client {
    builder(fake).build().unwrap()
}
