//! `export`: 100 pages of 100 users from a loopback server, through a hand-written
//! `startingAfter` cursor loop over hyper-util (the baseline) and through the talkjs client's
//! `users().list().limit(100).into_stream()`. Both make the same 101 requests (100 full
//! pages, then an empty one that ends the listing).
//!
//! Run: `cargo bench --bench export`. Before the timed runs it checks that the stream's
//! memory is flat in the number of pages (the growth of the process's peak RSS while
//! streaming 10, 100 and 1000 pages); after them it prints the ratio of this run, then an
//! interleaved paired comparison (with `pages()`, the page stream without the item buffer,
//! as a diagnostic).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, Throughput};
use futures_util::TryStreamExt;
use talkjs::transport::{Quota, RateLimiter};

const ITEMS: usize = common::PAGES * common::PAGE_SIZE;

/// The hand-written export: follow `startingAfter` until a page shorter than the limit.
async fn raw_export(raw: &common::RawClient, server: &common::Server) -> usize {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => server.url(&format!("/users?limit=100&startingAfter={c}")),
            None => server.url("/users?limit=100"),
        };
        let page = common::raw_get_users(raw, &url).await;
        let len = page.data.len();
        cursor = page
            .data
            .last()
            .filter(|_| len >= common::PAGE_SIZE)
            .map(|last| last.id.to_string());
        // Each user by value, as the stream hands them out.
        for user in page.data {
            black_box(user);
        }
        count += len;
        if cursor.is_none() {
            return count;
        }
    }
}

/// The talkjs export: one stream of users.
async fn talkjs_export(client: &talkjs::Client) -> usize {
    client
        .users()
        .list()
        .limit(100)
        .into_stream()
        .try_fold(0, |n, user| {
            black_box(user);
            async move { Ok(n + 1) }
        })
        .await
        .expect("stream")
}

/// The talkjs export page by page (`pages()`): a diagnostic, not a criterion target.
async fn talkjs_pages_export(client: &talkjs::Client) -> usize {
    client
        .users()
        .list()
        .limit(100)
        .pages()
        .try_fold(0, |n, page| {
            let len = page.len();
            for user in page {
                black_box(user);
            }
            async move { Ok(n + len) }
        })
        .await
        .expect("stream")
}

fn export(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    server: &common::Server,
    raw: &common::RawClient,
    talkjs: &talkjs::Client,
) {
    let mut group = c.benchmark_group("export");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.sample_size(10);
    group.bench_function("raw_hyper_100_pages", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(raw_export(raw, server).await) });
    });
    group.bench_function("talkjs_stream_100_pages", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(talkjs_export(talkjs).await) });
    });
    group.finish();
}

/// Streams 10, 100 and 1000 pages (apps `pages{N}` of the loopback server) and prints how
/// much the peak RSS grew during each: flat memory means no growth with the page count.
fn memory_check(server: &common::Server, rt: &tokio::runtime::Runtime) {
    for pages in [10usize, 100, 1000] {
        let app = format!("pages{pages}");
        let client = talkjs::Client::builder(app.clone(), common::SECRET_KEY)
            .base_url(server.root())
            .rate_limiter(Some(
                RateLimiter::new(app).general_quota(Quota::per_second(1_000_000, 1_000_000)),
            ))
            .build()
            .expect("client");
        let before = common::reset_peak_rss();
        let n = rt.block_on(talkjs_export(&client));
        assert_eq!(n, pages * common::PAGE_SIZE);
        match (before, common::status_kib("VmHWM:")) {
            (Some(before), Some(peak)) => println!(
                "memory export: {pages:>4} pages ({n:>6} users): peak RSS grew {} KiB",
                peak.saturating_sub(before)
            ),
            _ => println!("memory export: /proc/self peak RSS not available"),
        }
    }
}

fn main() {
    let since = SystemTime::now();
    let rt = common::client_runtime();
    let server = common::Server::start(&rt);
    let raw = common::raw_client();
    let talkjs = rt.block_on(async { common::talkjs_client(&server) });
    rt.block_on(async {
        let before = server.connections();
        assert_eq!(raw_export(&raw, &server).await, ITEMS);
        let mid = server.connections();
        assert_eq!(talkjs_export(&talkjs).await, ITEMS);
        assert_eq!(talkjs_pages_export(&talkjs).await, ITEMS);
        let after = server.connections();
        println!(
            "connections opened for the first export: raw_hyper {}, talkjs {}",
            mid - before,
            after - mid
        );
    });
    if common::bench_mode() {
        memory_check(&server, &rt);
    }

    let mut c = common::criterion_config().configure_from_args();
    export(&mut c, &rt, &server, &raw, &talkjs);
    c.final_summary();
    // Same items per iteration: the time ratio is the inverse of the throughput ratio.
    common::report_ratio(
        "export",
        "talkjs_stream_100_pages",
        "raw_hyper_100_pages",
        "<= 1.053, i.e. throughput >= 0.95 x raw",
        since,
    );
    if common::bench_mode() {
        let jobs: Vec<common::Job<'_>> = vec![
            (
                "raw_hyper_100_pages",
                Box::new(|| {
                    Box::pin(async {
                        black_box(raw_export(&raw, &server).await);
                    })
                }),
            ),
            (
                "talkjs_stream_100_pages",
                Box::new(|| {
                    Box::pin(async {
                        black_box(talkjs_export(&talkjs).await);
                    })
                }),
            ),
            (
                "talkjs pages() (diagnostic)",
                Box::new(|| {
                    Box::pin(async {
                        black_box(talkjs_pages_export(&talkjs).await);
                    })
                }),
            ),
        ];
        common::interleaved(&rt, "export", 40, 1, &jobs);
    }
}
