//! The coordinator's HTTP API (`zkattr serve`): epochs for operators, job leases for workers, snapshots and
//! artifacts for anyone to download and check, receipts for contributors; `/health`, `/metrics`
//! (Prometheus text) and `/openapi.json` (the document lists exactly the routes below: a test checks it).
//!
//! Every write is signed by the key it acts for ([`super::auth`]): only an operator named at start-up creates
//! epochs; a worker registers itself and acts only on the leases it holds. Bodies are size-limited, each
//! signer is rate-limited, and a bad request gets a 4xx with a message, never internals.
//!
//! A worker's result is checked before it is accepted, off the async runtime (a blocking thread, one check
//! at a time): a training result by re-deriving every feature from its model and the snapshot
//! (`zkattr recompute`), a proof by verifying it natively and checking that its public inputs are the
//! epoch's (chain, contract, epoch, pool, snapshot root, parameters) and the accepted training result's
//! commitments. Anything else is rejected and counted against the worker.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::Address;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, MatchedPath, Path, Request, State},
    http::{header, HeaderMap, Method, StatusCode, Uri},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, MethodRouter},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zkattr_circuits::{field, params::GovernanceParams};

use super::auth::{self, AuthError, SignedHeaders};
use super::bundle::{Artifacts, Bundle};
use super::store::{now_ms, JobKind, JobState, Lease, Store, StoreError};
use crate::datanet::Datanets;
use crate::proving::{self, SrsSource, StatementFile};

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its home: the Datanets it serves, the artifact store.
    pub home: PathBuf,
    /// The key cache results are verified with (default `<home>/keys`; several homes may share one).
    pub keys_dir: PathBuf,
    /// The job database (`sqlite://…` or `postgres://…`).
    pub database_url: String,
    /// The operators: only they create epochs.
    pub operators: Vec<Address>,
    /// The KZG setup proofs are made and checked with.
    pub srs: SrsSource,
    /// How long a lease lasts without a heartbeat.
    pub lease_ttl_ms: i64,
    /// Leases a job may take before it fails for good.
    pub max_attempts: u32,
    /// The fee recorded per accepted job (token base units, decimal).
    pub fee_per_job: u128,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Signed requests accepted per signer per minute.
    pub rate_per_minute: u32,
    /// The receipt page's files (`scripts/build-web.sh` output), served at `/receipts/`.
    pub receipts_web: PathBuf,
}

/// Where `scripts/build-web.sh` puts the receipt page: `$ZKATTR_RECEIPTS_WEB`, else `target/web/receipts`
/// of the source tree this binary was built from.
pub fn default_receipts_web() -> PathBuf {
    std::env::var_os("ZKATTR_RECEIPTS_WEB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/web/receipts"
            ))
        })
}

/// The receipt page's files and their media types.
const WEB_FILES: [(&str, &str); 4] = [
    ("index.html", "text/html; charset=utf-8"),
    ("receipts.js", "text/javascript; charset=utf-8"),
    ("receipts.css", "text/css; charset=utf-8"),
    ("zkattr_receipt_verifier.wasm", "application/wasm"),
];

/// `GET /receipts/` and its files: the page where contributors check receipts in their browser.
async fn web_file(State(app): State<Arc<App>>, uri: Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let name = match uri.path().strip_prefix("/receipts") {
        Some("") => return axum::response::Redirect::permanent("/receipts/").into_response(),
        Some("/") => "index.html",
        Some(rest) => rest.trim_start_matches('/'),
        None => "",
    };
    let Some((name, mime)) = WEB_FILES.iter().find(|(n, _)| *n == name) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no file {name} in /receipts/"),
        )
        .into_response();
    };
    let path = app.cfg.receipts_web.join(name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, *mime)], bytes).into_response(),
        Err(e) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "the receipt page is not built ({}: {e}); build it with scripts/build-web.sh",
                path.display()
            ),
        )
        .into_response(),
    }
}

impl Config {
    /// The defaults for `home`: SQLite under it, 60 s leases, 3 attempts, 64 MiB bodies, 600 requests/min.
    pub fn new(home: PathBuf, srs: SrsSource) -> Self {
        let database_url = format!("sqlite://{}", home.join("coordinator.db").display());
        Self {
            keys_dir: home.join("keys"),
            home,
            database_url,
            operators: Vec::new(),
            srs,
            lease_ttl_ms: 60_000,
            max_attempts: 3,
            fee_per_job: 0,
            max_body_bytes: 64 << 20,
            rate_per_minute: 600,
            receipts_web: default_receipts_web(),
        }
    }
}

/// What an operator sends to create an epoch (`POST /v1/epochs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochRequest {
    /// Datanet name.
    pub datanet: String,
    /// Its sealed version.
    pub version: u64,
    /// Governance parameters (TOML); the defaults when absent.
    #[serde(default)]
    pub params_toml: Option<String>,
    /// Epoch number.
    pub epoch: u64,
    /// Reward pool, token base units (decimal).
    pub pool: String,
    /// Chain id of the settlement contract.
    pub chain_id: u64,
    /// The settlement contract.
    pub settlement: String,
    /// The attribution queries (JSON lines, as `zkattr train --queries` reads).
    pub queries: String,
    /// Training seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Training steps (the model's default when absent).
    #[serde(default)]
    pub steps: Option<usize>,
}

fn default_seed() -> u64 {
    2026
}

impl EpochRequest {
    /// The parameters named (the defaults when none).
    pub fn params(&self) -> Result<GovernanceParams, String> {
        match &self.params_toml {
            None => Ok(GovernanceParams::default()),
            Some(t) => {
                let p = GovernanceParams::from_toml(t).map_err(|e| format!("params_toml: {e}"))?;
                p.validate().map_err(|e| format!("params_toml: {e}"))?;
                Ok(p)
            }
        }
    }

    /// The pool as a number.
    pub fn pool(&self) -> Result<u128, String> {
        self.pool.parse().map_err(|_| {
            format!(
                "pool {:?} is not a whole number of base units below 2^128",
                self.pool
            )
        })
    }

