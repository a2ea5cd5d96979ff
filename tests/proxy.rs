//! Proxies: the client reaches the fake through a real CONNECT proxy started here, over TLS
//! (a local TLS front with a test certificate authority, in front of the fake), by an
//! explicit setting and by the proxy environment variables; `NO_PROXY` and `Proxy::none`
//! bypass it; plain http goes through it in absolute form; credentials are sent and never
//! shown.
//!
//! Environment variables are process-wide and tests run on parallel threads, so the tests of
//! `HTTPS_PROXY`, `all_proxy` and `NO_PROXY` run this binary again as a child process (the
//! ignored test `child_calls_the_fake`) with the variables set for it alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use talkjs::models::UserUpsert;
use talkjs::transport::{HyperClientBuilder, Proxy};
use talkjs_fake::FakeTalkJs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The test certificate authority, and the server certificate it signed for
/// `api.talkjs.test`, `localhost` and `127.0.0.1` (tests/fixtures/tls/README.md).
const CA: &[u8] = include_bytes!("fixtures/tls/ca.der");
const SERVER_CERT: &[u8] = include_bytes!("fixtures/tls/server.der");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/tls/server.key.der");

/// The proxy variables a child starts without (whatever the parent's environment holds).
const PROXY_VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// What the proxy saw: the head of each request a client opened with it.
#[derive(Debug, Clone)]
struct Seen {
    /// The request line, e.g. `CONNECT api.talkjs.test:4433 HTTP/1.1`.
    line: String,
    /// The `Proxy-Authorization` header, if any.
    authorization: Option<String>,
}

/// A small HTTP proxy on loopback: `CONNECT host:port` is answered 200 and piped to the
/// host (`api.talkjs.test` and `localhost` are this machine); an absolute-form request is
/// forwarded as it is to its host. With `refuse`, every request is answered 407.
struct TestProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestProxy {
    async fn start(refuse: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve_proxy(client, Arc::clone(&log), refuse));
            }
        });
        Self { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads a request head (up to the blank line); returns it and whatever followed it.
async fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        assert!(buf.len() < 64 * 1024, "request head too long");
    }
}

/// `host:port` to an address on this machine.
fn local(host_port: &str) -> String {
    let (host, port) = host_port.rsplit_once(':').unwrap();
    assert!(
        ["api.talkjs.test", "localhost", "127.0.0.1"].contains(&host),
        "the proxy was asked for {host_port}"
    );
    format!("127.0.0.1:{port}")
}

async fn serve_proxy(mut client: TcpStream, log: Arc<Mutex<Vec<Seen>>>, refuse: bool) {
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    let line = head.lines().next().unwrap_or_default().to_owned();
    let authorization = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    log.lock().unwrap().push(Seen {
        line: line.clone(),
        authorization,
    });
    if refuse {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    if method == "CONNECT" {
        let mut upstream = TcpStream::connect(local(target)).await.unwrap();
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .unwrap();
        upstream.write_all(&rest).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    } else {
        // Absolute form: `GET http://host:port/path HTTP/1.1`.
        let authority = target
            .strip_prefix("http://")
            .and_then(|t| t.split('/').next())
            .unwrap_or_else(|| panic!("not an absolute-form request: {line}"));
        let mut upstream = TcpStream::connect(local(authority)).await.unwrap();
        upstream.write_all(head.as_bytes()).await.unwrap();
        upstream.write_all(&rest).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// A TLS front on loopback for `upstream` (the fake), with the test server certificate.
async fn tls_front(upstream: SocketAddr) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(SERVER_CERT.to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(SERVER_KEY.to_vec())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

/// The fake's address.
fn fake_addr(fake: &FakeTalkJs) -> SocketAddr {
    fake.base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A builder for `fake` at `base_url`, trusting the test authority.
fn builder(fake: &FakeTalkJs, base_url: &str) -> talkjs::ClientBuilder {
    common::builder(fake)
        .base_url(base_url)
        .http_client(HyperClientBuilder::new().add_root_certificate(CA))
}

/// An upsert and a get: the client really talks to the fake.
async fn round_trip(client: &talkjs::Client) {
    client
        .users()
        .upsert("alice", &UserUpsert::new().name("Alice"))
        .await
        .unwrap();
    assert_eq!(client.users().get("alice").await.unwrap().name, "Alice");
}

#[tokio::test]
async fn https_through_an_explicit_connect_proxy_with_credentials() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tls = tls_front(fake_addr(&fake)).await;
    let proxy = TestProxy::start(false).await;
    let with_credentials = format!("http://alice:s%40cret@{}", proxy.addr);
    let explicit = Proxy::https(with_credentials);
    assert!(!format!("{explicit:?}").contains("cret"));
    // api.talkjs.test resolves nowhere: only the proxy can reach it.
    let base = format!("https://api.talkjs.test:{}", tls.port());
    let client = builder(&fake, &base).proxy(explicit).build().unwrap();
    assert!(!format!("{client:?}").contains("cret"));
    round_trip(&client).await;
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    for s in &seen {
        assert_eq!(
            s.line,
            format!("CONNECT api.talkjs.test:{} HTTP/1.1", tls.port())
        );
        // base64("alice:s@cret"): the percent-encoding is decoded.
        assert_eq!(s.authorization.as_deref(), Some("Basic YWxpY2U6c0BjcmV0"));
    }
    assert_eq!(fake.users().len(), 1);
}

#[tokio::test]
async fn plain_http_goes_through_the_proxy_in_absolute_form() {
    let fake = FakeTalkJs::start().await.unwrap();
    let proxy = TestProxy::start(false).await;
    let client = common::builder(&fake)
        .proxy(Proxy::http(format!("http://bob:pw@{}", proxy.addr)))
        .build()
        .unwrap();
    round_trip(&client).await;
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    let prefix = format!("PUT {}/v1/{}/users/alice ", fake.base_url(), fake.app_id());
    assert!(seen[0].line.starts_with(&prefix), "{seen:?}");
    assert_eq!(seen[0].authorization.as_deref(), Some("Basic Ym9iOnB3"));
}

#[tokio::test]
async fn no_proxy_and_none_connect_directly() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tls = tls_front(fake_addr(&fake)).await;
    let proxy = TestProxy::start(false).await;
    let base = format!("https://localhost:{}", tls.port());
    let bypassed = builder(&fake, &base)
        .proxy(Proxy::all(proxy.url()).no_proxy("example.com, localhost"))
        .build()
        .unwrap();
    round_trip(&bypassed).await;
    let direct = builder(&fake, &base).proxy(Proxy::none()).build().unwrap();
    round_trip(&direct).await;
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
    // Without the exception, the same call goes through the proxy.
    let proxied = builder(&fake, &base)
        .proxy(Proxy::all(proxy.url()).no_proxy("example.com"))
        .build()
        .unwrap();
    round_trip(&proxied).await;
    assert!(!proxy.seen().is_empty());
}

#[tokio::test]
async fn a_refusing_proxy_fails_the_call_without_showing_the_credentials() {
    let fake = FakeTalkJs::start().await.unwrap();
    let proxy = TestProxy::start(true).await;
    let client = builder(&fake, "https://api.talkjs.test:443")
        .proxy(Proxy::https(format!("http://carol:hunter2@{}", proxy.addr)))
        .retry(None)
        .build()
        .unwrap();
    let error = client.users().get("alice").await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&proxy.addr.to_string()), "{shown}");
    assert!(shown.contains("proxy authorization required"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("carol"),
        "{shown}"
    );
}

#[test]
fn a_socks_proxy_is_refused_when_the_client_is_built() {
    let error = talkjs::Client::builder("app", "sk_test")
        .proxy(Proxy::all("socks5://dave:pw1234@127.0.0.1:1080"))
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("socks5"), "{error}");
    assert!(!error.contains("pw1234"), "{error}");
}

/// The app a child process calls.
struct Child<'a> {
    app: &'a str,
    key: &'a str,
}

