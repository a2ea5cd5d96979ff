//! Conversations: upsert, get, list (filter, order, last-message bounds), delete, mark read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{
    assert_request, conversation_json, mount, ok_empty, ok_json, page, requests, single_request,
    start,
};
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use talkjs_api::{OrderBy, OrderDirection};
use talkjs_models::{
    Access, ConversationFilter, ConversationUpsert, MessageOrigin, MessageType, Notify,
    TimePredicate, Timestamp,
};

#[tokio::test]
async fn upsert_puts_the_body_at_the_encoded_path() {
    let (server, client) = start().await;
    mount(
        &server,
        "PUT",
        "/conversations/order%20%23123%2Fb",
        ok_empty(),
        1,
    )
    .await;

    let body = ConversationUpsert::new()
        .participants(["alice", "bob smith"])
        .subject("Order #123")
        .clear_photo_url()
        .welcome_messages(["Welcome!", "Ask anything"])
        .custom_field("orderId", "123");
    client
        .conversations()
        .upsert("order #123/b", &body)
        .await
        .unwrap();

    let req = single_request(&server).await;
    assert_request(
        &req,
        "PUT",
        "/conversations/order%20%23123%2Fb",
        None,
        Some(&json!({
            "participants": ["alice", "bob smith"],
            "subject": "Order #123",
            "photoUrl": null,
            "welcomeMessages": ["Welcome!", "Ask anything"],
            "custom": { "orderId": "123" }
        })),
    );
}

#[tokio::test]
async fn get_decodes_participants_and_last_message() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/conversations/order_123",
        ok_json(&conversation_json("order_123")),
        1,
    )
    .await;

    let c = client.conversations().get("order_123").await.unwrap();
    assert_eq!(c.id, "order_123");
    assert_eq!(c.subject.as_deref(), Some("Order #123"));
    assert_eq!(c.topic_id, None);
    assert_eq!(
        c.photo_url.as_deref(),
        Some("https://example.com/order.png")
    );
    assert_eq!(
        c.welcome_messages,
        Some(vec!["Welcome to the order chat".to_owned()])
    );
    assert_eq!(c.custom["orderId"], "123");
    assert_eq!(c.created_at, Timestamp::from_millis(1_699_000_000_000));
    assert_eq!(c.participants.len(), 2);
    let alice = &c.participants["alice"];
    assert_eq!(alice.access, Access::ReadWrite);
    assert_eq!(alice.notify, Notify::All);
    assert_eq!(alice.is_unread, None);
    let bob = &c.participants["bob"];
    assert_eq!(bob.access, Access::Read);
    assert_eq!(bob.notify, Notify::MentionsOnly);
    assert_eq!(bob.is_unread, Some(true));
    let last = c.last_message.expect("lastMessage decoded");
    assert_eq!(last.id, "msg_last");
    assert_eq!(last.message_type, MessageType::UserMessage);
    assert_eq!(last.conversation_id, "order_123");
    assert_eq!(last.origin, Some(MessageOrigin::Rest));

    let req = single_request(&server).await;
    assert_request(&req, "GET", "/conversations/order_123", None, None);
}

#[tokio::test]
async fn list_sends_the_filter_as_url_encoded_json() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/conversations",
        ok_json(&page(&[conversation_json("c1"), conversation_json("c2")])),
        1,
    )
    .await;

    let filter = ConversationFilter::new()
        .custom_eq("category", "support")
        .access_ne(Access::None)
        .has_unread_messages(true);
    let list = client
        .conversations()
        .list()
        .filter(&filter)
        .limit(30)
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].id, "c1");
    assert_eq!(list[1].id, "c2");

    let req = single_request(&server).await;
    assert_request(
        &req,
        "GET",
        "/conversations",
        Some(
            "filter=%7B%22custom%22%3A%7B%22category%22%3A%5B%22%3D%3D%22%2C%22support%22%5D%7D\
             %2C%22access%22%3A%5B%22%21%3D%22%2C%22None%22%5D%2C%22hasUnreadMessages%22%3Atrue%7D\
             &limit=30",
        ),
        None,
    );
    // Decoded, the parameter is the filter's JSON.
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0].0, "filter");
    let filter_json: Value = serde_json::from_str(&pairs[0].1).unwrap();
    assert_eq!(
        filter_json,
        json!({
            "custom": { "category": ["==", "support"] },
            "access": ["!=", "None"],
            "hasUnreadMessages": true
        })
    );
    assert_eq!(pairs[1], ("limit".to_owned(), "30".to_owned()));
}

