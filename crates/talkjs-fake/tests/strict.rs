//! The fake refuses what TalkJS documents as refused: content types, malformed JSON,
//! custom values, push tokens, import fields, page sizes. Every refusal leaves the state
//! as it was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, assert_error};
use http::Method;
use serde_json::{Value, json};

/// Users alice and bob, conversation c with both, one message from alice (its id).
async fn setup() -> (Api, String) {
    let api = Api::start().await;
    api.users(&["alice", "bob", "carol"]).await;
    api.conversation("c", &["alice", "bob"]).await;
    let message = api.say("c", "alice", "hello").await;
    (api, message)
}

/// Every non-GET request the API has, with a valid JSON body where it takes one.
fn non_get_requests(message: &str) -> Vec<(Method, String, Option<Value>)> {
    let m = format!("/conversations/c/messages/{message}");
    // In an order in which each is valid when sent with the right header.
    vec![
        (
            Method::PUT,
            "/users/dave".into(),
            Some(json!({ "name": "Dave" })),
        ),
        (
            Method::PUT,
            "/users".into(),
            Some(json!({ "erin": { "name": "Erin" } })),
        ),
        (Method::POST, "/presences".into(), Some(json!({}))),
        (
            Method::PUT,
            "/conversations/d".into(),
            Some(json!({ "subject": "D" })),
        ),
        (Method::POST, "/conversations/c/readBy/bob".into(), None),
        (
            Method::PUT,
            "/conversations/c/participants/carol".into(),
            None,
        ),
        (
            Method::PATCH,
            "/conversations/c/participants/bob".into(),
            Some(json!({ "notify": false })),
        ),
        (
            Method::POST,
            "/conversations/c/messages".into(),
            Some(json!([{ "type": "SystemMessage", "text": "x" }])),
        ),
        (Method::PUT, m.clone(), Some(json!({ "text": "edited" }))),
        (Method::PUT, format!("{m}/reactions/x/bob"), None),
        (Method::DELETE, format!("{m}/reactions/x/bob"), None),
        (Method::DELETE, m.clone(), None),
        (
            Method::POST,
            "/import/conversations/c/messages".into(),
            Some(
                json!([{ "type": "UserMessage", "sender": "bob", "text": "old", "timestamp": 1, "readBy": [] }]),
            ),
        ),
        (
            Method::DELETE,
            "/conversations/c/participants/bob".into(),
            None,
        ),
        (
            Method::POST,
            "/batch".into(),
            Some(json!([[1, "GET", "/users"]])),
        ),
        (Method::DELETE, "/conversations/c".into(), None),
    ]
}

#[tokio::test]
async fn every_non_get_request_needs_the_json_content_type() {
    let (api, message) = setup().await;
    let before = (
        api.fake.users(),
        api.fake.conversations(),
        api.fake.messages("c"),
    );
    for (method, path, body) in non_get_requests(&message) {
        let bytes = body.as_ref().map(Value::to_string).unwrap_or_default();
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let r = api
                .raw(method.clone(), &path, content_type, bytes.clone())
                .await;
            assert_error(&r, 400);
            assert_eq!(
                r.body["errorCode"], "INVALID_CONTENT_TYPE",
                "{method} {path} with {content_type:?}: {}",
                r.text
            );
        }
    }
    // Nothing was changed by any of them.
    assert_eq!(
        before,
        (
            api.fake.users(),
            api.fake.conversations(),
            api.fake.messages("c")
        )
    );
    assert!(
        api.fake
            .events()
            .iter()
            .all(|e| e.event_type != talkjs_models::WebhookEventType::ConversationDeleted)
    );

    // The same requests with the header pass (in this order, each is valid).
    for (method, path, body) in non_get_requests(&message) {
        let r = api.call(method.clone(), &path, body.as_ref()).await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text);
    }
    assert!(api.fake.conversation("c").is_none());

    // GET needs no content type.
    let r = api.raw(Method::GET, "/users", None, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn the_json_media_type_takes_parameters_and_any_case() {
    let api = Api::start().await;
    for (i, content_type) in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "APPLICATION/JSON;charset=UTF-8",
    ]
    .into_iter()
    .enumerate()
    {
        let r = api
            .raw(
                Method::PUT,
                &format!("/users/u{i}"),
                Some(content_type),
                r#"{"name":"U"}"#,
            )
            .await;
        assert_eq!(r.status, 200, "{content_type}: {}", r.text);
    }
    // A media type that merely starts like JSON is another type.
    let r = api
        .raw(
            Method::PUT,
            "/users/x",
            Some("application/json-patch+json"),
            r#"{"name":"X"}"#,
        )
        .await;
    assert_error(&r, 400);
    assert_eq!(api.fake.users().len(), 3);
}

