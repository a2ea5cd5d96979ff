//! Copying between two apps, participant settings, and what protects a journal: the lock
//! against a second process, and the check that it belongs to this input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_fake::FakeTalkJs;
use talkjs_migrate::talkjs_api::models::{Access, NewMessage, Notify};
use talkjs_migrate::{Error, Migration, REPLY_TO_KEY};
use talkjs_test_support::migrate::{Export, Scratch, assert_target_matches, client, write_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_one_app_into_another_then_verifies() {
    let source = FakeTalkJs::start().await.expect("source fake");
    let target = FakeTalkJs::start().await.expect("target fake");
    let dir = Scratch::new("app");
    let export = Export::generate(9, 5, 23);
    let file = dir.path("export.jsonl");
    export.write(&file);
    // Fill the source app from the file, and add a real reply there.
    let report = Migration::from_file(&file, client(&source))
        .run()
        .await
        .expect("fill the source");
    assert!(report.is_complete());
    let first = source.messages("c1")[0].id.as_str().to_owned();
    let sender = export.conversations[1].1[0].clone();
    client(&source)
        .conversations()
        .messages("c1")
        .send([NewMessage::user(sender.as_str(), "a reply").referenced_message_id(first.as_str())])
        .await
        .expect("send a reply");

    let copy =
        Migration::from_app(client(&source), client(&target)).journal(dir.path("copy.journal"));
    let report = copy.run().await.expect("copy");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.messages.done, export.message_count() as u64 + 1);
    assert_eq!(copy.run().await.expect("again").requests, 0);

    let verify = copy.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");
    // The reply's link is carried in custom.
    let copied = target.messages("c1");
    let reply = copied.last().expect("the reply");
    assert_eq!(reply.text.as_deref(), Some("a reply"));
    assert_eq!(reply.custom.get(REPLY_TO_KEY), Some(&first));
    assert_eq!(copied.len(), export.messages[1].len() + 1);
    let mut without_reply = export.clone();
    without_reply.messages.remove(1);
    without_reply.conversations.remove(1);
    assert_target_matches(&target, &without_reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participant_settings_arrive_after_the_messages() {
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("participants");
    let export = Export::generate(4, 1, 3);
    let mut lines = export.lines();
    // c0's members are u0, u3 and u2 (see Export::generate): u3 reads only, u2 is muted.
    let conversation = lines
        .iter_mut()
        .find(|l| l.contains("\"participants\""))
        .expect("the conversation line");
    *conversation = serde_json::json!({
        "id": "c0", "subject": "Subject of c0", "createdAt": 1_500_000_000_000u64,
        "participants": {
            "u0": {"access": "ReadWrite", "notify": true},
            "u3": {"access": "Read", "notify": true},
            "u2": {"access": "ReadWrite", "notify": false}
        }
    })
    .to_string();
    let file = dir.path("participants.jsonl");
    write_lines(&file, &lines);
    let report = Migration::from_file(&file, client(&fake))
        .run()
        .await
        .expect("run");
    assert!(
        report.is_complete() && report.failed.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.participants.done, 2);
    let c0 = fake.conversation("c0").expect("c0");
    let settings = |u: &str| {
        c0.participants
            .iter()
            .find(|(id, _)| id.as_str() == u)
            .map(|(_, p)| (p.access.clone(), p.notify.clone()))
            .expect("participant")
    };
    assert_eq!(settings("u3"), (Access::Read, Notify::All));
    assert_eq!(settings("u2"), (Access::ReadWrite, Notify::Off));
    assert_eq!(settings("u0"), (Access::ReadWrite, Notify::All));
    assert_target_matches(&fake, &export);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_in_use_or_of_another_input_is_refused() {
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("journal");
    let export = Export::generate(3, 1, 4);
    let file = dir.path("a.jsonl");
    export.write(&file);
    let journal = dir.path("a.journal");
    let migration = Migration::from_file(&file, client(&fake)).journal(&journal);
    migration.run().await.expect("first run");

    // Another process holds the journal: refused, nothing sent.
    {
        let holder = rusqlite::Connection::open(&journal).expect("open");
        holder
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .expect("lock");
        let before = fake.request_count();
        let err = migration.run().await.expect_err("busy");
        assert!(matches!(err, Error::JournalBusy { .. }), "{err}");
        assert_eq!(fake.request_count(), before);
    }

    // The input changed since the plan: refused.
    let mut lines = export.lines();
    lines.push(Export::user_line("u99").to_string());
    write_lines(&file, &lines);
    let err = migration.run().await.expect_err("another input");
    assert!(matches!(err, Error::WrongInput { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_where_it_stopped() {
    // A target that takes 100 messages an import: one import per conversation.
    let fake = FakeTalkJs::builder()
        .max_import_batch(100)
        .start()
        .await
        .expect("fake");
    let dir = Scratch::new("stop");
    let export = Export::generate(6, 4, 30);
    let file = dir.path("stop.jsonl");
    export.write(&file);
    let migration = Migration::from_file(&file, client(&fake)).concurrency(1);
    let stop = migration.stop_handle();
    let migration = migration.on_progress(move |p| {
        if p.requests >= 6 {
            stop.stop();
        }
    });
    let first = migration.run().await.expect("stopped run");
    assert!(!first.is_complete());
    assert!(first.messages.done > 0 && first.messages.done < export.message_count() as u64);
    assert_eq!(
        first.messages.in_flight, 0,
        "requests in flight finish before it stops"
    );

    let rest = Migration::from_file(&file, client(&fake))
        .run()
        .await
        .expect("the rest");
    assert!(rest.is_complete());
    assert_eq!(first.requests + rest.requests, 1 + 4 + 4);
    assert_target_matches(&fake, &export);
}
