//! Webhook delivery: signed POSTs of the events to a configured `http://` URL, like TalkJS
//! (5 s per attempt, one retry), with optional faults ([`WebhookFaults`]).

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
use talkjs_models::{WebhookData, WebhookEvent, WebhookEventType};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::clock::{Clock, FOREVER};
use crate::config::WebhookFaults;
use crate::sync::lock;

/// How long an attempt may take (TalkJS waits 5 seconds).
const TIMEOUT: Duration = Duration::from_secs(5);

/// The pause before the one retry of a failed attempt ("shortly after", TalkJS says).
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// The most deliveries in flight at once with [`WebhookFaults::reorder`].
const MAX_IN_FLIGHT: usize = 64;

/// TalkJS sends `message.read` only for conversations with at most this many participants.
const MAX_READ_PARTICIPANTS: usize = 300;

/// What happened to one webhook event (see
/// [`FakeTalkJs::webhook_deliveries`](crate::FakeTalkJs::webhook_deliveries)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDelivery {
    /// The event's type.
    pub event_type: WebhookEventType,
    /// The event's id.
    pub event_id: Option<String>,
    /// The HTTP status of the last attempt, or `None` if it failed without one (connection
    /// error, 5 s timeout) or no attempt was made ([`dropped`](Self::dropped)).
    pub status: Option<u16>,
    /// How many attempts were made: 0 if [`dropped`](Self::dropped), 1, or 2 after a failed
    /// first attempt or when [`duplicated`](Self::duplicated).
    pub attempts: u32,
    /// The event's position in the order events were produced, from 0: its index in
    /// [`FakeTalkJs::events`](crate::FakeTalkJs::events) unless
    /// [`clear`](crate::FakeTalkJs::clear) was called since. Deliveries are logged when
    /// they finish, so with [`WebhookFaults::reorder`] the log is not in `seq` order.
    pub seq: u64,
    /// Whether [`WebhookFaults::drop_rate`] dropped the event: no attempt was made, the
    /// receiver never saw it.
    pub dropped: bool,
    /// Whether [`WebhookFaults::duplicate_rate`] duplicated the event: the answer to the
    /// first attempt was ignored and the event sent again (same id), so a receiver that
    /// answered both got it twice.
    pub duplicated: bool,
    /// The delay drawn from [`WebhookFaults::delay`] and
    /// [`delay_jitter`](WebhookFaults::delay_jitter) before the first attempt (zero
    /// without faults).
    pub delay: Duration,
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

/// The webhook fault settings and their random generator.
pub(crate) struct FaultState {
    pub(crate) config: WebhookFaults,
    rng: fastrand::Rng,
}

impl FaultState {
    pub(crate) fn new(config: WebhookFaults) -> Self {
        Self {
            config,
            rng: fastrand::Rng::with_seed(config.seed),
        }
    }

    /// Draws the fate of event `seq`, produced at `now` (always two draws per event, so the
    /// sequence depends only on the seed and the number of events).
    fn plan(&mut self, seq: u64, now: Instant) -> Plan {
        let roll = self.rng.f64();
        let share = self.rng.f64();
        let config = self.config;
        let fate = if roll < config.drop_rate {
            Fate::Drop
        } else if roll < config.drop_rate + config.duplicate_rate {
            Fate::Duplicate
        } else {
            Fate::Deliver
        };
        let jitter = Duration::try_from_secs_f64(config.delay_jitter.as_secs_f64() * share)
            .unwrap_or(Duration::MAX);
        let delay = config.delay.saturating_add(jitter);
        Plan {
            seq,
            fate,
            delay,
            due: now + delay.min(FOREVER),
            reorder: config.reorder,
        }
    }
}

/// What happens to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Deliver,
    Drop,
    Duplicate,
}

/// The fate of one event, drawn when it is produced.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seq: u64,
    fate: Fate,
    delay: Duration,
    /// When the first attempt may start.
    due: Instant,
    reorder: bool,
}

/// Whether TalkJS sends this event: no `message.read` for conversations with more than
/// 300 participants.
fn sent_by_talkjs(event: &WebhookEvent) -> bool {
    match &event.data {
        WebhookData::MessageRead(read) => read
            .conversation
            .as_ref()
            .is_none_or(|c| c.participants.len() <= MAX_READ_PARTICIPANTS),
        _ => true,
    }
}

/// Makes the attempts and keeps the log.
struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    verifier: WebhookVerifier,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
    /// The fake's clock, for the timestamp header (skewed like the events' `createdAt`).
    clock: Arc<Clock>,
}

