//! The dashboard at `/`, end to end: a server in-process on port 0, real
//! traffic over HTTP, and the page open in a real headless Chromium (driven
//! over the DevTools protocol, see `dashboard/browser.rs`) showing the
//! server's own figures, then new ones without a reload.
//!
//! Needs Debian's `chromium`: `./scripts/ensure-chromium.sh` installs it,
//! and `scripts/test.sh` runs that first. Without it the tests fail and say
//! so; they never skip.

// Beside this file rather than in tests/ itself, where cargo would take it
// for a test of its own.
#[path = "dashboard/browser.rs"]
mod browser;

use std::time::Duration;

use browser::{Browser, Page};
use serde::Deserialize;
use serde_json::Value;
use strata_server::config::{Profile, Scope, TokenConfig};
use strata_server::{AppState, ServeError};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The key the traffic reads most, so it tops the page's top keys.
const HOT_KEY: &str = "user:42:profile";

/// A server on a free loopback port, with its data in a temporary directory.
struct Server {
    base: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    _data: TempDir,
}

impl Server {
    async fn start(tokens: Vec<TokenConfig>) -> Self {
        let data = tempfile::tempdir().expect("a data directory");
        let mut config = Profile::Development.preset();
        config.data_dir = data.path().to_owned();
        // Samples every 200 ms, so the charts fill within the test's time.
        config.analytics.interval = Duration::from_millis(200);
        config.auth.tokens = tokens;
        let state = AppState::new(config).await.expect("the server state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(strata_server::run(listener, state, async {
            let _ = stop.await;
        }));
        Self {
            base,
            shutdown: Some(shutdown),
            task,
            _data: data,
        }
    }

    /// Stops the server and waits until it has closed its namespaces.
    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        tokio::time::timeout(browser::DEADLINE, &mut self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task did not panic")
            .expect("the server stopped cleanly");
    }
}

