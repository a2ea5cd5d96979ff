//! Response envelopes and small responses: Page, Empty, SentMessage, UploadedFile,
//! ParticipantEmail, Presences, and webhook events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use talkjs_models::{
    Access, ConversationEventData, Empty, MessageEventData, MessageReadData, MessageType,
    NotificationEventData, Notify, Page, ParticipantEmail, Presence, PresenceSession,
    PresenceStatus, Presences, SentMessage, UploadedFile, User, UserEventData, WebhookData,
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
fn presences_decode_sessions_and_answer_questions() {
    let presences: Presences = serde_json::from_value(json!({
        "data": {
            "alice": {
                "status": "online",
                "backgroundSessions": [
                    {"selectedConversationId": null, "custom": {}, "hasFocus": false,
                     "isTyping": false, "sessionId": "bg"}
                ],
                "widgets": [
                    {"selectedConversationId": "c2", "custom": {}, "hasFocus": false,
                     "isTyping": true, "sessionId": "w1"},
                    {"selectedConversationId": "c1", "custom": {"tab": "2"}, "hasFocus": true,
                     "isTyping": false, "sessionId": "w2", "futureField": 1}
                ]
            },
            "bob": {},
            "carol": {"status": "away", "widgets": null}
        }
    }))
    .unwrap();
    let alice = presences.get("alice").unwrap();
    assert!(alice.is_online());
    assert_eq!(alice.status, Some(PresenceStatus::Online));
    assert_eq!(alice.sessions().count(), 3);
    assert_eq!(
        alice
            .sessions()
            .map(|s| s.session_id.as_str())
            .collect::<Vec<_>>(),
        ["w1", "w2", "bg"],
        "widgets first, then background sessions"
    );
    assert!(alice.is_typing());
    assert!(alice.is_typing_in("c2"));
    assert!(
        !alice.is_typing_in("c1"),
        "c1 is selected but nobody types there"
    );
    assert!(alice.has_focus());
    assert_eq!(alice.focused_conversation().unwrap(), "c1");
    assert_eq!(alice.widgets[1].custom["tab"], "2");
    assert_eq!(alice.selected_conversations().count(), 2);

    // A listed user without a status counts as online; another status does not.
    assert!(presences.is_online("bob"));
    assert_eq!(presences.get("bob").unwrap(), &Presence::default());
    assert!(!presences.is_online("carol"));
    assert!(!presences.is_online("dave"));
    assert_eq!(
        presences.online_users().collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert_eq!(presences.typing_in("c2").collect::<Vec<_>>(), ["alice"]);
    assert_eq!(presences.typing_in("c1").count(), 0);

    let none: Presences = serde_json::from_value(json!({"data": null})).unwrap();
    assert!(none.data.is_empty());
}

#[test]
fn presence_session_tolerates_missing_fields_and_round_trips() {
    let session: PresenceSession = serde_json::from_value(json!({})).unwrap();
    assert_eq!(session, PresenceSession::default());
    let built = PresenceSession::new("s1")
        .selected_conversation_id("c1")
        .has_focus(true)
        .is_typing(true);
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        json!({"selectedConversationId": "c1", "custom": {}, "hasFocus": true,
               "isTyping": true, "sessionId": "s1"})
    );
    let presence = Presence::online(vec![], vec![built]);
    assert_eq!(
        serde_json::to_value(&presence).unwrap()["status"],
        json!("online")
    );
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
    let WebhookData::Other(raw) = &event.data else {
        panic!("an unknown type is kept raw: {:?}", event.data)
    };
    assert_eq!(raw.event_type, "reaction.added");
    assert_eq!(raw.data["emoji"], "👍");
    assert_eq!(raw.error, None);

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

#[test]
fn webhook_events_decode_into_typed_variants() {
    let user = json!({"id": "bob", "name": "Bob", "role": "seller", "createdAt": 1});
    let message = json!({"id": "m1", "type": "UserMessage", "conversationId": "c1",
                         "senderId": "alice", "text": "hi", "createdAt": 3});
    let read: WebhookEvent = serde_json::from_value(json!({
        "id": "evt_r", "createdAt": 10, "type": "message.read",
        "data": {"conversation": {"id": "c1", "createdAt": 2}, "message": message,
                 "recipient": user}
    }))
    .unwrap();
    let WebhookData::MessageRead(data) = &read.data else {
        panic!("{:?}", read.data)
    };
    assert_eq!(data.recipient.as_ref().unwrap().id, "bob");
    assert_eq!(data.message.as_ref().unwrap().id, "m1");
    assert_eq!(data.conversation.as_ref().unwrap().id, "c1");
    let typed: MessageReadData = read.data_as().unwrap();
    assert_eq!(&typed, data);

    let created = WebhookEvent::new(WebhookEventType::UserCreated, json!({"user": user}));
    assert!(
        matches!(&created.data, WebhookData::UserCreated(d) if d.user.as_ref().unwrap().id == "bob")
    );
    let updated = WebhookEvent::new(WebhookEventType::UserUpdated, json!({"user": user}));
    assert!(matches!(updated.data, WebhookData::UserUpdated(_)));

    let sent = WebhookEvent::new(
        WebhookEventType::MessageSent,
        json!({"message": message, "sender": {"id": "alice", "name": "A",
               "configuration": "buyer", "createdAt": 1}}),
    );
    let WebhookData::MessageSent(data) = &sent.data else {
        panic!("{:?}", sent.data)
    };
    assert_eq!(
        data.sender.as_ref().unwrap().role.as_deref(),
        Some("buyer"),
        "the older name `configuration` is read as the role"
    );

    for (kind, variant) in [
        (WebhookEventType::MessageUpdated, "updated"),
        (WebhookEventType::MessageDeleted, "deleted"),
    ] {
        let event = WebhookEvent::new(kind, json!({"message": message}));
        let ok = match (&event.data, variant) {
            (WebhookData::MessageUpdated(d), "updated")
            | (WebhookData::MessageDeleted(d), "deleted") => d.message.is_some(),
            _ => false,
        };
        assert!(ok, "{variant}: {:?}", event.data);
    }
    let notification = WebhookEvent::new(WebhookEventType::NotificationOpened, json!(null));
    assert!(matches!(notification.data, WebhookData::Notification(_)));
}

#[test]
fn webhook_known_type_with_undecodable_data_is_kept_raw() {
    let body = json!({
        "id": "evt_x", "type": "message.sent",
        "data": {"message": {"id": 5, "text": ["not", "a", "message"]}}
    });
    let event: WebhookEvent = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(event.event_type, WebhookEventType::MessageSent);
    let WebhookData::Other(raw) = &event.data else {
        panic!("{:?}", event.data)
    };
    assert_eq!(raw.event_type, "message.sent");
    assert!(raw.error.is_some());
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        body,
        "nothing is lost"
    );

    let not_an_object: WebhookEvent =
        serde_json::from_value(json!({"type": "user.created", "data": [1, 2]})).unwrap();
    assert!(matches!(not_an_object.data, WebhookData::Other(_)));

    // The envelope itself must still be an object with a type.
    assert!(serde_json::from_value::<WebhookEvent>(json!({"data": {}})).is_err());
}
