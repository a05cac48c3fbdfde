//! A headless Chromium driven over the Chrome DevTools Protocol (CDP), for
//! the dashboard's end-to-end test: one browser per test, a fresh profile,
//! pages kept open and read as often as the test likes.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Where Debian's `chromium` package puts the browser.
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// How long any one step may take: starting the browser, a CDP answer, a
/// condition on the page. The page polls every second, so this is many
/// polls even on a loaded two-core machine.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// The browser process group; killed when dropped, whatever the exit path
/// (a failed assertion unwinds through here too).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        // Chromium forks renderer, GPU and zygote processes. They were
        // started in their own process group (see `launch`), so one signal
        // to the group ends them all; std can only signal the one child,
        // hence kill(1). Its failure is harmless: the group is gone already.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An open page: the CDP session attached to one tab.
pub(crate) struct Page {
    session: String,
}

/// A running headless Chromium and the CDP connection to it.
pub(crate) struct Browser {
    // Fields drop in order: the connection closes, then the processes are
    // killed, then their profile directory is removed. The last two are
    // held for their Drop alone.
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    _process: Process,
    _profile: TempDir,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium with a fresh profile and connects to it.
    ///
    /// # Panics
    /// When Chromium is missing (saying how to install it), does not start,
    /// or does not open its DevTools port in time.
    pub(crate) async fn launch() -> Self {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} not found: the dashboard test needs Debian's chromium; \
             run ./scripts/ensure-chromium.sh"
        );
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let log = profile.path().join("chromium.log");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                // The browser loads only our own page from loopback; its
                // sandbox cannot run as root and needs user namespaces that
                // containers often lack.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1280,1400",
                // Port 0: Chromium picks a free port and writes it to
                // DevToolsActivePort in the profile.
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("chromium's log file"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMIUM}: {e}"));
        let mut process = Process(child);
        let endpoint = devtools_endpoint(&mut process, profile.path(), &log).await;
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .unwrap_or_else(|e| panic!("connecting to Chromium at {endpoint}: {e}"));
        Self {
            socket,
            _process: process,
            _profile: profile,
            next_id: 0,
        }
    }

    /// Calls `method`, in `session`'s tab or on the browser; its result, or
    /// CDP's error message.
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            request["sessionId"] = session.into();
        }
        self.socket
            .send(Message::text(request.to_string()))
            .await
            .map_err(|e| format!("sending {method}: {e}"))?;
        let started = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(started.elapsed());
            let message = timeout(left, self.socket.next())
                .await
                .map_err(|_| format!("{method}: no answer within {DEADLINE:?}"))?
                .ok_or_else(|| format!("{method}: Chromium closed the connection"))?
                .map_err(|e| format!("{method}: {e}"))?;
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value =
                serde_json::from_str(&text).map_err(|e| format!("{method}: bad JSON: {e}"))?;
            // Events (no id) and answers to nothing we wait for are skipped.
            if answer["id"] != id {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(answer["result"].clone());
        }
    }

    /// Opens `url` in a new tab (a new tab has its own sessionStorage).
    ///
    /// # Panics
    /// When Chromium refuses.
    pub(crate) async fn open(&mut self, url: &str) -> Page {
        let target = self
            .call(None, "Target.createTarget", json!({"url": url}))
            .await
            .expect("a new tab");
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await
            .expect("a session on the new tab");
        Page {
            session: attached["sessionId"]
                .as_str()
                .expect("attachToTarget answers a sessionId")
                .to_owned(),
        }
    }

    /// The value of the JavaScript `expression` in `page`; an error while
    /// the page is still loading (no context yet) or when it throws.
    pub(crate) async fn eval(&mut self, page: &Page, expression: &str) -> Result<Value, String> {
        let params = json!({"expression": expression, "returnByValue": true});
        let result = self
            .call(Some(&page.session), "Runtime.evaluate", params)
            .await?;
        if let Some(thrown) = result.get("exceptionDetails") {
            return Err(format!("the page threw: {thrown}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Evaluates `expression` until `done` accepts its value (no reload in
    /// between: the page keeps running on its own) and returns that value.
    ///
    /// # Panics
    /// After [`DEADLINE`], with `what` and the last value seen.
    pub(crate) async fn wait_for<T>(
        &mut self,
        page: &Page,
        what: &str,
        expression: &str,
        mut done: impl FnMut(&Value) -> Option<T>,
    ) -> T {
        let started = Instant::now();
        let mut last = Err("never evaluated".to_owned());
        while started.elapsed() < DEADLINE {
            last = self.eval(page, expression).await;
            if let Some(found) = last.as_ref().ok().and_then(&mut done) {
                return found;
            }
            sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {what} within {DEADLINE:?}; last read: {last:?}");
    }

    /// A PNG of the whole of `page`.
    ///
    /// # Panics
    /// When Chromium cannot take it.
    pub(crate) async fn screenshot(&mut self, page: &Page) -> Vec<u8> {
        let params = json!({"format": "png", "captureBeyondViewport": true});
        let shot = self
            .call(Some(&page.session), "Page.captureScreenshot", params)
            .await
            .expect("a screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("the screenshot's data"))
            .expect("the screenshot is base64")
    }
}

/// Waits for Chromium to write DevToolsActivePort (the port on the first
/// line, the browser's WebSocket path on the second) and returns the URL.
async fn devtools_endpoint(process: &mut Process, profile: &Path, log: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some((port, path)) = text.split_once('\n')
            && !path.trim().is_empty()
        {
            return format!("ws://127.0.0.1:{}{}", port.trim(), path.trim());
        }
        if let Ok(Some(status)) = process.0.try_wait() {
            let output = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{CHROMIUM} exited ({status}) before opening its DevTools port:\n{output}");
        }
        sleep(Duration::from_millis(50)).await;
    }
    let output = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{CHROMIUM} did not open its DevTools port within {DEADLINE:?}:\n{output}");
}
