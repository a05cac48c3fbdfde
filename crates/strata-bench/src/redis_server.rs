//! A `redis-server` child for the benchmarks that need a real Redis.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A redis-server child, killed on drop.
pub struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    /// The server's `redis://` URL.
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` (from PATH) on a free loopback port, without
/// persistence, and waits until it listens.
///
/// # Errors
/// When it cannot be started or does not listen within 10 s.
pub fn start_redis() -> anyhow::Result<Server> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let dir = tempfile::tempdir()?;
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting redis-server (run scripts/ensure-redis.sh to install it)")?;
    let url = format!("redis://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("redis-server did not listen on port {port}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Server {
        child,
        _dir: dir,
        url,
    })
}
