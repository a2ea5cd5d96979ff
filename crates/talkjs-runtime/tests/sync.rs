//! `talkjs_runtime::sync` against the fake: a live state with drift, the plan of exactly the
//! difference (with reads only), the apply of exactly its writes, prune, saved plans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use talkjs_api::Client;
use talkjs_fake::FakeTalkJs;
use talkjs_models::{
    Access, ConversationUpsert, Notify, ParticipantOverwrite, ParticipantPatch, UserUpsert,
};
use talkjs_runtime::ClientExt;
use talkjs_runtime::bulk::Item;
use talkjs_runtime::sync::{
    self, DesiredState, Error, ParticipantAction, Plan, ReadError, Settings,
};
use talkjs_transport::HttpRequest;

/// A client layer that logs every request as `METHOD PATH`.
#[derive(Debug, Clone, Default)]
struct Tap {
    log: Arc<Mutex<Vec<String>>>,
}

impl Tap {
    /// How many requests of each method, since the last call.
    fn take(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for line in self.log.lock().unwrap().drain(..) {
            let method = line.split(' ').next().unwrap().to_owned();
            *counts.entry(method).or_default() += 1;
        }
        counts
    }

    /// The client layer: every request logged as `METHOD PATH` (the path under the app:
    /// `users`, `conversations/c1`, ...).
    fn layer(
        &self,
    ) -> tower::util::MapRequestLayer<
        impl Fn(HttpRequest) -> HttpRequest + Clone + Send + Sync + use<>,
    > {
        let log = Arc::clone(&self.log);
        tower::util::MapRequestLayer::new(move |req: HttpRequest| {
            let short = req.uri().path().trim_start_matches('/').to_owned();
            log.lock()
                .unwrap()
                .push(format!("{} {short}", req.method()));
            req
        })
    }

