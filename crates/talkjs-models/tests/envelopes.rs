//! Response envelopes and small responses: Page, Empty, SentMessage, UploadedFile,
//! ParticipantEmail, Presences, and webhook events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use talkjs_models::{
    Access, ConversationEventData, Empty, MessageEventData, MessageType, NotificationEventData,
    Notify, Page, ParticipantEmail, Presences, SentMessage, UploadedFile, User, UserEventData,
    WebhookEvent, WebhookEventType,
};

#[test]
fn page_tolerates_sibling_fields_and_requires_data() {
    let page: Page<User> = serde_json::from_value(json!({
        "data": [{"id": "a", "name": "A", "createdAt": 1}],
        "next": "cursor",
        "total": 99
    }))
    .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.into_data()[0].id, "a");

    let empty: Page<User> = serde_json::from_value(json!({"data": []})).unwrap();
    assert!(empty.data.is_empty());

    assert!(serde_json::from_value::<Page<User>>(json!({"error": "x"})).is_err());
}

#[test]
fn empty_accepts_any_object_and_writes_braces() {
    serde_json::from_str::<Empty>("{}").unwrap();
    serde_json::from_str::<Empty>(r#"{"ok":true,"nested":{"a":[1]}}"#).unwrap();
    serde_json::from_str::<Empty>("null").unwrap();
    assert_eq!(serde_json::to_string(&Empty).unwrap(), "{}");
    assert!(
        serde_json::from_str::<Empty>("{").is_err(),
        "malformed JSON still fails"
    );
}

#[test]
fn small_responses() {
    let sent: Vec<SentMessage> =
        serde_json::from_str(r#"[{"id":"msg_a"},{"id":"msg_b","extra":1}]"#).unwrap();
    assert_eq!(sent, [SentMessage::new("msg_a"), SentMessage::new("msg_b")]);

    let file: UploadedFile = serde_json::from_str(r#"{"attachmentToken":"tok_1"}"#).unwrap();
    assert_eq!(file, UploadedFile::new("tok_1"));

    let email: ParticipantEmail =
        serde_json::from_str(r#"{"emailAddress":"reply+abc@talkjs.example"}"#).unwrap();
    assert_eq!(email.email_address, "reply+abc@talkjs.example");
    assert_eq!(
        serde_json::to_string(&ParticipantEmail::new("x@y")).unwrap(),
        r#"{"emailAddress":"x@y"}"#
    );
}

#[test]
fn presences_keep_unknown_fields() {
    let presences: Presences = serde_json::from_value(json!({
        "data": {
            "alice": {"hasFocus": true, "isTyping": false, "selectedConversationId": "c1",
                      "sessions": 2},
            "bob": {}
        }
    }))
    .unwrap();
    let alice = &presences.data["alice"];
    assert_eq!(alice.has_focus, Some(true));
    assert_eq!(alice.is_typing, Some(false));
    assert_eq!(alice.selected_conversation_id.as_ref().unwrap(), "c1");
    assert_eq!(alice.extra["sessions"], 2);
    assert_eq!(presences.data["bob"].has_focus, None);

    let none: Presences = serde_json::from_value(json!({"data": null})).unwrap();
    assert!(none.data.is_empty());
}

#[test]
fn webhook_payload_with_null_participant_settings_decodes() {
    let event: WebhookEvent = serde_json::from_value(json!({
        "id": "evt_1",
        "createdAt": 1_700_000_010_500_u64,
        "type": "message.sent",
        "data": {
            "conversation": {
                "id": "c1",
                "participants": {"alice": {"access": null, "notify": null}},
                "createdAt": 5
            }
        }
    }))
    .unwrap();
    let data: MessageEventData = event.data_as().unwrap();
    let alice = &data.conversation.unwrap().participants["alice"];
    assert_eq!(alice.access, Access::ReadWrite);
    assert_eq!(alice.notify, Notify::All);
}

#[test]
fn webhook_message_sent_decodes_into_typed_payload() {
    let event: WebhookEvent =
        serde_json::from_str(include_str!("fixtures/webhook_message_sent.json")).unwrap();
    assert_eq!(event.id.as_deref(), Some("evt_AVZhMcmIcZ1XcqJCsd"));
    assert_eq!(event.created_at.unwrap().as_millis(), 1_700_000_010_500);
    assert_eq!(event.event_type, WebhookEventType::MessageSent);

    let data: MessageEventData = event.data_as().unwrap();
    let conversation = data.conversation.unwrap();
    assert_eq!(
        conversation.participants["bob"].notify,
        Notify::MentionsOnly
    );
    assert_eq!(conversation.participants["alice"].access, Access::ReadWrite);
    let message = data.message.unwrap();
    assert_eq!(message.message_type, MessageType::UserMessage);
    assert_eq!(message.text.as_deref(), Some("hello"));
    assert_eq!(data.sender.unwrap().name, "Alice");
    assert_eq!(data.extra["extraThing"], 42);
}

#[test]
fn webhook_unknown_type_and_missing_fields() {
    let event: WebhookEvent = serde_json::from_value(json!({
        "type": "reaction.added",
        "data": {"emoji": "👍"}
    }))
    .unwrap();
    assert_eq!(
        event.event_type,
        WebhookEventType::Other("reaction.added".to_owned())
    );
    assert_eq!(event.event_type.as_str(), "reaction.added");
    assert_eq!(event.id, None);
    assert_eq!(event.created_at, None);
    assert_eq!(event.data["emoji"], "👍");

    let value = serde_json::to_value(&event).unwrap();
    assert_eq!(
        value,
        json!({"type": "reaction.added", "data": {"emoji": "👍"}})
    );
}

#[test]
fn webhook_event_types_round_trip() {
    for name in [
        "user.created",
        "user.updated",
        "message.sent",
        "message.read",
        "message.updated",
        "message.deleted",
        "conversation.deleted",
        "notification.triggered",
        "notification.sent",
        "notification.delivered",
        "notification.bounced",
        "notification.opened",
        "notification.link.clicked",
    ] {
        let parsed = WebhookEventType::from(name);
        assert!(
            !matches!(parsed, WebhookEventType::Other(_)),
            "{name} is known"
        );
        assert_eq!(parsed.as_str(), name);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json!(name));
    }
}

#[test]
fn other_webhook_payloads_are_tolerant() {
    let user_event = WebhookEvent::new(
        WebhookEventType::UserUpdated,
        json!({"user": {"id": "alice", "name": "Alice", "createdAt": 1}}),
    );
    let data: UserEventData = user_event.data_as().unwrap();
    assert_eq!(data.user.unwrap().id, "alice");

    let deleted = WebhookEvent::new(
        WebhookEventType::ConversationDeleted,
        json!({"conversation": {"id": "c1", "createdAt": 2}}),
    );
    let data: ConversationEventData = deleted.data_as().unwrap();
    assert_eq!(data.conversation.unwrap().id, "c1");

    let notification = WebhookEvent::new(
        WebhookEventType::NotificationTriggered,
        json!({
            "recipient": {"id": "bob", "name": "Bob", "createdAt": 1},
            "messages": [{"id": "m1", "type": "UserMessage", "conversationId": "c1",
                          "createdAt": 3}],
            "notificationId": "n_1"
        }),
    );
    let data: NotificationEventData = notification.data_as().unwrap();
    assert_eq!(data.recipient.unwrap().id, "bob");
    assert_eq!(data.messages.len(), 1);
    assert_eq!(data.conversation, None);
    assert_eq!(data.extra["notificationId"], "n_1");

    let empty: MessageEventData = WebhookEvent::new(WebhookEventType::MessageRead, json!({}))
        .data_as()
        .unwrap();
    assert_eq!(empty, MessageEventData::default());
}
