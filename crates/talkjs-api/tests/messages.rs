//! Messages: list, get, send (mixed, chunked), edit, delete, reactions, import.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{
    assert_request, message_json, mount, ok_empty, ok_json, p, page, requests, single_request,
    start, system_message_json,
};
use serde_json::{Value, json};
use talkjs_api::Error;
use talkjs_models::{
    ImportMessage, Location, MessageEdit, MessageId, MessageOrigin, MessageType, NewMessage,
    Timestamp, UserId,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

const MESSAGES: &str = "/conversations/order%20123/messages";

/// Answers a send with one id per message: `msg_<text>`.
fn echo_ids(req: &Request) -> ResponseTemplate {
    let sent: Vec<Value> = serde_json::from_slice(&req.body).unwrap();
    let ids: Vec<Value> = sent
        .iter()
        .map(|m| json!({ "id": format!("msg_{}", m["text"].as_str().unwrap()) }))
        .collect();
    ResponseTemplate::new(200).set_body_json(ids)
}

#[tokio::test]
async fn list_sends_limit_and_cursor_and_decodes_messages() {
    let (server, client) = start().await;
    mount(
        &server,
        "GET",
        MESSAGES,
        ok_json(&page(&[
            message_json("msg_2", "order 123"),
            system_message_json("msg_1", "order 123"),
        ])),
        2,
    )
    .await;

    let messages = client.conversations().messages("order 123");
    let list = messages
        .list()
        .limit(20)
        .starting_after("msg_5")
        .await
        .unwrap();
    messages.list().await.unwrap();

    assert_eq!(list.len(), 2);
    let m = &list[0];
    assert_eq!(m.id, "msg_2");
    assert_eq!(m.message_type, MessageType::UserMessage);
    assert_eq!(m.conversation_id, "order 123");
    assert_eq!(m.sender_id.as_ref().unwrap(), "alice");
    assert_eq!(m.text.as_deref(), Some("Hello <b>Bob</b>"));
    let attachment = m.attachment.as_ref().unwrap();
    assert_eq!(attachment.url, "https://cdn.talkjs.com/file.pdf");
    assert_eq!(attachment.size, Some(12345));
    assert_eq!(m.location, Some(Location::new(52.3676, 4.9041)));
    assert_eq!(m.origin, Some(MessageOrigin::Rest));
    assert_eq!(m.read_by, vec![UserId::from("bob"), UserId::from("carol")]);
    assert_eq!(m.created_at, Timestamp::from_millis(1_700_000_001_000));
    assert_eq!(m.edited_at, Some(Timestamp::from_millis(1_700_000_002_000)));
    assert_eq!(m.custom["source"], "crm");
    assert_eq!(m.referenced_message_id.as_ref().unwrap(), "msg_parent");

    let s = &list[1];
    assert_eq!(s.message_type, MessageType::SystemMessage);
    assert_eq!(s.sender_id, None);
    assert_eq!(s.attachment, None);
    assert_eq!(s.location, None);
    assert!(s.read_by.is_empty());
    assert_eq!(s.edited_at, None);
    assert!(s.custom.is_empty());

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "GET",
        MESSAGES,
        Some("limit=20&startingAfter=msg_5"),
        None,
    );
    assert_request(&reqs[1], "GET", MESSAGES, None, None);
}

#[tokio::test]
async fn get_decodes_one_message() {
    let (server, client) = start().await;
    let msg_path = format!("{MESSAGES}/msg%2F1");
    mount(
        &server,
        "GET",
        &msg_path,
        ok_json(&message_json("msg/1", "order 123")),
        1,
    )
    .await;
    let m = client
        .conversations()
        .messages("order 123")
        .get("msg/1")
        .await
        .unwrap();
    assert_eq!(m.id, "msg/1");
    assert_eq!(m.text.as_deref(), Some("Hello <b>Bob</b>"));
    assert_eq!(m.read_by.len(), 2);
    let req = single_request(&server).await;
    assert_request(&req, "GET", &msg_path, None, None);
}