    /// The settlement contract's address.
    pub fn settlement(&self) -> Result<Address, String> {
        self.settlement
            .parse()
            .map_err(|e| format!("settlement {:?}: {e}", self.settlement))
    }

    /// The epoch's key: `<chain id>-<settlement>-<epoch>`; one epoch per contract and number.
    pub fn key(&self) -> Result<String, String> {
        Ok(format!(
            "{}-{:#x}-{}",
            self.chain_id,
            self.settlement()?,
            self.epoch
        ))
    }
}

/// A job's inputs, as a worker receives them in its lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The epoch's request.
    pub request: EpochRequest,
    /// The sealed snapshot's root.
    pub datanet_root: String,
}

/// A lease as a worker receives it: the store's lease plus the artifacts it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseGrant {
    /// The lease.
    #[serde(flatten)]
    pub lease: Lease,
    /// For a proving job: the accepted training result (artifact address).
    pub train_result: Option<String>,
    /// How often to send heartbeats (ms).
    pub heartbeat_ms: i64,
}

/// `POST /v1/jobs/lease` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    /// The kinds of job the worker runs.
    pub kinds: Vec<JobKind>,
    /// How long to wait for a job (ms, at most 30 000).
    #[serde(default)]
    pub wait_ms: u64,
}

/// `POST /v1/jobs/{id}/heartbeat` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    /// The lease.
    pub lease_id: String,
    /// Progress to show (any JSON).
    #[serde(default)]
    pub progress: Option<Value>,
}

/// `POST /v1/jobs/{id}/result` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// The lease.
    pub lease_id: String,
    /// The output directory.
    pub bundle: Bundle,
}

/// `POST /v1/jobs/{id}/fail` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    /// The lease.
    pub lease_id: String,
    /// What went wrong.
    pub reason: String,
    /// Whether another attempt may succeed.
    pub transient: bool,
}

/// `POST /v1/workers` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// What the worker has (backend, device, memory), free-form.
    pub capabilities: Value,
}

/// An error answer: a status and a message for the caller.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        // The detail goes to the log, not to the caller.
        tracing::error!("{what}: {e}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error ({what}); see the coordinator's log"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSuchJob(_) | StoreError::NoSuchEpoch(_) => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            }
            StoreError::NoSuchWorker(_) => ApiError::new(
                StatusCode::FORBIDDEN,
                format!("{e} (register with POST /v1/workers first)"),
            ),
            StoreError::LeaseLost { .. }
            | StoreError::EpochExists(_)
            | StoreError::TimeLimit { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            other => ApiError::internal("database", other),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The running coordinator's shared state.
#[derive(Debug)]
pub struct App {
    cfg: Config,
    store: Store,
    artifacts: Artifacts,
    rate: Mutex<HashMap<Address, (i64, u32)>>,
    /// Woken when a job may have become leasable.
    jobs_changed: tokio::sync::Notify,
    /// One result check at a time (they are CPU-heavy).
    checking: Arc<tokio::sync::Semaphore>,
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    results: Mutex<BTreeMap<&'static str, u64>>,
    /// Parsed proof bundles by address (content-addressed, so never stale), for receipt queries.
    bundles: Mutex<HashMap<String, Arc<Bundle>>>,
}

impl App {
    /// Opens the store and the artifact store.
    pub async fn open(cfg: Config) -> Result<Arc<Self>, StoreError> {
        let store = Store::connect(&cfg.database_url).await?;
        warn_about_home_datanets(&cfg.home, &store).await;
        let artifacts = Artifacts::new(cfg.home.join("artifacts"));
        Ok(Arc::new(Self {
            cfg,
            store,
            artifacts,
            rate: Mutex::default(),
            jobs_changed: tokio::sync::Notify::new(),
            checking: Arc::new(tokio::sync::Semaphore::new(1)),
            requests: Mutex::default(),
            results: Mutex::default(),
            bundles: Mutex::default(),
        }))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Checks a signed request and returns its signer: signature, clock, replay, rate.
    async fn signer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ApiResult<Address> {
        let h = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let signed = SignedHeaders {
            address: h(auth::ADDRESS_HEADER),
            time: h(auth::TIME_HEADER),
            signature: h(auth::SIGNATURE_HEADER),
        };
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path());
        let now = now_ms();
        let v = auth::verify_request(signed, method.as_str(), path, body, now)?;
        // Within its window a digest is remembered in the database, so a replay is refused after a restart
        // and by every coordinator sharing the database.
        let fresh = self
            .store
            .remember_request(
                &format!("{:#x}", v.digest),
                v.time.saturating_add(2 * auth::MAX_SKEW_MS),
                now,
            )
            .await?;
        if !fresh {
            return Err(AuthError::Replay.into());
        }
        let mut rate = self.rate.lock().expect("rate table");
        let window = now / 60_000;
        if rate.len() > 10_000 {
            rate.retain(|_, (w, _)| *w == window);
        }
        let entry = rate.entry(v.signer).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        if entry.1 > self.cfg.rate_per_minute {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "more than {} signed requests this minute from {:#x}; slow down",
                    self.cfg.rate_per_minute, v.signer
                ),
            ));
        }
        Ok(v.signer)
    }

    /// The bundle at `address`, parsed once and kept (a few at a time).
    async fn bundle(&self, address: &str) -> ApiResult<Arc<Bundle>> {
        if let Some(b) = self.bundles.lock().expect("bundle cache").get(address) {
            return Ok(b.clone());
        }
        let artifacts = self.artifacts.clone();
        let a = address.to_string();
        let bundle = tokio::task::spawn_blocking(move || -> crate::Result<Bundle> {
            let bytes = artifacts.get(&a)?.ok_or_else(|| {
                crate::Error::Corrupt(format!("bundle {a} is missing from the artifact store"))
            })?;
            Bundle::from_bytes(&bytes)
        })
        .await
        .map_err(|e| ApiError::internal("artifact read", e))?
        .map_err(|e| ApiError::internal("proof bundle", e))?;
        let bundle = Arc::new(bundle);
        let mut cache = self.bundles.lock().expect("bundle cache");
        if cache.len() >= 16 {
            cache.clear();
        }
        cache.insert(address.to_string(), bundle.clone());
        Ok(bundle)
    }

    fn count_result(&self, outcome: &'static str) {
        *self
            .results
            .lock()
            .expect("metrics")
            .entry(outcome)
            .or_default() += 1;
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("request body: {e}")))
}

