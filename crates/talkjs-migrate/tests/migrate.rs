//! Migrations from a JSON lines file into the fake, in process: a full run, a second run
//! that sends nothing, bad input reported by line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_fake::FakeTalkJs;
use talkjs_migrate::{ItemKind, Migration, Severity};
use talkjs_test_support::migrate::{
    Export, Scratch, SourceMessage, assert_target_matches, client, write_lines,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_file_and_a_second_run_sends_nothing() {
    // A target that takes 100 messages an import, as TalkJS's transfer example sends them.
    let fake = FakeTalkJs::builder()
        .max_import_batch(100)
        .start()
        .await
        .expect("fake");
    let dir = Scratch::new("full");
    let export = Export::generate(12, 8, 37);
    let file = dir.path("export.jsonl");
    export.write(&file);

    // A short settle time: --verify looks again that much later at a conversation that
    // differs (the difference made below is real).
    let migration = Migration::from_file(&file, client(&fake))
        .settle_time(std::time::Duration::from_millis(100));
    assert_eq!(migration.journal_path(), dir.path("export.jsonl.journal"));
    let report = migration.run().await.expect("first run");
    assert!(report.planned);
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        report.rejected_lines().next().is_none(),
        "{:?}",
        report.notes
    );
    assert_eq!(report.messages.done, export.message_count() as u64);
    assert_eq!(report.users.done, 12);
    assert_eq!(report.conversations.done, 8);
    // 1 user request, 8 conversations, one import of 37 per conversation.
    assert_eq!(report.requests, 1 + 8 + 8);
    assert_target_matches(&fake, &export);

    let before = fake.request_count();
    let again = migration.run().await.expect("second run");
    assert!(!again.planned);
    assert!(again.is_complete());
    assert_eq!(again.requests, 0);
    assert_eq!(
        fake.request_count(),
        before,
        "a complete migration sends nothing"
    );
    assert_target_matches(&fake, &export);

    let verify = migration.verify().await.expect("verify");
    assert!(verify.matches(), "{verify:?}");
    assert_eq!(verify.conversations.len(), 8);
    // Verification records the source→target id map.
    let target = migration
        .target_id(ItemKind::Message, "msg_3_5")
        .expect("journal")
        .expect("a target id for msg_3_5");
    assert!(fake.messages("c3").iter().any(|m| m.id.as_str() == target));
    assert_eq!(
        migration
            .target_id(ItemKind::User, "u4")
            .expect("journal")
            .as_deref(),
        Some("u4")
    );

    // A message removed in the target shows in the verification.
    let victim = fake.messages("c2")[4].id.as_str().to_owned();
    client(&fake)
        .conversations()
        .messages("c2")
        .delete(&victim)
        .await
        .expect("delete");
    let verify = migration.verify().await.expect("verify");
    assert!(!verify.matches());
    let bad: Vec<_> = verify
        .mismatched()
        .map(|c| c.conversation.as_str())
        .collect();
    assert_eq!(bad, ["c2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_reported_by_number_and_the_rest_migrates() {
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("bad");
    let export = Export::generate(6, 3, 12);
    let mut lines = export.lines();
    let n = lines.len();
    let orphan = Export::message_line(
        "nowhere",
        &SourceMessage {
            id: "orphan".into(),
            sender: "u1".into(),
            text: "lost".into(),
            ts: 1_700_000_000_000,
            read_by: vec![],
            reply_to: None,
        },
    );
    let stranger = Export::message_line(
        "c0",
        &SourceMessage {
            id: "stranger".into(),
            sender: "zoe".into(),
            text: "who am I".into(),
            ts: 1_700_000_000_000,
            read_by: vec![],
            reply_to: None,
        },
    );
    // Line numbers are 1-based, each insertion at its final place.
    lines.insert(2, "{\"id\": \"u9\", \"name\": ".into()); // line 3
    lines.insert(8, stranger.to_string()); // line 9
    lines.push(orphan.to_string()); // line n + 3
    let file = dir.path("bad.jsonl");
    write_lines(&file, &lines);

    let report = Migration::from_file(&file, client(&fake))
        .run()
        .await
        .expect("run");
    let errors: Vec<(Option<u64>, &str)> = report
        .notes
        .iter()
        .filter(|n| n.severity == Severity::Error)
        .map(|n| (n.line, n.text.as_str()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, Some(3));
    assert!(errors[0].1.contains("not valid JSON"), "{errors:?}");
    let stranger = errors
        .iter()
        .find(|e| e.1.contains("\"stranger\""))
        .expect("the unknown sender");
    assert_eq!(stranger.0, Some(9));
    assert!(
        stranger.1.contains("unknown sender \"zoe\""),
        "{stranger:?}"
    );
    let orphan = errors
        .iter()
        .find(|e| e.1.contains("\"orphan\""))
        .expect("the orphan");
    assert_eq!(orphan.0, Some(n as u64 + 3));
    assert!(
        orphan
            .1
            .contains("conversation \"nowhere\" is not in the input")
    );
    assert_eq!(report.rejected_lines().count(), 3);
    assert!(report.notes.iter().any(|n| {
        n.to_string()
            .starts_with("line 9: error: message \"stranger\"")
    }));

    assert!(report.is_complete());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_target_matches(&fake, &export);
}

#[test]
fn the_run_and_verify_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let target = talkjs_migrate::talkjs_api::Client::builder("app", "sk_test_x")
        .build()
        .expect("client");
    let migration = Migration::from_file("export.jsonl", target);
    send(&migration.run());
    send(&migration.verify());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_knows_the_totals_before_the_first_request_and_counts_down_the_requests() {
    use std::sync::{Arc, Mutex};
    let fake = FakeTalkJs::builder()
        .max_import_batch(100)
        .start()
        .await
        .expect("fake");
    let dir = Scratch::new("progress");
    let export = Export::generate(3, 2, 15);
    let file = dir.path("export.jsonl");
    export.write(&file);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let migration = Migration::from_file(&file, client(&fake)).on_progress({
        let seen = seen.clone();
        move |p| seen.lock().unwrap().push(*p)
    });
    let report = migration.run().await.expect("run");
    assert!(report.is_complete(), "{report:?}");
    let seen = seen.lock().unwrap();
    let messages = export.message_count() as u64;
    // Before any request: the totals, and the requests the plan takes at least (1 user
    // request, 2 conversations, an import of up to 100 for each).
    let first = seen[0];
    assert_eq!(first.requests, 0);
    assert_eq!(first.total, 3 + 2 + messages);
    assert_eq!(first.messages_total, messages);
    assert_eq!(first.messages_landed, 0);
    assert_eq!(first.requests_left, 1 + 2 + 2);
    assert_eq!(first.eta, None);
    // Callbacks of concurrent requests may arrive out of order: the last state is among
    // them, not necessarily last.
    let last = seen
        .iter()
        .max_by_key(|p| (p.landed, p.requests))
        .copied()
        .unwrap();
    assert_eq!(last.messages_landed, messages);
    assert_eq!(last.landed, last.total);
    assert_eq!(last.requests, report.requests);
    assert_eq!(last.requests_left, 0);
    assert_eq!(last.eta, Some(std::time::Duration::ZERO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_takes_10_messages_an_import_costs_one_refused_request() {
    // TalkJS's reference page allows 10 messages an import (the fake's default); the
    // migration tries 100, and after one refusal (a 400 applies nothing) sends 10 a request.
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("ten");
    let export = Export::generate(6, 4, 37);
    let file = dir.path("export.jsonl");
    export.write(&file);
    // Stopped once the first conversation's 37 messages landed 10 at a time after the
    // refusal (which shows the size was refused, not a message)...
    let first = Migration::from_file(&file, client(&fake)).concurrency(1);
    let stop = first.stop_handle();
    let first = first.on_progress(move |p| {
        if p.messages_landed >= 40 {
            stop.stop();
        }
    });
    let report = first.run().await.expect("first run");
    assert!(!report.is_complete(), "{report:?}");
    assert_eq!(fake.status_count(400), 1, "one refused import");
    // ...and resumed: the journal remembers the size, so nothing is refused again.
    let report = Migration::from_file(&file, client(&fake))
        .concurrency(1)
        .run()
        .await
        .expect("resumed run");
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        fake.status_count(400),
        1,
        "no refused import after the first"
    );
    assert_target_matches(&fake, &export);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_in_flight_wait_for_one_probe_of_the_import_size() {
    // 8 conversations imported side by side into a target that takes 10: one of them tries
    // 100 while the others wait for its answer, so one request is refused, not eight.
    let fake = FakeTalkJs::start().await.expect("fake");
    let dir = Scratch::new("probe");
    let export = Export::generate(6, 8, 25);
    let file = dir.path("export.jsonl");
    export.write(&file);
    let report = Migration::from_file(&file, client(&fake))
        .run()
        .await
        .expect("run");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(fake.status_count(400), 1, "one refused import");
    // 1 user request, 8 conversations, 3 imports of up to 10 each, and the refused one.
    assert_eq!(report.requests, 1 + 8 + 8 * 3 + 1);
    assert_target_matches(&fake, &export);
}
