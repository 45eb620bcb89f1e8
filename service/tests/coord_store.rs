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

/// The first `n` records of the sample Datanet, one JSON line each.
fn sample_records(n: usize) -> Vec<String> {
    let all = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/digits/records.jsonl"
    ))
    .expect("sample records");
    let lines: Vec<String> = all.lines().take(n).map(str::to_string).collect();
    assert_eq!(lines.len(), n, "the sample has fewer than {n} records");
    lines
}

fn jsonl(lines: &[String]) -> Vec<u8> {
    (lines.join("\n") + "\n").into_bytes()
}

/// The roots a home's Datanet (the CLI's store) seals for the same records and version boundaries.
fn home_roots(lines: &[String], boundaries: &[usize]) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut nets = zkattr_service::datanet::Datanets::open(tmp.path()).expect("home");
    nets.create("d").expect("create");
    let mut done = 0;
    boundaries
        .iter()
        .map(|&end| {
            nets.import(
                "d",
                std::io::Cursor::new(jsonl(&lines[done..end])),
                "test",
                Default::default(),
                &mut |_| {},
            )
            .expect("import");
            done = end;
            nets.seal("d").expect("seal").root
        })
        .collect()
}

on_both!(
    datanets_are_added_sealed_and_exported_like_a_homes,
    |url: String| async move {
        use zkattr_service::Error;
        let store = open(&url).await;
        let opts = Default::default();
        // 450 records: more than one verification batch (256) and one INSERT (200 rows).
        let lines = sample_records(450);
        store.create_datanet("digits", "0xowner", 1).await.unwrap();
        assert!(matches!(
            store.create_datanet("digits", "0xother", 2).await,
            Err(Error::DatanetExists { .. })
        ));
        assert!(matches!(
            store.create_datanet("no spaces", "0xowner", 2).await,
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            store
                .add_records("none", jsonl(&lines), "0xs", opts, 3)
                .await,
            Err(Error::DatanetNotFound { .. })
        ));
        assert_eq!(
            store.datanet_owner("digits").await.unwrap().as_deref(),
            Some("0xowner")
        );
        assert_eq!(store.datanet_owner("none").await.unwrap(), None);

        let added = store
            .add_records("digits", jsonl(&lines[..300]), "0xs", opts, 3)
            .await
            .unwrap();
        assert_eq!(
            (added.first_item, added.records, added.items),
            (0, 300, 300)
        );
        // All or nothing: a bad record late in the body, a duplicate of an earlier addition, a duplicate
        // within the body, an empty body; each refused and named, nothing added.
        let mut forged: serde_json::Value = serde_json::from_str(&lines[420]).unwrap();
        forged["label"] = "7".into();
        let mut bad_late = lines[300..420].to_vec();
        bad_late.push(forged.to_string());
        let mut dup_within = lines[300..310].to_vec();
        dup_within.push(lines[305].clone());
        let mut dup_earlier = lines[300..305].to_vec();
        dup_earlier.push(lines[17].clone());
        for (body, check) in [
            (
                jsonl(&bad_late),
                &(|e: &Error| matches!(e, Error::BadSignature { line: 121, .. }))
                    as &dyn Fn(&Error) -> bool,
            ),
            (jsonl(&dup_within), &|e: &Error| {
                matches!(e, Error::Duplicate { line: 11, earlier_item: 305, earlier, .. }
                        if earlier.contains("line 6 of this submission"))
            }),
            (jsonl(&dup_earlier), &|e: &Error| {
                matches!(e, Error::Duplicate { line: 6, earlier_item: 17, earlier, .. }
                        if earlier.contains("line 18 of addition #") && earlier.contains("0xs"))
            }),
            (Vec::new(), &|e: &Error| {
                matches!(e, Error::EmptyImport { .. })
            }),
        ] {
            let e = store
                .add_records("digits", body, "0xs", opts, 4)
                .await
                .unwrap_err();
            assert!(check(&e), "unexpected error: {e}");
        }
        let s = store.datanet_summary("digits").await.unwrap();
        assert_eq!((s.items, s.unsealed_items, s.imports), (300, 300, 1));

        // A seal for another item count than the Datanet's is refused, nothing sealed.
        assert!(matches!(
            store.seal_datanet("digits", Some(299), 5_000).await,
            Err(Error::SealMismatch {
                items: 300,
                expected: 299,
                ..
            })
        ));
        let v1 = store
            .seal_datanet("digits", Some(300), 5_000)
            .await
            .unwrap();
        assert_eq!((v1.version, v1.items, v1.sealed_at), (1, 300, 5));
        assert!(matches!(
            store.seal_datanet("digits", None, 6_000).await,
            Err(Error::NothingToSeal { version: 1, .. })
        ));
        store
            .add_records("digits", jsonl(&lines[300..]), "0xt", opts, 7)
            .await
            .unwrap();
        let v2 = store.seal_datanet("digits", None, 8_000).await.unwrap();
        assert_eq!((v2.version, v2.items), (2, 450));
        // The same roots as a home's Datanet seals for the same records.
        assert_eq!(
            home_roots(&lines, &[300, 450]),
            vec![v1.root.clone(), v2.root.clone()]
        );
        assert_eq!(
            store.datanet_version("digits", 1).await.unwrap().root,
            v1.root
        );
        assert!(matches!(
            store.datanet_version("digits", 3).await,
            Err(Error::VersionNotFound { latest: 2, .. })
        ));
        let s = store.datanet_summary("digits").await.unwrap();
        assert_eq!((s.items, s.unsealed_items, s.imports), (450, 0, 2));
        assert_eq!(s.versions.len(), 2);
        // Exported records are the records added, in item order.
        let exported = store.datanet_records("digits", 1).await.unwrap();
        assert_eq!(exported.len(), 300);
        for (got, sent) in exported.iter().zip(&lines) {
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(got).unwrap(),
                serde_json::from_str::<serde_json::Value>(sent).unwrap()
            );
        }
        assert_eq!(home_roots(&exported, &[300]), vec![v1.root]);
        assert_eq!(
            store.datanet_names().await.unwrap(),
            vec!["digits".to_string()]
        );
        // Kept across a reconnect.
        store.close().await;
        let store = open(&url).await;
        assert_eq!(
            store.datanet_version("digits", 2).await.unwrap().root,
            v2.root
        );
    }
);