/// An HTTP client for the server, with a bearer token when given one.
struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(server: &Server, token: Option<&str>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            token: token.map(str::to_owned),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Writes a few keys to `default`, then reads `HOT_KEY` `hits` times
    /// and missing keys `misses` times.
    async fn traffic(&self, hits: usize, misses: usize) {
        self.traffic_in("default", hits, misses).await;
    }

    /// [`Client::traffic`] in namespace `ns` (created on demand).
    async fn traffic_in(&self, ns: &str, hits: usize, misses: usize) {
        for key in [HOT_KEY, "user:7:profile", "session:abc"] {
            let put = self
                .request(reqwest::Method::PUT, &format!("/v1/{ns}/keys/{key}"))
                .body(format!("value of {key}"))
                .send()
                .await
                .expect("PUT reaches the server");
            assert!(put.status().is_success(), "PUT {key}: {}", put.status());
        }
        for _ in 0..hits {
            let get = self
                .request(reqwest::Method::GET, &format!("/v1/{ns}/keys/{HOT_KEY}"))
                .send()
                .await
                .expect("GET reaches the server");
            assert_eq!(get.status(), 200, "GET {HOT_KEY}");
        }
        for i in 0..misses {
            let get = self
                .request(reqwest::Method::GET, &format!("/v1/{ns}/keys/missing:{i}"))
                .send()
                .await
                .expect("GET reaches the server");
            assert_eq!(get.status(), 404, "GET missing:{i}");
        }
    }

    /// `GET path` as JSON.
    async fn json(&self, path: &str) -> Value {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("the server answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// The server's own count of reads, hits and misses of `default`.
    async fn counts(&self) -> Counts {
        let stats = self.json("/v1/default/stats").await;
        let n = |field: &str| stats[field].as_u64().expect("a count");
        Counts {
            reads: n("reads"),
            hits: n("hits"),
            misses: n("misses"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    reads: u64,
    hits: u64,
    misses: u64,
}

/// What the test reads off the page: the `data-value` of every
/// `[data-metric]` element, the status line, the tables and charts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    status: Option<String>,
    status_text: String,
    auth_shown: bool,
    hash: String,
    metrics: std::collections::HashMap<String, String>,
    top_keys: Vec<String>,
    tiers: Vec<String>,
    namespaces: Vec<String>,
    hit_ratio_points: u64,
    ops_points: u64,
    marker: Option<String>,
}

impl Snapshot {
    fn count(&self, metric: &str) -> Option<u64> {
        self.metrics.get(metric)?.parse().ok()
    }

    fn counts(&self) -> Option<Counts> {
        Some(Counts {
            reads: self.count("reads")?,
            hits: self.count("hits")?,
            misses: self.count("misses")?,
        })
    }
}

const SNAPSHOT: &str = r#"(() => {
  const $ = (id) => document.getElementById(id);
  const rows = (id, attr) => [...document.querySelectorAll(`#${id} tr[${attr}]`)].map((r) => r.getAttribute(attr));
  const points = (id) => Number(document.querySelector(`#${id} path`)?.dataset.points ?? 0);
  const metrics = {};
  for (const el of document.querySelectorAll("[data-metric]")) metrics[el.dataset.metric] = el.dataset.value ?? "";
  return {
    status: $("status")?.dataset.state ?? null,
    statusText: $("status")?.textContent ?? "",
    authShown: $("auth") ? !$("auth").hidden : false,
    hash: location.hash,
    metrics,
    topKeys: rows("top-keys", "data-key"),
    tiers: rows("tiers", "data-tier"),
    namespaces: rows("namespaces", "data-namespace"),
    hitRatioPoints: points("chart-hit-ratio"),
    opsPoints: points("chart-ops"),
    marker: window.strataTestMarker ?? null,
  };
})()"#;

/// Reads the page until `done` accepts what it shows.
async fn wait_until(
    browser: &mut Browser,
    page: &Page,
    what: &str,
    mut done: impl FnMut(&Snapshot) -> bool,
) -> Snapshot {
    browser
        .wait_for(page, what, SNAPSHOT, |value| {
            let snapshot: Snapshot = serde_json::from_value(value.clone()).ok()?;
            done(&snapshot).then_some(snapshot)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_live_figures_and_updates_itself() {
    let server = Server::start(Vec::new()).await;
    let client = Client::new(&server, None);
    // 640 reads of one key: the top-keys sketch counts one read in 64, so
    // the hot key is all but certain to be counted (and the only key read
    // more than once).
    client.traffic(640, 25).await;
    let before = client.counts().await;
    assert_eq!(before.hits, 640);
    assert_eq!(before.misses, 25);
    let analytics = client.json("/v1/default/analytics").await;
    assert_eq!(
        analytics["top_keys"][0]["key"], HOT_KEY,
        "the server's own top keys: {analytics}"
    );

    let mut browser = Browser::launch().await;
    let page = browser.open(&format!("{}/", server.base)).await;
    let shown = wait_until(&mut browser, &page, "the server's counts", |s| {
        s.status.as_deref() == Some("ok")
            && s.counts() == Some(before)
            && s.top_keys.first().map(String::as_str) == Some(HOT_KEY)
            && s.ops_points >= 2
    })
    .await;
    assert_eq!(shown.tiers, ["memory", "disk"], "{shown:?}");
    assert!(shown.count("entries").is_some_and(|n| n >= 3), "{shown:?}");
    assert!(shown.hit_ratio_points >= 1, "{shown:?}");
    let ratio: f64 = shown.metrics["hit_ratio"].parse().expect("a hit ratio");
    assert!((ratio - 640.0 / 665.0).abs() < 1e-9, "{shown:?}");

    // A mark on this page's window: a reload would drop it, so seeing it
    // again with new figures proves the page updated itself.
    browser
        .eval(&page, "window.strataTestMarker = 'same page'")
        .await
        .expect("the page runs script");
    client.traffic(100, 7).await;
    let after = client.counts().await;
    assert_eq!((after.hits, after.misses), (740, 32));
    let updated = wait_until(&mut browser, &page, "the new counts and their rate", |s| {
        // The rate averages the last 5 s, in which the new traffic ran.
        let rate = s
            .metrics
            .get("ops_per_sec")
            .and_then(|r| r.parse::<f64>().ok());
        s.counts() == Some(after) && rate.is_some_and(|r| r > 0.0)
    })
    .await;
    assert_eq!(
        updated.marker.as_deref(),
        Some("same page"),
        "the page reloaded"
    );

    // A second namespace appears in the list by itself; the screenshot
    // shows both.
    client.traffic_in("sessions", 5, 2).await;
    wait_until(&mut browser, &page, "the new namespace", |s| {
        let mut names = s.namespaces.clone();
        names.sort();
        names == ["default", "sessions"]
    })
    .await;

    let shot = browser.screenshot(&page).await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    let path = dir.join("dashboard.png");
    std::fs::write(&path, &shot).expect("the screenshot is saved");
    println!("dashboard screenshot: {}", path.display());
    assert!(
        shot.starts_with(b"\x89PNG\r\n\x1a\n") && shot.len() > 10_000,
        "not a PNG of a drawn page ({} bytes)",
        shot.len()
    );

    // Choosing it shows its own figures.
    let choose = "const s = document.getElementById('ns'); s.value = 'sessions'; \
                  s.dispatchEvent(new Event('change')); true";
    browser
        .eval(&page, choose)
        .await
        .expect("the selector takes a choice");
    let sessions = wait_until(&mut browser, &page, "the chosen namespace", |s| {
        s.status_text.contains("sessions") && s.count("hits") == Some(5)
    })
    .await;
    assert_eq!(sessions.count("misses"), Some(2), "{sessions:?}");

    // With the server gone the page says so instead of freezing.
    server.stop().await;
    let down = wait_until(&mut browser, &page, "the server is unreachable", |s| {
        s.status.as_deref() == Some("error")
    })
    .await;
    assert!(down.status_text.contains("unreachable"), "{down:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_asks_for_a_token_and_takes_one_from_the_fragment() {
    const TOKEN: &str = "dashboard-test-token-0123456789";
    let server = Server::start(vec![TokenConfig {
        name: "dashboard-test".into(),
        token: Some(TOKEN.into()),
        token_env: None,
        // Write covers read, and lets the test make traffic with it.
        scopes: vec![Scope::Write],
    }])
    .await;
    let client = Client::new(&server, Some(TOKEN));
    client.traffic(12, 3).await;
    let counts = client.counts().await;

    let mut browser = Browser::launch().await;
    let page = browser.open(&format!("{}/", server.base)).await;
    wait_until(&mut browser, &page, "the token form", |s| {
        s.auth_shown && s.status.as_deref() == Some("auth")
    })
    .await;
    let entered = format!(
        "document.getElementById('token').value = '{TOKEN}'; \
         document.getElementById('auth').requestSubmit(); true"
    );
    browser
        .eval(&page, &entered)
        .await
        .expect("the form takes input");
    let shown = wait_until(&mut browser, &page, "figures after the token", |s| {
        s.status.as_deref() == Some("ok") && s.counts() == Some(counts)
    })
    .await;
    assert!(!shown.auth_shown, "{shown:?}");

    // A new tab has its own sessionStorage: the fragment alone lets it in,
    // and the token leaves the address bar.
    let tab = browser
        .open(&format!("{}/#token={TOKEN}", server.base))
        .await;
    let shown = wait_until(
        &mut browser,
        &tab,
        "figures with the fragment's token",
        |s| s.status.as_deref() == Some("ok") && s.counts() == Some(counts),
    )
    .await;
    assert_eq!(shown.hash, "", "the token stays in the URL");
    server.stop().await;
}
