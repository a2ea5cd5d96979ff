//! Reading a source: a JSON lines file (with its fingerprint) or another app (with who
//! reacted to its messages), into a plan.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use futures_util::TryStreamExt;
use talkjs_api::Client;

use super::planner::{Plan, PlanOptions, Planner};
use crate::fnv::Fnv;
use crate::shard::Shard;

/// The fingerprint of an input file (its length and hash), as [`plan_file`] records it:
/// a resumed run checks that its input is the one planned without planning it again.
pub(crate) fn fingerprint_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut fingerprint = Fingerprint::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        fingerprint.update(&buf[..n]);
    }
    Ok(fingerprint.finish())
}

/// The length and hash of an input's bytes: `file:<length>:<hash>`.
struct Fingerprint {
    hash: Fnv,
    length: u64,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Self {
            hash: Fnv::new(),
            length: 0,
        }
    }
}

impl Fingerprint {
    fn update(&mut self, bytes: &[u8]) {
        self.hash.write(bytes);
        self.length += bytes.len() as u64;
    }

    fn finish(&self) -> String {
        format!("file:{}:{:016x}", self.length, self.hash.finish())
    }
}

/// Reads a JSON lines file into a plan. A line that is not valid UTF-8 or not a record is
/// noted with its number; reading goes on.
pub(crate) fn plan_file(
    path: &Path,
    shard: Option<Shard>,
    options: PlanOptions,
) -> std::io::Result<Plan> {
    let file = std::fs::File::open(path)?;
    plan_reader(file, shard, options)
}

/// Reads JSON lines into a plan (see [`plan_file`]).
pub(crate) fn plan_reader(
    reader: impl Read,
    shard: Option<Shard>,
    options: PlanOptions,
) -> std::io::Result<Plan> {
    let mut reader = BufReader::new(reader);
    let mut planner = Planner::new(options);
    let mut fingerprint = Fingerprint::default();
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        number += 1;
        fingerprint.update(&buf);
        let blank = std::str::from_utf8(&buf).is_ok_and(|text| text.trim().is_empty());
        if !blank {
            planner.line(number, &buf);
        }
    }
    planner.retain_shard(shard);
    // The file's fingerprint without the shard names it in system messages' idempotency
    // keys: every shard of one file gives a message the same key.
    let identity = fingerprint.finish();
    Ok(planner.finish(identity.clone() + &shard_suffix(shard), &identity))
}

/// What a shard adds to the fingerprint of its input: a shard's journal resumes that shard
/// only.
pub(crate) fn shard_suffix(shard: Option<Shard>) -> String {
    shard.map_or_else(String::new, |s| format!(" shard {s}"))
}

/// Lists another app (users, conversations, each conversation's messages, and who reacted
/// to each message with each of its emoji) into a plan; with a shard, only that shard's
/// conversations' messages are listed.
pub(crate) async fn plan_app(
    source: &Client,
    shard: Option<Shard>,
    options: PlanOptions,
) -> Result<Plan, talkjs_api::Error> {
    let mut planner = Planner::new(options);
    planner.from_app = true;
    let mut users = source.users().list().limit(100).into_stream();
    while let Some(user) = users.try_next().await? {
        planner.user(None, user);
    }
    let mut conversations = source.conversations().list().limit(30).into_stream();
    let mut ids = Vec::new();
    while let Some(conversation) = conversations.try_next().await? {
        ids.push(conversation.id.as_str().to_owned());
        planner.conversation(None, conversation);
    }
    for id in ids {
        if shard.is_some_and(|s| !s.contains(&id)) {
            continue;
        }
        let mut messages = source
            .conversations()
            .messages(id.clone())
            .list()
            .limit(100)
            .into_stream();
        while let Some(message) = messages.try_next().await? {
            planner.list_reactions(source, &message).await?;
            planner.message(None, message);
        }
    }
    planner.retain_shard(shard);
    // TalkJS message ids are random and unique across apps: with them, `app` is identity
    // enough for the idempotency keys of system messages.
    Ok(planner.finish(app_fingerprint(source, shard), "app"))
}

/// The fingerprint of a source app as the journal records it: `app:ROOT/v1/APP_ID` (just
/// `app` for a client that does not know its app), and the shard.
pub(crate) fn app_fingerprint(source: &Client, shard: Option<Shard>) -> String {
    let app = crate::journal::app_address(source).map_or_else(String::new, |a| format!(":{a}"));
    format!("app{app}{}", shard_suffix(shard))
}
