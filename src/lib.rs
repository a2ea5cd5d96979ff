//! # talkjs
//!
//! The facade of the talkjs-rs workspace: one dependency that re-exports every member crate
//! as a module. Depend on a single member crate instead when you need only part of it (for
//! example only [`auth`] to mint tokens in a service that never calls the REST API).
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`models`] | `talkjs-models` | serde types for every TalkJS object and request body |
//! | [`auth`] | `talkjs-auth` | app tokens, user tokens, identity signatures, webhook checks |
//! | [`transport`] | `talkjs-transport` | the tower layers and the default HTTP stack |
//!
//! ```
//! use talkjs::auth::{AppId, SecretKey, TokenSigner};
//!
//! let signer = TokenSigner::new(AppId::new("tNCnKd4d"), SecretKey::new("sk_test_example"));
//! let token = signer.app_token()?;
//! assert_eq!(token.split('.').count(), 3);
//! # Ok::<(), talkjs::auth::Error>(())
//! ```
#![deny(missing_docs)]

pub use talkjs_auth as auth;
pub use talkjs_models as models;
pub use talkjs_transport as transport;
