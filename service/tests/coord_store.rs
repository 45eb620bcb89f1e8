//! The coordinator's store on both databases: every test runs on SQLite (a file in a scratch directory) and
//! on PostgreSQL (a fresh database on the server named by `ZKATTR_TEST_POSTGRES_URL`, which
//! `scripts/test.sh` starts; without it the PostgreSQL half is skipped with a printed reason, unless
//! `ZKATTR_REQUIRE_POSTGRES=1`, as in CI, makes that a failure).

use serde_json::json;
use sqlx::Connection;
use zkattr_service::coord::{JobKind, JobState, NewJob, Store, StoreError};

/// A database for one test; dropping it removes the SQLite file (PostgreSQL test databases are named
/// uniquely and left for the throwaway server).
struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("coordinator.db").display());
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database, or `None` (with the reason printed) when no server is configured.
async fn postgres() -> Option<TestDb> {
    let Ok(server) = std::env::var("ZKATTR_TEST_POSTGRES_URL") else {
        if std::env::var("ZKATTR_REQUIRE_POSTGRES").as_deref() == Ok("1") {
            panic!("ZKATTR_REQUIRE_POSTGRES=1 but ZKATTR_TEST_POSTGRES_URL is not set");
        }
        eprintln!(
            "skipped on PostgreSQL: ZKATTR_TEST_POSTGRES_URL is not set (scripts/test.sh sets it)"
        );
        return None;
    };
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to the PostgreSQL test server");
    let name = format!("zkattr_test_{}_{}", std::process::id(), rand_suffix());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    Some(TestDb {
        url: format!("{base}/{name}"),
        _dir: None,
    })
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{nanos}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Runs `body` on SQLite, then on PostgreSQL when one is configured.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = super::sqlite().await;
                ($body)(db.url.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::postgres().await {
                    ($body)(db.url.clone()).await;
                }
            }
        }
    };
}

const W1: &str = "0x1111111111111111111111111111111111111111";
const W2: &str = "0x2222222222222222222222222222222222222222";

fn job(kind: JobKind, after: Option<i64>, max_attempts: u32) -> NewJob {
    NewJob {
        epoch: "digits/1/e1".into(),
        kind,
        spec: json!({"kind": kind.as_str()}),
        after,
        max_attempts,
    }
}

async fn open(url: &str) -> Store {
    Store::connect(url).await.expect("connect")
}

