//! The coordinator's durable state: workers, the job queue with its leases, and the fee ledger.
//!
//! One code path serves SQLite (embedded, the default: `sqlite://<home>/coordinator.db`) and PostgreSQL
//! (`postgres://…`, for deployments across machines), through sqlx's `Any` driver. The SQL is the subset both
//! understand: `$n` placeholders, `BIGINT` and `TEXT` columns, `RETURNING`; the one difference (how an
//! auto-numbered key is declared) is filled in per database by [`Dialect`]. Times are milliseconds since
//! the Unix epoch, passed in by the caller, so tests can move the clock.
//!
//! # Jobs and leases
//! A job is `queued`, `leased`, `done` or `failed`. A worker leases the oldest queued job of a kind it can
//! run (whose prerequisite job, if any, is done), or a leased job whose lease has expired (its worker died).
//! Every lease gets a fresh random lease id; heartbeats, results and failures must name it, so a worker whose
//! lease expired and was taken over can no longer act on the job. Taking a lease is one conditional `UPDATE`
//! (`… WHERE id = $n AND <still leasable>`) whose row count says who won, which is race-free on both
//! databases without table locks. Accepting a result moves the job to `done` and records the worker's fee in
//! one transaction; the fee ledger's key is the job, so a job is paid at most once whatever happens.
//!
//! A job is tried at most `max_attempts` times (leases taken); when its last lease expires or fails it becomes
//! `failed` with the reason.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

/// How long one attempt may be kept alive by heartbeats, by default: 6 hours.
pub const DEFAULT_MAX_LEASE_MS: i64 = 6 * 3600 * 1000;

/// Errors of the coordinator's store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("coordinator database: {0}")]
    Db(#[from] sqlx::Error),
    /// The database URL names a database this build cannot use.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    /// The database was migrated by a newer zkattr.
    #[error("coordinator database schema version {found} is newer than this zkattr understands ({supported})")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version known to this build.
        supported: i64,
    },
    /// No such job.
    #[error("no job {0}")]
    NoSuchJob(i64),
    /// No such worker.
    #[error("no worker {0} is registered")]
    NoSuchWorker(String),
    /// The lease named is not (or no longer) the job's current lease by this worker.
    #[error("job {job}: lease {lease} is not held by {worker} (expired and taken over, or never granted)")]
    LeaseLost {
        /// The job.
        job: i64,
        /// The lease id given.
        lease: String,
        /// The worker acting.
        worker: String,
    },
    /// The attempt has run longer than an attempt may: its lease is not renewed.
    #[error("job {job}: this attempt has run longer than the {limit_ms} ms an attempt may; its lease is not renewed")]
    TimeLimit {
        /// The job.
        job: i64,
        /// The limit.
        limit_ms: i64,
    },
    /// An epoch with this key already exists.
    #[error("epoch {0} already exists")]
    EpochExists(String),
    /// No epoch with this key.
    #[error("no epoch {0}")]
    NoSuchEpoch(String),
    /// Stored data zkattr never writes.
    #[error("coordinator database holds an unexpected value: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL.
    pub fn of_url(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// A migration's SQL with the per-database parts filled in.
    fn ddl(self, sql: &str) -> String {
        let serial = match self {
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        sql.replace("{serial}", serial)
    }
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Fine-tune the model and compute the attribution artifact.
    Train,
    /// Prove the epoch's reward allocation.
    Prove,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 2] = [JobKind::Train, JobKind::Prove];

    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Train => "train",
            JobKind::Prove => "prove",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(JobKind::Train),
            "prove" => Ok(JobKind::Prove),
            _ => Err(format!("unknown job kind {s:?} (train, prove)")),
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds a lease on it.
    Leased,
    /// Its result was accepted.
    Done,
    /// It failed for good.
    Failed,
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JobState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "queued" => Ok(JobState::Queued),
            "leased" => Ok(JobState::Leased),
            "done" => Ok(JobState::Done),
            "failed" => Ok(JobState::Failed),
            _ => Err(format!("unknown job state {s:?}")),
        }
    }
}

/// A new job.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The epoch it belongs to (the coordinator's key for it).
    pub epoch: String,
    /// What it does.
    pub kind: JobKind,
    /// Its inputs, as the worker receives them.
    pub spec: serde_json::Value,
    /// A job that must be done before this one can be leased.
    pub after: Option<i64>,
    /// How many leases it may take before it fails for good (at least 1).
    pub max_attempts: u32,
}