fn lower(a: &Address) -> String {
    format!("{a:#x}")
}

/// Every route: method, path, whether it must be signed, and what it does. The OpenAPI document is built
/// from this table, and the router serves exactly these.
pub const ROUTES: &[(&str, &str, bool, &str)] = &[
    ("get", "/health", false, "Liveness and database check"),
    ("get", "/metrics", false, "Prometheus metrics"),
    ("get", "/openapi.json", false, "This document"),
    (
        "post",
        "/v1/workers",
        true,
        "Register the signing worker with its capabilities",
    ),
    (
        "get",
        "/v1/workers/{address}",
        false,
        "A worker's record and fees",
    ),
    (
        "post",
        "/v1/jobs/lease",
        true,
        "Lease a job (long-poll up to wait_ms); 204 when none",
    ),
    ("get", "/v1/jobs/{id}", false, "A job"),
    (
        "post",
        "/v1/jobs/{id}/heartbeat",
        true,
        "Renew a lease and report progress",
    ),
    (
        "post",
        "/v1/jobs/{id}/result",
        true,
        "Submit a result; checked before it is accepted",
    ),
    (
        "post",
        "/v1/jobs/{id}/fail",
        true,
        "Report a failed job (it is retried elsewhere until its attempts run out)",
    ),
    (
        "post",
        "/v1/jobs/{id}/requeue",
        true,
        "Put a failed job back in the queue (operators only)",
    ),
    (
        "post",
        "/v1/epochs",
        true,
        "Create an epoch (operators only)",
    ),
    ("get", "/v1/epochs", false, "Every epoch's key"),
    (
        "get",
        "/v1/epochs/{key}",
        false,
        "An epoch's state, jobs and proof",
    ),
    (
        "get",
        "/v1/artifacts/{address}",
        false,
        "Content-addressed download",
    ),
    ("get", "/v1/datanets", false, "Every Datanet's name"),
    (
        "post",
        "/v1/datanets",
        true,
        "Create a Datanet owned by the signer",
    ),
    (
        "get",
        "/v1/datanets/{name}",
        false,
        "A Datanet's sealed versions",
    ),
    (
        "post",
        "/v1/datanets/{name}/records",
        true,
        "Add signed records (JSON lines; all or nothing)",
    ),
    (
        "post",
        "/v1/datanets/{name}/seal",
        true,
        "Seal the next version (its owner or an operator)",
    ),
    (
        "get",
        "/v1/datanets/{name}/versions/{version}/records",
        false,
        "A version's signed records (JSON lines)",
    ),
    (
        "get",
        "/v1/receipts/{key}/{contributor}",
        false,
        "A contributor's receipt for an epoch",
    ),
];

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, signed, summary) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "The request was refused; the body's `error` says why",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if *signed {
            op["security"] = json!([{"zkattrSignature": []}]);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "zkattr coordinator", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}},
            "securitySchemes": {"zkattrSignature": {
                "type": "apiKey", "in": "header", "name": auth::SIGNATURE_HEADER,
                "description": "EIP-191 signature of the request digest, with x-zkattr-address and x-zkattr-time (docs/coordinator.md)"
            }},
        },
    })
}

/// The router over `app`.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.cfg.max_body_bytes;
    // Built from the route table, so the document and the router cannot differ; the methods of one path
    // share one method router.
    let mut paths: Vec<(&str, MethodRouter<Arc<App>>)> = Vec::new();
    for (method, path, _, _) in ROUTES {
        let handler: MethodRouter<Arc<App>> = match (*method, *path) {
            ("get", "/health") => get(health),
            ("get", "/metrics") => get(metrics),
            ("get", "/openapi.json") => get(|| async { Json(openapi()) }),
            ("post", "/v1/workers") => post(register),
            ("get", "/v1/workers/{address}") => get(worker),
            ("post", "/v1/jobs/lease") => post(lease),
            ("get", "/v1/jobs/{id}") => get(job),
            ("post", "/v1/jobs/{id}/heartbeat") => post(heartbeat),
            // Results and records are the large bodies; everything else is small.
            ("post", "/v1/jobs/{id}/result") => post(result).layer(DefaultBodyLimit::max(limit)),
            ("post", "/v1/jobs/{id}/fail") => post(fail),
            ("post", "/v1/jobs/{id}/requeue") => post(requeue),
            ("post", "/v1/epochs") => post(create_epoch),
            ("get", "/v1/epochs") => get(epochs),
            ("get", "/v1/epochs/{key}") => get(epoch),
            ("get", "/v1/artifacts/{address}") => get(artifact),
            ("get", "/v1/datanets") => get(datanets),
            ("post", "/v1/datanets") => post(create_datanet),
            ("get", "/v1/datanets/{name}") => get(datanet),
            ("post", "/v1/datanets/{name}/records") => {
                post(add_records).layer(DefaultBodyLimit::max(limit))
            }
            ("post", "/v1/datanets/{name}/seal") => post(seal),
            ("get", "/v1/datanets/{name}/versions/{version}/records") => get(records),
            ("get", "/v1/receipts/{key}/{contributor}") => get(receipt),
            (m, p) => unreachable!("route {m} {p} of ROUTES has no handler"),
        };
        match paths.iter_mut().find(|(p, _)| p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => paths.push((path, handler)),
        }
    }
    let mut router = Router::new()
        .route("/receipts", get(web_file))
        .route("/receipts/", get(web_file))
        .route("/receipts/{file}", get(web_file));
    for (path, handler) in paths {
        router = router.route(path, handler);
    }
    router
        .fallback(|uri: Uri| async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no route {} (see /openapi.json)", uri.path()),
            )
        })
        .layer(middleware::from_fn(precheck_signature))
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .layer(DefaultBodyLimit::max(SMALL_BODY_BYTES.min(limit)))
        .with_state(app)
}

