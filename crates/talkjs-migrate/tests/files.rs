//! Attachment URLs from an export are not trusted: loopback, private and link-local hosts
//! are refused before any connection unless allowed (by address, by name, and after a
//! redirect), cloud metadata addresses always, and a file over the size limit fails its
//! message. All traffic stays on loopback: the refused addresses are never connected to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use talkjs_fake::FakeTalkJs;
use talkjs_migrate::{Failure, ItemKind, Migration, Report};
use talkjs_test_support::migrate::{Scratch, client, write_lines};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback file host that counts the connections it accepted. Paths: `/file.txt` (a small
/// file), `/to-metadata` (a redirect to the metadata address), `/to-file` (a redirect by
/// name to `/file.txt`), `/huge.bin` (a `Content-Length` of 100 MiB and 1 byte, and no body).
struct FileHost {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
}

impl FileHost {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(stream, addr));
            }
        });
        Self { addr, connections }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn answer(mut stream: tokio::net::TcpStream, addr: SocketAddr) {
    let mut request = Vec::new();
    let mut buf = [0_u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request.split(' ').nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let response = match path {
        "/file.txt" => "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\
                        Connection: close\r\n\r\nthe file!"
            .to_owned(),
        "/to-metadata" => "HTTP/1.1 302 Found\r\n\
                           Location: http://169.254.169.254/latest/meta-data/iam?x=SECRET\r\n\
                           Content-Length: 0\r\nConnection: close\r\n\r\n"
            .to_owned(),
        "/to-file" => format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: http://localhost:{}/file.txt\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            addr.port()
        ),
        "/huge.bin" => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            100 * 1024 * 1024 + 1
        ),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    };
    let _ = stream.write_all(response.as_bytes()).await;
}

fn user(id: &str) -> String {
    json!({"id": id, "name": id, "createdAt": 1}).to_string()
}

fn conversation(id: &str) -> String {
    json!({"id": id, "createdAt": 1, "participants": {
        "alice": {"access": "ReadWrite", "notify": true},
        "bob": {"access": "ReadWrite", "notify": true}}})
    .to_string()
}

/// Message `id` in conversation `c`, with a file at `url` if given.
fn message(c: &str, id: &str, ts: u64, url: Option<&str>) -> String {
    let mut m = json!({"id": id, "type": "UserMessage", "conversationId": c,
        "senderId": "alice", "text": id, "createdAt": ts, "readBy": []});
    if let Some(url) = url {
        m["attachment"] = json!({"url": url});
    }
    m.to_string()
}

/// A conversation `c` of two messages: `{c}-file` with the file at `url`, then `{c}-after`.
fn file_then_text(c: &str, url: &str) -> Vec<String> {
    vec![
        conversation(c),
        message(c, &format!("{c}-file"), 1000, Some(url)),
        message(c, &format!("{c}-after"), 2000, None),
    ]
}

fn export(dir: &Scratch, conversations: &[(&str, String)]) -> std::path::PathBuf {
    let mut lines = vec![user("alice"), user("bob")];
    for (c, url) in conversations {
        lines.extend(file_then_text(c, url));
    }
    let file = dir.path("export.jsonl");
    write_lines(&file, &lines);
    file
}

fn failure<'a>(report: &'a Report, conversation: &str) -> &'a Failure {
    let failure = report
        .failed
        .iter()
        .find(|f| f.subject == conversation)
        .unwrap_or_else(|| panic!("no failure in {conversation}: {:?}", report.failed));
    assert_eq!(failure.kind, ItemKind::Message);
    assert_eq!(failure.source_id, format!("{conversation}-file"));
    failure
}

