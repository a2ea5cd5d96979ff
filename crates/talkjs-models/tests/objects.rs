//! Decoding of the response objects (User, Conversation, UserConversation, Message) from
//! JSON in the documented shapes, including nulls, missing optionals, unknown fields and
//! unknown enum values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use talkjs_models::{
    Access, Conversation, Location, Message, MessageOrigin, MessageType, Notify, Page, Timestamp,
    User, UserConversation,
};

#[test]
fn user_full_fixture_with_nulls_and_unknown_fields() {
    let user: User = serde_json::from_str(include_str!("fixtures/user.json")).unwrap();
    assert_eq!(user.id, "alice");
    assert_eq!(user.name, "Alice");
    assert_eq!(
        user.email.as_deref(),
        Some(&["alice@example.com".to_owned(), "a@example.org".to_owned()][..])
    );
    assert_eq!(user.phone, None);
    assert_eq!(
        user.photo_url.as_deref(),
        Some("https://example.com/alice.png")
    );
    assert_eq!(user.header_photo_url, None);
    assert_eq!(user.role.as_deref(), Some("default"));
    assert_eq!(user.welcome_message, None);
    assert_eq!(user.custom.get("plan").map(String::as_str), Some("pro"));
    assert_eq!(user.custom.len(), 2);
    assert_eq!(user.locale.as_deref(), Some("en-US"));
    assert_eq!(user.availability_text, None);
    assert_eq!(user.created_at, Timestamp::from_millis(1_700_000_000_123));
    assert_eq!(user.push_tokens.unwrap()["fcm:tok1"], json!(true));
}

#[test]
fn user_minimal_missing_optionals_and_null_custom() {
    let user: User = serde_json::from_value(json!({
        "id": "bob",
        "name": "Bob",
        "email": null,
        "custom": null,
        "createdAt": 1
    }))
    .unwrap();
    assert_eq!(user.id, "bob");
    assert_eq!(user.email, None);
    assert!(user.custom.is_empty());
    assert_eq!(user.phone, None);
    assert_eq!(user.role, None);
    assert_eq!(user.push_tokens, None);
    assert_eq!(user, User::new("bob", "Bob", Timestamp::from_millis(1)));
}

#[test]
fn user_without_id_is_an_error() {
    let err = serde_json::from_value::<User>(json!({"name": "x", "createdAt": 1})).unwrap_err();
    assert!(err.to_string().contains("id"), "{err}");
}

#[test]
fn user_round_trips() {
    let user: User = serde_json::from_str(include_str!("fixtures/user.json")).unwrap();
    let again: User = serde_json::from_value(serde_json::to_value(&user).unwrap()).unwrap();
    assert_eq!(again, user);
}

#[test]
fn conversation_participants_access_and_notify() {
    let conv: Conversation =
        serde_json::from_str(include_str!("fixtures/conversation.json")).unwrap();
    assert_eq!(conv.id, "order_1234");
    assert_eq!(conv.subject.as_deref(), Some("Order #1234"));
    assert_eq!(conv.topic_id, None);
    assert_eq!(
        conv.welcome_messages,
        Some(vec!["Welcome!".to_owned(), "Ask us anything.".to_owned()])
    );
    assert_eq!(conv.custom["category"], "shoes");
    assert_eq!(conv.created_at.as_millis(), 1_700_000_000_000);
    assert_eq!(conv.participants.len(), 4);

    let alice = &conv.participants["alice"];
    assert_eq!(alice.access, Access::ReadWrite);
    assert_eq!(alice.notify, Notify::All);
    assert_eq!(alice.is_unread, Some(false));

    let bob = &conv.participants["bob"];
    assert_eq!(bob.access, Access::Read);
    assert_eq!(bob.notify, Notify::Off);
    assert_eq!(
        bob.joined_at,
        Some(Timestamp::from_millis(1_700_000_000_500))
    );
    assert_eq!(bob.is_unread, None);

    let carol = &conv.participants["carol"];
    assert_eq!(carol.notify, Notify::MentionsOnly);
    assert_eq!(carol.is_unread, Some(true));

    let dave = &conv.participants["dave"];
    assert_eq!(dave.access, Access::Other("Admin".to_owned()));
    assert_eq!(dave.notify, Notify::Other("Digest".to_owned()));

    let last = conv.last_message.as_ref().unwrap();
    assert_eq!(last.id, "msg_2");
    assert_eq!(last.referenced_message_id.as_ref().unwrap(), "msg_1");
}

