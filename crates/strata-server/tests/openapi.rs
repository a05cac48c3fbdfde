//! `/openapi.json` is a valid OpenAPI 3.1 document that describes every
//! route the server answers, and every schema it refers to.

mod support;

use serde_json::Value;
use support::{TestServer, config};

/// Every (method, path) the router serves, as the OpenAPI document writes
/// paths. Kept by hand: a route added without its annotation fails here.
const ROUTES: &[(&str, &str)] = &[
    ("put", "/v1/{ns}/keys/{key}"),
    ("get", "/v1/{ns}/keys/{key}"),
    ("delete", "/v1/{ns}/keys/{key}"),
    ("post", "/v1/{ns}/set"),
    ("post", "/v1/{ns}/mget"),
    ("post", "/v1/{ns}/mset"),
    ("post", "/v1/{ns}/invalidate"),
    ("post", "/v1/{ns}/clear"),
    ("get", "/v1/namespaces"),
    ("get", "/v1/{ns}/stats"),
    ("get", "/v1/{ns}/analytics"),
    ("get", "/v1/{ns}/memory"),
    ("post", "/v1/{ns}/warm-up"),
    ("get", "/v1/{ns}/export"),
    ("post", "/v1/{ns}/import"),
    ("post", "/v1/{ns}/benchmark"),
    ("get", "/v1/{ns}/config"),
    ("put", "/v1/{ns}/config"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_complete_and_its_references_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(config(dir.path())).await;
    let doc = s.get_json("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Strata");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the document"))[*method];
        assert!(op.is_object(), "{method} {path} is not in the document");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document has operations the router does not serve"
    );

    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} does not resolve");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    s.stop().await.unwrap();
}
