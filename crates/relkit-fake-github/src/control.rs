//! The `/_fake/*` endpoints scripts use to read the state and the request
//! log, script faults, seed leftover assets and reset the server.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fault::{Fault, FaultRule};
use crate::reply::{empty, error, not_found};
use crate::state::{Shared, lock};

type Sh = State<Arc<Shared>>;

/// The endpoints scripts use to read and steer the fake.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_fake/state", get(fake_state))
        .route("/_fake/log", get(fake_log))
        .route(
            "/_fake/faults",
            post(fake_add_fault).delete(fake_clear_faults),
        )
        .route("/_fake/starter", post(fake_seed_starter))
        .route("/_fake/reset", post(fake_reset))
}

async fn fake_reset(State(sh): Sh) -> Response {
    sh.reset();
    empty(StatusCode::NO_CONTENT)
}

async fn fake_state(State(sh): Sh) -> Response {
    Json(sh.state_json()).into_response()
}
async fn fake_log(State(sh): Sh) -> Response {
    let entries: Vec<Value> = sh
        .log_sorted()
        .iter()
        .map(|e| {
            json!({
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "ms": u64::try_from(e.since_start.as_millis()).unwrap_or(u64::MAX),
                "fault": e.fault,
                "authenticated": e.authenticated,
            })
        })
        .collect();
    Json(Value::Array(entries)).into_response()
}

/// A fault rule as scripts POST it to `/_fake/faults`, e.g.
/// `{"method":"POST","path_contains":"/assets","nth":2,"fault":"drop_mid_upload"}`
/// or `{"fault":{"status":503},"times":3}`.
#[derive(Debug, Deserialize)]
struct FaultSpec {
    method: Option<String>,
    #[serde(default)]
    path_contains: String,
    nth: Option<u32>,
    times: Option<u32>,
    probability: Option<f64>,
    fault: FaultKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultKind {
    Status(u16),
    SecondaryRateLimit { retry_after_secs: u64 },
    RateLimited429 { retry_after_secs: u64 },
    RateLimitReset { reset_in_secs: u64 },
    DropMidUpload,
    DelayMs(u64),
    DropAfterHandling,
    StatusLeavingStarter(u16),
}

impl From<FaultKind> for Fault {
    fn from(k: FaultKind) -> Fault {
        match k {
            FaultKind::Status(s) => Fault::Status(s),
            FaultKind::SecondaryRateLimit { retry_after_secs } => {
                Fault::SecondaryRateLimit { retry_after_secs }
            }
            FaultKind::RateLimited429 { retry_after_secs } => {
                Fault::RateLimited429 { retry_after_secs }
            }
            FaultKind::RateLimitReset { reset_in_secs } => Fault::RateLimitReset { reset_in_secs },
            FaultKind::DropMidUpload => Fault::DropMidUpload,
            FaultKind::DelayMs(ms) => Fault::Delay(std::time::Duration::from_millis(ms)),
            FaultKind::DropAfterHandling => Fault::DropAfterHandling,
            FaultKind::StatusLeavingStarter(s) => Fault::StatusLeavingStarter(s),
        }
    }
}

async fn fake_add_fault(State(sh): Sh, body: bytes::Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad fault rule: {e}")),
    };
    let method = match spec
        .method
        .as_deref()
        .map(|m| m.to_ascii_uppercase().parse::<Method>())
    {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "bad fault rule: method"),
    };
    let rule = FaultRule {
        method,
        path_contains: spec.path_contains,
        nth: spec.nth,
        times: spec.times.unwrap_or(1),
        fault: spec.fault.into(),
        probability: spec.probability,
    };
    lock(&sh.faults).add(rule);
    empty(StatusCode::NO_CONTENT)
}

async fn fake_clear_faults(State(sh): Sh) -> Response {
    lock(&sh.faults).clear();
    empty(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct StarterSpec {
    release_id: u64,
    name: String,
}

async fn fake_seed_starter(State(sh): Sh, body: bytes::Bytes) -> Response {
    let spec: StarterSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad starter asset: {e}")),
    };
    let name = sh.config.asset_name(&spec.name);
    match sh.seed_asset(spec.release_id, &name, None) {
        Ok(Some(id)) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Ok(None) => not_found(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
