//! The machinery shared by list requests: page-size checks, one-page fetch, streams.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use talkjs_models::Page;

use crate::client::Client;
use crate::error::Result;
use crate::pagination::{Cursor, FetchPage, Items, Pages};
use crate::request::{ApiRequest, check_limit};

/// How a list endpoint pages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListSpec {
    /// The largest page size TalkJS accepts.
    pub(crate) max_limit: u32,
    /// What is listed, for error messages.
    pub(crate) what: &'static str,
}

/// A list request: a base request (path, filters) plus `limit` and `startingAfter`.
#[derive(Debug, Clone)]
pub(crate) struct ListRequest {
    pub(crate) client: Client,
    pub(crate) spec: ListSpec,
    /// Builds the request without `limit` / `startingAfter`.
    pub(crate) base: ApiRequest,
    pub(crate) limit: Option<u32>,
    pub(crate) starting_after: Option<String>,
    /// An argument error found while building (e.g. an empty id), reported when sent.
    invalid: Option<String>,
}

impl ListRequest {
    /// A list request; `base` is an error when an argument (e.g. an id) was invalid: the
    /// error is reported when the request is sent, and nothing is sent.
    pub(crate) fn new(client: Client, spec: ListSpec, base: Result<ApiRequest>) -> Self {
        let (base, invalid) = match base {
            Ok(base) => (base, None),
            Err(crate::error::Error::InvalidArgument(msg)) => {
                (ApiRequest::new(http::Method::GET, "", &[]), Some(msg))
            }
            Err(other) => (
                ApiRequest::new(http::Method::GET, "", &[]),
                Some(other.to_string()),
            ),
        };
        Self {
            client,
            spec,
            base,
            limit: None,
            starting_after: None,
            invalid,
        }
    }

    fn check(&self, limit: Option<u32>) -> Result<()> {
        if let Some(msg) = &self.invalid {
            return Err(crate::error::Error::InvalidArgument(msg.clone()));
        }
        check_limit(limit, self.spec.max_limit, self.spec.what)
    }

    /// Records an argument error, reported when the request is sent (nothing is sent).
    pub(crate) fn invalidate(&mut self, msg: String) {
        self.invalid.get_or_insert(msg);
    }

    /// Sets a query parameter of the base request, replacing an earlier value of the same
    /// parameter (a filter setter called twice sends the last value, once).
    pub(crate) fn query(&mut self, key: &str, value: &str) {
        self.base.set_query(key, value);
    }

    fn request(base: &ApiRequest, limit: Option<u32>, cursor: Option<&str>) -> ApiRequest {
        let mut req = base.clone();
        req.query_opt("limit", limit);
        req.query_opt("startingAfter", cursor);
        req
    }

    /// One page, as asked (no cursor following).
    pub(crate) async fn first_page<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        self.check(self.limit)?;
        let req = Self::request(&self.base, self.limit, self.starting_after.as_deref());
        let page: Page<T> = self.client.send_json(req).await?;
        Ok(page.data)
    }

    /// All pages. Without an explicit limit, streams use the largest page size (fewest
    /// requests).
    pub(crate) fn pages<T>(self) -> Pages<T>
    where
        T: DeserializeOwned + Cursor + Send + 'static,
    {
        let limit = self.limit.unwrap_or(self.spec.max_limit);
        let checked = self.check(Some(limit));
        let client = self.client;
        let base = self.base;
        let fetch: FetchPage<T> = Arc::new(move |cursor: Option<String>| {
            let client = client.clone();
            let req = Self::request(&base, Some(limit), cursor.as_deref());
            Box::pin(async move {
                let page: Page<T> = client.send_json(req).await?;
                Ok(page.data)
            })
        });
        if let Err(e) = checked {
            return Pages::failed(fetch, e);
        }
        Pages::new(fetch, limit, self.starting_after)
    }

    /// All items.
    pub(crate) fn items<T>(self) -> Items<T>
    where
        T: DeserializeOwned + Cursor + Send + 'static,
    {
        self.pages().items()
    }
}

