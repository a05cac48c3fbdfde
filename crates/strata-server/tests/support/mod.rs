//! An in-process server on port 0 for the integration tests, and helpers
//! for talking to it.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use strata_server::config::{Config, Profile};
use strata_server::{AppState, ServeError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The development preset with its data in `dir` and a fast sampler.
pub fn config(dir: &Path) -> Config {
    let mut config = Profile::Development.preset();
    config.data_dir = dir.to_path_buf();
    config.analytics.interval = Duration::from_millis(100);
    config
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client with no token.
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    /// Starts `config` on a free loopback port.
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config).await.expect("server state");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(strata_server::run(listener, state, async {
            let _ = rx.await;
        }));
        Self {
            url,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Shuts down gracefully and returns how `run` ended.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap().await.expect("server task")
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET `path` as JSON, asserting 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.client.get(self.at(path)).send().await.unwrap();
        ok_json(response).await
    }

    /// POST `body` to `path`, asserting 200 or 201, returning the JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(self.at(path))
            .json(body)
            .send()
            .await
            .unwrap();
        ok_json(response).await
    }

    /// PUT raw `body` under `key` in `ns`, asserting 201.
    pub async fn put(&self, ns: &str, key: &str, body: &str) {
        let response = self
            .client
            .put(self.at(&format!("/v1/{ns}/keys/{key}")))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
    }

    /// The raw value of `key`, or `None` on 404.
    pub async fn value(&self, ns: &str, key: &str) -> Option<String> {
        let response = self
            .client
            .get(self.at(&format!("/v1/{ns}/keys/{key}")))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => Some(response.text().await.unwrap()),
            StatusCode::NOT_FOUND => None,
            other => panic!("GET {key}: {other}: {}", response.text().await.unwrap()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The JSON of a 2xx response; panics with the body otherwise.
pub async fn ok_json(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Asserts `response` is an API error with `status` and `code`; returns
/// its message.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    let got = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], code, "body: {text}");
    let message = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

/// Posts `body` to `url` until the answer is not `busy`, 5 ms apart: for
/// a slow request that a test's own probe may hold the server against.
pub async fn post_until_not(
    client: &Client,
    url: &str,
    body: &Value,
    busy: StatusCode,
) -> reqwest::Result<Response> {
    loop {
        match client.post(url).json(body).send().await {
            Ok(r) if r.status() == busy => tokio::time::sleep(Duration::from_millis(5)).await,
            other => return other,
        }
    }
}

/// Polls `check` every 20 ms until it returns `Some`, failing after 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
