//! The worker (`zkattr worker`): leases jobs from a coordinator, runs them, returns the results.
//!
//! For each lease it rebuilds the job's snapshot from the coordinator's signed records (checking every
//! signature and every sealed root on the way, so a coordinator cannot make it train or prove on other
//! data), runs the trainer or the prover on a blocking thread while a heartbeat keeps the lease alive and
//! reports the phase, and submits the output directory. Calls that fail for a transient reason
//! (coordinator unreachable, 5xx, 429) are retried with backoff; a job that fails on the worker is reported
//! (transient, so another attempt may run it). On a stop signal it stops leasing, hands back a running job
//! (reported failed, transient: it is leased again at once, elsewhere) and exits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::bundle::Bundle;
use super::client::{Client, ClientError};
use super::server::{JobSpec, LeaseGrant};
use super::store::JobKind;
use crate::datanet::Datanets;
use crate::error::{Error, Result};
use crate::proving::{self, PhaseTime, Progress, ProveRequest, SrsSource};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The coordinator's URL.
    pub coordinator: String,
    /// The worker's key (its identity, and where fees are recorded).
    pub key: k256::ecdsa::SigningKey,
    /// Its own home: snapshots, scratch.
    pub home: PathBuf,
    /// The key cache it proves with (`<home>/keys` unless shared).
    pub keys_dir: PathBuf,
    /// Kinds of job it takes.
    pub kinds: Vec<JobKind>,
    /// The KZG setup (must be the coordinator's).
    pub srs: SrsSource,
    /// Stop after this many jobs (`None`: run until stopped).
    pub max_jobs: Option<usize>,
    /// Where it proves (`auto`: a GPU when built with CUDA and one is usable).
    pub backend: zkattr_gpu_msm::BackendChoice,
}

/// What a worker did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkerReport {
    /// Results accepted.
    pub accepted: usize,
    /// Results rejected.
    pub rejected: usize,
    /// Jobs that failed here.
    pub failed: usize,
}

