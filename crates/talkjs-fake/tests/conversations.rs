//! Conversations and participants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::{Api, assert_error};
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};

fn ids(r: &common::Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn put_merges_and_participants_are_only_added() {
    let api = Api::start().await;
    api.users(&["alice", "bob", "carol"]).await;
    let r = api
        .put(
            "/conversations/c1",
            &json!({ "participants": ["alice", "bob"], "subject": "Hi", "custom": { "k": "v" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));

    // A list without bob does not remove him; subject null clears; custom kept.
    let r = api
        .put(
            "/conversations/c1",
            &json!({ "participants": ["carol"], "subject": null }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = api.get("/conversations/c1").await.body;
    assert_eq!(c["id"], "c1");
    assert_eq!(c["subject"], Value::Null);
    assert_eq!(c["custom"], json!({ "k": "v" }));
    let participants = c["participants"].as_object().unwrap();
    assert_eq!(participants.len(), 3);
    assert_eq!(participants["bob"]["access"], "ReadWrite");
    assert_eq!(participants["bob"]["notify"], true);
    assert_eq!(c["lastMessage"], Value::Null);
    let typed: talkjs_models::Conversation = serde_json::from_value(c).unwrap();
    assert_eq!(typed.participants.len(), 3);

    // Unknown users: 400, nothing changed.
    let r = api
        .put(
            "/conversations/c1",
            &json!({ "participants": ["dave"], "subject": "x" }),
        )
        .await;
    assert_error(&r, 400);
    assert_eq!(api.fake.conversation("c1").unwrap().subject, None);
    assert_error(
        &api.put("/conversations/c2", &json!({ "participants": ["ghost"] }))
            .await,
        400,
    );
    assert!(api.fake.conversation("c2").is_none());

    // Removal is DELETE participant.
    let r = api.delete("/conversations/c1/participants/bob").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = api.fake.conversation("c1").unwrap();
    assert!(!c.participants.contains_key("bob"));
    // Idempotent.
    assert_eq!(
        api.delete("/conversations/c1/participants/bob")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn participant_put_overwrites_and_patch_merges() {
    let api = Api::start().await;
    api.users(&["alice", "bob"]).await;
    api.conversation("c", &["alice"]).await;

    let path = "/conversations/c/participants/bob";
    let r = api
        .put(path, &json!({ "access": "Read", "notify": false }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(p["access"], "Read");
    assert_eq!(p["notify"], false);

    // PATCH changes only what is sent.
    assert_eq!(
        api.patch(path, &json!({ "notify": "MentionsOnly" }))
            .await
            .status,
        200
    );
    let p = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(p["access"], "Read");
    assert_eq!(p["notify"], "MentionsOnly");

    // PUT resets omitted fields to the defaults.
    assert_eq!(
        api.put(path, &json!({ "access": "Read" })).await.status,
        200
    );
    let p = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(p["access"], "Read");
    assert_eq!(p["notify"], true);
    // An empty PUT (no body at all) means all defaults.
    let r = api.call(http::Method::PUT, path, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(p["access"], "ReadWrite");
    assert_eq!(p["notify"], true);

    // "None" only via PATCH; unknown values never.
    assert_error(&api.put(path, &json!({ "access": "None" })).await, 400);
    assert_eq!(
        api.patch(path, &json!({ "access": "None" })).await.status,
        200
    );
    assert_eq!(
        api.get("/conversations/c").await.body["participants"]["bob"]["access"],
        "None"
    );
    assert_error(&api.patch(path, &json!({ "access": "Admin" })).await, 400);
    assert_error(&api.put(path, &json!({ "notify": "Sometimes" })).await, 400);
    assert_error(&api.put(path, &json!({ "access": 1 })).await, 400);

    // 404s: unknown conversation, user, or (for PATCH) non-participant.
    assert_error(
        &api.put("/conversations/nope/participants/bob", &json!({}))
            .await,
        404,
    );
    assert_error(
        &api.put("/conversations/c/participants/ghost", &json!({}))
            .await,
        404,
    );
    api.users(&["carol"]).await;
    assert_error(
        &api.patch("/conversations/c/participants/carol", &json!({}))
            .await,
        404,
    );

    // The reply-by-email address.
    let r = api.get("/conversations/c/participants/alice/email").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["emailAddress"].as_str().unwrap().contains('@'));
    assert_error(
        &api.get("/conversations/c/participants/carol/email").await,
        404,
    );
}

#[tokio::test]
async fn delete_conversation_removes_messages() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    api.conversation("c", &["a"]).await;
    let m = api.say("c", "a", "hello").await;
    assert_eq!(api.delete("/conversations/c").await.status, 200);
    assert_error(&api.get("/conversations/c").await, 404);
    assert_error(
        &api.get(&format!("/conversations/c/messages/{m}")).await,
        404,
    );
    assert_error(&api.delete("/conversations/c").await, 404);
    assert_eq!(api.fake.message_count(), 0);
}

/// Seven conversations c0..c6 (even ones with a and b, odd ones with a only), then a
/// message from b in c0.
async fn seven() -> Api {
    let api = Api::start().await;
    api.users(&["a", "b"]).await;
    for i in 0..7 {
        let id = format!("c{i}");
        let r = api
            .put(
                &format!("/conversations/{id}"),
                &json!({
                    "participants": if i % 2 == 0 { vec!["a", "b"] } else { vec!["a"] },
                    "custom": { "parity": if i % 2 == 0 { "even" } else { "odd" } },
                }),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    // Activity in c0 moves it to the front of the default (last activity) order.
    api.say("c0", "b", "ping").await;
    api
}

#[tokio::test]
async fn lists_paginate_and_order() {
    let api = seven().await;

    let all = api.get("/conversations?limit=30").await;
    assert_eq!(ids(&all), ["c0", "c6", "c5", "c4", "c3", "c2", "c1"]);
    let by_created = api
        .get("/conversations?orderBy=createdAt&orderDirection=ASC")
        .await;
    assert_eq!(ids(&by_created), ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);

    // Three pages of 3, 3, 1.
    let p1 = api.get("/conversations?limit=3").await;
    let p2 = api
        .get(&format!(
            "/conversations?limit=3&startingAfter={}",
            ids(&p1)[2]
        ))
        .await;
    let p3 = api
        .get(&format!(
            "/conversations?limit=3&startingAfter={}",
            ids(&p2)[2]
        ))
        .await;
    let mut joined = ids(&p1);
    joined.extend(ids(&p2));
    joined.extend(ids(&p3));
    assert_eq!(joined, ids(&all));

    assert_error(&api.get("/conversations?limit=31").await, 400);
    assert_error(&api.get("/conversations?orderBy=size").await, 400);
}

#[tokio::test]
async fn lists_filter() {
    let api = seven().await;
    // Filters (URL-encoded JSON).
    let filter = |f: Value| format!("/conversations?limit=30&filter={}", encode(&f.to_string()));
    let even = api
        .get(&filter(json!({ "custom": { "parity": ["==", "even"] } })))
        .await;
    assert_eq!(even.status, 200, "{}", even.text);
    assert_eq!(ids(&even).len(), 4);
    let odd = api
        .get(&filter(json!({ "custom": { "parity": ["!=", "even"] } })))
        .await;
    assert_eq!(ids(&odd).len(), 3);
    let one_of = api
        .get(&filter(
            json!({ "custom": { "parity": ["oneOf", ["odd", "x"]] } }),
        ))
        .await;
    assert_eq!(ids(&one_of).len(), 3);
    let not_one_of = api
        .get(&filter(
            json!({ "custom": { "parity": ["!oneOf", ["odd"]] } }),
        ))
        .await;
    assert_eq!(ids(&not_one_of).len(), 4);
    let exists = api
        .get(&filter(json!({ "custom": { "parity": "exists" } })))
        .await;
    assert_eq!(ids(&exists).len(), 7);
    let missing = api
        .get(&filter(json!({ "custom": { "color": "!exists" } })))
        .await;
    assert_eq!(ids(&missing).len(), 7);
    assert_error(
        &api.get(&filter(json!({ "custom": { "k": ["~", "x"] } })))
            .await,
        400,
    );

    // The per-user list: b is in the even ones; c0's message is unread for a.
    let b = api.get("/users/b/conversations?limit=30").await;
    assert_eq!(ids(&b), ["c0", "c6", "c4", "c2"]);
    let unread = api.get("/users/a/conversations?unreadsOnly=true").await;
    assert_eq!(ids(&unread), ["c0"]);
    assert_eq!(unread.body["data"][0]["isUnread"], true);
    assert_eq!(unread.body["data"][0]["lastMessage"]["text"], "ping");
    // Marking read clears it.
    assert_eq!(
        api.call(http::Method::POST, "/conversations/c0/readBy/a", None)
            .await
            .status,
        200
    );
    assert!(ids(&api.get("/users/a/conversations?unreadsOnly=true").await).is_empty());
    let m = &api.get("/conversations/c0/messages").await.body["data"][0];
    assert_eq!(m["readBy"], json!(["a"]));

    // Access filter: soft-remove b from c2.
    api.patch(
        "/conversations/c2/participants/b",
        &json!({ "access": "None" }),
    )
    .await;
    let visible = api
        .get(&format!(
            "/users/b/conversations?filter={}",
            encode(r#"{"access":["!=","None"]}"#)
        ))
        .await;
    assert_eq!(ids(&visible), ["c0", "c6", "c4"]);

    // lastMessageAfter: only conversations with a message.
    let r = api.get("/conversations?lastMessageAfter=0").await;
    assert_eq!(ids(&r), ["c0"]);
}

#[tokio::test]
async fn a_users_list_takes_subject_and_time_filters() {
    let api = seven().await;
    for id in ["c2", "c4"] {
        let r = api
            .put(
                &format!("/conversations/{id}"),
                &json!({ "subject": "Shoes" }),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let filtered = |f: Value| {
        format!(
            "/users/b/conversations?limit=30&filter={}",
            encode(&f.to_string())
        )
    };
    let shoes = api
        .get(&filtered(json!({ "subject": ["==", "Shoes"] })))
        .await;
    assert_eq!(shoes.status, 200, "{}", shoes.text);
    assert_eq!(ids(&shoes), ["c4", "c2"]);
    let not_shoes = api
        .get(&filtered(json!({ "subject": ["!=", "Shoes"] })))
        .await;
    assert_eq!(ids(&not_shoes), ["c0", "c6"]);

    // Only c0 has a message: lastMessageTs matches it alone.
    let with_message = api
        .get(&filtered(json!({ "lastMessageTs": [">=", 0] })))
        .await;
    assert_eq!(ids(&with_message), ["c0"]);

    // createdAt between c2's and c4's creation: b's conversations created in that window.
    let all = api.get("/users/b/conversations?limit=30").await;
    let created = |id: &str| {
        all.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()["createdAt"]
            .as_u64()
            .unwrap()
    };
    let (from, to) = (created("c2"), created("c4"));
    let expected: Vec<String> = ids(&all)
        .into_iter()
        .filter(|id| (from..=to).contains(&created(id)))
        .collect();
    assert!(expected.contains(&"c2".to_owned()) && expected.contains(&"c4".to_owned()));
    let window = api
        .get(&filtered(json!({ "createdAt": ["between", [from, to]] })))
        .await;
    assert_eq!(ids(&window), expected);
    let outside = api
        .get(&filtered(json!({ "createdAt": ["!between", [from, to]] })))
        .await;
    assert_eq!(ids(&outside).len() + expected.len(), ids(&all).len());
    assert_error(
        &api.get(&filtered(json!({ "createdAt": ["~", 1] }))).await,
        400,
    );
}

#[tokio::test]
async fn deleted_participant_stays_listed_before_2021_07_30() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    api.conversation("c", &["a"]).await;
    api.delete("/conversations/c/participants/a").await;
    assert!(ids(&api.get("/users/a/conversations").await).is_empty());
    let token = api.fake.app_token().unwrap();
    let request = Request::get(api.url("/users/a/conversations"))
        .header("authorization", format!("Bearer {token}"))
        .header("TalkJS-REST-Version", "2021-02-09")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = api.send(request).await.unwrap();
    assert_eq!(ids(&r), ["c"]);
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