/// Implements the list-builder surface (limit, starting_after, IntoFuture for one page,
/// `into_stream`, `pages`) for a builder struct with a `list: ListRequest` field.
macro_rules! list_builder {
    ($builder:ident, $item:ty, $list:literal) => {
        impl $builder {
            /// Page size (checked against the endpoint's range before any request is sent).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "let page = ", $list, ".limit(20).await?;", "\n# Ok(()) }\n```")]
            pub fn limit(mut self, limit: u32) -> Self {
                self.list.limit = Some(limit);
                self
            }

            /// Start after this item id (the cursor; e.g. to resume an interrupted export).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "let next = ", $list, ".starting_after(\"last_id_seen\").await?;", "\n# Ok(()) }\n```")]
            pub fn starting_after(mut self, cursor: impl Into<String>) -> Self {
                self.list.starting_after = Some(cursor.into());
                self
            }

            /// Every item of every page, fetched lazily, one page ahead of the caller.
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use futures_util::TryStreamExt;\nlet mut items = ", $list, ".into_stream();\nwhile let Some(item) = items.try_next().await? {\n    let _ = item;\n}", "\n# Ok(()) }\n```")]
            pub fn into_stream(self) -> $crate::pagination::Items<$item> {
                self.list.items()
            }

            /// Every page, fetched lazily.
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use futures_util::TryStreamExt;\nlet mut pages = ", $list, ".pages();\nwhile let Some(page) = pages.try_next().await? {\n    println!(\"{} items\", page.len());\n}", "\n# Ok(()) }\n```")]
            pub fn pages(self) -> $crate::pagination::Pages<$item> {
                self.list.pages()
            }

            /// Fetches one page (awaiting the builder does the same).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "let page = ", $list, ".send().await?;", "\n# Ok(()) }\n```")]
            pub async fn send(self) -> $crate::error::Result<Vec<$item>> {
                self.list.first_page().await
            }
        }

        impl std::future::IntoFuture for $builder {
            type Output = $crate::error::Result<Vec<$item>>;
            type IntoFuture = talkjs_transport::BoxFuture<'static, Self::Output>;

            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.send())
            }
        }
    };
}
pub(crate) use list_builder;

/// Implements the filters shared by the two conversation lists (all conversations, and one
/// user's conversations) for a builder struct with a `list: ListRequest` field.
macro_rules! conversation_filters {
    ($builder:ident, $list:literal) => {
        impl $builder {
            /// Only conversations matching a filter, sent as JSON in the `filter` parameter:
            /// custom fields, access, unread state, subject, creation time and time of the last
            /// message ([`ConversationFilter`](talkjs_models::ConversationFilter)).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::{Access, ConversationFilter};\nlet filter = ConversationFilter::new().custom_eq(\"category\", \"shoes\").access_ne(Access::None);\nlet matching = ", $list, ".filter(&filter).await?;", "\n# Ok(()) }\n```")]
            pub fn filter(mut self, filter: &talkjs_models::ConversationFilter) -> Self {
                match filter.to_query_value() {
                    Ok(json) => self.list.query("filter", &json),
                    Err(e) => self
                        .list
                        .invalidate(format!("the filter cannot be serialized: {e}")),
                }
                self
            }

            /// Only conversations whose last message is older than this time.
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::Timestamp;\nlet older = ", $list, ".last_message_before(Timestamp::from_millis(1_700_000_000_000)).await?;", "\n# Ok(()) }\n```")]
            pub fn last_message_before(mut self, t: talkjs_models::Timestamp) -> Self {
                self.list
                    .query("lastMessageBefore", &t.as_millis().to_string());
                self
            }

            /// Only conversations whose last message is newer than this time.
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::Timestamp;\nlet newer = ", $list, ".last_message_after(Timestamp::from_millis(1_700_000_000_000)).await?;", "\n# Ok(()) }\n```")]
            pub fn last_message_after(mut self, t: talkjs_models::Timestamp) -> Self {
                self.list
                    .query("lastMessageAfter", &t.as_millis().to_string());
                self
            }

            /// Sort key (API version 2021-02-09 or later).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::OrderBy;\nlet by_creation = ", $list, ".order_by(OrderBy::CreatedAt).await?;", "\n# Ok(()) }\n```")]
            #[allow(clippy::needless_pass_by_value)] // by value reads better for an enum
            pub fn order_by(mut self, order: talkjs_models::OrderBy) -> Self {
                self.list.query("orderBy", order.as_str());
                self
            }

            /// Sort direction (API version 2021-02-09 or later).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::OrderDirection;\nlet oldest_first = ", $list, ".order_direction(OrderDirection::Asc).await?;", "\n# Ok(()) }\n```")]
            #[allow(clippy::needless_pass_by_value)] // by value reads better for an enum
            pub fn order_direction(mut self, direction: talkjs_models::OrderDirection) -> Self {
                self.list.query("orderDirection", direction.as_str());
                self
            }

            /// Timestamp pagination offset (API version 2021-02-09 or later).
            ///
            #[doc = concat!("```no_run\n# async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {\n", "use talkjs_models::Timestamp;\nlet page = ", $list, ".offset_ts(Timestamp::from_millis(1_700_000_000_000)).await?;", "\n# Ok(()) }\n```")]
            pub fn offset_ts(mut self, t: talkjs_models::Timestamp) -> Self {
                self.list.query("offsetTs", &t.as_millis().to_string());
                self
            }
        }
    };
}
pub(crate) use conversation_filters;
