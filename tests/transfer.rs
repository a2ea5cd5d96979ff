//! What TalkJS's official transfer example (talkjs-examples,
//! `rest-api/transfer-data/transferData.js`) uses, through the client against the fake and
//! exact answers from wiremock: the upload's `fileToken` (and `attachmentToken`) and its
//! optional fields, the reactions listing, participants' `readUntil`, imports of 100
//! messages falling back to 10 (counting requests) with the created ids, and content blocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use futures_util::TryStreamExt;
use serde_json::json;
use talkjs::api::{
    FileSubtype, MAX_IMPORT_MESSAGES_PER_REQUEST, MAX_MESSAGES_PER_REQUEST, UploadOptions,
};
use talkjs::models::{
    ContentBlock, ConversationUpsert, FileBlock, ImportMessage, LocationBlock, ParticipantPatch,
    TextBlock, Timestamp, UserUpsert,
};
use talkjs::runtime::{ClientExt, bulk};
use talkjs::{Client, Error};
use talkjs_fake::FakeTalkJs;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fake importing up to `max_import` messages a request, with users alice, bob, carol and
/// conversation `c` of all three; a client for it.
async fn setup(max_import: usize) -> (FakeTalkJs, Client) {
    let fake = FakeTalkJs::builder()
        .max_import_batch(max_import)
        .start()
        .await
        .unwrap();
    let client = common::client(&fake);
    for user in ["alice", "bob", "carol"] {
        client
            .users()
            .upsert(user, &UserUpsert::new().name(user))
            .await
            .unwrap();
    }
    client
        .conversations()
        .upsert(
            "c",
            &ConversationUpsert::new().participants(["alice", "bob", "carol"]),
        )
        .await
        .unwrap();
    (fake, client)
}

fn old(i: usize) -> ImportMessage {
    ImportMessage::new(
        "alice",
        format!("m{i}"),
        Timestamp::from_millis(1_500_000_000_000 + i as u64),
    )
    .read_by(["bob"])
}

/// The texts of conversation `c`, oldest first.
fn texts(fake: &FakeTalkJs, conversation: &str) -> Vec<String> {
    fake.messages(conversation)
        .into_iter()
        .map(|m| m.text.unwrap_or_default())
        .collect()
}

