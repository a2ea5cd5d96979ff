//! The shapes of TalkJS's official transfer example (talkjs-examples,
//! `rest-api/transfer-data/transferData.js`) at their edges: content blocks that do not fit
//! (kept, never an error), both upload answers, both import shapes, pages with or without
//! `data`, `readUntil` on the participant PATCH.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use talkjs_models::{
    ContentBlock, FileBlock, FileSubtype, ImportMessage, LocationBlock, Message, Page,
    ParticipantPatch, ReactionUser, TextBlock, Timestamp, UploadedFile,
};

fn message_with(content: &Value) -> Message {
    serde_json::from_value(json!({
        "id": "msg_1", "type": "UserMessage", "conversationId": "c", "createdAt": 1,
        "content": content
    }))
    .unwrap()
}

#[test]
fn content_blocks_decode_typed_and_keep_what_they_do_not_know() {
    let blocks = json!([
        {"type": "text", "children": ["a", {"type": "link", "url": "https://x", "children": ["b"]}],
         "future": 1},
        {"type": "file", "url": "https://x/f.ogg", "filename": "f.ogg", "size": 10,
         "subtype": "voice", "duration": 1.5, "fileToken": "tok", "waveform": [1, 2]},
        {"type": "file", "subtype": "sticker"},
        {"type": "location", "latitude": 1.5, "longitude": -2.0},
        // Known types whose fields do not have the documented types: kept as they came.
        {"type": "location", "latitude": "north"},
        {"type": "file", "width": -4},
        {"type": "text", "children": "not a list"},
        // Unknown, or no type at all, or not an object.
        {"type": "poll", "options": ["a", "b"]},
        {"children": []},
        "just a string"
    ]);
    let message = message_with(&blocks);
    let content = message.content.as_ref().unwrap();
    assert_eq!(content.len(), 10);

    let ContentBlock::Text(text) = &content[0] else {
        panic!("{content:?}")
    };
    assert_eq!(text.plain_text(), "ab");
    assert_eq!(text.extra["future"], 1);
    let ContentBlock::File(file) = &content[1] else {
        panic!("{content:?}")
    };
    assert_eq!(file.subtype, Some(FileSubtype::Voice));
    assert_eq!(file.duration, Some(1.5));
    assert_eq!(file.file_token.as_deref(), Some("tok"));
    assert_eq!(file.extra["waveform"], json!([1, 2]));
    let ContentBlock::File(sticker) = &content[2] else {
        panic!("{content:?}")
    };
    assert_eq!(sticker.subtype, Some(FileSubtype::Other("sticker".into())));
    assert!(
        matches!(&content[3], ContentBlock::Location(l) if (l.longitude + 2.0).abs() < f64::EPSILON)
    );
    for (i, kind) in [
        (4, Some("location")),
        (5, Some("file")),
        (6, Some("text")),
        (7, Some("poll")),
        (8, None),
        (9, None),
    ] {
        assert!(matches!(&content[i], ContentBlock::Unknown(_)), "{i}");
        assert_eq!(content[i].kind(), kind, "{i}");
    }
    // Everything encodes back to what came (nothing dropped, nothing added).
    assert_eq!(serde_json::to_value(&message).unwrap()["content"], blocks);
}

#[test]
fn content_that_is_not_a_list_decodes_as_none_and_is_not_written() {
    for odd in [
        Value::Null,
        json!("text"),
        json!({"type": "text"}),
        json!(3),
    ] {
        let message = message_with(&odd);
        assert_eq!(message.content, None, "{odd}");
        assert!(
            serde_json::to_value(&message)
                .unwrap()
                .get("content")
                .is_none()
        );
    }
    assert_eq!(message_with(&json!([])).content, Some(Vec::new()));
}

#[test]
fn blocks_built_in_code_encode_as_documented() {
    let blocks: Vec<ContentBlock> = vec![
        TextBlock::plain("hi").into(),
        FileBlock::from_token("tok").into(),
        LocationBlock::new(51.481_083, -3.178_306).into(),
    ];
    assert_eq!(
        serde_json::to_value(&blocks).unwrap(),
        json!([
            {"type": "text", "children": ["hi"]},
            {"type": "file", "fileToken": "tok"},
            {"type": "location", "latitude": 51.481_083, "longitude": -3.178_306}
        ])
    );
}

