//! The bulk runner (`client.bulk()`) against the in-process fake: a workload with bad records
//! mixed in lands every good record once, in order, and reports every bad one with its
//! reason; requests are packed as TalkJS allows; a shared limit is never exceeded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use talkjs::api::{BulkItem, BulkKind};
use talkjs::models::{
    ConversationUpsert, ImportMessage, NewMessage, ParticipantOverwrite, Timestamp, UserUpsert,
};
use talkjs::transport::{Quota, RateLimiter};
use talkjs_fake::{FakeTalkJs, RateLimitConfig};

fn user(id: &str) -> BulkItem {
    BulkItem::User {
        id: id.to_owned(),
        user: UserUpsert::new().name(format!("User {id}")),
    }
}

fn conversation(id: &str, participants: &[&str]) -> BulkItem {
    BulkItem::Conversation {
        id: id.to_owned(),
        conversation: ConversationUpsert::new().participants(participants.iter().copied()),
    }
}

fn send(conversation: &str, sender: &str, text: &str) -> BulkItem {
    BulkItem::Send {
        conversation: conversation.to_owned(),
        message: NewMessage::user(sender, text)
            .idempotency_key(format!("{conversation}-{text}"))
            .into(),
    }
}

#[tokio::test]
async fn a_workload_with_bad_records_lands_every_good_one_once_and_reports_the_bad_ones() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);

    let mut items = Vec::new();
    // 250 users, two of them bad (a new user needs a name): three PUT /users, split down to
    // the bad records.
    for i in 0..250 {
        if i == 17 || i == 140 {
            items.push(BulkItem::User {
                id: format!("u{i}"),
                user: UserUpsert::new().email(["nameless@example.com"]),
            });
        } else {
            items.push(user(&format!("u{i}")));
        }
    }
    // 20 conversations of three users; one names a user that does not exist.
    for c in 0..20 {
        let members = [
            format!("u{}", 3 * c),
            format!("u{}", 3 * c + 1),
            format!("u{}", 3 * c + 2),
        ];
        let mut members: Vec<&str> = members.iter().map(String::as_str).collect();
        let bad_member = "ghost".to_owned();
        if c == 5 {
            members.push(&bad_member);
        }
        items.push(conversation(&format!("c{c}"), &members));
    }
    // A participant added afterwards.
    items.push(BulkItem::Participant {
        conversation: "c0".to_owned(),
        user: "u100".to_owned(),
        settings: ParticipantOverwrite::default(),
    });
    // 25 messages per conversation, in order; one message in c1 is from a non-participant,
    // which refuses its whole chunk of ten until the split isolates it.
    for c in 0..20 {
        for m in 0..25 {
            let sender = if c == 1 && m == 12 {
                "u200".to_owned()
            } else {
                format!("u{}", 3 * c + m % 3)
            };
            items.push(send(&format!("c{c}"), &sender, &format!("m{m:02}")));
        }
    }
    // Imports into c2, with their own times.
    for m in 0..5u64 {
        items.push(BulkItem::Import {
            conversation: "c2".to_owned(),
            message: ImportMessage::new(
                "u6",
                format!("old {m}"),
                Timestamp::from_millis(1_600_000_000_000 + m),
            ),
        });
    }
    let total = items.len();

    let progress_calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&progress_calls);
    let report = client
        .bulk()
        .total(total)
        .on_progress(move |p| {
            assert!(p.succeeded + p.failed <= p.total.unwrap());
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .run_iter(items)
        .await;

    // The bad ones, each with its reason and position.
    let failed: BTreeSet<(usize, BulkKind, String)> = report
        .failed
        .iter()
        .map(|f| (f.index, f.kind, f.subject.clone()))
        .collect();
    let first_message = 250 + 20 + 1;
    let mut expected = BTreeSet::from([
        (17, BulkKind::User, "u17".to_owned()),
        (140, BulkKind::User, "u140".to_owned()),
        (255, BulkKind::Conversation, "c5".to_owned()),
        (first_message + 25 + 12, BulkKind::Send, "c1".to_owned()),
    ]);
    // c5 was refused (a missing member), so its 25 messages fail too.
    expected.extend((0..25).map(|m| (first_message + 5 * 25 + m, BulkKind::Send, "c5".to_owned())));
    assert_eq!(failed, expected, "{:#?}", report.failed);
    for failure in &report.failed {
        assert!(!failure.error.is_transient(), "{failure:?}");
        if failure.subject != "c5" || failure.kind == BulkKind::Conversation {
            assert!(
                matches!(*failure.error, talkjs::Error::BadRequest { .. }),
                "{failure:?}"
            );
        }
    }
    assert_eq!(report.succeeded + report.failed.len(), total);
    assert_eq!(progress_calls.load(Ordering::SeqCst), report.requests);

    // Every good record landed once.
    assert_eq!(fake.users().len(), 248);
    assert!(fake.user("u17").is_none() && fake.user("u140").is_none());
    assert_eq!(fake.conversations().len(), 19);
    assert!(fake.conversation("c5").is_none());
    assert!(
        fake.conversation("c0")
            .unwrap()
            .participants
            .contains_key("u100")
    );
    for c in (0..20).filter(|&c| c != 5) {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let mut expected: Vec<String> = (0..25)
            .filter(|&m| !(c == 1 && m == 12))
            .map(|m| format!("m{m:02}"))
            .collect();
        if c == 2 {
            expected.splice(0..0, (0..5).map(|m| format!("old {m}")));
        }
        assert_eq!(texts, expected, "c{c}: every message once, in order");
    }
}

#[tokio::test]
async fn requests_are_packed_and_a_shared_limit_is_never_exceeded() {
    // The server allows 20 at once and 50 a second; the client's limiter, shared with a
    // clone that makes calls of its own meanwhile, keeps a margin under it (5 at once, 25 a
    // second) so that a stalled, loaded test machine cannot bunch requests past the server's
    // limit.
    let fake = FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 20,
            per_second: 50.0,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await
        .unwrap();
    let client = common::builder(&fake)
        .rate_limiter(Some(
            RateLimiter::new(fake.app_id()).general_quota(Quota::per_second(25, 5)),
        ))
        .build()
        .unwrap();
    let users = (0..200).map(|i| user(&format!("u{i}")));
    let conversations = (0..30).map(|c| {
        conversation(
            &format!("c{c}"),
            &[&format!("u{c}"), &format!("u{}", c + 100)],
        )
    });
    let messages = (0..30).flat_map(|c| {
        (0..10).map(move |m| send(&format!("c{c}"), &format!("u{c}"), &format!("m{m}")))
    });
    let other = client.clone();
    let meanwhile = tokio::spawn(async move {
        for _ in 0..5 {
            other.users().get("u0").await.ok();
        }
    });
    let report = client
        .bulk()
        .run_iter(users.chain(conversations).chain(messages))
        .await;
    meanwhile.await.unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.succeeded, 200 + 30 + 300);
    // 2 PUT /users of 100, 30 conversation PUTs, 30 sends of 10.
    assert_eq!(report.requests, 2 + 30 + 30);
    assert_eq!(
        fake.count_429(),
        0,
        "the shared limiter kept the run under the limit"
    );
    assert_eq!(fake.request_count(), 62 + 5, "no request was retried");
    assert_eq!(fake.message_count(), 300);
}

