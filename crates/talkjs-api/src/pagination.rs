//! Cursor pagination: [`Pages`] and [`Items`].

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use talkjs_transport::BoxFuture;

use crate::error::{Error, Result};

/// An item of a paginated list: its id is the cursor of the next page.
pub trait Cursor {
    /// The value to pass as `startingAfter` to get the items after this one.
    ///
    /// ```
    /// use talkjs_api::Cursor;
    /// use talkjs_models::User;
    ///
    /// let user: User = serde_json::from_str(r#"{"id": "alice", "createdAt": 1}"#).unwrap();
    /// assert_eq!(user.cursor(), "alice");
    /// ```
    fn cursor(&self) -> &str;
}

impl Cursor for talkjs_models::User {
    fn cursor(&self) -> &str {
        self.id.as_str()
    }
}

impl Cursor for talkjs_models::Conversation {
    fn cursor(&self) -> &str {
        self.id.as_str()
    }
}

impl Cursor for talkjs_models::UserConversation {
    fn cursor(&self) -> &str {
        self.conversation.id.as_str()
    }
}

impl Cursor for talkjs_models::Message {
    fn cursor(&self) -> &str {
        self.id.as_str()
    }
}

/// Fetches the page after a cursor (`None`: the first page, or the caller's own cursor).
pub(crate) type FetchPage<T> =
    Arc<dyn Fn(Option<String>) -> BoxFuture<'static, Result<Vec<T>>> + Send + Sync>;

/// A stream of whole pages (`Vec<T>`), following `startingAfter` cursors lazily until a short
/// (or empty) page; an empty page is never yielded. Created by the `pages()` method of list
/// requests.
///
/// TalkJS lists return `{"data": [...]}` pages; the next page starts after the id of the last
/// item (`startingAfter`), and a page shorter than the limit is the last one. [`Pages`] yields
/// whole pages, [`Items`] yields their items one by one. Both own a client clone, so they are
/// `Send + 'static` and can be moved into a spawned task.
///
/// A server that does not honour `startingAfter` (answering the same full page again, or
/// cycling through pages) would make the stream endless: a page ending at the cursor just used
/// ends the stream with [`Error::Pagination`] at once, and a longer cycle is caught after at
/// most about twice its length (Brent's cycle detection: one remembered cursor, so memory stays
/// flat).
///
/// [`Items`] fetches the next page while the caller works through the current one (one page
/// ahead, never more, so memory stays flat however many pages there are). An error is yielded
/// once, after the items that arrived before it, and ends the stream.
#[must_use = "streams do nothing unless polled"]
pub struct Pages<T> {
    fetch: FetchPage<T>,
    page_size: usize,
    cursor: Option<String>,
    /// Cycle detection (Brent): a cursor used earlier, replaced after `power` more pages, with
    /// `power` doubling each time; a cursor equal to it means the pages go round in a cycle.
    anchor: Option<String>,
    power: u64,
    steps: u64,
    in_flight: Option<BoxFuture<'static, Result<Vec<T>>>>,
    error: Option<Error>,
    done: bool,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("page_size", &self.page_size)
            .field("cursor", &self.cursor)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: Cursor + Send + 'static> Pages<T> {
    pub(crate) fn new(fetch: FetchPage<T>, page_size: u32, starting_after: Option<String>) -> Self {
        Self {
            fetch,
            page_size: usize::try_from(page_size).unwrap_or(usize::MAX),
            cursor: starting_after,
            anchor: None,
            power: 1,
            steps: 0,
            in_flight: None,
            error: None,
            done: false,
        }
    }

    /// A stream that yields `error` and ends, without any request (e.g. for an invalid
    /// argument).
    pub(crate) fn failed(fetch: FetchPage<T>, error: Error) -> Self {
        Self {
            fetch,
            page_size: 1,
            cursor: None,
            anchor: None,
            power: 1,
            steps: 0,
            in_flight: None,
            error: Some(error),
            done: true,
        }
    }