#[tokio::test]
async fn an_empty_json_body_is_no_body() {
    let (api, _) = setup().await;
    let empty = |method: Method, path: &'static str| {
        let api = &api;
        async move { api.raw(method, path, Some("application/json"), "").await }
    };
    // Where the body is optional, an empty one is like `{}`.
    api.patch(
        "/conversations/c/participants/bob",
        &json!({ "access": "Read", "notify": false }),
    )
    .await;
    assert_eq!(
        empty(Method::PATCH, "/conversations/c/participants/bob")
            .await
            .status,
        200
    );
    let bob = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(
        (bob["access"].clone(), bob["notify"].clone()),
        (json!("Read"), json!(false))
    );
    // PUT overwrites: omitted fields reset to the defaults.
    assert_eq!(
        empty(Method::PUT, "/conversations/c/participants/bob")
            .await
            .status,
        200
    );
    let bob = &api.get("/conversations/c").await.body["participants"]["bob"];
    assert_eq!(
        (bob["access"].clone(), bob["notify"].clone()),
        (json!("ReadWrite"), json!(true))
    );
    assert_eq!(
        empty(Method::POST, "/conversations/c/readBy/bob")
            .await
            .status,
        200
    );
    assert_eq!(empty(Method::PUT, "/conversations/e").await.status, 200);
    assert!(api.fake.conversation("e").is_some());
    assert_eq!(empty(Method::DELETE, "/conversations/e").await.status, 200);
    assert!(api.fake.conversation("e").is_none());

    // Where a body is required, an empty one is a 400 that says so.
    for (method, path) in [
        (Method::PUT, "/users/zed"),
        (Method::PUT, "/users"),
        (Method::POST, "/conversations/c/messages"),
        (Method::POST, "/import/conversations/c/messages"),
        (Method::POST, "/batch"),
    ] {
        let r = empty(method.clone(), path).await;
        assert_error(&r, 400);
        assert_eq!(r.body["errorCode"], "INVALID_JSON", "{method} {path}");
    }
    assert!(api.fake.user("zed").is_none());
}

#[tokio::test]
async fn malformed_json_is_400_also_where_the_body_is_ignored() {
    let (api, _) = setup().await;
    for (method, path) in [
        (Method::PUT, "/users/alice"),
        (Method::DELETE, "/conversations/c"),
        (Method::POST, "/conversations/c/readBy/bob"),
        (Method::PUT, "/conversations/c/participants/bob"),
        (Method::POST, "/conversations/c/messages"),
    ] {
        let r = api
            .raw(method.clone(), path, Some("application/json"), "{oops")
            .await;
        assert_error(&r, 400);
        assert_eq!(r.body["errorCode"], "INVALID_JSON", "{method} {path}");
    }
    assert!(api.fake.conversation("c").is_some());
    assert_eq!(api.fake.messages("c").len(), 1);
}

