//! Bearer-token authentication and scopes.
//!
//! Tokens are compared in constant time (`subtle`), each against every
//! configured token, so neither a token's content nor which token matched
//! shows in the response time. With no tokens configured, every request
//! has every scope: the server then listens on loopback only (see
//! [`check_listen`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use subtle::ConstantTimeEq;

use crate::config::{AuthConfig, Scope};
use crate::error::ApiError;
use crate::state::AppState;

/// The accepted tokens, resolved from the config.
#[derive(Debug, Default)]
pub struct Tokens {
    entries: Vec<(Arc<str>, Vec<u8>, Scope)>,
}

impl Tokens {
    /// Resolves each token (inline or from its environment variable).
    ///
    /// # Errors
    /// A message naming a token whose variable is unset or empty.
    pub fn from_config(config: &AuthConfig) -> Result<Self, String> {
        let mut entries = Vec::new();
        for token in &config.tokens {
            let secret = match (&token.token, &token.token_env) {
                (Some(inline), _) => inline.clone(),
                (None, Some(var)) => std::env::var(var).map_err(|_| {
                    format!(
                        "auth token {:?}: environment variable {var} is not set",
                        token.name
                    )
                })?,
                (None, None) => return Err(format!("auth token {:?} has no secret", token.name)),
            };
            if secret.len() < 16 {
                return Err(format!(
                    "auth token {:?} is shorter than 16 characters; use a long random token",
                    token.name
                ));
            }
            let scope = token.scopes.iter().copied().max().unwrap_or(Scope::Read);
            entries.push((Arc::from(token.name.as_str()), secret.into_bytes(), scope));
        }
        Ok(Self { entries })
    }

    /// Whether any token is configured.
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The name and scope of `presented`, if it is one of the tokens.
    fn find(&self, presented: &[u8]) -> Option<(&Arc<str>, Scope)> {
        let mut found = None;
        // No early exit: every token is compared, whatever matches.
        for (name, secret, scope) in &self.entries {
            if bool::from(secret.as_slice().ct_eq(presented)) {
                found = Some((name, *scope));
            }
        }
        found
    }
}

/// Who is calling, with what scope. Extracting it answers 401 when tokens
/// are configured and the request has no valid one.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name; `None` without auth (no shared counter to touch
    /// on every request).
    pub name: Option<Arc<str>>,
    /// What the caller may do.
    pub scope: Scope,
}

impl Caller {
    /// The token's name, or `anonymous`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("anonymous")
    }

    /// Ok when the caller's scope covers `needed`, else 403.
    ///
    /// # Errors
    /// 403 `forbidden` naming the scope needed.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope >= needed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} scope; the token {:?} has {}",
                    needed.name(),
                    self.name(),
                    self.scope.name()
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let tokens = &state.tokens;
        if !tokens.enabled() {
            return Ok(Caller {
                name: None,
                scope: Scope::Admin,
            });
        }
        let unauthorized = |message: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message.to_owned())
        };
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            unauthorized("this server needs an Authorization: Bearer <token> header")
        })?;
        let presented = header
            .as_bytes()
            .strip_prefix(b"Bearer ")
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer <token>"))?;
        let (name, scope) = tokens
            .find(presented)
            .ok_or_else(|| unauthorized("the token is not valid"))?;
        Ok(Caller {
            name: Some(Arc::clone(name)),
            scope,
        })
    }
}

/// Refuses a listen address that would expose an unauthenticated server:
/// without tokens, only loopback, unless `insecure`.
///
/// # Errors
/// A message saying how to fix it.
pub fn check_listen(addr: SocketAddr, tokens: &Tokens, insecure: bool) -> Result<(), String> {
    if tokens.enabled() || insecure || addr.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without auth tokens: configure [[auth.tokens]], \
         listen on a loopback address, or pass --insecure to accept the risk"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenConfig;

    fn tokens() -> Tokens {
        let token = |name: &str, secret: &str, scopes: Vec<Scope>| TokenConfig {
            name: name.into(),
            token: Some(secret.into()),
            token_env: None,
            scopes,
        };
        Tokens::from_config(&AuthConfig {
            tokens: vec![
                token("reader", "reader-token-0123456789", vec![Scope::Read]),
                token(
                    "ops",
                    "admin-token-0123456789",
                    vec![Scope::Read, Scope::Admin],
                ),
            ],
        })
        .unwrap()
    }

    #[test]
    fn a_token_maps_to_its_highest_scope() {
        let t = tokens();
        let found = |p: &[u8]| t.find(p).map(|(n, s)| (n.to_string(), s));
        assert_eq!(
            found(b"reader-token-0123456789"),
            Some(("reader".to_owned(), Scope::Read))
        );
        assert_eq!(
            found(b"admin-token-0123456789"),
            Some(("ops".to_owned(), Scope::Admin))
        );
        assert_eq!(t.find(b"admin-token-012345678"), None);
        assert_eq!(t.find(b""), None);
    }

    #[test]
    fn short_tokens_are_refused() {
        let config = AuthConfig {
            tokens: vec![TokenConfig {
                name: "weak".into(),
                token: Some("abc".into()),
                token_env: None,
                scopes: vec![Scope::Read],
            }],
        };
        assert!(
            Tokens::from_config(&config)
                .unwrap_err()
                .contains("shorter")
        );
    }

    #[test]
    fn without_tokens_only_loopback_unless_insecure() {
        let none = Tokens::default();
        let public: SocketAddr = "0.0.0.0:7070".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:7070".parse().unwrap();
        assert!(check_listen(local, &none, false).is_ok());
        assert!(
            check_listen(public, &none, false)
                .unwrap_err()
                .contains("--insecure")
        );
        assert!(check_listen(public, &none, true).is_ok());
        assert!(check_listen(public, &tokens(), false).is_ok());
    }

    #[test]
    fn scopes_are_ordered() {
        let caller = Caller {
            name: Some(Arc::from("w")),
            scope: Scope::Write,
        };
        assert!(caller.require(Scope::Read).is_ok());
        assert!(caller.require(Scope::Write).is_ok());
        assert_eq!(
            caller.require(Scope::Admin).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
    }
}
