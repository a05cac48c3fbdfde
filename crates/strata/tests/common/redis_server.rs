//! A real `redis-server` for one test: its own free port on 127.0.0.1, its
//! own temp directory, no persistence; killed when dropped. It can be
//! killed, paused and restarted on the same port, so tests can take Redis
//! away from a connected tier and give it back.
//!
//! `scripts/ensure-redis.sh` installs the binary; the system service is
//! never used.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strata::tier::redis::{RedisTier, RedisTierBuilder};
use tempfile::TempDir;

/// How long a server may take to answer its first `PING`. Redis starts in
/// milliseconds; this only bounds a broken start.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One `redis-server` process (or none, between `stop` and `restart`).
pub(crate) struct RedisServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` is not on PATH (with how to install it), or when
    /// it does not start (with its log).
    pub(crate) fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir for redis-server"),
            child: None,
        };
        // A port found free may be taken before the server binds it (by a
        // test running in parallel): try a few.
        let mut last_failure = String::new();
        for _ in 0..5 {
            match server.spawn() {
                Ok(()) => return server,
                Err(failure) => {
                    last_failure = failure;
                    server.port = free_port();
                }
            }
        }
        panic!("redis-server did not start after 5 attempts; last: {last_failure}");
    }

    /// A plain client connection, to look at what a tier stored or to act
    /// as another program.
    pub(crate) async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a valid URL")
            .get_multiplexed_async_connection()
            .await
            .expect("a connection to the test server")
    }

    /// The URL a client connects to.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on (the same after a restart).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL (a crash: no goodbye to clients) and
    /// waits for it to exit. Its data is gone: there is no persistence.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: either way it is gone after wait().
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh server on the same port, after [`stop`](Self::stop).
    ///
    /// # Panics
    /// When the server does not start.
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(failure) = self.spawn() {
            panic!(
                "redis-server did not restart on port {}: {failure}",
                self.port
            );
        }
    }

    /// Freezes the server with SIGSTOP: connections stay open and nothing
    /// answers, as with a server stalled by a long command or the network.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`pause`](Self::pause).
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server is running");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed: {status}");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts the process on `self.port` and waits for `PING`; on failure
    /// the process is gone and the error holds its log.
    fn spawn(&mut self) -> Result<(), String> {
        let log = self.log_path();
        // Readiness is read from this run's log (see below): start it empty.
        let _ = std::fs::remove_file(&log);
        let spawned = Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH: the Redis tier tests start their own servers. \
                 Install it with scripts/ensure-redis.sh (Debian's redis-server package) \
                 or any Redis 7+ build"
            ),
            Err(error) => panic!("cannot run redis-server: {error}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // Our own log saying so, not a PONG alone: a PONG could come
            // from another test's server that won the race for the port
            // while ours is failing to bind it.
            let ready = std::fs::read_to_string(&log)
                .is_ok_and(|text| text.contains("Ready to accept connections"));
            if ready && ping(self.port) {
                return Ok(());
            }
            let child = self.child.as_mut().expect("spawned above");
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                self.child = None;
                return Err(format!(
                    "exited with {status}; stderr: {stderr}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!(
                    "no PONG within {START_TIMEOUT:?}; log: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port nobody listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Whether a Redis server on `port` answers `PING` (in RESP, by hand: the
/// harness needs no client library).
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    if stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut reply = [0; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// A Redis tier builder for `url` (a server's, or a proxy's in front of
/// it) under `prefix`, with `timeout` both to connect and for each command:
/// the tier the Redis tests build their instances on.
pub(crate) fn tier_builder(url: &str, prefix: &str, timeout: Duration) -> RedisTierBuilder {
    RedisTier::builder(url)
        .key_prefix(prefix)
        .command_timeout(timeout)
        .connect_timeout(timeout)
}