/// A job as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Its number.
    pub id: i64,
    /// Its epoch.
    pub epoch: String,
    /// What it does.
    pub kind: JobKind,
    /// Its inputs.
    pub spec: serde_json::Value,
    /// The job it waits for.
    pub after: Option<i64>,
    /// Where it stands.
    pub state: JobState,
    /// Leases taken so far.
    pub attempts: i64,
    /// Leases allowed.
    pub max_attempts: i64,
    /// The worker holding (or last holding) it.
    pub worker: Option<String>,
    /// When the current lease runs out (ms).
    pub lease_until: Option<i64>,
    /// The worker's last progress report.
    pub progress: Option<serde_json::Value>,
    /// The accepted result (a content address in the artifact store).
    pub result: Option<String>,
    /// Why it last failed or was rejected.
    pub error: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

/// A lease granted to a worker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lease {
    /// The job.
    pub job: i64,
    /// The lease's id, to be named by every later call about it.
    pub lease_id: String,
    /// What to do.
    pub kind: JobKind,
    /// The job's epoch.
    pub epoch: String,
    /// Its inputs.
    pub spec: serde_json::Value,
    /// Which attempt this is (1 for the first lease).
    pub attempt: i64,
    /// When the lease runs out unless renewed by a heartbeat (ms).
    pub until: i64,
}

/// A registered worker and its record.
#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    /// Its address (lowercase hex), the key that signs its requests.
    pub address: String,
    /// What it advertises (backend, GPU model, memory), as it sent it.
    pub capabilities: serde_json::Value,
    /// First registered (ms).
    pub registered_at: i64,
    /// Last heard from (ms).
    pub last_seen: i64,
    /// Results accepted.
    pub accepted: i64,
    /// Results rejected (invalid proofs and the like).
    pub rejected: i64,
    /// Jobs it reported as failed.
    pub failed: i64,
}

/// One paid job in the fee ledger.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Fee {
    /// The job.
    pub job: i64,
    /// The worker paid.
    pub worker: String,
    /// The fee, in the token's base units (decimal).
    pub amount: String,
    /// When it was accepted (ms).
    pub at: i64,
}