#[test]
fn reactions_keys_are_the_emoji_whatever_the_values() {
    let mut value =
        json!({"id": "m", "type": "UserMessage", "conversationId": "c", "createdAt": 1});
    assert!(
        serde_json::from_value::<Message>(value.clone())
            .unwrap()
            .reaction_emojis()
            .is_empty()
    );
    value["reactions"] = json!({"👍": {"count": 2}, "❤️": ["a"]});
    let message: Message = serde_json::from_value(value.clone()).unwrap();
    let mut emojis = message.reaction_emojis();
    emojis.sort_unstable();
    assert_eq!(emojis, ["❤️", "👍"]);
    value["reactions"] = json!([{"emoji": "👍"}]);
    let message: Message = serde_json::from_value(value).unwrap();
    assert!(
        message.reaction_emojis().is_empty(),
        "not an object: no keys"
    );
    assert!(message.reactions.is_some(), "but kept as it came");
}

#[test]
fn upload_answer_takes_either_name() {
    let both: UploadedFile =
        serde_json::from_value(json!({"fileToken": "f", "attachmentToken": "a", "url": "x"}))
            .unwrap();
    assert_eq!(both.token(), "f", "fileToken wins");
    let null_first: UploadedFile =
        serde_json::from_value(json!({"fileToken": null, "attachmentToken": "a"})).unwrap();
    assert_eq!(null_first.token(), "a");
    for bad in [
        json!({}),
        json!({"token": "x"}),
        json!({"fileToken": 3}),
        json!("f"),
    ] {
        assert!(
            serde_json::from_value::<UploadedFile>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    assert_eq!(
        serde_json::to_string(&UploadedFile::new("t")).unwrap(),
        r#"{"fileToken":"t"}"#
    );
}

#[test]
fn import_items_decode_in_either_shape_and_refuse_what_neither_allows() {
    let reference: ImportMessage = serde_json::from_value(json!({
        "type": "UserMessage", "sender": "a", "text": "x", "timestamp": 5, "readBy": ["b"]
    }))
    .unwrap();
    assert_eq!(reference.timestamp, Timestamp::from_millis(5));
    assert_eq!(reference.content, None);
    let script: ImportMessage = serde_json::from_value(json!({
        "type": "UserMessage", "sender": "a", "createdAt": 6,
        "content": [{"type": "text", "children": ["x"]}]
    }))
    .unwrap();
    assert_eq!(script.timestamp, Timestamp::from_millis(6));
    assert_eq!(script.text, "");
    assert_eq!(
        serde_json::to_value(&script).unwrap(),
        json!({"type": "UserMessage", "sender": "a", "createdAt": 6,
               "content": [{"type": "text", "children": ["x"]}]})
    );
    // With content, text and readBy are sent when set.
    let mut full = ImportMessage::with_content("a", vec![TextBlock::plain("x").into()], 7.into())
        .read_by(["b"])
        .attachment_token("tok")
        .custom_field("k", "v");
    full.text = "x".to_owned();
    assert_eq!(
        serde_json::to_value(&full).unwrap(),
        json!({"type": "UserMessage", "sender": "a", "text": "x", "createdAt": 7,
               "readBy": ["b"], "attachmentToken": "tok", "custom": {"k": "v"},
               "content": [{"type": "text", "children": ["x"]}]})
    );
    for bad in [
        json!({"type": "UserMessage", "sender": "a", "text": "x"}),
        json!({"type": "UserMessage", "sender": "a", "createdAt": 1}),
        json!({"type": "SystemMessage", "sender": "a", "text": "x", "timestamp": 1}),
        json!({"type": "UserMessage", "text": "x", "timestamp": 1}),
    ] {
        assert!(
            serde_json::from_value::<ImportMessage>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn pages_decode_with_or_without_data() {
    let enveloped: Page<ReactionUser> =
        serde_json::from_value(json!({"data": [{"userId": "a"}], "more": true})).unwrap();
    let bare: Page<ReactionUser> = serde_json::from_value(json!([{"userId": "a"}])).unwrap();
    assert_eq!(enveloped, bare);
    assert_eq!(
        serde_json::to_value(&bare).unwrap(),
        json!({"data": [{"userId": "a"}]})
    );
    for bad in [
        json!({}),
        json!({"data": null}),
        json!({"data": [1]}),
        json!([{"id": "a"}]),
        json!("x"),
    ] {
        assert!(
            serde_json::from_value::<Page<ReactionUser>>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    let duplicate = r#"{"data": [], "data": []}"#;
    assert!(serde_json::from_str::<Page<ReactionUser>>(duplicate).is_err());
}

#[test]
fn participant_patch_sends_read_until_only_when_set() {
    assert_eq!(
        serde_json::to_string(&ParticipantPatch::new()).unwrap(),
        "{}"
    );
    let body = ParticipantPatch::new()
        .access(talkjs_models::Access::Read)
        .read_until(Timestamp::from_millis(9));
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        json!({"access": "Read", "readUntil": 9})
    );
    assert!(serde_json::from_value::<ParticipantPatch>(json!({"readUntil": "soon"})).is_err());
}
