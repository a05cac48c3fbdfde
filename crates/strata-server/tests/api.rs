//! Every endpoint over a real socket: raw and JSON values, batches,
//! invalidation, figures, bulk moves, admin, health, metrics.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{TestServer, config, eventually, expect_error, ok_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_values_round_trip_with_their_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let url = server.at("/v1/default/keys/users/42?ttl=60&tags=users,eu&priority=3&meta.owner=ops");
    let response = server
        .client
        .put(&url)
        .header("content-type", "text/csv")
        .body("id,name\n42,Ada\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let stored = ok_json(response).await;
    assert_eq!(stored["key"], "users/42", "keys may hold slashes");
    let etag = stored["etag"].as_str().unwrap().to_owned();
    assert!(stored["ttl_ms"].as_u64().unwrap() > 59_000);

    let response = server
        .client
        .get(server.at("/v1/default/keys/users/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv");
    assert_eq!(headers["etag"].to_str().unwrap(), format!("\"{etag}\""));
    let ttl: u64 = headers["x-strata-ttl"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&ttl), "ttl left {ttl}");
    assert_eq!(headers["x-strata-tags"], "users,eu");
    assert_eq!(headers["x-strata-priority"], "3");
    assert_eq!(headers["x-strata-meta-owner"], "ops");
    assert_eq!(response.text().await.unwrap(), "id,name\n42,Ada\n");

    // A client holding the ETag gets 304 and no body.
    let response = server
        .client
        .get(server.at("/v1/default/keys/users/42"))
        .header("if-none-match", format!("W/\"other\", \"{etag}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert!(response.text().await.unwrap().is_empty());

    let response = server
        .client
        .head(server.at("/v1/default/keys/users/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], "15");
    assert!(response.text().await.unwrap().is_empty());

    // Headers work as well as query parameters.
    let response = server
        .client
        .put(server.at("/v1/default/keys/h"))
        .header("x-strata-ttl", "1h")
        .header("x-strata-tags", "a")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = server
        .client
        .get(server.at("/v1/default/keys/h"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-strata-tags"], "a");
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );

    let deleted = ok_json(
        server
            .client
            .delete(server.at("/v1/default/keys/users/42"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deleted["deleted"], true);
    let response = server
        .client
        .get(server.at("/v1/default/keys/users/42"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "key_not_found").await;
    let deleted = ok_json(
        server
            .client
            .delete(server.at("/v1/default/keys/users/42"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deleted["deleted"], false);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_after_their_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let stored = server
        .post_json(
            "/v1/default/set",
            &json!({"key": "brief", "value": 1, "ttl": "300ms"}),
        )
        .await;
    assert!(stored["ttl_ms"].as_u64().unwrap() <= 300);
    assert_eq!(server.value("default", "brief").await.as_deref(), Some("1"));
    eventually("the entry to expire", || async {
        server
            .value("default", "brief")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_values_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    let value = json!({"name": "Ada", "langs": ["en", "fr"], "n": 1.5});
    server
        .post_json(
            "/v1/default/set",
            &json!({"key": "p:1", "value": value, "tags": ["people"], "metadata": {"src": "test"}}),
        )
        .await;
    let response = server
        .client
        .get(server.at("/v1/default/keys/p:1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), value);

    let stored = server
        .post_json(
            "/v1/default/mset",
            &json!({"entries": [{"key": "p:2", "value": 2}, {"key": "p:3", "value": "three", "ttl": 60}]}),
        )
        .await;
    assert_eq!(stored["stored"], 2);
    assert_eq!(stored["failed"], json!([]));
    server.put("default", "raw", "bytes").await;

    let got = server
        .post_json(
            "/v1/default/mget",
            &json!({"keys": ["p:1", "missing", "p:3", "raw"]}),
        )
        .await;
    assert_eq!(got["found"], 3);
    let entries = got["entries"].as_array().unwrap();
    assert_eq!(entries[0]["value"], value);
    assert_eq!(entries[0]["tags"], json!(["people"]));
    assert_eq!(entries[0]["metadata"]["src"], "test");
    assert_eq!(entries[1], Value::Null);
    assert_eq!(entries[2]["value"], "three");
    assert!(entries[2]["ttl_ms"].as_u64().unwrap() <= 60_000);
    assert_eq!(
        entries[3]["value_base64"], "Ynl0ZXM=",
        "raw values travel as base64"
    );

    // One bad entry fails the batch before anything is stored.
    let response = server
        .client
        .post(server.at("/v1/default/mset"))
        .json(
            &json!({"entries": [{"key": "ok", "value": 1}, {"key": "bad", "value": 1, "ttl": 0}]}),
        )
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").await;
    assert!(message.contains("ttl"), "{message}");
    assert_eq!(server.value("default", "ok").await, None);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidation_by_key_tag_prefix_and_pattern_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    for (key, tags) in [
        ("k1", "t"),
        ("k2", "t"),
        ("k3", "u"),
        ("user:1", "u"),
        ("user:2", "u"),
        ("order-a", "u"),
        ("order-b", "u"),
        ("keep", "u"),
    ] {
        let response = server
            .client
            .put(server.at(&format!("/v1/default/keys/{key}?tags={tags}")))
            .body("v")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let counts = server
        .post_json(
            "/v1/default/invalidate",
            &json!({"keys": ["k3", "nope"], "tags": ["t"], "prefix": "user:", "pattern": "order-?"}),
        )
        .await;
    assert_eq!(
        counts,
        json!({"keys": 1, "tags": 2, "prefix": 2, "pattern": 2})
    );
    for gone in ["k1", "k2", "k3", "user:1", "user:2", "order-a", "order-b"] {
        assert_eq!(server.value("default", gone).await, None, "{gone}");
    }
    assert_eq!(server.value("default", "keep").await.as_deref(), Some("v"));

    let response = server
        .client
        .post(server.at("/v1/default/invalidate"))
        .json(&json!({"pattern": "[unclosed"}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;

    let cleared = server.post_json("/v1/default/clear", &json!(null)).await;
    assert_eq!(cleared["removed"], 1);
    assert_eq!(server.value("default", "keep").await, None);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_analytics_and_memory_report_the_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    server.put("default", "hot", "h").await;
    server.put("default", "cold", "c").await;
    // Hot keys are sampled (one read in 64), so read it often: at 300
    // reads, no sample of it at all was a one-in-a-hundred chance.
    for _ in 0..1_000 {
        assert!(server.value("default", "hot").await.is_some());
    }
    for i in 0..5 {
        assert!(
            server
                .value("default", &format!("absent-{i}"))
                .await
                .is_none()
        );
    }
    let stats = server.get_json("/v1/default/stats").await;
    assert_eq!(stats["reads"], 1_005);
    assert_eq!(stats["hits"], 1_000);
    assert_eq!(stats["misses"], 5);
    assert_eq!(stats["inserts"], 2);
    assert_eq!(stats["policy"], "adaptive");
    let tiers: Vec<&str> = stats["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, ["memory", "disk"]);
    assert_eq!(
        stats["tiers"][1]["misses"], 5,
        "each memory miss asked the disk tier"
    );

    let analytics = eventually("a sample with the reads", || async {
        let a = server.get_json("/v1/default/analytics").await;
        let reads: u64 = a["samples"]
            .as_array()?
            .iter()
            .map(|s| s["reads"].as_u64().unwrap())
            .sum();
        (reads > 0).then_some(a)
    })
    .await;
    assert_eq!(analytics["top_keys"][0]["key"], "hot");
    assert_eq!(analytics["hit_ratio"], 1_000.0 / 1_005.0);
    assert_eq!(analytics["interval_ms"], 100);
    assert!(
        analytics["latency"][0]["latency"]["samples"]
            .as_u64()
            .unwrap()
            > 0
    );

    let memory = server.get_json("/v1/default/memory").await;
    assert_eq!(memory["entries"], 2);
    assert!(memory["weight"].as_u64().unwrap() > 0);
    assert_eq!(memory["max_entries"], 1_000_000);
    assert!(memory["utilisation"].as_f64().unwrap() > 0.0);
    assert!(memory["disk"]["capacity_bytes"].as_u64().unwrap() > 0);

    let list = server.get_json("/v1/namespaces").await;
    assert_eq!(list[0]["name"], "default");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_export_and_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    server.put("default", "existing", "newer").await;
    let warmed = server
        .post_json(
            "/v1/default/warm-up",
            &json!({"entries": [
                {"key": "existing", "value": "older"},
                {"key": "cfg:a", "value": {"x": 1}, "tags": ["cfg"], "ttl": "1h"},
                {"key": "cfg:b", "value": [1, 2]}
            ], "keys": ["existing", "never-stored"]}),
        )
        .await;
    assert_eq!(
        warmed,
        json!({"loaded": 2, "skipped": 1, "promoted": 1, "missing": 1})
    );
    assert_eq!(
        server.value("default", "existing").await.as_deref(),
        Some("newer")
    );

    let response = server
        .client
        .get(server.at("/v1/default/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let exported = response.text().await.unwrap();
    let records: Vec<Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    let only_cfg = server
        .client
        .get(server.at("/v1/default/export?prefix=cfg:&tag=cfg"))
        .send()
        .await
        .unwrap();
    assert_eq!(only_cfg.text().await.unwrap().lines().count(), 1);

    server.post_json("/v1/default/clear", &json!(null)).await;
    assert_eq!(server.value("default", "cfg:a").await, None);
    let body = format!(
        "{exported}not json\n{{\"key\": \"twice\", \"value\": 1, \"value_base64\": \"AA==\"}}\n"
    );
    let imported = ok_json(
        server
            .client
            .post(server.at("/v1/default/import"))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(imported["imported"], 3);
    assert_eq!(imported["failed"], 2);
    assert_eq!(imported["errors"][0]["line"], 4);
    assert_eq!(imported["errors"][1]["line"], 5);
    assert_eq!(
        server.value("default", "existing").await.as_deref(),
        Some("newer")
    );
    assert_eq!(
        server.value("default", "cfg:b").await.as_deref(),
        Some("[1,2]")
    );
    let response = server
        .client
        .get(server.at("/v1/default/keys/cfg:a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-strata-tags"], "cfg");
    let ttl: u64 = response.headers()["x-strata-ttl"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ttl > 3500 && ttl <= 3600,
        "the TTL survives the round trip: {ttl}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_benchmark_and_run_time_config() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    server.put("default", "survivor", "on disk").await;
    let bench = server
        .post_json(
            "/v1/default/benchmark",
            &json!({"ops": 20000, "keys": 1000, "capacity": 100}),
        )
        .await;
    assert_eq!(bench["policy"], "adaptive");
    assert_eq!(bench["ops"], 20000);
    assert!(bench["ops_per_sec"].as_f64().unwrap() > 0.0);
    let hit_ratio = bench["hit_ratio"].as_f64().unwrap();
    assert!(hit_ratio > 0.0 && hit_ratio < 1.0, "{hit_ratio}");
    // The scratch cache is not the namespace's.
    assert_eq!(server.get_json("/v1/default/memory").await["entries"], 1);
    let response = server
        .client
        .post(server.at("/v1/default/benchmark"))
        .json(&json!({"ops": 0}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;

    let changed = ok_json(
        server
            .client
            .put(server.at("/v1/default/config"))
            .json(&json!({"policy": "lru", "max_entries": 500, "default_ttl": "10m"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(changed["policy"], "lru");
    assert_eq!(changed["max_entries"], 500);
    assert_eq!(changed["default_ttl_s"], 600.0);
    let now = server.get_json("/v1/default/config").await;
    assert_eq!(now["policy"], "lru");
    assert_eq!(server.get_json("/v1/default/stats").await["policy"], "lru");
    // The memory tier was rebuilt; the entry comes back from disk.
    assert_eq!(
        server.value("default", "survivor").await.as_deref(),
        Some("on disk")
    );
    server.put("default", "fresh", "x").await;
    let response = server
        .client
        .get(server.at("/v1/default/keys/fresh"))
        .send()
        .await
        .unwrap();
    let ttl: u64 = response.headers()["x-strata-ttl"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ttl > 590 && ttl <= 600,
        "the new default TTL applies: {ttl}"
    );

    for bad in [
        json!({"policy": "fifo"}),
        json!({"colour": "blue"}),
        json!({"max_entries": 0}),
    ] {
        let response = server
            .client
            .put(server.at("/v1/default/config"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error(),
            "{bad}: {}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().is_some());
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(dir.path())).await;
    server.put("default", "k", "v").await;
    assert!(server.value("default", "k").await.is_some());
    assert!(server.value("default", "none").await.is_none());

    let health = server.get_json("/health").await;
    assert_eq!(health["status"], "ok");
    let tiers = &health["namespaces"][0]["tiers"];
    assert_eq!(tiers[1]["name"], "disk");
    assert_eq!(tiers[1]["up"], true);

    let response = server
        .client
        .get(server.at("/metrics"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let value = |needle: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        value(r#"strata_hits_total{namespace="default",tier="memory"}"#),
        1.0
    );
    assert_eq!(
        value(r#"strata_misses_total{namespace="default",tier="disk"}"#),
        1.0
    );
    assert_eq!(
        value(r#"strata_entries{namespace="default",tier="memory"}"#),
        1.0
    );
    assert_eq!(
        value(r#"strata_evictions_total{namespace="default",tier="memory",cause="capacity"}"#),
        0.0
    );
    assert_eq!(
        value(r#"strata_tier_up{namespace="default",tier="disk"}"#),
        1.0
    );
    assert!(text.contains(r#"strata_request_duration_seconds_bucket{namespace="default",method="GET",route="/v1/{ns}/keys/{*key}",le="0.005"}"#), "{text}");
    assert!(text.contains(r#"strata_requests_total{namespace="default",method="PUT",route="/v1/{ns}/keys/{*key}",status="201"} 1"#));
    assert!(text.contains("# HELP strata_hits_total"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_independent_and_created_on_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_namespaces = 3;
    let server = TestServer::start(cfg).await;
    let response = server
        .client
        .get(server.at("/v1/orders/keys/a"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "namespace_not_found").await;
    server.put("orders", "a", "in orders").await;
    server.put("default", "a", "in default").await;
    assert_eq!(
        server.value("orders", "a").await.as_deref(),
        Some("in orders")
    );
    assert_eq!(
        server.value("default", "a").await.as_deref(),
        Some("in default")
    );
    server.post_json("/v1/orders/clear", &json!(null)).await;
    assert_eq!(
        server.value("default", "a").await.as_deref(),
        Some("in default")
    );
    assert!(dir.path().join("namespaces/orders").is_dir());

    let response = server
        .client
        .put(server.at("/v1/.hidden/keys/a"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_namespace").await;
    server.put("third", "a", "x").await;
    let response = server
        .client
        .put(server.at("/v1/fourth/keys/a"))
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::INSUFFICIENT_STORAGE,
        "too_many_namespaces",
    )
    .await;
    server.stop().await.unwrap();

    // Without creation on demand, only declared namespaces exist.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.create_on_demand = false;
    let server = TestServer::start(cfg).await;
    let response = server
        .client
        .put(server.at("/v1/orders/keys/a"))
        .body("x")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::NOT_FOUND, "namespace_not_found").await;
    assert!(message.contains("create_on_demand"), "{message}");
    server.put("default", "a", "x").await;
    server.stop().await.unwrap();
}
