//! # talkjs-auth
//!
//! Credentials for the [TalkJS](https://talkjs.com) REST API and the other signatures a TalkJS
//! backend computes:
//!
//! * [`TokenSigner`] mints HS256 JWTs signed with the app's secret key: short-lived **app
//!   tokens** for the REST API (`tokenType: "app"`, `iss`: the app id; mint a fresh one per
//!   request) and **user tokens** for frontend sessions (`tokenType: "user"`, `sub`: the user).
//! * [`Credentials`] is what a client sends as `Authorization: Bearer …`: an app token (the
//!   recommended way) or the raw secret key (legacy, still accepted, discouraged).
//! * [`identity_signature`] / [`verify_identity_signature`]: the legacy identity-verification
//!   signature a frontend passes to `Talk.Session`.
//! * [`WebhookVerifier`] checks the signature and age of webhook deliveries and decodes them
//!   into [`talkjs_models::WebhookEvent`].
//!
//! Secrets never leak through formatting: [`SecretKey`], [`TokenSigner`], [`Credentials`],
//! [`WebhookVerifier`] and all errors print the key as `***` and never contain a token.
//!
//! **Paths.** The examples name this crate `talkjs_auth`. Through the `talkjs` facade it is
//! `talkjs::auth`: `talkjs_auth::TokenSigner` is `talkjs::auth::TokenSigner`. Decoded webhook
//! events are types of `talkjs-models`, re-exported here as [`models`]
//! (`talkjs_auth::models::WebhookEvent`; `talkjs::models` in the facade).
//!
//! ## Minting an app token
//!
//! ```
//! use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
//!
//! let signer = TokenSigner::new(AppId::new("tNCnKd4d"), SecretKey::new("sk_test_example"));
//! let token = signer.app_token()?; // header.payload.signature, valid for 30 seconds
//! assert_eq!(token.split('.').count(), 3);
//!
//! // What an HTTP client puts after `Authorization: Bearer `, fresh for every request:
//! let credentials = Credentials::AppToken(signer);
//! let bearer = credentials.bearer_token()?;
//! # assert_eq!(bearer.split('.').count(), 3);
//! # Ok::<(), talkjs_auth::Error>(())
//! ```
//!
//! ## Minting a user token
//!
//! ```
//! use std::time::Duration;
//! use talkjs_auth::{AppId, SecretKey, TokenSigner};
//!
//! let signer = TokenSigner::new(AppId::new("tNCnKd4d"), SecretKey::new("sk_test_example"));
//! // Hand this to the frontend SDK for a session of user "alice", valid for a day.
//! let token = signer.user_token("alice", Duration::from_secs(24 * 60 * 60))?;
//! # assert_eq!(token.split('.').count(), 3);
//! assert!(signer.user_token("", Duration::from_secs(60)).is_err());
//! # Ok::<(), talkjs_auth::Error>(())
//! ```
//!
//! ## Identity verification signatures
//!
//! ```
//! use talkjs_auth::{SecretKey, identity_signature, verify_identity_signature};
//!
//! let secret = SecretKey::new("sk_test_example");
//! let signature = identity_signature(&secret, "alice");
//! assert_eq!(signature, "5AAB2E2A21F9788A061AD2AB3D65429E62B150D9FA4C12CC0ED71CBCFE27AE38");
//! assert!(verify_identity_signature(&secret, "alice", &signature.to_lowercase()));
//! ```
//!
//! ## Verifying a webhook
//!
//! Pass the raw request body, byte for byte, and the two header values:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use talkjs_auth::{SecretKey, WebhookError, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new(SecretKey::new("sk_test_webhook"));
//!
//! // In your HTTP handler: the values of X-TalkJS-Timestamp and X-TalkJS-Signature.
//! let body = br#"{"type":"message.sent","data":{}}"#;
//! let timestamp = "1700000000000";
//! let signature = verifier.sign(timestamp, body); // what TalkJS sends
//!
//! // `verify` compares against the current time; `verify_at` takes it explicitly.
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_001);
//! let event = verifier.verify_at(body, timestamp, &signature, now)?;
//! assert_eq!(event.event_type.as_str(), "message.sent");
//!
//! // A tampered body is rejected.
//! let forged = br#"{"type":"message.sent","data":{"evil":true}}"#;
//! assert!(matches!(
//!     verifier.verify_at(forged, timestamp, &signature, now),
//!     Err(WebhookError::BadSignature)
//! ));
//! # Ok::<(), WebhookError>(())
//! ```
#![deny(missing_docs)]

mod credentials;
mod error;
#[doc(hidden)]
pub mod hex;
mod identity;
mod token;
mod webhook;

pub use credentials::{AppId, Credentials, SecretKey};
pub use error::{Error, WebhookError};
pub use identity::{identity_signature, verify_identity_signature};
/// The models crate, whose webhook event types [`WebhookVerifier`] returns, so a user of
/// `talkjs-auth` alone can name them (`talkjs_auth::models::WebhookEvent`).
pub use talkjs_models as models;
pub use token::{DEFAULT_APP_TOKEN_TTL, TokenSigner};
pub use webhook::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookVerifier};