on_both!(
    migrations_are_idempotent_and_refuse_a_newer_schema,
    |url: String| async move {
        let store = open(&url).await;
        store
            .register_worker(W1, &json!({"backend": "cpu"}), 1)
            .await
            .unwrap();
        store.close().await;
        // Connecting again migrates nothing and keeps the data.
        let store = open(&url).await;
        assert_eq!(
            store.worker(W1).await.unwrap().capabilities,
            json!({"backend": "cpu"})
        );
        store.close().await;
        // A schema from a newer zkattr is refused, not clobbered.
        let mut conn = <sqlx::AnyConnection as Connection>::connect(&format!(
            "{url}{}",
            if url.starts_with("sqlite") {
                "?mode=rw"
            } else {
                ""
            }
        ))
        .await
        .unwrap();
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        match Store::connect(&url).await {
            Err(StoreError::SchemaTooNew {
                found: 99,
                supported,
            }) => assert!(supported < 99),
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }
);

on_both!(
    a_leased_job_is_accepted_and_paid_once,
    |url: String| async move {
        let store = open(&url).await;
        store.register_worker(W1, &json!({}), 10).await.unwrap();
        let id = store
            .enqueue(&job(JobKind::Prove, None, 3), 10)
            .await
            .unwrap();
        let lease = store
            .lease(W1, &JobKind::ALL, 20, 1_000)
            .await
            .unwrap()
            .expect("a lease");
        assert_eq!(
            (lease.job, lease.kind, lease.attempt, lease.until),
            (id, JobKind::Prove, 1, 1_020)
        );
        assert_eq!(lease.spec, json!({"kind": "prove"}));
        // Nothing else to lease.
        assert!(store
            .lease(W1, &JobKind::ALL, 21, 1_000)
            .await
            .unwrap()
            .is_none());
        store.holds(id, &lease.lease_id, W1).await.unwrap();
        store
            .accept(id, &lease.lease_id, W1, "sha256:ab", "1000", 30)
            .await
            .unwrap();
        let done = store.job(id).await.unwrap();
        assert_eq!(
            (done.state, done.result.as_deref()),
            (JobState::Done, Some("sha256:ab"))
        );
        // A second acceptance of the same lease is refused: paid once.
        assert!(matches!(
            store
                .accept(id, &lease.lease_id, W1, "sha256:ab", "1000", 31)
                .await,
            Err(StoreError::LeaseLost { .. })
        ));
        let fees = store.fees(W1).await.unwrap();
        assert_eq!(fees.len(), 1);
        assert_eq!((fees[0].job, fees[0].amount.as_str()), (id, "1000"));
        assert_eq!(store.worker(W1).await.unwrap().accepted, 1);
        let events: Vec<String> = store
            .job_events(id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.2)
            .collect();
        assert_eq!(events, ["queued", "leased", "accepted"]);
    }
);

on_both!(
    an_expired_lease_is_taken_over_and_the_old_holder_locked_out,
    |url: String| async move {
        let store = open(&url).await;
        store.register_worker(W1, &json!({}), 0).await.unwrap();
        store.register_worker(W2, &json!({}), 0).await.unwrap();
        let id = store
            .enqueue(&job(JobKind::Train, None, 3), 0)
            .await
            .unwrap();
        let first = store
            .lease(W1, &[JobKind::Train], 100, 50)
            .await
            .unwrap()
            .unwrap();
        // A heartbeat renews it: still held at 140 + 50.
        assert_eq!(
            store
                .heartbeat(id, &first.lease_id, W1, Some(&json!({"step": 3})), 140, 50)
                .await
                .unwrap(),
            190
        );
        assert_eq!(
            store.job(id).await.unwrap().progress,
            Some(json!({"step": 3}))
        );
        assert!(store
            .lease(W2, &[JobKind::Train], 189, 50)
            .await
            .unwrap()
            .is_none());
        // W1 dies: at 191 the lease has run out and W2 takes the job over.
        let second = store
            .lease(W2, &[JobKind::Train], 191, 50)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((second.job, second.attempt), (id, 2));
        assert_ne!(second.lease_id, first.lease_id);
        // W1's late heartbeat, result or failure is refused.
        for r in [
            store
                .heartbeat(id, &first.lease_id, W1, None, 192, 50)
                .await
                .map(|_| ()),
            store.holds(id, &first.lease_id, W1).await,
            store
                .accept(id, &first.lease_id, W1, "sha256:01", "5", 193)
                .await,
            store
                .fail(id, &first.lease_id, W1, "oops", true, 193)
                .await
                .map(|_| ()),
        ] {
            assert!(matches!(r, Err(StoreError::LeaseLost { .. })), "{r:?}");
        }
        // Another worker naming W2's lease is refused too.
        assert!(matches!(
            store
                .accept(id, &second.lease_id, W1, "sha256:01", "5", 194)
                .await,
            Err(StoreError::LeaseLost { .. })
        ));
        store
            .accept(id, &second.lease_id, W2, "sha256:02", "5", 195)
            .await
            .unwrap();
        assert!(store.fees(W1).await.unwrap().is_empty());
        assert_eq!(store.fees(W2).await.unwrap().len(), 1);
        // Unknown jobs and workers are named as such.
        assert!(matches!(
            store.holds(999, "x", W1).await,
            Err(StoreError::NoSuchJob(999))
        ));
        assert!(matches!(
            store
                .lease(
                    "0x3333333333333333333333333333333333333333",
                    &JobKind::ALL,
                    200,
                    50
                )
                .await,
            Err(StoreError::NoSuchWorker(_))
        ));
    }
);

on_both!(
    a_job_waits_for_its_prerequisite_and_kinds_are_respected,
    |url: String| async move {
        let store = open(&url).await;
        store.register_worker(W1, &json!({}), 0).await.unwrap();
        let train = store
            .enqueue(&job(JobKind::Train, None, 3), 0)
            .await
            .unwrap();
        let prove = store
            .enqueue(&job(JobKind::Prove, Some(train), 3), 0)
            .await
            .unwrap();
        // A prove-only worker gets nothing while training is not done.
        assert!(store
            .lease(W1, &[JobKind::Prove], 1, 100)
            .await
            .unwrap()
            .is_none());
        assert!(store.lease(W1, &[], 1, 100).await.unwrap().is_none());
        let t = store
            .lease(W1, &JobKind::ALL, 2, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.job, train);
        assert!(store
            .lease(W1, &JobKind::ALL, 3, 100)
            .await
            .unwrap()
            .is_none());
        store
            .accept(train, &t.lease_id, W1, "sha256:t", "1", 4)
            .await
            .unwrap();
        let p = store
            .lease(W1, &[JobKind::Prove], 5, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.job, prove);
        let jobs = store.epoch_jobs("digits/1/e1").await.unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
            [JobState::Done, JobState::Leased]
        );
    }
);