/// Body limit of every route but results and records.
pub const SMALL_BODY_BYTES: usize = 1 << 20;

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Every POST is a signed write: its signature headers are checked before its body is read, so an
/// unsigned or stale request is refused without receiving a body of up to `--max-body-bytes`.
async fn precheck_signature(req: Request, next: Next) -> Response {
    if req.method() == Method::POST {
        let h = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let signed = SignedHeaders {
            address: h(auth::ADDRESS_HEADER),
            time: h(auth::TIME_HEADER),
            signature: h(auth::SIGNATURE_HEADER),
        };
        if let Err(e) = auth::precheck(signed, now_ms()) {
            return ApiError::from(e).into_response();
        }
    }
    next.run(req).await
}

async fn count_requests(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status();
    {
        let mut requests = app.requests.lock().expect("metrics");
        *requests.entry((route, status.as_u16())).or_default() += 1;
    }
    // axum's own refusals (body too large, wrong method, bad path parameter) are plain text: answer them as
    // JSON `{"error": …}` like every other error.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (parts, body) = response.into_parts();
        let text = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let mut message = String::from_utf8_lossy(&text).trim().to_string();
        if message.is_empty() {
            message = status.canonical_reason().unwrap_or("error").to_string();
        }
        let mut out = (status, Json(json!({ "error": message }))).into_response();
        for (name, value) in parts.headers.iter() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return out;
    }
    response
}

async fn health(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    app.store.ping().await?;
    Ok(Json(
        json!({"status": "ok", "database": app.store.dialect()}),
    ))
}

