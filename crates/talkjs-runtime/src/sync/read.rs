//! Reading what TalkJS holds of a desired state's ids, as cheaply as the app allows (see
//! the [module docs](super) for the rule and what it costs at worst).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use futures_util::StreamExt;
use talkjs_api::{Client, Pages};
use talkjs_models::{Conversation, User, UserConversation};

use super::Error;

/// Users a page of the user list holds.
const USERS_PAGE: u32 = 100;
/// Conversations a page of a conversation list (the app's or a user's) holds.
const CONVERSATIONS_PAGE: u32 = 30;
/// `GET`s of single users or conversations in flight at once while planning.
const GETS_IN_FLIGHT: usize = 16;
/// A user's listing is started only for a user named in at least this many desired
/// conversations not found yet: for one, its `GET` costs no more than the listing's best
/// case.
const MIN_SOUGHT: usize = 2;

/// Reads the records of `ids` from TalkJS: through the listing `pages` while that is cheaper
/// than a `GET` each for those not seen yet, then `get` each (up to [`GETS_IN_FLIGHT`] at
/// once, paced by the client's rate limiter); only those ids are kept.
async fn read_by_ids<T, G, F>(
    ids: &[&str],
    pages: Pages<T>,
    id_of: fn(&T) -> &str,
    get: G,
) -> Result<HashMap<String, T>, Error>
where
    T: talkjs_api::Cursor + Send + 'static,
    G: Fn(String) -> F,
    F: std::future::Future<Output = talkjs_api::Result<T>>,
{
    let mut wanted: HashSet<&str> = ids.iter().copied().collect();
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    let mut pages = pages;
    let mut read = 0usize;
    let mut listed_all = false;
    while !wanted.is_empty() && read < wanted.len() {
        let Some(page) = pages.next().await else {
            listed_all = true;
            break;
        };
        read += 1;
        for record in page? {
            if wanted.remove(id_of(&record)) {
                found.insert(id_of(&record).to_owned(), record);
            }
        }
    }
    if !listed_all {
        get_each(wanted, get, &mut found).await?;
    }
    Ok(found)
}

