//! The kill test: the migration runs as a child process (this crate's `talkjs-migrate`
//! binary) against a fake TalkJS that lives in the test process, so it keeps its state
//! while the child is SIGKILLed at random moments, many of them while imports are in
//! flight (the fake adds latency to every request). Then a run to completion, and the
//! target must hold every message exactly once, in order, with its timestamp, reply link
//! and read state; `--verify` must pass.
//!
//! The seed of the kill times is printed; set `TALKJS_MIGRATE_KILL_SEED` to replay one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Export, Scratch, assert_target_matches};
use talkjs_fake::{FakeTalkJs, Faults};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn migrate(fake: &FakeTalkJs, file: &Path, journal: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_talkjs-migrate"));
    cmd.arg(file)
        .arg("--journal")
        .arg(journal)
        .arg("--no-rate-limit")
        .arg("--concurrency")
        .arg("4")
        .env("TALKJS_APP_ID", fake.app_id())
        .env("TALKJS_SECRET_KEY", fake.secret_key())
        .env("TALKJS_BASE_URL", fake.base_url())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn seed() -> u64 {
    let seed = std::env::var("TALKJS_MIGRATE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("kill seed: {seed} (TALKJS_MIGRATE_KILL_SEED={seed} replays it)");
    seed
}

/// Resolved import requests recorded in the journal.
fn resolved_chunks(journal: &Path) -> i64 {
    let conn = rusqlite::Connection::open(journal).expect("open the journal");
    conn.query_row(
        "SELECT COUNT(*) FROM chunks WHERE state = 'resolved'",
        [],
        |r| r.get(0),
    )
    .expect("count resolved chunks")
}

/// Kills the migration `kills` times at random moments (a quarter at any instant from its
/// start, the others after 1 to `max_answers` answered requests), then
/// runs it to completion (through the fake's faults, if any) and checks the target.
async fn kill_and_finish(fake: &FakeTalkJs, export: &Export, kills: usize, max_answers: usize) {
    let dir = Scratch::new("kill");
    let file = dir.path("export.jsonl");
    let journal = dir.path("migration.journal");
    export.write(&file);
    let mut rng = fastrand::Rng::with_seed(seed());
    let started = Instant::now();
    let mut killed = 0;
    let mut finished_early = 0;
    // How long a run takes to send its first request (opening, planning or checking the
    // input, resolving): the "anywhere" kills fall within it, or a little after.
    let mut startup = Duration::from_millis(50);
    while killed < kills {
        let spawned = Instant::now();
        let mut child = migrate(fake, &file, &journal)
            .arg("--progress")
            .spawn()
            .expect("spawn the migration");
        // One message per progress line (one per answered request).
        let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("progress:") && lines_tx.send(()).is_err() {
                    break;
                }
            }
        });
        if killed % 4 == 0 {
            // Any instant from the start: opening the journal, planning, resolving, sending.
            let limit = u64::try_from(startup.mul_f64(1.2).as_micros()).unwrap_or(u64::MAX);
            tokio::time::sleep(Duration::from_micros(rng.u64(0..=limit))).await;
        } else {
            // After a random number of answers, then a random instant: mostly while the
            // next requests are in flight. Counted in answers rather than time, so that a
            // slow or busy machine makes the same progress per kill.
            let answers = rng.usize(1..=max_answers);
            for seen in 0..answers {
                let line = tokio::time::timeout(Duration::from_secs(10), lines_rx.recv())
                    .await
                    .expect("progress within 10 s");
                if line.is_none() {
                    break; // the child ended
                }
                if seen == 0 {
                    startup = startup.max(spawned.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_micros(rng.u64(0..=3000))).await;
        }
        if let Some(status) = child.try_wait().expect("poll the child") {
            assert!(
                !status.success(),
                "the migration finished after {killed} kills: make the input larger or max_answers smaller"
            );
            // Stopped short by faults (a conversation waits for the next run): go on.
            finished_early += 1;
            assert!(
                finished_early < 50,
                "the migration keeps ending before the kill (last: {status:?})"
            );
            continue;
        }
        child.start_kill().expect("SIGKILL the migration");
        child.wait().await.expect("reap the child");
        killed += 1;
    }
    // Reruns to completion: with faults a run may stop short (a conversation whose imports
    // keep failing waits for the next run), so run until one reports completion.
    let mut runs = 0;
    loop {
        runs += 1;
        let out = migrate(fake, &file, &journal)
            .output()
            .await
            .expect("run the migration");
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => break,
            Some(3) if runs < 20 => {}
            other => panic!("the migration ended with {other:?}:\n{stderr}"),
        }
    }
    let resolved = resolved_chunks(&journal);
    eprintln!(
        "{killed} kills ({finished_early} runs ended first), {runs} runs to finish, {resolved} uncertain imports resolved, {:?}",
        started.elapsed()
    );
    assert!(resolved > 0, "no kill left an import in flight");

    fake.set_faults(Faults::none());
    assert_target_matches(fake, export);
    let verify = migrate(fake, &file, &journal)
        .arg("--verify")
        .output()
        .await
        .expect("verify");
    assert!(
        verify.status.success(),
        "--verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_every_message_lands_exactly_once() {
    let fake = FakeTalkJs::builder()
        .faults(
            Faults::seeded(7)
                .latency(Duration::from_millis(1))
                .latency_jitter(Duration::from_millis(2)),
        )
        .start()
        .await
        .expect("fake");
    // 3050 messages in 50 conversations, with replies, read state, shared milliseconds and
    // repeated messages.
    let export = Export::generate(60, 50, 61);
    kill_and_finish(&fake, &export, 20, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_through_5xx_and_resets() {
    let fake = FakeTalkJs::builder()
        .faults(
            Faults::seeded(11)
                .error_rate(0.15)
                .reset_rate(0.05)
                .latency(Duration::from_millis(1))
                .latency_jitter(Duration::from_millis(2)),
        )
        .start()
        .await
        .expect("fake");
    // 2120 messages in 40 conversations.
    let export = Export::generate(40, 40, 53);
    kill_and_finish(&fake, &export, 20, 4).await;
}