impl Child<'_> {
    /// Runs `child_calls_the_fake` in a child process with `vars` (and no other proxy
    /// variable), off the runtime's threads (the fake and the proxy keep serving): it calls
    /// the fake at `base`, with `Proxy::none()` when `mode` is `none`.
    async fn run(&self, base: &str, mode: &str, vars: &[(&str, String)]) {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args([
            "child_calls_the_fake",
            "--exact",
            "--ignored",
            "--nocapture",
        ]);
        for var in PROXY_VARS {
            command.env_remove(var);
        }
        command
            .env("TALKJS_PROXY_TEST_BASE", base)
            .env("TALKJS_PROXY_TEST_APP", self.app)
            .env("TALKJS_PROXY_TEST_KEY", self.key)
            .env("TALKJS_PROXY_TEST_MODE", mode)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && text.contains("child: round trip done"),
            "child failed: {text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_proxy_variables_are_honoured() {
    let fake = FakeTalkJs::start().await.unwrap();
    let tls = tls_front(fake_addr(&fake)).await;
    let proxy = TestProxy::start(false).await;
    let remote = format!("https://api.talkjs.test:{}", tls.port());
    let local = format!("https://localhost:{}", tls.port());
    let connect = format!("CONNECT api.talkjs.test:{} HTTP/1.1", tls.port());
    let connects = |proxy: &TestProxy| proxy.seen().iter().filter(|s| s.line == connect).count();

    // HTTPS_PROXY: api.talkjs.test is reachable only through the proxy.
    let (app, key, p) = (fake.app_id(), fake.secret_key(), proxy.url());
    let child = Child { app, key };
    child
        .run(&remote, "env", &[("HTTPS_PROXY", p.clone())])
        .await;
    let after_https = connects(&proxy);
    assert!(after_https >= 1, "{:?}", proxy.seen());

    // all_proxy (lower case), when no HTTPS_PROXY is set.
    child.run(&remote, "env", &[("all_proxy", p.clone())]).await;
    assert!(connects(&proxy) > after_https, "{:?}", proxy.seen());

    // NO_PROXY: localhost is reached directly although HTTPS_PROXY is set.
    let before = proxy.seen().len();
    child
        .run(
            &local,
            "env",
            &[
                ("HTTPS_PROXY", p.clone()),
                ("NO_PROXY", "localhost".to_owned()),
            ],
        )
        .await;
    // The off switch: Proxy::none() ignores HTTPS_PROXY.
    child
        .run(&local, "none", &[("https_proxy", p.clone())])
        .await;
    assert_eq!(proxy.seen().len(), before, "{:?}", proxy.seen());
    assert_eq!(fake.users().len(), 1);
}

/// The child of [`the_environment_proxy_variables_are_honoured`]: a client with the default
/// proxy setting (the environment's), or `Proxy::none()`, calls the fake.
#[tokio::test]
#[ignore = "run as a child process by the_environment_proxy_variables_are_honoured"]
async fn child_calls_the_fake() {
    let Ok(base) = std::env::var("TALKJS_PROXY_TEST_BASE") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let mut builder =
        talkjs::Client::builder(var("TALKJS_PROXY_TEST_APP"), var("TALKJS_PROXY_TEST_KEY"))
            .base_url(base)
            .http_client(HyperClientBuilder::new().add_root_certificate(CA));
    if var("TALKJS_PROXY_TEST_MODE") == "none" {
        builder = builder.proxy(Proxy::none());
    }
    round_trip(&builder.build().unwrap()).await;
    println!("child: round trip done");
}
