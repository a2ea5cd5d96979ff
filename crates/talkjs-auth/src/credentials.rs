//! The app id, the secret key, and the two ways of authenticating REST calls.

use std::fmt;
use std::sync::Arc;

use crate::{Error, TokenSigner};

/// A TalkJS app id (dashboard, Settings), e.g. `tNCnKd4d`. Not secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(String);

impl AppId {
    /// Wraps an app id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The app id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for AppId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for AppId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl AsRef<str> for AppId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A TalkJS secret key (`sk_test_…` / `sk_live_…`).
///
/// Anyone holding it has full admin access to the app, so `Debug` and `Display` print
/// `SecretKey(***)` and never any part of the key. Cloning is cheap (shared). There is
/// deliberately no `PartialEq`: compare keys with [`expose_secret`](Self::expose_secret)
/// if you really must.
#[derive(Clone)]
pub struct SecretKey(Arc<str>);

impl SecretKey {
    /// Wraps a secret key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(Arc::from(key.into()))
    }

    /// The key itself. Only pass it to code that needs it (signing, the legacy bearer header).
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the key is the empty string (a configuration mistake).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// How REST calls authenticate: the `Authorization: Bearer …` value.
///
/// `Debug` never shows the key. Cloning is cheap.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// The recommended way: a short-lived HS256 app token, minted fresh for every request.
    AppToken(TokenSigner),
    /// The legacy way, still accepted by TalkJS but discouraged: the raw secret key as the
    /// bearer token.
    LegacySecretKey(SecretKey),
}

impl Credentials {
    /// The value to put after `Bearer ` for one request: a freshly minted app token, or the
    /// raw secret key.
    ///
    /// Treat the result as a secret (mark the header sensitive, never log it).
    pub fn bearer_token(&self) -> Result<String, Error> {
        match self {
            Self::AppToken(signer) => signer.app_token(),
            Self::LegacySecretKey(key) if key.is_empty() => Err(Error::EmptySecretKey),
            Self::LegacySecretKey(key) => Ok(key.expose_secret().to_owned()),
        }
    }
}

impl From<TokenSigner> for Credentials {
    fn from(signer: TokenSigner) -> Self {
        Self::AppToken(signer)
    }
}
