//! The exact JSON each request body produces, including the three states of [`Patch`]
//! fields, and decoding of request bodies (as a server would).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use talkjs_models::{
    Access, ConversationUpsert, Custom, ImportMessage, MessageEdit, NewMessage, NewSystemMessage,
    NewUserMessage, Notify, ParticipantOverwrite, ParticipantPatch, Patch, PresenceQuery,
    Timestamp, UserUpsert,
};

fn to_json<T: serde::Serialize>(body: &T) -> String {
    serde_json::to_string(body).unwrap()
}

#[test]
fn patch_three_states_on_the_wire() {
    assert_eq!(to_json(&UserUpsert::new()), "{}");
    assert_eq!(
        to_json(&UserUpsert::new().name("Alice").clear_email()),
        r#"{"name":"Alice","email":null}"#
    );
    assert_eq!(
        to_json(&UserUpsert::new().email(["a@x.io", "b@x.io"])),
        r#"{"email":["a@x.io","b@x.io"]}"#
    );
}

#[test]
fn patch_decodes_missing_null_and_value() {
    let body: UserUpsert =
        serde_json::from_str(r#"{"name":"Alice","email":null,"somethingElse":1}"#).unwrap();
    assert_eq!(body.name, Patch::Set("Alice".to_owned()));
    assert_eq!(body.email, Patch::Clear);
    assert_eq!(body.phone, Patch::Unchanged);
    assert_eq!(body.custom, Patch::Unchanged);
    assert_eq!(
        serde_json::from_str::<UserUpsert>("{}").unwrap(),
        UserUpsert::new()
    );
}

#[test]
fn serializing_unchanged_directly_is_an_error_not_null() {
    let err = serde_json::to_string(&Patch::<String>::Unchanged).unwrap_err();
    assert!(err.to_string().contains("skip"), "{err}");
    assert_eq!(
        serde_json::to_string(&Patch::<String>::Clear).unwrap(),
        "null"
    );
    assert_eq!(serde_json::to_string(&Patch::Set(3)).unwrap(), "3");
}

#[test]
fn patch_helpers() {
    let mut stored = Some(1);
    Patch::Unchanged.apply_to(&mut stored);
    assert_eq!(stored, Some(1));
    Patch::Set(2).apply_to(&mut stored);
    assert_eq!(stored, Some(2));
    Patch::Clear.apply_to(&mut stored);
    assert_eq!(stored, None);

    assert_eq!(Patch::Set(5).as_set(), Some(&5));
    assert_eq!(Patch::<i32>::Clear.as_set(), None);
    assert_eq!(Patch::<i32>::Unchanged.into_option(), None);
    assert_eq!(Patch::<i32>::Clear.into_option(), Some(None));
    assert!(Patch::<i32>::Clear.is_clear());
    assert_eq!(Patch::from(7), Patch::Set(7));
    assert_eq!(Patch::<i32>::default(), Patch::Unchanged);
}

#[test]
fn user_upsert_every_field_set() {
    let body = UserUpsert::new()
        .name("Alice")
        .email(["alice@example.com"])
        .phone(["+14155550100"])
        .photo_url("https://example.com/a.png")
        .welcome_message("Hi!")
        .locale("en-US")
        .role("buyer")
        .custom_field("plan", "pro")
        .custom_field("country", "nl")
        .push_token("fcm:abc", true)
        .availability_text("Away until Monday");
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({
            "name": "Alice",
            "email": ["alice@example.com"],
            "phone": ["+14155550100"],
            "photoUrl": "https://example.com/a.png",
            "welcomeMessage": "Hi!",
            "locale": "en-US",
            "role": "buyer",
            "custom": {"plan": "pro", "country": "nl"},
            "pushTokens": {"fcm:abc": true},
            "availabilityText": "Away until Monday"
        })
    );
    let again: UserUpsert = serde_json::from_value(serde_json::to_value(&body).unwrap()).unwrap();
    assert_eq!(again, body);
}

#[test]
fn user_upsert_every_field_cleared() {
    let body = UserUpsert::new()
        .clear_email()
        .clear_phone()
        .clear_photo_url()
        .clear_welcome_message()
        .clear_locale()
        .clear_role()
        .clear_custom()
        .clear_push_tokens()
        .clear_availability_text();
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({
            "email": null,
            "phone": null,
            "photoUrl": null,
            "welcomeMessage": null,
            "locale": null,
            "role": null,
            "custom": null,
            "pushTokens": null,
            "availabilityText": null
        })
    );
}

#[test]
fn user_upsert_custom_map_and_fields() {
    let map = Custom::from([("a".to_owned(), "1".to_owned())]);
    assert_eq!(
        to_json(&UserUpsert::new().custom(map).custom_field("b", "2")),
        r#"{"custom":{"a":"1","b":"2"}}"#
    );
    // A custom field after a clear starts a fresh map: the last call wins.
    assert_eq!(
        to_json(&UserUpsert::new().clear_custom().custom_field("b", "2")),
        r#"{"custom":{"b":"2"}}"#
    );
    assert_eq!(
        to_json(&UserUpsert::new().custom_field("b", "2").clear_custom()),
        r#"{"custom":null}"#
    );
}