on_both!(
    concurrent_additions_get_distinct_items,
    |url: String| async move {
        let store = open(&url).await;
        let lines = sample_records(120);
        store.create_datanet("digits", "0xowner", 1).await.unwrap();
        let mut tasks = Vec::new();
        for part in lines.chunks(15) {
            let (store, body) = (store.clone(), jsonl(part));
            tasks.push(tokio::spawn(async move {
                store
                    .add_records("digits", body, "0xs", Default::default(), 2)
                    .await
            }));
        }
        let mut firsts = Vec::new();
        for t in tasks {
            firsts.push(t.await.unwrap().unwrap().first_item);
        }
        firsts.sort();
        assert_eq!(firsts, (0..120).step_by(15).collect::<Vec<u64>>());
        let v = store.seal_datanet("digits", None, 3_000).await.unwrap();
        assert_eq!(v.items, 120);
        // Whatever order they landed in, the exported records rebuild the sealed root.
        let exported = store.datanet_records("digits", 1).await.unwrap();
        assert_eq!(home_roots(&exported, &[120]), vec![v.root]);
    }
);

on_both!(
    a_request_digest_is_remembered_until_it_expires,
    |url: String| async move {
        let store = open(&url).await;
        assert!(store.remember_request("0xaa", 1_000, 0).await.unwrap());
        assert!(!store.remember_request("0xaa", 1_000, 10).await.unwrap());
        assert!(store.remember_request("0xbb", 1_000, 10).await.unwrap());
        // Kept across a reconnect (another process, a restart).
        store.close().await;
        let store = open(&url).await;
        assert!(!store.remember_request("0xaa", 1_000, 20).await.unwrap());
        // Dropped once expired (the sweep runs at most once a minute).
        assert!(store
            .remember_request("0xaa", 200_000, 70_000)
            .await
            .unwrap());
    }
);
