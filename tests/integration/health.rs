//! Health and readiness through the router in process.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::both;
use crate::support::{Backend, TestEnv};

async fn get(state: &quietline::AppState, path: &str) -> (StatusCode, String) {
    let response =
        quietline::app(state.clone()).oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

both!(health_and_readiness);
async fn health_and_readiness(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let state = env.state().await;
    assert_eq!(get(&state, "/healthz").await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(get(&state, "/readyz").await, (StatusCode::OK, "ready\n".into()));
    assert_eq!(get(&state, "/nothing-here").await.0, StatusCode::NOT_FOUND);

    // With the database gone, the process is alive but not ready.
    state.db.close().await;
    assert_eq!(get(&state, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&state, "/readyz").await, (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n".into()));
}
