//! The live dashboard at `/`: one self-contained page (HTML, CSS and
//! vanilla JS compiled into the binary) that polls `/v1/namespaces` and the
//! selected namespace's `/stats`, `/analytics` and `/memory` about once a
//! second and draws them with its own SVG. `docs/dashboard.md` says where
//! each figure comes from.
//!
//! One response carries everything, so the dashboard needs no route of its
//! own beyond `/` and works behind any proxy that forwards the API.

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// The page, assembled at compile time from the files beside this one.
const PAGE: &str = concat!(
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<title>Strata dashboard</title>\n<style>\n",
    include_str!("style.css"),
    "</style>\n</head>\n<body>\n",
    include_str!("body.html"),
    "<script>\n",
    include_str!("app.js"),
    "</script>\n</body>\n</html>\n",
);

/// What the page may do: run its own inline script and style, and talk to
/// this server only. Should a stored key ever smuggle markup past the
/// script (it writes values as text), the browser still refuses to load or
/// send anything elsewhere, so the token cannot leave.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The dashboard page.
pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            // The page is small and changes with the binary; always asking
            // means an upgraded server is never shown with a stale script.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(PAGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element the script looks up by id exists in the markup, so a
    /// renamed id fails here rather than as a blank panel in a browser.
    #[test]
    fn the_script_finds_every_element_it_uses() {
        let script = include_str!("app.js");
        let markup = include_str!("body.html");
        let mut checked = 0;
        for part in script.split("$(\"").skip(1) {
            let Some(end) = part.find('"') else { continue };
            let id = &part[..end];
            if id.ends_with('-') {
                // A prefix completed at run time, such as `gauge-ev-`.
                assert!(markup.contains(&format!("id=\"{id}")), "no id {id}…");
            } else {
                assert!(markup.contains(&format!("id=\"{id}\"")), "no id {id}");
            }
            checked += 1;
        }
        assert!(
            checked > 10,
            "found only {checked} lookups: the pattern is stale"
        );
    }

    #[test]
    fn the_page_is_whole() {
        assert!(PAGE.starts_with("<!doctype html>"));
        assert_eq!(PAGE.matches("<script>").count(), 1);
        assert!(PAGE.trim_end().ends_with("</html>"));
    }
}