async fn metrics(State(app): State<Arc<App>>) -> ApiResult<Response> {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP zkattr_jobs Jobs by kind and state.\n# TYPE zkattr_jobs gauge"
    );
    for (kind, state, n) in app.store.job_counts().await? {
        let _ = writeln!(out, "zkattr_jobs{{kind=\"{kind}\",state=\"{state}\"}} {n}");
    }
    let workers = app.store.workers().await?;
    let _ = writeln!(
        out,
        "# HELP zkattr_workers Registered workers.\n# TYPE zkattr_workers gauge"
    );
    let _ = writeln!(out, "zkattr_workers {}", workers.len());
    let _ = writeln!(
        out,
        "# HELP zkattr_results_total Submitted results by outcome.\n# TYPE zkattr_results_total counter"
    );
    for (outcome, n) in app.results.lock().expect("metrics").iter() {
        let _ = writeln!(out, "zkattr_results_total{{outcome=\"{outcome}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP zkattr_http_requests_total Requests by route and status.\n# TYPE zkattr_http_requests_total counter"
    );
    for ((route, status), n) in app.requests.lock().expect("metrics").iter() {
        let _ = writeln!(
            out,
            "zkattr_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

async fn register(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = app.signer(&method, &uri, &headers, &body).await?;
    let req: RegisterRequest = parse_json(&body)?;
    if req.capabilities.to_string().len() > 4096 {
        return Err(ApiError::bad("capabilities: more than 4096 bytes of JSON"));
    }
    let w = app
        .store
        .register_worker(&lower(&signer), &req.capabilities, now_ms())
        .await?;
    Ok(Json(json!(w)))
}

async fn worker(
    State(app): State<Arc<App>>,
    Path(address): Path<String>,
) -> ApiResult<Json<Value>> {
    let a: Address = address
        .parse()
        .map_err(|e| ApiError::bad(format!("address {address:?}: {e}")))?;
    let w = app.store.worker(&lower(&a)).await.map_err(|e| match e {
        StoreError::NoSuchWorker(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        other => other.into(),
    })?;
    let fees = app.store.fees(&w.address).await?;
    let total: u128 = fees
        .iter()
        .filter_map(|f| f.amount.parse::<u128>().ok())
        .sum();
    Ok(Json(
        json!({"worker": w, "fees": fees, "fees_total": total.to_string()}),
    ))
}

async fn lease(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let signer = lower(&app.signer(&method, &uri, &headers, &body).await?);
    let mut req: LeaseRequest = parse_json(&body)?;
    req.kinds.sort_by_key(|k| k.as_str());
    req.kinds.dedup();
    let wait = Duration::from_millis(req.wait_ms.min(30_000));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let changed = app.jobs_changed.notified();
        if let Some(lease) = app
            .store
            .lease(&signer, &req.kinds, now_ms(), app.cfg.lease_ttl_ms)
            .await?
        {
            let job = app.store.job(lease.job).await?;
            let train_result = match job.after {
                Some(after) => app.store.job(after).await?.result,
                None => None,
            };
            let grant = LeaseGrant {
                lease,
                train_result,
                heartbeat_ms: (app.cfg.lease_ttl_ms / 4).max(100),
            };
            return Ok(Json(grant).into_response());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        // Woken by a change, or every second for leases that expire.
        let _ = tokio::time::timeout((deadline - now).min(Duration::from_secs(1)), changed).await;
    }
}

async fn job(State(app): State<Arc<App>>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let j = app.store.job(id).await?;
    let events = app.store.job_events(id).await?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|(at, worker, event, detail)| json!({"at": at, "worker": worker, "event": event, "detail": detail}))
        .collect();
    Ok(Json(json!({"job": j, "events": events})))
}

async fn heartbeat(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = lower(&app.signer(&method, &uri, &headers, &body).await?);
    let req: HeartbeatRequest = parse_json(&body)?;
    if req
        .progress
        .as_ref()
        .is_some_and(|p| p.to_string().len() > 4096)
    {
        return Err(ApiError::bad("progress: more than 4096 bytes of JSON"));
    }
    let until = app
        .store
        .heartbeat(
            id,
            &req.lease_id,
            &signer,
            req.progress.as_ref(),
            now_ms(),
            app.cfg.lease_ttl_ms,
        )
        .await?;
    Ok(Json(json!({"until": until})))
}

async fn fail(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = lower(&app.signer(&method, &uri, &headers, &body).await?);
    let req: FailRequest = parse_json(&body)?;
    let mut reason: String = req.reason.chars().take(2000).collect();
    if !req.transient {
        reason.insert_str(0, "(reported as permanent) ");
    }
    // A worker cannot fail a job for good: it is retried elsewhere until its attempts run out (an operator
    // requeues it after that), so one worker cannot end an epoch.
    let state = app
        .store
        .fail(id, &req.lease_id, &signer, &reason, true, now_ms())
        .await?;
    app.jobs_changed.notify_waiters();
    Ok(Json(json!({"state": state})))
}

async fn result(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = lower(&app.signer(&method, &uri, &headers, &body).await?);
    let req: ResultRequest = parse_json(&body)?;
    drop(body);
    app.store.holds(id, &req.lease_id, &signer).await?;
    // The lease must not run out while the result waits for and goes through its check (the worker keeps
    // sending heartbeats too). Past the attempt's time limit it is not renewed; the check goes on.
    match app
        .store
        .heartbeat(
            id,
            &req.lease_id,
            &signer,
            None,
            now_ms(),
            app.cfg.lease_ttl_ms,
        )
        .await
    {
        Ok(_) | Err(StoreError::TimeLimit { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let job = app.store.job(id).await?;
    let spec: JobSpec = serde_json::from_value(job.spec.clone())
        .map_err(|e| ApiError::internal("stored job spec", e))?;
    let train_result = match job.after {
        Some(after) => app.store.job(after).await?.result,
        None => None,
    };
    // One check at a time; the permit goes with the check, so a client hanging up cannot start another.
    let permit = app
        .checking
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal("check queue", e))?;
    let snapshot = app.snapshot(&spec, job.kind == JobKind::Train).await?;
    let (home, keys, srs) = (
        app.cfg.home.clone(),
        app.cfg.keys_dir.clone(),
        app.cfg.srs.clone(),
    );
    let artifacts = app.artifacts.clone();
    let target = CheckTarget {
        kind: job.kind,
        spec,
        snapshot,
        train_result,
    };
    let checked = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let outcome = check_result(&home, &keys, &srs, &artifacts, &target, &req.bundle);
        // Keep an accepted bundle (written and synced before the job is marked done).
        let stored = match &outcome {
            Ok(_) => Some(
                artifacts
                    .put(&req.bundle.to_bytes())
                    .map_err(|e| e.to_string()),
            ),
            Err(_) => None,
        };
        (outcome, stored, req.lease_id)
    })
    .await
    .map_err(|e| ApiError::internal("result check", e))?;
    let (outcome, stored, lease_id) = checked;
    let now = now_ms();
    match outcome {
        Ok(detail) => {
            let address = match stored {
                Some(Ok(a)) => a,
                Some(Err(e)) => return Err(ApiError::internal("artifact store", e)),
                None => unreachable!("an accepted result is stored"),
            };
            app.store
                .accept(
                    id,
                    &lease_id,
                    &signer,
                    &address,
                    &app.cfg.fee_per_job.to_string(),
                    now,
                )
                .await?;
            app.count_result("accepted");
            app.jobs_changed.notify_waiters();
            Ok(Json(
                json!({"accepted": true, "result": address, "detail": detail}),
            ))
        }
        // The coordinator's own failure: not the worker's fault, nothing counted, the lease stays.
        Err(CheckError::Internal(e)) => Err(ApiError::internal("result check", e)),
        Err(CheckError::Rejected(reason)) => {
            let state = app
                .store
                .reject(id, &lease_id, &signer, &reason, now)
                .await?;
            app.count_result("rejected");
            app.jobs_changed.notify_waiters();
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("result rejected: {reason} (job is now {state})"),
            ))
        }
    }
}

/// Datanets in the home's state database are not served (the coordinator serves those in its own database,
/// since migration 4 of its schema, which carried over their owners but not their records): say so at
/// start-up for each one whose sealed versions the coordinator's database does not have, with the way across.
async fn warn_about_home_datanets(home: &std::path::Path, store: &Store) {
    let home = home.to_path_buf();
    let local =
        tokio::task::spawn_blocking(move || -> crate::Result<Vec<(String, Vec<String>)>> {
            let Some(nets) = Datanets::open_existing(&home)? else {
                return Ok(Vec::new());
            };
            nets.list()?
                .into_iter()
                .map(|n| {
                    let roots = nets
                        .show(&n)?
                        .versions
                        .into_iter()
                        .map(|v| v.root)
                        .collect();
                    Ok((n, roots))
                })
                .collect()
        })
        .await;
    let Ok(Ok(local)) = local else {
        return;
    };
    for (name, roots) in local {
        let served: Vec<String> = match store.datanet_summary(&name).await {
            Ok(s) => s.versions.into_iter().map(|v| v.root).collect(),
            Err(_) => Vec::new(),
        };
        if !roots.starts_with(&served) || served.len() < roots.len() {
            tracing::warn!(
                "Datanet {name:?} has {} sealed versions in this home's state database and {} in the \
                 coordinator's, which serves only its own; copy them with \
                 `zkattr datanet push {name} --coordinator URL --key FILE`",
                roots.len(),
                served.len()
            );
        }
    }
}

/// What a result is checked against.
struct CheckTarget {
    /// The job's kind.
    kind: JobKind,
    /// Its spec.
    spec: JobSpec,
    /// Its epoch's snapshot.
    snapshot: Snapshot,
    /// The epoch's accepted training result (for a proving job).
    train_result: Option<String>,
}

/// The epoch's sealed version, for checking a result against it.
struct Snapshot {
    /// The version, as sealed in the coordinator's database.
    sealed: crate::datanet::store::SealedVersion,
    /// Its local copy (a home's Datanet), when the check re-derives features from the items.
    dir: Option<PathBuf>,
}

impl App {
    /// The sealed version a job is for, with a local copy of it when `local` (built once per root from the
    /// coordinator's own records, every signature and root checked again, and kept under
    /// `<home>/snapshots/`).
    async fn snapshot(&self, spec: &JobSpec, local: bool) -> ApiResult<Snapshot> {
        let req = &spec.request;
        let sealed = self
            .store
            .datanet_version(&req.datanet, req.version)
            .await
            .map_err(|e| ApiError::internal("the epoch's snapshot", e))?;
        if sealed.root != spec.datanet_root {
            return Err(ApiError::internal(
                "the epoch's snapshot",
                format!(
                    "{} version {} has root {}, but the epoch was created for {}",
                    req.datanet, req.version, sealed.root, spec.datanet_root
                ),
            ));
        }
        if !local {
            return Ok(Snapshot { sealed, dir: None });
        }
        let dir = super::snapshot::dir(&self.cfg.home, &req.datanet, req.version, &sealed.root)
            .map_err(|e| ApiError::internal("the epoch's snapshot", e))?;
        if !super::snapshot::is_complete(&dir) {
            let versions: Vec<(u64, u64, String)> = self
                .store
                .datanet_summary(&req.datanet)
                .await
                .map_err(|e| ApiError::internal("the epoch's snapshot", e))?
                .versions
                .into_iter()
                .filter(|v| v.version <= req.version)
                .map(|v| (v.version, v.items, v.root))
                .collect();
            let mut records = self
                .store
                .datanet_records(&req.datanet, req.version)
                .await
                .map_err(|e| ApiError::internal("the epoch's snapshot", e))?
                .join("\n");
            records.push('\n');
            let (name, version, root, dir) = (
                req.datanet.clone(),
                req.version,
                sealed.root.clone(),
                dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                super::snapshot::build(&dir, &name, version, &root, &versions, records.as_bytes())
            })
            .await
            .map_err(|e| ApiError::internal("the epoch's snapshot", e))?
            .map_err(|e| ApiError::internal("the epoch's snapshot", e))?;
        }
        Ok(Snapshot {
            sealed,
            dir: Some(dir),
        })
    }
}