#[tokio::test]
async fn a_users_conversation_list_takes_the_same_filter_with_subject_and_times() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/users/alice/conversations",
        ok_json(&page(&[])),
        1,
    )
    .await;
    let filter = ConversationFilter::new()
        .access_ne(Access::None)
        .subject_eq("Shoes")
        .created_at(TimePredicate::Between(
            Timestamp::from_millis(1),
            Timestamp::from_millis(2),
        ))
        .last_message_ts(TimePredicate::After(Timestamp::from_millis(3)));
    let list = client
        .users()
        .conversations("alice")
        .filter(&filter)
        .await
        .unwrap();
    assert!(list.is_empty());
    let req = single_request(&server).await;
    assert_request(
        &req,
        "GET",
        "/users/alice/conversations",
        Some(
            "filter=%7B%22access%22%3A%5B%22%21%3D%22%2C%22None%22%5D%2C%22subject%22%3A%5B%22%3D%3D%22%2C%22Shoes%22%5D\
             %2C%22createdAt%22%3A%5B%22between%22%2C%5B1%2C2%5D%5D%2C%22lastMessageTs%22%3A%5B%22%3E%22%2C3%5D%7D",
        ),
        None,
    );
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    let sent: Value = serde_json::from_str(&pairs[0].1).unwrap();
    assert_eq!(
        sent,
        json!({
            "access": ["!=", "None"],
            "subject": ["==", "Shoes"],
            "createdAt": ["between", [1, 2]],
            "lastMessageTs": [">", 3]
        })
    );
    // And it decodes back into the same filter.
    assert_eq!(
        serde_json::from_value::<ConversationFilter>(sent).unwrap(),
        filter
    );
}

#[tokio::test]
async fn list_sends_order_and_last_message_bounds() {
    let (server, client) = start().await;
    mount(&server, "GET", "/conversations", ok_json(&page(&[])), 2).await;

    let none = client
        .conversations()
        .list()
        .last_message_before(Timestamp::from_millis(1_700_000_000_000))
        .last_message_after(Timestamp::from_millis(1_690_000_000_000))
        .order_by(OrderBy::CreatedAt)
        .order_direction(OrderDirection::Desc)
        .offset_ts(Timestamp::from_millis(1_695_000_000_000))
        .limit(1)
        .starting_after("c 9")
        .await
        .unwrap();
    assert!(none.is_empty());
    client
        .conversations()
        .list()
        .order_by(OrderBy::Other("custom".into()))
        .order_direction(OrderDirection::Asc)
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "GET",
        "/conversations",
        Some(
            "lastMessageBefore=1700000000000&lastMessageAfter=1690000000000&orderBy=createdAt\
             &orderDirection=DESC&offsetTs=1695000000000&limit=1&startingAfter=c%209",
        ),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/conversations",
        Some("orderBy=custom&orderDirection=ASC"),
        None,
    );
}

#[tokio::test]
async fn a_filter_set_twice_is_sent_once_with_the_last_value() {
    let (server, client) = start().await;
    mount(&server, "GET", "/conversations", ok_json(&page(&[])), 2).await;

    client
        .conversations()
        .list()
        .filter(&ConversationFilter::new().has_unread_messages(true))
        .order_by(OrderBy::CreatedAt)
        .last_message_before(Timestamp::from_millis(1))
        .last_message_after(Timestamp::from_millis(2))
        .order_direction(OrderDirection::Asc)
        .offset_ts(Timestamp::from_millis(3))
        .limit(5)
        .starting_after("c1")
        .filter(&ConversationFilter::new().has_unread_messages(false))
        .order_by(OrderBy::LastActivity)
        .last_message_before(Timestamp::from_millis(10))
        .last_message_after(Timestamp::from_millis(20))
        .order_direction(OrderDirection::Desc)
        .offset_ts(Timestamp::from_millis(30))
        .limit(6)
        .starting_after("c2")
        .await
        .unwrap();
    // The same through the stream (its own limit and cursor handling).
    let mut pages = client
        .conversations()
        .list()
        .order_by(OrderBy::CreatedAt)
        .order_by(OrderBy::LastActivity)
        .limit(7)
        .limit(8)
        .pages();
    assert!(
        pages.try_next().await.unwrap().is_none(),
        "an empty list has no pages"
    );

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "GET",
        "/conversations",
        Some(
            "filter=%7B%22hasUnreadMessages%22%3Afalse%7D&orderBy=lastActivity\
             &lastMessageBefore=10&lastMessageAfter=20&orderDirection=DESC&offsetTs=30\
             &limit=6&startingAfter=c2",
        ),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/conversations",
        Some("orderBy=lastActivity&limit=8"),
        None,
    );
}

#[tokio::test]
async fn delete_sends_a_bodyless_delete() {
    let (server, client) = start().await;
    mount(
        &server,
        "DELETE",
        "/conversations/order%2F123",
        ok_empty(),
        1,
    )
    .await;
    client.conversations().delete("order/123").await.unwrap();
    let req = single_request(&server).await;
    assert_request(&req, "DELETE", "/conversations/order%2F123", None, None);
}

#[tokio::test]
async fn mark_read_posts_without_a_body() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/conversations/order_123/readBy/alice%20smith%2F1",
        ok_empty(),
        1,
    )
    .await;
    client
        .conversations()
        .mark_read("order_123", "alice smith/1")
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(
        &req,
        "POST",
        "/conversations/order_123/readBy/alice%20smith%2F1",
        None,
        None,
    );
}

#[tokio::test]
async fn non_ascii_ids_are_utf8_percent_encoded() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        "/conversations/Zo%C3%AB%20%26%20co%3F",
        ok_json(&conversation_json("Zoë & co?")),
        1,
    )
    .await;
    let c = client.conversations().get("Zoë & co?").await.unwrap();
    assert_eq!(c.id, "Zoë & co?");
    let req = single_request(&server).await;
    assert_request(
        &req,
        "GET",
        "/conversations/Zo%C3%AB%20%26%20co%3F",
        None,
        None,
    );
}