fn expected(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

#[tokio::test]
async fn an_upload_decodes_either_answer_and_sends_the_optional_fields() {
    let (fake, client) = setup(10).await;
    // The fake answers `{"fileToken": …}`, as TalkJS's transfer example reads it.
    let options = UploadOptions::new()
        .subtype(FileSubtype::Video)
        .width(1280)
        .height(720)
        .duration(12.5);
    let token = client
        .files()
        .upload_with("clip.mp4", "video/mp4", &b"mp4 bytes"[..], &options)
        .await
        .unwrap();
    assert!(token.starts_with("att_"), "{token}");
    // The fields arrived: a file block importing the token carries them.
    let item = ImportMessage::with_content(
        "alice",
        vec![FileBlock::from_token(&token).into()],
        Timestamp::from_millis(1_000),
    );
    client
        .conversations()
        .messages("c")
        .import([item])
        .await
        .unwrap();
    let message = fake.messages("c").pop().unwrap();
    let Some(ContentBlock::File(file)) = message.content.as_ref().and_then(|c| c.first()) else {
        panic!("{message:?}")
    };
    assert_eq!(file.subtype, Some(FileSubtype::Video));
    assert_eq!(
        (file.width, file.height, file.duration),
        (Some(1280), Some(720), Some(12.5))
    );
    assert_eq!(file.filename.as_deref(), Some("clip.mp4"));
    assert_eq!(fake.file_data(&token).unwrap(), b"mp4 bytes");
    // The plain upload still works (only `subtype`, or nothing).
    let plain = client
        .files()
        .upload("a.txt", "text/plain", &b"a"[..], None)
        .await
        .unwrap();
    assert_ne!(plain, token);

    // The other answer third-party specs describe: `{"attachmentToken": …}`.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/app/files"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "attachmentToken": "tok_a" })),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/app/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "fileToken": "tok_f" })))
        .mount(&server)
        .await;
    let mock = Client::builder("app", "sk_test_x")
        .base_url(server.uri())
        .build()
        .unwrap();
    let files = mock.files();
    assert_eq!(
        files
            .upload("a", "text/plain", &b"a"[..], None)
            .await
            .unwrap(),
        "tok_a"
    );
    assert_eq!(
        files
            .upload("a", "text/plain", &b"a"[..], None)
            .await
            .unwrap(),
        "tok_f"
    );
}

#[tokio::test]
async fn reactions_are_listed_as_user_ids_in_pages() {
    let (_fake, client) = setup(10).await;
    let messages = client.conversations().messages("c");
    let ids = messages
        .send([talkjs::models::NewMessage::user("alice", "react to me")])
        .await
        .unwrap();
    let id = &ids[0];
    messages.add_reaction(id, "👍", "bob").await.unwrap();
    messages.add_reaction(id, "👍", "carol").await.unwrap();
    messages.add_reaction(id, "🎉", "alice").await.unwrap();

    // One page, as the transfer example reads it (?limit=100).
    let page = messages.reactions(id, "👍").limit(100).await.unwrap();
    assert_eq!(page, ["bob", "carol"]);
    let all: Vec<_> = messages
        .reactions(id, "🎉")
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, ["alice"]);
    // The emoji of the message's reactions.
    let message = messages.get(id).await.unwrap();
    assert_eq!(message.reaction_emojis(), ["🎉", "👍"]);
    messages.remove_reaction(id, "👍", "bob").await.unwrap();
    assert_eq!(messages.reactions(id, "👍").await.unwrap(), ["carol"]);
    // Checked before sending.
    assert!(matches!(
        messages.reactions(id, "").await,
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        messages.reactions(id, "👍").limit(101).await,
        Err(Error::InvalidArgument(_))
    ));

    // More than a page: the stream follows startingAfter (here pages of 2).
    let ids = messages
        .send([talkjs::models::NewMessage::user("alice", "popular")])
        .await
        .unwrap();
    let mut users = Vec::new();
    for i in 0..5 {
        let user = format!("fan{i}");
        client
            .users()
            .upsert(&user, &UserUpsert::new().name(&user))
            .await
            .unwrap();
        messages.add_reaction(&ids[0], "👍", &user).await.unwrap();
        users.push(user);
    }
    let streamed: Vec<_> = messages
        .reactions(&ids[0], "👍")
        .limit(2)
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let streamed: Vec<&str> = streamed
        .iter()
        .map(talkjs::models::UserId::as_str)
        .collect();
    assert_eq!(streamed, users);
}

#[tokio::test]
async fn a_reactions_listing_decodes_data_or_a_bare_array_with_the_emoji_encoded() {
    let server = MockServer::start().await;
    let listing = "/v1/app/conversations/c/messages/msg_1/reactions/%F0%9F%91%8D";
    Mock::given(method("GET"))
        .and(path(listing))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{ "userId": "bob" }])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(listing))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "data": [{ "userId": "carol", "createdAt": 5 }] })),
        )
        .mount(&server)
        .await;
    let client = Client::builder("app", "sk_test_x")
        .base_url(server.uri())
        .build()
        .unwrap();
    let messages = client.conversations().messages("c");
    assert_eq!(messages.reactions("msg_1", "👍").await.unwrap(), ["bob"]);
    assert_eq!(messages.reactions("msg_1", "👍").await.unwrap(), ["carol"]);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[0].url.query(), None);
    // A stream asks for the largest page, like the transfer example.
    let _: Vec<_> = messages
        .reactions("msg_1", "👍")
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests[2].url.query(), Some("limit=100"));
}

#[tokio::test]
async fn read_until_is_patched_and_read_back() {
    let (_fake, client) = setup(10).await;
    let until = Timestamp::from_millis(1_700_000_000_000);
    client
        .conversations()
        .participants("c")
        .modify("bob", &ParticipantPatch::new().read_until(until))
        .await
        .unwrap();
    let conversation = client.conversations().get("c").await.unwrap();
    assert_eq!(conversation.participants["bob"].read_until, Some(until));
    assert_eq!(conversation.participants["carol"].read_until, None);
}