/// Why a result was not accepted.
#[derive(Debug)]
enum CheckError {
    /// The result is wrong: the worker's fault.
    Rejected(String),
    /// The coordinator could not check it (its disk, its keys, its database): not the worker's fault.
    Internal(String),
}

fn rejected(e: impl std::fmt::Display) -> CheckError {
    CheckError::Rejected(e.to_string())
}

fn internal(e: impl std::fmt::Display) -> CheckError {
    CheckError::Internal(e.to_string())
}

/// Checks a worker's result; see the module documentation.
fn check_result(
    home: &std::path::Path,
    keys: &std::path::Path,
    srs: &SrsSource,
    artifacts: &Artifacts,
    target: &CheckTarget,
    bundle: &Bundle,
) -> Result<String, CheckError> {
    bundle.check().map_err(rejected)?;
    let scratch = home.join("tmp");
    std::fs::create_dir_all(&scratch).map_err(internal)?;
    let tmp = tempfile::tempdir_in(&scratch).map_err(internal)?;
    let dir = tmp.path().join("result");
    bundle.to_dir(&dir).map_err(internal)?;
    // The worker is told file names relative to its bundle, not the coordinator's folders.
    let prefix = format!("{}/", dir.display());
    check_unpacked(keys, srs, artifacts, target, &dir).map_err(|e| match e {
        CheckError::Rejected(r) => CheckError::Rejected(r.replace(&prefix, "")),
        other => other,
    })
}

