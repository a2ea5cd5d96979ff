//! `stack_overhead`: one `GET /users/{id}` against a loopback server, decoded into a `User`,
//! through a hand-written hyper-util call (the baseline), through reqwest (what a user would
//! write without this crate), and through the talkjs client's full default stack.
//!
//! Run: `cargo bench --bench stack_overhead` (prints the ratios at the end).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::Criterion;
use talkjs::models::User;

const USER_ID: &str = "alice";

fn stack_overhead(c: &mut Criterion) {
    let server = common::Server::start();
    let rt = common::client_runtime();
    let url = server.url(&format!("/users/{USER_ID}"));

    let raw = common::raw_client();
    let reqwest = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client");
    let talkjs = rt.block_on(async { common::talkjs_client(&server) });

    // One call each before measuring: the connections are pooled from then on, and every
    // client must see the same answer.
    rt.block_on(async {
        let a = common::raw_get_user(&raw, &url).await;
        let b: User = reqwest_get(&reqwest, &url).await;
        let c = talkjs.users().get(USER_ID).await.expect("talkjs get");
        assert_eq!(a, b);
        assert_eq!(a, c);
    });

    let mut group = c.benchmark_group("stack_overhead");
    group.bench_function("raw_hyper", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(common::raw_get_user(&raw, &url).await) });
    });
    group.bench_function("reqwest", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(reqwest_get(&reqwest, &url).await) });
    });
    group.bench_function("talkjs_default", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(talkjs.users().get(USER_ID).await.expect("get")) });
    });
    group.finish();
}

/// The reqwest equivalent of the hand-written call: same headers, `.json()` decode.
async fn reqwest_get(client: &reqwest::Client, url: &str) -> User {
    client
        .get(url)
        .header(reqwest::header::AUTHORIZATION, common::STATIC_BEARER)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .expect("send")
        .error_for_status()
        .expect("status")
        .json()
        .await
        .expect("JSON")
}

fn main() {
    let since = SystemTime::now();
    let mut c = common::criterion_config().configure_from_args();
    stack_overhead(&mut c);
    c.final_summary();
    let g = "stack_overhead";
    common::report_ratio(g, "talkjs_default", "raw_hyper", "<= 1.05", since);
    common::report_ratio(g, "talkjs_default", "reqwest", "< 1.00", since);
    common::report_ratio(g, "reqwest", "raw_hyper", "(for reference)", since);
}