impl Sender {
    /// One attempt; the status, or `None` on a connection error or timeout.
    async fn attempt(&self, body: &Bytes) -> Option<u16> {
        let timestamp = self.clock.now().as_millis().to_string();
        let signature = self.verifier.sign(&timestamp, body);
        let request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(TIMESTAMP_HEADER, timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(body.clone()))
            .ok()?;
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Some(status)
        };
        tokio::time::timeout(TIMEOUT, exchange).await.ok().flatten()
    }

    /// Delivers `event` now: one attempt, and the one retry of a failed (or duplicated)
    /// first attempt; then logs the outcome.
    async fn send(&self, event: &WebhookEvent, plan: Plan) {
        let body = match serde_json::to_vec(event) {
            Ok(body) => Bytes::from(body),
            Err(e) => {
                tracing::warn!(error = %e, "talkjs-fake: could not serialize a webhook event");
                return;
            }
        };
        let mut attempts = 1;
        let mut status = self.attempt(&body).await;
        if status != Some(200) || plan.fate == Fate::Duplicate {
            tokio::time::sleep(RETRY_DELAY).await;
            attempts += 1;
            status = self.attempt(&body).await;
        }
        self.record(event, plan, status, attempts);
    }

    fn record(&self, event: &WebhookEvent, plan: Plan, status: Option<u16>, attempts: u32) {
        lock(&self.log).push(WebhookDelivery {
            event_type: event.event_type.clone(),
            event_id: event.id.clone(),
            status,
            attempts,
            seq: plan.seq,
            dropped: plan.fate == Fate::Drop,
            duplicated: plan.fate == Fate::Duplicate,
            delay: plan.delay,
        });
    }
}

/// Waits until the server shuts down (or is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

/// Delivers the queued events one after another, in order, until the queue closes or the
/// server shuts down.
async fn in_order(
    sender: Arc<Sender>,
    mut queue: mpsc::UnboundedReceiver<(WebhookEvent, Plan)>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (event, plan) = tokio::select! {
            () = stopped(&mut shutdown) => break,
            item = queue.recv() => match item {
                Some(item) => item,
                None => break,
            },
        };
        let delivery = async {
            tokio::time::sleep_until(plan.due).await;
            sender.send(&event, plan).await;
        };
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            () = delivery => {}
        }
    }
}

/// Delivers one event in its own task (for [`WebhookFaults::reorder`]).
fn spawn_reordered(
    sender: &Arc<Sender>,
    slots: &Arc<Semaphore>,
    shutdown: &watch::Receiver<bool>,
    event: WebhookEvent,
    plan: Plan,
) {
    let sender = Arc::clone(sender);
    let slots = Arc::clone(slots);
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        let delivery = async {
            tokio::time::sleep_until(plan.due).await;
            let Ok(_slot) = slots.acquire().await else {
                return;
            };
            sender.send(&event, plan).await;
        };
        tokio::select! {
            () = stopped(&mut shutdown) => {}
            () = delivery => {}
        }
    });
}

/// Takes the events as they are produced (never holding up the requests that produce
/// them), draws each one's fate from `faults`, and delivers them: in order through one
/// queue, or each in its own task with [`WebhookFaults::reorder`]. Runs until the event
/// channel closes or the server shuts down; shutting down also stops the deliveries
/// under way.
pub(crate) async fn deliver(
    uri: Uri,
    secret: SecretKey,
    mut events: mpsc::UnboundedReceiver<WebhookEvent>,
    log: Arc<Mutex<Vec<WebhookDelivery>>>,
    faults: Arc<Mutex<FaultState>>,
    clock: Arc<Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    let sender = Arc::new(Sender {
        client: Client::builder(TokioExecutor::new()).build_http(),
        uri,
        verifier: WebhookVerifier::new(secret),
        log,
        clock,
    });
    let (queue, queued) = mpsc::unbounded_channel();
    tokio::spawn(in_order(Arc::clone(&sender), queued, shutdown.clone()));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut seq = 0;
    loop {
        let event = tokio::select! {
            () = stopped(&mut shutdown) => break,
            event = events.recv() => match event {
                Some(event) => event,
                None => break,
            },
        };
        let this = seq;
        seq += 1;
        if !sent_by_talkjs(&event) {
            continue;
        }
        let plan = lock(&faults).plan(this, Instant::now());
        if plan.fate == Fate::Drop {
            sender.record(&event, plan, None, 0);
        } else if plan.reorder {
            spawn_reordered(&sender, &slots, &shutdown, event, plan);
        } else if queue.send((event, plan)).is_err() {
            break;
        }
    }
}