fn check_unpacked(
    keys: &std::path::Path,
    srs: &SrsSource,
    artifacts: &Artifacts,
    target: &CheckTarget,
    dir: &std::path::Path,
) -> Result<String, CheckError> {
    use crate::Error as E;
    let (kind, spec, snapshot, train_result) = (
        target.kind,
        &target.spec,
        &target.snapshot,
        target.train_result.as_deref(),
    );
    // Errors about the worker's files are its fault; anything else (the coordinator's disk, database,
    // keys) is not.
    let classify = |e: E| match e {
        E::Io { ref path, .. } if path.starts_with(dir) => rejected(e),
        E::Io { .. } | E::Db(_) | E::Store(_) | E::Corrupt(_) | E::Coordinator(_) => internal(e),
        other => rejected(other),
    };
    let req = &spec.request;
    let params = req.params().map_err(internal)?;
    let sealed = &snapshot.sealed;
    match kind {
        JobKind::Train => {
            let manifest: crate::epoch::ModelManifest =
                crate::epoch::read_json(&dir.join("model.json")).map_err(classify)?;
            if manifest.datanet != req.datanet
                || manifest.version != req.version
                || manifest.datanet_root != spec.datanet_root
            {
                return Err(rejected(format!(
                    "model.json is for {} version {} (root {}), not the epoch's {} version {} (root {})",
                    manifest.datanet,
                    manifest.version,
                    manifest.datanet_root,
                    req.datanet,
                    req.version,
                    spec.datanet_root
                )));
            }
            // The artifact must attribute the epoch's queries, not queries of the worker's choosing.
            let artifact: zkattr_trainer::influence::AttributionArtifact =
                crate::epoch::read_json(&dir.join("attribution.json")).map_err(classify)?;
            use zkattr_trainer::{data, influence::Queries};
            let expected = match &artifact.queries {
                Queries::Features(_) => data::parse_queries(
                    &req.queries,
                    manifest.config.inputs,
                    crate::epoch::MAX_VALUE,
                )
                .map(Queries::Features),
                Queries::Texts(_) => data::parse_text_queries(&req.queries).map(Queries::Texts),
            }
            // Training on the epoch's queries parses them with the model's input width, so a result whose
            // model.json (or kind of queries) they do not fit was not trained on them: the worker's fault.
            .map_err(|e| {
                rejected(format!(
                    "the epoch's queries do not fit model.json's {} inputs: {e}",
                    manifest.config.inputs
                ))
            })?;
            if artifact.queries != expected {
                return Err(rejected(
                    "attribution.json attributes other queries than the epoch's",
                ));
            }
            // Its features must be the epoch's parameter set's (dimension, widths, scale): the re-derivation
            // below checks the artifact against its own settings, and one made under other settings could
            // never be proven for this epoch.
            crate::proving::check_artifact_settings(&artifact, &params).map_err(rejected)?;
            let local = snapshot
                .dir
                .as_deref()
                .ok_or_else(|| internal("no local snapshot to re-derive the training result"))?;
            let nets = Datanets::open(local).map_err(internal)?;
            let report = crate::epoch::recompute(&nets, dir, None).map_err(classify)?;
            if let Some(m) = report.mismatches.first() {
                return Err(rejected(format!(
                    "the artifact does not follow from its model and the snapshot: {} difference(s), first: {}",
                    report.mismatches.len(),
                    m.what
                )));
            }
            Ok(format!("{} items re-derived exactly", report.items))
        }
        JobKind::Prove => {
            // The statement's shape first: verifying derives keys for the shape it names, so a shape other
            // than the epoch's is refused before any work.
            let st: StatementFile =
                crate::epoch::read_json(&dir.join("statement.json")).map_err(classify)?;
            if st.items as u64 != sealed.items || st.params != params {
                return Err(rejected(format!(
                    "statement.json is for {} items under parameters {}, not the epoch's {} items under {}",
                    st.items,
                    st.params_hash,
                    sealed.items,
                    field::to_hex(&params.hash())
                )));
            }
            let report =
                proving::verify_dir(dir, srs, keys, None, &mut proving::Quiet).map_err(classify)?;
            let p = &st.public_inputs;
            let settlement = req.settlement().map_err(internal)?;
            let expected = [
                ("chain_id", p.chain_id.to_string(), req.chain_id.to_string()),
                (
                    "settlement",
                    p.settlement.to_lowercase(),
                    lower(&settlement),
                ),
                ("epoch", p.epoch.to_string(), req.epoch.to_string()),
                (
                    "pool",
                    p.pool.clone(),
                    req.pool().map_err(internal)?.to_string(),
                ),
                (
                    "datanet_root",
                    p.datanet_root.clone(),
                    spec.datanet_root.clone(),
                ),
                (
                    "params_hash",
                    p.params_hash.clone(),
                    field::to_hex(&params.hash()),
                ),
                // The names receipts show: the root above already fixes the data.
                ("datanet", st.datanet.clone(), req.datanet.clone()),
                ("version", st.version.to_string(), req.version.to_string()),
            ];
            let mut wrong: Vec<String> = expected
                .iter()
                .filter(|(_, got, want)| got != want)
                .map(|(name, got, want)| format!("{name} is {got}, the epoch's is {want}"))
                .collect();
            let train =
                train_result.ok_or_else(|| internal("the epoch's training result is missing"))?;
            let bytes = artifacts.get(train).map_err(internal)?.ok_or_else(|| {
                internal("the epoch's training result is missing from the artifact store")
            })?;
            let train = Bundle::from_bytes(&bytes).map_err(internal)?;
            let artifact: zkattr_trainer::influence::AttributionArtifact =
                serde_json::from_slice(&train.file("attribution.json").map_err(internal)?)
                    .map_err(|e| internal(format!("training result attribution.json: {e}")))?;
            for (name, got, want) in [
                ("features_root", &p.features_root, &artifact.features_root),
                (
                    "query_commitment",
                    &p.query_commitment,
                    &artifact.query_commitment,
                ),
                (
                    "model_commitment",
                    &p.model_commitment,
                    &artifact.model_commitment,
                ),
            ] {
                if got != want {
                    wrong.push(format!(
                        "{name} is {got}, the accepted training result's is {want}"
                    ));
                }
            }
            if !wrong.is_empty() {
                return Err(rejected(format!(
                    "the proof is valid but not for this epoch: {}",
                    wrong.join("; ")
                )));
            }
            // Every contributor on the list has their receipt (served by name).
            let list = std::fs::read(dir.join("reward-list.bin")).map_err(rejected)?;
            let entries = proving::parse_reward_list(&list).map_err(rejected)?;
            if report.receipts != entries.len() {
                return Err(rejected(format!(
                    "{} receipts for {} reward-list entries",
                    report.receipts,
                    entries.len()
                )));
            }
            Ok(format!("proof verifies; {} receipts", report.receipts))
        }
    }
}

async fn requeue(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = app.signer(&method, &uri, &headers, &body).await?;
    if !app.cfg.operators.contains(&signer) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{signer:#x} is not an operator of this coordinator; only operators requeue jobs"
            ),
        ));
    }
    if !app.store.requeue(id, now_ms()).await? {
        let j = app.store.job(id).await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job {id} is {}, not failed; only a failed job is requeued",
                j.state
            ),
        ));
    }
    app.jobs_changed.notify_waiters();
    Ok(Json(json!({"requeued": id})))
}

async fn create_epoch(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let signer = app.signer(&method, &uri, &headers, &body).await?;
    if !app.cfg.operators.contains(&signer) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{signer:#x} is not an operator of this coordinator; only operators create epochs"
            ),
        ));
    }
    let req: EpochRequest = parse_json(&body)?;
    req.params().map_err(ApiError::bad)?;
    req.pool().map_err(ApiError::bad)?;
    let key = req.key().map_err(ApiError::bad)?;
    if req.queries.trim().is_empty() {
        return Err(ApiError::bad(
            "queries: empty (JSON lines of attribution queries)",
        ));
    }
    let sealed = app
        .store
        .datanet_version(&req.datanet, req.version)
        .await
        .map_err(|e| match e {
            crate::Error::DatanetNotFound { .. }
            | crate::Error::VersionNotFound { .. }
            | crate::Error::InvalidName { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, datanet_error(e).message)
            }
            other => datanet_error(other),
        })?;
    let spec = JobSpec {
        request: req.clone(),
        datanet_root: sealed.root.clone(),
    };
    let spec = serde_json::to_value(&spec).map_err(|e| ApiError::internal("spec", e))?;
    let request = serde_json::to_value(&req).map_err(|e| ApiError::internal("request", e))?;
    let (train, prove) = app
        .store
        .create_epoch(
            &key,
            &request,
            &sealed.root,
            &spec,
            app.cfg.max_attempts,
            now_ms(),
        )
        .await?;
    app.jobs_changed.notify_waiters();
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"key": key, "datanet_root": sealed.root, "train_job": train, "prove_job": prove}),
        ),
    ))
}

