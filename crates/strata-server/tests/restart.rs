//! Graceful shutdown: requests in flight finish, queued writes are flushed,
//! disk tiers close; a restart on the same data directory serves the same
//! data.

mod support;

use reqwest::StatusCode;
use serde_json::json;
use strata_server::config::WritePolicySetting;
use support::{TestServer, config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_what_was_acknowledged_before_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Write-back acknowledges from memory: only a clean shutdown's flush
    // puts these on disk.
    cfg.namespace_defaults.write_policy = WritePolicySetting::WriteBack;
    let s = TestServer::start(cfg.clone()).await;
    for i in 0..200 {
        s.put("default", &format!("k{i}"), &format!("v{i}")).await;
    }
    s.put("orders", "o1", "first order").await;
    s.post_json(
        "/v1/default/set",
        &json!({"key": "json", "value": {"a": [1, 2]}, "tags": ["t"], "ttl": "1h"}),
    )
    .await;
    s.stop().await.expect("a clean shutdown");

    let s = TestServer::start(cfg).await;
    for i in (0..200).step_by(7) {
        assert_eq!(
            s.value("default", &format!("k{i}")).await,
            Some(format!("v{i}")),
            "k{i}"
        );
    }
    assert_eq!(
        s.value("orders", "o1").await.as_deref(),
        Some("first order"),
        "namespaces created on demand reopen"
    );
    let response = s
        .client
        .get(s.at("/v1/default/keys/json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-strata-tags"], "t");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.text().await.unwrap(), r#"{"a":[1,2]}"#);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(config(dir.path())).await;
    let request = {
        let client = s.client.clone();
        let url = s.at("/v1/default/benchmark");
        // The probe below holds the benchmark slot for a moment too, so
        // this request may arrive while the probe runs and be refused: it
        // retries until it holds the slot itself.
        tokio::spawn(async move {
            let body = json!({"ops": 2_000_000});
            support::post_until_not(&client, &url, &body, StatusCode::CONFLICT).await
        })
    };
    // Wait until the benchmark holds the server (the only other holder of
    // the slot is this probe, which runs one at a time), then shut down.
    support::eventually("the request to be in flight", || async {
        let response = s
            .client
            .post(s.at("/v1/default/benchmark"))
            .json(&json!({"ops": 1}))
            .send()
            .await
            .unwrap();
        (response.status() == StatusCode::CONFLICT).then_some(())
    })
    .await;
    s.stop().await.unwrap();
    let response = request
        .await
        .unwrap()
        .expect("the request in flight got its answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ops"], 2_000_000);
}