    /// A stream of the items of these pages.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let pages = client.users().list().limit(100).pages();
    /// let users: Vec<_> = pages.items().try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn items(self) -> Items<T> {
        let wake = Arc::new(FetchWake::default());
        Items {
            pages: self,
            current: Vec::new().into_iter(),
            next: None,
            error: None,
            exhausted: false,
            waker: Waker::from(Arc::clone(&wake)),
            wake,
            fetching: false,
        }
    }

    /// The cursor the next page will start after (the id of the last item yielded so far), for
    /// resuming an interrupted export later.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use futures_util::TryStreamExt;
    /// let mut pages = client.users().list().pages();
    /// if let Some(page) = pages.try_next().await? {
    ///     println!("{} users; resume after {:?}", page.len(), pages.cursor());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

impl<T: Cursor + Send + 'static> Stream for Pages<T> {
    type Item = Result<Vec<T>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        if this.in_flight.is_none() {
            if this.done {
                return Poll::Ready(None);
            }
            this.in_flight = Some((this.fetch)(this.cursor.clone()));
        }
        let Some(fut) = this.in_flight.as_mut() else {
            return Poll::Ready(None);
        };
        let result = match fut.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.in_flight = None;
        match result {
            // An empty page ends the list: when the total is a multiple of the page size,
            // the last full page is followed by an empty one, which is not a page to show.
            Ok(page) if page.is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            Ok(page) => {
                match page.last() {
                    Some(last) if page.len() >= this.page_size => {
                        let next = last.cursor();
                        if this.cursor.as_deref() == Some(next)
                            || this.anchor.as_deref() == Some(next)
                        {
                            this.done = true;
                            return Poll::Ready(Some(Err(Error::Pagination(format!(
                                "TalkJS answered a full page ending at {next:?}, a cursor already \
                                 used, so the next pages would repeat forever (the server or a \
                                 proxy ignores startingAfter); the stream stopped: check the \
                                 base URL, and that any proxy in between passes the query \
                                 string on"
                            )))));
                        }
                        this.steps += 1;
                        if this.steps >= this.power {
                            this.anchor = Some(next.to_owned());
                            this.power = this.power.saturating_mul(2);
                            this.steps = 0;
                        }
                        this.cursor = Some(next.to_owned());
                    }
                    _ => this.done = true,
                }
                Poll::Ready(Some(Ok(page)))
            }
            Err(e) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

/// A stream of items across pages, fetching one page ahead; see [`Pages`] for how pages are followed.
#[must_use = "streams do nothing unless polled"]
pub struct Items<T> {
    pages: Pages<T>,
    /// The page being handed out, item by item (each item is moved out once, not copied
    /// into another buffer).
    current: std::vec::IntoIter<T>,
    /// The page fetched ahead, waiting for `current` to run out.
    next: Option<Vec<T>>,
    error: Option<Error>,
    exhausted: bool,
    /// Set when the page fetch in flight is woken: while items are buffered, the fetch is
    /// polled again only then, not once per item.
    wake: Arc<FetchWake>,
    /// A waker for `wake`, made once.
    waker: Waker,
    /// A page fetch is in flight (it returned `Pending`).
    fetching: bool,
}

/// The waker given to the page fetch: records the wake-up and passes it on to the task that
/// polls the stream.
#[derive(Default)]
struct FetchWake {
    woken: AtomicBool,
    consumer: Mutex<Option<Waker>>,
}

impl FetchWake {
    /// Whether the fetch was woken since the last call (and clears the flag). A plain load
    /// first: this runs once per item, and the flag is almost always clear.
    fn take_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire) && self.woken.swap(false, Ordering::AcqRel)
    }

    fn register(&self, waker: &Waker) {
        let mut consumer = self.consumer.lock().unwrap_or_else(PoisonError::into_inner);
        if !consumer.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *consumer = Some(waker.clone());
        }
    }
}

impl Wake for FetchWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let consumer = self
            .consumer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(waker) = consumer {
            waker.wake();
        }
    }
}

impl<T> std::fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field(
                "buffered",
                &(self.current.len() + self.next.as_ref().map_or(0, Vec::len)),
            )
            .finish_non_exhaustive()
    }
}