#[tokio::test]
async fn imports_take_100_a_request_where_accepted() {
    let (fake, client) = setup(100).await;
    assert_eq!(client.import_batch_size(), MAX_IMPORT_MESSAGES_PER_REQUEST);
    let before = fake.request_count();
    let done = client
        .conversations()
        .messages("c")
        .import_with_ids((0..250).map(old))
        .await
        .unwrap();
    assert_eq!(fake.request_count() - before, 3, "100 + 100 + 50");
    assert_eq!(done.count, 250);
    assert_eq!(texts(&fake, "c"), expected(250));
    // The created ids, in input order.
    let ids = done.ids.unwrap();
    let stored = fake.messages("c");
    for (id, message) in ids.iter().zip(&stored) {
        assert_eq!(*id, message.id);
    }
    assert_eq!(client.import_batch_size(), 100);
}

#[tokio::test]
async fn imports_fall_back_to_10_when_100_is_refused_and_remember_it() {
    let (fake, client) = setup(10).await;
    let before = fake.request_count();
    let n = client
        .conversations()
        .messages("c")
        .import((0..250).map(old))
        .await
        .unwrap();
    assert_eq!(n, 250);
    assert_eq!(
        fake.request_count() - before,
        1 + 10 + 15,
        "100 refused, the same 100 as ten requests of 10, then 150 in 15"
    );
    assert_eq!(fake.status_count(400), 1);
    assert_eq!(texts(&fake, "c"), expected(250), "each once, in order");
    assert_eq!(client.import_batch_size(), MAX_MESSAGES_PER_REQUEST);

    // Remembered: a clone, and a new client of the same app, go 10 at a time at once.
    let before = fake.request_count();
    let other = common::client(&fake);
    assert_eq!(other.import_batch_size(), 10);
    other
        .clone()
        .conversations()
        .messages("c")
        .import((250..280).map(old))
        .await
        .unwrap();
    assert_eq!(fake.request_count() - before, 3);
    assert_eq!(fake.status_count(400), 1, "no second refusal");
}

