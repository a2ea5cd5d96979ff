//! Two shards of one migration run side by side against one fake: every message exactly
//! once, and together they equal the unsharded migration; with their clients on one rate
//! limit in Redis (as two processes would share it), they keep to that limit together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use talkjs_fake::{FakeTalkJs, RateLimitConfig};
use talkjs_migrate::talkjs_api::Client;
use talkjs_migrate::talkjs_api::transport::{Quota, RateLimiter};
use talkjs_migrate::{Error, Migration, Shard, shard_of};
use talkjs_ratelimit_redis::RedisStore;
use talkjs_test_support::migrate::{
    Export, Scratch, assert_target_matches, builder, client, write_lines,
};
use talkjs_test_support::redis_server::RedisServer;

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
        assert!(report.failed.is_empty(), "{:?}", report.failed);
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

/// The limit the shards share: 40 requests a second, 4 at once.
const PER_SECOND: u32 = 40;
const BURST: u32 = 4;

/// A client of `fake` whose limiter keeps its state in the Redis at `url`, as each shard's
/// process has (`talkjs migrate --shard I/N --redis-url URL`): its own store and limiter,
/// the limit shared only through Redis.
async fn shard_client(fake: &FakeTalkJs, url: &str) -> (Client, Arc<RedisStore>) {
    let store = Arc::new(RedisStore::builder().replicas(2).open(url).unwrap());
    store.connect().await.unwrap();
    let limiter = RateLimiter::new(fake.app_id())
        .general_quota(Quota::per_second(PER_SECOND, BURST))
        .with_store(store.clone());
    let client = builder(fake).rate_limiter(Some(limiter)).build().unwrap();
    (client, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_on_one_redis_limit_keep_to_it_together() {
    let Some(redis) = RedisServer::start("two_shards_on_one_redis_limit_keep_to_it_together")
    else {
        return;
    };
    let dir = Scratch::new("shards-limit");
    let export = Export::generate(14, 16, 12);
    let file = dir.path("export.jsonl");
    export.write(&file);
    // The fake allows more than the shared limit (16 at once, 50 a second), less than two
    // such limits (8 at once, 80 a second): shards that each took the whole limit would
    // meet 429s; shards that share it meet none, with room for requests that reach the fake
    // bunched up a little.
    let fake = FakeTalkJs::builder()
        .rate_limit(RateLimitConfig {
            burst: 16,
            per_second: 50.0,
            ..RateLimitConfig::TALKJS
        })
        .start()
        .await
        .unwrap();
    let (first, first_store) = shard_client(&fake, &redis.url()).await;
    let (second, second_store) = shard_client(&fake, &redis.url()).await;
    let first = Migration::from_file(&file, first).shard(Shard::new(0, 2).unwrap());
    let second = Migration::from_file(&file, second).shard(Shard::new(1, 2).unwrap());

    let start = Instant::now();
    let (a, b) = tokio::join!(first.run(), second.run());
    let elapsed = start.elapsed();
    let (a, b) = (a.expect("shard 0"), b.expect("shard 1"));
    assert!(a.is_complete() && b.is_complete(), "{a:?} {b:?}");
    assert!(a.failed.is_empty() && b.failed.is_empty());
    assert_target_matches(&fake, &export);

    let requests = fake.request_count();
    println!(
        "two shards, one limit of {PER_SECOND}/s: {requests} requests in {elapsed:?} \
         (shard 0: {}, shard 1: {}), {} x 429",
        a.requests,
        b.requests,
        fake.count_429()
    );
    assert_eq!(fake.count_429(), 0, "the shards kept to the fake's limit");
    assert!(
        a.requests.min(b.requests) * 3 > requests,
        "both shards had a fair part of the work: {} and {}",
        a.requests,
        b.requests
    );
    // One limit lets these requests through no faster than this: the burst at once, then
    // one per interval. Two limits, one per shard, would have let them through in about
    // half the time (the shards share the work about equally).
    let interval = Quota::per_second(PER_SECOND, BURST).interval();
    let forced = interval * u32::try_from(requests - u64::from(BURST)).unwrap();
    assert!(
        elapsed >= forced.mul_f64(0.9),
        "{requests} requests in {elapsed:?}: faster than one limit of {PER_SECOND}/s allows \
         ({forced:?}); the shards did not share it"
    );
    for store in [&first_store, &second_store] {
        let stats = store.stats();
        assert_eq!(stats.local, 0, "every call went through Redis: {stats:?}");
        assert!(stats.redis > 0, "{stats:?}");
    }
    assert!(
        forced > Duration::from_secs(1),
        "enough requests to measure: {forced:?}"
    );
}