// Items are only moved, never pinned in place: the stream is `Unpin` whatever `T` is.
impl<T> Unpin for Items<T> {}

impl<T: Cursor + Send + 'static> Stream for Items<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // Keep at most one page ahead of the caller: once the first item of the current
            // page is taken, fetch (or keep fetching) the next one. While items remain, a
            // fetch in flight is polled again only when it was woken (not once per item).
            let mut pending = false;
            if this.next.is_none()
                && !this.exhausted
                && this.error.is_none()
                && this.current.len() < this.pages.page_size.max(1)
            {
                let starved = this.current.len() == 0;
                if starved || !this.fetching || this.wake.take_woken() {
                    this.wake.register(cx.waker());
                    let mut fetch_cx = Context::from_waker(&this.waker);
                    match Pin::new(&mut this.pages).poll_next(&mut fetch_cx) {
                        Poll::Ready(Some(Ok(page))) => {
                            this.fetching = false;
                            if starved {
                                this.current = page.into_iter();
                            } else {
                                this.next = Some(page);
                            }
                            continue;
                        }
                        Poll::Ready(Some(Err(e))) => {
                            this.fetching = false;
                            this.error = Some(e);
                        }
                        Poll::Ready(None) => {
                            this.fetching = false;
                            this.exhausted = true;
                        }
                        Poll::Pending => {
                            this.fetching = true;
                            pending = true;
                        }
                    }
                } else {
                    pending = true;
                }
            }
            if let Some(item) = this.current.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(page) = this.next.take() {
                this.current = page.into_iter();
                continue;
            }
            if let Some(e) = this.error.take() {
                this.exhausted = true;
                return Poll::Ready(Some(Err(e)));
            }
            if this.exhausted {
                return Poll::Ready(None);
            }
            if pending {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    struct Id(String);

    impl Cursor for Id {
        fn cursor(&self) -> &str {
            &self.0
        }
    }

    /// Pages of one item: the page after cursor `n` holds `next(n)` (after none: `0`).
    fn pages(next: fn(u32) -> u32) -> Pages<Id> {
        let fetch: FetchPage<Id> = Arc::new(move |cursor: Option<String>| {
            let n = cursor.map_or(0, |c| next(c.parse().unwrap_or(0)));
            Box::pin(async move { Ok(vec![Id(n.to_string())]) })
        });
        Pages::new(fetch, 1, None)
    }

    async fn run(next: fn(u32) -> u32) -> (Vec<String>, Option<Error>) {
        let mut ids = Vec::new();
        let mut stream = pages(next).take(1000);
        while let Some(page) = stream.next().await {
            match page {
                Ok(page) => ids.extend(page.into_iter().map(|i| i.0)),
                Err(e) => {
                    assert!(stream.next().await.is_none(), "the error ends the stream");
                    return (ids, Some(e));
                }
            }
        }
        (ids, None)
    }

    #[tokio::test]
    async fn a_cycle_after_a_tail_is_caught_within_about_twice_its_length() {
        // 0 1 2 3 4 5 6 7 8 9 10 | 3 4 ...: a tail of 3 and a cycle of 8.
        let (ids, error) = run(|n| if n == 10 { 3 } else { n + 1 }).await;
        assert!(matches!(error, Some(Error::Pagination(_))), "{error:?}");
        assert!(
            ids.len() <= 3 + 2 * 8 + 1,
            "{} pages before the error",
            ids.len()
        );
        assert_eq!(
            &ids[..11],
            &(0..=10).map(|n| n.to_string()).collect::<Vec<_>>()[..]
        );
    }

    #[tokio::test]
    async fn a_repeated_page_is_caught_at_once() {
        let (ids, error) = run(|n| n.min(2) + u32::from(n < 2)).await;
        assert!(matches!(error, Some(Error::Pagination(_))), "{error:?}");
        assert_eq!(ids, ["0", "1", "2"]);
    }

    #[tokio::test]
    async fn advancing_cursors_are_followed() {
        let (ids, error) = run(|n| n + 1).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(ids.len(), 1000);
    }
}
