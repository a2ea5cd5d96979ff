//! What a new user writes first compiles as written: user and system messages in one list
//! without `.into()`, the builder methods chained on `NewMessage::user`/`system`, and
//! `custom(...)` taking any list of pairs, like `email(...)` and `participants(...)` do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use serde_json::json;
use talkjs_models::{
    ConversationUpsert, Custom, ImportMessage, MessageEdit, NewMessage, NewSystemMessage,
    NewUserMessage, Timestamp, UserUpsert,
};

#[test]
fn user_and_system_messages_share_one_list_as_they_are() {
    let batch = [
        NewMessage::user("alice", "Hi Bob!")
            .idempotency_key("k1")
            .referenced_message_id("msg_0")
            .location(52.5, 13.25)
            .attachment_token("att_1")
            .custom_field("a", "1"),
        NewMessage::system("Alice joined")
            .idempotency_key("k2")
            .custom([("kind", "join")]),
    ];
    assert_eq!(
        serde_json::to_value(&batch).unwrap(),
        json!([
            {
                "type": "UserMessage", "sender": "alice", "text": "Hi Bob!",
                "referencedMessageId": "msg_0", "custom": {"a": "1"},
                "idempotencyKey": "k1", "attachmentToken": "att_1", "location": [52.5, 13.25]
            },
            { "type": "SystemMessage", "text": "Alice joined", "custom": {"kind": "join"}, "idempotencyKey": "k2" }
        ])
    );
    assert!(batch.iter().all(NewMessage::has_idempotency_key));
    // The constructors give what the typed builders give.
    assert_eq!(
        NewMessage::user("alice", "hi"),
        NewMessage::from(NewUserMessage::new("alice", "hi"))
    );
    assert_eq!(
        NewMessage::system("note"),
        NewMessage::from(NewSystemMessage::new("note"))
    );
}

#[test]
fn user_only_settings_leave_a_system_message_unchanged() {
    let system = NewMessage::system("Alice joined");
    assert_eq!(
        system
            .clone()
            .referenced_message_id("msg_0")
            .location(1.0, 2.0),
        system
    );
}

#[test]
fn custom_takes_any_list_of_pairs_everywhere() {
    let expected: Custom = Custom::from([
        ("plan".to_owned(), "pro".to_owned()),
        ("tier".to_owned(), "2".to_owned()),
    ]);
    let pairs = [("plan", "pro"), ("tier", "2")];
    let owned: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let hashed: HashMap<&str, String> = pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();

    // Every builder with custom data, from an array of tuples, a Vec, a HashMap and a Custom.
    let users = [
        UserUpsert::new().custom(pairs),
        UserUpsert::new().custom(owned.clone()),
        UserUpsert::new().custom(hashed.clone()),
        UserUpsert::new().custom(expected.clone()),
    ];
    for user in &users {
        assert_eq!(
            serde_json::to_value(user).unwrap()["custom"],
            json!(expected)
        );
    }
    let conversation = ConversationUpsert::new().custom(pairs);
    assert_eq!(
        serde_json::to_value(&conversation).unwrap()["custom"],
        json!(expected)
    );
    let edit = MessageEdit::new().custom(hashed);
    assert_eq!(
        serde_json::to_value(&edit).unwrap()["custom"],
        json!(expected)
    );
    let import =
        ImportMessage::new("alice", "old", Timestamp::from_millis(1_600_000_000_000)).custom(owned);
    assert_eq!(import.custom, expected);
    assert_eq!(NewUserMessage::new("a", "b").custom(pairs).custom, expected);
    assert_eq!(NewSystemMessage::new("b").custom(pairs).custom, expected);
    assert_eq!(
        serde_json::to_value(NewMessage::user("a", "b").custom(pairs)).unwrap()["custom"],
        json!(expected)
    );
}
