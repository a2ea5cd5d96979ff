//! What runs for each event: [`EventHandler`], and the channel helper [`channel`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use talkjs_models::WebhookEvent;
use tokio::sync::mpsc;

/// Handles one verified, first-seen event. Runs on its own tokio task after the delivery
/// has been answered (see the [crate docs](crate#the-handler-model)), so it may take as long
/// as it needs.
///
/// Implemented for every `Fn(WebhookEvent) -> impl Future<Output = ()>` that can be cloned
/// and sent across threads (an `async` closure or a function), and for
/// [`ChannelHandler`]:
///
/// ```
/// use talkjs_webhooks::{EventHandler, WebhookEvent};
///
/// async fn on_event(event: WebhookEvent) {
///     println!("{} {:?}", event.event_type.as_str(), event.id);
/// }
///
/// fn assert_handler(_: impl EventHandler) {}
/// assert_handler(on_event);
/// assert_handler(|event: WebhookEvent| async move { drop(event) });
/// ```
///
/// Errors have nowhere to go but your logs: TalkJS already has its 200. Panics end only the
/// handler's task.
pub trait EventHandler: Clone + Send + Sync + 'static {
    /// Handles `event`.
    fn handle(&self, event: WebhookEvent) -> impl Future<Output = ()> + Send + 'static;
}

impl<F, Fut> EventHandler for F
where
    F: Fn(WebhookEvent) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn handle(&self, event: WebhookEvent) -> impl Future<Output = ()> + Send + 'static {
        self(event)
    }
}

/// A handler and the stream of the events it receives: a bounded channel of `buffer`
/// events (at least 1).
///
/// Use it to process events in one place, in order of arrival, or to feed a consumer that
/// takes a `Stream<Item = WebhookEvent>`. When the stream falls `buffer` events behind,
/// deliveries are still answered at once and their events wait, each in its task, for room
/// in the channel (memory grows with the backlog); when the stream is dropped, events are
/// dropped with a warning.
///
/// ```
/// use talkjs_webhooks::{SecretKey, WebhookConfig, WebhookService, channel};
///
/// let (handler, mut events) = channel(1024);
/// let service = WebhookService::new(WebhookConfig::new(SecretKey::new("sk_test_x")), handler);
/// # let _ = service;
/// # async fn consume(mut events: talkjs_webhooks::EventStream) {
/// while let Some(event) = events.recv().await {
///     println!("{}", event.event_type.as_str());
/// }
/// # }
/// ```
pub fn channel(buffer: usize) -> (ChannelHandler, EventStream) {
    let (sender, receiver) = mpsc::channel(buffer.max(1));
    (ChannelHandler::new(sender), EventStream::new(receiver))
}

/// An [`EventHandler`] that sends every event into a [`tokio::sync::mpsc`] channel (see
/// [`channel`]).
#[derive(Debug, Clone)]
pub struct ChannelHandler {
    sender: mpsc::Sender<WebhookEvent>,
}

impl ChannelHandler {
    /// A handler sending into `sender`, e.g. of a channel you already have.
    pub fn new(sender: mpsc::Sender<WebhookEvent>) -> Self {
        Self { sender }
    }
}

impl From<mpsc::Sender<WebhookEvent>> for ChannelHandler {
    fn from(sender: mpsc::Sender<WebhookEvent>) -> Self {
        Self::new(sender)
    }
}

impl EventHandler for ChannelHandler {
    fn handle(&self, event: WebhookEvent) -> impl Future<Output = ()> + Send + 'static {
        let sender = self.sender.clone();
        async move {
            if let Err(mpsc::error::SendError(event)) = sender.send(event).await {
                tracing::warn!(
                    event_id = event.id.as_deref().unwrap_or(""),
                    event_type = event.event_type.as_str(),
                    "talkjs-webhooks: the event stream was dropped, so an event was dropped"
                );
            }
        }
    }
}

/// The receiving end of [`channel`]: a `Stream` of the events, also readable with
/// [`recv`](Self::recv).
#[derive(Debug)]
pub struct EventStream {
    receiver: mpsc::Receiver<WebhookEvent>,
}

impl EventStream {
    /// A stream of the events sent into `receiver`.
    pub fn new(receiver: mpsc::Receiver<WebhookEvent>) -> Self {
        Self { receiver }
    }

    /// The next event; `None` once every [`ChannelHandler`] (every service holding one) is
    /// dropped.
    pub async fn recv(&mut self) -> Option<WebhookEvent> {
        self.receiver.recv().await
    }

    /// The channel's receiver.
    pub fn into_inner(self) -> mpsc::Receiver<WebhookEvent> {
        self.receiver
    }
}

impl Stream for EventStream {
    type Item = WebhookEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WebhookEvent>> {
        self.receiver.poll_recv(cx)
    }
}