#[test]
fn user_upsert_push_tokens_register_and_unregister() {
    let body = UserUpsert::new()
        .push_token("fcm:one", true)
        .remove_push_token("apns:two")
        .push_token("fcm:three", false);
    assert_eq!(
        to_json(&body),
        r#"{"pushTokens":{"apns:two":null,"fcm:one":true,"fcm:three":null}}"#
    );
    let decoded: UserUpsert = serde_json::from_str(&to_json(&body)).unwrap();
    let tokens = decoded.push_tokens.as_set().unwrap();
    assert_eq!(tokens["fcm:one"], Some(true));
    assert_eq!(tokens["apns:two"], None);
}

#[test]
fn batch_user_upsert_is_a_map_of_bodies() {
    let batch = BTreeMap::from([
        ("alice", UserUpsert::new().name("Alice")),
        ("bob", UserUpsert::new().clear_locale()),
    ]);
    assert_eq!(
        to_json(&batch),
        r#"{"alice":{"name":"Alice"},"bob":{"locale":null}}"#
    );
}

#[test]
fn conversation_upsert_participants_are_omitted_when_empty_never_null() {
    assert_eq!(to_json(&ConversationUpsert::new()), "{}");
    assert_eq!(
        to_json(&ConversationUpsert::new().participants(Vec::<String>::new())),
        "{}"
    );
    assert_eq!(
        to_json(
            &ConversationUpsert::new()
                .participants(["alice"])
                .participant("bob")
                .subject("Order #1")
                .photo_url("https://example.com/c.png")
                .welcome_messages(["Welcome!"])
                .custom_field("category", "shoes")
        ),
        r#"{"participants":["alice","bob"],"subject":"Order #1","photoUrl":"https://example.com/c.png","welcomeMessages":["Welcome!"],"custom":{"category":"shoes"}}"#
    );
    assert_eq!(
        to_json(
            &ConversationUpsert::new()
                .clear_subject()
                .clear_photo_url()
                .clear_welcome_messages()
                .clear_custom()
        ),
        r#"{"subject":null,"photoUrl":null,"welcomeMessages":null,"custom":null}"#
    );
}

