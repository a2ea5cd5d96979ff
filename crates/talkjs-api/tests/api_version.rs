//! API version pinning: `TalkJS-REST-Version` from the client builder, per call with
//! `Client::with_api_version` (the builder's setter pins the built client the same way),
//! and on every page of a stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{api_version, assert_request, builder, ok_empty, ok_json, p, page, requests, start};
use futures_util::TryStreamExt;
use talkjs_models::UserUpsert;
use wiremock::matchers::{any, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer};

async fn answer_everything(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(p("/users/alice/conversations")))
        .respond_with(ok_json(&page(&[])))
        .mount(server)
        .await;
    Mock::given(any())
        .respond_with(ok_empty())
        .mount(server)
        .await;
}

#[tokio::test]
async fn no_version_header_by_default() {
    let (server, client) = start().await;
    answer_everything(&server).await;
    client.users().conversations("alice").await.unwrap();
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("A"))
        .await
        .unwrap();
    for req in requests(&server).await {
        assert_eq!(api_version(&req), None);
    }
}

#[tokio::test]
async fn client_level_version_is_sent_on_every_call() {
    let server = MockServer::start().await;
    answer_everything(&server).await;
    let client = builder(&server)
        .api_version("2021-02-09")
        .unwrap()
        .build()
        .unwrap();
    client.users().conversations("alice").await.unwrap();
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("A"))
        .await
        .unwrap();
    client.conversations().delete("c1").await.unwrap();
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    assert_request(&reqs[0], "GET", "/users/alice/conversations", None, None);
    for req in &reqs {
        assert_eq!(api_version(req).as_deref(), Some("2021-02-09"));
    }
}

#[tokio::test]
async fn per_call_version_overrides_the_client_default() {
    let server = MockServer::start().await;
    answer_everything(&server).await;
    let client = builder(&server)
        .api_version("2021-02-09")
        .unwrap()
        .build()
        .unwrap();

    client
        .with_api_version("2024-01-01")
        .unwrap()
        .users()
        .conversations("alice")
        .await
        .unwrap();
    // The original client keeps its own default.
    client.users().conversations("alice").await.unwrap();

    let reqs = requests(&server).await;
    assert_eq!(api_version(&reqs[0]).as_deref(), Some("2024-01-01"));
    assert_eq!(api_version(&reqs[1]).as_deref(), Some("2021-02-09"));
}

#[tokio::test]
async fn per_call_version_without_a_client_default() {
    let (server, client) = start().await;
    answer_everything(&server).await;
    let pinned = client.with_api_version("2021-07-30").unwrap();
    pinned
        .conversations()
        .participants("c1")
        .remove("bob")
        .await
        .unwrap();
    client
        .conversations()
        .participants("c1")
        .remove("bob")
        .await
        .unwrap();
    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "DELETE",
        "/conversations/c1/participants/bob",
        None,
        None,
    );
    assert_eq!(api_version(&reqs[0]).as_deref(), Some("2021-07-30"));
    assert_eq!(api_version(&reqs[1]), None);
}

#[tokio::test]
async fn every_page_of_a_stream_carries_the_pinned_version() {
    let (server, client) = start().await;
    let convs = |ids: &[&str]| {
        page(
            &ids.iter()
                .map(|id| common::conversation_json(id))
                .collect::<Vec<_>>(),
        )
    };
    Mock::given(method("GET"))
        .and(query_param_is_missing("startingAfter"))
        .respond_with(ok_json(&convs(&["c1"])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("startingAfter", "c1"))
        .respond_with(ok_json(&convs(&[])))
        .expect(1)
        .mount(&server)
        .await;

    let all: Vec<_> = client
        .with_api_version("2021-02-09")
        .unwrap()
        .conversations()
        .list()
        .limit(1)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        assert_eq!(api_version(req).as_deref(), Some("2021-02-09"));
    }
}

#[tokio::test]
async fn an_empty_api_version_is_rejected() {
    let (server, client) = common::no_request_client().await;
    common::assert_invalid(client.with_api_version(""));
    assert!(matches!(
        builder(&server).api_version(""),
        Err(talkjs_api::Error::Config(_))
    ));
}