/// Migrations, applied in order, each in one transaction; `schema_migrations` records those run.
const MIGRATIONS: &[&str] = &[
    // 1: workers, jobs, their history, the fee ledger.
    r#"
    CREATE TABLE workers (
        address       TEXT PRIMARY KEY,
        capabilities  TEXT NOT NULL,
        registered_at BIGINT NOT NULL,
        last_seen     BIGINT NOT NULL,
        accepted      BIGINT NOT NULL DEFAULT 0,
        rejected      BIGINT NOT NULL DEFAULT 0,
        failed        BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE jobs (
        id           {serial},
        epoch        TEXT NOT NULL,
        kind         TEXT NOT NULL,
        spec         TEXT NOT NULL,
        after_job    BIGINT REFERENCES jobs(id),
        state        TEXT NOT NULL,
        attempts     BIGINT NOT NULL DEFAULT 0,
        max_attempts BIGINT NOT NULL,
        worker       TEXT REFERENCES workers(address),
        lease_id     TEXT,
        lease_until  BIGINT,
        leased_at    BIGINT,
        progress     TEXT,
        result       TEXT,
        error        TEXT,
        created_at   BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL
    );
    CREATE INDEX jobs_by_state ON jobs (state, kind, id);
    CREATE INDEX jobs_by_expiry ON jobs (state, lease_until);
    CREATE INDEX jobs_by_epoch ON jobs (epoch, id);
    CREATE TABLE job_events (
        id     {serial},
        job    BIGINT NOT NULL REFERENCES jobs(id),
        at     BIGINT NOT NULL,
        worker TEXT,
        event  TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX job_events_by_job ON job_events (job, id);
    CREATE TABLE fees (
        job    BIGINT PRIMARY KEY REFERENCES jobs(id),
        worker TEXT NOT NULL REFERENCES workers(address),
        amount TEXT NOT NULL,
        at     BIGINT NOT NULL
    );
    CREATE INDEX fees_by_worker ON fees (worker, job)
    "#,
    // 2: epochs, each with its training and proving job.
    r#"
    CREATE TABLE epochs (
        key          TEXT PRIMARY KEY,
        request      TEXT NOT NULL,
        datanet_root TEXT NOT NULL,
        train_job    BIGINT NOT NULL REFERENCES jobs(id),
        prove_job    BIGINT NOT NULL REFERENCES jobs(id),
        created_at   BIGINT NOT NULL
    )
    "#,
    // 3: who owns the Datanets created through the API (they seal them).
    r#"
    CREATE TABLE datanet_owners (
        name       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )
    "#,
    // 4: the Datanets themselves (their records, additions and sealed versions) move into this database, so
    // that they are on PostgreSQL with everything else; the owners of migration 3 carry over.
    r#"
    CREATE TABLE datanets (
        id         {serial},
        name       TEXT NOT NULL UNIQUE,
        owner      TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    INSERT INTO datanets (name, owner, created_at)
        SELECT name, owner, created_at FROM datanet_owners ORDER BY created_at, name;
    DROP TABLE datanet_owners;
    CREATE TABLE datanet_imports (
        id          {serial},
        datanet     BIGINT NOT NULL REFERENCES datanets(id),
        submitter   TEXT NOT NULL,
        first_item  BIGINT NOT NULL,
        records     BIGINT NOT NULL,
        imported_at BIGINT NOT NULL
    );
    CREATE TABLE datanet_items (
        datanet      BIGINT NOT NULL REFERENCES datanets(id),
        idx          BIGINT NOT NULL,
        contributor  TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        record       TEXT NOT NULL,
        import_id    BIGINT NOT NULL REFERENCES datanet_imports(id),
        line         BIGINT NOT NULL,
        PRIMARY KEY (datanet, idx),
        UNIQUE (datanet, content_hash)
    );
    CREATE TABLE datanet_versions (
        datanet   BIGINT NOT NULL REFERENCES datanets(id),
        version   BIGINT NOT NULL,
        items     BIGINT NOT NULL,
        depth     BIGINT NOT NULL,
        root      TEXT NOT NULL,
        sealed_at BIGINT NOT NULL,
        PRIMARY KEY (datanet, version)
    )
    "#,
    // 5: the digests of signed requests within their validity window: a replay is refused after a restart,
    // and by every coordinator process sharing the database.
    r#"
    CREATE TABLE seen_requests (
        digest     TEXT PRIMARY KEY,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX seen_requests_by_expiry ON seen_requests (expires_at)
    "#,
];

/// An epoch as stored.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    /// Its key.
    pub key: String,
    /// The operator's request, as sent.
    pub request: serde_json::Value,
    /// The sealed snapshot's root.
    pub datanet_root: String,
    /// Its training job.
    pub train_job: i64,
    /// Its proving job (after the training job).
    pub prove_job: i64,
    /// Created (ms).
    pub created_at: i64,
}

/// The coordinator's store: a pool of connections to SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    dialect: Dialect,
    max_lease_ms: i64,
    /// When expired request digests were last dropped (ms).
    last_sweep: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

const JOB_COLUMNS: &str =
    "id, epoch, kind, spec, after_job, state, attempts, max_attempts, worker, \
    lease_until, progress, result, error, created_at, updated_at";

/// The condition under which a job can be leased at time `$now` (its parameter number is spliced in).
fn leasable(now: &str) -> String {
    format!(
        "(attempts < max_attempts AND (state = 'queued' OR (state = 'leased' AND lease_until < {now})) \
         AND {PREREQUISITE_DONE})"
    )
}

/// A job's prerequisite, if any, is done (a primary-key lookup per candidate).
const PREREQUISITE_DONE: &str = "(after_job IS NULL OR EXISTS \
    (SELECT 1 FROM jobs AS d WHERE d.id = jobs.after_job AND d.state = 'done'))";

impl Store {
    /// Connects to `url` (`sqlite://PATH`, created if missing, or `postgres://…`) and migrates it.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let dialect = Dialect::of_url(url)?;
        sqlx::any::install_default_drivers();
        let url = match dialect {
            Dialect::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(match dialect {
                Dialect::Sqlite => 4,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // Durable commits, writers wait for each other rather than fail, keys enforced.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let store = Store {
            pool,
            dialect,
            max_lease_ms: DEFAULT_MAX_LEASE_MS,
            last_sweep: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so a
    /// transaction that reads before it writes cannot fail with `SQLITE_BUSY` when another writer got in
    /// between (the busy timeout covers waiting for the lock, not upgrading a read snapshot).
    pub(crate) async fn begin(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        })
    }

    /// Sets how long one attempt may be kept alive by heartbeats (default [`DEFAULT_MAX_LEASE_MS`]).
    pub fn with_max_lease_ms(mut self, ms: i64) -> Self {
        self.max_lease_ms = ms.max(1);
        self
    }

    /// The database behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the migrations not yet applied. Safe to run from several processes at once on PostgreSQL
    /// (an advisory lock serialises them); on SQLite the write transaction does.
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        if self.dialect == Dialect::Postgres {
            // Any constant key: only zkattr migrations take it.
            tx.execute("SELECT pg_advisory_xact_lock(7283640113)")
                .await?;
        } else {
            // Take the write lock now, so two processes cannot both read version 0.
            tx.execute("CREATE TABLE IF NOT EXISTS schema_lock (x BIGINT)")
                .await?;
            tx.execute("DELETE FROM schema_lock").await?;
        }
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let found: i64 = sqlx::query(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM schema_migrations",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
        let supported = MIGRATIONS.len() as i64;
        if found > supported {
            return Err(StoreError::SchemaTooNew { found, supported });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            for statement in self.dialect.ddl(sql).split(';') {
                if !statement.trim().is_empty() {
                    // Migration text is a constant of this file.
                    tx.execute(AssertSqlSafe(statement.to_string())).await?;
                }
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(i as i64 + 1)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Registers `address` with its capabilities, or updates them when already registered.
    pub async fn register_worker(
        &self,
        address: &str,
        capabilities: &serde_json::Value,
        now: i64,
    ) -> StoreResult<Worker> {
        sqlx::query(
            "INSERT INTO workers (address, capabilities, registered_at, last_seen) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (address) DO UPDATE SET capabilities = $2, last_seen = $3",
        )
        .bind(address)
        .bind(capabilities.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.worker(address).await
    }

    /// The record of worker `address`.
    pub async fn worker(&self, address: &str) -> StoreResult<Worker> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WORKER_COLUMNS} FROM workers WHERE address = $1"
        )))
        .bind(address)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NoSuchWorker(address.to_string()))?;
        worker_of_row(&row)
    }

    /// Every registered worker, by address.
    pub async fn workers(&self) -> StoreResult<Vec<Worker>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {WORKER_COLUMNS} FROM workers ORDER BY address"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(worker_of_row)
        .collect()
    }

    /// Queues a job; returns its number.
    pub async fn enqueue(&self, job: &NewJob, now: i64) -> StoreResult<i64> {
        Ok(self.enqueue_all(std::slice::from_ref(job), now).await?[0])
    }

    /// Creates epoch `key` with its training job and its proving job (leasable once training is done), in
    /// one transaction; [`StoreError::EpochExists`] when the key is taken. Returns the two job numbers.
    pub async fn create_epoch(
        &self,
        key: &str,
        request: &serde_json::Value,
        datanet_root: &str,
        spec: &serde_json::Value,
        max_attempts: u32,
        now: i64,
    ) -> StoreResult<(i64, i64)> {
        let mut tx = self.begin().await?;
        let exists = sqlx::query("SELECT key FROM epochs WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(StoreError::EpochExists(key.to_string()));
        }
        let mut ids = [0i64; 2];
        for (i, kind) in [JobKind::Train, JobKind::Prove].into_iter().enumerate() {
            let job = NewJob {
                epoch: key.to_string(),
                kind,
                spec: spec.clone(),
                after: (i == 1).then_some(ids[0]),
                max_attempts,
            };
            ids[i] = insert_job(&mut tx, &job, now).await?;
        }
        // The key's uniqueness also holds between two racing creations: the second INSERT fails.
        let inserted = sqlx::query(
            "INSERT INTO epochs (key, request, datanet_root, train_job, prove_job, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key)
        .bind(request.to_string())
        .bind(datanet_root)
        .bind(ids[0])
        .bind(ids[1])
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::EpochExists(key.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok((ids[0], ids[1]))
    }

    /// Epoch `key`.
    pub async fn epoch(&self, key: &str) -> StoreResult<EpochRecord> {
        let row = sqlx::query(
            "SELECT key, request, datanet_root, train_job, prove_job, created_at FROM epochs WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NoSuchEpoch(key.to_string()))?;
        Ok(EpochRecord {
            key: row.try_get("key")?,
            request: json_column(&row, "request")?,
            datanet_root: row.try_get("datanet_root")?,
            train_job: row.try_get("train_job")?,
            prove_job: row.try_get("prove_job")?,
            created_at: row.try_get("created_at")?,
        })
    }

    /// Every epoch's key, oldest first.
    pub async fn epoch_keys(&self) -> StoreResult<Vec<String>> {
        sqlx::query("SELECT key FROM epochs ORDER BY created_at, key")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("key")?))
            .collect()
    }

    /// Records a signed request's `digest` until `expires_at` (ms); `false` when it is already recorded (a
    /// replay). Digests past their expiry are dropped about once a minute.
    pub async fn remember_request(
        &self,
        digest: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        use std::sync::atomic::Ordering;
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now - last > 60_000
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            sqlx::query("DELETE FROM seen_requests WHERE expires_at < $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        let r = sqlx::query(
            "INSERT INTO seen_requests (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Checks the database answers (for `/health`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1 AS one").fetch_one(&self.pool).await?;
        Ok(())
    }

    /// Job `id`.
    pub async fn job(&self, id: i64) -> StoreResult<Job> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NoSuchJob(id))?;
        job_of_row(&row)
    }

    /// The jobs of `epoch`, oldest first.
    pub async fn epoch_jobs(&self, epoch: &str) -> StoreResult<Vec<Job>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE epoch = $1 ORDER BY id"
        )))
        .bind(epoch)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(job_of_row)
        .collect()
    }

    /// Leases the oldest leasable job of one of `kinds` to registered worker `worker` for `ttl_ms`, or
    /// `None` when there is none. First fails the jobs whose last allowed lease has expired.
    pub async fn lease(
        &self,
        worker: &str,
        kinds: &[JobKind],
        now: i64,
        ttl_ms: i64,
    ) -> StoreResult<Option<Lease>> {
        self.fail_exhausted(now).await?;
        let known = sqlx::query("SELECT address FROM workers WHERE address = $1")
            .bind(worker)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(StoreError::NoSuchWorker(worker.to_string()));
        }
        if kinds.is_empty() {
            return Ok(None);
        }
        // A worker whose result for a job was rejected does not get that job again.
        let not_rejected = "NOT EXISTS (SELECT 1 FROM job_events AS e WHERE e.job = jobs.id \
            AND e.event = 'rejected' AND e.worker = $1)";
        let kind_list = |first: usize| {
            (0..kinds.len())
                .map(|i| format!("${}", i + first))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Two index range scans rather than one OR over states: the oldest queued jobs, and leases that
        // ran out (their worker died).
        let queued = format!(
            "SELECT id FROM jobs WHERE state = 'queued' AND kind IN ({}) AND attempts < max_attempts \
             AND {PREREQUISITE_DONE} AND {not_rejected} ORDER BY id LIMIT 16",
            kind_list(2)
        );
        let expired = format!(
            "SELECT id FROM jobs WHERE state = 'leased' AND lease_until < $2 AND kind IN ({}) \
             AND attempts < max_attempts AND {not_rejected} ORDER BY id LIMIT 16",
            kind_list(3)
        );
        // Another worker may win a candidate between the SELECT and the UPDATE: try the next one, and
        // look again while candidates were all taken.
        for _ in 0..8 {
            let mut candidates = Vec::new();
            for (select, with_now) in [(&queued, false), (&expired, true)] {
                let mut query = sqlx::query(AssertSqlSafe(select.clone())).bind(worker);
                if with_now {
                    query = query.bind(now);
                }
                for k in kinds {
                    query = query.bind(k.as_str());
                }
                for r in query.fetch_all(&self.pool).await? {
                    candidates.push(r.try_get::<i64, _>("id")?);
                }
            }
            if candidates.is_empty() {
                return Ok(None);
            }
            candidates.sort_unstable();
            for id in candidates {
                let lease_id = new_lease_id();
                let until = now.saturating_add(ttl_ms);
                // Taking the lease, the worker's last-seen time and the history: one transaction.
                let mut tx = self.begin().await?;
                let taken = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE jobs SET state = 'leased', worker = $1, lease_id = $2, lease_until = $3, \
                     leased_at = $4, attempts = attempts + 1, progress = NULL, updated_at = $4 \
                     WHERE id = $5 AND {} RETURNING attempts",
                    leasable("$4")
                )))
                .bind(worker)
                .bind(&lease_id)
                .bind(until)
                .bind(now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = taken else { continue };
                let attempt: i64 = row.try_get("attempts")?;
                sqlx::query("UPDATE workers SET last_seen = $1 WHERE address = $2")
                    .bind(now)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
                let detail = format!("attempt {attempt}");
                insert_event(&mut tx, id, now, Some(worker), "leased", Some(&detail)).await?;
                tx.commit().await?;
                let job = self.job(id).await?;
                return Ok(Some(Lease {
                    job: id,
                    lease_id,
                    kind: job.kind,
                    epoch: job.epoch,
                    spec: job.spec,
                    attempt,
                    until,
                }));
            }
        }
        Ok(None)
    }

    /// Queues `jobs` in one transaction; returns their numbers in order.
    pub async fn enqueue_all(&self, jobs: &[NewJob], now: i64) -> StoreResult<Vec<i64>> {
        let mut tx = self.begin().await?;
        let mut ids = Vec::with_capacity(jobs.len());
        for job in jobs {
            ids.push(insert_job(&mut tx, job, now).await?);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Marks `failed` the leased jobs whose lease expired on their last allowed attempt.
    async fn fail_exhausted(&self, now: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let ids: Vec<i64> = sqlx::query(
            "UPDATE jobs SET state = 'failed', error = 'the lease of its last allowed attempt expired', \
             updated_at = $1 WHERE state = 'leased' AND lease_until < $1 AND attempts >= max_attempts \
             RETURNING id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        for id in ids {
            let why = "lease expired on the last attempt";
            insert_event(&mut tx, id, now, None, "failed", Some(why)).await?;
            fail_dependents(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts failed job `id` back in the queue with its attempts reset (an operator's decision after a
    /// failure was dealt with), and the jobs that failed because it did. Returns whether it was failed.
    pub async fn requeue(&self, id: i64, now: i64) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let r = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, worker = NULL, lease_id = NULL, \
             lease_until = NULL, error = NULL, updated_at = $1 WHERE id = $2 AND state = 'failed'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            drop(tx);
            self.job(id).await?;
            return Ok(false);
        }
        insert_event(&mut tx, id, now, None, "requeued", None).await?;
        let dependents: Vec<i64> = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, updated_at = $1 \
             WHERE after_job = $2 AND state = 'failed' AND worker IS NULL RETURNING id",
        )
        .bind(now)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        for d in dependents {
            insert_event(
                &mut tx,
                d,
                now,
                None,
                "requeued",
                Some("its prerequisite was requeued"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Renews `worker`'s lease `lease_id` on `job` until `now + ttl_ms`, recording `progress`. Returns the
    /// new expiry; [`StoreError::LeaseLost`] when the lease is no longer this worker's.
    pub async fn heartbeat(
        &self,
        job: i64,
        lease_id: &str,
        worker: &str,
        progress: Option<&serde_json::Value>,
        now: i64,
        ttl_ms: i64,
    ) -> StoreResult<i64> {
        let until = now.saturating_add(ttl_ms);
        // An attempt may not be kept alive by heartbeats beyond `max_lease_ms` after it was leased.
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_until = $1, progress = COALESCE($2, progress), updated_at = $3 \
             WHERE id = $4 AND state = 'leased' AND lease_id = $5 AND worker = $6 AND leased_at + $7 > $3",
        )
        .bind(until)
        .bind(progress.map(|p| p.to_string()))
        .bind(now)
        .bind(job)
        .bind(lease_id)
        .bind(worker)
        .bind(self.max_lease_ms)
        .execute(&self.pool)
        .await?;
        if renewed.rows_affected() != 1 {
            if let Ok(()) = self.holds(job, lease_id, worker).await {
                return Err(StoreError::TimeLimit {
                    job,
                    limit_ms: self.max_lease_ms,
                });
            }
            return Err(self.lease_error(job, lease_id, worker).await);
        }
        sqlx::query("UPDATE workers SET last_seen = $1 WHERE address = $2")
            .bind(now)
            .bind(worker)
            .execute(&self.pool)
            .await?;
        Ok(until)
    }

    /// Whether `worker` currently holds lease `lease_id` on `job` (expired or not, as long as nobody took
    /// it over): the check before a result is examined.
    pub async fn holds(&self, job: i64, lease_id: &str, worker: &str) -> StoreResult<()> {
        let row = sqlx::query(
            "SELECT id FROM jobs WHERE id = $1 AND state = 'leased' AND lease_id = $2 AND worker = $3",
        )
        .bind(job)
        .bind(lease_id)
        .bind(worker)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(_) => Ok(()),
            None => Err(self.lease_error(job, lease_id, worker).await),
        }
    }

    /// Accepts `worker`'s verified result `result` for `job` under `lease_id`, paying `fee` (decimal base
    /// units), and queues `then` (jobs that follow from it) in the same transaction.
    pub async fn accept(
        &self,
        job: i64,
        lease_id: &str,
        worker: &str,
        result: &str,
        fee: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', result = $1, error = NULL, lease_until = NULL, updated_at = $2 \
             WHERE id = $3 AND state = 'leased' AND lease_id = $4 AND worker = $5",
        )
        .bind(result)
        .bind(now)
        .bind(job)
        .bind(lease_id)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            drop(tx);
            return Err(self.lease_error(job, lease_id, worker).await);
        }
        sqlx::query("INSERT INTO fees (job, worker, amount, at) VALUES ($1, $2, $3, $4)")
            .bind(job)
            .bind(worker)
            .bind(fee)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE workers SET accepted = accepted + 1, last_seen = $1 WHERE address = $2",
        )
        .bind(now)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, job, now, Some(worker), "accepted", Some(result)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Rejects `worker`'s result for `job` (it did not verify): counted against the worker, and the job goes
    /// back to the queue (or fails for good after its last attempt).
    pub async fn reject(
        &self,
        job: i64,
        lease_id: &str,
        worker: &str,
        reason: &str,
        now: i64,
    ) -> StoreResult<JobState> {
        self.release(
            job, lease_id, worker, reason, now, "rejected", "rejected", true,
        )
        .await
    }

    /// Records `worker`'s report that `job` failed. A `transient` failure puts the job back in the queue
    /// (until its attempts run out); a permanent one fails it now.
    pub async fn fail(
        &self,
        job: i64,
        lease_id: &str,
        worker: &str,
        reason: &str,
        transient: bool,
        now: i64,
    ) -> StoreResult<JobState> {
        let event = if transient {
            "failed-transient"
        } else {
            "failed"
        };
        self.release(
            job, lease_id, worker, reason, now, "failed", event, transient,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn release(
        &self,
        job: i64,
        lease_id: &str,
        worker: &str,
        reason: &str,
        now: i64,
        counter: &str,
        event: &str,
        retry: bool,
    ) -> StoreResult<JobState> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "UPDATE jobs SET state = CASE WHEN $1 = 1 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             lease_id = NULL, lease_until = NULL, error = $2, updated_at = $3 \
             WHERE id = $4 AND state = 'leased' AND lease_id = $5 AND worker = $6 RETURNING state",
        )
        .bind(i64::from(retry))
        .bind(reason)
        .bind(now)
        .bind(job)
        .bind(lease_id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return Err(self.lease_error(job, lease_id, worker).await);
        };
        let state: String = row.try_get("state")?;
        if state == "failed" {
            fail_dependents(&mut tx, job, now).await?;
        }
        // `counter` is one of two fixed column names, never input.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE workers SET {counter} = {counter} + 1, last_seen = $1 WHERE address = $2"
        )))
        .bind(now)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        insert_event(&mut tx, job, now, Some(worker), event, Some(reason)).await?;
        tx.commit().await?;
        state.parse().map_err(StoreError::Corrupt)
    }

    /// Why `worker` cannot act on `job` with `lease_id`.
    async fn lease_error(&self, job: i64, lease_id: &str, worker: &str) -> StoreError {
        match self.job(job).await {
            Err(e) => e,
            Ok(_) => StoreError::LeaseLost {
                job,
                lease: lease_id.to_string(),
                worker: worker.to_string(),
            },
        }
    }

    /// The fees paid to `worker`, oldest first.
    pub async fn fees(&self, worker: &str) -> StoreResult<Vec<Fee>> {
        sqlx::query("SELECT job, worker, amount, at FROM fees WHERE worker = $1 ORDER BY job")
            .bind(worker)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Fee {
                    job: r.try_get("job")?,
                    worker: r.try_get("worker")?,
                    amount: r.try_get("amount")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The history of `job`: `(at, worker, event, detail)`, oldest first.
    pub async fn job_events(
        &self,
        job: i64,
    ) -> StoreResult<Vec<(i64, Option<String>, String, Option<String>)>> {
        sqlx::query("SELECT at, worker, event, detail FROM job_events WHERE job = $1 ORDER BY id")
            .bind(job)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("at")?,
                    r.try_get("worker")?,
                    r.try_get("event")?,
                    r.try_get("detail")?,
                ))
            })
            .collect()
    }

    /// Counts of jobs by state, for metrics.
    pub async fn job_counts(&self) -> StoreResult<Vec<(JobKind, JobState, i64)>> {
        sqlx::query(
            "SELECT kind, state, CAST(COUNT(*) AS BIGINT) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let state: String = r.try_get("state")?;
            Ok((
                kind.parse().map_err(StoreError::Corrupt)?,
                state.parse().map_err(StoreError::Corrupt)?,
                r.try_get("n")?,
            ))
        })
        .collect()
    }
}

