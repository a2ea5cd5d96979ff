//! What TalkJS's official transfer example (talkjs-examples,
//! `rest-api/transfer-data/transferData.js`) uses beyond the reference pages: the upload's
//! `fileToken` and optional fields, imports of 100 messages with `createdAt` and `content`
//! blocks answered with the new ids, the reactions listing, participants' `readUntil`; and
//! the Batch page's burst.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;

use bytes::Bytes;
use common::{Api, assert_error};
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use talkjs_fake::{DEFAULT_MAX_IMPORT_BATCH, FakeTalkJs, RateLimitConfig};
use talkjs_models::{ContentBlock, FileSubtype};

const IMPORT: &str = "/import/conversations/c/messages";

async fn setup(api: Api) -> Api {
    api.users(&["alice", "bob", "eve"]).await;
    api.conversation("c", &["alice", "bob"]).await;
    api
}

/// Uploads `data` as `name` with extra text form fields; returns the answer.
async fn upload(api: &Api, name: &str, data: &str, fields: &[(&str, &str)]) -> common::Resp {
    let boundary = "----transfer";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{data}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\n{name}\r\n"
    );
    for (field, value) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
        )
        .unwrap();
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    let token = api.fake.app_token().unwrap();
    let request = Request::post(api.url("/files"))
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    api.send(request).await.unwrap()
}

fn old(text: &str, ts: u64) -> Value {
    json!({ "type": "UserMessage", "sender": "alice", "text": text, "timestamp": ts, "readBy": [] })
}

