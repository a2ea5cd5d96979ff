//! Cursor pagination through the client: item streams, page streams, the short-page stop,
//! errors mid-stream, default page sizes and filters kept on every page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::time::Duration;

use common::{
    assert_request, conversation_json, message_json, ok_json, p, page, requests, start, user_json,
};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::Value;
use talkjs_api::{Error, OrderBy};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn users(ids: &[&str]) -> Value {
    page(&ids.iter().map(|id| user_json(id)).collect::<Vec<_>>())
}

/// Mounts one page of `GET /users`: `after` is the expected `startingAfter` (`None`: absent).
async fn mount_users_page(server: &MockServer, after: Option<&str>, answer: ResponseTemplate) {
    let mock = Mock::given(method("GET"))
        .and(path(p("/users")))
        .and(query_param("limit", "2"));
    let mock = match after {
        Some(after) => mock.and(query_param("startingAfter", after)),
        None => mock.and(query_param_is_missing("startingAfter")),
    };
    mock.respond_with(answer).expect(1).mount(server).await;
}

/// Three pages of users (limit 2): full, full, short.
async fn three_user_pages(server: &MockServer) {
    mount_users_page(server, None, ok_json(&users(&["u1", "u2"]))).await;
    mount_users_page(server, Some("u2"), ok_json(&users(&["u3", "u4"]))).await;
    mount_users_page(server, Some("u4"), ok_json(&users(&["u5"]))).await;
}

/// A full page of users (limit 2), then a 500 `boom` for the next page.
async fn full_user_page_then_500(server: &MockServer) {
    mount_users_page(server, None, ok_json(&users(&["u1", "u2"]))).await;
    mount_users_page(
        server,
        Some("u2"),
        ResponseTemplate::new(500).set_body_string("boom"),
    )
    .await;
}

async fn assert_three_user_requests(server: &MockServer) {
    let reqs = requests(server).await;
    assert_eq!(reqs.len(), 3, "exactly three requests");
    assert_request(&reqs[0], "GET", "/users", Some("limit=2"), None);
    assert_request(
        &reqs[1],
        "GET",
        "/users",
        Some("limit=2&startingAfter=u2"),
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/users",
        Some("limit=2&startingAfter=u4"),
        None,
    );
}

#[tokio::test]
async fn item_stream_follows_cursors_across_three_pages_yielding_each_item_once() {
    let (server, client) = start().await;
    three_user_pages(&server).await;

    let stream = client.users().list().limit(2).into_stream();
    assert!(
        requests(&server).await.is_empty(),
        "nothing is sent before the stream is polled"
    );
    let all: Vec<_> = stream.try_collect().await.unwrap();
    let ids: Vec<&str> = all.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["u1", "u2", "u3", "u4", "u5"]);
    assert_three_user_requests(&server).await;
}

#[tokio::test]
async fn pages_yields_whole_pages() {
    let (server, client) = start().await;
    three_user_pages(&server).await;

    let mut pages = client.users().list().limit(2).pages();
    assert_eq!(pages.cursor(), None);
    let mut seen = Vec::new();
    while let Some(page) = pages.try_next().await.unwrap() {
        seen.push(page.iter().map(|u| u.id.to_string()).collect::<Vec<_>>());
        if seen.len() == 1 {
            assert_eq!(pages.cursor(), Some("u2"), "the cursor of the next page");
        }
    }
    assert_eq!(seen, [vec!["u1", "u2"], vec!["u3", "u4"], vec!["u5"]]);
    assert!(pages.next().await.is_none(), "stays ended");
    assert_three_user_requests(&server).await;
}