#[test]
fn conversation_round_trip_keeps_unknown_enum_values() {
    let conv: Conversation =
        serde_json::from_str(include_str!("fixtures/conversation.json")).unwrap();
    let value = serde_json::to_value(&conv).unwrap();
    assert_eq!(value["participants"]["dave"]["access"], "Admin");
    assert_eq!(value["participants"]["dave"]["notify"], "Digest");
    assert_eq!(value["participants"]["carol"]["notify"], "MentionsOnly");
    assert_eq!(value["participants"]["bob"]["notify"], false);
    assert_eq!(value["participants"]["alice"]["notify"], true);
    assert_eq!(value["participants"]["alice"]["access"], "ReadWrite");
    assert!(value.get("unknownTopLevel").is_none());
    let again: Conversation = serde_json::from_value(value).unwrap();
    assert_eq!(again, conv);
}

#[test]
fn conversation_nulls_decode_as_empty() {
    let conv: Conversation = serde_json::from_value(json!({
        "id": "c1",
        "custom": null,
        "participants": null,
        "lastMessage": null,
        "welcomeMessages": null,
        "createdAt": 5
    }))
    .unwrap();
    assert!(conv.custom.is_empty());
    assert!(conv.participants.is_empty());
    assert_eq!(conv.last_message, None);
    assert_eq!(conv.welcome_messages, None);
    assert_eq!(conv, Conversation::new("c1", Timestamp::from_millis(5)));
}

#[test]
fn participant_without_settings_gets_server_defaults() {
    let conv: Conversation = serde_json::from_value(json!({
        "id": "c1",
        "participants": {"alice": {}},
        "createdAt": 5
    }))
    .unwrap();
    assert_eq!(conv.participants["alice"].access, Access::ReadWrite);
    assert_eq!(conv.participants["alice"].notify, Notify::All);
}

#[test]
fn participant_null_access_and_notify_get_server_defaults() {
    let conv: Conversation = serde_json::from_value(json!({
        "id": "c1",
        "participants": {
            "alice": {"access": null, "notify": null},
            "bob": {"access": null, "notify": false},
            "carol": {"access": "Read", "notify": null, "isUnread": true}
        },
        "createdAt": 5
    }))
    .unwrap();
    let alice = &conv.participants["alice"];
    assert_eq!(alice.access, Access::ReadWrite);
    assert_eq!(alice.notify, Notify::All);
    assert_eq!(conv.participants["bob"].access, Access::ReadWrite);
    assert_eq!(conv.participants["bob"].notify, Notify::Off);
    let carol = &conv.participants["carol"];
    assert_eq!(carol.access, Access::Read);
    assert_eq!(carol.notify, Notify::All);
    assert_eq!(carol.is_unread, Some(true));

    // Written back, the defaults are explicit values and decode the same.
    let value = serde_json::to_value(&conv).unwrap();
    assert_eq!(value["participants"]["alice"]["access"], "ReadWrite");
    assert_eq!(value["participants"]["alice"]["notify"], true);
    let again: Conversation = serde_json::from_value(value).unwrap();
    assert_eq!(again, conv);
}

#[test]
fn list_page_with_null_participant_settings_decodes() {
    let page: Page<UserConversation> = serde_json::from_value(json!({
        "data": [{
            "id": "c1",
            "participants": {"alice": {"access": null, "notify": null}},
            "createdAt": 10,
            "isUnread": false
        }]
    }))
    .unwrap();
    let alice = &page.data[0].conversation.participants["alice"];
    assert_eq!(alice.access, Access::ReadWrite);
    assert_eq!(alice.notify, Notify::All);
    assert_eq!(page.data[0].is_unread, Some(false));
}