#[tokio::test]
async fn send_posts_an_array_of_user_and_system_messages() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        MESSAGES,
        ok_json(&json!([{ "id": "msg_a" }, { "id": "msg_b" }])),
        1,
    )
    .await;

    let batch: [NewMessage; 2] = [
        NewMessage::user("alice", "Hi Bob!")
            .referenced_message_id("msg_0")
            .custom_field("k", "v")
            .idempotency_key("order_123-1")
            .attachment_token("att_1")
            .location(52.5, 13.25),
        NewMessage::system("Alice joined").idempotency_key("order_123-2"),
    ];
    let ids = client
        .conversations()
        .messages("order 123")
        .send(batch)
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![MessageId::from("msg_a"), MessageId::from("msg_b")]
    );

    let req = single_request(&server).await;
    assert_request(
        &req,
        "POST",
        MESSAGES,
        None,
        Some(&json!([
            {
                "type": "UserMessage",
                "sender": "alice",
                "text": "Hi Bob!",
                "referencedMessageId": "msg_0",
                "custom": { "k": "v" },
                "idempotencyKey": "order_123-1",
                "attachmentToken": "att_1",
                "location": [52.5, 13.25]
            },
            {
                "type": "SystemMessage",
                "text": "Alice joined",
                "idempotencyKey": "order_123-2"
            }
        ])),
    );
}

#[tokio::test]
async fn send_of_one_message_is_still_an_array() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        MESSAGES,
        ok_json(&json!([{ "id": "msg_only" }])),
        1,
    )
    .await;
    let ids = client
        .conversations()
        .messages("order 123")
        .send([NewMessage::user("bob", "ok")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0], "msg_only");
    let req = single_request(&server).await;
    assert_request(
        &req,
        "POST",
        MESSAGES,
        None,
        Some(&json!([{ "type": "UserMessage", "sender": "bob", "text": "ok" }])),
    );
}

#[tokio::test]
async fn send_all_sends_25_messages_as_10_10_5_in_order() {
    let (server, client) = start().await;
    mount(&server, "POST", MESSAGES, echo_ids, 3).await;

    let msgs =
        (0..25).map(|i| NewMessage::user("alice", format!("{i}")).idempotency_key(format!("k{i}")));
    let ids = client
        .conversations()
        .messages("order 123")
        .send_all(msgs)
        .await
        .unwrap();
    let expected: Vec<String> = (0..25).map(|i| format!("msg_{i}")).collect();
    assert_eq!(
        ids.iter().map(MessageId::as_str).collect::<Vec<_>>(),
        expected
    );

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    for (req, range) in reqs.iter().zip([0..10, 10..20, 20..25]) {
        let body: Vec<Value> = range
            .map(|i| {
                json!({
                    "type": "UserMessage",
                    "sender": "alice",
                    "text": format!("{i}"),
                    "idempotencyKey": format!("k{i}")
                })
            })
            .collect();
        assert_request(req, "POST", MESSAGES, None, Some(&Value::Array(body)));
    }
}