/// Queues `job` (and records it in the history); returns its number.
async fn insert_job(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &NewJob,
    now: i64,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO jobs (epoch, kind, spec, after_job, state, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $6) RETURNING id",
    )
    .bind(&job.epoch)
    .bind(job.kind.as_str())
    .bind(job.spec.to_string())
    .bind(job.after)
    .bind(i64::from(job.max_attempts.max(1)))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    insert_event(tx, id, now, None, "queued", None).await?;
    Ok(id)
}

/// Fails the queued jobs waiting for failed job `id` (they can never run), recording why.
async fn fail_dependents(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    now: i64,
) -> StoreResult<()> {
    let why = format!("its prerequisite, job {id}, failed");
    let ids: Vec<i64> = sqlx::query(
        "UPDATE jobs SET state = 'failed', error = $1, updated_at = $2 \
         WHERE after_job = $3 AND state = 'queued' RETURNING id",
    )
    .bind(&why)
    .bind(now)
    .bind(id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    for d in ids {
        insert_event(tx, d, now, None, "failed", Some(&why)).await?;
    }
    Ok(())
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: i64,
    at: i64,
    worker: Option<&str>,
    event: &str,
    detail: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO job_events (job, at, worker, event, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(job)
    .bind(at)
    .bind(worker)
    .bind(event)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const WORKER_COLUMNS: &str =
    "address, capabilities, registered_at, last_seen, accepted, rejected, failed";

fn worker_of_row(row: &AnyRow) -> StoreResult<Worker> {
    Ok(Worker {
        address: row.try_get("address")?,
        capabilities: json_column(row, "capabilities")?,
        registered_at: row.try_get("registered_at")?,
        last_seen: row.try_get("last_seen")?,
        accepted: row.try_get("accepted")?,
        rejected: row.try_get("rejected")?,
        failed: row.try_get("failed")?,
    })
}

fn json_column(row: &AnyRow, column: &str) -> StoreResult<serde_json::Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn job_of_row(row: &AnyRow) -> StoreResult<Job> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    let progress: Option<String> = row.try_get("progress")?;
    Ok(Job {
        id: row.try_get("id")?,
        epoch: row.try_get("epoch")?,
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        spec: json_column(row, "spec")?,
        after: row.try_get("after_job")?,
        state: state.parse().map_err(StoreError::Corrupt)?,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        worker: row.try_get("worker")?,
        lease_until: row.try_get("lease_until")?,
        progress: progress
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("progress: {e}")))?,
        result: row.try_get("result")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A fresh lease id: 128 random bits, hex.
fn new_lease_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