#[test]
fn participant_with_wrong_type_settings_is_still_an_error() {
    let err = serde_json::from_value::<Conversation>(json!({
        "id": "c1",
        "participants": {"alice": {"access": 3}},
        "createdAt": 5
    }))
    .unwrap_err();
    assert!(err.to_string().contains("string"), "{err}");
}

#[test]
fn notify_rejects_non_bool_non_string() {
    let err = serde_json::from_value::<Notify>(json!(3)).unwrap_err();
    assert!(err.to_string().contains("boolean"), "{err}");
}

#[test]
fn user_conversation_list_item_has_user_specific_fields() {
    let page: Page<UserConversation> = serde_json::from_value(json!({
        "data": [
            {
                "id": "c1",
                "subject": "Hi",
                "participants": {"alice": {"access": "ReadWrite", "notify": true}},
                "createdAt": 10,
                "isUnread": true,
                "readUntil": 9,
                "unreadMessageCount": 2,
                "somethingNew": "x"
            },
            {"id": "c2", "createdAt": 11}
        ]
    }))
    .unwrap();
    let first = &page.data[0];
    assert_eq!(first.conversation.id, "c1");
    assert_eq!(first.conversation.subject.as_deref(), Some("Hi"));
    assert_eq!(first.conversation.participants.len(), 1);
    assert_eq!(first.is_unread, Some(true));
    assert_eq!(first.read_until, Some(Timestamp::from_millis(9)));
    assert_eq!(first.unread_message_count, Some(2));
    let second = &page.data[1];
    assert_eq!(second.is_unread, None);
    assert_eq!(second.conversation.created_at.as_millis(), 11);

    // Serialized flat again, with the conversation fields at the top level.
    let value = serde_json::to_value(first).unwrap();
    assert_eq!(value["id"], "c1");
    assert_eq!(value["isUnread"], true);
    assert_eq!(value["readUntil"], 9);
    let again: UserConversation = serde_json::from_value(value).unwrap();
    assert_eq!(&again, first);
}

#[test]
fn messages_user_system_and_unknown_type() {
    let page: Page<Message> =
        serde_json::from_str(include_str!("fixtures/messages_page.json")).unwrap();
    assert_eq!(page.data.len(), 3);

    let user_msg = &page.data[0];
    assert_eq!(user_msg.message_type, MessageType::UserMessage);
    assert_eq!(user_msg.conversation_id, "order_1234");
    assert_eq!(user_msg.sender_id.as_ref().unwrap(), "alice");
    assert_eq!(user_msg.text.as_deref(), Some("here is the receipt"));
    let attachment = user_msg.attachment.as_ref().unwrap();
    assert_eq!(attachment.url, "https://cdn.example.com/receipt.pdf");
    assert_eq!(attachment.size, Some(20480));
    assert_eq!(user_msg.location, Some(Location::new(52.3676, 4.9041)));
    assert_eq!(user_msg.origin, Some(MessageOrigin::Rest));
    assert_eq!(user_msg.read_by, ["bob", "carol"]);
    assert_eq!(
        user_msg.edited_at,
        Some(Timestamp::from_millis(1_700_000_011_000))
    );
    assert_eq!(user_msg.custom["kind"], "receipt");
    assert_eq!(user_msg.referenced_message_id, None);

    let system = &page.data[1];
    assert_eq!(system.message_type, MessageType::SystemMessage);
    assert_eq!(system.sender_id, None);
    assert_eq!(system.origin, Some(MessageOrigin::Import));
    assert!(system.read_by.is_empty());
    assert!(system.custom.is_empty());
    assert_eq!(system.attachment, None);
    assert_eq!(system.location, None);

    let unknown = &page.data[2];
    assert_eq!(
        unknown.message_type,
        MessageType::Other("BotMessage".to_owned())
    );
    assert_eq!(unknown.message_type.as_str(), "BotMessage");
    assert_eq!(unknown.origin, Some(MessageOrigin::Other("sms".to_owned())));
    assert_eq!(unknown.text, None);
}

