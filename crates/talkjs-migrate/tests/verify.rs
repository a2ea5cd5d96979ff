//! `Migration::verify` beyond messages: users and conversations field by field, and the
//! participants' access and notify settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::Migration;
use talkjs_migrate::talkjs_api::models::{
    Access, ConversationUpsert, ParticipantPatch, UserUpsert,
};
use talkjs_test_support::migrate::{Scratch, client, write_lines};

fn export() -> Vec<String> {
    vec![
        json!({"id": "alice", "name": "Alice", "email": ["alice@example.com"], "role": "buyer",
               "photoUrl": "https://example.com/alice.png", "locale": "en-GB",
               "welcomeMessage": "Hi, Alice here", "custom": {"tier": "gold"}, "createdAt": 1})
        .to_string(),
        json!({"id": "bob", "name": "Bob", "phone": ["+15555550100"], "createdAt": 1}).to_string(),
        json!({"id": "carol", "name": "Carol", "createdAt": 1}).to_string(),
        json!({"id": "c0", "subject": "Order #1", "photoUrl": "https://example.com/c0.png",
               "welcomeMessages": ["Welcome!"], "custom": {"order": "1"}, "createdAt": 1,
               "participants": {
                   "alice": {"access": "ReadWrite", "notify": true},
                   "bob": {"access": "Read", "notify": false},
                   "carol": {"access": "ReadWrite", "notify": "MentionsOnly"}}})
        .to_string(),
        json!({"id": "m1", "type": "UserMessage", "conversationId": "c0", "senderId": "alice",
               "text": "hello", "createdAt": 1000, "readBy": ["bob"]})
        .to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_changed_user_field_and_a_changed_participant_access() {
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("verify");
    let file = dir.path("export.jsonl");
    write_lines(&file, &export());
    let migration = Migration::from_file(&file, client(&fake));
    let report = migration.run().await.expect("run");
    assert!(
        report.is_complete() && report.failed.is_empty(),
        "{report:?}"
    );

    let verify = migration.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");
    assert_eq!(verify.users.len(), 3);
    assert_eq!(verify.conversations.len(), 1);

    // Changed in the target: a user's name and custom data, a participant's access, the
    // subject; and a participant the source does not have.
    let c = client(&fake);
    c.users()
        .upsert(
            "alice",
            &UserUpsert::new()
                .name("Alicia")
                .custom_field("tier", "silver"),
        )
        .await
        .expect("rename");
    c.users()
        .upsert("dave", &UserUpsert::new().name("Dave"))
        .await
        .expect("dave");
    c.conversations()
        .participants("c0")
        .modify("bob", &ParticipantPatch::new().access(Access::ReadWrite))
        .await
        .expect("bob may write");
    c.conversations()
        .upsert(
            "c0",
            &ConversationUpsert::new()
                .subject("Order #2")
                .participants(["dave"]),
        )
        .await
        .expect("subject, dave");

    let verify = migration.verify().await.expect("verify");
    assert!(!verify.matches());
    let users: Vec<_> = verify.mismatched_users().collect();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].user, "alice");
    let fields: Vec<(&str, &str, &str)> = users[0]
        .mismatches
        .iter()
        .map(|f| (f.field.as_str(), f.expected.as_str(), f.found.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("name", "Alice", "Alicia"),
            ("custom", r#"{"tier":"gold"}"#, r#"{"tier":"silver"}"#),
        ]
    );

    let conversations: Vec<_> = verify.mismatched().collect();
    assert_eq!(conversations.len(), 1);
    let c0 = conversations[0];
    assert!(c0.mismatches.is_empty(), "the messages match: {c0:?}");
    let fields: Vec<(&str, &str, &str)> = c0
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.expected.as_str(), f.found.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("subject", "Order #1", "Order #2"),
            ("participants.bob.access", "Read", "ReadWrite"),
            ("participants.dave", "", "ReadWrite, notify true"),
        ]
    );
}
