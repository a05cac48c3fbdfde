//! Each auth outcome over a real socket: no token, a wrong token, each
//! scope allowed and refused; what stays open without a token.

mod support;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::json;
use strata_server::config::{Scope, TokenConfig};
use support::{TestServer, config, expect_error};

const READER: &str = "reader-0123456789abcdef";
const WRITER: &str = "writer-0123456789abcdef";
const ADMIN: &str = "admin-0123456789abcdef";

async fn server(dir: &std::path::Path) -> TestServer {
    let mut cfg = config(dir);
    let token = |name: &str, secret: &str, scopes: Vec<Scope>| TokenConfig {
        name: name.into(),
        token: Some(secret.into()),
        token_env: None,
        scopes,
    };
    cfg.auth.tokens = vec![
        token("reader", READER, vec![Scope::Read]),
        token("writer", WRITER, vec![Scope::Write]),
        token("admin", ADMIN, vec![Scope::Admin]),
    ];
    TestServer::start(cfg).await
}

fn with(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder.bearer_auth(token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_are_refused_with_401() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let url = s.at("/v1/default/keys/k");
    let response = s.client.get(&url).send().await.unwrap();
    let message = expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("Bearer"), "{message}");
    let response = with(s.client.get(&url), "not-a-token-0123456789")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = s
        .client
        .get(&url)
        .header("authorization", format!("Basic {READER}"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // A token's prefix is not the token.
    let response = with(s.client.get(&url), &READER[..READER.len() - 1])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Auth comes before the body is read: a malformed body without a token
    // is still 401.
    let response = s
        .client
        .post(s.at("/v1/default/set"))
        .body("{")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let response = s.client.get(s.at("/metrics")).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Health is for load balancers; the dashboard page and the API
    // description hold no data.
    assert_eq!(
        s.client.get(s.at("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        s.client
            .get(s.at("/openapi.json"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        s.client.get(s.at("/")).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_allows_its_own_and_lower_operations_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let key = s.at("/v1/default/keys/k");

    // read: reads yes, writes 403.
    let response = with(s.client.put(&key), READER)
        .body("v")
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(message.contains("write scope"), "{message}");
    // write: writes yes, admin 403.
    let response = with(s.client.put(&key), WRITER)
        .body("v")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = with(s.client.get(&key), READER).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "v");
    let response = with(s.client.post(s.at("/v1/default/invalidate")), READER)
        .json(&json!({"keys": ["k"]}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let bench = json!({"ops": 1000, "keys": 100});
    let response = with(s.client.post(s.at("/v1/default/benchmark")), WRITER)
        .json(&bench)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let response = with(s.client.put(s.at("/v1/default/config")), WRITER)
        .json(&json!({"policy": "lru"}))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    // admin: everything.
    let response = with(s.client.post(s.at("/v1/default/benchmark")), ADMIN)
        .json(&bench)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = with(s.client.delete(&key), ADMIN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = with(s.client.get(s.at("/metrics")), READER)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_server_refuses_a_public_address_and_a_token_from_an_unset_variable_fails_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.listen = "0.0.0.0:7070".parse().unwrap();
    let tokens = strata_server::auth::Tokens::from_config(&cfg.auth).unwrap();
    let refusal = strata_server::auth::check_listen(cfg.listen, &tokens, cfg.insecure).unwrap_err();
    assert!(refusal.contains("--insecure"), "{refusal}");

    cfg.auth.tokens = vec![TokenConfig {
        name: "ci".into(),
        token: None,
        token_env: Some("STRATA_TEST_TOKEN_THAT_IS_NOT_SET".into()),
        scopes: vec![Scope::Read],
    }];
    let Err(error) = strata_server::AppState::new(cfg).await else {
        panic!("a token whose variable is unset must fail start-up")
    };
    assert!(
        error
            .to_string()
            .contains("STRATA_TEST_TOKEN_THAT_IS_NOT_SET"),
        "{error}"
    );
}
