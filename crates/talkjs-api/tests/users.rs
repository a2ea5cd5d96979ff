//! Users: upsert, batch upsert (and chunked), get, list, a user's conversations, presence —
//! each request asserted exactly, each documented answer decoded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{
    assert_request, conversation_json, json_body, mount, ok_empty, ok_json, p, page, requests,
    single_request, start, user_json,
};
use serde_json::{Value, json};
use talkjs_api::{Error, OrderBy, OrderDirection};
use talkjs_models::{Access, Notify, PresenceQuery, Timestamp, UserUpsert};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn upsert_puts_the_merge_body_at_the_encoded_path() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users/alice%20smith%2F1", ok_empty(), 1).await;

    let update = UserUpsert::new()
        .name("Alice Smith")
        .email(["alice@example.com"])
        .clear_phone()
        .photo_url("https://example.com/a.png")
        .locale("en-US")
        .role("buyer")
        .custom_field("plan", "pro")
        .push_token("fcm:abc", true)
        .remove_push_token("apns:old");
    client
        .users()
        .upsert("alice smith/1", &update)
        .await
        .unwrap();

    let req = single_request(&server).await;
    assert_request(
        &req,
        "PUT",
        "/users/alice%20smith%2F1",
        None,
        Some(&json!({
            "name": "Alice Smith",
            "email": ["alice@example.com"],
            "phone": null,
            "photoUrl": "https://example.com/a.png",
            "locale": "en-US",
            "role": "buyer",
            "custom": { "plan": "pro" },
            "pushTokens": { "fcm:abc": true, "apns:old": null }
        })),
    );
}

#[tokio::test]
async fn upsert_of_an_empty_update_sends_an_empty_object() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users/bob", ok_empty(), 1).await;
    client
        .users()
        .upsert("bob", &UserUpsert::new())
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(&req, "PUT", "/users/bob", None, Some(&json!({})));
}

#[tokio::test]
async fn upsert_many_puts_one_object_keyed_by_user_id() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users", ok_empty(), 1).await;

    client
        .users()
        .upsert_many([
            ("alice", UserUpsert::new().name("Alice")),
            ("bob smith", UserUpsert::new().name("Bob").clear_email()),
        ])
        .await
        .unwrap();

    let req = single_request(&server).await;
    assert_request(
        &req,
        "PUT",
        "/users",
        None,
        Some(&json!({
            "alice": { "name": "Alice" },
            "bob smith": { "name": "Bob", "email": null }
        })),
    );
}

#[tokio::test]
async fn upsert_many_of_exactly_100_users_is_one_request() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users", ok_empty(), 1).await;
    let users = (0..100).map(|i| (format!("u{i}"), UserUpsert::new().name(format!("U{i}"))));
    client.users().upsert_many(users).await.unwrap();
    let req = single_request(&server).await;
    let body = json_body(&req);
    assert_eq!(body.as_object().unwrap().len(), 100);
}

#[tokio::test]
async fn upsert_all_sends_250_users_in_chunks_of_100_100_50_in_order() {
    let (server, client) = start().await;
    mount(&server, "PUT", "/users", ok_empty(), 3).await;

    let id = |i: usize| format!("user{i:03}");
    let users = (0..250).map(|i| (id(i), UserUpsert::new().name(format!("User {i}"))));
    let sent = client.users().upsert_all(users).await.unwrap();
    assert_eq!(sent, 250);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    for (req, range) in reqs.iter().zip([0..100, 100..200, 200..250]) {
        let body = json_body(req);
        let expected: serde_json::Map<String, Value> = range
            .map(|i| (id(i), json!({ "name": format!("User {i}") })))
            .collect();
        assert_request(req, "PUT", "/users", None, Some(&Value::Object(expected)));
        assert!(body.as_object().unwrap().len() <= 100);
    }
}