    /// How many requests of each kind since the last call: `users` (user pages),
    /// `users/{id}` (user GETs), `users/{id}/conversations` (a user's conversation pages),
    /// `conversations` (the app's conversation pages), `conversations/{id}` (conversation
    /// GETs), keyed by the path with ids as `*`; writes as `METHOD path`.
    fn by_path(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for line in self.log.lock().unwrap().drain(..) {
            let (method, path) = line.split_once(' ').unwrap();
            let kind: Vec<&str> = (path.split('/').enumerate())
                .map(|(i, part)| if i % 2 == 1 { "*" } else { part })
                .collect();
            let kind = kind.join("/");
            let key = if method == "GET" {
                kind
            } else {
                format!("{method} {kind}")
            };
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    fn writes(&self) -> Vec<String> {
        let mut writes: Vec<String> = (self.log.lock().unwrap().drain(..))
            .filter(|l| !l.starts_with("GET "))
            .collect();
        writes.sort();
        writes
    }
}

fn client(fake: &FakeTalkJs, tap: &Tap) -> Client {
    Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(None)
        .layer(tap.layer())
        .build()
        .unwrap()
}

fn settings(access: Access, notify: Notify) -> ParticipantOverwrite {
    ParticipantOverwrite::new().access(access).notify(notify)
}

/// The live state, with drift from [`DESIRED`].
async fn seed(client: &Client) {
    client
        .users()
        .upsert_many([
            (
                "alice",
                UserUpsert::new()
                    .name("Alice")
                    .role("buyer")
                    .custom_field("team", "red"),
            ),
            ("bob", UserUpsert::new().name("Bob").photo_url("https://p")),
            ("carol", UserUpsert::new().name("Carol")),
            ("dave", UserUpsert::new().name("Dave")),
        ])
        .await
        .unwrap();
    let conversations = client.conversations();
    conversations
        .upsert(
            "c1",
            &ConversationUpsert::new()
                .subject("Old")
                .participants(["alice", "bob", "dave"]),
        )
        .await
        .unwrap();
    conversations
        .participants("c1")
        .join("bob", &settings(Access::Read, Notify::All))
        .await
        .unwrap();
    conversations
        .upsert(
            "c2",
            &ConversationUpsert::new().participants(["alice", "carol"]),
        )
        .await
        .unwrap();
    conversations
        .participants("c2")
        .join("carol", &settings(Access::Read, Notify::Off))
        .await
        .unwrap();
    // Not in the file: never touched, even with prune.
    conversations
        .upsert(
            "c3",
            &ConversationUpsert::new().participants(["alice", "bob", "dave"]),
        )
        .await
        .unwrap();
}

/// alice: a new name and custom data (role absent: kept); bob: photo cleared; carol: the
/// same; frank: new. c1: a new subject, bob's access and notify, carol and frank added,
/// dave not named; c2: the same; c4: new, with frank's access None.
const DESIRED: &str = r#"{"id": "alice", "name": "Alice Smith", "custom": {"team": "blue"}, "createdAt": 1}
{"id": "bob", "name": "Bob", "photoUrl": null, "createdAt": 1}

{"id": "carol", "name": "Carol", "createdAt": 1}
{"id": "frank", "name": "Frank", "createdAt": 1}
{"id": "c1", "subject": "Deal", "participants": {"alice": {"access": "ReadWrite", "notify": true}, "bob": {"access": "ReadWrite", "notify": "MentionsOnly"}, "carol": {"access": "Read", "notify": false}, "frank": {"access": "ReadWrite", "notify": true}}, "createdAt": 1}
{"id": "c2", "participants": {"alice": {"access": "ReadWrite", "notify": true}, "carol": {"access": "Read", "notify": false}}, "createdAt": 1}
{"id": "c4", "subject": "New", "participants": {"alice": {"access": "ReadWrite", "notify": true}, "frank": {"access": "None", "notify": true}}, "createdAt": 1}
"#;

fn desired() -> DesiredState {
    DesiredState::read(DESIRED.as_bytes()).unwrap()
}

async fn drifted() -> (FakeTalkJs, Tap, Client) {
    let fake = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let client = client(&fake, &tap);
    seed(&client).await;
    tap.take();
    (fake, tap, client)
}

fn fields(changes: &[sync::FieldChange]) -> Vec<(&str, Value, Value)> {
    changes
        .iter()
        .map(|f| (f.field.as_str(), f.old.clone(), f.new.clone()))
        .collect()
}

fn participants(plan: &Plan, id: &str) -> Vec<(String, ParticipantAction)> {
    let conversation = plan.conversations.iter().find(|c| c.id == id).unwrap();
    conversation
        .participants
        .iter()
        .map(|p| (p.user.clone(), p.action))
        .collect()
}

#[tokio::test]
async fn plan_lists_exactly_the_difference_and_only_reads() {
    let (fake, tap, client) = drifted().await;
    let desired = desired();
    assert_eq!((desired.users(), desired.conversations()), (4, 3));
    let plan = sync::plan(&client, &desired, false).await.unwrap();
    let requests = tap.take();
    assert_eq!(
        requests.keys().map(String::as_str).collect::<Vec<_>>(),
        ["GET"],
        "a plan only reads: {requests:?}"
    );
    // One page of users, one GET for frank (not in it); one page of conversations, one GET
    // for c4.
    assert_eq!(requests["GET"], 4);

    let users: Vec<(&str, bool)> = (plan.users.iter())
        .map(|u| (u.id.as_str(), u.create))
        .collect();
    assert_eq!(
        users,
        [("alice", false), ("bob", false), ("frank", true)],
        "carol is the same"
    );
    assert_eq!(
        fields(&plan.users[0].fields),
        [
            ("custom", json!({"team": "red"}), json!({"team": "blue"})),
            ("name", json!("Alice"), json!("Alice Smith")),
        ],
        "role is absent from the file: kept"
    );
    assert_eq!(
        fields(&plan.users[1].fields),
        [("photoUrl", json!("https://p"), Value::Null)]
    );
    assert_eq!(
        fields(&plan.users[2].fields),
        [("name", Value::Null, json!("Frank"))]
    );

    let conversations: Vec<(&str, bool)> = (plan.conversations.iter())
        .map(|c| (c.id.as_str(), c.create))
        .collect();
    assert_eq!(
        conversations,
        [("c1", false), ("c4", true)],
        "c2 is the same"
    );
    assert_eq!(
        fields(&plan.conversations[0].fields),
        [("subject", json!("Old"), json!("Deal"))]
    );
    assert_eq!(
        participants(&plan, "c1"),
        [
            ("bob".to_owned(), ParticipantAction::Update),
            ("carol".to_owned(), ParticipantAction::Add),
            ("frank".to_owned(), ParticipantAction::Add),
        ],
        "dave stays without prune"
    );
    let bob = &plan.conversations[0].participants[0];
    assert_eq!(
        (bob.old.as_ref().unwrap(), bob.new.as_ref().unwrap()),
        (
            &Settings::new(Access::Read, Notify::All),
            &Settings::new(Access::ReadWrite, Notify::MentionsOnly)
        )
    );
    assert!(!plan.is_empty());
    // Nothing changed in the fake.
    assert_eq!(fake.user("alice").unwrap().name, "Alice");
    assert!(fake.user("frank").is_none());
}

#[tokio::test]
async fn apply_sends_exactly_the_plans_writes_and_a_second_plan_is_empty() {
    let (fake, tap, client) = drifted().await;
    let desired = desired();
    let plan = sync::plan(&client, &desired, false).await.unwrap();
    tap.take();
    let report = sync::apply(&client, &plan).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        tap.writes(),
        [
            "PATCH conversations/c4/participants/frank",
            "PUT conversations/c1",
            "PUT conversations/c1/participants/bob",
            "PUT conversations/c1/participants/carol",
            "PUT conversations/c4",
            "PUT users",
        ],
        "three users in one request, the conversations, the participants not on defaults"
    );
    assert_eq!(report.requests, 6);
    assert_eq!(report.landed, 3 + 2 + 3);

    let alice = fake.user("alice").unwrap();
    assert_eq!(alice.name, "Alice Smith");
    assert_eq!(alice.role.as_deref(), Some("buyer"), "absent: kept");
    assert_eq!(fake.user("bob").unwrap().photo_url, None, "null: cleared");
    let c1 = fake.conversation("c1").unwrap();
    assert_eq!(c1.participants.len(), 5, "dave stays without prune");
    let c4 = fake.conversation("c4").unwrap();
    assert_eq!(c4.participants["frank"].access, Access::None);

    let again = sync::plan(&client, &desired, false).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert!(tap.writes().is_empty());
}

#[tokio::test]
async fn prune_removes_only_from_the_files_conversations() {
    let (fake, tap, client) = drifted().await;
    let desired = desired();
    let plan = sync::plan(&client, &desired, true).await.unwrap();
    assert_eq!(
        participants(&plan, "c1").last().unwrap(),
        &("dave".to_owned(), ParticipantAction::Remove)
    );
    tap.take();
    let report = sync::apply(&client, &plan).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let writes = tap.writes();
    assert_eq!(writes.len(), 7);
    assert!(writes.contains(&"DELETE conversations/c1/participants/dave".to_owned()));
    assert_eq!(writes.iter().filter(|w| w.starts_with("DELETE")).count(), 1);
    assert!(
        !fake
            .conversation("c1")
            .unwrap()
            .participants
            .contains_key("dave")
    );
    assert_eq!(
        fake.conversation("c3").unwrap().participants.len(),
        3,
        "a conversation not in the file is not touched"
    );
    assert!(fake.user("dave").is_some(), "prune never deletes users");
    assert!(
        sync::plan(&client, &desired, true)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_saved_plan_is_refused_after_the_live_state_moved() {
    let (fake, tap, client) = drifted().await;
    let desired = desired();
    let plan = sync::plan(&client, &desired, false).await.unwrap();
    let saved: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
    assert_eq!(saved, plan);

    // bob's name and carol's settings in c2 move meanwhile.
    client
        .users()
        .upsert("bob", &UserUpsert::new().name("Robert"))
        .await
        .unwrap();
    client
        .conversations()
        .participants("c2")
        .modify("carol", &ParticipantPatch::new().notify(Notify::All))
        .await
        .unwrap();
    tap.take();
    let error = sync::apply_saved(&client, client.bulk(), &saved)
        .await
        .unwrap_err();
    let Error::Moved(moved) = &error else {
        panic!("{error}");
    };
    assert_eq!(moved, &["user bob", "conversation c2"]);
    assert!(error.to_string().contains("user bob"), "{error}");
    assert!(tap.writes().is_empty(), "nothing sent");
    assert_eq!(fake.user("alice").unwrap().name, "Alice");

    // A plan of the state as it is applies.
    let fresh = sync::plan(&client, &desired, false).await.unwrap();
    let report = sync::apply_saved(&client, client.bulk(), &fresh)
        .await
        .unwrap();
    assert!(report.failed.is_empty());
    assert!(
        sync::plan(&client, &desired, false)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bad_lines_are_reported_with_their_numbers() {
    let text = r#"{"id": "alice", "name": "Alice", "createdAt": 1}
{"id": "m1", "type": "UserMessage", "conversationId": "c", "senderId": "alice", "text": "hi", "createdAt": 1}

{nope
{"id": "alice", "name": "Again", "createdAt": 1}
{"id": "c", "participants": {}, "createdAt": 1}
{"id": "c", "participants": {}, "createdAt": 1}
{"id": "bob", "name": null, "createdAt": 1}
"#;
    let Err(ReadError::Lines(lines)) = DesiredState::read(text.as_bytes()) else {
        panic!("read");
    };
    let numbers: Vec<u64> = lines.iter().map(|l| l.line).collect();
    assert_eq!(numbers, [2, 4, 5, 7, 8]);
    assert!(lines[0].reason.contains("a message"), "{}", lines[0]);
    assert!(lines[1].reason.starts_with("not valid JSON"));
    assert!(
        lines[2].reason.contains("already on line 1"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].reason.contains("already on line 6"),
        "{}",
        lines[3]
    );
}

#[tokio::test]
async fn removing_a_participant_is_one_delete_and_idempotent() {
    let (fake, tap, client) = drifted().await;
    let remove = || Item::RemoveParticipant {
        conversation: "c3".to_owned(),
        user: "dave".to_owned(),
    };
    let report = client.bulk().run_iter([remove(), remove()]).await;
    assert_eq!((report.landed, report.requests), (2, 2));
    assert!(report.failed.is_empty());
    assert_eq!(
        tap.writes(),
        [
            "DELETE conversations/c3/participants/dave",
            "DELETE conversations/c3/participants/dave"
        ]
    );
    assert_eq!(fake.conversation("c3").unwrap().participants.len(), 2);
}

/// Users `u0..u{n}` named `User {i}`, and conversations `c0..c{m}` of `u{i}` and `u{i+1}`.
async fn populate(client: &Client, users: usize, conversations: usize) {
    let upserts =
        (0..users).map(|i| (format!("u{i}"), UserUpsert::new().name(format!("User {i}"))));
    client.users().upsert_all(upserts).await.unwrap();
    let items = (0..conversations).map(|i| Item::Conversation {
        id: format!("c{i}"),
        conversation: ConversationUpsert::new()
            .subject(format!("Chat {i}"))
            .participants([format!("u{i}"), format!("u{}", i + 1)]),
    });
    let report = client.bulk().run_iter(items).await;
    assert_eq!(report.landed, conversations);
}

#[tokio::test]
async fn a_few_ids_in_a_large_app_are_read_with_gets_after_one_page() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let client = client(&fake, &tap);
    populate(&client, 300, 0).await;
    // A user on a later page than the first.
    let first: Vec<String> = (client.users().list().limit(100).await.unwrap().into_iter())
        .map(|u| u.id.as_str().to_owned())
        .collect();
    let later = (0..300)
        .map(|i| format!("u{i}"))
        .find(|id| !first.contains(id))
        .unwrap();
    tap.take();
    // One page, then a GET, not three pages.
    let line = json!({"id": later, "name": "Renamed", "createdAt": 1}).to_string();
    let desired = DesiredState::read(line.as_bytes()).unwrap();
    let plan = sync::plan(&client, &desired, false).await.unwrap();
    assert_eq!(
        tap.log.lock().unwrap().clone(),
        ["GET users".to_owned(), format!("GET users/{later}")]
    );
    assert_eq!(plan.users.len(), 1);
    assert!(!plan.users[0].create);
}

#[tokio::test]
async fn five_percent_drift_costs_the_pages_and_the_packed_difference() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let client = client(&fake, &tap);
    populate(&client, 500, 100).await;
    tap.take();
    // The same state, with every 20th user renamed and every 20th conversation's subject
    // changed: 25 users and 5 conversations differ.
    let mut lines = String::new();
    for i in 0..500 {
        let name = if i % 20 == 0 {
            format!("New {i}")
        } else {
            format!("User {i}")
        };
        lines.push_str(&json!({"id": format!("u{i}"), "name": name, "createdAt": 1}).to_string());
        lines.push('\n');
    }
    for i in 0..100 {
        let subject = if i % 20 == 0 {
            format!("New {i}")
        } else {
            format!("Chat {i}")
        };
        let member = json!({"access": "ReadWrite", "notify": true});
        let participants = json!({format!("u{i}"): member, format!("u{}", i + 1): member});
        let line = json!({"id": format!("c{i}"), "subject": subject,
            "participants": participants, "createdAt": 1});
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    let desired = DesiredState::read(lines.as_bytes()).unwrap();
    let plan = sync::plan(&client, &desired, true).await.unwrap();
    // 5 pages of 100 users, 4 of 30 conversations.
    assert_eq!(tap.take(), BTreeMap::from([("GET".to_owned(), 9)]));
    assert_eq!((plan.users.len(), plan.conversations.len()), (25, 5));
    assert!(plan.users.iter().all(|u| u.fields.len() == 1));

    let report = sync::apply(&client, &plan).await;
    assert!(report.failed.is_empty());
    // 25 users in one request, one per conversation.
    assert_eq!(report.requests, 6);
    assert_eq!(tap.take(), BTreeMap::from([("PUT".to_owned(), 6)]));
    assert!(
        sync::plan(&client, &desired, true)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A client layer that hides every user's conversation listing (it asks for a user that
/// does not exist instead): the plan then reads conversations only through the app's
/// listing and GETs, the way it did before user listings.
fn hide_user_listings()
-> tower::util::MapRequestLayer<impl Fn(HttpRequest) -> HttpRequest + Clone + Send + Sync> {
    tower::util::MapRequestLayer::new(|mut req: HttpRequest| {
        let path = req.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let ["users", user, "conversations"] = parts.as_slice() {
            let query = req
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let hidden = format!("/users/{user}.hidden/conversations{query}");
            *req.uri_mut() = hidden.parse().unwrap();
        }
        req
    })
}

/// A client whose user listings are hidden ([`hide_user_listings`]).
fn client_without_user_listings(fake: &FakeTalkJs) -> Client {
    Client::builder(fake.app_id(), fake.secret_key())
        .base_url(fake.base_url())
        .rate_limiter(None)
        .layer(hide_user_listings())
        .build()
        .unwrap()
}

fn member() -> Value {
    json!({"access": "ReadWrite", "notify": true})
}

/// The desired conversation `id`: `subject`, and `users` as participants (on the defaults).
fn conversation_line(id: &str, subject: &str, users: &[&str]) -> String {
    let participants: serde_json::Map<String, Value> =
        users.iter().map(|u| ((*u).to_owned(), member())).collect();
    let line = json!({"id": id, "subject": subject, "participants": participants, "createdAt": 1});
    format!("{line}\n")
}

/// Conversations `x0..x{n}` of the users `o0..o49`, two each, which no file names.
fn unrelated(n: usize) -> impl Iterator<Item = Item> {
    (0..n).map(|i| Item::Conversation {
        id: format!("x{i}"),
        conversation: ConversationUpsert::new()
            .subject(format!("Other {i}"))
            .participants([format!("o{}", i % 50), format!("o{}", (i + 1) % 50)]),
    })
}

/// The requests of a read: (the app's conversation pages, user conversation pages,
/// conversation GETs), checking that nothing else was sent but user reads.
fn conversation_reads(counts: &BTreeMap<String, usize>) -> (usize, usize, usize) {
    for kind in counts.keys() {
        assert!(
            ["conversations", "conversations/*", "users/*/conversations"].contains(&kind.as_str()),
            "{counts:?}"
        );
    }
    let n = |kind: &str| counts.get(kind).copied().unwrap_or(0);
    (
        n("conversations"),
        n("users/*/conversations"),
        n("conversations/*"),
    )
}

#[tokio::test]
async fn conversations_of_one_user_are_read_through_that_users_listing() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let client = client(&fake, &tap);
    let mut users: Vec<String> = ["agent", "lead"].map(str::to_owned).to_vec();
    users.extend((0..200).map(|i| format!("cust{i}")));
    users.extend((0..50).map(|i| format!("o{i}")));
    let upserts = (users.iter()).map(|id| (id.clone(), UserUpsert::new().name(id.clone())));
    client.users().upsert_all(upserts).await.unwrap();
    // 198 tickets of agent's, t199 without agent (agent left it), t198 not created yet,
    // among 600 conversations no file names.
    let mut items: Vec<Item> = unrelated(600).collect();
    for i in 0..200 {
        let users = match i {
            198 => continue,
            199 => vec!["cust199".to_owned(), "lead".to_owned()],
            _ => vec!["agent".to_owned(), format!("cust{i}")],
        };
        let item = Item::Conversation {
            id: format!("t{i}"),
            conversation: (ConversationUpsert::new())
                .subject(format!("Ticket {i}"))
                .participants(users),
        };
        items.insert(i * 3, item);
    }
    let report = client.bulk().run_iter(items).await;
    assert_eq!(report.landed, 799);

    // The file: every ticket with agent and its customer; t0 renamed, lead added to t1.
    let mut lines = String::new();
    for i in 0..200 {
        let id = format!("t{i}");
        let customer = format!("cust{i}");
        let subject = if i == 0 {
            "Ticket 0 (closed)".to_owned()
        } else {
            format!("Ticket {i}")
        };
        let mut named = vec!["agent", customer.as_str()];
        if i == 1 {
            named.push("lead");
        }
        lines.push_str(&conversation_line(&id, &subject, &named));
    }
    let desired = DesiredState::read(lines.as_bytes()).unwrap();
    tap.take();

    let plan = sync::plan(&client, &desired, false).await.unwrap();
    let (pages, user_pages, gets) = conversation_reads(&tap.by_path());
    // agent's 198 conversations are 7 pages of 30; the two left (t198, t199) cost at most
    // two of the app's pages and their GETs.
    assert_eq!(user_pages, 7, "agent's listing");
    assert!(pages <= 2 && gets <= 2, "{pages} app pages, {gets} GETs");

    let changed: Vec<(&str, bool)> = (plan.conversations.iter())
        .map(|c| (c.id.as_str(), c.create))
        .collect();
    assert_eq!(
        changed,
        [
            ("t0", false),
            ("t1", false),
            ("t198", true),
            ("t199", false)
        ]
    );
    assert_eq!(
        fields(&plan.conversations[0].fields),
        [("subject", json!("Ticket 0"), json!("Ticket 0 (closed)"))]
    );
    assert!(plan.conversations[0].participants.is_empty());
    assert_eq!(
        participants(&plan, "t1"),
        [("lead".to_owned(), ParticipantAction::Add)]
    );
    assert_eq!(
        participants(&plan, "t199"),
        [("agent".to_owned(), ParticipantAction::Add)],
        "agent is not a live participant: found another way, and added"
    );
    assert_eq!(plan.read_conversations.len(), 200);

    // The same plan as without user listings, which costs the app's pages and GETs.
    let old_way = client_without_user_listings(&fake);
    assert_eq!(sync::plan(&old_way, &desired, false).await.unwrap(), plan);
    sync::check(&client, &plan).await.unwrap();
    let (old_pages, old_user_pages, old_gets) = conversation_reads(&tap.by_path());
    assert_eq!(old_user_pages, 0);
    let (before, after) = (old_pages + old_gets, pages + user_pages + gets);
    eprintln!(
        "before: {old_pages} pages + {old_gets} GETs = {before}; \
         after: {user_pages} of agent's pages + {pages} app pages + {gets} GETs = {after}"
    );
    assert!(after * 3 < before, "{after} requests, {before} before");
}

#[tokio::test]
async fn conversations_of_many_users_read_as_before() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tap = Tap::default();
    let client = client(&fake, &tap);
    let mut users: Vec<String> = (0..=100).map(|i| format!("p{i}")).collect();
    users.extend((0..50).map(|i| format!("o{i}")));
    let upserts = (users.iter()).map(|id| (id.clone(), UserUpsert::new().name(id.clone())));
    client.users().upsert_all(upserts).await.unwrap();
    // 100 desired conversations, c{i} of p{i} and p{i+1}: no user is in more than two.
    let mut items: Vec<Item> = unrelated(600).collect();
    for i in 0..100 {
        let item = Item::Conversation {
            id: format!("c{i}"),
            conversation: (ConversationUpsert::new())
                .subject(format!("Chat {i}"))
                .participants([format!("p{i}"), format!("p{}", i + 1)]),
        };
        items.insert(i * 7, item);
    }
    let report = client.bulk().run_iter(items).await;
    assert_eq!(report.landed, 700);
    let mut lines = String::new();
    for i in 0..100 {
        let (a, b) = (format!("p{i}"), format!("p{}", i + 1));
        let subject = if i % 10 == 0 {
            format!("New {i}")
        } else {
            format!("Chat {i}")
        };
        lines.push_str(&conversation_line(&format!("c{i}"), &subject, &[&a, &b]));
    }
    let desired = DesiredState::read(lines.as_bytes()).unwrap();
    tap.take();

    let plan = sync::plan(&client, &desired, false).await.unwrap();
    let (pages, user_pages, gets) = conversation_reads(&tap.by_path());
    assert_eq!(plan.conversations.len(), 10);
    assert_eq!(
        sync::plan(&client_without_user_listings(&fake), &desired, false)
            .await
            .unwrap(),
        plan
    );
    sync::check(&client, &plan).await.unwrap();
    let (old_pages, old_user_pages, old_gets) = conversation_reads(&tap.by_path());
    assert_eq!(old_user_pages, 0);
    eprintln!(
        "before: {old_pages} pages + {old_gets} GETs; \
         after: {pages} app pages + {user_pages} user pages + {gets} GETs"
    );
    // The app's listing reads as before; a user's listing runs only for the conversations
    // left for GETs, a page for two of them.
    assert!(pages <= old_pages, "{pages} app pages, {old_pages} before");
    assert!(2 * user_pages <= old_gets, "{user_pages} user pages");
    assert!(
        pages + user_pages + gets <= old_pages + old_gets,
        "no more requests than before"
    );
}
