//! Verifying the `Authorization` header like TalkJS: an HS256 app token or the legacy raw
//! secret key.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Why a request is not authorized (becomes the `reasons` of the 401 body).
pub(crate) type Rejection = String;

/// The claims the fake checks beyond the registered ones.
#[derive(Deserialize)]
struct Claims {
    #[serde(rename = "tokenType")]
    token_type: Option<String>,
}

/// Verifies bearer credentials for one app.
pub(crate) struct Verifier {
    app_id: String,
    secret: String,
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// A verifier for `app_id` whose secret key is `secret`.
    pub(crate) fn new(app_id: &str, secret: &str) -> Self {
        // The Get started page
        // (https://talkjs.com/docs/Reference/REST_API/Getting_Started/Introduction/) signs
        // `{ tokenType: 'app' }` with the secret key (HS256, the `jsonwebtoken` default it
        // uses), `issuer: <APP_ID>` and `expiresIn: '30s'`. Requiring `exp` (and refusing
        // every other algorithm) is our reading of that: the docs show no token without
        // one. No clock tolerance: the docs name none, and the fake and the code under test
        // share one clock, so a token is refused as soon as its `exp` has passed.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[app_id]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.validate_exp = true;
        validation.leeway = 0;
        validation.validate_aud = false;
        Self {
            app_id: app_id.to_owned(),
            secret: secret.to_owned(),
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The app id this verifier accepts.
    pub(crate) fn app_id(&self) -> &str {
        &self.app_id
    }

    /// Checks an `Authorization` header value.
    pub(crate) fn check(&self, header: Option<&[u8]>) -> Result<(), Rejection> {
        let header = header.ok_or_else(|| "the Authorization header is missing".to_owned())?;
        let header = std::str::from_utf8(header)
            .map_err(|_| "the Authorization header is not valid text".to_owned())?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| "the Authorization header must be `Bearer <token>`".to_owned())?;
        if token.is_empty() {
            return Err("the bearer token is empty".to_owned());
        }
        if constant_time_eq(token.as_bytes(), self.secret.as_bytes()) {
            return Ok(());
        }
        if token.starts_with("sk_") {
            return Err("the secret key is not valid for this app".to_owned());
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| format!("the app token is not valid: {e}"))?;
        match data.claims.token_type.as_deref() {
            Some("app") => Ok(()),
            Some(other) => Err(format!(
                "the token has tokenType {other:?}; the REST API needs an app token (\"app\")"
            )),
            None => Err("the token has no tokenType claim (must be \"app\")".to_owned()),
        }
    }
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