async fn epochs(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"epochs": app.store.epoch_keys().await?})))
}

async fn epoch(State(app): State<Arc<App>>, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    let e = app.store.epoch(&key).await?;
    let train = app.store.job(e.train_job).await?;
    let prove = app.store.job(e.prove_job).await?;
    let state = match (train.state, prove.state) {
        (JobState::Failed, _) | (_, JobState::Failed) => "failed",
        (_, JobState::Done) => "proven",
        (JobState::Done, _) => "proving",
        _ => "training",
    };
    Ok(Json(json!({
        "key": e.key,
        "state": state,
        "request": e.request,
        "datanet_root": e.datanet_root,
        "train": train,
        "prove": prove,
        "model": train.result,
        "proof": prove.result,
    })))
}

async fn artifact(State(app): State<Arc<App>>, Path(address): Path<String>) -> ApiResult<Response> {
    let artifacts = app.artifacts.clone();
    let a = address.clone();
    let bytes = tokio::task::spawn_blocking(move || artifacts.get(&a))
        .await
        .map_err(|e| ApiError::internal("artifact read", e))?
        .map_err(|e| match e {
            crate::Error::BadArtifact(m) => ApiError::bad(m),
            other => ApiError::internal("artifact store", other),
        })?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no artifact {address}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

fn datanet_error(e: crate::Error) -> ApiError {
    use crate::Error as E;
    match e {
        E::DatanetNotFound { name } => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no Datanet named {name:?} on this coordinator (create it with POST /v1/datanets)"
            ),
        ),
        E::VersionNotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        E::DatanetExists { .. } | E::NothingToSeal { .. } | E::SealMismatch { .. } => {
            ApiError::new(StatusCode::CONFLICT, e.to_string())
        }
        E::InvalidName { .. }
        | E::Malformed { .. }
        | E::RecordTooLarge { .. }
        | E::BadSignature { .. }
        | E::Duplicate { .. }
        | E::EmptyImport { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        other => ApiError::internal("datanet store", other),
    }
}

/// `POST /v1/datanets/{name}/seal` body (may be empty or `{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealRequest {
    /// Seal only if the Datanet has exactly this many items (409 otherwise, nothing sealed).
    #[serde(default)]
    pub items: Option<u64>,
}

/// `POST /v1/datanets` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDatanetRequest {
    /// The new Datanet's name.
    pub name: String,
}

async fn datanets(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    let names = app.store.datanet_names().await.map_err(datanet_error)?;
    Ok(Json(json!({ "datanets": names })))
}

async fn create_datanet(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let signer = app.signer(&method, &uri, &headers, &body).await?;
    let req: CreateDatanetRequest = parse_json(&body)?;
    app.store
        .create_datanet(&req.name, &lower(&signer), now_ms())
        .await
        .map_err(datanet_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": req.name, "owner": lower(&signer)})),
    ))
}

async fn add_records(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    // Anyone may submit: every record carries its contributor's own signature, checked on import.
    let submitter = app.signer(&method, &uri, &headers, &body).await?;
    let summary = app
        .store
        .add_records(
            &name,
            body.to_vec(),
            &lower(&submitter),
            crate::datanet::ImportOptions::default(),
            now_ms(),
        )
        .await
        .map_err(datanet_error)?;
    Ok(Json(json!(summary)))
}

async fn seal(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let signer = app.signer(&method, &uri, &headers, &body).await?;
    let owner = app
        .store
        .datanet_owner(&name)
        .await
        .map_err(datanet_error)?
        .ok_or_else(|| datanet_error(crate::Error::DatanetNotFound { name: name.clone() }))?;
    let allowed = owner == lower(&signer) || app.cfg.operators.contains(&signer);
    if !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} may not seal {name:?}: only its owner ({}) or an operator seals it",
                lower(&signer),
                owner
            ),
        ));
    }
    let req: SealRequest = if body.is_empty() {
        SealRequest::default()
    } else {
        parse_json(&body)?
    };
    let sealed = app
        .store
        .seal_datanet(&name, req.items, now_ms())
        .await
        .map_err(datanet_error)?;
    Ok(Json(json!(sealed)))
}

async fn datanet(State(app): State<Arc<App>>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let summary = app
        .store
        .datanet_summary(&name)
        .await
        .map_err(datanet_error)?;
    let owner = app
        .store
        .datanet_owner(&name)
        .await
        .map_err(datanet_error)?;
    let mut v = json!(summary);
    v["owner"] = json!(owner);
    Ok(Json(v))
}

async fn records(
    State(app): State<Arc<App>>,
    Path((name, version)): Path<(String, u64)>,
) -> ApiResult<Response> {
    let lines = app
        .store
        .datanet_records(&name, version)
        .await
        .map_err(datanet_error)?;
    let mut body = lines.join("\n");
    body.push('\n');
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

async fn receipt(
    State(app): State<Arc<App>>,
    Path((key, contributor)): Path<(String, String)>,
) -> ApiResult<Response> {
    let who: Address = contributor
        .parse()
        .map_err(|e| ApiError::bad(format!("contributor {contributor:?}: {e}")))?;
    let e = app.store.epoch(&key).await?;
    let prove = app.store.job(e.prove_job).await?;
    let Some(proof) = prove.result else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "epoch {key} has no accepted proof yet (its proving job is {})",
                prove.state
            ),
        ));
    };
    let bundle = app.bundle(&proof).await?;
    let name = format!("receipts/{}.json", lower(&who));
    if !bundle.files.contains_key(&name) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{} has no reward in epoch {key}", lower(&who)),
        ));
    }
    let file = bundle
        .file(&name)
        .map_err(|e| ApiError::internal("proof bundle", e))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], file).into_response())
}
