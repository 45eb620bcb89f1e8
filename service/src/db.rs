//! The SQLite state database under `--home` and its migrations.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a committed transaction survives a crash and an
//! uncommitted one (an import killed half-way) leaves no trace. Sealed versions and items are append-only;
//! triggers refuse updates and deletes so no code path can rewrite history.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// File name of the database inside the home directory.
pub const DB_FILE: &str = "zkattr.db";

/// Migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    // 1: Datanets, imports, items, sealed versions.
    r#"
    CREATE TABLE datanets (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE imports (
        id          INTEGER PRIMARY KEY,
        datanet_id  INTEGER NOT NULL REFERENCES datanets(id),
        source      TEXT NOT NULL,
        first_item  INTEGER NOT NULL,
        records     INTEGER NOT NULL,
        imported_at INTEGER NOT NULL
    );
    CREATE TABLE items (
        datanet_id   INTEGER NOT NULL REFERENCES datanets(id),
        idx          INTEGER NOT NULL,
        contributor  BLOB NOT NULL,   -- 20 bytes
        content_hash BLOB NOT NULL,   -- 32 bytes, big-endian field element
        record_hash  BLOB NOT NULL,   -- 32 bytes, the signed digest
        label        TEXT NOT NULL,
        licence      TEXT NOT NULL,
        content      TEXT NOT NULL,   -- JSON of the content
        signature    BLOB NOT NULL,   -- 65 bytes r || s || v
        import_id    INTEGER NOT NULL REFERENCES imports(id),
        line         INTEGER NOT NULL,
        PRIMARY KEY (datanet_id, idx),
        UNIQUE (datanet_id, content_hash)
    );
    CREATE TABLE versions (
        datanet_id  INTEGER NOT NULL REFERENCES datanets(id),
        version     INTEGER NOT NULL,
        items       INTEGER NOT NULL,
        depth       INTEGER NOT NULL,
        root        BLOB NOT NULL,
        sealed_at   INTEGER NOT NULL,
        PRIMARY KEY (datanet_id, version)
    );
    CREATE TRIGGER items_append_only_u BEFORE UPDATE ON items
        BEGIN SELECT RAISE(ABORT, 'items are append-only'); END;
    CREATE TRIGGER items_append_only_d BEFORE DELETE ON items
        BEGIN SELECT RAISE(ABORT, 'items are append-only'); END;
    CREATE TRIGGER versions_immutable_u BEFORE UPDATE ON versions
        BEGIN SELECT RAISE(ABORT, 'sealed versions are immutable'); END;
    CREATE TRIGGER versions_immutable_d BEFORE DELETE ON versions
        BEGIN SELECT RAISE(ABORT, 'sealed versions are immutable'); END;
    "#,
];

/// Path of the database in `home`.
pub fn db_path(home: &Path) -> PathBuf {
    home.join(DB_FILE)
}

/// Opens (creating `home` and the database if needed) and migrates.
pub fn open(home: &Path) -> Result<Connection> {
    std::fs::create_dir_all(home).map_err(|e| Error::io(home, e))?;
    let mut conn = Connection::open(db_path(home))?;
    // Wait for other processes (a second zkattr on the same home) rather than failing at once.
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Switching a new database to WAL can return SQLITE_BUSY at once, without the busy handler, while
    // another connection is switching it too: retry for as long as the busy timeout.
    let start = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other?,
        }
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens an existing database without creating anything; `None` when `home` has none.
pub fn open_existing(home: &Path) -> Result<Option<Connection>> {
    if !db_path(home).exists() {
        return Ok(None);
    }
    open(home).map(Some)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let supported = MIGRATIONS.len() as i64;
    loop {
        // Read the version inside the write transaction, so two processes opening a new home at once do not
        // both run the same migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current > supported {
            return Err(Error::SchemaTooNew {
                found: current,
                supported,
            });
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", current + 1)?;
        tx.commit()?;
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(dir.path()).unwrap());
        let conn = open(dir.path()).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            open(dir.path()),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn concurrent_first_opens_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = dir.path().to_owned();
                std::thread::spawn(move || open(&p).map(drop))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    }
}