/// What the worker can do, as advertised at registration: the device training runs on (a CUDA GPU when
/// built with the `cuda` feature and one is present, else the CPU), the proving backend `backend` resolves
/// to on this machine (with the GPU's name and memory), and the CPU count.
pub fn capabilities(backend: zkattr_gpu_msm::BackendChoice) -> Value {
    let train = match zkattr_trainer::mlp::default_device() {
        candle_core::Device::Cpu => "cpu".to_string(),
        other => format!("{other:?}"),
    };
    let prove = zkattr_gpu_msm::select(backend, 0);
    json!({
        "train_device": train,
        "prove_backend": prove.as_ref().map_or("unavailable", |s| s.kind.as_str()),
        "prove_device": prove.as_ref().ok().and_then(|s| s.device.as_ref()).map(|d| json!({
            "name": d.name,
            "memory_bytes": d.total_memory,
            "compute_capability": format!("{}.{}", d.compute_capability.0, d.compute_capability.1),
        })),
        "prove_backend_reason": match &prove {
            Ok(s) => s.reason.clone(),
            Err(e) => e.to_string(),
        },
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Retries `f` while it fails transiently, with backoff, up to about a minute; stops early on `stop`.
async fn retry<T, F, Fut>(
    what: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
    mut f: F,
) -> std::result::Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, ClientError>>,
{
    let mut delay = Duration::from_millis(200);
    let mut tries = 0;
    loop {
        match f().await {
            Err(e) if e.is_transient() && tries < 10 && !*stop.borrow() => {
                tracing::warn!("{what}: {e}; retrying in {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Runs the worker until `stop` turns true (or `max_jobs` are done).
pub async fn run(
    cfg: WorkerConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<WorkerReport> {
    let client = Client::new(&cfg.coordinator, Some(cfg.key.clone())).map_err(coord_err)?;
    retry("register", &stop, || {
        client.register(capabilities(cfg.backend))
    })
    .await
    .map_err(coord_err)?;
    let mut report = WorkerReport::default();
    let mut stop_wait = stop.clone();
    while !*stop.borrow()
        && cfg
            .max_jobs
            .is_none_or(|m| report.accepted + report.rejected + report.failed < m)
    {
        let leased = tokio::select! {
            r = retry("lease", &stop, || client.lease(&cfg.kinds, 10_000)) => r.map_err(coord_err)?,
            _ = stop_wait.changed() => None,
        };
        let Some(grant) = leased else { continue };
        tracing::info!(
            "leased job {} ({}, attempt {})",
            grant.lease.job,
            grant.lease.kind,
            grant.lease.attempt
        );
        let progress = Arc::new(Mutex::new(json!({"phase": "starting"})));
        let (lost_tx, mut lost) = tokio::sync::watch::channel(None::<String>);
        let mut work = tokio::spawn(run_job(
            client.clone(),
            cfg.clone(),
            grant.clone(),
            progress.clone(),
        ));
        // Heartbeats run until the result is submitted, so a slow upload or check cannot lose the lease.
        let beat = tokio::spawn(heartbeats(
            client.clone(),
            grant.clone(),
            progress.clone(),
            lost_tx,
        ));
        let (job, lease_id) = (grant.lease.job, grant.lease.lease_id.as_str());
        let outcome = tokio::select! {
            // A job that panicked is reported like any failure; the worker goes on.
            r = &mut work => r.unwrap_or_else(|e| Err(Error::Coordinator(format!("the job crashed: {e}")))),
            _ = stop_wait.changed() => {
                // Stopping: hand the job back so it runs elsewhere now, not after the lease expires.
                beat.abort();
                let _ = client.fail(job, lease_id, "the worker was stopped", true).await;
                report.failed += 1;
                break;
            }
            _ = lost.changed() => {
                // The lease is gone (taken over, or the attempt's time limit): stop waiting for this job;
                // its thread finishes in the background and its result is dropped.
                beat.abort();
                let why = lost.borrow().clone().unwrap_or_default();
                tracing::warn!("job {job}: lease lost ({why}); abandoning it");
                report.failed += 1;
                continue;
            }
        };
        match outcome {
            Ok(bundle) => match retry("submit", &stop, || {
                client.submit(job, lease_id, bundle.clone())
            })
            .await
            {
                Ok(v) => {
                    tracing::info!("job {job} accepted: {}", v["detail"]);
                    report.accepted += 1;
                }
                Err(e) => {
                    tracing::warn!("job {job}: result not accepted: {e}");
                    report.rejected += 1;
                }
            },
            Err(e) => {
                tracing::warn!("job {job} failed here: {e}");
                let reason = e.to_string();
                let _ = retry("fail", &stop, || client.fail(job, lease_id, &reason, true)).await;
                report.failed += 1;
            }
        }
        beat.abort();
    }
    Ok(report)
}

fn coord_err(e: ClientError) -> Error {
    Error::Coordinator(format!("coordinator: {e}"))
}

/// Renews the lease every `heartbeat_ms` with the current progress until aborted; tells `lost` (and stops)
/// when the coordinator says the lease is no longer this worker's.
async fn heartbeats(
    client: Client,
    grant: LeaseGrant,
    progress: Arc<Mutex<Value>>,
    lost: tokio::sync::watch::Sender<Option<String>>,
) {
    let every = Duration::from_millis(grant.heartbeat_ms.max(100) as u64);
    loop {
        tokio::time::sleep(every).await;
        let p = progress.lock().map(|p| p.clone()).ok();
        match client
            .heartbeat(grant.lease.job, &grant.lease.lease_id, p)
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.status().map(|s| s.as_u16()), Some(404 | 409)) => {
                let _ = lost.send(Some(e.to_string()));
                return;
            }
            Err(e) => tracing::warn!("heartbeat for job {}: {e}", grant.lease.job),
        }
    }
}

struct SharedProgress(Arc<Mutex<Value>>);

impl Progress for SharedProgress {
    fn start(&mut self, phase: &str) {
        if let Ok(mut p) = self.0.lock() {
            *p = json!({"phase": phase});
        }
    }
    fn done(&mut self, _: &PhaseTime) {}
}

async fn run_job(
    client: Client,
    cfg: WorkerConfig,
    grant: LeaseGrant,
    progress: Arc<Mutex<Value>>,
) -> Result<Bundle> {
    let spec: JobSpec = serde_json::from_value(grant.lease.spec.clone())
        .map_err(|e| Error::BadArtifact(format!("job spec: {e}")))?;
    let req = &spec.request;
    *progress.lock().expect("progress") = json!({"phase": "snapshot"});
    let (snapshot, _) = super::snapshot::fetch(
        &client,
        &cfg.home,
        &req.datanet,
        req.version,
        Some(&spec.datanet_root),
    )
    .await?;
    let train_bundle = match (grant.lease.kind, &grant.train_result) {
        (JobKind::Prove, Some(address)) => Some(Bundle::from_bytes(
            &client.artifact(address).await.map_err(coord_err)?,
        )?),
        (JobKind::Prove, None) => {
            return Err(Error::BadArtifact(
                "a proving job without a training result".into(),
            ))
        }
        _ => None,
    };
    let scratch = cfg.home.join("tmp");
    std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
    let tmp = tempfile::tempdir_in(&scratch).map_err(|e| Error::io(&scratch, e))?;
    let kind = grant.lease.kind;
    let (spec, srs, keys) = (spec.clone(), cfg.srs.clone(), cfg.keys_dir.clone());
    let backend = cfg.backend;
    tokio::task::spawn_blocking(move || -> Result<Bundle> {
        let nets = Datanets::open(&snapshot)?;
        let req = &spec.request;
        let params = req.params().map_err(Error::BadArtifact)?;
        let out = tmp.path().join("out");
        match kind {
            JobKind::Train => {
                if let Ok(mut p) = progress.lock() {
                    *p = json!({"phase": "train"});
                }
                let opts = crate::epoch::TrainOptions {
                    seed: req.seed,
                    steps: req.steps,
                    params,
                    ..Default::default()
                };
                crate::epoch::train(
                    &nets,
                    &req.datanet,
                    req.version,
                    &opts,
                    Some(&req.queries),
                    &out,
                )?;
            }
            JobKind::Prove => {
                let artifact = tmp.path().join("artifact");
                train_bundle.expect("checked above").to_dir(&artifact)?;
                let settlement = req.settlement().map_err(Error::BadArtifact)?;
                let r = ProveRequest {
                    datanet: req.datanet.clone(),
                    version: req.version,
                    artifact,
                    params,
                    epoch: req.epoch,
                    pool: req.pool().map_err(Error::BadArtifact)?,
                    chain_id: req.chain_id,
                    settlement: settlement.into_array(),
                    srs,
                    keys_dir: keys,
                    out: out.clone(),
                    backend,
                    // What the worker's machine has available when the job starts.
                    memory_limit: None,
                };
                proving::prove_epoch(&nets, &r, &mut SharedProgress(progress))?;
            }
        }
        Bundle::from_dir(&out)
    })
    .await
    .map_err(|e| Error::Coordinator(format!("job thread: {e}")))?
}
