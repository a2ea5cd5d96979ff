//! Users: merge semantics, batch upsert, validation, listing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::{Api, assert_error};
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use talkjs_models::{Presence, PresenceSession, Presences};

#[tokio::test]
async fn put_merges_and_null_clears() {
    let api = Api::start().await;
    let r = api
        .put(
            "/users/alice",
            &json!({
                "name": "Alice",
                "email": ["alice@example.com"],
                "phone": ["+14155550100"],
                "locale": "en-US",
                "custom": { "plan": "pro" },
                "pushTokens": { "fcm:abc": true, "apns:def": true },
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({}));

    // Omitted fields are kept, null clears, a set field replaces.
    let r = api
        .put(
            "/users/alice",
            &json!({ "email": null, "locale": "nl-NL", "pushTokens": { "fcm:abc": null } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let user = api.get("/users/alice").await;
    assert_eq!(user.status, 200);
    let u = &user.body;
    assert_eq!(u["id"], "alice");
    assert_eq!(u["name"], "Alice");
    assert_eq!(u["email"], Value::Null);
    assert_eq!(u["phone"], json!(["+14155550100"]));
    assert_eq!(u["locale"], "nl-NL");
    assert_eq!(u["custom"], json!({ "plan": "pro" }));
    assert_eq!(u["pushTokens"], json!({ "apns:def": true }));
    assert_eq!(u["role"], "default");
    assert!(u["createdAt"].as_u64().unwrap() > 1_600_000_000_000);

    // pushTokens: null unregisters all; custom: null empties the map.
    api.put(
        "/users/alice",
        &json!({ "pushTokens": null, "custom": null }),
    )
    .await;
    let u = api.get("/users/alice").await.body;
    assert_eq!(u["pushTokens"], Value::Null);
    assert_eq!(u["custom"], json!({}));

    // The typed model decodes the response and the introspection agrees.
    let typed: talkjs_models::User = serde_json::from_value(u).unwrap();
    assert_eq!(api.fake.user("alice").unwrap(), typed);
    assert_eq!(api.fake.users().len(), 1);
}

#[tokio::test]
async fn name_is_required_on_creation() {
    let api = Api::start().await;
    assert_error(
        &api.put("/users/bob", &json!({ "email": ["b@x.io"] })).await,
        400,
    );
    assert_error(&api.get("/users/bob").await, 404);
    api.users(&["bob"]).await;
    // Not required on update, but it cannot be cleared.
    assert_eq!(
        api.put("/users/bob", &json!({ "locale": "de" }))
            .await
            .status,
        200
    );
    assert_error(&api.put("/users/bob", &json!({ "name": null })).await, 400);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let api = Api::start().await;
    // Wrong types.
    assert_error(&api.put("/users/a", &json!({ "name": 5 })).await, 400);
    assert_error(
        &api.put("/users/a", &json!({ "name": "A", "email": "a@x.io" }))
            .await,
        400,
    );
    assert_error(&api.put("/users/a", &json!(["A"])).await, 400);
    // Not JSON.
    let token = api.fake.app_token().unwrap();
    let request = Request::put(api.url("/users/a"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{name: A")))
        .unwrap();
    let r = api.send(request).await.unwrap();
    assert_error(&r, 400);
    assert_eq!(r.body["errorCode"], "INVALID_JSON");
    // Not declared as JSON.
    let request = Request::put(api.url("/users/a"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(br#"{"name":"A"}"#)))
        .unwrap();
    let r = api.send(request).await.unwrap();
    assert_error(&r, 400);
    assert_eq!(r.body["errorCode"], "INVALID_CONTENT_TYPE");
    assert!(api.fake.users().is_empty());
}

#[tokio::test]
async fn batch_upsert_is_all_or_nothing() {
    let api = Api::start().await;
    // One invalid entry (no name on creation): nothing is stored.
    let r = api
        .put(
            "/users",
            &json!({ "u1": { "name": "One" }, "u2": { "email": ["x@y.z"] }, "u3": { "name": "Three" } }),
        )
        .await;
    assert_error(&r, 400);
    assert!(r.body["errors"]["u2"].is_string(), "{}", r.text);
    assert!(api.fake.users().is_empty());

    // More than 100: refused.
    let many: serde_json::Map<String, Value> = (0..101)
        .map(|i| (format!("user{i}"), json!({ "name": format!("User {i}") })))
        .collect();
    assert_error(&api.put("/users", &Value::Object(many.clone())).await, 400);
    assert!(api.fake.users().is_empty());

    // Exactly 100: stored, and merges like the single PUT.
    let hundred: serde_json::Map<String, Value> = many.into_iter().take(100).collect();
    let r = api.put("/users", &Value::Object(hundred)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.fake.users().len(), 100);
    let r = api
        .put(
            "/users",
            &json!({ "user1": { "locale": "fr" }, "new": { "name": "New" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let user1 = api.fake.user("user1").unwrap();
    assert_eq!(user1.name, "User 1");
    assert_eq!(user1.locale.as_deref(), Some("fr"));
    assert_eq!(api.fake.users().len(), 101);
}

#[tokio::test]
async fn list_pages_newest_first_without_repeats() {
    let api = Api::start().await;
    // 25 users created in one batch share a millisecond or two.
    let batch: serde_json::Map<String, Value> = (0..25)
        .map(|i| (format!("u{i:02}"), json!({ "name": format!("U{i}") })))
        .collect();
    assert_eq!(api.put("/users", &Value::Object(batch)).await.status, 200);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => "/users?limit=10".to_owned(),
            Some(c) => format!("/users?limit=10&startingAfter={c}"),
        };
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page: Vec<String> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        seen.extend(page.iter().cloned());
        if page.len() < 10 {
            break;
        }
        cursor = page.last().cloned();
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 25);
    // Newest first: the reverse of creation order.
    let created: Vec<String> = api
        .fake
        .users()
        .into_iter()
        .map(|u| u.id.into_inner())
        .collect();
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(seen, reversed);

    // Limits.
    assert_error(&api.get("/users?limit=0").await, 400);
    assert_error(&api.get("/users?limit=101").await, 400);
    assert_error(&api.get("/users?limit=ten").await, 400);
    assert_eq!(
        api.get("/users?limit=100").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        25
    );
    assert_eq!(
        api.get("/users").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
}

#[tokio::test]
async fn online_filter_and_presences() {
    let api = Api::start().await;
    api.users(&["a", "b", "c"]).await;
    api.fake.set_online("b", true);
    let online = api.get("/users?isOnline=true").await;
    assert_eq!(online.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(online.body["data"][0]["id"], "b");
    let offline = api.get("/users?isOnline=false").await;
    assert_eq!(offline.body["data"].as_array().unwrap().len(), 2);

    let r = api.post("/presences", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The documented shape: status, backgroundSessions (only listed on request), widgets.
    assert_eq!(r.body["data"]["b"]["status"], "online");
    assert_eq!(r.body["data"]["b"]["backgroundSessions"], json!([]));
    let widget = &r.body["data"]["b"]["widgets"][0];
    assert_eq!(widget["hasFocus"], true);
    assert_eq!(widget["isTyping"], false);
    assert_eq!(widget["selectedConversationId"], Value::Null);
    assert_eq!(widget["custom"], json!({}));
    assert!(widget["sessionId"].is_string());
    let r = api.post("/presences", &json!({ "userIds": ["a"] })).await;
    assert_eq!(r.body, json!({ "data": {} }));
}

#[tokio::test]
async fn presences_honour_the_documented_filters() {
    let api = Api::start().await;
    api.users(&["alice", "bob", "carol", "dave"]).await;
    // alice types in c1 (focused); bob looks at c2 without typing; carol has a widget with
    // nothing selected and no focus; dave has only a background session.
    api.fake.set_presence(
        "alice",
        Presence::online(
            vec![PresenceSession::new("a-bg")],
            vec![
                PresenceSession::new("a-w")
                    .selected_conversation_id("c1")
                    .has_focus(true)
                    .is_typing(true),
            ],
        ),
    );
    api.fake.set_presence(
        "bob",
        Presence::online(
            vec![],
            vec![
                PresenceSession::new("b-w")
                    .selected_conversation_id("c2")
                    .has_focus(true),
            ],
        ),
    );
    api.fake.set_presence(
        "carol",
        Presence::online(vec![], vec![PresenceSession::new("c-w")]),
    );
    api.fake.set_presence(
        "dave",
        Presence::online(vec![PresenceSession::new("d-bg")], vec![]),
    );

    let listed = |body: &Value| -> Vec<String> {
        body["data"].as_object().unwrap().keys().cloned().collect()
    };
    let presences = |body: &Value| -> Presences { serde_json::from_value(body.clone()).unwrap() };

    let r = api.post("/presences", &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        listed(&r.body),
        ["alice", "bob", "carol"],
        "widgets only by default"
    );
    assert_eq!(r.body["data"]["alice"]["backgroundSessions"], json!([]));
    let decoded = presences(&r.body);
    assert_eq!(decoded.typing_in("c1").collect::<Vec<_>>(), ["alice"]);
    assert_eq!(
        decoded.get("bob").unwrap().focused_conversation().unwrap(),
        "c2"
    );

    let r = api
        .post("/presences", &json!({ "includeBackgroundSessions": true }))
        .await;
    assert_eq!(listed(&r.body), ["alice", "bob", "carol", "dave"]);
    assert_eq!(r.body["data"]["dave"]["widgets"], json!([]));
    assert_eq!(
        r.body["data"]["alice"]["backgroundSessions"][0]["sessionId"],
        "a-bg"
    );

    let r = api
        .post("/presences", &json!({ "selectedConversationId": "c1" }))
        .await;
    assert_eq!(listed(&r.body), ["alice"]);
    // An explicit null: online with no conversation selected.
    let r = api
        .post("/presences", &json!({ "selectedConversationId": null }))
        .await;
    assert_eq!(listed(&r.body), ["carol"]);
    let r = api
        .post(
            "/presences",
            &json!({ "selectedConversationId": null, "includeBackgroundSessions": true }),
        )
        .await;
    assert_eq!(
        listed(&r.body),
        ["alice", "carol", "dave"],
        "background sessions select nothing"
    );
    let r = api.post("/presences", &json!({ "isTyping": true })).await;
    assert_eq!(listed(&r.body), ["alice"]);
    let r = api.post("/presences", &json!({ "hasFocus": false })).await;
    assert_eq!(listed(&r.body), ["carol"]);
    let r = api
        .post(
            "/presences",
            &json!({ "hasFocus": true, "userIds": ["bob", "carol"] }),
        )
        .await;
    assert_eq!(listed(&r.body), ["bob"]);

    api.fake.set_online("alice", false);
    let r = api.post("/presences", &json!({ "isTyping": true })).await;
    assert_eq!(r.body, json!({ "data": {} }));
}

#[tokio::test]
async fn user_conversations_unknown_user_depends_on_version() {
    let api = Api::start().await;
    assert_error(&api.get("/users/ghost/conversations").await, 404);
    let token = api.fake.app_token().unwrap();
    let request = Request::get(api.url("/users/ghost/conversations"))
        .header("authorization", format!("Bearer {token}"))
        .header("TalkJS-REST-Version", "2021-07-30")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = api.send(request).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({ "data": [] }));
}
