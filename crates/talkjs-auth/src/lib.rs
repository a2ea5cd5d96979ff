//! TalkJS credentials.
#![deny(missing_docs)]