on_both!(
    rejections_and_failures_requeue_until_attempts_run_out,
    |url: String| async move {
        let store = open(&url).await;
        store.register_worker(W1, &json!({}), 0).await.unwrap();
        store.register_worker(W2, &json!({}), 0).await.unwrap();
        let id = store
            .enqueue(&job(JobKind::Prove, None, 3), 0)
            .await
            .unwrap();
        // 1: an invalid proof is rejected, counted against W1, and the job queued again.
        let l = store
            .lease(W1, &JobKind::ALL, 1, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .reject(id, &l.lease_id, W1, "proof does not verify", 2)
                .await
                .unwrap(),
            JobState::Queued
        );
        assert_eq!(store.worker(W1).await.unwrap().rejected, 1);
        assert_eq!(
            store.job(id).await.unwrap().error.as_deref(),
            Some("proof does not verify")
        );
        // 2: a transient failure queues it again.
        let l = store
            .lease(W2, &JobKind::ALL, 3, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .fail(id, &l.lease_id, W2, "out of memory", true, 4)
                .await
                .unwrap(),
            JobState::Queued
        );
        assert_eq!(store.worker(W2).await.unwrap().failed, 1);
        // 3: the last attempt's transient failure fails it for good.
        let l = store
            .lease(W2, &JobKind::ALL, 5, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.attempt, 3);
        assert_eq!(
            store
                .fail(id, &l.lease_id, W2, "out of memory", true, 6)
                .await
                .unwrap(),
            JobState::Failed
        );
        assert!(store
            .lease(W1, &JobKind::ALL, 7, 100)
            .await
            .unwrap()
            .is_none());
        // A permanent failure fails at once; an expired last lease fails at the next lease call.
        let bad = store
            .enqueue(&job(JobKind::Train, None, 5), 10)
            .await
            .unwrap();
        let l = store
            .lease(W1, &JobKind::ALL, 11, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .fail(bad, &l.lease_id, W1, "spec names no Datanet", false, 12)
                .await
                .unwrap(),
            JobState::Failed
        );
        let once = store
            .enqueue(&job(JobKind::Train, None, 1), 20)
            .await
            .unwrap();
        store
            .lease(W1, &JobKind::ALL, 21, 10)
            .await
            .unwrap()
            .unwrap();
        assert!(store
            .lease(W2, &JobKind::ALL, 40, 10)
            .await
            .unwrap()
            .is_none());
        let j = store.job(once).await.unwrap();
        assert_eq!(j.state, JobState::Failed);
        assert!(j.error.unwrap().contains("last allowed attempt"));
        let counts = store.job_counts().await.unwrap();
        assert!(
            counts.contains(&(JobKind::Train, JobState::Failed, 2)),
            "{counts:?}"
        );
        assert!(
            counts.contains(&(JobKind::Prove, JobState::Failed, 1)),
            "{counts:?}"
        );
    }
);