#[tokio::test]
async fn only_the_file_upload_takes_multipart() {
    let api = Api::start().await;
    let boundary = "xYz";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nhi\r\n--{boundary}--\r\n"
    );
    let multipart_type = format!("multipart/form-data; boundary={boundary}");
    let r = api
        .raw(
            Method::POST,
            "/files",
            Some(&multipart_type),
            multipart.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // JSON, or nothing, is refused by the upload.
    for content_type in [Some("application/json"), None] {
        let r = api
            .raw(Method::POST, "/files", content_type, r#"{"file":"x"}"#)
            .await;
        assert_error(&r, 400);
        assert_eq!(r.body["errorCode"], "INVALID_CONTENT_TYPE", "{}", r.text);
    }
    // Multipart is refused everywhere else.
    let r = api
        .raw(Method::PUT, "/users/a", Some(&multipart_type), multipart)
        .await;
    assert_error(&r, 400);
    assert_eq!(r.body["errorCode"], "INVALID_CONTENT_TYPE");
    // And an upload cannot hide in a batch.
    let r = api
        .post("/batch", &json!([[1, "POST", "/files", {}]]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0][1], 400);
}

#[tokio::test]
async fn custom_values_must_be_strings() {
    let (api, message) = setup().await;
    let numbers = json!({ "n": 1 });
    let nested = json!({ "o": { "k": "v" } });
    for custom in [&numbers, &nested, &json!(["v"]), &json!("v")] {
        let r = api.put("/users/alice", &json!({ "custom": custom })).await;
        assert_error(&r, 400);
        let r = api
            .put("/users/new", &json!({ "name": "New", "custom": custom }))
            .await;
        assert_error(&r, 400);
        let r = api
            .put(
                "/users",
                &json!({ "ok": { "name": "Ok" }, "bad": { "name": "Bad", "custom": custom } }),
            )
            .await;
        assert_error(&r, 400);
        assert!(r.body["errors"]["bad"].is_string(), "{}", r.text);
        let r = api
            .put("/conversations/c", &json!({ "custom": custom }))
            .await;
        assert_error(&r, 400);
        let r = api
            .post(
                "/conversations/c/messages",
                &json!([{ "type": "UserMessage", "sender": "bob", "text": "x", "custom": custom }]),
            )
            .await;
        assert_error(&r, 400);
        let r = api
            .post(
                "/conversations/c/messages",
                &json!([{ "type": "SystemMessage", "text": "x", "custom": custom }]),
            )
            .await;
        assert_error(&r, 400);
        let r = api
            .post(
                "/import/conversations/c/messages",
                &json!([{ "type": "UserMessage", "sender": "bob", "text": "x", "timestamp": 1, "readBy": [], "custom": custom }]),
            )
            .await;
        assert_error(&r, 400);
        let r = api
            .put(
                &format!("/conversations/c/messages/{message}"),
                &json!({ "custom": custom }),
            )
            .await;
        assert_error(&r, 400);
    }
    // Nothing was stored or changed.
    assert!(api.fake.user("new").is_none() && api.fake.user("ok").is_none());
    assert!(api.fake.user("alice").unwrap().custom.is_empty());
    assert!(api.fake.conversation("c").unwrap().custom.is_empty());
    let messages = api.fake.messages("c");
    assert_eq!(messages.len(), 1);
    assert!(messages[0].custom.is_empty() && messages[0].edited_at.is_none());
    // String values pass.
    let r = api
        .put("/users/alice", &json!({ "custom": { "n": "1" } }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn push_tokens_are_registered_with_true_and_removed_with_null() {
    let api = Api::start().await;
    api.users(&["a"]).await;
    for value in [json!(false), json!("yes"), json!(1)] {
        let r = api
            .put("/users/a", &json!({ "pushTokens": { "fcm:t1": value } }))
            .await;
        assert_error(&r, 400);
    }
    assert_eq!(api.fake.user("a").unwrap().push_tokens, None);
    let r = api
        .put(
            "/users/a",
            &json!({ "pushTokens": { "fcm:t1": true, "apns:t2": null } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn import_takes_complete_user_messages_only() {
    let (api, _) = setup().await;
    let complete = json!({ "type": "UserMessage", "sender": "bob", "text": "x", "timestamp": 1, "readBy": [] });
    for field in ["type", "sender", "text", "timestamp", "readBy"] {
        let mut item = complete.clone();
        item.as_object_mut().unwrap().remove(field);
        let r = api
            .post("/import/conversations/c/messages", &json!([item]))
            .await;
        assert_error(&r, 400);
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    // A system message (even without a sender) cannot be imported.
    let system = json!([{ "type": "SystemMessage", "text": "x", "timestamp": 1, "readBy": [] }]);
    assert_error(
        &api.post("/import/conversations/c/messages", &system).await,
        400,
    );
    let mut system = complete.clone();
    system["type"] = json!("SystemMessage");
    assert_error(
        &api.post("/import/conversations/c/messages", &json!([system]))
            .await,
        400,
    );
    // At most 10, at least 1.
    let eleven = Value::Array(vec![complete.clone(); 11]);
    assert_error(
        &api.post("/import/conversations/c/messages", &eleven).await,
        400,
    );
    assert_error(
        &api.post("/import/conversations/c/messages", &json!([]))
            .await,
        400,
    );
    assert_eq!(api.fake.messages("c").len(), 1);
    let ten = Value::Array(vec![complete; 10]);
    let r = api.post("/import/conversations/c/messages", &ten).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.fake.messages("c").len(), 11);
}

#[tokio::test]
async fn page_sizes_are_limited_per_resource() {
    let (api, _) = setup().await;
    // Conversations 1..=30 (both lists), users and messages 1..=100.
    for (path, max) in [
        ("/conversations", 30),
        ("/users/alice/conversations", 30),
        ("/users", 100),
        ("/conversations/c/messages", 100),
    ] {
        for bad in [
            "0".to_owned(),
            (max + 1).to_string(),
            "-1".into(),
            "1.5".into(),
            String::new(),
        ] {
            let r = api.get(&format!("{path}?limit={bad}")).await;
            assert_error(&r, 400);
        }
        let r = api.get(&format!("{path}?limit={max}")).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        let r = api.get(&format!("{path}?limit=1")).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn send_arrays_hold_one_to_ten_messages() {
    let (api, _) = setup().await;
    let one = json!({ "type": "UserMessage", "sender": "bob", "text": "x" });
    let r = api
        .post(
            "/conversations/c/messages",
            &Value::Array(vec![one.clone(); 10]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_error(
        &api.post(
            "/conversations/c/messages",
            &Value::Array(vec![one.clone(); 11]),
        )
        .await,
        400,
    );
    assert_error(
        &api.post("/conversations/c/messages", &json!([])).await,
        400,
    );
    // One object is not an array of one.
    assert_error(&api.post("/conversations/c/messages", &one).await, 400);
    assert_eq!(api.fake.messages("c").len(), 11);
    // A batch operation gets the same answers.
    let r = api
        .post(
            "/batch",
            &json!([[1, "POST", "/conversations/c/messages", vec![one; 11]]]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body[0][1], 400);
    assert_eq!(api.fake.messages("c").len(), 11);
}
