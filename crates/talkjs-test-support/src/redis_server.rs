//! A real `redis-server` for the tests (of the Redis rate-limit store, the webhook
//! receiver's Redis dedupe store, the command line tool, the migration's shards) and the
//! bulk bench: started on a free loopback port, stopped on drop. It needs nothing but `std`.
//!
//! Without `redis-server` on `PATH` a test fails and says how to install it, unless
//! `TALKJS_SKIP_REDIS=1` is set ([`SKIP_VAR`]): then [`RedisServer::start`] returns `None`
//! and says which test it skipped.

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

/// Set to `1` to skip the tests that need `redis-server` (each prints what it skipped).
pub const SKIP_VAR: &str = "TALKJS_SKIP_REDIS";

impl RedisServer {
    /// Starts `redis-server` on a free port. Without `redis-server` on `PATH` the test fails
    /// with how to install it, unless `TALKJS_SKIP_REDIS=1` is set: then this prints that
    /// `test` was skipped and returns `None` (and the test returns). A test that passes
    /// never did so by skipping silently.
    pub fn start(test: &str) -> Option<Self> {
        if std::env::var_os(SKIP_VAR).is_some_and(|v| v == "1") {
            // Straight to stderr: `eprintln!` would be captured (and hidden) by the harness.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {SKIP_VAR}=1 is set, so this test of the Redis store did not \
                 run (unset it to run it; it needs redis-server)"
            );
            return None;
        }
        let binary = find_on_path("redis-server").unwrap_or_else(|| {
            panic!(
                "{test} needs redis-server, which is not on PATH. Install it \
                 (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), \
                 or set {SKIP_VAR}=1 to skip the tests that need it"
            )
        });
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

    /// The integer stored at `key` (`GET`), `None` if the key does not exist.
    pub fn get_int(&self, key: &str) -> Option<i64> {
        let reply = self.command(&format!("GET {key}"));
        if reply.starts_with("$-1") {
            return None;
        }
        Some(reply.lines().nth(1).unwrap().parse().unwrap())
    }

    /// The Redis server's clock (`TIME`), in microseconds since the Unix epoch: the clock
    /// the store's scripts use.
    pub fn time_micros(&self) -> i64 {
        let reply = self.command("TIME");
        let lines: Vec<&str> = reply.lines().collect();
        let seconds: i64 = lines[2].parse().unwrap();
        let micros: i64 = lines[4].parse().unwrap();
        seconds * 1_000_000 + micros
    }

    /// How far the theoretical arrival time stored at `key` is ahead of the Redis clock, in
    /// microseconds (negative once it has passed).
    pub fn tat_ahead_micros(&self, key: &str) -> i64 {
        let tat = self
            .get_int(key)
            .unwrap_or_else(|| panic!("no state at {key}"));
        tat - self.time_micros()
    }

    /// The remaining time to live of `key` in milliseconds (`PTTL`: -2 if it does not
    /// exist, -1 if it has no expiry).
    pub fn pttl(&self, key: &str) -> i64 {
        self.command(&format!("PTTL {key}"))
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap()
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

/// Whether a RESP reply is complete.
fn complete(reply: &[u8]) -> bool {
    resp_end(reply, 0).is_some()
}

/// Where the RESP value starting at `at` ends, if all of it is in `reply`: simple strings,
/// errors, integers, bulk strings and arrays of them (`TIME`).
fn resp_end(reply: &[u8], at: usize) -> Option<usize> {
    let line_end = at + reply.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let after_line = line_end + 2;
    let number = || -> i64 {
        std::str::from_utf8(&reply[at + 1..line_end])
            .unwrap()
            .parse()
            .unwrap()
    };
    match reply[at] {
        b'$' => {
            let len = number();
            if len < 0 {
                return Some(after_line);
            }
            let end = after_line + usize::try_from(len).unwrap() + 2;
            (reply.len() >= end).then_some(end)
        }
        b'*' => {
            let mut end = after_line;
            for _ in 0..number().max(0) {
                end = resp_end(reply, end)?;
            }
            Some(end)
        }
        _ => Some(after_line),
    }
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
