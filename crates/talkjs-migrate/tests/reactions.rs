//! Reactions and participants' `readUntil` move: from another app (who reacted is listed per
//! message and emoji, each reaction PUT once after the messages, journaled; a lost answer or
//! a kill on a PUT only means it is sent again), and from an export file where its
//! `reactions` name the users (a note where they do not). Verify compares both. Reply links
//! mapped to the target's ids go through the same stage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::lossy::{Fault, Request, lose_nth};
use serde_json::json;
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::talkjs_api::Client;
use talkjs_migrate::talkjs_api::models::{
    Access, ConversationUpsert, ImportMessage, MessageEdit, Notify, ParticipantOverwrite,
    ParticipantPatch, Timestamp, UserUpsert,
};
use talkjs_migrate::talkjs_api::transport::{BoxError, BoxFuture, HttpRequest, HttpResponse};
use talkjs_migrate::{ItemKind, Migration, REPLY_TO_ID_KEY, REPLY_TO_KEY, Report, Severity};
use talkjs_test_support::migrate::{Export, Scratch, builder, client, write_lines};

const T0: u64 = 1_600_000_000_000;

/// A client layer that counts reaction PUTs (every attempt) and, when `strip_ids`, answers
/// imports with `{}` as TalkJS's reference page shows (no created ids), so that the
/// migration has to find the target messages by listing them.
#[derive(Debug, Clone, Default)]
struct Tap {
    puts: Arc<AtomicUsize>,
    strip_ids: bool,
    /// Every request as `METHOD PATH`, in the order sent.
    log: Arc<Mutex<Vec<String>>>,
}

impl Tap {
    fn stripping() -> Self {
        Self {
            strip_ids: true,
            ..Self::default()
        }
    }

    fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl<S> tower::Layer<S> for Tap {
    type Service = TapService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TapService {
            inner,
            tap: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct TapService<S> {
    inner: S,
    tap: Tap,
}

impl<S> tower::Service<HttpRequest> for TapService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let path = req.uri().path().to_owned();
        let method = req.method().as_str().to_owned();
        if method == "PUT" && path.contains("/reactions/") {
            self.tap.puts.fetch_add(1, Ordering::SeqCst);
        }
        self.tap
            .log
            .lock()
            .unwrap()
            .push(format!("{method} {path}"));
        let strip = self.tap.strip_ids && method == "POST" && path.contains("/import/");
        let answer = self.inner.call(req);
        Box::pin(async move {
            let mut response = answer.await?;
            if strip && response.status().is_success() {
                *response.body_mut() = Bytes::from_static(b"{}");
            }
            Ok(response)
        })
    }
}

/// A client of the fake with the tap, meeting `lose`'s fault, with no retries (the
/// migration sees the fault).
fn lossy_tapped(fake: &FakeTalkJs, tap: &Tap, lose: &common::lossy::Lose) -> Client {
    builder(fake)
        .retry(None)
        .layer(tap.clone())
        .layer(lose.clone())
        .build()
        .unwrap()
}

/// A client of the fake with the tap (no client-side rate limit).
fn tapped(fake: &FakeTalkJs, tap: &Tap) -> Client {
    builder(fake).layer(tap.clone()).build().unwrap()
}

/// Who reacted with each emoji, per message of a conversation of a fake (oldest first), as
/// (text, emoji -> users).
type Reactions = Vec<(String, BTreeMap<String, BTreeSet<String>>)>;

fn reactions_of(fake: &FakeTalkJs, conversation: &str) -> Reactions {
    fake.messages(conversation)
        .into_iter()
        .map(|m| {
            let who = m
                .reactions
                .clone()
                .map(|v| serde_json::from_value(v).unwrap())
                .unwrap_or_default();
            (m.text.unwrap_or_default(), who)
        })
        .collect()
}

fn reaction_count(fake: &FakeTalkJs, conversations: &[&str]) -> usize {
    conversations
        .iter()
        .flat_map(|c| reactions_of(fake, c))
        .map(|(_, who)| who.values().map(BTreeSet::len).sum::<usize>())
        .sum()
}

/// A participant's `readUntil` and access in a fake.
fn participant(fake: &FakeTalkJs, conversation: &str, user: &str) -> (Option<u64>, Access) {
    let c = fake.conversation(conversation).expect("conversation");
    let p = c
        .participants
        .iter()
        .find(|(id, _)| id.as_str() == user)
        .map(|(_, p)| p.clone())
        .expect("participant");
    (p.read_until.map(Timestamp::as_millis), p.access)
}

const CONVERSATIONS: [&str; 3] = ["c0", "c1", "c2"];

/// Reactions the source app holds (and so the target must, once each).
const REACTIONS: usize = 11;

/// (message, emoji) pairs with reactions in the source: one listing each.
const LISTINGS: u64 = 7;

/// A source app: five users, three conversations; reactions with several emojis and users,
/// on twins too (same sender, time and text; different reactions), and `readUntil` on a
/// participant with default settings, one with access Read and one with notify off.
async fn source_app(source: &FakeTalkJs) {
    let src = client(source);
    for id in ["alice", "bob", "carol", "dave", "erin"] {
        src.users()
            .upsert(id, &UserUpsert::new().name(id))
            .await
            .unwrap();
    }
    let members: [(&str, &[&str]); 3] = [
        ("c0", &["alice", "bob", "carol"]),
        ("c1", &["alice", "dave", "erin"]),
        ("c2", &["alice", "bob"]),
    ];
    for (c, users) in members {
        src.conversations()
            .upsert(
                c,
                &ConversationUpsert::new().participants(users.iter().copied()),
            )
            .await
            .unwrap();
    }
    let at = |ms: u64| Timestamp::from_millis(T0 + ms);
    let imports: [(&str, Vec<ImportMessage>); 3] = [
        (
            "c0",
            vec![
                ImportMessage::new("alice", "hello", at(0)),
                ImportMessage::new("bob", "hi", at(1000)),
                ImportMessage::new("carol", "same", at(2000)),
                ImportMessage::new("carol", "same", at(2000)),
                ImportMessage::new("alice", "bye", at(3000)),
            ],
        ),
        (
            "c1",
            vec![
                ImportMessage::new("dave", "yo", at(0)),
                ImportMessage::new("erin", "hey", at(500)),
            ],
        ),
        ("c2", vec![ImportMessage::new("alice", "plain", at(0))]),
    ];
    for (c, messages) in imports {
        src.conversations()
            .messages(c)
            .import(messages)
            .await
            .unwrap();
    }
    let ids = |c: &str| -> Vec<String> {
        source
            .messages(c)
            .into_iter()
            .map(|m| m.id.as_str().to_owned())
            .collect()
    };
    let (c0, c1, c2) = (ids("c0"), ids("c1"), ids("c2"));
    let reactions: [(&str, &str, &str, &str); REACTIONS] = [
        ("c0", &c0[0], "👍", "bob"),
        ("c0", &c0[0], "👍", "carol"),
        ("c0", &c0[0], "🎉", "alice"),
        ("c0", &c0[1], "❤️", "alice"),
        // The twins: the first one's reaction is not the second one's.
        ("c0", &c0[2], "👍", "bob"),
        ("c0", &c0[3], "🎉", "alice"),
        ("c0", &c0[3], "🎉", "bob"),
        ("c1", &c1[0], "😂", "erin"),
        ("c1", &c1[0], "😂", "alice"),
        ("c1", &c1[0], "😂", "dave"),
        ("c2", &c2[0], "👀", "bob"),
    ];
    for (c, m, emoji, user) in reactions {
        src.conversations()
            .messages(c)
            .add_reaction(m, emoji, user)
            .await
            .unwrap();
    }
    let participants = src.conversations().participants("c0");
    participants
        .modify("bob", &ParticipantPatch::new().read_until(at(1000)))
        .await
        .unwrap();
    participants
        .join("carol", &ParticipantOverwrite::new().access(Access::Read))
        .await
        .unwrap();
    participants
        .modify("carol", &ParticipantPatch::new().read_until(at(3000)))
        .await
        .unwrap();
    let participants = src.conversations().participants("c1");
    participants
        .modify(
            "erin",
            &ParticipantPatch::new()
                .notify(Notify::Off)
                .read_until(at(500)),
        )
        .await
        .unwrap();
    assert_eq!(reaction_count(source, &CONVERSATIONS), REACTIONS);
}

/// The target holds the source's reactions on the same messages, and its `readUntil`s.
fn assert_carried(source: &FakeTalkJs, target: &FakeTalkJs) {
    for c in CONVERSATIONS {
        assert_eq!(reactions_of(source, c), reactions_of(target, c), "{c}");
    }
    assert_eq!(reaction_count(target, &CONVERSATIONS), REACTIONS);
    for (c, user) in [
        ("c0", "alice"),
        ("c0", "bob"),
        ("c0", "carol"),
        ("c1", "erin"),
    ] {
        assert_eq!(
            participant(source, c, user),
            participant(target, c, user),
            "{c}/{user}"
        );
    }
    assert_eq!(participant(target, "c0", "bob").0, Some(T0 + 1000));
    assert_eq!(
        participant(target, "c0", "carol"),
        (Some(T0 + 3000), Access::Read)
    );
    let erin = target.conversation("c1").unwrap();
    let erin = erin
        .participants
        .iter()
        .find(|(id, _)| id.as_str() == "erin")
        .unwrap();
    assert_eq!(erin.1.notify, Notify::Off);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_copy_carries_reactions_and_read_until_once_each() {
    let source = FakeTalkJs::start().await.unwrap();
    let target = FakeTalkJs::start().await.unwrap();
    source_app(&source).await;
    let dir = Scratch::new("reactions-app");
    // Imports answer without ids: the reactions stage lists each conversation to find its
    // messages, twins included.
    let tap = Tap::stripping();
    let copy = Migration::from_app(client(&source), tapped(&target, &tap))
        .settle_time(Duration::from_millis(100))
        .journal(dir.path("copy.journal"));
    let report = copy.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.reactions.total, REACTIONS as u64);
    assert_eq!(report.reactions.done, REACTIONS as u64);
    assert_eq!(
        report.reaction_listings, LISTINGS,
        "one listing per message and emoji"
    );
    // bob's, carol's and erin's settings (readUntil, with access Read or notify off).
    assert_eq!(report.participants.done, 3, "{:?}", report.participants);
    assert_eq!(tap.puts(), REACTIONS, "each reaction sent once");
    assert!(
        report.notes.iter().all(|n| !n.text.contains("reaction")),
        "{:?}",
        report.notes
    );
    assert_carried(&source, &target);
    // The ids found by the listing are in the journal's map.
    let twin = source.messages("c0")[3].id.as_str().to_owned();
    assert_eq!(
        copy.target_id(ItemKind::Message, &twin).unwrap().as_deref(),
        Some(target.messages("c0")[3].id.as_str())
    );

    let verify = copy.verify().await.unwrap();
    assert!(verify.matches(), "{verify:?}");
    let again = copy.run().await.unwrap();
    assert!(again.is_complete());
    assert_eq!(again.requests, 0, "{again:?}");
    assert_eq!(tap.puts(), REACTIONS, "nothing sent twice");
    assert_eq!(again.reactions.done, REACTIONS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_put_whose_answer_was_lost_or_killed_is_simply_sent_again() {
    let source = FakeTalkJs::start().await.unwrap();
    source_app(&source).await;
    let dir = Scratch::new("reactions-lost");

    // The second reaction's answer is lost (the fake applied it).
    let target = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let lose = lose_nth(Request::Reaction, 2, Fault::LostAnswer);
    let lossy = lossy_tapped(&target, &tap, &lose);
    let journal = dir.path("lost.journal");
    let first = Migration::from_app(client(&source), lossy).journal(&journal);
    let report = first.run().await.unwrap();
    assert!(lose.fired() && lose.applied());
    assert!(
        !report.is_complete(),
        "a transient failure is left: {report:?}"
    );
    assert_eq!(
        (report.reactions.done, report.reactions.failed),
        (REACTIONS as u64 - 1, 1)
    );
    let failure = &report.failed[0];
    assert_eq!(failure.kind, ItemKind::Reaction);
    assert!(!failure.permanent, "{failure:?}");
    let resume = Migration::from_app(client(&source), tapped(&target, &tap)).journal(&journal);
    let report = resume.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        report.requests, 1,
        "only the uncertain reaction: {report:?}"
    );
    assert_eq!(tap.puts(), REACTIONS + 1);
    assert_carried(&source, &target);

    // Killed while the third reaction's answer is awaited (the fake applied it).
    let target = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let lose = lose_nth(Request::Reaction, 3, Fault::HangAfterApplied);
    let hanging = lossy_tapped(&target, &tap, &lose);
    let journal = dir.path("kill.journal");
    let first = Migration::from_app(client(&source), hanging)
        .concurrency(1)
        .journal(&journal);
    tokio::select! {
        result = first.run() => panic!("the run ended before the kill: {result:?}"),
        () = async {
            while !lose.applied() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } => {}
    }
    drop(first);
    assert_eq!(tap.puts(), 3);
    let resume = Migration::from_app(client(&source), tapped(&target, &tap)).journal(&journal);
    let report = resume.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        tap.puts(),
        REACTIONS + 1,
        "the one in flight is sent again, the two done are not"
    );
    assert_carried(&source, &target);
    assert!(resume.verify().await.unwrap().matches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_carries_reactions_that_name_users_and_notes_the_others() {
    let target = FakeTalkJs::start().await.unwrap();
    let dir = Scratch::new("reactions-file");
    let user = |id: &str| json!({"id": id, "name": id, "createdAt": 1}).to_string();
    let message = |id: &str, sender: &str, text: &str, ms: u64, reactions: serde_json::Value| {
        json!({"id": id, "type": "UserMessage", "conversationId": "c0", "senderId": sender,
               "text": text, "createdAt": T0 + ms, "readBy": [], "reactions": reactions})
        .to_string()
    };
    let lines = [
        user("alice"),
        user("bob"),
        user("carol"),
        json!({"id": "c0", "createdAt": 1, "participants": {
            "alice": {"access": "ReadWrite", "notify": true, "readUntil": T0 + 2000},
            "bob": {"access": "Read", "notify": true, "readUntil": T0 + 1000},
            "carol": {"access": "ReadWrite", "notify": true}}})
        .to_string(),
        message(
            "m1",
            "alice",
            "one",
            0,
            json!({"👍": ["bob", "carol"], "🎉": [{"userId": "alice"}]}),
        ),
        message("m2", "bob", "two", 1000, json!({"👍": 2})),
        message(
            "m3",
            "carol",
            "three",
            2000,
            json!({"❤️": ["zoe", "alice"]}),
        ),
    ];
    let file = dir.path("export.jsonl");
    write_lines(&file, &lines);
    let tap = Tap::default();
    let migration = Migration::from_file(&file, tapped(&target, &tap))
        .settle_time(Duration::from_millis(50))
        .journal(dir.path("export.journal"));
    let report = migration.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.reactions.done, 4);
    assert_eq!(report.reaction_listings, 0);
    assert_eq!(tap.puts(), 4);
    let warning = |needle: &str| {
        report
            .notes
            .iter()
            .find(|n| n.severity == Severity::Warning && n.text.contains(needle))
            .unwrap_or_else(|| panic!("no warning with {needle:?}: {:?}", report.notes))
            .clone()
    };
    let counts = warning("\"m2\"");
    assert_eq!(counts.line, Some(6));
    assert!(
        counts.text.contains("reaction counts, not who reacted")
            && counts.text.contains("--from-app-id"),
        "{counts}"
    );
    assert_eq!(warning("\"zoe\"").line, Some(7));
    assert!(warning("4 reactions are carried").line.is_none());

    let found = reactions_of(&target, "c0");
    let who =
        |users: &[&str]| -> BTreeSet<String> { users.iter().map(|u| (*u).to_owned()).collect() };
    assert_eq!(found[0].1["👍"], who(&["bob", "carol"]));
    assert_eq!(found[0].1["🎉"], who(&["alice"]));
    assert!(found[1].1.is_empty(), "{found:?}");
    assert_eq!(found[2].1.len(), 1);
    assert_eq!(found[2].1["❤️"], who(&["alice"]));
    assert_eq!(participant(&target, "c0", "alice").0, Some(T0 + 2000));
    assert_eq!(
        participant(&target, "c0", "bob"),
        (Some(T0 + 1000), Access::Read)
    );
    assert_eq!(participant(&target, "c0", "carol").0, None);
    assert!(migration.verify().await.unwrap().matches());

    // Verify sees a reaction gone and a readUntil moved back; a later readUntil is fine.
    let t = client(&target);
    let m1 = target.messages("c0")[0].id.as_str().to_owned();
    t.conversations()
        .messages("c0")
        .remove_reaction(&m1, "🎉", "alice")
        .await
        .unwrap();
    let participants = t.conversations().participants("c0");
    participants
        .modify(
            "alice",
            &ParticipantPatch::new().read_until(Timestamp::from_millis(T0 + 1500)),
        )
        .await
        .unwrap();
    participants
        .modify(
            "bob",
            &ParticipantPatch::new().read_until(Timestamp::from_millis(T0 + 9000)),
        )
        .await
        .unwrap();
    let verify = migration.verify().await.unwrap();
    let check = &verify.conversations[0];
    let fields: Vec<&str> = check.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["participants.alice.readUntil"], "{check:?}");
    assert_eq!(check.fields[0].expected, (T0 + 2000).to_string());
    assert_eq!(check.fields[0].found, (T0 + 1500).to_string());
    let mismatches: Vec<(&str, &str, &str)> = check
        .mismatches
        .iter()
        .map(|m| (m.field, m.expected.as_str(), m.found.as_str()))
        .collect();
    assert_eq!(mismatches, [("reactions", "🎉,👍", "👍")], "{check:?}");
    assert!(!verify.matches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_of_a_conversation_with_an_uncertain_import_wait_for_the_reconcile_pass() {
    let source = FakeTalkJs::start().await.unwrap();
    let target = FakeTalkJs::start().await.unwrap();
    source_app(&source).await;
    let dir = Scratch::new("reactions-dirty");
    // The first import (one request at a time) lands, its answer is lost.
    let tap = Tap::default();
    let lose = lose_nth(Request::Import, 1, Fault::LostAnswer);
    let lossy = lossy_tapped(&target, &tap, &lose);
    let copy = Migration::from_app(client(&source), lossy)
        .concurrency(1)
        .settle_time(Duration::from_millis(100))
        .journal(dir.path("dirty.journal"));
    let report = copy.run().await.unwrap();
    assert!(lose.fired() && lose.applied());
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.resolved.chunks, 1, "{report:?}");
    assert_eq!(report.reconciled.conversations, 1, "{report:?}");
    assert_eq!(tap.puts(), REACTIONS, "each reaction once");
    assert_carried(&source, &target);
    // That conversation was listed to resolve the import and again by the reconcile pass;
    // its reactions went only after both, the others' did not wait.
    let log = tap.log();
    let dirty = log
        .iter()
        .find_map(|l| l.strip_prefix("POST /import/conversations/"))
        .and_then(|l| l.strip_suffix("/messages"))
        .unwrap()
        .to_owned();
    let messages = format!("/conversations/{dirty}/messages");
    let listings: Vec<usize> = (log.iter().enumerate())
        .filter(|(_, l)| **l == format!("GET {messages}"))
        .map(|(i, _)| i)
        .collect();
    let puts = |mine: bool| -> Vec<usize> {
        (log.iter().enumerate())
            .filter(|(_, l)| l.starts_with("PUT ") && l.contains("/reactions/"))
            .filter(|(_, l)| l.starts_with(&format!("PUT {messages}/")) == mine)
            .map(|(i, _)| i)
            .collect()
    };
    let (mine, others) = (puts(true), puts(false));
    assert_eq!(listings.len(), 2, "{log:#?}");
    assert!(!mine.is_empty() && !others.is_empty(), "{log:#?}");
    assert!(listings[1] < mine[0], "{log:#?}");
    assert!(others[0] < listings[1], "{log:#?}");
    assert!(copy.verify().await.unwrap().matches());
}

/// Checks that every reply of `export` in `target` names, under `REPLY_TO_ID_KEY`, the target
/// id of the message it replied to (found by position: the target holds each conversation's
/// messages in the source's order), and that no other message has the key. Returns how many
/// replies there are.
fn assert_reply_links_mapped(target: &FakeTalkJs, export: &Export) -> usize {
    let mut replies = 0;
    for ((id, _), source) in export.conversations.iter().zip(&export.messages) {
        let held = target.messages(id);
        assert_eq!(held.len(), source.len(), "{id}");
        let position: BTreeMap<&str, usize> = (source.iter().enumerate())
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        for (m, t) in source.iter().zip(&held) {
            let mapped = t.custom.get(REPLY_TO_ID_KEY).map(String::as_str);
            match &m.reply_to {
                Some(reply_to) => {
                    replies += 1;
                    let expected = held[position[reply_to.as_str()]].id.as_str();
                    assert_eq!(mapped, Some(expected), "{id}: {}", m.id);
                    // The source link and the message's own data stay.
                    assert_eq!(
                        t.custom.get(REPLY_TO_KEY).map(String::as_str),
                        Some(reply_to.as_str())
                    );
                    assert_eq!(t.custom.get("n").map(String::as_str), Some(m.id.as_str()));
                }
                None => assert_eq!(mapped, None, "{id}: {}", m.id),
            }
        }
    }
    replies
}

/// An export with replies (every 5th message replies to the one 3 before it) and twins.
fn replies_export(dir: &Scratch) -> (Export, std::path::PathBuf) {
    let export = Export::generate(7, 3, 23);
    let file = dir.path("replies.jsonl");
    export.write(&file);
    (export, file)
}

/// The replies export migrated into a new fake through `tap`, mapping reply links: the run
/// is complete, nothing failed, and every link is mapped.
async fn mapped(dir: &Scratch, tap: &Tap) -> (FakeTalkJs, Export, Migration, Report) {
    let target = FakeTalkJs::start().await.unwrap();
    let (export, file) = replies_export(dir);
    let migration = Migration::from_file(&file, tapped(&target, tap))
        .map_reply_links(true)
        .journal(dir.path("replies.journal"));
    let report = migration.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let replies = assert_reply_links_mapped(&target, &export);
    assert_eq!(report.reply_links.done, replies as u64);
    (target, export, migration, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_links_name_the_target_ids_from_the_import_answers_without_a_listing() {
    let dir = Scratch::new("reply-links");
    let tap = Tap::default();
    let (_target, _, migration, report) = mapped(&dir, &tap).await;
    let replies = 12; // 4 in each of 3 conversations
    assert_eq!(report.reply_links.total, replies as u64);
    // One edit per reply, and the import answers named every id: no listing of a
    // conversation's messages after the imports.
    let log = tap.log();
    let edits: Vec<usize> = (log.iter().enumerate())
        .filter(|(_, l)| l.starts_with("PUT /conversations/") && l.contains("/messages/"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(edits.len(), replies, "{log:#?}");
    let last_import = (log.iter())
        .rposition(|l| l.starts_with("POST /import/"))
        .unwrap();
    assert!(
        log[last_import..]
            .iter()
            .all(|l| !(l.starts_with("GET ") && l.ends_with("/messages"))),
        "{log:#?}"
    );

    let verify = migration.verify().await.unwrap();
    assert!(verify.matches(), "{verify:?}");
    let again = migration.run().await.unwrap();
    assert!(again.is_complete());
    assert_eq!(again.requests, 0, "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ids_in_the_import_answers_reply_links_are_found_by_one_listing_each() {
    let dir = Scratch::new("reply-links-listed");
    // Imports answer `{}`, as TalkJS's reference page shows: the stage lists each
    // conversation once to find both ends of every link (twins included).
    let tap = Tap::stripping();
    let (_target, export, migration, _) = mapped(&dir, &tap).await;
    let log = tap.log();
    let first_edit = (log.iter())
        .position(|l| l.starts_with("PUT /conversations/") && l.contains("/messages/"))
        .unwrap();
    let listings_before_edits = log[..first_edit]
        .iter()
        .filter(|l| l.starts_with("GET /conversations/") && l.ends_with("/messages"))
        .count();
    // The conversations are new in the target (no baseline to list): one listing each, to
    // find the ids.
    assert_eq!(
        listings_before_edits,
        export.conversations.len(),
        "{log:#?}"
    );
    assert!(migration.verify().await.unwrap().matches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_a_reply_link_that_names_the_wrong_message() {
    let dir = Scratch::new("reply-links-verify");
    let (target, export, migration, _) = mapped(&dir, &Tap::default()).await;
    // Point c1's first reply at another message.
    let held = target.messages("c1");
    let reply = &held[4];
    let mut custom = reply.custom.clone();
    custom.insert(REPLY_TO_ID_KEY.to_owned(), held[0].id.as_str().to_owned());
    client(&target)
        .conversations()
        .messages("c1")
        .edit(reply.id.as_str(), &MessageEdit::new().custom(custom))
        .await
        .unwrap();
    let verify = migration.verify().await.unwrap();
    assert!(!verify.matches());
    let bad: Vec<_> = verify.mismatched().collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].conversation, "c1");
    let [m] = bad[0].mismatches.as_slice() else {
        panic!("{:?}", bad[0].mismatches);
    };
    assert_eq!(m.field, "reply link id");
    assert_eq!(
        m.source_id.as_deref(),
        Some(export.messages[1][4].id.as_str())
    );
    assert_eq!(m.expected, held[1].id.as_str());
    assert_eq!(m.found, held[0].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_planned_without_reply_links_refuses_a_run_that_maps_them() {
    let target = FakeTalkJs::start().await.unwrap();
    let dir = Scratch::new("reply-links-setting");
    let (_, file) = replies_export(&dir);
    let journal = dir.path("setting.journal");
    let plain = Migration::from_file(&file, client(&target)).journal(&journal);
    let report = plain.run().await.unwrap();
    assert!(report.is_complete());
    assert_eq!(report.reply_links.total, 0);
    let err = Migration::from_file(&file, client(&target))
        .map_reply_links(true)
        .journal(&journal)
        .run()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            talkjs_migrate::Error::SettingChanged {
                setting: "--map-reply-links",
                planned: false,
                requested: true,
                ..
            }
        ),
        "{err:?}"
    );
    // Without the option, replies carry their source link only.
    assert!((target.messages("c0").iter()).all(|m| !m.custom.contains_key(REPLY_TO_ID_KEY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_link_edit_whose_answer_was_lost_is_sent_again_by_the_next_run() {
    let target = FakeTalkJs::start().await.unwrap();
    let dir = Scratch::new("reply-links-lost");
    let (export, file) = replies_export(&dir);
    // The third edit is applied by the fake, and its answer lost.
    let tap = Tap::default();
    let lose = lose_nth(Request::Edit, 3, Fault::LostAnswer);
    let lossy = lossy_tapped(&target, &tap, &lose);
    let journal = dir.path("lost.journal");
    let first = Migration::from_file(&file, lossy)
        .map_reply_links(true)
        .journal(&journal);
    let report = first.run().await.unwrap();
    assert!(lose.fired() && lose.applied());
    assert!(!report.is_complete(), "{report:?}");
    assert_eq!(
        (report.reply_links.done, report.reply_links.failed),
        (11, 1)
    );
    let failure = &report.failed[0];
    assert_eq!(failure.kind, ItemKind::ReplyLink);
    assert!(!failure.permanent, "{failure:?}");

    let resume = Migration::from_file(&file, tapped(&target, &tap))
        .map_reply_links(true)
        .journal(&journal);
    let report = resume.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.requests, 1, "only the uncertain edit: {report:?}");
    assert_eq!(assert_reply_links_mapped(&target, &export), 12);
    assert!(resume.verify().await.unwrap().matches());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_shows_new_messages_late_still_finds_both_ends_of_every_link() {
    // Imports answer without ids, and the target's listing shows a new message 300 ms late:
    // the stage lists a conversation only once the settle time (500 ms) has passed since
    // its last import, so it finds every message instead of failing links for good.
    let faults = talkjs_fake::Faults::seeded(3).listing_lag(Duration::from_millis(300));
    let target = FakeTalkJs::builder().faults(faults).start().await.unwrap();
    let dir = Scratch::new("reply-links-lag");
    let (export, file) = replies_export(&dir);
    let tap = Tap::stripping();
    let migration = Migration::from_file(&file, tapped(&target, &tap))
        .map_reply_links(true)
        .settle_time(Duration::from_millis(500))
        .journal(dir.path("lag.journal"));
    let report = migration.run().await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.reply_links.done, 12);
    assert_eq!(assert_reply_links_mapped(&target, &export), 12);
}
