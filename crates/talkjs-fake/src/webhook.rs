//! Webhook delivery: signed POSTs of the events to a configured `http://` URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use talkjs_auth::{SIGNATURE_HEADER, SecretKey, TIMESTAMP_HEADER, WebhookVerifier};
use talkjs_models::{Timestamp, WebhookEvent, WebhookEventType};
use tokio::sync::{mpsc, watch};

use crate::server::lock;

/// How long a delivery may take (TalkJS waits 5 seconds).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The pause before the one retry of a failed delivery.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The outcome of one webhook delivery (see
/// [`FakeTalkJs::webhook_deliveries`](crate::FakeTalkJs::webhook_deliveries)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The event's type.
    pub event_type: WebhookEventType,
    /// The event's id.
    pub event_id: Option<String>,
    /// The HTTP status of the last attempt, or `None` if it failed without one.
    pub status: Option<u16>,
    /// How many attempts were made (1, or 2 after a failure).
    pub attempts: u32,
}

impl WebhookDelivery {
    /// Whether the receiver answered 200 (TalkJS's definition of success).
    pub fn succeeded(&self) -> bool {
        self.status == Some(200)
    }
}

/// Checks a webhook URL (plain `http://` only).
pub(crate) fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return Err(format!(
            "{url:?}: the fake delivers webhooks to http:// URLs only"
        ));
    }
    Ok(uri)
}

/// One attempt; the status, or `None` on a connection error or timeout.
async fn attempt(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &Uri,
    verifier: &WebhookVerifier,
    body: &Bytes,
) -> Option<u16> {
    let timestamp = Timestamp::now().as_millis().to_string();
    let signature = verifier.sign(&timestamp, body);
    let request = Request::post(uri.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(TIMESTAMP_HEADER, timestamp)
        .header(SIGNATURE_HEADER, signature)
        .body(Full::new(body.clone()))
        .ok()?;
    let exchange = async {
        let response = client.request(request).await.ok()?;
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await;
        Some(status)
    };
    tokio::time::timeout(TIMEOUT, exchange).await.ok().flatten()
}

/// Delivers events in order until the channel closes or the server shuts down.
pub(crate) async fn deliver(
    uri: Uri,
    secret: SecretKey,
    mut events: mpsc::UnboundedReceiver<WebhookEvent>,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let verifier = WebhookVerifier::new(secret);
    loop {
        let event = tokio::select! {
            _ = shutdown.wait_for(|stopped| *stopped) => break,
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        let body = match serde_json::to_vec(&event) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                tracing::warn!(error = %e, "talkjs-fake: could not serialize a webhook event");
                continue;
            }
        };
        let mut attempts = 1;
        let mut status = attempt(&client, &uri, &verifier, &body).await;
        if status != Some(200) {
            tokio::time::sleep(RETRY_DELAY).await;
            attempts += 1;
            status = attempt(&client, &uri, &verifier, &body).await;
        }
        lock(&log).push(WebhookDelivery {
            event_type: event.event_type.clone(),
            event_id: event.id.clone(),
            status,
            attempts,
        });
    }
}
