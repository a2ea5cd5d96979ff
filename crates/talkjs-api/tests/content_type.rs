//! Every request the client can make that is not a GET carries `Content-Type:
//! application/json`, with or without a body: TalkJS's REST API introduction says "Only
//! requests with Content-type: application/json are accepted, except for HTTP GET requests".
//! The one exception is the file upload, which is `multipart/form-data` by its nature.
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

use talkjs_test_support::mock_api as common;

use std::collections::BTreeSet;

use common::*;
use serde_json::json;
use talkjs_models::{
    BatchMethod, BatchOperation, ConversationUpsert, ImportMessage, MessageEdit, NewMessage,
    ParticipantOverwrite, ParticipantPatch, PresenceQuery, Timestamp, UserUpsert,
};
use wiremock::matchers::any;
use wiremock::{Mock, Request, ResponseTemplate};

/// Answers each endpoint with the smallest body the client accepts.
fn answer(req: &Request) -> ResponseTemplate {
    let path = req.url.path();
    let body = if path.ends_with("/messages") && req.method.as_str() == "POST" {
        if path.contains("/import/") {
            json!({})
        } else {
            json!([{ "id": "msg_1" }])
        }
    } else if path.ends_with("/presences") {
        json!({ "data": {} })
    } else if path.ends_with("/files") {
        json!({ "attachmentToken": "att_1" })
    } else if path.ends_with("/batch") {
        json!([[1, 200, "{}"]])
    } else {
        json!({})
    };
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn every_non_get_endpoint_sends_the_json_content_type() {
    let (server, client) = start().await;
    Mock::given(any()).respond_with(answer).mount(&server).await;

    let users = client.users();
    users
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    users
        .upsert_many([("bob", UserUpsert::new().name("Bob"))])
        .await
        .unwrap();
    users.presence(&PresenceQuery::new()).await.unwrap();

    let conversations = client.conversations();
    conversations
        .upsert("c1", &ConversationUpsert::new().participants(["alice"]))
        .await
        .unwrap();
    conversations.mark_read("c1", "alice").await.unwrap();
    conversations.delete("c1").await.unwrap();

    let participants = conversations.participants("c1");
    participants
        .join("bob", &ParticipantOverwrite::default())
        .await
        .unwrap();
    participants
        .modify("bob", &ParticipantPatch::default())
        .await
        .unwrap();
    participants.remove("bob").await.unwrap();

    let messages = conversations.messages("c1");
    messages
        .send([NewMessage::user("alice", "hi")])
        .await
        .unwrap();
    messages
        .edit("msg_1", &MessageEdit::new().text("hello"))
        .await
        .unwrap();
    messages.add_reaction("msg_1", "👍", "bob").await.unwrap();
    messages
        .remove_reaction("msg_1", "👍", "bob")
        .await
        .unwrap();
    messages.delete("msg_1").await.unwrap();
    messages
        .import([ImportMessage::new(
            "alice",
            "old",
            Timestamp::from_millis(1_600_000_000_000),
        )])
        .await
        .unwrap();

    client
        .batch()
        .send([BatchOperation::new(
            1,
            BatchMethod::Delete,
            "/conversations/c2",
        )])
        .await
        .unwrap();
    client
        .files()
        .upload("a.txt", "text/plain", &b"hello"[..], None)
        .await
        .unwrap();

    let requests = requests(&server).await;
    let mut seen = BTreeSet::new();
    for req in &requests {
        let method = req.method.as_str();
        let template = talkjs_transport::PathTemplate::derive(req.url.path());
        let content_type = header_once(req, "content-type");
        if template.ends_with("/files") {
            assert!(
                content_type.starts_with("multipart/form-data; boundary="),
                "{content_type}"
            );
        } else {
            assert_eq!(content_type, "application/json", "{method} {template}");
        }
        seen.insert(format!("{method} {template}"));
    }
    let prefix = p("");
    let expected: BTreeSet<String> = [
        "PUT /users/{userId}",
        "PUT /users",
        "POST /presences",
        "PUT /conversations/{conversationId}",
        "POST /conversations/{conversationId}/readBy/{userId}",
        "DELETE /conversations/{conversationId}",
        "PUT /conversations/{conversationId}/participants/{userId}",
        "PATCH /conversations/{conversationId}/participants/{userId}",
        "DELETE /conversations/{conversationId}/participants/{userId}",
        "POST /conversations/{conversationId}/messages",
        "PUT /conversations/{conversationId}/messages/{messageId}",
        "PUT /conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}",
        "DELETE /conversations/{conversationId}/messages/{messageId}/reactions/{emoji}/{userId}",
        "DELETE /conversations/{conversationId}/messages/{messageId}",
        "POST /import/conversations/{conversationId}/messages",
        "POST /batch",
        "POST /files",
    ]
    .iter()
    .map(|line| {
        let (method, path) = line.split_once(' ').unwrap();
        let template = talkjs_transport::PathTemplate::derive(&format!("{prefix}{path}"));
        format!("{method} {template}")
    })
    .collect();
    assert_eq!(seen, expected, "every non-GET endpoint was called once");
}