#[tokio::test]
async fn a_bad_record_in_a_request_of_100_does_not_lower_the_size() {
    let (fake, client) = setup(100).await;
    let mut items: Vec<ImportMessage> = (0..100).map(old).collect();
    // A sender who is not a participant: TalkJS refuses the whole request.
    items[37] = ImportMessage::new("mallory", "bad", Timestamp::from_millis(1));
    let err = client
        .conversations()
        .messages("c")
        .import(items)
        .await
        .unwrap_err();
    // Parts of 10 landed up to the one holding the bad record.
    match &err {
        Error::Incomplete {
            completed, source, ..
        } => {
            assert_eq!(*completed, 30);
            assert!(matches!(**source, Error::BadRequest { .. }), "{source:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.may_have_landed());
    assert_eq!(texts(&fake, "c"), expected(30));
    // The size was not the problem: still 100.
    assert_eq!(client.import_batch_size(), 100);
    let before = fake.request_count();
    client
        .conversations()
        .messages("c")
        .import((0..100).map(old))
        .await
        .unwrap();
    assert_eq!(fake.request_count() - before, 1);
}

#[tokio::test]
async fn import_ids_decode_from_data_a_bare_array_or_nothing() {
    let server = MockServer::start().await;
    let import = "/v1/app/import/conversations/c/messages";
    for answer in [
        json!({ "data": [{ "id": "msg_a" }] }),
        json!([{ "id": "msg_b" }]),
        json!({}),
        json!([{ "id": "msg_c" }, { "id": "msg_d" }]),
    ] {
        Mock::given(method("POST"))
            .and(path(import))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path(import))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let client = Client::builder("app", "sk_test_x")
        .base_url(server.uri())
        .build()
        .unwrap();
    let messages = client.conversations().messages("c");
    let one = || [old(0)];
    let ids = |done: talkjs::api::ImportedMessages| {
        assert_eq!(done.count, 1);
        done.ids
            .map(|ids| ids.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    assert_eq!(
        ids(messages.import_with_ids(one()).await.unwrap()),
        Some(vec!["msg_a".into()])
    );
    assert_eq!(
        ids(messages.import_with_ids(one()).await.unwrap()),
        Some(vec!["msg_b".into()])
    );
    assert_eq!(
        ids(messages.import_with_ids(one()).await.unwrap()),
        None,
        "{{}}"
    );
    assert_eq!(
        ids(messages.import_with_ids(one()).await.unwrap()),
        None,
        "two ids for one message"
    );
    assert_eq!(
        ids(messages.import_with_ids(one()).await.unwrap()),
        None,
        "no body"
    );
}

#[tokio::test]
async fn content_blocks_are_imported_in_the_transfer_examples_shape() {
    let (fake, client) = setup(10).await;
    let token = client
        .files()
        .upload(
            "pic.png",
            "image/png",
            &b"png"[..],
            Some(FileSubtype::Image),
        )
        .await
        .unwrap();
    let blocks = vec![
        ContentBlock::from(TextBlock::plain("Look")),
        FileBlock::from_token(token).into(),
        LocationBlock::new(51.48, -3.18).into(),
    ];
    let done = client
        .conversations()
        .messages("c")
        .import_with_ids([ImportMessage::with_content(
            "alice",
            blocks,
            Timestamp::from_millis(1_000),
        )
        .custom_field("legacy", "1")])
        .await
        .unwrap();
    let message = client
        .conversations()
        .messages("c")
        .get(&done.ids.unwrap()[0])
        .await
        .unwrap();
    assert_eq!(message.created_at, Timestamp::from_millis(1_000));
    assert_eq!(message.text.as_deref(), Some("Look"));
    let content = message.content.unwrap();
    assert_eq!(content.len(), 3);
    assert!(matches!(&content[1], ContentBlock::File(f) if f.subtype == Some(FileSubtype::Image)));
    let ContentBlock::Location(block) = &content[2] else {
        panic!("{content:?}")
    };
    assert_eq!(
        format!("{} {}", block.latitude, block.longitude),
        "51.48 -3.18"
    );
    let location = message.location.unwrap();
    assert_eq!(
        format!("{} {}", location.latitude, location.longitude),
        "51.48 -3.18"
    );
    assert_eq!(fake.messages("c")[0].custom["legacy"], "1");
}

/// `items` imports of `per` messages into each of `conversations` conversations, in order.
fn bulk_imports(conversations: usize, per: usize) -> Vec<bulk::Item> {
    let mut items = Vec::new();
    for i in 0..per {
        for c in 0..conversations {
            items.push(bulk::Item::Import {
                conversation: format!("b{c}"),
                message: old(i),
            });
        }
    }
    items
}

/// Creates conversations `b0…` of alice and bob.
async fn bulk_conversations(client: &Client, n: usize) {
    for c in 0..n {
        client
            .conversations()
            .upsert(
                &format!("b{c}"),
                &ConversationUpsert::new().participants(["alice", "bob"]),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn bulk_imports_100_a_request_where_accepted() {
    let (fake, client) = setup(100).await;
    bulk_conversations(&client, 1).await;
    let before = fake.request_count();
    let report = client.bulk().run_iter(bulk_imports(1, 250)).await;
    assert_eq!(report.landed, 250, "{:?}", report.failed);
    assert_eq!(report.requests, 3);
    assert_eq!(fake.request_count() - before, 3);
    assert_eq!(texts(&fake, "b0"), expected(250));
}

#[tokio::test]
async fn bulk_falls_back_to_10_and_lands_each_message_once_in_order() {
    let (fake, client) = setup(10).await;
    bulk_conversations(&client, 1).await;
    let before = fake.request_count();
    let report = client.bulk().run_iter(bulk_imports(1, 250)).await;
    assert_eq!(report.landed, 250, "{:?}", report.failed);
    assert!(report.failed.is_empty() && report.uncertain.is_empty());
    // One conversation's requests go one after another: the first 100 refused, sent again
    // as ten requests of 10; every later chunk is cut to 10 before it starts.
    assert_eq!(report.requests, 1 + 10 + 15);
    assert_eq!(fake.request_count() - before, 26);
    assert_eq!(texts(&fake, "b0"), expected(250));
    assert_eq!(client.import_batch_size(), 10);

    // Many conversations at once, on a fresh app: every message once, in order, and at most
    // one refused request per conversation.
    let (fake, client) = setup(10).await;
    bulk_conversations(&client, 8).await;
    let before = fake.request_count();
    let report = client.bulk().run_iter(bulk_imports(8, 130)).await;
    assert_eq!(report.landed, 8 * 130, "{:?}", report.failed);
    for c in 0..8 {
        assert_eq!(texts(&fake, &format!("b{c}")), expected(130));
    }
    let refused = usize::try_from(fake.status_count(400)).unwrap();
    assert!((1..=8).contains(&refused), "{refused}");
    assert_eq!(
        usize::try_from(fake.request_count() - before).unwrap(),
        refused + 8 * 13,
        "each refused request, then every message in requests of 10"
    );
    assert_eq!(client.import_batch_size(), 10);
}
