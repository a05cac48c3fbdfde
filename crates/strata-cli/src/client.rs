//! The client commands: `strata get | set | del | invalidate | stats`,
//! talking to a running `strata serve` over its HTTP API.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Where the server is and who is asking.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// The server's base URL.
    #[arg(
        long,
        env = "STRATA_SERVER",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    server: String,
    /// A bearer token (needed when the server has tokens configured).
    #[arg(long, env = "STRATA_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// The namespace.
    #[arg(long, default_value = "default", global = true)]
    ns: String,
}

/// `strata set`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The key.
    key: String,
    /// The value (raw bytes as given; with --json, parsed as JSON).
    value: String,
    /// TTL: seconds or a duration such as 90s, 1h; `none` for no expiry.
    #[arg(long)]
    ttl: Option<String>,
    /// Tags, comma separated.
    #[arg(long)]
    tags: Option<String>,
    /// Store the value as JSON (it must parse).
    #[arg(long)]
    json: bool,
}

/// `strata invalidate`.
#[derive(Debug, Args)]
pub(crate) struct InvalidateArgs {
    /// Keys to remove.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// Tags to invalidate.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Remove keys with this prefix.
    #[arg(long)]
    prefix: Option<String>,
    /// Remove keys matching this glob.
    #[arg(long)]
    pattern: Option<String>,
}

/// A client command.
#[derive(Debug)]
pub(crate) enum Request {
    /// Print a value.
    Get(String),
    /// Store a value.
    Set(SetArgs),
    /// Delete a key.
    Del(String),
    /// Invalidate.
    Invalidate(InvalidateArgs),
    /// Print stats.
    Stats,
}

/// Runs one client command, writing its answer to `out`.
///
/// # Errors
/// An unreachable server, a refusal, a missing key: each with a message
/// that says what to do.
pub(crate) fn run(
    connection: &Connection,
    request: Request,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(call(connection, request, out))
}

async fn call(c: &Connection, request: Request, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()?;
    let base = c.server.trim_end_matches('/');
    let ns = encode(&c.ns);
    let send = |method: Method, path: String| {
        let mut builder = client.request(method, format!("{base}{path}"));
        if let Some(token) = &c.token {
            builder = builder.bearer_auth(token);
        }
        builder
    };
    match request {
        Request::Get(key) => {
            let response = answer(
                c,
                send(Method::GET, format!("/v1/{ns}/keys/{}", encode(&key))),
            )
            .await?;
            out.write_all(&response.bytes().await?)?;
        }
        Request::Set(args) => {
            let response = if args.json {
                let value: Value = serde_json::from_str(&args.value)
                    .context("--json: the value is not valid JSON")?;
                let mut body = json!({"key": args.key, "value": value});
                if let Some(ttl) = &args.ttl {
                    body["ttl"] = json!(ttl);
                }
                if let Some(tags) = &args.tags {
                    body["tags"] = json!(tags.split(',').map(str::trim).collect::<Vec<_>>());
                }
                answer(c, send(Method::POST, format!("/v1/{ns}/set")).json(&body)).await?
            } else {
                let mut query = Vec::new();
                if let Some(ttl) = &args.ttl {
                    query.push(("ttl", ttl.clone()));
                }
                if let Some(tags) = &args.tags {
                    query.push(("tags", tags.clone()));
                }
                let builder = send(Method::PUT, format!("/v1/{ns}/keys/{}", encode(&args.key)))
                    .query(&query)
                    .header("content-type", "text/plain; charset=utf-8")
                    .body(args.value.clone());
                answer(c, builder).await?
            };
            let stored: Value = response.json().await?;
            writeln!(
                out,
                "stored {} (etag {})",
                args.key,
                stored["etag"].as_str().unwrap_or("?")
            )?;
        }
        Request::Del(key) => {
            let response = answer(
                c,
                send(Method::DELETE, format!("/v1/{ns}/keys/{}", encode(&key))),
            )
            .await?;
            let body: Value = response.json().await?;
            let deleted = body["deleted"].as_bool().unwrap_or(false);
            writeln!(
                out,
                "{}",
                if deleted {
                    format!("deleted {key}")
                } else {
                    format!("{key} was not stored")
                }
            )?;
        }
        Request::Invalidate(args) => {
            let body = json!({
                "keys": args.keys,
                "tags": args.tags,
                "prefix": args.prefix.unwrap_or_default(),
                "pattern": args.pattern.unwrap_or_default(),
            });
            let response = answer(
                c,
                send(Method::POST, format!("/v1/{ns}/invalidate")).json(&body),
            )
            .await?;
            let counts: Value = response.json().await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&counts)?)?;
        }
        Request::Stats => {
            let response = answer(c, send(Method::GET, format!("/v1/{ns}/stats"))).await?;
            let stats: Value = response.json().await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&stats)?)?;
        }
    }
    Ok(())
}

/// Sends the request; a successful response, or an error that says why not.
async fn answer(
    c: &Connection,
    builder: reqwest::RequestBuilder,
) -> anyhow::Result<reqwest::Response> {
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => bail!(
            "cannot reach the Strata server at {}: is `strata serve` running there? (--server or STRATA_SERVER)",
            c.server
        ),
        Err(e) if e.is_timeout() => {
            bail!("the Strata server at {} did not answer in time", c.server)
        }
        Err(e) => bail!("request to {} failed: {e}", c.server),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("no details")
        .to_owned();
    match status {
        StatusCode::UNAUTHORIZED => {
            bail!("the server refused: {message} (pass --token or set STRATA_TOKEN)")
        }
        StatusCode::FORBIDDEN => bail!("the server refused: {message}"),
        StatusCode::NOT_FOUND => bail!("not found: {message}"),
        _ => bail!("the server answered {status}: {message}"),
    }
}

/// Percent-encodes a path segment (keys may hold `/`, `?`, spaces…).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
