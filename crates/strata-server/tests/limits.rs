//! Limits and bad input: each has a defined 4xx/5xx JSON answer, nothing
//! panics, and nothing already stored is lost.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use support::{TestServer, config, expect_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_keys_values_bodies_and_batches_get_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_key_bytes = 32;
    cfg.limits.max_value_bytes = 1000;
    cfg.limits.max_body_bytes = 4000;
    cfg.limits.max_batch = 3;
    let s = TestServer::start(cfg).await;
    s.put("default", "kept", "old").await;

    let long_key = "k".repeat(33);
    let response = s
        .client
        .put(s.at(&format!("/v1/default/keys/{long_key}")))
        .body("v")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("max_key_bytes"), "{message}");
    let response = s
        .client
        .get(s.at(&format!("/v1/default/keys/{long_key}")))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let response = s
        .client
        .put(s.at("/v1/default/keys/kept"))
        .body("x".repeat(1001))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("max_value_bytes"), "{message}");
    assert_eq!(
        s.value("default", "kept").await.as_deref(),
        Some("old"),
        "a refused write changes nothing"
    );

    let response = s
        .client
        .post(s.at("/v1/default/set"))
        .json(&json!({"key": "kept", "value": "y".repeat(1200)}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let response = s
        .client
        .put(s.at("/v1/default/keys/big"))
        .body("z".repeat(5000))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let response = s
        .client
        .post(s.at("/v1/default/import"))
        .body("z".repeat(5000))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let response = s
        .client
        .post(s.at("/v1/default/mget"))
        .json(&json!({"keys": ["a", "b", "c", "d"]}))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    assert!(message.contains("max_batch"), "{message}");
    assert_eq!(s.value("default", "kept").await.as_deref(), Some("old"));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_4xx_that_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(config(dir.path())).await;
    let post = |path: &str, body: &str| {
        s.client
            .post(s.at(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    let message = expect_error(
        post("/v1/default/set", "{\"key\":").send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("JSON"), "{message}");
    let message = expect_error(
        post("/v1/default/set", r#"{"key":"k","value":1,"ttl":"soon"}"#)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    assert!(message.contains("ttl"), "{message}");
    let message = expect_error(
        post("/v1/default/set", r#"{"key":"k","value":1,"colour":"red"}"#)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable",
    )
    .await;
    assert!(message.contains("colour"), "{message}");
    let response = s
        .client
        .post(s.at("/v1/default/set"))
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    for (query, needle) in [
        ("ttl=-5", "ttl"),
        ("ttl=0", "positive"),
        ("priority=high", "priority"),
        ("colour=red", "unknown query parameter"),
    ] {
        let response = s
            .client
            .put(s.at(&format!("/v1/default/keys/k?{query}")))
            .body("v")
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains(needle), "{query}: {message}");
    }
    let response = s
        .client
        .put(s.at("/v1/default/keys/k?tags=a%0Ab"))
        .body("v")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    let response = s
        .client
        .get(s.at("/v1/default/export?colour=red"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;

    let response = s.client.get(s.at("/v2/nothing")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = s
        .client
        .patch(s.at("/v1/default/keys/k"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("allow"));
    expect_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = s
        .client
        .get(s.at("/v1/no%2Fslash/stats"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_namespace").await;
    // The server is still fine.
    assert_eq!(
        s.client.get(s.at("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_deadline_gets_503_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.request_timeout = Duration::from_millis(20);
    let s = TestServer::start(cfg).await;
    // Five million cache operations take far longer than 20 ms.
    let response = s
        .client
        .post(s.at("/v1/default/benchmark"))
        .json(&json!({"ops": 5_000_000}))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::SERVICE_UNAVAILABLE, "timeout").await;
    assert!(message.contains("request_timeout"), "{message}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_limit_get_503_overloaded_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_concurrent_requests = 1;
    let s = TestServer::start(cfg).await;
    // One slow request holds the only slot...
    let slow = {
        let client = s.client.clone();
        let url = s.at("/v1/default/benchmark");
        // The probe below takes the slot for a moment too: a slow request
        // that arrives meanwhile is refused, and tries again.
        tokio::spawn(async move {
            let body = json!({"ops": 1_500_000});
            support::post_until_not(&client, &url, &body, StatusCode::SERVICE_UNAVAILABLE)
                .await
                .unwrap()
                .status()
        })
    };
    // ...so another is refused while it runs.
    let refused = support::eventually("a request refused for concurrency", || async {
        let response = s.client.get(s.at("/health")).send().await.unwrap();
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await;
    let message = expect_error(refused, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    assert!(message.contains("max_concurrent_requests"), "{message}");
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    assert_eq!(
        s.client.get(s.at("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.stop().await.unwrap();
}