#[tokio::test]
async fn upsert_all_stops_at_the_first_failing_chunk_and_names_it() {
    let (server, client) = start().await;
    Mock::given(method("PUT"))
        .and(path(p("/users")))
        .respond_with(ok_empty())
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(p("/users")))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"user150":"bad"}"#))
        .expect(1)
        .mount(&server)
        .await;

    let users = (0..250).map(|i| (format!("user{i:03}"), UserUpsert::new().name("x")));
    let err = client.users().upsert_all(users).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
    assert!(!err.is_transient());
    assert!(err.to_string().contains("resume from item 100"), "{err}");
    let (completed, message_ids, source) = common::incomplete(err);
    assert_eq!(completed, 100, "the first chunk was applied");
    assert!(message_ids.is_empty());
    match source {
        // The server's answer, unchanged: where the chunk starts is `completed`.
        Error::BadRequest { body } => assert_eq!(body, r#"{"user150":"bad"}"#),
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert_eq!(
        requests(&server).await.len(),
        2,
        "the third chunk is not sent"
    );
}

#[tokio::test]
async fn upsert_all_failing_after_a_chunk_with_a_server_error_is_incomplete_and_transient() {
    let (server, client) = start().await;
    Mock::given(method("PUT"))
        .and(path(p("/users")))
        .respond_with(ok_empty())
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(p("/users")))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;

    let users = (0..250).map(|i| (format!("user{i:03}"), UserUpsert::new().name("x")));
    let err = client.users().upsert_all(users).await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    let (completed, _, source) = common::incomplete(err);
    assert_eq!(completed, 200);
    assert!(matches!(source, Error::Server { .. }), "{source:?}");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    let third = json_body(&reqs[2]);
    let ids: Vec<&String> = third.as_object().unwrap().keys().collect();
    assert_eq!(ids.len(), 50);
    assert_eq!(ids[0], "user200");
}

#[tokio::test]
async fn upsert_all_failing_on_the_first_chunk_returns_the_plain_error() {
    let (server, client) = start().await;
    mount(
        &server,
        "PUT",
        "/users",
        ResponseTemplate::new(400).set_body_string("bad"),
        1,
    )
    .await;
    let users = (0..250).map(|i| (format!("user{i:03}"), UserUpsert::new().name("x")));
    let err = client.users().upsert_all(users).await.unwrap_err();
    match err {
        Error::BadRequest { body } => assert_eq!(body, "bad"),
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[tokio::test]
async fn upsert_all_with_an_invalid_id_in_a_later_chunk_reports_the_applied_ones() {
    // The ids of a chunk are checked when the chunk is built, after the earlier ones were
    // sent.
    let (server, client) = start().await;
    mount(&server, "PUT", "/users", ok_empty(), 1).await;
    let users = (0..150).map(|i| {
        let id = if i == 120 {
            String::new()
        } else {
            format!("user{i:03}")
        };
        (id, UserUpsert::new().name("x"))
    });
    let (completed, _, source) =
        common::incomplete(client.users().upsert_all(users).await.unwrap_err());
    assert_eq!(completed, 100);
    assert!(matches!(source, Error::InvalidArgument(_)), "{source:?}");
}

#[tokio::test]
async fn upsert_all_of_nothing_sends_nothing() {
    let (_server, client) = common::no_request_client().await;
    let none: Vec<(String, UserUpsert)> = Vec::new();
    assert_eq!(client.users().upsert_all(none).await.unwrap(), 0);
}

#[tokio::test]
async fn get_decodes_a_documented_user() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice%20smith%2F1",
        ok_json(&user_json("alice smith/1")),
        1,
    )
    .await;

    let user = client.users().get("alice smith/1").await.unwrap();
    assert_eq!(user.id, "alice smith/1");
    assert_eq!(user.name, "Alice Smith");
    assert_eq!(user.email, Some(vec!["alice@example.com".to_owned()]));
    assert_eq!(user.phone, Some(vec!["+14155550100".to_owned()]));
    assert_eq!(
        user.photo_url.as_deref(),
        Some("https://example.com/alice.png")
    );
    assert_eq!(user.header_photo_url, None);
    assert_eq!(user.role.as_deref(), Some("default"));
    assert_eq!(user.welcome_message.as_deref(), Some("Hi, how can I help?"));
    assert_eq!(user.custom["plan"], "pro");
    assert_eq!(user.custom["country"], "nl");
    assert_eq!(user.locale.as_deref(), Some("en-US"));
    assert_eq!(user.availability_text.as_deref(), Some("Back at 9"));
    assert_eq!(user.created_at, Timestamp::from_millis(1_700_000_000_000));
    assert_eq!(user.push_tokens.unwrap()["fcm:token-1"], json!(true));

    let req = single_request(&server).await;
    assert_request(&req, "GET", "/users/alice%20smith%2F1", None, None);
}