fn texts(fake: &FakeTalkJs, conversation: &str) -> Vec<String> {
    fake.messages(conversation)
        .iter()
        .filter_map(|m| m.text.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_hosts_are_refused_without_a_connection_until_allowed() {
    let host = FileHost::start().await;
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("files-loopback");
    let by_name = host.url("/file.txt").replace("127.0.0.1", "localhost");
    let file = export(
        &dir,
        &[
            ("by-address", host.url("/file.txt?token=SECRET")),
            ("by-name", by_name),
        ],
    );

    let report = Migration::from_file(&file, client(&target))
        .run()
        .await
        .expect("run");
    assert_eq!(host.connections(), 0, "the file host saw no connection");
    let by_address = failure(&report, "by-address");
    assert!(
        by_address.error.ends_with(&format!(
            "GET {}: 127.0.0.1 is a loopback address; pass --allow-private-file-hosts \
             (Migration::allow_private_file_hosts) to allow it",
            host.url("/file.txt")
        )),
        "{}",
        by_address.error
    );
    assert!(!by_address.error.contains("SECRET"), "{}", by_address.error);
    let by_name = failure(&report, "by-name");
    assert!(
        by_name
            .error
            .contains(": localhost resolves to a loopback address "),
        "{}",
        by_name.error
    );
    // Refused for now, not for good: each conversation waits there, in order.
    assert!(!by_address.permanent && !by_name.permanent);
    assert!(!report.is_complete());
    assert_eq!((report.messages.failed, report.messages.planned), (2, 2));
    assert_eq!(target.file_count(), 0);

    // Allowed, the same journal carries them.
    let report = Migration::from_file(&file, client(&target))
        .allow_private_file_hosts(true)
        .run()
        .await
        .expect("allowed");
    assert!(
        report.is_complete() && report.failed.is_empty(),
        "{report:?}"
    );
    assert_eq!(host.connections(), 2);
    assert_eq!((report.files, report.uploads), (2, 2));
    for c in ["by-address", "by-name"] {
        assert_eq!(
            texts(&target, c),
            [format!("{c}-file"), format!("{c}-after")]
        );
        let url = &target.messages(c)[0]
            .attachment
            .clone()
            .expect("a file")
            .url;
        assert_eq!(target.file_data(url).as_deref(), Some(&b"the file!"[..]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_link_local_and_metadata_addresses_fail_before_connecting() {
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("files-private");
    // None of these is ever connected to: a connection attempt would fail differently
    // (a timeout or a refused connection), not with the refusal checked below.
    let cases = [
        (
            "ten",
            "http://10.0.0.5/photo.png?token=SECRET",
            "10.0.0.5 is a private address; pass --allow-private-file-hosts",
            false,
        ),
        (
            "cgnat",
            "https://100.64.1.2/photo.png",
            "100.64.1.2 is a shared (carrier-grade NAT) address; pass",
            false,
        ),
        (
            "link-local",
            "http://[fe80::1]/photo.png",
            "[fe80::1] is a link-local address; pass",
            false,
        ),
        (
            "mapped",
            "http://[::ffff:192.168.1.1]/photo.png",
            "[::ffff:192.168.1.1] is a private address; pass",
            false,
        ),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a cloud metadata address; never fetched",
            true,
        ),
        (
            "metadata-v6",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "[fd00:ec2::254] is a cloud metadata address; never fetched",
            true,
        ),
    ];
    let conversations: Vec<(&str, String)> = cases
        .iter()
        .map(|(c, url, ..)| (*c, (*url).to_owned()))
        .collect();
    let file = export(&dir, &conversations);
    let report = Migration::from_file(&file, client(&target))
        .run()
        .await
        .expect("run");
    for (c, _, why, permanent) in cases {
        let failure = failure(&report, c);
        assert!(failure.error.contains(why), "{c}: {}", failure.error);
        assert!(!failure.error.contains("SECRET"), "{}", failure.error);
        assert_eq!(failure.permanent, permanent, "{c}: {failure:?}");
        // A metadata address fails its message for good; the conversation goes on. Any
        // other refusal holds the conversation until a run allows it.
        let expected: Vec<String> = if permanent {
            vec![format!("{c}-after")]
        } else {
            Vec::new()
        };
        assert_eq!(texts(&target, c), expected, "{c}");
    }
    assert_eq!(report.messages.failed, 6);
    assert_eq!(target.file_count(), 0);

    // Allowing private hosts never allows the metadata addresses (the allowed ones are not
    // run here: they are not on loopback).
    write_lines(
        &dir.path("metadata.jsonl"),
        &[
            &[user("alice"), user("bob")][..],
            &file_then_text("again", "http://[::ffff:169.254.169.254]/latest/meta-data/"),
        ]
        .concat(),
    );
    let report = Migration::from_file(dir.path("metadata.jsonl"), client(&target))
        .allow_private_file_hosts(true)
        .run()
        .await
        .expect("allowed");
    let failure = failure(&report, "again");
    assert!(failure.permanent, "{failure:?}");
    assert!(
        failure
            .error
            .contains("[::ffff:169.254.169.254] is a cloud metadata address; never fetched"),
        "{}",
        failure.error
    );
    assert_eq!(texts(&target, "again"), ["again-after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_checked_like_the_url() {
    let host = FileHost::start().await;
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("files-redirect");
    let file = export(
        &dir,
        &[
            ("to-metadata", host.url("/to-metadata")),
            ("to-file", host.url("/to-file")),
        ],
    );
    let report = Migration::from_file(&file, client(&target))
        .allow_private_file_hosts(true)
        .run()
        .await
        .expect("run");
    // The redirect to the metadata address: refused, for good, naming the address; the
    // redirect to a (loopback, allowed) name is followed.
    let [refused] = &report.failed[..] else {
        panic!("{:?}", report.failed)
    };
    assert_eq!(refused.source_id, "to-metadata-file");
    assert!(refused.permanent);
    assert!(
        refused.error.ends_with(
            "GET http://169.254.169.254/latest/meta-data/iam: 169.254.169.254 is a cloud \
             metadata address; never fetched"
        ),
        "{}",
        refused.error
    );
    assert_eq!(texts(&target, "to-metadata"), ["to-metadata-after"]);
    assert_eq!(texts(&target, "to-file"), ["to-file-file", "to-file-after"]);
    assert_eq!((report.files, report.uploads), (1, 1));
    // Two GETs of redirects, one of the file: nothing went to 169.254.169.254.
    assert_eq!(host.connections(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_limit_fails_its_message_without_reading_it() {
    let host = FileHost::start().await;
    let target = FakeTalkJs::start().await.expect("target");
    let dir = Scratch::new("files-huge");
    let file = export(&dir, &[("huge", host.url("/huge.bin"))]);
    let report = Migration::from_file(&file, client(&target))
        .allow_private_file_hosts(true)
        .run()
        .await
        .expect("run");
    let failure = failure(&report, "huge");
    assert!(failure.permanent);
    assert!(
        failure
            .error
            .ends_with(&format!("{} is larger than 100 MiB", host.url("/huge.bin"))),
        "{}",
        failure.error
    );
    assert!(report.is_complete());
    assert_eq!(texts(&target, "huge"), ["huge-after"]);
    assert_eq!(target.file_count(), 0);
}
