//! Issue 6's targets for `strata serve`, measured in one run:
//!
//! 1. `GET` hits of 100-byte values over loopback with `wrk`: throughput
//!    against a bare axum handler that returns a constant 100 bytes, same
//!    tool, same settings, same run; p99 of each.
//! 2. Memory of the server process holding 1,000,000 keys of 100-byte
//!    values, against a Debian `redis-server` holding the same keys.
//!
//! `strata serve` runs as its own process (the release binary next to
//! this one: `cargo build --release -p strata-cli` first), so its memory
//! is its own. Needs `wrk` and `redis-server` on PATH.
//!
//! ```sh
//! cargo build --release -p strata-cli
//! cargo run --release -p strata-bench --bin server-load
//! ```

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde_json::json;
use strata_bench::redis_process::RedisProcess;

// The allocator `strata serve` ships with, so the bare handler it is
// compared with does not pay for a slower one.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    about = "strata serve against a bare axum handler (wrk) and against redis-server (memory)"
)]
struct Args {
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// Keys for the memory comparison.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    value_bytes: usize,
    /// Where the data directories go.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the memory comparison.
    #[arg(long)]
    no_memory: bool,
    /// Skip the throughput comparison.
    #[arg(long)]
    no_throughput: bool,
    /// Only serve the bare handler on this address until killed (to profile
    /// it on its own, e.g. under callgrind), measuring nothing.
    #[arg(long, value_name = "ADDR")]
    serve_bare: Option<String>,
    /// Extra lines for the namespace's config in the memory runs (to try
    /// other settings, e.g. `policy = "lru"`).
    #[arg(long, default_value = "")]
    namespace_extra: String,
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn strata_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("strata");
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build --release -p strata-cli` first",
            bin.display()
        );
    }
    Ok(bin)
}

/// Starts `strata serve` with `config`; returns the process and its URL.
fn serve(dir: &Path, config: &str) -> anyhow::Result<(Proc, String)> {
    let path = dir.join("strata.toml");
    std::fs::write(&path, config)?;
    let mut child = Command::new(strata_binary()?)
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .env("STRATA_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting strata serve")?;
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
    stdout.read_line(&mut line)?;
    // Keep reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("no address in {line:?}"))?
        .to_owned();
    Ok((Proc(child), url))
}

fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

/// What wrk measured.
struct Wrk {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn wrk(url: &str, script: &Path, args: &Args, seconds: u64) -> anyhow::Result<Wrk> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{}", args.connections),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let ms = |v: &str| -> f64 {
        let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
        let n: f64 = n.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            _ => f64::NAN,
        }
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(Wrk {
        requests_per_sec: field("Requests/sec:").context("no Requests/sec")?.parse()?,
        p50_ms: ms(field("50%").context("no p50")?),
        p99_ms: ms(field("99%").context("no p99")?),
        errors,
    })
}

/// A bare axum server answering every `GET /v1/{ns}/keys/{*key}` with the
/// same 100 bytes: the ceiling of what any handler could do.
fn bare_axum(value: Vec<u8>, addr: &str) -> anyhow::Result<(String, std::thread::JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}", listener.local_addr()?);
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let value = axum::body::Bytes::from(value);
            let app = axum::Router::new().route(
                "/v1/{ns}/keys/{*key}",
                axum::routing::get(move || {
                    let value = value.clone();
                    async move { value }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok((url, handle))
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    ns: &str,
    keys: u64,
    value: &str,
) -> anyhow::Result<()> {
    let mut start = 0;
    while start < keys {
        let end = (start + 1000).min(keys);
        let entries: Vec<_> = (start..end)
            .map(|i| json!({"key": format!("k{i}"), "value": value}))
            .collect();
        let response = client
            .post(format!("{url}/v1/{ns}/mset"))
            .json(&json!({"entries": entries}))
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("mset: {}: {}", response.status(), response.text().await?);
        }
        start = end;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = &args.serve_bare {
        let (url, server) = bare_axum(vec![b'x'; args.value_bytes], addr)?;
        println!("bare axum handler on {url}");
        server
            .join()
            .map_err(|_| anyhow::anyhow!("the bare server panicked"))?;
        return Ok(());
    }
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = tempfile::tempdir_in(&base)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    // A JSON string of value_bytes characters: the stored value is the
    // JSON text, 2 bytes of quotes more.
    let value = "x".repeat(args.value_bytes.saturating_sub(2));

    let run = Run {
        args: &args,
        work: work.path(),
        runtime: &runtime,
        client: &client,
        value: &value,
    };
    if !args.no_throughput {
        throughput(&run)?;
    }
    if args.no_memory {
        return Ok(());
    }
    memory(&run)
}

/// What both measurements share.
struct Run<'a> {
    args: &'a Args,
    work: &'a Path,
    runtime: &'a tokio::runtime::Runtime,
    client: &'a reqwest::Client,
    /// The JSON string stored under every key.
    value: &'a str,
}

fn throughput(run: &Run<'_>) -> anyhow::Result<()> {
    let Run {
        args,
        work,
        runtime,
        client,
        value,
    } = *run;
    println!(
        "# strata serve vs a bare axum handler: GET hits, wrk -t1 -c{} -d{}s, 1,000 keys",
        args.connections, args.seconds
    );
    let dir = work.join("throughput");
    std::fs::create_dir_all(&dir)?;
    let (_server, url) = serve(&dir, "[namespaces.bench]\n")?;
    runtime.block_on(load(client, &url, "bench", 1000, value))?;
    let script = work.join("rotate.lua");
    std::fs::write(
        &script,
        "counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", \"/v1/bench/keys/k\" .. (counter % 1000))\nend\n",
    )?;
    let (bare_url, _bare) = bare_axum(vec![b'x'; args.value_bytes], "127.0.0.1:0")?;
    // Warm both for 2 s, then measure each in turn.
    wrk(&url, &script, args, 2)?;
    wrk(&bare_url, &script, args, 2)?;
    let strata = wrk(&url, &script, args, args.seconds)?;
    let bare = wrk(&bare_url, &script, args, args.seconds)?;
    if strata.errors > 0 || bare.errors > 0 {
        bail!(
            "non-2xx responses: strata {}, bare {}",
            strata.errors,
            bare.errors
        );
    }
    println!("| server | requests/s | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    for (name, w) in [
        ("strata serve (GET /v1/bench/keys/k*)", &strata),
        ("bare axum, constant 100 B", &bare),
    ] {
        println!(
            "| {name} | {:.0} | {:.3} ms | {:.3} ms |",
            w.requests_per_sec, w.p50_ms, w.p99_ms
        );
    }
    println!(
        "ratio strata / bare: {:.2} (target >= 0.70); strata p99 {:.3} ms (target <= 5 ms)\n",
        strata.requests_per_sec / bare.requests_per_sec,
        strata.p99_ms
    );
    Ok(())
}

fn memory(run: &Run<'_>) -> anyhow::Result<()> {
    let Run {
        args,
        work,
        runtime,
        client,
        value,
    } = *run;
    println!(
        "# memory with {} keys of {}-byte values",
        args.keys, args.value_bytes
    );
    println!("| process | RSS before | RSS after | bytes per key |");
    println!("|---|---:|---:|---:|");
    let n = args.keys;
    let limits = format!("max_entries = {}\nmax_memory = \"8GiB\"\n", n * 2);
    for (name, disk) in [
        ("strata serve, memory tier only", false),
        ("strata serve, memory + disk tier", true),
    ] {
        let dir = work.join(format!("memory-{disk}"));
        std::fs::create_dir_all(&dir)?;
        let config = format!(
            "[namespaces.bench]\n{limits}disk = {disk}\n{}\n",
            args.namespace_extra
        );
        let (server, url) = serve(&dir, &config)?;
        let pid = server.0.id();
        std::thread::sleep(Duration::from_millis(300));
        let before = rss_bytes(pid)?;
        let started = Instant::now();
        runtime.block_on(load(client, &url, "bench", n, value))?;
        let took = started.elapsed();
        std::thread::sleep(Duration::from_secs(1));
        let after = rss_bytes(pid)?;
        let stats: serde_json::Value = runtime.block_on(async {
            client
                .get(format!("{url}/v1/bench/memory"))
                .send()
                .await?
                .json()
                .await
        })?;
        if stats["entries"] != json!(n) {
            bail!(
                "{name}: expected {n} entries in memory, the server says {}",
                stats["entries"]
            );
        }
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.0} | (loaded in {:.1} s)",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            after.saturating_sub(before) as f64 / n as f64,
            took.as_secs_f64()
        );
    }
    let redis_dir = work.join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let redis = RedisProcess::start(&redis_dir)?;
    let info = |field: &str| -> anyhow::Result<u64> {
        let out = Command::new("redis-cli")
            .args(["-p", &redis.port().to_string(), "info", "memory"])
            .output()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no {field} in INFO"))
    };
    let before = info("used_memory_rss")?;
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        let mut stdin = std::io::BufWriter::new(pipe.stdin.take().context("stdin")?);
        let raw = "x".repeat(args.value_bytes);
        for i in 0..n {
            let key = format!("k{i}");
            write!(
                stdin,
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{raw}\r\n",
                key.len(),
                raw.len()
            )?;
        }
    }
    if !pipe.wait()?.success() {
        bail!("redis-cli --pipe failed");
    }
    std::thread::sleep(Duration::from_secs(1));
    let after = info("used_memory_rss")?;
    println!(
        "| redis-server ({}) | {:.1} MiB | {:.1} MiB | {:.0} |",
        String::from_utf8_lossy(
            &Command::new("redis-server")
                .arg("--version")
                .output()?
                .stdout
        )
        .split_whitespace()
        .nth(2)
        .unwrap_or("?"),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        after.saturating_sub(before) as f64 / n as f64
    );
    Ok(())
}