#[test]
fn conversation_upsert_decodes_null_participants_as_empty() {
    let body: ConversationUpsert =
        serde_json::from_str(r#"{"participants":null,"subject":null}"#).unwrap();
    assert!(body.participants.is_empty());
    assert_eq!(body.subject, Patch::Clear);
    assert_eq!(body.custom, Patch::Unchanged);
}

#[test]
fn participant_overwrite_and_patch_bodies() {
    assert_eq!(to_json(&ParticipantOverwrite::new()), "{}");
    assert_eq!(
        to_json(&ParticipantOverwrite::new().access(Access::Read)),
        r#"{"access":"Read"}"#
    );
    assert_eq!(
        to_json(
            &ParticipantOverwrite::new()
                .access(Access::ReadWrite)
                .notify(Notify::MentionsOnly)
        ),
        r#"{"access":"ReadWrite","notify":"MentionsOnly"}"#
    );
    assert_eq!(
        to_json(&ParticipantPatch::new().notify(Notify::Off)),
        r#"{"notify":false}"#
    );
    assert_eq!(
        to_json(&ParticipantPatch::new().notify(Notify::All)),
        r#"{"notify":true}"#
    );
    assert_eq!(
        to_json(&ParticipantPatch::new().access(Access::None)),
        r#"{"access":"None"}"#
    );
    let decoded: ParticipantPatch = serde_json::from_str(r#"{"notify":"MentionsOnly"}"#).unwrap();
    assert_eq!(decoded.access, None);
    assert_eq!(decoded.notify, Some(Notify::MentionsOnly));
}

#[test]
fn new_messages_user_and_system() {
    let user = NewMessage::user("alice", "hi there")
        .idempotency_key("order-1-msg-1")
        .attachment_token("att_1")
        .custom_field("kind", "greeting")
        .referenced_message_id("msg_0")
        .location(52.37, 4.9);
    let system = NewMessage::system("Alice joined")
        .idempotency_key("sys-1")
        .attachment_token("att_2")
        .custom_field("kind", "join");
    let batch: Vec<NewMessage> = vec![user, system];
    assert_eq!(
        serde_json::to_value(&batch).unwrap(),
        json!([
            {
                "type": "UserMessage",
                "sender": "alice",
                "text": "hi there",
                "referencedMessageId": "msg_0",
                "custom": {"kind": "greeting"},
                "idempotencyKey": "order-1-msg-1",
                "attachmentToken": "att_1",
                "location": [52.37, 4.9]
            },
            {
                "type": "SystemMessage",
                "text": "Alice joined",
                "custom": {"kind": "join"},
                "idempotencyKey": "sys-1",
                "attachmentToken": "att_2"
            }
        ])
    );
    assert!(batch[0].has_idempotency_key());
    assert!(batch[1].has_idempotency_key());

    let decoded: Vec<NewMessage> =
        serde_json::from_value(serde_json::to_value(&batch).unwrap()).unwrap();
    assert_eq!(decoded, batch);
}

#[test]
fn new_message_minimal_has_no_optional_fields() {
    let user: NewMessage = NewUserMessage::new("alice", "hi").into();
    assert_eq!(
        to_json(&user),
        r#"{"type":"UserMessage","sender":"alice","text":"hi"}"#
    );
    assert!(!user.has_idempotency_key());
    let system: NewMessage = NewSystemMessage::new("note")
        .custom(Custom::from([("a".to_owned(), "b".to_owned())]))
        .into();
    assert_eq!(
        to_json(&system),
        r#"{"type":"SystemMessage","text":"note","custom":{"a":"b"}}"#
    );
}

#[test]
fn new_message_decoding_rejects_unknown_type() {
    let err =
        serde_json::from_str::<NewMessage>(r#"{"type":"BotMessage","text":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("BotMessage"), "{err}");
    let system: NewMessage =
        serde_json::from_str(r#"{"type":"SystemMessage","text":"x"}"#).unwrap();
    assert!(matches!(system, NewMessage::System(ref m) if m.text == "x"));
}

#[test]
fn message_edit_body() {
    assert_eq!(to_json(&MessageEdit::new()), "{}");
    assert_eq!(
        to_json(&MessageEdit::new().text("fixed")),
        r#"{"text":"fixed"}"#
    );
    assert_eq!(
        to_json(&MessageEdit::new().custom_field("edited", "yes")),
        r#"{"custom":{"edited":"yes"}}"#
    );
    assert_eq!(
        to_json(&MessageEdit::new().text("t").clear_custom()),
        r#"{"text":"t","custom":null}"#
    );
}

#[test]
fn import_message_always_sends_type_and_read_by() {
    let item = ImportMessage::new("alice", "old", Timestamp::from_millis(1_600_000_000_000));
    assert_eq!(
        to_json(&item),
        r#"{"type":"UserMessage","sender":"alice","text":"old","timestamp":1600000000000,"readBy":[]}"#
    );
    let full = item
        .read_by(["bob", "carol"])
        .attachment_token("att_9")
        .custom_field("source", "zendesk");
    assert_eq!(
        serde_json::to_value(&full).unwrap(),
        json!({
            "type": "UserMessage",
            "sender": "alice",
            "text": "old",
            "timestamp": 1_600_000_000_000_u64,
            "readBy": ["bob", "carol"],
            "attachmentToken": "att_9",
            "custom": {"source": "zendesk"}
        })
    );
    let again: ImportMessage =
        serde_json::from_value(serde_json::to_value(&full).unwrap()).unwrap();
    assert_eq!(again, full);
}

#[test]
fn import_message_decoding_accepts_only_user_messages() {
    let err = serde_json::from_value::<ImportMessage>(json!({
        "type": "SystemMessage", "sender": "a", "text": "t", "timestamp": 1, "readBy": []
    }))
    .unwrap_err();
    assert!(err.to_string().contains("UserMessage"), "{err}");
}

#[test]
fn presence_query_body() {
    assert_eq!(to_json(&PresenceQuery::new()), "{}");
    let q = PresenceQuery::new()
        .include_background_sessions(true)
        .selected_conversation_id("c1")
        .has_focus(false)
        .is_typing(true)
        .user_ids(["alice", "bob"]);
    assert_eq!(
        serde_json::to_value(&q).unwrap(),
        json!({
            "includeBackgroundSessions": true,
            "selectedConversationId": "c1",
            "hasFocus": false,
            "isTyping": true,
            "userIds": ["alice", "bob"]
        })
    );

    // "Online with no conversation selected" is an explicit null, unlike leaving it out.
    let idle = PresenceQuery::new().no_conversation_selected();
    assert_eq!(to_json(&idle), r#"{"selectedConversationId":null}"#);
    let decoded: PresenceQuery =
        serde_json::from_str(r#"{"selectedConversationId":null}"#).unwrap();
    assert_eq!(decoded, idle);
    let decoded: PresenceQuery = serde_json::from_str("{}").unwrap();
    assert_eq!(decoded.selected_conversation_id, Patch::Unchanged);
    // The last setter wins.
    assert_eq!(
        to_json(
            &PresenceQuery::new()
                .no_conversation_selected()
                .selected_conversation_id("c9")
        ),
        r#"{"selectedConversationId":"c9"}"#
    );
}

#[test]
fn bodies_never_contain_nulls_unless_cleared() {
    // Setting values only must produce no `null` anywhere.
    let body = serde_json::to_value(UserUpsert::new().name("A").locale("nl")).unwrap();
    let Value::Object(map) = body else {
        panic!("not an object")
    };
    assert!(map.values().all(|v| !v.is_null()));
}