#[tokio::test]
async fn messages_of_interleaved_conversations_are_still_packed_ten_to_a_request_in_order() {
    let fake = FakeTalkJs::start().await.unwrap();
    let client = common::client(&fake);
    let users = (0..10).map(|c| user(&format!("u{c}")));
    let conversations = (0..10).map(|c| conversation(&format!("c{c}"), &[&format!("u{c}")]));
    // Round robin: m0 of every conversation, then m1 of every conversation, ...
    let messages = (0..10).flat_map(|m| {
        (0..10).map(move |c| send(&format!("c{c}"), &format!("u{c}"), &format!("m{m}")))
    });
    // Then, in c0, an import: another kind, so a request of its own.
    let import = std::iter::once(BulkItem::Import {
        conversation: "c0".to_owned(),
        message: ImportMessage::new("u0", "imported", Timestamp::from_millis(4_000_000_000_000)),
    });
    let report = client
        .bulk()
        .run_iter(users.chain(conversations).chain(messages).chain(import))
        .await;
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    // 1 PUT /users, 10 conversation PUTs, 10 sends of 10, 1 import.
    assert_eq!(report.requests, 1 + 10 + 10 + 1);
    for c in 0..10 {
        let texts: Vec<String> = fake
            .messages(&format!("c{c}"))
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let mut expected: Vec<String> = (0..10).map(|m| format!("m{m}")).collect();
        if c == 0 {
            expected.push("imported".to_owned());
        }
        assert_eq!(texts, expected, "c{c}");
    }
}
