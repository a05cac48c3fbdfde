//! The live dashboard at `/`.

use axum::response::Html;

/// The dashboard page.
pub(crate) async fn page() -> Html<&'static str> {
    Html(
        "<!doctype html><title>Strata</title><p>Strata is running. See <a href=\"/openapi.json\">/openapi.json</a>.</p>",
    )
}
