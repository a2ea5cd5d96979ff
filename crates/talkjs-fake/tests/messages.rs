//! Messages: send, dedupe, import, pagination, validation, edit, delete, reactions, files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::{Api, assert_error};
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};

async fn setup() -> Api {
    let api = Api::start().await;
    api.users(&["alice", "bob", "eve"]).await;
    api.conversation("c", &["alice", "bob"]).await;
    api
}

fn data_ids(r: &common::Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn send_returns_ids_and_stores_messages() {
    let api = setup().await;
    let r = api
        .post(
            "/conversations/c/messages",
            &json!([
                { "type": "UserMessage", "sender": "alice", "text": "hi", "custom": { "k": "v" } },
                { "type": "SystemMessage", "text": "Bob joined" },
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sent = r.body.as_array().unwrap();
    assert_eq!(sent.len(), 2);
    assert!(sent[0]["id"].as_str().unwrap().starts_with("msg_"));
    let typed: Vec<talkjs_models::SentMessage> = serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(typed.len(), 2);

    let messages = api.fake.messages("c");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].sender_id.as_ref().unwrap(), "alice");
    assert_eq!(messages[1].sender_id, None);

    let one = api
        .get(&format!(
            "/conversations/c/messages/{}",
            sent[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["type"], "UserMessage");
    assert_eq!(one.body["conversationId"], "c");
    assert_eq!(one.body["senderId"], "alice");
    assert_eq!(one.body["text"], "hi");
    assert_eq!(one.body["origin"], "rest");
    assert_eq!(one.body["custom"], json!({ "k": "v" }));
    assert_eq!(one.body["readBy"], json!([]));
    assert_eq!(one.body["editedAt"], Value::Null);
    let typed: talkjs_models::Message = serde_json::from_value(one.body).unwrap();
    assert_eq!(typed.text.as_deref(), Some("hi"));

    // The conversation's lastMessage is the newest.
    let c = api.get("/conversations/c").await.body;
    assert_eq!(c["lastMessage"]["text"], "Bob joined");
}

#[tokio::test]
async fn idempotency_keys_deduplicate_per_conversation() {
    let api = setup().await;
    api.conversation("other", &["alice"]).await;
    let body = json!([
        { "type": "UserMessage", "sender": "alice", "text": "once", "idempotencyKey": "k1" },
        { "type": "UserMessage", "sender": "alice", "text": "twice", "idempotencyKey": "k2" },
    ]);
    let first = api.post("/conversations/c/messages", &body).await;
    let second = api.post("/conversations/c/messages", &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body, second.body);
    assert_eq!(api.fake.messages("c").len(), 2);

    // Same key twice in one request: one message.
    let r = api
        .post(
            "/conversations/c/messages",
            &json!([
                { "type": "UserMessage", "sender": "bob", "text": "a", "idempotencyKey": "k3" },
                { "type": "UserMessage", "sender": "bob", "text": "a", "idempotencyKey": "k3" },
            ]),
        )
        .await;
    assert_eq!(r.body[0], r.body[1]);
    assert_eq!(api.fake.messages("c").len(), 3);

    // Keys are per conversation.
    let r = api
        .post(
            "/conversations/other/messages",
            &json!([{ "type": "UserMessage", "sender": "alice", "text": "once", "idempotencyKey": "k1" }]),
        )
        .await;
    assert_ne!(r.body[0]["id"], first.body[0]["id"]);

    // Without keys, a re-send duplicates.
    api.say("c", "bob", "dup").await;
    api.say("c", "bob", "dup").await;
    assert_eq!(api.fake.messages("c").len(), 5);
}

#[tokio::test]
async fn import_is_not_deduplicated() {
    let api = setup().await;
    let body = json!([
        { "type": "UserMessage", "sender": "alice", "text": "old", "timestamp": 1_500_000_000_000_u64, "readBy": ["bob"] },
        { "type": "UserMessage", "sender": "bob", "text": "older", "timestamp": 1_400_000_000_000_u64, "readBy": [] },
    ]);
    let first = api.post("/import/conversations/c/messages", &body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = api.post("/import/conversations/c/messages", &body).await;
    assert_eq!(second.status, 200);
    assert_ne!(first.body, second.body);
    let messages = api.fake.messages("c");
    assert_eq!(messages.len(), 4);
    // Oldest first in the introspection; origin import; timestamps kept.
    assert_eq!(messages[0].created_at.as_millis(), 1_400_000_000_000);
    assert_eq!(messages[3].created_at.as_millis(), 1_500_000_000_000);
    assert_eq!(
        messages[3].origin,
        Some(talkjs_models::MessageOrigin::Import)
    );
    assert_eq!(messages[3].read_by, ["bob"]);

    // readBy and timestamp are required; system messages and non-participants refused.
    let no_read_by =
        json!([{ "type": "UserMessage", "sender": "alice", "text": "x", "timestamp": 1 }]);
    assert_error(
        &api.post("/import/conversations/c/messages", &no_read_by)
            .await,
        400,
    );
    let no_ts = json!([{ "type": "UserMessage", "sender": "alice", "text": "x", "readBy": [] }]);
    assert_error(
        &api.post("/import/conversations/c/messages", &no_ts).await,
        400,
    );
    let system = json!([{ "type": "SystemMessage", "sender": "alice", "text": "x", "timestamp": 1, "readBy": [] }]);
    assert_error(
        &api.post("/import/conversations/c/messages", &system).await,
        400,
    );
    let stranger = json!([{ "type": "UserMessage", "sender": "eve", "text": "x", "timestamp": 1, "readBy": [] }]);
    assert_error(
        &api.post("/import/conversations/c/messages", &stranger)
            .await,
        400,
    );
    assert_error(
        &api.post("/import/conversations/nope/messages", &body).await,
        404,
    );
    assert_eq!(api.fake.messages("c").len(), 4);
}

#[tokio::test]
async fn pagination_across_three_pages_without_repeats() {
    let api = setup().await;
    // 25 messages, 10 per request: many share a millisecond.
    for batch in 0..3 {
        let items: Vec<Value> = (0..10)
            .map(|i| batch * 10 + i)
            .filter(|n| *n < 25)
            .map(|n| json!({ "type": "UserMessage", "sender": "alice", "text": format!("m{n}") }))
            .collect();
        let r = api
            .post("/conversations/c/messages", &Value::Array(items))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let p1 = api.get("/conversations/c/messages?limit=10").await;
    let p1_ids = data_ids(&p1);
    let p2 = api
        .get(&format!(
            "/conversations/c/messages?limit=10&startingAfter={}",
            p1_ids[9]
        ))
        .await;
    let p2_ids = data_ids(&p2);
    let p3 = api
        .get(&format!(
            "/conversations/c/messages?limit=10&startingAfter={}",
            p2_ids[9]
        ))
        .await;
    let p3_ids = data_ids(&p3);
    assert_eq!((p1_ids.len(), p2_ids.len(), p3_ids.len()), (10, 10, 5));
    let all: Vec<String> = p1_ids.into_iter().chain(p2_ids).chain(p3_ids).collect();
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 25);
    // Newest first: the texts count down.
    let texts: Vec<String> = p1.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts[0], "m24");
    assert_eq!(texts[9], "m15");
    let expected: Vec<String> = api
        .fake
        .messages("c")
        .into_iter()
        .rev()
        .map(|m| m.id.into_inner())
        .collect();
    assert_eq!(all, expected);

    // A deleted cursor still works.
    let cursor = &all[4];
    assert_eq!(
        api.delete(&format!("/conversations/c/messages/{cursor}"))
            .await
            .status,
        200
    );
    let after = api
        .get(&format!(
            "/conversations/c/messages?limit=3&startingAfter={cursor}"
        ))
        .await;
    assert_eq!(data_ids(&after), all[5..8]);

    // Limits.
    assert_error(&api.get("/conversations/c/messages?limit=0").await, 400);
    assert_error(&api.get("/conversations/c/messages?limit=101").await, 400);
    assert_eq!(
        data_ids(&api.get("/conversations/c/messages?limit=100").await).len(),
        24
    );
    assert_error(
        &api.get("/conversations/c/messages?startingAfter=msg_nope")
            .await,
        400,
    );
}

#[tokio::test]
async fn invalid_sends_are_rejected_entirely() {
    let api = setup().await;
    let api = &api;
    let send = |body: Value| async move { api.post("/conversations/c/messages", &body).await };
    // Not an array.
    assert_error(
        &send(json!({ "type": "UserMessage", "sender": "alice", "text": "x" })).await,
        400,
    );
    // Empty and too many.
    assert_error(&send(json!([])).await, 400);
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({ "type": "UserMessage", "sender": "alice", "text": "x" }))
        .collect();
    assert_error(&send(Value::Array(eleven)).await, 400);
    // A sender on a system message.
    assert_error(
        &send(json!([{ "type": "SystemMessage", "sender": "alice", "text": "x" }])).await,
        400,
    );
    // A location or a reply reference on a system message (documented as user-only).
    let located =
        send(json!([{ "type": "SystemMessage", "text": "x", "location": [1.0, 2.0] }])).await;
    assert_error(&located, 400);
    assert_error(
        &send(json!([{ "type": "SystemMessage", "text": "x", "referencedMessageId": "msg_x" }]))
            .await,
        400,
    );
    // Not a participant (one good message before it is not stored either).
    assert_error(
        &send(json!([
            { "type": "UserMessage", "sender": "alice", "text": "ok" },
            { "type": "UserMessage", "sender": "eve", "text": "intruder" },
        ]))
        .await,
        400,
    );
    // Unknown type, missing text, unknown reference and attachment.
    assert_error(&send(json!([{ "type": "Shout", "text": "x" }])).await, 400);
    assert_error(
        &send(json!([{ "type": "UserMessage", "sender": "alice" }])).await,
        400,
    );
    assert_error(
        &send(json!([{ "type": "UserMessage", "sender": "alice", "text": "x", "referencedMessageId": "msg_x" }]))
            .await,
        400,
    );
    assert_error(
        &send(json!([{ "type": "UserMessage", "sender": "alice", "text": "x", "attachmentToken": "att_x" }]))
            .await,
        400,
    );
    assert!(api.fake.messages("c").is_empty());
    // On a system message a null location or reference stands for none.
    let plain = send(json!([{ "type": "SystemMessage", "text": "x", "location": null, "referencedMessageId": null }])).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    assert_eq!(api.fake.messages("c").len(), 1);
    // Unknown conversation.
    assert_error(
        &api.post(
            "/conversations/nope/messages",
            &json!([{ "type": "UserMessage", "sender": "alice", "text": "x" }]),
        )
        .await,
        404,
    );
    assert_error(&api.get("/conversations/nope/messages").await, 404);
    assert_error(&api.get("/conversations/c/messages/msg_nope").await, 404);
}

#[tokio::test]
async fn edit_delete_reply_and_react() {
    let api = setup().await;
    let first = api.say("c", "alice", "helo").await;
    let path = format!("/conversations/c/messages/{first}");
    let r = api
        .put(
            &path,
            &json!({ "text": "hello", "custom": { "fixed": "yes" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let m = api.get(&path).await.body;
    assert_eq!(m["text"], "hello");
    assert_eq!(m["custom"], json!({ "fixed": "yes" }));
    assert!(m["editedAt"].as_u64().is_some());
    assert_error(
        &api.put(
            "/conversations/c/messages/msg_nope",
            &json!({ "text": "x" }),
        )
        .await,
        404,
    );

    // A reply.
    let r = api
        .post(
            "/conversations/c/messages",
            &json!([{ "type": "UserMessage", "sender": "bob", "text": "hi!", "referencedMessageId": first }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let reply = api.fake.messages("c").pop().unwrap();
    assert_eq!(reply.referenced_message_id.unwrap(), first.as_str());

    // Reactions.
    let react = format!("{path}/reactions/%F0%9F%91%8D/bob");
    assert_eq!(api.call(http::Method::PUT, &react, None).await.status, 200);
    let m = api.get(&path).await.body;
    assert_eq!(m["reactions"], json!({ "\u{1F44D}": ["bob"] }));
    assert_eq!(api.delete(&react).await.status, 200);
    assert!(api.get(&path).await.body.get("reactions").is_none());
    assert_error(
        &api.call(
            http::Method::PUT,
            &format!("{path}/reactions/x/ghost"),
            None,
        )
        .await,
        404,
    );

    // Delete.
    assert_eq!(api.delete(&path).await.status, 200);
    assert_error(&api.get(&path).await, 404);
    assert_error(&api.delete(&path).await, 404);
    assert_eq!(api.fake.messages("c").len(), 1);
}

#[tokio::test]
async fn file_upload_gives_a_file_token() {
    let api = setup().await;
    let boundary = "----talkjsfake";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\nhello.txt\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"hello.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nhello world\r\n--{boundary}--\r\n"
    );
    let token = api.fake.app_token().unwrap();
    let request = Request::post(api.url("/files"))
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let r = api.send(request).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    // Answered as TalkJS's transfer example reads it: `fileToken`.
    assert_eq!(r.body.as_object().unwrap().len(), 1, "{}", r.text);
    let attachment = r.body["fileToken"].as_str().unwrap().to_owned();

    let r = api
        .post(
            "/conversations/c/messages",
            &json!([{ "type": "UserMessage", "sender": "alice", "text": "", "attachmentToken": attachment }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let message = api.fake.messages("c").pop().unwrap();
    let file = message.attachment.unwrap();
    assert_eq!(file.size, Some(11));
    // The URL serves the bytes.
    let download = api
        .send(
            Request::get(&file.url)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(download.status, 200);
    assert_eq!(download.text, "hello world");

    // A non-multipart upload is refused.
    assert_error(&api.post("/files", &json!({ "file": "x" })).await, 400);
}
