//! The HTTP edge: the axum router, request logging and health endpoints.
//!
//! Request logs carry the route template, method, status and latency only: never
//! the raw path or query, headers, bodies or client addresses.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;

use crate::AppState;

pub mod api;
pub mod auth;
mod console;
pub mod error;
pub mod listen;

/// The router the binary serves and the tests drive.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api::routes())
        .merge(console::routes())
        .merge(crate::telephony::routes())
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .route_layer(middleware::from_fn_with_state(state.clone(), log_request))
        .layer(middleware::from_fn(security_headers))
        .fallback(not_found.layer(middleware::from_fn_with_state(state.clone(), log_request)))
        .with_state(state)
}

/// Logs one line per request with the allowed fields only. Provider webhooks get
/// none at `info`: the log's timestamps would keep the exact time of every call
/// and text that the database keeps only to the hour. They are counted instead
/// (the call loop logs the count once an hour), and their failures are logged.
async fn log_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let webhook = route.starts_with("/telephony/");
    let span = if webhook {
        tracing::info_span!(crate::logging::WEBHOOK_SPAN, route = %route, method = %request.method())
    } else {
        tracing::info_span!("request", route = %route, method = %request.method())
    };
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.in_scope(|| {
        if !webhook {
            tracing::info!(status, latency_ms = %format_args!("{latency_ms:.2}"), "request");
        } else if status >= 500 {
            tracing::warn!(status, "a provider webhook failed");
        } else {
            tracing::debug!(status, latency_ms = %format_args!("{latency_ms:.2}"), "request");
        }
    });
    if webhook {
        state.webhooks.count(status >= 400);
    }
    response
}

/// Provider webhooks answered since the last report, and how many failed.
#[derive(Default)]
pub struct WebhookCounts {
    answered: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

impl WebhookCounts {
    fn count(&self, failed: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.answered.fetch_add(1, Relaxed);
        if failed {
            self.failed.fetch_add(1, Relaxed);
        }
    }

    /// `(answered, failed)` since the last call, and starts again from zero.
    pub fn take(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.answered.swap(0, Relaxed), self.failed.swap(0, Relaxed))
    }
}

/// Headers on every answer: nothing may be framed, loaded from elsewhere, or
/// leak a referrer; pages with case data are never cached.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let cacheable = request.uri().path() == "/console/static/console.css";
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if !cacheable {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    response
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can reach its database and, on SQLite, take its write lock.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await {
        Ok(Ok(())) => "ready\n".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database error");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
        Err(_) => {
            tracing::warn!("readiness check: database did not answer within 2s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}
