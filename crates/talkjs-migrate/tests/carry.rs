//! What moves beyond plain messages: attachments (each file uploaded once, also across a
//! kill), system messages (opt-in, sent once after an uncertain send), and the source id
//! marker (an identical message already in the target is not taken for ours; a resumed run
//! with another setting is refused).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::lossy::{Fault, Request, lossy_client};
use serde_json::{Value, json};
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::talkjs_api::Client;
use talkjs_migrate::talkjs_api::models::{
    ConversationUpsert, ImportMessage, Message, MessageType, NewMessage, Timestamp, UserUpsert,
};
use talkjs_migrate::{Error, ItemKind, Migration, SOURCE_ID_KEY, Severity};
use talkjs_test_support::migrate::{Scratch, client, write_lines};

/// alice and bob, and conversations of the two of them.
async fn users_and_conversations(client: &Client, conversations: &[&str]) {
    for (id, name) in [("alice", "Alice"), ("bob", "Bob")] {
        client
            .users()
            .upsert(id, &UserUpsert::new().name(name))
            .await
            .expect("user");
    }
    for c in conversations {
        client
            .conversations()
            .upsert(c, &ConversationUpsert::new().participants(["alice", "bob"]))
            .await
            .expect("conversation");
    }
}

/// The bytes of a message's file in its fake, if it has one.
fn file_of(fake: &FakeTalkJs, m: &Message) -> Option<Vec<u8>> {
    let url = &m.attachment.as_ref()?.url;
    Some(fake.file_data(url).expect("the fake serves its own file"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_copy_between_two_fakes_each_file_uploaded_once_across_a_kill() {
    let source = FakeTalkJs::start().await.expect("source fake");
    let target = FakeTalkJs::start().await.expect("target fake");
    let dir = Scratch::new("attachments-app");
    let src = client(&source);
    users_and_conversations(&src, &["c0", "c1", "c2"]).await;
    let bytes_a: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let bytes_b = b"%PDF-1.4 not really a pdf".to_vec();
    let bytes_c = b"hello, world".to_vec();
    let files = src.files();
    let a = files
        .upload("photo one.png", "image/png", bytes_a.clone(), None)
        .await
        .expect("upload a");
    let b = files
        .upload("invoice.pdf", "application/pdf", bytes_b.clone(), None)
        .await
        .expect("upload b");
    let c = files
        .upload("notes.txt", "text/plain", bytes_c.clone(), None)
        .await
        .expect("upload c");
    // Each conversation starts with a file; file a is in two conversations, once without
    // text; c1 has a second request's worth of messages.
    let send = |conversation: &'static str, messages: Vec<NewMessage>| {
        let src = src.clone();
        async move {
            src.conversations()
                .messages(conversation)
                .send_all(messages)
                .await
                .expect("send");
        }
    };
    send(
        "c0",
        vec![
            NewMessage::user("alice", "see the photo").attachment_token(&a),
            NewMessage::user("bob", "").attachment_token(&a),
            NewMessage::user("alice", "nice"),
        ],
    )
    .await;
    let mut c1: Vec<NewMessage> = vec![NewMessage::user("bob", "the invoice").attachment_token(&b)];
    c1.extend((0..12).map(|k| NewMessage::user("alice", format!("line {k}"))));
    c1.push(NewMessage::user("bob", "the photo again").attachment_token(&a));
    send("c1", c1).await;
    send(
        "c2",
        vec![NewMessage::user("alice", "notes").attachment_token(&c)],
    )
    .await;
    assert_eq!(source.file_count(), 3);

    // Killed right after the first import landed (the run future is dropped at its next
    // await: a download or an import in flight).
    let journal = dir.path("copy.journal");
    let (landed_tx, landed_rx) = tokio::sync::oneshot::channel::<()>();
    let landed_tx = std::sync::Mutex::new(Some(landed_tx));
    let first = Migration::from_app(client(&source), client(&target))
        .allow_private_file_hosts(true)
        .journal(&journal)
        .concurrency(1)
        .on_progress(move |p| {
            if p.messages_landed > 0 {
                if let Some(tx) = landed_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        });
    tokio::select! {
        biased;
        _ = landed_rx => {}
        result = first.run() => panic!("the run ended before the kill: {result:?}"),
    }
    drop(first);
    // At least the first file is up and recorded; the run may have got further within the
    // poll that reported the landing (answers arriving on the other worker thread), so up to
    // all three. An upload in flight when the run was dropped may land without its record:
    // it is done again (an unused upload is invisible). Whatever the count, the resume must
    // upload exactly the files the journal does not have.
    let recorded_before: i64 = rusqlite::Connection::open(&journal)
        .expect("open the journal")
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))
        .expect("count recorded files");
    let recorded_before = u64::try_from(recorded_before).unwrap();
    assert!(
        (1..=3).contains(&recorded_before),
        "{recorded_before} uploads recorded before the kill"
    );

    // The import left in flight by the kill is looked up once the settle time has passed
    // (short here: the fake has no late writes).
    let copy = Migration::from_app(client(&source), client(&target))
        .allow_private_file_hosts(true)
        .settle_time(std::time::Duration::from_millis(200))
        .journal(&journal);
    let report = copy.run().await.expect("resume");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.files, 3);
    assert_eq!(report.uploads, 3 - recorded_before);
    // Concurrency 1: at most one upload was in flight at the kill.
    let uploaded = target.file_count();
    assert!(
        (3..=4).contains(&uploaded),
        "each source file uploaded once, one more at most: {uploaded}"
    );

    for conversation in ["c0", "c1", "c2"] {
        let from = source.messages(conversation);
        let to = target.messages(conversation);
        assert_eq!(from.len(), to.len(), "{conversation}: every message once");
        for (s, t) in from.iter().zip(&to) {
            assert_eq!(s.text, t.text);
            assert_eq!(file_of(&source, s), file_of(&target, t), "{conversation}");
        }
    }
    assert_eq!(file_of(&target, &target.messages("c2")[0]), Some(bytes_c));
    assert_eq!(file_of(&target, &target.messages("c1")[0]), Some(bytes_b));
    let photos: Vec<_> = ["c0", "c1"]
        .iter()
        .flat_map(|c| target.messages(c))
        .filter(|m| file_of(&target, m).as_deref() == Some(&bytes_a[..]))
        .map(|m| m.attachment.expect("attachment").url)
        .collect();
    assert_eq!(photos.len(), 3);
    assert!(
        photos.iter().all(|u| *u == photos[0]),
        "one upload serves all three messages: {photos:?}"
    );

    let verify = copy.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");
    let again = copy.run().await.expect("again");
    assert_eq!((again.requests, again.uploads), (0, 0));
    assert_eq!(target.file_count(), uploaded);
}