#[test]
fn message_round_trip_writes_location_as_array() {
    let page: Page<Message> =
        serde_json::from_str(include_str!("fixtures/messages_page.json")).unwrap();
    for message in &page.data {
        let value = serde_json::to_value(message).unwrap();
        let again: Message = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(&again, message);
        if message.id == "msg_3" {
            assert_eq!(value["location"], json!([52.3676, 4.9041]));
            assert_eq!(value["type"], "UserMessage");
            assert_eq!(value["origin"], "rest");
        }
        if message.id == "msg_1" {
            assert_eq!(value["type"], "BotMessage");
        }
    }
}

#[test]
fn location_must_be_a_pair_of_numbers() {
    assert!(serde_json::from_value::<Location>(json!([1.0])).is_err());
    assert!(serde_json::from_value::<Location>(json!(["a", "b"])).is_err());
    assert_eq!(
        serde_json::from_value::<Location>(json!([-33, 151.2])).unwrap(),
        Location::new(-33.0, 151.2)
    );
}

#[test]
fn message_location_null_or_missing_is_none_and_other_shapes_fail() {
    let base = json!({
        "id": "msg_1",
        "type": "UserMessage",
        "conversationId": "c1",
        "createdAt": 1
    });
    let with_location = |location: serde_json::Value| {
        let mut value = base.clone();
        value["location"] = location;
        serde_json::from_value::<Message>(value)
    };

    assert_eq!(with_location(json!(null)).unwrap().location, None);
    assert_eq!(
        serde_json::from_value::<Message>(base.clone())
            .unwrap()
            .location,
        None
    );
    assert_eq!(
        with_location(json!([1.5, -2])).unwrap().location,
        Some(Location::new(1.5, -2.0))
    );
    // The documented shape is `[lat, lon] | null`; anything else is a broken contract.
    assert!(with_location(json!([1.5])).is_err());
    assert!(with_location(json!({"lat": 1.5, "lon": 2.0})).is_err());
}

#[test]
fn string_enums_parse_and_display() {
    assert_eq!(Access::from("None"), Access::None);
    assert_eq!(
        Access::from("Owner".to_owned()),
        Access::Other("Owner".to_owned())
    );
    assert_eq!(Access::Read.to_string(), "Read");
    assert_eq!(MessageOrigin::from("email"), MessageOrigin::Email);
    assert_eq!(MessageOrigin::Web.as_str(), "web");
}

#[test]
fn timestamps_convert_to_and_from_system_time_without_panicking() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    let t = Timestamp::from_millis(1_700_000_000_123);
    let st = SystemTime::try_from(t).unwrap();
    assert_eq!(st, UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
    assert_eq!(Timestamp::try_from(st).unwrap(), t);

    // Any u64 can arrive from the network: the far end converts or fails, never panics
    // (Windows' SystemTime ends in the year 30828; Unix's holds this).
    let far = Timestamp::from_millis(u64::MAX);
    if let Ok(st) = SystemTime::try_from(far) {
        assert_eq!(Timestamp::try_from(st).unwrap(), far);
    }
    assert!(Timestamp::try_from(UNIX_EPOCH - Duration::from_millis(1)).is_err());
}

#[test]
fn message_reactions_of_any_shape_are_kept_as_sent() {
    let base = json!({
        "id": "msg_1",
        "type": "UserMessage",
        "conversationId": "c",
        "senderId": "alice",
        "createdAt": 1
    });
    let with = |reactions: Value| {
        let mut value = base.clone();
        value["reactions"] = reactions;
        serde_json::from_value::<Message>(value).unwrap()
    };
    for shape in [
        json!({ "👍": ["alice", "bob"] }),
        json!([{ "emoji": "👍", "count": 2 }]),
        json!("unexpected"),
    ] {
        let message = with(shape.clone());
        assert_eq!(message.reactions.as_ref(), Some(&shape));
        // Written back as it came.
        assert_eq!(serde_json::to_value(&message).unwrap()["reactions"], shape);
    }
    assert_eq!(with(Value::Null).reactions, None);
    let none: Message = serde_json::from_value(base).unwrap();
    assert_eq!(none.reactions, None);
    // No reactions: no field written.
    assert!(
        serde_json::to_value(&none)
            .unwrap()
            .get("reactions")
            .is_none()
    );
}