#[tokio::test]
async fn upload_answers_a_file_token_and_keeps_the_optional_fields() {
    let api = setup(Api::start().await).await;
    let r = upload(
        &api,
        "voice.ogg",
        "ogg!",
        &[
            ("subtype", "voice"),
            ("width", "0"),
            ("height", "0"),
            ("duration", "2.5"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["fileToken"]
    );
    let token = r.body["fileToken"].as_str().unwrap();
    let typed: talkjs_models::UploadedFile = serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(typed.token(), token);

    // Imported as a file block, the token brings the file and the upload's fields.
    let r = api
        .post(
            IMPORT,
            &json!([{ "type": "UserMessage", "sender": "alice", "createdAt": 1_000,
                      "content": [{ "type": "file", "fileToken": token }] }]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let message = api.fake.messages("c").pop().unwrap();
    let Some(ContentBlock::File(file)) = message.content.as_ref().and_then(|c| c.first()) else {
        panic!("{message:?}");
    };
    assert_eq!(file.filename.as_deref(), Some("voice.ogg"));
    assert_eq!(file.size, Some(4));
    assert_eq!(file.subtype, Some(FileSubtype::Voice));
    assert_eq!((file.width, file.height), (Some(0), Some(0)));
    assert_eq!(file.duration, Some(2.5));
    assert_eq!(file.file_token.as_deref(), Some(token));
    // The legacy attachment is filled from the block and serves the bytes.
    let attachment = message.attachment.unwrap();
    assert_eq!(Some(attachment.url.as_str()), file.url.as_deref());
    assert_eq!(api.fake.file_data(&attachment.url).unwrap(), b"ogg!");

    // Malformed optional fields are refused, and nothing is stored.
    let files = api.fake.file_count();
    for (field, value) in [
        ("width", "wide"),
        ("height", "-3"),
        ("duration", "NaN"),
        ("duration", "-1"),
        ("subtype", " "),
    ] {
        let r = upload(&api, "a.bin", "x", &[(field, value)]).await;
        assert_error(&r, 400);
        assert!(r.text.contains(field), "{}", r.text);
    }
    assert_eq!(api.fake.file_count(), files);
}

#[tokio::test]
async fn import_takes_10_by_default_and_100_when_told() {
    let api = setup(Api::start().await).await;
    assert_eq!(DEFAULT_MAX_IMPORT_BATCH, 10);
    let eleven: Vec<Value> = (0..11).map(|i| old(&format!("{i}"), 1_000 + i)).collect();
    let r = api.post(IMPORT, &Value::Array(eleven.clone())).await;
    assert_error(&r, 400);
    assert!(r.text.contains("at most 10"), "{}", r.text);
    assert!(
        api.fake.messages("c").is_empty(),
        "a refused import applies nothing"
    );
    let ten = Value::Array(eleven[..10].to_vec());
    assert_eq!(api.post(IMPORT, &ten).await.status, 200);

    let api = setup(Api::with(FakeTalkJs::builder().max_import_batch(100)).await).await;
    let hundred: Vec<Value> = (0..101).map(|i| old(&format!("{i}"), 1_000 + i)).collect();
    let r = api.post(IMPORT, &Value::Array(hundred.clone())).await;
    assert_error(&r, 400);
    assert!(r.text.contains("at most 100"), "{}", r.text);
    let r = api
        .post(IMPORT, &Value::Array(hundred[..100].to_vec()))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // One id per message, in order, as the transfer example reads them.
    let ids: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    let stored = api.fake.messages("c");
    assert_eq!(ids.len(), 100);
    assert_eq!(stored.len(), 100);
    for (i, id) in ids.iter().enumerate() {
        let message = stored.iter().find(|m| m.id == *id).unwrap();
        assert_eq!(message.text.as_deref(), Some(i.to_string().as_str()));
    }
    // Sends stay at 10 whatever the import size.
    let sends: Vec<Value> = (0..11)
        .map(|i| json!({ "type": "UserMessage", "sender": "alice", "text": format!("{i}") }))
        .collect();
    assert_error(
        &api.post("/conversations/c/messages", &Value::Array(sends))
            .await,
        400,
    );
    // The setting survives clear().
    api.fake.clear();
    let api = setup(api).await;
    assert_eq!(
        api.post(IMPORT, &Value::Array(hundred[..100].to_vec()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn import_in_the_transfer_examples_shape_keeps_content_blocks() {
    let api = setup(Api::start().await).await;
    let token = upload(
        &api,
        "pic.png",
        "png",
        &[("subtype", "image"), ("width", "4")],
    )
    .await
    .body["fileToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let rich =
        json!({ "type": "text", "children": ["Hi ", { "type": "bold", "children": ["Bob"] }] });
    let poll = json!({ "type": "poll", "question": "Lunch?" });
    let body = json!([
        { "type": "UserMessage", "sender": "alice", "createdAt": 1_000, "custom": { "k": "v" },
          "content": [rich, { "type": "file", "fileToken": token }] },
        { "type": "UserMessage", "sender": "bob", "createdAt": 2_000,
          "content": [{ "type": "location", "latitude": 51.48, "longitude": -3.18 }, poll] },
        { "type": "UserMessage", "sender": "alice", "createdAt": 3_000, "text": "plain" },
    ]);
    let r = api.post(IMPORT, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let messages = api.fake.messages("c");
    assert_eq!(messages.len(), 3);

    let first = &messages[0];
    assert_eq!(first.created_at.as_millis(), 1_000);
    assert_eq!(first.text.as_deref(), Some("Hi Bob"));
    assert_eq!(first.custom["k"], "v");
    assert!(first.read_by.is_empty());
    let content = first.content.as_ref().unwrap();
    assert_eq!(serde_json::to_value(&content[0]).unwrap(), rich);
    let ContentBlock::File(file) = &content[1] else {
        panic!("{content:?}")
    };
    assert_eq!(file.subtype, Some(FileSubtype::Image));
    assert_eq!(file.width, Some(4));
    assert_eq!(file.height, None);
    assert_eq!(first.attachment.as_ref().unwrap().size, Some(3));

    let second = &messages[1];
    assert_eq!(second.text, None);
    let location = second.location.unwrap();
    assert_eq!((location.latitude, location.longitude), (51.48, -3.18));
    // A block type the fake does not know is kept as it came.
    let content = second.content.as_ref().unwrap();
    assert_eq!(content[1], ContentBlock::Unknown(poll.clone()));
    // Listed with its content.
    let listed = api.get("/conversations/c/messages").await;
    assert_eq!(listed.body["data"][1]["content"][1], poll);

    assert_eq!(messages[2].text.as_deref(), Some("plain"));
    assert_eq!(messages[2].content, None);

    // createdAt without text or content, an unknown file token: refused, nothing applied.
    for bad in [
        json!([{ "type": "UserMessage", "sender": "alice", "createdAt": 1 }]),
        json!([{ "type": "UserMessage", "sender": "alice", "createdAt": 1, "content": [] }]),
        json!([{ "type": "UserMessage", "sender": "alice", "createdAt": 1,
                 "content": [{ "type": "file", "fileToken": "att_nope" }] }]),
        json!([{ "type": "UserMessage", "sender": "eve", "createdAt": 1, "text": "x" }]),
    ] {
        assert_error(&api.post(IMPORT, &bad).await, 400);
    }
    assert_eq!(api.fake.messages("c").len(), 3);
}

#[tokio::test]
async fn reactions_are_listed_per_emoji() {
    let api = setup(Api::start().await).await;
    let id = api.say("c", "alice", "react to me").await;
    let base = format!("/conversations/c/messages/{id}/reactions");
    // The emoji travels percent-encoded.
    let thumbs = format!("{base}/%F0%9F%91%8D");
    for user in ["bob", "alice", "eve"] {
        assert_eq!(
            api.put(&format!("{thumbs}/{user}"), &json!({}))
                .await
                .status,
            200
        );
    }
    assert_eq!(
        api.put(&format!("{base}/%F0%9F%8E%89/bob"), &json!({}))
            .await
            .status,
        200
    );

    let r = api.get(&format!("{thumbs}?limit=100")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body,
        json!({ "data": [{ "userId": "alice" }, { "userId": "bob" }, { "userId": "eve" }] })
    );
    // Pages: limit and startingAfter (a user id).
    let r = api.get(&format!("{thumbs}?limit=2")).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = api
        .get(&format!("{thumbs}?limit=2&startingAfter=bob"))
        .await;
    assert_eq!(r.body, json!({ "data": [{ "userId": "eve" }] }));
    assert_error(&api.get(&format!("{thumbs}?limit=101")).await, 400);

    // DELETE removes one user's reaction.
    assert_eq!(api.delete(&format!("{thumbs}/bob")).await.status, 200);
    let r = api.get(&thumbs).await;
    assert_eq!(
        r.body,
        json!({ "data": [{ "userId": "alice" }, { "userId": "eve" }] })
    );
    // An emoji nobody used: empty; an unknown message: 404.
    let r = api.get(&format!("{base}/x")).await;
    assert_eq!(r.body, json!({ "data": [] }));
    assert_error(
        &api.get("/conversations/c/messages/msg_nope/reactions/x")
            .await,
        404,
    );
    // The message shows the emoji as keys.
    let message = api.fake.messages("c").pop().unwrap();
    assert_eq!(message.reaction_emojis(), ["🎉", "👍"]);
}

#[tokio::test]
async fn read_until_is_set_by_patch_and_shown_on_the_participant() {
    let api = setup(Api::start().await).await;
    api.say("c", "alice", "one").await;
    let participant = "/conversations/c/participants/bob";
    let r = api.get(participant).await;
    assert_eq!(r.body.get("readUntil"), None, "{}", r.text);
    assert_eq!(r.body["isUnread"], true);

    let later = talkjs_models::Timestamp::now().as_millis() + 60_000;
    let r = api.patch(participant, &json!({ "readUntil": later })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = api.get(participant).await;
    assert_eq!(r.body["readUntil"], later);
    assert_eq!(
        r.body["isUnread"], false,
        "messages up to readUntil are read"
    );
    let conversation = api.fake.conversation("c").unwrap();
    assert_eq!(
        conversation.participants["bob"]
            .read_until
            .unwrap()
            .as_millis(),
        later
    );
    // The overwrite (PUT) resets settings, not the read state.
    assert_eq!(api.put(participant, &json!({})).await.status, 200);
    assert_eq!(api.get(participant).await.body["readUntil"], later);
    // Not a timestamp: refused.
    assert_error(
        &api.patch(participant, &json!({ "readUntil": "soon" }))
            .await,
        400,
    );
}

#[tokio::test]
async fn the_batch_bucket_has_the_batch_pages_burst() {
    assert_eq!(RateLimitConfig::TALKJS.batch_burst, 500);
    assert!((RateLimitConfig::TALKJS.batch_per_second - 1.0).abs() < f64::EPSILON);
    let api = Api::with(FakeTalkJs::builder().rate_limit(RateLimitConfig::TALKJS)).await;
    let batch = json!([[1, "GET", "/users"]]);
    // Several at once within the burst (a burst of 1 refused the second).
    for _ in 0..5 {
        let r = api.post("/batch", &batch).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(api.fake.count_429(), 0);
}