fn user(id: &str) -> String {
    json!({"id": id, "name": id, "createdAt": 1}).to_string()
}

fn conversation(id: &str) -> String {
    json!({"id": id, "createdAt": 1, "participants": {
        "alice": {"access": "ReadWrite", "notify": true},
        "bob": {"access": "ReadWrite", "notify": true}}})
    .to_string()
}

fn message(id: &str, sender: &str, text: &str, ts: u64, extra: &Value) -> String {
    let mut m = json!({"id": id, "type": "UserMessage", "conversationId": "c0",
        "senderId": sender, "text": text, "createdAt": ts, "readBy": []});
    if let (Value::Object(m), Value::Object(extra)) = (&mut m, extra) {
        m.extend(extra.clone());
    }
    m.to_string()
}

fn system(id: &str, text: &str, ts: u64, custom: &Value) -> String {
    json!({"id": id, "type": "SystemMessage", "conversationId": "c0", "senderId": null,
        "text": text, "createdAt": ts, "readBy": ["alice"], "custom": custom})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_from_a_file_a_shared_url_once_a_broken_one_reported_by_line() {
    let host = FakeTalkJs::start().await.expect("the files' host");
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("attachments-file");
    let data = b"the shared file".to_vec();
    let token = client(&host)
        .files()
        .upload("shared.txt", "text/plain", data.clone(), None)
        .await
        .expect("upload");
    let url = format!("{}/files/{token}/shared.txt", host.base_url());
    let broken = format!(
        "{}/files/att_missing/gone.png?signature=SECRET123",
        host.base_url()
    );
    let lines = vec![
        user("alice"),
        user("bob"),
        conversation("c0"),
        message(
            "m1",
            "alice",
            "here is the file",
            1000,
            &json!({"attachment": {"url": url, "size": data.len()}}),
        ),
        message("m2", "bob", "", 2000, &json!({"attachment": {"url": url}})),
        message(
            "m3",
            "alice",
            "broken",
            3000,
            &json!({"attachment": {"url": broken}}),
        ),
        message("m4", "bob", "plain", 4000, &json!({})),
        message(
            "m5",
            "alice",
            "",
            5000,
            &json!({"location": [51.48, -3.17]}),
        ),
        message(
            "m6",
            "bob",
            "with location",
            6000,
            &json!({"location": [1.0, 2.0]}),
        ),
    ];
    let file = dir.path("export.jsonl");
    write_lines(&file, &lines);

    let migration = Migration::from_file(&file, client(&target)).allow_private_file_hosts(true);
    let report = migration.run().await.expect("run");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.messages.done, 4);
    assert_eq!(report.messages.failed, 1);
    assert_eq!((report.files, report.uploads), (1, 1));
    assert_eq!(target.file_count(), 1, "the shared file is uploaded once");
    let [failure] = &report.failed[..] else {
        panic!("{:?}", report.failed)
    };
    assert_eq!(failure.kind, ItemKind::Message);
    assert_eq!(failure.source_id, "m3");
    assert_eq!(failure.line, Some(6));
    assert!(failure.permanent);
    assert!(failure.error.contains("404"), "{}", failure.error);
    assert!(
        !failure.error.contains("SECRET123"),
        "a URL's query is not shown: {}",
        failure.error
    );
    let note = |line: u64| {
        report
            .notes
            .iter()
            .find(|n| n.line == Some(line))
            .unwrap_or_else(|| panic!("no note on line {line}: {:?}", report.notes))
    };
    assert_eq!(note(8).severity, Severity::Skipped);
    assert!(note(8).text.contains("a location only"), "{}", note(8));
    assert_eq!(note(9).severity, Severity::Warning);
    assert!(note(9).text.contains("location"), "{}", note(9));

    let found = target.messages("c0");
    let texts: Vec<&str> = found.iter().filter_map(|m| m.text.as_deref()).collect();
    assert_eq!(texts, ["here is the file", "", "plain", "with location"]);
    assert_eq!(file_of(&target, &found[0]), Some(data.clone()));
    assert_eq!(file_of(&target, &found[1]), Some(data));
    assert_eq!(found[0].attachment, found[1].attachment);
    assert!(found[2].attachment.is_none());

    // The failed message is missing in the target, and verify says so.
    let verify = migration.verify().await.expect("verify");
    let mismatches: Vec<_> = verify
        .mismatched()
        .flat_map(|c| c.mismatches.iter())
        .map(|m| (m.field, m.source_id.as_deref()))
        .collect();
    assert_eq!(
        mismatches.first(),
        Some(&("missing", Some("m3"))),
        "{verify:?}"
    );
    assert_eq!(migration.run().await.expect("again").requests, 0);
}

