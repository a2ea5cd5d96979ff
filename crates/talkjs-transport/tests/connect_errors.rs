//! A failed connection says where it tried to connect and why, in its message (`Display`),
//! not only in `{:?}`: the address, then the innermost cause (refused, a TLS handshake that
//! failed), not hyper-util's `client error (Connect)`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use bytes::Bytes;
use talkjs_transport::{HyperClient, TransportError};
use tower::ServiceExt;

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_refused_connection_names_the_address_and_the_os_error() {
    let port = closed_port();
    let error = HyperClient::new()
        .unwrap()
        .oneshot(get(&format!("http://127.0.0.1:{port}/v1/app/users")))
        .await
        .unwrap_err();
    assert!(
        matches!(
            TransportError::find(&*error),
            Some(TransportError::Connect { .. })
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "could not connect to the TalkJS API at 127.0.0.1:{port}: "
        )),
        "{message}"
    );
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused).to_string();
    assert!(
        message.to_lowercase().contains("connection refused"),
        "{message} ({refused})"
    );
    assert!(!message.contains("client error (Connect)"), "{message}");
    assert!(
        message.ends_with("; check the network and the base URL"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failed_tls_handshake_says_so() {
    // A loopback server that answers the TLS client hello with plain text.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut socket, _)) = listener.accept() {
            let mut buf = [0_u8; 1024];
            let _ = socket.read(&mut buf);
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let error = HyperClient::new()
        .unwrap()
        .oneshot(get(&format!("https://127.0.0.1:{port}/v1/app/users")))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("could not connect to the TalkJS API"),
        "{message}"
    );
    assert!(!message.contains("client error (Connect)"), "{message}");
    // rustls's own words for a peer that does not speak TLS.
    assert!(
        message.contains("corrupt message") || message.contains("InvalidContentType"),
        "{message}"
    );
}