#[tokio::test]
async fn list_sends_is_online_limit_and_cursor() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users",
        ok_json(&page(&[user_json("u1"), user_json("u2")])),
        3,
    )
    .await;

    let users = client.users().list().await.unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].id, "u1");
    assert_eq!(users[1].id, "u2");

    client
        .users()
        .list()
        .is_online(true)
        .limit(50)
        .await
        .unwrap();
    client
        .users()
        .list()
        .is_online(false)
        .limit(100)
        .starting_after("u 1&x")
        .send()
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(&reqs[0], "GET", "/users", None, None);
    assert_request(
        &reqs[1],
        "GET",
        "/users",
        Some("isOnline=true&limit=50"),
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/users",
        Some("isOnline=false&limit=100&startingAfter=u%201%26x"),
        None,
    );
}

#[tokio::test]
async fn conversations_of_a_user_send_every_filter_and_decode_the_user_state() {
    let (server, client) = start().await;
    let mut item = conversation_json("order_123");
    item["isUnread"] = json!(true);
    item["readUntil"] = json!(1_700_000_000_500_u64);
    item["unreadMessageCount"] = json!(3);
    mount(
        &server,
        "GET",
        "/users/alice%20smith%2F1/conversations",
        ok_json(&page(&[item])),
        1,
    )
    .await;

    let list = client
        .users()
        .conversations("alice smith/1")
        .unreads_only(true)
        .last_message_before(Timestamp::from_millis(1_700_000_000_000))
        .last_message_after(Timestamp::from_millis(1_600_000_000_000))
        .order_by(OrderBy::LastActivity)
        .order_direction(OrderDirection::Asc)
        .offset_ts(Timestamp::from_millis(1_650_000_000_000))
        .limit(30)
        .await
        .unwrap();

    let req = single_request(&server).await;
    assert_request(
        &req,
        "GET",
        "/users/alice%20smith%2F1/conversations",
        Some(
            "unreadsOnly=true&lastMessageBefore=1700000000000&lastMessageAfter=1600000000000\
             &orderBy=lastActivity&orderDirection=ASC&offsetTs=1650000000000&limit=30",
        ),
        None,
    );

    assert_eq!(list.len(), 1);
    let uc = &list[0];
    assert_eq!(uc.is_unread, Some(true));
    assert_eq!(
        uc.read_until,
        Some(Timestamp::from_millis(1_700_000_000_500))
    );
    assert_eq!(uc.unread_message_count, Some(3));
    assert_eq!(uc.conversation.id, "order_123");
    assert_eq!(uc.conversation.subject.as_deref(), Some("Order #123"));
    assert_eq!(uc.conversation.participants.len(), 2);
    assert_eq!(
        uc.conversation.participants["bob"].notify,
        Notify::MentionsOnly
    );
    assert_eq!(uc.conversation.participants["bob"].access, Access::Read);
}

