//! # talkjs-auth
//!
//! TalkJS credentials.
#![deny(missing_docs)]

mod credentials;
mod error;
mod hex;
mod identity;
mod token;
mod webhook;

pub use credentials::{AppId, Credentials, SecretKey};
pub use error::{Error, WebhookError};
pub use identity::{identity_signature, verify_identity_signature};
pub use token::{DEFAULT_APP_TOKEN_TTL, TokenSigner};
pub use webhook::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier};
