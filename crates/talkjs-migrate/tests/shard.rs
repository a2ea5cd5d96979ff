//! Two shards of one migration run side by side against one fake: every message exactly
//! once, and together they equal the unsharded migration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Export, Scratch, assert_target_matches, client, write_lines};
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::{Error, Migration, Shard, shard_of};

/// What a migration left in a fake: users, conversations with their participants, and
/// each conversation's messages (sender, time, text, custom, readers), sorted by id.
type Contents = (Vec<String>, Vec<(String, Vec<String>, Vec<String>)>);

fn contents(fake: &FakeTalkJs) -> Contents {
    let mut users: Vec<String> = fake
        .users()
        .iter()
        .map(|u| u.id.as_str().to_owned())
        .collect();
    users.sort();
    let mut conversations: Vec<_> = fake
        .conversations()
        .iter()
        .map(|c| {
            let mut participants: Vec<String> = c
                .participants
                .keys()
                .map(|p| p.as_str().to_owned())
                .collect();
            participants.sort();
            let messages = fake
                .messages(c.id.as_str())
                .iter()
                .map(|m| {
                    let mut readers: Vec<&str> = m.read_by.iter().map(AsRef::as_ref).collect();
                    readers.sort_unstable();
                    format!(
                        "{:?} {} {:?} {:?} {readers:?}",
                        m.sender_id,
                        m.created_at.as_millis(),
                        m.text,
                        m.custom
                    )
                })
                .collect();
            (c.id.as_str().to_owned(), participants, messages)
        })
        .collect();
    conversations.sort();
    (users, conversations)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_side_by_side_migrate_every_message_once_like_one_run() {
    let dir = Scratch::new("shards");
    let export = Export::generate(14, 16, 12);
    let file = dir.path("export.jsonl");
    let mut lines = export.lines();
    // A user in no conversation: shard 0 takes it.
    lines.insert(0, Export::user_line("loner").to_string());
    write_lines(&file, &lines);
    let (zero, one) = (Shard::new(0, 2).unwrap(), Shard::new(1, 2).unwrap());
    let in_zero = export
        .conversations
        .iter()
        .filter(|(id, _)| shard_of(id, 2) == 0)
        .count();
    assert!(0 < in_zero && in_zero < 16, "both shards have work");

    let fake = FakeTalkJs::start().await.expect("fake");
    let first = Migration::from_file(&file, client(&fake))
        .shard(zero)
        .concurrency(4);
    let second = Migration::from_file(&file, client(&fake))
        .shard(one)
        .concurrency(4);
    assert_eq!(
        first.journal_path(),
        dir.path("export.jsonl.shard-0-of-2.journal")
    );
    assert_eq!(
        second.journal_path(),
        dir.path("export.jsonl.shard-1-of-2.journal")
    );
    let (a, b) = tokio::join!(first.run(), second.run());
    let (a, b) = (a.expect("shard 0"), b.expect("shard 1"));
    for report in [&a, &b] {
        assert!(report.is_complete(), "{report:?}");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report.rejected_lines().next().is_none(),
            "{:?}",
            report.notes
        );
    }
    assert_eq!(a.conversations.done, in_zero as u64);
    assert_eq!(
        a.conversations.done + b.conversations.done,
        export.conversations.len() as u64
    );
    assert_eq!(
        a.messages.done + b.messages.done,
        export.message_count() as u64
    );
    // Each shard upserts only the users its conversations name (and shard 0 the loner).
    assert!(a.users.total < 15 && b.users.total < 15, "{a:?} {b:?}");
    assert_target_matches(&fake, &export);
    assert!(fake.user("loner").is_some());
    for m in [&first, &second] {
        assert!(m.verify().await.expect("verify a shard").matches());
        assert_eq!(m.run().await.expect("again").requests, 0);
    }
    // The unsharded verification sees both shards' work as one.
    let whole = Migration::from_file(&file, client(&fake)).journal(dir.path("verify.journal"));
    assert!(whole.verify().await.expect("verify").matches());

    // The same input unsharded, into another fake: the same result.
    let reference = FakeTalkJs::start().await.expect("reference fake");
    let report = Migration::from_file(&file, client(&reference))
        .journal(dir.path("whole.journal"))
        .run()
        .await
        .expect("unsharded");
    assert!(report.is_complete());
    assert_eq!(contents(&fake), contents(&reference));

    // A shard's journal is that shard's only.
    let wrong = Migration::from_file(&file, client(&fake))
        .shard(one)
        .journal(dir.path("export.jsonl.shard-0-of-2.journal"));
    let before = fake.request_count();
    assert!(matches!(wrong.run().await, Err(Error::WrongInput { .. })));
    assert_eq!(fake.request_count(), before);
}