#[tokio::test]
async fn user_list_filters_set_twice_are_sent_once_with_the_last_value() {
    let (server, client) = start().await;
    mount(&server, "GET", "/users", ok_json(&page(&[])), 1).await;
    mount(
        &server,
        "GET",
        "/users/bob/conversations",
        ok_json(&page(&[])),
        1,
    )
    .await;

    client
        .users()
        .list()
        .is_online(true)
        .limit(10)
        .is_online(false)
        .limit(20)
        .await
        .unwrap();
    client
        .users()
        .conversations("bob")
        .unreads_only(true)
        .order_by(OrderBy::CreatedAt)
        .unreads_only(false)
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "GET",
        "/users",
        Some("isOnline=false&limit=20"),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/users/bob/conversations",
        Some("unreadsOnly=false&orderBy=createdAt"),
        None,
    );
}

#[tokio::test]
async fn conversations_of_a_user_other_orders() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/bob/conversations",
        ok_json(&page(&[])),
        2,
    )
    .await;
    let users = client.users();
    let none = users
        .conversations("bob")
        .unreads_only(false)
        .order_by(OrderBy::CreatedAt)
        .order_direction(OrderDirection::Desc)
        .await
        .unwrap();
    assert!(none.is_empty());
    users.conversations("bob").await.unwrap();
    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "GET",
        "/users/bob/conversations",
        Some("unreadsOnly=false&orderBy=createdAt&orderDirection=DESC"),
        None,
    );
    assert_request(&reqs[1], "GET", "/users/bob/conversations", None, None);
}

#[tokio::test]
async fn presence_posts_the_filter_and_decodes_online_users() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/presences",
        ok_json(&json!({
            "data": {
                "alice": {
                    "status": "online",
                    "backgroundSessions": [],
                    "widgets": [{
                        "selectedConversationId": "order_123",
                        "custom": {},
                        "hasFocus": true,
                        "isTyping": false,
                        "sessionId": "0123456789-0123456789-abcde-abcde",
                        "device": "web"
                    }]
                }
            }
        })),
        3,
    )
    .await;

    let query = PresenceQuery::new()
        .user_ids(["alice", "bob"])
        .has_focus(true)
        .include_background_sessions(false)
        .selected_conversation_id("order_123")
        .is_typing(false);
    let online = client.users().presence(&query).await.unwrap();
    assert_eq!(online.data.len(), 1);
    assert!(online.is_online("alice"));
    assert!(!online.is_online("bob"));
    let alice = online.get("alice").unwrap();
    assert_eq!(alice.widgets.len(), 1);
    assert_eq!(
        alice.widgets[0].session_id,
        "0123456789-0123456789-abcde-abcde"
    );
    assert!(alice.has_focus());
    assert!(!alice.is_typing());
    assert_eq!(
        alice
            .focused_conversation()
            .map(talkjs_models::ConversationId::as_str),
        Some("order_123")
    );

    client
        .users()
        .presence(&PresenceQuery::new())
        .await
        .unwrap();
    client
        .users()
        .presence(&PresenceQuery::new().no_conversation_selected())
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "POST",
        "/presences",
        None,
        Some(&json!({
            "userIds": ["alice", "bob"],
            "hasFocus": true,
            "includeBackgroundSessions": false,
            "selectedConversationId": "order_123",
            "isTyping": false
        })),
    );
    assert_request(&reqs[1], "POST", "/presences", None, Some(&json!({})));
    // "Online with no conversation selected": an explicit null, not a missing field.
    assert_request(
        &reqs[2],
        "POST",
        "/presences",
        None,
        Some(&json!({ "selectedConversationId": null })),
    );
}

#[tokio::test]
async fn upsert_many_rejects_a_repeated_id_before_sending() {
    let (_server, client) = common::no_request_client().await;
    let msg = common::assert_invalid(
        client
            .users()
            .upsert_many([
                ("alice", UserUpsert::new().name("A")),
                ("alice", UserUpsert::new().name("B")),
            ])
            .await,
    );
    assert!(msg.contains("alice"), "{msg}");
}
