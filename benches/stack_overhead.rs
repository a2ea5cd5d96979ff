//! `stack_overhead`: one `GET /users/{id}` against a loopback server, decoded into a `User`,
//! through a hand-written hyper-util call (the baseline), the same call inside
//! `tokio::time::timeout` (`raw_hyper_timeout`: the baseline with a time limit, as the
//! default stack has), through reqwest (what a user would write without this crate), and
//! through the talkjs client's full default stack.
//!
//! Run: `cargo bench --bench stack_overhead`. After criterion's figures it prints the
//! ratios of this run, then an interleaved paired comparison of the same calls (more
//! robust on a shared machine). With `TALKJS_BENCH_LAYERS=1` it also prints what each part
//! of the stack adds, layer by layer.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::Criterion;
use talkjs::models::User;

const USER_ID: &str = "alice";

struct Clients {
    server: common::Server,
    url: String,
    raw: common::RawClient,
    reqwest: reqwest::Client,
    talkjs: talkjs::Client,
}

fn clients(rt: &tokio::runtime::Runtime) -> Clients {
    let server = common::Server::start(rt);
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
        let b = reqwest_get(&reqwest, &url).await;
        let c = talkjs.users().get(USER_ID).await.expect("talkjs get");
        assert_eq!(a, b);
        assert_eq!(a, c);
    });
    Clients {
        server,
        url,
        raw,
        reqwest,
        talkjs,
    }
}

fn stack_overhead(c: &mut Criterion, rt: &tokio::runtime::Runtime, cl: &Clients) {
    let mut group = c.benchmark_group("stack_overhead");
    group.bench_function("raw_hyper", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(common::raw_get_user(&cl.raw, &cl.url).await) });
    });
    group.bench_function("raw_hyper_timeout", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(raw_get_user_with_timeout(cl).await) });
    });
    group.bench_function("reqwest", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(reqwest_get(&cl.reqwest, &cl.url).await) });
    });
    group.bench_function("talkjs_default", |b| {
        b.to_async(rt)
            .iter(|| async { black_box(cl.talkjs.users().get(USER_ID).await.expect("get")) });
    });
    group.finish();
}

/// The reqwest equivalent of the hand-written call: same headers, `.json()` decode.
async fn reqwest_get(client: &reqwest::Client, url: &str) -> User {
    client
        .get(url)
        .header(reqwest::header::AUTHORIZATION, common::static_bearer())
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

/// The hand-written call under the same time limit as the default stack's per-attempt
/// timeout (30 s, never reached): what any client that bounds its calls with a tokio timer
/// pays (one timer registered per call, and a runtime with an armed timer parks with a
/// timeout). `raw_hyper` has no timer at all.
async fn raw_get_user_with_timeout(cl: &Clients) -> User {
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        common::raw_get_user(&cl.raw, &cl.url),
    )
    .await
    .expect("no timeout")
}

fn interleaved(rt: &tokio::runtime::Runtime, cl: &Clients) {
    let jobs: Vec<common::Job<'_>> = vec![
        (
            "raw_hyper",
            Box::new(|| {
                Box::pin(async {
                    black_box(common::raw_get_user(&cl.raw, &cl.url).await);
                })
            }),
        ),
        (
            "raw_hyper_timeout",
            Box::new(|| {
                Box::pin(async {
                    black_box(raw_get_user_with_timeout(cl).await);
                })
            }),
        ),
        (
            "reqwest",
            Box::new(|| {
                Box::pin(async {
                    black_box(reqwest_get(&cl.reqwest, &cl.url).await);
                })
            }),
        ),
        (
            "talkjs_default",
            Box::new(|| {
                Box::pin(async {
                    black_box(cl.talkjs.users().get(USER_ID).await.expect("get"));
                })
            }),
        ),
    ];
    common::interleaved(rt, "stack_overhead", 60, 200, &jobs);
}

