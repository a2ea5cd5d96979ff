//! The service behind a real hyper server on a loopback socket, as the crate docs show it:
//! raw HTTP/1.1 requests with the signature headers written in lower, upper and mixed case
//! are all accepted; a wrong signature is 401 over the wire too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PATH, PATIENCE, delivery, drain, event, recorder, secret};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use talkjs_webhooks::{WebhookConfig, WebhookService};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Sends one raw request and returns the status line.
async fn exchange(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn header_names_in_any_case_over_the_wire() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (handler, rx) = recorder();
    let service = WebhookService::new(WebhookConfig::new(secret()), handler);
    let server = tokio::spawn(async move {
        // Four connections, one request each.
        for _ in 0..4 {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
                .unwrap();
        }
    });

    let mut sent = Vec::new();
    for (i, (timestamp, signature)) in [
        ("x-talkjs-timestamp", "x-talkjs-signature"),
        ("X-TALKJS-TIMESTAMP", "X-TALKJS-SIGNATURE"),
        ("X-TalkJS-Timestamp", "X-TalkJS-Signature"),
    ]
    .into_iter()
    .enumerate()
    {
        let e = event(Some(&format!("evt_{i}")), "hello");
        let signed = delivery(&e);
        let head = format!(
            "POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             {timestamp}: {}\r\n{signature}: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            signed.timestamp(),
            signed.signature(),
            signed.body().len()
        );
        assert_eq!(
            exchange(addr, &head, signed.body()).await,
            "HTTP/1.1 200 OK",
            "{timestamp} / {signature}"
        );
        sent.push(e);
    }

    // A signature of another body: 401.
    let signed = delivery(&event(Some("evt_x"), "hello"));
    let other = delivery(&event(Some("evt_x"), "changed"));
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: localhost\r\nX-TalkJS-Timestamp: {}\r\n\
         X-TalkJS-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        signed.timestamp(),
        signed.signature(),
        other.body().len()
    );
    assert_eq!(
        exchange(addr, &head, other.body()).await,
        "HTTP/1.1 401 Unauthorized"
    );

    server.await.unwrap();
    let mut received = drain(rx).await;
    received.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(received, sent);
}