on_both!(
    concurrent_workers_never_share_a_lease,
    |url: String| async move {
        let store = open(&url).await;
        let workers: Vec<String> = (0..6).map(|i| format!("0x{:040x}", i + 1)).collect();
        for w in &workers {
            store.register_worker(w, &json!({}), 0).await.unwrap();
        }
        let mut ids = Vec::new();
        for _ in 0..30 {
            ids.push(
                store
                    .enqueue(&job(JobKind::Prove, None, 2), 0)
                    .await
                    .unwrap(),
            );
        }
        let mut tasks = Vec::new();
        for w in workers.clone() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(l) = store.lease(&w, &JobKind::ALL, 1, 1_000_000).await.unwrap() {
                    store
                        .accept(l.job, &l.lease_id, &w, "sha256:r", "1", 2)
                        .await
                        .unwrap();
                    mine.push(l.job);
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        assert_eq!(all, ids, "every job leased and accepted exactly once");
        let mut paid = 0;
        for w in &workers {
            paid += store.fees(w).await.unwrap().len();
        }
        assert_eq!(paid, ids.len());
    }
);

#[test]
fn unsupported_urls_are_named() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(Store::connect("mysql://x")).unwrap_err();
    assert!(
        err.to_string().contains("sqlite://PATH or postgres://"),
        "{err}"
    );
}

on_both!(
    failures_reach_dependents_and_an_operator_requeues,
    |url: String| async move {
        let store = open(&url).await;
        store.register_worker(W1, &json!({}), 0).await.unwrap();
        store.register_worker(W2, &json!({}), 0).await.unwrap();
        let train = store
            .enqueue(&job(JobKind::Train, None, 1), 0)
            .await
            .unwrap();
        let prove = store
            .enqueue(&job(JobKind::Prove, Some(train), 2), 0)
            .await
            .unwrap();
        // A rejected worker does not get the same job again; another one does.
        let l = store
            .lease(W1, &JobKind::ALL, 1, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .reject(train, &l.lease_id, W1, "bad", 2)
                .await
                .unwrap(),
            JobState::Failed
        );
        // The prerequisite failed for good: its dependent can never run and fails too.
        let p = store.job(prove).await.unwrap();
        assert_eq!(p.state, JobState::Failed);
        assert!(p.error.unwrap().contains(&format!("job {train}, failed")));
        // An operator requeues the prerequisite, and the dependent with it.
        assert!(store.requeue(train, 3).await.unwrap());
        assert!(
            !store.requeue(train, 3).await.unwrap(),
            "only a failed job is requeued"
        );
        assert_eq!(store.job(prove).await.unwrap().state, JobState::Queued);
        assert!(
            store
                .lease(W1, &JobKind::ALL, 4, 100)
                .await
                .unwrap()
                .is_none(),
            "W1 was rejected on it"
        );
        let l = store
            .lease(W2, &JobKind::ALL, 4, 100)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((l.job, l.attempt), (train, 1));
        assert!(matches!(
            store.requeue(999, 5).await,
            Err(StoreError::NoSuchJob(999))
        ));
    }
);

on_both!(
    an_attempt_cannot_be_kept_alive_forever,
    |url: String| async move {
        let store = open(&url).await.with_max_lease_ms(1_000);
        store.register_worker(W1, &json!({}), 0).await.unwrap();
        let id = store
            .enqueue(&job(JobKind::Prove, None, 2), 0)
            .await
            .unwrap();
        let l = store
            .lease(W1, &JobKind::ALL, 0, 400)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store
                .heartbeat(id, &l.lease_id, W1, None, 300, 400)
                .await
                .unwrap(),
            700
        );
        assert_eq!(
            store
                .heartbeat(id, &l.lease_id, W1, None, 600, 400)
                .await
                .unwrap(),
            1_000
        );
        // Past the attempt's limit the lease is not renewed (the result may still be submitted before expiry).
        assert!(matches!(
            store.heartbeat(id, &l.lease_id, W1, None, 1_000, 400).await,
            Err(StoreError::TimeLimit {
                limit_ms: 1_000,
                ..
            })
        ));
        store.holds(id, &l.lease_id, W1).await.unwrap();
        let next = store
            .lease(W1, &JobKind::ALL, 1_001, 400)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.attempt, 2);
    }
);
