//! `strata serve` and the client commands, as a user runs them: the built
//! binary, a config file, `STRATA_*` variables, SIGTERM, a restart.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `strata serve` process; killed if the test fails before stopping it.
struct Served {
    child: Child,
    url: String,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Served {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("strata serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, url, stdout }
    }

    /// SIGTERM, then the exit status and the rest of stdout.
    fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                while self.stdout.read_line(&mut rest).unwrap_or(0) > 0 {}
                return (status.success(), rest);
            }
            assert!(
                Instant::now() < deadline,
                "strata serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(url: &str, token: Option<&str>, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    command
        .args(args)
        .env("STRATA_SERVER", url)
        .env_remove("STRATA_TOKEN");
    if let Some(t) = token {
        command.env("STRATA_TOKEN", t);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn data_dir(dir: &Path) -> String {
    dir.join("data").to_string_lossy().into_owned()
}

#[test]
fn serve_then_get_set_del_invalidate_stats_then_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir(dir.path());
    let served = Served::start(&["--listen", "127.0.0.1:0", "--data-dir", &data], &[]);
    let url = served.url.clone();

    let (ok, out, err) = client(
        &url,
        None,
        &[
            "set",
            "greeting",
            "hello world",
            "--ttl",
            "1h",
            "--tags",
            "demo",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("stored greeting (etag "), "{out}");
    let (ok, out, _) = client(&url, None, &["get", "greeting"]);
    assert!(ok);
    assert_eq!(out, "hello world");
    let (ok, _, err) = client(&url, None, &["set", "doc", r#"{"a": [1, 2]}"#, "--json"]);
    assert!(ok, "{err}");
    assert_eq!(client(&url, None, &["get", "doc"]).1, r#"{"a":[1,2]}"#);
    let (ok, _, err) = client(&url, None, &["set", "doc", "{not json", "--json"]);
    assert!(!ok);
    assert!(err.contains("not valid JSON"), "{err}");

    let (ok, out, _) = client(&url, None, &["stats"]);
    assert!(ok);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["hits"], 2);

    let (ok, out, _) = client(&url, None, &["del", "doc"]);
    assert!(ok);
    assert_eq!(out.trim(), "deleted doc");
    let (ok, _, err) = client(&url, None, &["get", "doc"]);
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");
    client(&url, None, &["set", "t1", "x", "--tags", "grp"]);
    let (ok, out, _) = client(
        &url,
        None,
        &["invalidate", "--tag", "grp", "--key", "nothing"],
    );
    assert!(ok);
    let counts: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(counts["tags"], 1);
    assert_eq!(counts["keys"], 0);

    let (ok, rest) = served.terminate();
    assert!(ok, "exit status after SIGTERM");
    assert!(rest.contains("Strata stopped"), "{rest}");

    // The same data after a restart.
    let served = Served::start(&["--listen", "127.0.0.1:0", "--data-dir", &data], &[]);
    let (ok, out, err) = client(&served.url, None, &["get", "greeting"]);
    assert!(ok, "{err}");
    assert_eq!(out, "hello world");
    let (ok, _) = served.terminate();
    assert!(ok);
}

#[test]
fn the_client_says_when_the_server_is_unreachable_or_refuses() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, _, err) = client(&format!("http://127.0.0.1:{port}"), None, &["get", "k"]);
    assert!(!ok);
    assert!(err.contains("cannot reach the Strata server"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    std::fs::write(
        &config,
        r#"
listen = "127.0.0.1:0"
[[auth.tokens]]
name = "reader"
token = "reader-token-0123456789"
scopes = ["read"]
"#,
    )
    .unwrap();
    let data = data_dir(dir.path());
    let served = Served::start(
        &["--config", config.to_str().unwrap(), "--data-dir", &data],
        &[],
    );
    let (ok, _, err) = client(&served.url, None, &["stats"]);
    assert!(!ok);
    assert!(
        err.contains("the server refused") && err.contains("--token"),
        "{err}"
    );
    let (ok, _, err) = client(
        &served.url,
        Some("reader-token-0123456789"),
        &["set", "k", "v"],
    );
    assert!(!ok);
    assert!(err.contains("write scope"), "{err}");
    let (ok, _, err) = client(&served.url, Some("reader-token-0123456789"), &["stats"]);
    assert!(ok, "{err}");
    assert!(served.terminate().0);
}

#[test]
fn configuration_layers_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strata.toml");
    // The file asks for a port; the environment overrides it with port 0
    // and sets a limit; the flag beats the environment's data dir.
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:1\"\ndata_dir = \"from-file\"\n[limits]\nmax_key_bytes = 100\n",
    )
    .unwrap();
    let data = data_dir(dir.path());
    let served = Served::start(
        &["--config", config.to_str().unwrap(), "--data-dir", &data],
        &[
            ("STRATA_LISTEN", "127.0.0.1:0"),
            ("STRATA_LIMITS__MAX_KEY_BYTES", "8"),
            ("STRATA_DATA_DIR", "from-env"),
        ],
    );
    let (ok, _, err) = client(&served.url, None, &["set", "123456789", "v"]);
    assert!(!ok, "the environment's key limit (8) applies");
    assert!(err.contains("max_key_bytes = 8"), "{err}");
    assert!(client(&served.url, None, &["set", "12345678", "v"]).0);
    assert!(
        Path::new(&data).join("namespaces/default").is_dir(),
        "the flag's data dir is used"
    );
    assert!(served.terminate().0);

    // A misspelt key is an error, not silently ignored; so is an unsafe
    // address without tokens.
    std::fs::write(&config, "[limits]\nmax_key_byte = 100\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("max_key_byte"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--insecure"), "{err}");
}