/// `get`s each of `ids` (up to [`GETS_IN_FLIGHT`] at once) into `found`; an id TalkJS does
/// not know is left out.
async fn get_each<'a, T, G, F>(
    ids: impl IntoIterator<Item = &'a str>,
    get: G,
    found: &mut HashMap<String, T>,
) -> Result<(), Error>
where
    G: Fn(String) -> F,
    F: std::future::Future<Output = talkjs_api::Result<T>>,
{
    let mut gets = futures_util::stream::iter(ids)
        .map(|id| {
            let got = get(id.to_owned());
            async move { (id, got.await) }
        })
        .buffer_unordered(GETS_IN_FLIGHT);
    while let Some((id, got)) = gets.next().await {
        match got {
            Ok(record) => {
                found.insert(id.to_owned(), record);
            }
            Err(talkjs_api::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads the users of `ids` (see [`read_by_ids`]).
pub(super) async fn read_users(
    client: &Client,
    ids: &[&str],
) -> Result<HashMap<String, User>, Error> {
    let pages = client.users().list().limit(USERS_PAGE).pages();
    read_by_ids(
        ids,
        pages,
        |u| u.id.as_str(),
        |id| {
            let client = client.clone();
            async move { client.users().get(&id).await }
        },
    )
    .await
}

/// A desired conversation to read: its id, and the users it names as participants (whose
/// own listings may hold it).
pub(super) type Sought<'a> = (&'a str, Vec<&'a str>);

/// The desired conversations not found yet, and which users' listings could find them.
struct Unseen<'a> {
    /// Every desired conversation not found yet.
    ids: HashSet<&'a str>,
    /// The users each desired conversation names.
    users_of: HashMap<&'a str, &'a [&'a str]>,
    /// Each user's desired conversations.
    of_user: HashMap<&'a str, Vec<&'a str>>,
    /// Conversations some user's listing looks (or looked) for: no other user's looks for
    /// them.
    claimed: HashSet<&'a str>,
    /// For each user, how many of its desired conversations are neither found nor claimed.
    open: HashMap<&'a str, usize>,
    /// The users by `open`, most first (ties: the smallest id); an entry whose count has
    /// dropped since it was pushed is put right when it comes to the top.
    ranking: BinaryHeap<(usize, Reverse<&'a str>)>,
}

impl<'a> Unseen<'a> {
    fn new(sought: &'a [Sought<'a>]) -> Self {
        let mut of_user: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut users_of = HashMap::new();
        for (id, users) in sought {
            users_of.insert(*id, users.as_slice());
            for user in users {
                of_user.entry(*user).or_default().push(*id);
            }
        }
        let open: HashMap<&str, usize> = of_user.iter().map(|(u, ids)| (*u, ids.len())).collect();
        let ranking = (open.iter())
            .filter(|(_, n)| **n >= MIN_SOUGHT)
            .map(|(u, n)| (*n, Reverse(*u)))
            .collect();
        Self {
            ids: users_of.keys().copied().collect(),
            users_of,
            of_user,
            claimed: HashSet::new(),
            open,
            ranking,
        }
    }

    /// The conversation `id` no longer counts for the users it names.
    fn close(&mut self, id: &str) {
        for user in self.users_of.get(id).copied().unwrap_or_default() {
            if let Some(n) = self.open.get_mut(user) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Keeps `conversation` in `found` if it is sought and not found before (and tells the
    /// running user's `listing`); whether it was.
    fn take(
        &mut self,
        conversation: Conversation,
        listing: Option<&mut UserListing<'_>>,
        found: &mut HashMap<String, Conversation>,
    ) -> bool {
        let id = conversation.id.as_str();
        if !self.ids.remove(id) {
            return false;
        }
        if !self.claimed.contains(id) {
            self.close(id);
        }
        if let Some(listing) = listing {
            listing.seeks.remove(id);
        }
        found.insert(id.to_owned(), conversation);
        true
    }

    /// The user named in the most desired conversations neither found nor claimed, if that
    /// number is at least [`MIN_SOUGHT`] and `worth` it; that user's listing then claims
    /// them (returned).
    fn next_user(&mut self, worth: impl Fn(usize) -> bool) -> Option<(&'a str, HashSet<&'a str>)> {
        while let Some((n, Reverse(user))) = self.ranking.pop() {
            let now = self.open.get(user).copied().unwrap_or(0);
            if now != n {
                if now >= MIN_SOUGHT {
                    self.ranking.push((now, Reverse(user)));
                }
                continue;
            }
            if !worth(n) {
                // No other user is named in more.
                self.ranking.push((n, Reverse(user)));
                return None;
            }
            let ids: Vec<&'a str> = (self.of_user.get(user).into_iter().flatten())
                .copied()
                .filter(|id| self.ids.contains(id) && !self.claimed.contains(id))
                .collect();
            for id in &ids {
                self.claimed.insert(*id);
                self.close(id);
            }
            return Some((user, ids.into_iter().collect()));
        }
        None
    }
}

/// A user's own conversation listing, looking for some desired conversations.
struct UserListing<'a> {
    pages: Pages<UserConversation>,
    /// Pages read.
    read: usize,
    /// The desired conversations it looks for that are not found yet.
    seeks: HashSet<&'a str>,
    /// Whether it reached its end.
    ended: bool,
}

impl UserListing<'_> {
    /// Takes the answer of its next page.
    fn take(
        &mut self,
        page: Option<talkjs_api::Result<Vec<UserConversation>>>,
        unseen: &mut Unseen<'_>,
        found: &mut HashMap<String, Conversation>,
    ) -> Result<(), Error> {
        self.read += 1;
        match page {
            // A user TalkJS does not know (a new one) has no conversations; an id that
            // cannot be in a path has none either (its writes will say so).
            None
            | Some(Err(
                talkjs_api::Error::NotFound { .. } | talkjs_api::Error::InvalidArgument(_),
            )) => self.ended = true,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(page)) => {
                for item in page {
                    // The user's own fields (unread state) are not compared. An item
                    // without participants is not taken (read another way): TalkJS
                    // documents them in this answer, but an answer that left them out
                    // would otherwise plan every participant as added.
                    if !item.conversation.participants.is_empty() {
                        unseen.take(item.conversation, Some(self), found);
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether another page is worth reading: fewer pages read than conversations sought
    /// (a `GET` each would cost those).
    fn goes_on(&self) -> bool {
        !self.ended && self.read < self.seeks.len()
    }
}

/// Whether a user's listing looking for `n` desired conversations beats what the rest
/// would cost a conversation, while `left` are not found yet: the app listing's yield per
/// page so far (`app_found` in `app_read` pages; before its first, a full page), or a
/// `GET` once it has stopped paying (its pages reached the conversations left).
fn beats_the_rest(n: usize, app_read: usize, app_found: usize, left: usize) -> bool {
    if app_read >= left {
        true
    } else if app_read == 0 {
        n > usize::try_from(CONVERSATIONS_PAGE).unwrap_or(usize::MAX)
    } else {
        n.saturating_mul(app_read) > app_found
    }
}

/// Reads the desired conversations `sought`, with their participants: the app's listing
/// and (one at a time) the listing of a user named in many of them, a page of each side by
/// side, then a `GET` each for the rest (see the module docs for the rule).
pub(super) async fn read_conversations(
    client: &Client,
    sought: &[Sought<'_>],
) -> Result<HashMap<String, Conversation>, Error> {
    let mut unseen = Unseen::new(sought);
    let mut found: HashMap<String, Conversation> = HashMap::new();
    let mut app = (client.conversations().list())
        .limit(CONVERSATIONS_PAGE)
        .pages();
    // The app listing's pages read, and the desired conversations they found first.
    let mut app_read = 0usize;
    let mut app_found = 0usize;
    let mut current: Option<UserListing<'_>> = None;
    while !unseen.ids.is_empty() {
        if current.as_ref().is_some_and(|u| !u.goes_on()) {
            current = None;
        }
        if current.is_none() {
            let left = unseen.ids.len();
            let worth = |n: usize| beats_the_rest(n, app_read, app_found, left);
            current = unseen.next_user(worth).map(|(user, seeks)| UserListing {
                pages: (client.users().conversations(user))
                    .limit(CONVERSATIONS_PAGE)
                    .pages(),
                read: 0,
                seeks,
                ended: false,
            });
        }
        // The app listing counts only the conversations no user listing is looking for.
        let seeking = current.as_ref().map_or(0, |u| u.seeks.len());
        let read_app = app_read < unseen.ids.len().saturating_sub(seeking);
        if !read_app && current.is_none() {
            break;
        }
        let app_next = async {
            if read_app {
                Some(app.next().await)
            } else {
                None
            }
        };
        let user_next = async {
            match current.as_mut() {
                Some(listing) => Some(listing.pages.next().await),
                None => None,
            }
        };
        let (app_page, user_page) = futures_util::future::join(app_next, user_next).await;

        if let (Some(listing), Some(page)) = (current.as_mut(), user_page) {
            listing.take(page, &mut unseen, &mut found)?;
        }
        match app_page {
            None => {}
            // The app's whole listing is read: the rest do not exist.
            Some(None) => return Ok(found),
            Some(Some(page)) => {
                app_read += 1;
                for conversation in page? {
                    if unseen.take(conversation, current.as_mut(), &mut found) {
                        app_found += 1;
                    }
                }
            }
        }
    }
    let rest: Vec<&str> = unseen.ids.iter().copied().collect();
    get_each(
        rest,
        |id| {
            let client = client.clone();
            async move { client.conversations().get(&id).await }
        },
        &mut found,
    )
    .await?;
    Ok(found)
}
