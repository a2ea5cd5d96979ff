//! Shared by `stack.rs` and `stack_traces.rs`: the app, its secret and the bearer header a
//! mock server received, and a server that fails once.
#![allow(dead_code, clippy::unwrap_used)]

use talkjs_auth::{AppId, Credentials, SecretKey, TokenSigner};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The app id of the stack tests.
pub const APP: &str = "app_Test1";
/// Its secret key (searched for in logs and Debug output).
pub const SECRET: &str = "sk_test_STACKsecretVALUE1234";

/// App-token credentials for [`APP`].
pub fn signer() -> Credentials {
    Credentials::AppToken(TokenSigner::new(AppId::new(APP), SecretKey::new(SECRET)))
}

/// The `Authorization` header of a received request.
pub fn auth_of(r: &Request) -> String {
    r.headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Makes `server` answer the first GET with `status` and every later one with 200.
pub async fn fail_once_then_ok(server: &MockServer, status: u16) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}