/// alice and bob in c0: three user messages and, between them, two system messages.
fn export_with_system_messages() -> Vec<String> {
    vec![
        user("alice"),
        user("bob"),
        conversation("c0"),
        message("m1", "alice", "hello", 1000, &json!({})),
        system("s1", "Alice joined", 1500, &json!({"kind": "join"})),
        message("m2", "bob", "hi", 2000, &json!({})),
        system("s2", "Bob left", 2500, &json!({})),
        message("m3", "alice", "bye", 3000, &json!({})),
    ]
}

/// (type, text) of each message, oldest first.
fn kinds_and_texts(fake: &FakeTalkJs) -> Vec<(MessageType, String)> {
    fake.messages("c0")
        .into_iter()
        .map(|m| (m.message_type, m.text.unwrap_or_default()))
        .collect()
}

fn expected_with_system_messages() -> Vec<(MessageType, String)> {
    [
        (MessageType::UserMessage, "hello"),
        (MessageType::UserMessage, "hi"),
        (MessageType::UserMessage, "bye"),
        (MessageType::SystemMessage, "Alice joined"),
        (MessageType::SystemMessage, "Bob left"),
    ]
    .into_iter()
    .map(|(k, t)| (k, t.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_messages_are_skipped_unless_asked_for_then_sent_once_after_a_lost_answer() {
    let dir = Scratch::new("system");
    let file = dir.path("export.jsonl");
    write_lines(&file, &export_with_system_messages());

    // Without the option: skipped, each with its line, and counted in a warning.
    let plain = FakeTalkJs::start().await.expect("fake");
    let report = Migration::from_file(&file, client(&plain))
        .journal(dir.path("plain.journal"))
        .run()
        .await
        .expect("run");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.skipped_system_messages, 2);
    assert_eq!(report.system_messages.total, 0);
    let skipped: Vec<u64> = report.rejected_lines().filter_map(|n| n.line).collect();
    assert_eq!(skipped, [5, 7]);
    assert!(
        report.notes.iter().any(|n| n.severity == Severity::Warning
            && n.text.starts_with("2 system messages are skipped")),
        "{:?}",
        report.notes
    );
    assert_eq!(plain.messages("c0").len(), 3);

    // With it, and the answer of the send lost after it was applied: the run is not
    // complete; the next run sends again with the same idempotency keys: nothing new.
    let target = FakeTalkJs::start().await.expect("fake");
    let journal = dir.path("system.journal");
    let (lossy, lose) = lossy_client(&target, Request::Send, Fault::LostAnswer);
    let first = Migration::from_file(&file, lossy)
        .journal(&journal)
        .system_messages(true)
        .run()
        .await
        .expect("first run");
    assert!(lose.fired() && lose.applied());
    assert!(!first.is_complete());
    assert_eq!(first.messages.done, 3);
    assert_eq!(first.system_messages.failed, 2, "{:?}", first.failed);
    assert_eq!(kinds_and_texts(&target), expected_with_system_messages());

    let migration = Migration::from_file(&file, client(&target))
        .journal(&journal)
        .system_messages(true);
    let second = migration.run().await.expect("second run");
    assert!(second.is_complete(), "{second:?}");
    assert_eq!(second.requests, 1);
    assert_eq!(second.system_messages.done, 2);
    assert_eq!(
        kinds_and_texts(&target),
        expected_with_system_messages(),
        "each system message once, after the imported history"
    );
    let found = target.messages("c0");
    assert_eq!(
        found[3].custom.get("kind").map(String::as_str),
        Some("join")
    );
    assert!(found[3].sender_id.is_none());
    assert_eq!(
        migration
            .target_id(ItemKind::SystemMessage, "s1")
            .expect("journal")
            .as_deref(),
        Some(found[3].id.as_str())
    );
    let verify = migration.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");

    // The journal was planned with system messages: a run without them is refused.
    assert_refused_without(&file, &journal, &target, "--system-messages").await;
}

/// A run of `file` with `journal`, which was planned with `setting` on, asking for it off
/// (the default): refused with [`Error::SettingChanged`] naming `setting`, nothing sent.
async fn assert_refused_without(file: &Path, journal: &Path, target: &FakeTalkJs, setting: &str) {
    let before = target.request_count();
    let err = Migration::from_file(file, client(target))
        .journal(journal)
        .run()
        .await
        .expect_err("another setting");
    assert!(
        matches!(
            &err,
            Error::SettingChanged {
                setting: named,
                planned: true,
                requested: false,
                ..
            } if *named == setting
        ),
        "{err}"
    );
    assert!(err.to_string().contains(setting), "{err}");
    assert_eq!(target.request_count(), before, "{setting}: nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_message_send_in_flight_when_killed_is_not_duplicated_by_the_resume() {
    let dir = Scratch::new("system-kill");
    let file = dir.path("export.jsonl");
    write_lines(&file, &export_with_system_messages());
    let target = FakeTalkJs::start().await.expect("fake");
    let journal = dir.path("system.journal");
    let (hanging, lose) = lossy_client(&target, Request::Send, Fault::HangAfterApplied);
    let first = Migration::from_file(&file, hanging)
        .journal(&journal)
        .system_messages(true);
    // Killed while the send is in flight, after the fake applied it.
    tokio::select! {
        result = first.run() => panic!("the run ended: {result:?}"),
        () = async {
            while !lose.applied() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        } => {}
    }
    drop(first);
    assert_eq!(kinds_and_texts(&target), expected_with_system_messages());

    let report = Migration::from_file(&file, client(&target))
        .journal(&journal)
        .system_messages(true)
        .run()
        .await
        .expect("resume");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.requests, report.system_messages.done), (1, 2));
    assert_eq!(kinds_and_texts(&target), expected_with_system_messages());
}

/// The target already holds a message with the sender, time and text of m2 (an earlier
/// import without a journal, say).
async fn target_with_a_twin_of_m2() -> FakeTalkJs {
    let fake = FakeTalkJs::start().await.expect("fake");
    let c = client(&fake);
    users_and_conversations(&c, &["c0"]).await;
    c.conversations()
        .messages("c0")
        .import([ImportMessage::new(
            "bob",
            "two",
            Timestamp::from_millis(2000),
        )])
        .await
        .expect("the twin");
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_marker_an_identical_message_in_the_target_is_not_taken_for_ours() {
    let dir = Scratch::new("marker");
    let file = dir.path("export.jsonl");
    write_lines(
        &file,
        &[
            user("alice"),
            user("bob"),
            conversation("c0"),
            message("m1", "alice", "one", 1000, &json!({})),
            message("m2", "bob", "two", 2000, &json!({})),
            message("m3", "alice", "three", 3000, &json!({})),
        ],
    );

    // The import fails before it reaches the target: its outcome is unknown to the run,
    // which lists the conversation. By the marker, none of the three is there.
    let target = target_with_a_twin_of_m2().await;
    let journal = dir.path("marker.journal");
    let (lossy, lose) = lossy_client(&target, Request::Import, Fault::NotSent);
    let report = Migration::from_file(&file, lossy)
        .journal(&journal)
        .settle_time(std::time::Duration::from_millis(200))
        .mark_source_ids(true)
        .run()
        .await
        .expect("run");
    assert!(lose.fired() && !lose.applied());
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        (
            report.resolved.chunks,
            report.resolved.landed,
            report.resolved.resent
        ),
        (1, 0, 3)
    );
    let found = target.messages("c0");
    let markers: Vec<Option<&str>> = found
        .iter()
        .map(|m| m.custom.get(SOURCE_ID_KEY).map(String::as_str))
        .collect();
    assert_eq!(markers, [Some("m1"), None, Some("m2"), Some("m3")]);
    let migration = Migration::from_file(&file, client(&target))
        .journal(&journal)
        .mark_source_ids(true);
    let verify = migration.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");
    assert_eq!(
        (
            verify.conversations[0].found,
            verify.conversations[0].unmarked
        ),
        (3, 1)
    );

    // A resumed run without the marker is refused, and sends nothing.
    assert_refused_without(&file, &journal, &target, "--mark-source-ids").await;
    assert_eq!(migration.run().await.expect("same setting").requests, 0);

    // Without the marker the twin is not taken for m2 either: the conversation existed, so
    // it was listed before the first import and the twin counted as what it held before.
    let unmarked = target_with_a_twin_of_m2().await;
    let (lossy, _) = lossy_client(&unmarked, Request::Import, Fault::NotSent);
    let report = Migration::from_file(&file, lossy)
        .journal(dir.path("unmarked.journal"))
        .settle_time(std::time::Duration::from_millis(200))
        .run()
        .await
        .expect("run");
    assert_eq!((report.resolved.landed, report.resolved.resent), (0, 3));
    assert_eq!(unmarked.messages("c0").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_downloaded_now_waits_for_the_next_run_in_order() {
    let host = FakeTalkJs::start().await.expect("the files' host");
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("attachments-transient");
    let token = client(&host)
        .files()
        .upload("later.txt", "text/plain", &b"later"[..], None)
        .await
        .expect("upload");
    let url = format!("{}/files/{token}/later.txt", host.base_url());
    let file = dir.path("export.jsonl");
    write_lines(
        &file,
        &[
            user("alice"),
            user("bob"),
            conversation("c0"),
            message("m1", "alice", "before", 1000, &json!({})),
            message(
                "m2",
                "bob",
                "the file",
                2000,
                &json!({"attachment": {"url": url}}),
            ),
            message("m3", "alice", "after", 3000, &json!({})),
        ],
    );
    // The host closes every connection without an answer: a failure a later run may not
    // meet. m1 goes; m2 fails for now (with its line); m3 waits, to keep the order.
    host.set_faults(talkjs_fake::Faults::seeded(1).reset_rate(1.0));
    let migration = Migration::from_file(&file, client(&target)).allow_private_file_hosts(true);
    let first = migration.run().await.expect("first run");
    assert!(!first.is_complete());
    assert_eq!(
        (
            first.messages.done,
            first.messages.failed,
            first.messages.planned
        ),
        (1, 1, 1)
    );
    let [failure] = &first.failed[..] else {
        panic!("{:?}", first.failed)
    };
    assert_eq!((failure.source_id.as_str(), failure.line), ("m2", Some(5)));
    assert!(!failure.permanent, "{failure:?}");
    assert_eq!(target.file_count(), 0);

    host.set_faults(talkjs_fake::Faults::none());
    let second = migration.run().await.expect("second run");
    assert!(
        second.is_complete() && second.failed.is_empty(),
        "{second:?}"
    );
    assert_eq!((second.files, second.uploads), (1, 1));
    let found = target.messages("c0");
    let texts: Vec<&str> = found.iter().filter_map(|m| m.text.as_deref()).collect();
    assert_eq!(texts, ["before", "the file", "after"]);
    assert_eq!(file_of(&target, &found[1]), Some(b"later".to_vec()));
}