/// What each part of the default stack adds to a call: clients built from the same parts,
/// one layer more each time, compared interleaved (diagnostics for the transport).
fn layers(rt: &tokio::runtime::Runtime, cl: &Clients) {
    use talkjs::auth::{AppId, Credentials, SecretKey, TokenSigner};
    use talkjs::transport::{
        BaseUrl, BaseUrlLayer, HyperClient, Quota, RateLimiter, RetryConfig, StackBuilder,
    };
    use tower::ServiceExt;

    let _runtime = rt.enter();
    let app = || AppId::new(common::APP_ID);
    let token =
        || Credentials::AppToken(TokenSigner::new(app(), SecretKey::new(common::SECRET_KEY)));
    let bare = |credentials: Credentials| {
        StackBuilder::new(app(), credentials)
            .base_url(cl.server.root())
            .retry(None)
            .rate_limiter(None)
            .attempt_timeout(None)
            .deadline(None)
            .trace(false)
    };
    let limiter = || {
        Some(
            RateLimiter::new(common::APP_ID).general_quota(Quota::per_second(1_000_000, 1_000_000)),
        )
    };
    let from = |stack: StackBuilder| talkjs::Client::from_service(stack.build().expect("stack"));
    let hyper = HyperClient::new().expect("hyper client");
    // The same static headers as the raw call, so that the row differs from its neighbours
    // only by the resource API and the base URL.
    let base_only = talkjs::Client::from_service(
        tower::ServiceBuilder::new()
            .map_request(|mut request: http::Request<bytes::Bytes>| {
                let headers = request.headers_mut();
                headers.insert(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_static(common::static_bearer()),
                );
                headers.insert(
                    http::header::ACCEPT,
                    http::HeaderValue::from_static("application/json"),
                );
                request
            })
            .layer(BaseUrlLayer::new(
                BaseUrl::new(&cl.server.root(), common::APP_ID, false).expect("base URL"),
            ))
            .service(hyper.clone()),
    );
    let legacy = from(bare(Credentials::LegacySecretKey(SecretKey::new(
        common::SECRET_KEY,
    ))));
    let signed = from(bare(token()));
    let rate_limited = from(bare(token()).rate_limiter(limiter()));
    let retried = from(
        bare(token())
            .rate_limiter(limiter())
            .retry(Some(RetryConfig::default())),
    );
    let timed = from(
        bare(token())
            .rate_limiter(limiter())
            .retry(Some(RetryConfig::default()))
            .attempt_timeout(Some(std::time::Duration::from_secs(30)))
            .deadline(Some(std::time::Duration::from_secs(120))),
    );
    let users = cl.talkjs.users();
    let mut jobs = raw_baselines(cl);
    jobs.extend::<Vec<common::Job<'_>>>(vec![
        (
            "HyperClient (transport, innermost) only",
            Box::new(|| {
                Box::pin(async {
                    let request = http::Request::get(&cl.url)
                        .header(http::header::AUTHORIZATION, common::static_bearer())
                        .header(http::header::ACCEPT, "application/json")
                        .body(bytes::Bytes::new())
                        .unwrap();
                    let response = hyper.clone().oneshot(request).await.unwrap();
                    black_box(serde_json::from_slice::<User>(response.body()).unwrap());
                })
            }),
        ),
        ("+ api layer + BaseUrl (static headers)", get(&base_only)),
        ("+ Auth (legacy key) + JSON headers", get(&legacy)),
        ("  ... app token instead of legacy key", get(&signed)),
        ("+ RateLimit", get(&rate_limited)),
        ("+ Retry", get(&retried)),
        ("+ attempt timeout + deadline", get(&timed)),
        ("+ Trace = talkjs_default", get(&cl.talkjs)),
        (
            "talkjs_default, Users handle reused",
            Box::new(|| {
                Box::pin(async {
                    black_box(users.get(USER_ID).await.expect("get"));
                })
            }),
        ),
    ]);
    for (_, job) in &jobs {
        rt.block_on(job());
    }
    common::interleaved(rt, "stack layers", 60, 200, &jobs);
}

/// The raw call, bare and inside `tokio::time::timeout` (what an armed timer costs by
/// itself), the first rows of the layer-by-layer run.
fn raw_baselines(cl: &Clients) -> Vec<common::Job<'_>> {
    vec![
        (
            "raw_hyper",
            Box::new(|| {
                Box::pin(async {
                    black_box(common::raw_get_user(&cl.raw, &cl.url).await);
                })
            }),
        ),
        (
            "raw_hyper inside tokio::time::timeout (30 s)",
            Box::new(|| {
                Box::pin(async {
                    black_box(raw_get_user_with_timeout(cl).await);
                })
            }),
        ),
    ]
}

/// A job calling `client.users().get(..)`.
fn get(client: &talkjs::Client) -> common::JobFn<'_> {
    Box::new(move || {
        Box::pin(async move {
            black_box(client.users().get(USER_ID).await.expect("get"));
        })
    })
}

fn main() {
    let since = SystemTime::now();
    let rt = common::client_runtime();
    let cl = clients(&rt);
    let mut c = common::criterion_config().configure_from_args();
    stack_overhead(&mut c, &rt, &cl);
    c.final_summary();
    let g = "stack_overhead";
    common::report_ratio(g, "talkjs_default", "raw_hyper", "<= 1.15", since);
    common::report_ratio(
        g,
        "talkjs_default",
        "raw_hyper_timeout",
        "(same time limit; for reference)",
        since,
    );
    common::report_ratio(g, "talkjs_default", "reqwest", "<= 0.95", since);
    common::report_ratio(
        g,
        "raw_hyper_timeout",
        "raw_hyper",
        "(one tokio timer; for reference)",
        since,
    );
    common::report_ratio(g, "reqwest", "raw_hyper", "(for reference)", since);
    if common::bench_mode() {
        interleaved(&rt, &cl);
        if std::env::var_os("TALKJS_BENCH_LAYERS").is_some() {
            layers(&rt, &cl);
        }
    }
}