/// Mounts `POST rel_path`: the first `ok_times` requests are answered by `ok`, every later
/// one by `failure` (which must be hit once).
async fn ok_then_fail(
    server: &wiremock::MockServer,
    rel_path: &str,
    ok: impl wiremock::Respond + 'static,
    ok_times: u64,
    failure: ResponseTemplate,
) {
    if ok_times > 0 {
        Mock::given(method("POST"))
            .and(path(p(rel_path)))
            .respond_with(ok)
            .up_to_n_times(ok_times)
            .expect(ok_times)
            .mount(server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(p(rel_path)))
        .respond_with(failure)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn send_all_failing_after_a_chunk_is_incomplete_with_the_ids_already_created() {
    let (server, client) = start().await;
    ok_then_fail(
        &server,
        MESSAGES,
        echo_ids,
        1,
        ResponseTemplate::new(500).set_body_string("boom"),
    )
    .await;

    let msgs = (0..25).map(|i| NewMessage::user("alice", format!("{i}")));
    let err = client
        .conversations()
        .messages("order 123")
        .send_all(msgs)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    assert!(err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("10 items were applied") && text.contains("resume from item 10"),
        "{text}"
    );
    let (completed, message_ids, source) = common::incomplete(err);
    assert_eq!(completed, 10);
    let expected: Vec<String> = (0..10).map(|i| format!("msg_{i}")).collect();
    assert_eq!(
        message_ids
            .iter()
            .map(MessageId::as_str)
            .collect::<Vec<_>>(),
        expected
    );
    // Key-less messages: the failing request's outcome is unknown.
    assert!(
        matches!(&source, Error::UnknownOutcome { cause: source, .. }
            if matches!(&**source, Error::Server { body, .. } if body == "boom")),
        "{source:?}"
    );
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2, "the third chunk is not sent");
    let second: Vec<Value> = (10..20)
        .map(|i| json!({ "type": "UserMessage", "sender": "alice", "text": format!("{i}") }))
        .collect();
    assert_request(
        &reqs[1],
        "POST",
        MESSAGES,
        None,
        Some(&Value::Array(second)),
    );
}

#[tokio::test]
async fn send_all_failing_on_the_first_chunk_returns_the_plain_error() {
    let (server, client) = start().await;
    ok_then_fail(
        &server,
        MESSAGES,
        echo_ids,
        0,
        ResponseTemplate::new(404).set_body_string("no such conversation"),
    )
    .await;
    let msgs = (0..25).map(|i| NewMessage::user("alice", format!("{i}")));
    let err = client
        .conversations()
        .messages("order 123")
        .send_all(msgs)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    single_request(&server).await;
}

#[tokio::test]
async fn send_and_send_all_of_nothing_send_nothing() {
    let (_server, client) = common::no_request_client().await;
    let messages = client.conversations().messages("order 123");
    assert!(
        messages
            .send(Vec::<NewMessage>::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        messages
            .send_all(Vec::<NewMessage>::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn send_with_fewer_ids_than_messages_is_a_decode_error() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        MESSAGES,
        ok_json(&json!([{ "id": "msg_a" }])),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("order 123")
        .send([NewMessage::user("a", "1"), NewMessage::user("a", "2")])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn send_with_fewer_ids_than_messages_keeps_the_raw_body() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        MESSAGES,
        ResponseTemplate::new(200).set_body_string(r#"[{"id":"msg_a"}]"#),
        1,
    )
    .await;
    let err = client
        .conversations()
        .messages("order 123")
        .send([NewMessage::user("a", "1"), NewMessage::user("a", "2")])
        .await
        .unwrap_err();
    match err {
        Error::Decode { body, .. } => assert_eq!(&body[..], br#"[{"id":"msg_a"}]"#),
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn edit_puts_the_patch() {
    let (server, client) = start().await;
    let msg_path = format!("{MESSAGES}/msg_1");
    mount(&server, "PUT", &msg_path, ok_empty(), 2).await;
    let messages = client.conversations().messages("order 123");
    messages
        .edit(
            "msg_1",
            &MessageEdit::new().text("fixed typo").clear_custom(),
        )
        .await
        .unwrap();
    messages
        .edit("msg_1", &MessageEdit::new().custom_field("edited", "yes"))
        .await
        .unwrap();
    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "PUT",
        &msg_path,
        None,
        Some(&json!({ "text": "fixed typo", "custom": null })),
    );
    assert_request(
        &reqs[1],
        "PUT",
        &msg_path,
        None,
        Some(&json!({ "custom": { "edited": "yes" } })),
    );
}

#[tokio::test]
async fn delete_sends_a_bodyless_delete() {
    let (server, client) = start().await;
    let msg_path = format!("{MESSAGES}/msg_1");
    mount(&server, "DELETE", &msg_path, ok_empty(), 1).await;
    client
        .conversations()
        .messages("order 123")
        .delete("msg_1")
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(&req, "DELETE", &msg_path, None, None);
}

#[tokio::test]
async fn reactions_percent_encode_the_emoji_in_the_path() {
    let (server, client) = start().await;
    let reaction_path = format!("{MESSAGES}/msg_1/reactions/%F0%9F%91%8D/bob%20b");
    mount(&server, "PUT", &reaction_path, ok_empty(), 1).await;
    mount(&server, "DELETE", &reaction_path, ok_empty(), 1).await;

    let messages = client.conversations().messages("order 123");
    messages.add_reaction("msg_1", "👍", "bob b").await.unwrap();
    messages
        .remove_reaction("msg_1", "👍", "bob b")
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_request(&reqs[0], "PUT", &reaction_path, None, None);
    assert_request(&reqs[1], "DELETE", &reaction_path, None, None);
}

#[tokio::test]
async fn import_posts_chunks_of_100_in_order_under_the_import_prefix() {
    let (server, client) = start().await;
    let import_path = "/import/conversations/order%20123/messages";
    mount(&server, "POST", import_path, ok_empty(), 3).await;

    let item = |i: u64| {
        ImportMessage::new(
            "alice",
            format!("old {i}"),
            Timestamp::from_millis(1_500_000_000_000 + i),
        )
        .read_by(["bob"])
    };
    let mut msgs: Vec<ImportMessage> = (0..250).map(item).collect();
    msgs[0] = item(0)
        .attachment_token("att_0")
        .custom_field("legacyId", "L0");
    msgs[1] = ImportMessage::new("bob", "unread", Timestamp::from_millis(1_500_000_000_001));
    let n = client
        .conversations()
        .messages("order 123")
        .import(msgs)
        .await
        .unwrap();
    assert_eq!(n, 250);

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    let expected_item = |i: u64| {
        json!({
            "type": "UserMessage",
            "sender": "alice",
            "text": format!("old {i}"),
            "timestamp": 1_500_000_000_000 + i,
            "readBy": ["bob"]
        })
    };
    for (req, range) in reqs.iter().zip([0..100_u64, 100..200, 200..250]) {
        let mut body: Vec<Value> = range.clone().map(expected_item).collect();
        if range.start == 0 {
            body[0]["attachmentToken"] = json!("att_0");
            body[0]["custom"] = json!({ "legacyId": "L0" });
            body[1] = json!({
                "type": "UserMessage",
                "sender": "bob",
                "text": "unread",
                "timestamp": 1_500_000_000_001_u64,
                "readBy": []
            });
        }
        assert_request(req, "POST", import_path, None, Some(&Value::Array(body)));
    }
}

#[tokio::test]
async fn import_of_nothing_sends_nothing() {
    let (_server, client) = common::no_request_client().await;
    let n = client
        .conversations()
        .messages("order 123")
        .import(Vec::new())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn import_failing_after_a_chunk_is_incomplete_with_the_count_imported() {
    let (server, client) = start().await;
    let import_path = "/import/conversations/order%20123/messages";
    ok_then_fail(
        &server,
        import_path,
        ok_empty(),
        2,
        ResponseTemplate::new(500).set_body_string("boom"),
    )
    .await;
    let msgs =
        (0..245).map(|i| ImportMessage::new("alice", format!("{i}"), Timestamp::from_millis(i)));
    let err = client
        .conversations()
        .messages("order 123")
        .import(msgs)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    assert!(err.to_string().contains("resume from item 200"), "{err}");
    let (completed, message_ids, source) = common::incomplete(err);
    assert_eq!(completed, 200);
    assert!(message_ids.is_empty());
    // An import answered 500: its outcome is unknown.
    assert!(
        matches!(&source, Error::UnknownOutcome { cause: source, .. }
            if matches!(**source, Error::Server { .. })),
        "{source:?}"
    );
    let reqs = requests(&server).await;
    assert_eq!(
        reqs.len(),
        3,
        "no chunk after the failing one (retries are off here; tests/retries.rs checks that an import is not retried)"
    );
    assert_eq!(common::json_body(&reqs[2])[0]["text"], "200");
    // A 500 says nothing about the size: still 100 a request.
    assert_eq!(client.import_batch_size(), 100);
}

#[tokio::test]
async fn import_failing_on_the_first_chunk_returns_the_plain_error() {
    let (server, client) = start().await;
    Mock::given(method("POST"))
        .and(path(p("/import/conversations/order%20123/messages")))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
        .expect(2)
        .mount(&server)
        .await;
    let msgs =
        (0..15).map(|i| ImportMessage::new("alice", format!("{i}"), Timestamp::from_millis(i)));
    let err = client
        .conversations()
        .messages("order 123")
        .import(msgs)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BadRequest { .. }), "{err:?}");
    // The 400 to 15 messages may be about the size: the first 10 again, refused too, so the
    // 400 was about a message, and the size stays 100.
    let reqs = requests(&server).await;
    let sizes: Vec<usize> = reqs
        .iter()
        .map(|r| common::json_body(r).as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [15, 10]);
    assert_eq!(client.import_batch_size(), 100);
}

#[tokio::test]
async fn import_refused_at_100_sends_the_same_messages_10_at_a_time() {
    let (server, client) = start().await;
    let import_path = "/import/conversations/order%20123/messages";
    // Refuses the first request (of 12), accepts the rest.
    Mock::given(method("POST"))
        .and(path(p(import_path)))
        .respond_with(ResponseTemplate::new(400))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(&server, "POST", import_path, ok_empty(), 4).await;
    let msgs =
        (0..32).map(|i| ImportMessage::new("alice", format!("{i}"), Timestamp::from_millis(i)));
    let n = client
        .conversations()
        .messages("order 123")
        .import(msgs.clone().take(12))
        .await
        .unwrap();
    assert_eq!(n, 12);
    // Every part landed: the size was the problem, and the client remembers it.
    assert_eq!(client.import_batch_size(), 10);
    client
        .conversations()
        .messages("order 123")
        .import(msgs.skip(12))
        .await
        .unwrap();
    let texts: Vec<Vec<String>> = requests(&server)
        .await
        .iter()
        .map(|r| {
            common::json_body(r)
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["text"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    let range = |r: std::ops::Range<usize>| r.map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(
        texts,
        [
            range(0..12),
            range(0..10),
            range(10..12),
            range(12..22),
            range(22..32)
        ]
    );
}
