//! Contract tests on JSON copied from TalkJS's documentation and official examples
//! (`tests/contract/`, sources in `tests/contract/SOURCES`).
//!
//! Responses: decoded into our models and encoded again, every documented field comes back
//! with its value (a documented `null` may come back missing). Requests: the same body built
//! with our builders is the same JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use talkjs_models::{
    Access, BatchMethod, BatchOperation, ContentBlock, Conversation, ConversationParticipant,
    ConversationUpsert, FileBlock, ImportMessage, LocationBlock, Message, MessageEdit,
    MessageOrigin, MessageType, NewMessage, Notify, Page, ParticipantOverwrite, ParticipantPatch,
    Patch, Presences, ReactionUser, SentMessage, Timestamp, UploadedFile, User, UserUpsert,
};

/// The example at `tests/contract/<name>`, parsed.
fn example(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "contract", name]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks that `ours` holds every field of `doc` with its value (`null` in `doc` may be
/// missing in `ours`); `path` names the place for the failure message.
fn assert_covers(doc: &Value, ours: &Value, path: &str) {
    match (doc, ours) {
        (Value::Object(d), Value::Object(o)) => {
            for (key, value) in d {
                let here = format!("{path}.{key}");
                match o.get(key) {
                    Some(v) => assert_covers(value, v, &here),
                    None => assert!(value.is_null(), "{here}: documented {value}, missing"),
                }
            }
        }
        (Value::Array(d), Value::Array(o)) => {
            assert_eq!(d.len(), o.len(), "{path}: array length");
            for (i, (dv, ov)) in d.iter().zip(o).enumerate() {
                assert_covers(dv, ov, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(doc, ours, "{path}"),
    }
}

/// Decodes the response example `name` into `T`, encodes it again and checks the round trip.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let doc = example(name);
    let decoded: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let ours = serde_json::to_value(&decoded).unwrap();
    assert_covers(&doc, &ours, name);
    decoded
}

/// Checks that a body built with our builders is exactly the request example `name`.
fn assert_request<T: Serialize>(name: &str, built: &T) {
    assert_eq!(
        serde_json::to_value(built).unwrap(),
        example(name),
        "{name}"
    );
}

#[test]
fn user_response() {
    let user: User = round_trip("users/get-user.response.json");
    assert_eq!(user.id, "123456789");
    assert_eq!(user.role.as_deref(), Some("default"));
    assert_eq!(user.locale.as_deref(), Some("en-US"));
    assert_eq!(user.phone, None);
    assert_eq!(user.created_at, Timestamp::from_millis(1_623_926_680_918));
    assert_eq!(
        user.push_tokens.unwrap()["apns:MY_TOKEN_ID"],
        Value::Bool(true)
    );
}

#[test]
fn conversation_response() {
    let conversation: Conversation = round_trip("conversations/get-conversation.response.json");
    assert_eq!(conversation.subject.as_deref(), Some("Random conversation"));
    assert_eq!(conversation.participants.len(), 2);
    assert_eq!(
        conversation.participants["432156789"],
        ConversationParticipant::new(Access::ReadWrite, Notify::All)
    );
    let last = conversation.last_message.unwrap();
    assert_eq!(last.sender_id.unwrap(), "432156789");
}

#[test]
fn message_response() {
    let message: Message = round_trip("messages/message.response.json");
    assert_eq!(message.message_type, MessageType::UserMessage);
    assert_eq!(message.origin, Some(MessageOrigin::Web));
    assert_eq!(message.text.as_deref(), Some("Hey, I'm in London"));
    assert!(message.read_by.is_empty());
}

#[test]
fn send_response() {
    let sent: Vec<SentMessage> = round_trip("messages/send.response.json");
    assert_eq!(
        sent,
        [
            SentMessage::new("msg_abcdefghijklm"),
            SentMessage::new("msg_nopqrstuvwxyz")
        ]
    );
}

#[test]
fn presence_response_decodes_into_typed_sessions() {
    let doc = example("presence/presences.response.json");
    let presences: Presences = round_trip("presence/presences.response.json");
    // Nothing is left over: encoding gives back exactly the documented answer, so every
    // field went into a typed field (the presence types have no catch-all map).
    assert_eq!(serde_json::to_value(&presences).unwrap(), doc);

    let user = presences.get("623b106653a97").unwrap();
    assert!(user.is_online());
    assert!(user.background_sessions.is_empty());
    let widget = &user.widgets[0];
    assert_eq!(widget.selected_conversation_id.as_ref().unwrap(), "987654");
    assert!(widget.custom.is_empty());
    assert!(widget.has_focus);
    assert!(!widget.is_typing);
    assert_eq!(widget.session_id, "0123456789-0123456789-abcde-abcde");
    assert_eq!(user.focused_conversation().unwrap(), "987654");
    assert_eq!(presences.typing_in("987654").count(), 0);
}

#[test]
fn user_upsert_requests() {
    assert_request(
        "users/put-user.request.json",
        &UserUpsert::new()
            .name("Alice")
            .welcome_message("Hi there, how are you? :-)")
            .photo_url("https://talkjs.com/images/avatar-1.jpg")
            .locale("ar")
            .role("buyer")
            .phone(["+1123456789"])
            .custom_field("country", "ca")
            .push_token("fcm:MY_TOKEN_ID", true),
    );
    let alice_2020 = UserUpsert::new()
        .name("Alice")
        .email(["[email protected]"])
        .welcome_message("Hi there, how are you? :-)")
        .photo_url("https://demo.talkjs.com/img/alice.jpg")
        .role("buyer")
        .phone(["+1123456789"])
        .custom_field("country", "ca");
    assert_request("users/put-user-2020.request.json", &alice_2020);
    assert_request(
        "users/put-user-alice-starting.request.json",
        &UserUpsert::new()
            .name("Alice")
            .email(["[email protected]"])
            .photo_url("https://yoursite.com/userpictures/12081.png")
            .welcome_message("Hey there! :-)")
            .role("buyer"),
    );
    let bob = UserUpsert::new()
        .name("Bob")
        .email(["[email protected]"])
        .photo_url("https://yoursite.com/userpictures/8029.png")
        .welcome_message("Hey there! :-)")
        .role("seller")
        .custom_field("birthday", "1487842094224");
    assert_request("users/put-user-bob-starting.request.json", &bob);

    // The older name of the role: decoded as `role`, and our builder sends the same body
    // with the current name.
    for (name, built) in [
        ("users/put-user-configuration.request.json", &alice_2020),
        (
            "users/put-user-bob-starting-configuration.request.json",
            &bob,
        ),
    ] {
        let mut doc = example(name);
        let decoded: UserUpsert = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(&decoded, built, "{name}");
        let fields = doc.as_object_mut().unwrap();
        let role = fields.remove("configuration").unwrap();
        fields.insert("role".to_owned(), role);
        assert_eq!(serde_json::to_value(built).unwrap(), doc, "{name}");
    }
}

#[test]
fn anonymize_user_request_from_the_official_example() {
    let mut doc = example("users/anonymize-user.request.json");
    let built = UserUpsert::new()
        .name("[DELETED]")
        .clear_email()
        .clear_phone()
        .clear_custom()
        .clear_welcome_message()
        .clear_photo_url()
        .clear_role()
        .clear_availability_text()
        .clear_locale();
    // The example also sends the user's own `id`, which the path already carries; our body
    // has no such field, and decoding the example ignores it.
    let decoded: UserUpsert = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(decoded, built);
    doc.as_object_mut().unwrap().remove("id");
    assert_eq!(serde_json::to_value(&built).unwrap(), doc);
}

#[test]
fn conversation_upsert_request() {
    assert_request(
        "conversations/put-conversation.request.json",
        &ConversationUpsert::new()
            .participants(["123456", "654321"])
            .subject("Black leather boots")
            .welcome_messages([
                "Hello there!",
                "I'm currently out of town, leave a message and I'll respond ASAP. :)",
            ])
            .custom_field("productId", "454545")
            .photo_url("https://example.com/productpictures/454545.png"),
    );
}

#[test]
fn message_requests() {
    let send: Vec<NewMessage> = vec![
        NewMessage::user("123143551", "Meet me outside")
            .referenced_message_id("msg_6TKoWs0Jm8XrjPOmFdOGiX"),
    ];
    assert_request("messages/send-user-message.request.json", &send);
    assert_request(
        "messages/edit-anonymize.request.json",
        &MessageEdit::new().clear_custom().text("[DELETED]"),
    );
    let decoded: MessageEdit =
        serde_json::from_value(example("messages/edit-anonymize.request.json")).unwrap();
    assert_eq!(decoded.custom, Patch::Clear);
}

#[test]
fn participant_requests() {
    assert_request(
        "participants/join.request.json",
        &ParticipantOverwrite::new()
            .access(Access::Read)
            .notify(Notify::All),
    );
    assert_request(
        "participants/modify.request.json",
        &ParticipantPatch::new()
            .access(Access::ReadWrite)
            .notify(Notify::Off),
    );
    // The documented defaults of a join without a body are our defaults.
    let defaults = example("participants/join-defaults.json");
    assert_eq!(
        serde_json::to_value(ConversationParticipant::default()).unwrap(),
        defaults
    );
    assert_request(
        "participants/join-defaults.json",
        &ParticipantOverwrite::new()
            .access(Access::ReadWrite)
            .notify(Notify::All),
    );
}

#[test]
fn import_request() {
    let body = vec![
        ImportMessage::new("1234", "Hello!", Timestamp::from_millis(1_509_132_622_706))
            .read_by(["5678"]),
        ImportMessage::new(
            "5678",
            "Well hi there, how are you?",
            Timestamp::from_millis(1_509_132_692_706),
        )
        .read_by(["1234"])
        .attachment_token("L0oQOg5DVENGFVQZABpOQVNRCxs...EFFbHxhiXVEYUBw"),
    ];
    assert_request("import/import-messages.request.json", &body);
    let decoded: Vec<ImportMessage> =
        serde_json::from_value(example("import/import-messages.request.json")).unwrap();
    assert_eq!(decoded, body);
}

#[test]
fn batch_request() {
    let body = vec![
        BatchOperation::new(1, BatchMethod::Get, "/users/user_01"),
        BatchOperation::new(2, BatchMethod::Get, "/users/user_01/conversations").query([
            ("limit", "30"),
            ("unreadsOnly", "true"),
            ("lastMessageAfter", "17100697559480"),
        ]),
        BatchOperation::new(3, BatchMethod::Post, "/conversations/conv_01/messages")
            .json_payload(&[NewMessage::system("This is a system message")])
            .unwrap(),
        BatchOperation::new(4, BatchMethod::Put, "/users/user_02")
            .json_payload(&UserUpsert::new().name("Alice"))
            .unwrap()
            .api_version("2021-01-01"),
        BatchOperation::new(5, BatchMethod::Get, "/non/existing/endpoint"),
    ];
    assert_request("batch/batch.request.json", &body);
    let decoded: Vec<BatchOperation> =
        serde_json::from_value(example("batch/batch.request.json")).unwrap();
    assert_eq!(decoded, body);
    assert_eq!(decoded[3].payload, Some(json!({"name": "Alice"})));
}

#[test]
fn upload_answers_decode_with_either_token_name() {
    let official: UploadedFile = round_trip("transfer/upload-file-token.response.json");
    assert_eq!(official.token(), "<FILE_TOKEN>");
    // The other name decodes too (and encodes as `fileToken`, the official example's name).
    let other: UploadedFile =
        serde_json::from_value(example("transfer/upload-attachment-token.response.json")).unwrap();
    assert_eq!(
        other.token(),
        "L0oQOg5DVENGFVQZABpOQVNRCxs...EFFbHxhiXVEYUBw"
    );
    assert_eq!(
        serde_json::to_value(&other).unwrap(),
        json!({ "fileToken": "L0oQOg5DVENGFVQZABpOQVNRCxs...EFFbHxhiXVEYUBw" })
    );
}

#[test]
fn text_block_from_the_data_api_docs_round_trips_exactly() {
    let doc = example("messages/text-block.json");
    let block: ContentBlock = serde_json::from_value(doc.clone()).unwrap();
    let ContentBlock::Text(text) = &block else {
        panic!("{block:?}")
    };
    assert_eq!(
        text.plain_text(),
        "This first bit is bold, and the second bit is bold and italics"
    );
    assert_eq!(serde_json::to_value(&block).unwrap(), doc);
}

#[test]
fn message_with_content_blocks_and_reactions_loses_nothing() {
    let doc = example("transfer/message-with-content.response.json");
    let message: Message = round_trip("transfer/message-with-content.response.json");
    let content = message.content.as_ref().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(
        serde_json::to_value(&content[0]).unwrap(),
        example("messages/text-block.json")
    );
    let ContentBlock::Location(location) = &content[1] else {
        panic!("{content:?}")
    };
    assert_eq!(
        (location.latitude, location.longitude),
        (51.481_083, -3.178_306)
    );
    assert_eq!(message.reaction_emojis(), ["<EMOJI>"]);
    assert_eq!(message.reactions.as_ref(), Some(&doc["reactions"]));
}

#[test]
fn participant_with_read_until() {
    let participant: ConversationParticipant =
        round_trip("transfer/participant-read-until.response.json");
    let until = Timestamp::from_millis(1_632_919_967_033);
    assert_eq!(participant.read_until, Some(until));
    assert_eq!(participant.access, Access::ReadWrite);
    // Set the way the transfer example restores it: a participant PATCH.
    assert_request(
        "transfer/patch-read-until.request.json",
        &ParticipantPatch::new().read_until(until),
    );
    let decoded: ParticipantPatch =
        serde_json::from_value(example("transfer/patch-read-until.request.json")).unwrap();
    assert_eq!(decoded.read_until, Some(until));
}

#[test]
fn reactions_listing_in_data_or_bare() {
    let page: Page<ReactionUser> = round_trip("transfer/reactions.response.json");
    assert_eq!(page.data, [ReactionUser::new("432156789")]);
    let bare: Page<ReactionUser> =
        serde_json::from_value(example("transfer/reactions-bare.response.json")).unwrap();
    assert_eq!(bare, page);
}

#[test]
fn import_items_in_the_transfer_examples_shape() {
    let at = Timestamp::from_millis(1_632_919_967_033);
    let built = vec![
        ImportMessage::with_content(
            "432156789",
            vec![FileBlock::from_token("<FILE_TOKEN>").into()],
            at,
        ),
        ImportMessage::with_content(
            "432156789",
            vec![LocationBlock::new(51.481_083, -3.178_306).into()],
            at,
        ),
    ];
    let doc = example("transfer/import-content.request.json");
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        Value::Array(doc.as_array().unwrap()[..2].to_vec())
    );
    // All three decode; the text-only one (createdAt, no readBy) too.
    let decoded: Vec<ImportMessage> = serde_json::from_value(doc).unwrap();
    assert_eq!(decoded[..2], built[..]);
    assert_eq!(decoded[2].text, "Hey, I'm in London");
    assert_eq!(decoded[2].timestamp, at);
    assert!(decoded[2].read_by.is_empty() && decoded[2].content.is_none());
}

#[test]
fn the_checker_accepts_extra_fields_and_omitted_nulls() {
    assert_covers(
        &json!({"a": 1, "b": null, "c": [{"d": "x"}]}),
        &json!({"a": 1, "c": [{"d": "x", "e": 2}], "f": 3}),
        "doc",
    );
}

#[test]
#[should_panic(expected = "doc.a: documented 1, missing")]
fn the_checker_refuses_a_lost_field() {
    assert_covers(&json!({"a": 1}), &json!({}), "doc");
}

#[test]
#[should_panic(expected = "doc.c[0].d")]
fn the_checker_refuses_a_changed_value() {
    assert_covers(
        &json!({"c": [{"d": "x"}]}),
        &json!({"c": [{"d": "y"}]}),
        "doc",
    );
}

#[test]
#[should_panic(expected = "doc.b")]
fn the_checker_refuses_a_value_where_null_was_documented() {
    assert_covers(&json!({"b": null}), &json!({"b": 0}), "doc");
}