#[tokio::test]
async fn stream_stops_on_a_short_page() {
    let (server, client) = start().await;
    let list = p("/conversations/c1/messages");
    let msgs = |ids: &[&str]| {
        page(
            &ids.iter()
                .map(|id| message_json(id, "c1"))
                .collect::<Vec<_>>(),
        )
    };
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param_is_missing("startingAfter"))
        .respond_with(ok_json(&msgs(&["m1", "m2", "m3"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("startingAfter", "m3"))
        .respond_with(ok_json(&msgs(&["m4", "m5", "m6"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("startingAfter", "m6"))
        .respond_with(ok_json(&msgs(&["m7", "m8"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&list))
        .and(query_param("startingAfter", "m8"))
        .respond_with(ok_json(&msgs(&[])))
        .named("a page after the short page")
        .expect(0)
        .mount(&server)
        .await;

    let all: Vec<_> = client
        .conversations()
        .messages("c1")
        .list()
        .limit(3)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(all[7].id, "m8");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3, "exactly three requests");
    assert_eq!(reqs[2].url.query(), Some("limit=3&startingAfter=m6"));
}

#[tokio::test]
async fn pages_never_yields_the_empty_page_after_a_full_last_one() {
    // Four users, two per page: TalkJS answers a third, empty page.
    let (server, client) = start().await;
    mount_users_page(&server, None, ok_json(&users(&["u1", "u2"]))).await;
    mount_users_page(&server, Some("u2"), ok_json(&users(&["u3", "u4"]))).await;
    mount_users_page(&server, Some("u4"), ok_json(&users(&[]))).await;
    let pages: Vec<Vec<_>> = client
        .users()
        .list()
        .limit(2)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2, "two pages of users, no empty third one");
    assert!(pages.iter().all(|page| page.len() == 2));
    assert_eq!(requests(&server).await.len(), 3);

    // No users at all: no pages at all.
    let (server, client) = start().await;
    mount_users_page(&server, None, ok_json(&users(&[]))).await;
    let pages: Vec<Vec<_>> = client
        .users()
        .list()
        .limit(2)
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.is_empty(), "{pages:?}");
}

#[tokio::test]
async fn stream_stops_on_an_empty_page_after_full_ones() {
    let (server, client) = start().await;
    mount_users_page(&server, None, ok_json(&users(&["u1", "u2"]))).await;
    mount_users_page(&server, Some("u2"), ok_json(&users(&[]))).await;
    let all: Vec<_> = client
        .users()
        .list()
        .limit(2)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn error_mid_stream_surfaces_once_after_the_first_page_then_ends() {
    let (server, client) = start().await;
    full_user_page_then_500(&server).await;

    let mut stream = client.users().list().limit(2).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().id, "u1");
    assert_eq!(stream.next().await.unwrap().unwrap().id, "u2");
    match stream.next().await {
        Some(Err(Error::Server { status, body })) => {
            assert_eq!(status, 500);
            assert_eq!(body, "boom");
        }
        other => panic!("expected the 500 error, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    assert!(stream.next().await.is_none());
    assert_eq!(
        requests(&server).await.len(),
        2,
        "no request after the error"
    );
}

#[tokio::test]
async fn error_mid_pages_surfaces_once_then_ends() {
    let (server, client) = start().await;
    full_user_page_then_500(&server).await;
    let mut pages = client.users().list().limit(2).pages();
    assert_eq!(pages.next().await.unwrap().unwrap().len(), 2);
    assert!(matches!(
        pages.next().await,
        Some(Err(Error::Server { .. }))
    ));
    assert!(pages.next().await.is_none());
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn item_stream_fetches_at_most_one_page_ahead() {
    let (server, client) = start().await;
    three_user_pages(&server).await;
    let mut stream = client.users().list().limit(2).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().id, "u1");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        requests(&server).await.len(),
        1,
        "a full page is buffered: the next one is not fetched yet"
    );
    let rest: Vec<_> = stream.try_collect().await.unwrap();
    assert_eq!(rest.len(), 4);
}

#[tokio::test]
async fn streams_default_to_the_largest_page_size() {
    let (server, client) = start().await;
    Mock::given(method("GET"))
        .respond_with(ok_json(&page(&[])))
        .expect(4)
        .mount(&server)
        .await;
    let users: Vec<_> = client
        .users()
        .list()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let convs: Vec<_> = client
        .conversations()
        .list()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let user_convs: Vec<_> = client
        .users()
        .conversations("alice")
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let msgs: Vec<_> = client
        .conversations()
        .messages("c1")
        .list()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert!(users.is_empty() && convs.is_empty() && user_convs.is_empty() && msgs.is_empty());
    let reqs = requests(&server).await;
    assert_request(&reqs[0], "GET", "/users", Some("limit=100"), None);
    assert_request(&reqs[1], "GET", "/conversations", Some("limit=30"), None);
    assert_request(
        &reqs[2],
        "GET",
        "/users/alice/conversations",
        Some("limit=30"),
        None,
    );
    assert_request(
        &reqs[3],
        "GET",
        "/conversations/c1/messages",
        Some("limit=100"),
        None,
    );
}

#[tokio::test]
async fn stream_keeps_filters_and_starts_after_the_given_cursor() {
    let (server, client) = start().await;
    let convs = |ids: &[&str]| {
        page(
            &ids.iter()
                .map(|id| conversation_json(id))
                .collect::<Vec<_>>(),
        )
    };
    Mock::given(method("GET"))
        .and(path(p("/conversations")))
        .and(query_param("startingAfter", "c0"))
        .respond_with(ok_json(&convs(&["c1", "c2"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p("/conversations")))
        .and(query_param("startingAfter", "c2"))
        .respond_with(ok_json(&convs(&["c3"])))
        .expect(1)
        .mount(&server)
        .await;

    let all: Vec<_> = client
        .conversations()
        .list()
        .order_by(OrderBy::CreatedAt)
        .limit(2)
        .starting_after("c0")
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_request(
        &reqs[0],
        "GET",
        "/conversations",
        Some("orderBy=createdAt&limit=2&startingAfter=c0"),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/conversations",
        Some("orderBy=createdAt&limit=2&startingAfter=c2"),
        None,
    );
}

#[tokio::test]
async fn user_conversation_stream_uses_the_conversation_id_as_cursor() {
    let (server, client) = start().await;
    let item = |id: &str| {
        let mut c = conversation_json(id);
        c["isUnread"] = Value::Bool(true);
        c
    };
    Mock::given(method("GET"))
        .and(path(p("/users/alice/conversations")))
        .and(query_param_is_missing("startingAfter"))
        .respond_with(ok_json(&page(&[item("c1")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p("/users/alice/conversations")))
        .and(query_param("startingAfter", "c1"))
        .respond_with(ok_json(&page(&[])))
        .expect(1)
        .mount(&server)
        .await;
    let all: Vec<_> = client
        .users()
        .conversations("alice")
        .unreads_only(true)
        .limit(1)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].conversation.id, "c1");
    assert_eq!(all[0].is_unread, Some(true));
    let reqs = requests(&server).await;
    assert_eq!(
        reqs[1].url.query(),
        Some("unreadsOnly=true&limit=1&startingAfter=c1")
    );
}

/// Collects at most `max` results of `stream`, failing (instead of hanging) if the stream
/// neither ends nor reaches `max` within five seconds.
async fn collect_bounded<S: futures_util::Stream + Unpin>(stream: S, max: usize) -> Vec<S::Item> {
    tokio::time::timeout(Duration::from_secs(5), stream.take(max).collect())
        .await
        .expect("the stream ends instead of hanging")
}

#[tokio::test]
async fn a_server_ignoring_starting_after_ends_the_stream_with_a_pagination_error() {
    let (server, client) = start().await;
    // The same full page whatever the cursor.
    Mock::given(method("GET"))
        .and(path(p("/users")))
        .respond_with(ok_json(&users(&["u1", "u2"])))
        .mount(&server)
        .await;

    let items = collect_bounded(client.users().list().limit(2).into_stream(), 20).await;
    assert_eq!(items.len(), 3, "two items, the error, the end: {items:?}");
    assert_eq!(items[0].as_ref().unwrap().id, "u1");
    assert_eq!(items[1].as_ref().unwrap().id, "u2");
    match &items[2] {
        Err(Error::Pagination(msg)) => {
            assert!(
                msg.contains("\"u2\"") && msg.contains("startingAfter"),
                "{msg}"
            );
        }
        other => panic!("expected Error::Pagination, got {other:?}"),
    }
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "no request after the repeated page");
    assert_request(&reqs[0], "GET", "/users", Some("limit=2"), None);
    assert_request(
        &reqs[1],
        "GET",
        "/users",
        Some("limit=2&startingAfter=u2"),
        None,
    );

    // Pages: the page once, then the error, then the end.
    let pages = collect_bounded(client.users().list().limit(2).pages(), 20).await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0].as_ref().unwrap().len(), 2);
    let err = pages[1].as_ref().unwrap_err();
    assert!(matches!(err, Error::Pagination(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_server_cycling_through_pages_ends_the_stream_with_a_pagination_error() {
    let (server, client) = start().await;
    // First page, then second, then the first again after the second's cursor.
    mount_users_page(&server, None, ok_json(&users(&["u1", "u2"]))).await;
    mount_users_page(&server, Some("u2"), ok_json(&users(&["u3", "u4"]))).await;
    mount_users_page(&server, Some("u4"), ok_json(&users(&["u1", "u2"]))).await;

    let items = collect_bounded(client.users().list().limit(2).into_stream(), 20).await;
    let ids: Vec<&str> = items
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(ids, ["u1", "u2", "u3", "u4"]);
    assert_eq!(items.len(), 5, "{items:?}");
    assert!(
        matches!(items[4], Err(Error::Pagination(_))),
        "{:?}",
        items[4]
    );
}
