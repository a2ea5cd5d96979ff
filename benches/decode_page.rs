//! `decode_page`: one 100-user page (`{"data":[…]}`, the bytes the loopback server sends)
//! decoded into our models (`Page<User>`) against the same bytes into `serde_json::Value`.
//!
//! Run: `cargo bench --bench decode_page` (prints the ratio at the end).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, Throughput};
use talkjs::models::{Page, User};

fn decode_page(c: &mut Criterion) {
    let body = common::page_json(0, common::PAGE_SIZE * common::PAGES).into_bytes();
    let page: Page<User> = serde_json::from_slice(&body).expect("typed page");
    assert_eq!(page.data.len(), common::PAGE_SIZE);

    let mut group = c.benchmark_group("decode_page");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("users_100_typed", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Page<User>>(black_box(&body)).unwrap()));
    });
    group.bench_function("users_100_value", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap())
        });
    });
    group.finish();
}

fn main() {
    let since = SystemTime::now();
    let mut c = common::criterion_config().configure_from_args();
    decode_page(&mut c);
    c.final_summary();
    common::report_ratio(
        "decode_page",
        "users_100_typed",
        "users_100_value",
        "(no target; typed should be < 1)",
        since,
    );
}
