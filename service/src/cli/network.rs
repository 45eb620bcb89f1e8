//! `zkattr serve` (the coordinator) and `zkattr worker` (a prover renting out its machine).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{prove::SrsArgs, Ctx, Output};
use crate::{
    chain::read_key,
    coord::{
        server::{self, App, Config},
        worker::{self, WorkerConfig},
        JobKind,
    },
    error::{Error, Result},
};

/// `zkattr serve`
#[derive(Debug, Args)]
pub struct ServeCmd {
    /// Address to listen on (port 0: any free port; the address is printed on standard error).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Job database: `sqlite://FILE` or `postgres://USER@HOST/DB` (default: SQLite in the home).
    #[arg(long, env = "ZKATTR_DATABASE_URL")]
    pub database_url: Option<String>,
    /// An operator's address (repeatable): only operators create epochs.
    #[arg(long = "operator", value_name = "ADDRESS")]
    pub operators: Vec<String>,
    /// The KZG setup proofs are checked with.
    #[command(flatten)]
    pub srs: SrsArgs,
    /// Seconds a lease lasts without a heartbeat.
    #[arg(long, default_value_t = 60)]
    pub lease_secs: u64,
    /// Leases a job may take before it fails for good.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Fee recorded per accepted job, token base units.
    #[arg(long, default_value_t = 0)]
    pub fee_per_job: u128,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub max_body_bytes: usize,
    /// Signed requests accepted per signer per minute.
    #[arg(long, default_value_t = 600)]
    pub rate_per_minute: u32,
    /// The receipt page's files, served at /receipts/ (scripts/build-web.sh builds them); default:
    /// $ZKATTR_RECEIPTS_WEB, else target/web/receipts of the source tree this binary was built from.
    #[arg(long, value_name = "DIR")]
    pub receipts_web: Option<PathBuf>,
}

/// Waits for Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own, so that a command-line call
/// works whether or not its caller is inside an async runtime already.
pub(crate) fn run_async<T: Send>(f: impl std::future::Future<Output = T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(f))
                .map_err(|e| Error::Coordinator(format!("cannot start the async runtime: {e}")))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Coordinator(format!("cannot start the async runtime: {e}")))
}

impl ServeCmd {
    /// Runs the coordinator until Ctrl-C or SIGTERM.
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let mut cfg = Config::new(ctx.home.clone(), self.srs.source());
        cfg.keys_dir = ctx.keys.clone();
        if let Some(url) = &self.database_url {
            cfg.database_url = url.clone();
        }
        cfg.operators = self
            .operators
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| Error::Coordinator(format!("--operator {a:?}: {e}")))
            })
            .collect::<Result<_>>()?;
        cfg.lease_ttl_ms = (self.lease_secs.max(1) * 1000) as i64;
        cfg.max_attempts = self.max_attempts.max(1);
        cfg.fee_per_job = self.fee_per_job;
        cfg.max_body_bytes = self.max_body_bytes;
        cfg.rate_per_minute = self.rate_per_minute.max(1);
        if let Some(dir) = &self.receipts_web {
            cfg.receipts_web = dir.clone();
        }
        std::fs::create_dir_all(&ctx.home).map_err(|e| Error::io(&ctx.home, e))?;
        runtime()?.block_on(async {
            let app = App::open(cfg)
                .await
                .map_err(|e| Error::Coordinator(e.to_string()))?;
            let listener = tokio::net::TcpListener::bind(&self.listen)
                .await
                .map_err(|e| {
                    Error::Coordinator(format!("cannot listen on {}: {e}", self.listen))
                })?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::Coordinator(e.to_string()))?;
            eprintln!(
                "zkattr coordinator listening on http://{addr} (database: {:?})",
                app.store().dialect()
            );
            server::serve(app.clone(), listener, stop_signal())
                .await
                .map_err(|e| Error::Coordinator(format!("server: {e}")))?;
            app.store().close().await;
            Ok(Output {
                json: json!({"stopped": true, "listen": addr.to_string()}),
                text: format!("coordinator on {addr} stopped"),
            })
        })
    }
}

/// `zkattr worker`
#[derive(Debug, Args)]
pub struct WorkerCmd {
    /// The coordinator's URL.
    #[arg(long, value_name = "URL")]
    pub coordinator: String,
    /// The worker's private key file (its identity; fees are recorded for its address).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Kinds of job to take.
    #[arg(long, value_delimiter = ',', default_value = "train,prove")]
    pub kinds: Vec<String>,
    /// The KZG setup (the coordinator's).
    #[command(flatten)]
    pub srs: SrsArgs,
    /// Stop after this many jobs.
    #[arg(long)]
    pub max_jobs: Option<usize>,
    /// Where to prove: auto (a GPU when this zkattr is built with CUDA and a usable one is present, else the
    /// CPU), cpu, or cuda (proving jobs fail with the reason when no GPU can be used).
    #[arg(long, default_value = "auto", value_name = "auto|cpu|cuda")]
    pub backend: zkattr_gpu_msm::BackendChoice,
}

impl WorkerCmd {
    /// Runs the worker until Ctrl-C or SIGTERM (or --max-jobs).
    pub fn run(&self, ctx: &Ctx) -> Result<Output> {
        let key = read_key(&self.key)?;
        let kinds = self
            .kinds
            .iter()
            .map(|k| k.parse::<JobKind>().map_err(Error::Coordinator))
            .collect::<Result<Vec<_>>>()?;
        // `--backend cuda` without a usable GPU would fail (and use up the attempts of) every proving job
        // it leases: refuse to start instead.
        if self.backend == zkattr_gpu_msm::BackendChoice::Cuda && kinds.contains(&JobKind::Prove) {
            zkattr_gpu_msm::select(self.backend, 0).map_err(|e| {
                Error::Coordinator(format!(
                    "--backend cuda: {e} (use --backend auto or cpu, or --kinds train)"
                ))
            })?;
        }
        let cfg = WorkerConfig {
            coordinator: self.coordinator.clone(),
            key: key.credential().clone(),
            home: ctx.home.clone(),
            keys_dir: ctx.keys.clone(),
            kinds,
            srs: self.srs.source(),
            max_jobs: self.max_jobs,
            backend: self.backend,
        };
        let address = key.address();
        let rt = runtime()?;
        let out = rt.block_on(async {
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                stop_signal().await;
                let _ = tx.send(true);
            });
            eprintln!("zkattr worker {address:#x} working for {}", cfg.coordinator);
            let report = worker::run(cfg, rx).await?;
            Ok(Output {
                json: json!({"worker": format!("{address:#x}"), "report": report}),
                text: format!(
                    "worker {address:#x} stopped: {} accepted, {} rejected, {} failed",
                    report.accepted, report.rejected, report.failed
                ),
            })
        });
        // A job abandoned on a stop signal may still be computing on a blocking thread: do not wait for it.
        rt.shutdown_background();
        out
    }
}
