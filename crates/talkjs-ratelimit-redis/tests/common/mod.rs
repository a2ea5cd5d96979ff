//! A real `redis-server` for the tests: started on a free loopback port, stopped on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process on 127.0.0.1, without persistence.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free port, or returns `None` (after printing why) when it
    /// is not installed and `CI` is not set. Under CI a missing `redis-server` is a failure:
    /// `.ci/run` installs it.
    pub fn start(test: &str) -> Option<Self> {
        let Some(binary) = find_on_path("redis-server") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not on PATH, and CI is set: .ci/run should have installed it"
            );
            // Straight to stderr: `eprintln!` would be captured (and hidden) by the harness.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: redis-server is not installed (apt-get install redis-server); \
                 under CI=true this is a failure"
            );
            return None;
        };
        let port = free_port();
        let mut server = Self {
            binary,
            port,
            child: None,
        };
        server.spawn();
        Some(server)
    }

    /// The URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL, no shutdown) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty: nothing was persisted).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends one command in the inline protocol and returns the raw reply.
    pub fn command(&self, line: &str) -> String {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0_u8; 4096];
        // Replies used by the tests are small: read until a full line (and bulk body) came.
        loop {
            let n = stream.read(&mut buf).unwrap();
            reply.extend_from_slice(&buf[..n]);
            if n == 0 || complete(&reply) {
                break;
            }
        }
        String::from_utf8(reply).unwrap()
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        // Wait for PING.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ping() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("redis-server on port {} exited: {status}", self.port);
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0_u8; 16];
        matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a RESP reply is complete (simple, error, integer, or one bulk string).
fn complete(reply: &[u8]) -> bool {
    let Some(end) = reply.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    if reply[0] != b'$' {
        return true;
    }
    let len: i64 = std::str::from_utf8(&reply[1..end])
        .unwrap()
        .parse()
        .unwrap();
    len < 0 || reply.len() >= end + 2 + usize::try_from(len).unwrap() + 2
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
