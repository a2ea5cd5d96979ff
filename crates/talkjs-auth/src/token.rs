//! Minting TalkJS JWTs: app tokens (REST API) and user tokens (frontend sessions).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::{AppId, Error, SecretKey};

/// The default lifetime of an app token: 30 seconds, as in the TalkJS docs.
pub const DEFAULT_APP_TOKEN_TTL: Duration = Duration::from_secs(30);

/// The largest `exp` we produce: JavaScript's `Number.MAX_SAFE_INTEGER`, the precision limit of
/// JSON numbers as TalkJS's servers read them.
const MAX_EXP: u64 = (1 << 53) - 1;

/// Mints HS256 JWTs signed with the app's secret key.
///
/// * [`app_token`](Self::app_token): `{"tokenType":"app","iss":<app id>,"iat":…,"exp":…}`, for
///   the REST API; mint a fresh one per request (the default lifetime is 30 seconds).
/// * [`user_token`](Self::user_token): `{"tokenType":"user","iss":<app id>,"sub":<user id>,…}`,
///   for a frontend session of one user.
///
/// The header is always `{"typ":"JWT","alg":"HS256"}`. The signing key and header are
/// prepared once; cloning is cheap (shared). `Debug` never shows the key.
#[derive(Clone)]
pub struct TokenSigner {
    inner: Arc<Inner>,
    app_token_ttl: Duration,
}

/// The parts shared by all clones.
struct Inner {
    app_id: AppId,
    key: EncodingKey,
    header: Header,
    key_is_empty: bool,
}

/// The JWT payload. Field order is the wire order.
#[derive(Serialize)]
struct Claims<'a> {
    #[serde(rename = "tokenType")]
    token_type: &'static str,
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    iat: u64,
    exp: u64,
}

impl TokenSigner {
    /// Prepares a signer for `app_id` with its secret key.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "taking ownership is the documented API"
    )]
    pub fn new(app_id: AppId, secret: SecretKey) -> Self {
        let inner = Inner {
            key: EncodingKey::from_secret(secret.expose_secret().as_bytes()),
            key_is_empty: secret.is_empty(),
            header: Header::new(Algorithm::HS256),
            app_id,
        };
        Self {
            inner: Arc::new(inner),
            app_token_ttl: DEFAULT_APP_TOKEN_TTL,
        }
    }

    /// Sets the lifetime of app tokens (default [`DEFAULT_APP_TOKEN_TTL`], 30 s).
    ///
    /// Lifetimes are rounded up to whole seconds; a zero lifetime makes
    /// [`app_token`](Self::app_token) fail with [`Error::InvalidTtl`].
    #[must_use]
    pub fn with_app_token_ttl(mut self, ttl: Duration) -> Self {
        self.app_token_ttl = ttl;
        self
    }

    /// The app id tokens are issued for (`iss`).
    pub fn app_id(&self) -> &AppId {
        &self.inner.app_id
    }

    /// The lifetime of app tokens.
    pub fn app_token_ttl(&self) -> Duration {
        self.app_token_ttl
    }

    /// Mints a fresh app token for the REST API, valid from now for the app token lifetime.
    pub fn app_token(&self) -> Result<String, Error> {
        self.app_token_at(SystemTime::now())
    }

    /// Like [`app_token`](Self::app_token), issued at `now` instead of the current time
    /// (for tests, e.g. minting an already expired token).
    pub fn app_token_at(&self, now: SystemTime) -> Result<String, Error> {
        self.mint("app", None, self.app_token_ttl, now)
    }

    /// Mints a user token for a frontend session of `user_id`, valid from now for `ttl`
    /// (rounded up to whole seconds; the TalkJS docs use one day).
    ///
    /// Fails with [`Error::EmptyUserId`] for an empty id and [`Error::InvalidTtl`] for a zero
    /// lifetime.
    pub fn user_token(&self, user_id: &str, ttl: Duration) -> Result<String, Error> {
        self.user_token_at(user_id, ttl, SystemTime::now())
    }

    /// Like [`user_token`](Self::user_token), issued at `now` instead of the current time.
    pub fn user_token_at(
        &self,
        user_id: &str,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, Error> {
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        self.mint("user", Some(user_id), ttl, now)
    }

    /// Builds the claims and signs them.
    fn mint(
        &self,
        token_type: &'static str,
        sub: Option<&str>,
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, Error> {
        if self.inner.key_is_empty {
            return Err(Error::EmptySecretKey);
        }
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::ClockBeforeEpoch)?
            .as_secs();
        let exp = ttl_secs(ttl)
            .and_then(|secs| iat.checked_add(secs))
            .filter(|&exp| exp <= MAX_EXP)
            .ok_or(Error::InvalidTtl { ttl })?;
        let claims = Claims {
            token_type,
            iss: self.inner.app_id.as_str(),
            sub,
            iat,
            exp,
        };
        jsonwebtoken::encode(&self.inner.header, &claims, &self.inner.key).map_err(Error::encoding)
    }
}

/// A lifetime in whole seconds, rounded up; `None` for zero.
fn ttl_secs(ttl: Duration) -> Option<u64> {
    let secs = ttl
        .as_secs()
        .checked_add(u64::from(ttl.subsec_nanos() > 0))?;
    (secs > 0).then_some(secs)
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSigner")
            .field("app_id", &self.inner.app_id)
            .field("app_token_ttl", &self.app_token_ttl)
            .field("secret_key", &"***")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::ttl_secs;
    use std::time::Duration;

    #[test]
    fn ttl_rounds_up_to_whole_seconds() {
        assert_eq!(ttl_secs(Duration::ZERO), None);
        assert_eq!(ttl_secs(Duration::from_millis(1)), Some(1));
        assert_eq!(ttl_secs(Duration::from_secs(30)), Some(30));
        assert_eq!(ttl_secs(Duration::from_millis(30_001)), Some(31));
        assert_eq!(ttl_secs(Duration::MAX), None);
    }
}
