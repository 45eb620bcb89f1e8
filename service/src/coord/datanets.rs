//! The coordinator's Datanets, in its own database (SQLite or PostgreSQL, like the rest of its state): the
//! same signed records, versions and roots as a home's Datanets ([`crate::datanet`]), created, filled and
//! sealed through the API.
//!
//! Records are checked exactly as `zkattr datanet import` checks them (the same code: size limit, form,
//! the contributor's signature) before the database is touched; an addition is all or nothing. A version's
//! root is computed the same way too ([`crate::datanet::store::version_root`]), so a worker that rebuilds a
//! snapshot from the exported records gets the same roots. Writes to one Datanet are serialised (SQLite: the
//! write lock; PostgreSQL: a row lock on the Datanet), so item numbers never collide.

use std::collections::HashMap;

use alloy_primitives::Address;
use sqlx::{AssertSqlSafe, Row};
use zkattr_circuits::field::{self, Fr};

use super::store::{Dialect, Store, StoreError};
use crate::datanet::store::{
    check_records, pick_version, validate_name, version_root, Checked, DatanetSummary,
    ImportOptions, ImportSummary, SealedVersion,
};
use crate::error::{Error, Result};

/// Rows per multi-row `INSERT` (7 parameters each: far below both databases' parameter limits).
const INSERT_ROWS: usize = 200;
/// Content hashes per duplicate lookup.
const LOOKUP_HASHES: usize = 500;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(StoreError::Db(e))
    }
}

/// Placeholders `($a, $b, …), (…)` for `rows` rows of `width` parameters, numbered from `first`.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (0..width)
                .map(|c| format!("${}", first + r * width + c))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("coordinator database: {what}"))
}

fn u64_of(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(format!("{what} is negative ({v})")))
}

impl Store {
    /// `SELECT id FROM datanets WHERE name = $1`, locking the row for the transaction on PostgreSQL (SQLite
    /// write transactions hold the database's write lock already).
    fn datanet_lock_sql(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "SELECT id FROM datanets WHERE name = $1",
            Dialect::Postgres => "SELECT id FROM datanets WHERE name = $1 FOR UPDATE",
        }
    }

    async fn datanet_id<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
        exec: E,
        sql: &'static str,
        name: &str,
    ) -> Result<i64> {
        sqlx::query(sql)
            .bind(name)
            .fetch_optional(exec)
            .await?
            .map(|r| r.try_get::<i64, _>("id"))
            .transpose()?
            .ok_or_else(|| Error::DatanetNotFound { name: name.into() })
    }

    /// Creates an empty Datanet owned by `owner` (who seals it).
    pub async fn create_datanet(&self, name: &str, owner: &str, now_ms: i64) -> Result<()> {
        validate_name(name)?;
        let r = sqlx::query(
            "INSERT INTO datanets (name, owner, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(owner)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() == 0 {
            return Err(Error::DatanetExists { name: name.into() });
        }
        Ok(())
    }

    /// Every Datanet's name, in order.
    pub async fn datanet_names(&self) -> Result<Vec<String>> {
        sqlx::query("SELECT name FROM datanets ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("name")?))
            .collect()
    }

    /// The owner of Datanet `name`, if it exists.
    pub async fn datanet_owner(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT owner FROM datanets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get("owner"))
            .transpose()?)
    }

    /// Adds the JSONL records in `body` to Datanet `name`, all or nothing. Every record is checked (size,
    /// form, its contributor's signature; off the async runtime) before the database is written; a record
    /// whose content is already in the Datanet (or earlier in `body`) is refused, naming where it is.
    /// `submitter` is recorded with the addition.
    pub async fn add_records(
        &self,
        name: &str,
        body: Vec<u8>,
        submitter: &str,
        opts: ImportOptions,
        now_ms: i64,
    ) -> Result<ImportSummary> {
        validate_name(name)?;
        let source = format!("records submitted by {submitter}");
        let src = source.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let mut all: Vec<Checked> = Vec::new();
            check_records(
                &mut std::io::Cursor::new(body),
                &src,
                opts,
                &mut |_| {},
                &mut |batch| {
                    all.extend(batch);
                    Ok(())
                },
            )
            .map(|()| all)
        })
        .await
        .map_err(|e| Error::Coordinator(format!("record check thread: {e}")))??;
        if checked.is_empty() {
            return Err(Error::EmptyImport {
                source_name: source,
            });
        }
        let hashes: Vec<String> = checked
            .iter()
            .map(|c| field::to_hex(&c.content_hash))
            .collect();

        let mut tx = self.begin().await?;
        let id = Self::datanet_id(&mut *tx, self.datanet_lock_sql(), name).await?;
        let first_item = u64_of(
            sqlx::query(
                "SELECT CAST(COALESCE(MAX(idx) + 1, 0) AS BIGINT) AS n FROM datanet_items WHERE datanet = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?,
            "an item index",
        )?;

        // The first duplicate in input order: earlier in this body, or already in the Datanet.
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(hashes.len());
        let mut first_dup: Option<(usize, Error)> = None;
        for (i, h) in hashes.iter().enumerate() {
            if let Some(&j) = seen.get(h.as_str()) {
                first_dup = Some((
                    i,
                    Error::Duplicate {
                        line: checked[i].line,
                        content_hash: h.clone(),
                        earlier_item: first_item + j as u64,
                        earlier: format!("line {} of this submission", checked[j].line),
                    },
                ));
                break;
            }
            seen.insert(h, i);
        }
        for chunk in hashes.chunks(LOOKUP_HASHES) {
            let sql = format!(
                "SELECT i.idx, i.content_hash, i.line, m.id AS import_id, m.submitter \
                 FROM datanet_items i JOIN datanet_imports m ON m.id = i.import_id \
                 WHERE i.datanet = $1 AND i.content_hash IN ({})",
                (0..chunk.len())
                    .map(|k| format!("${}", k + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // Only placeholders are spliced in.
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(id);
            for h in chunk {
                q = q.bind(h.as_str());
            }
            for row in q.fetch_all(&mut *tx).await? {
                let hash: String = row.try_get("content_hash")?;
                let Some(&i) = seen.get(hash.as_str()) else {
                    continue;
                };
                if first_dup.as_ref().is_some_and(|(j, _)| *j <= i) {
                    continue;
                }
                let (import, submitter): (i64, String) =
                    (row.try_get("import_id")?, row.try_get("submitter")?);
                first_dup = Some((
                    i,
                    Error::Duplicate {
                        line: checked[i].line,
                        content_hash: hash,
                        earlier_item: u64_of(row.try_get("idx")?, "an item index")?,
                        earlier: format!(
                            "line {} of addition #{import} (submitted by {submitter})",
                            row.try_get::<i64, _>("line")?
                        ),
                    },
                ));
            }
        }
        if let Some((_, e)) = first_dup {
            return Err(e);
        }

        let import_id: i64 = sqlx::query(
            "INSERT INTO datanet_imports (datanet, submitter, first_item, records, imported_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(id)
        .bind(submitter)
        .bind(first_item as i64)
        .bind(checked.len() as i64)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (n, chunk) in checked.chunks(INSERT_ROWS).enumerate() {
            let sql = format!(
                "INSERT INTO datanet_items (datanet, idx, contributor, content_hash, record, import_id, line) \
                 VALUES {}",
                placeholders(chunk.len(), 7, 1)
            );
            // Only placeholders are spliced in.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (k, c) in chunk.iter().enumerate() {
                let i = n * INSERT_ROWS + k;
                q = q
                    .bind(id)
                    .bind((first_item + i as u64) as i64)
                    .bind(format!("{:#x}", c.record.contributor))
                    .bind(hashes[i].clone())
                    .bind(c.record.to_json())
                    .bind(import_id)
                    .bind(c.line as i64);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let records = checked.len() as u64;
        Ok(ImportSummary {
            datanet: name.into(),
            import_id,
            records,
            first_item,
            items: first_item + records,
        })
    }

    /// Seals the next version of `name` over every item added so far; with `expect_items`, only if that is
    /// how many items there are (so that a record added by someone else in between is not sealed into a
    /// version its sealer did not see).
    ///
    /// The root is computed outside the write transaction (on SQLite that lock is the whole database's, and
    /// hashing a large Datanet takes seconds); the transaction then checks that nothing was added or sealed
    /// meanwhile and tries again if something was.
    pub async fn seal_datanet(
        &self,
        name: &str,
        expect_items: Option<u64>,
        now_ms: i64,
    ) -> Result<SealedVersion> {
        validate_name(name)?;
        let id =
            Self::datanet_id(&self.pool, "SELECT id FROM datanets WHERE name = $1", name).await?;
        let mut tries = 0;
        loop {
            tries += 1;
            let (version, sealed_items) = self.latest_version(&self.pool, id).await?;
            let rows = sqlx::query(
                "SELECT contributor, content_hash FROM datanet_items WHERE datanet = $1 ORDER BY idx",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let items = rows.len() as u64;
            if let Some(expected) = expect_items.filter(|e| *e != items) {
                return Err(Error::SealMismatch {
                    name: name.into(),
                    items,
                    expected,
                });
            }
            if items == sealed_items {
                return Err(Error::NothingToSeal {
                    name: name.into(),
                    version,
                });
            }
            let inputs = rows
                .iter()
                .map(|r| {
                    let contributor: String = r.try_get("contributor")?;
                    let hash: String = r.try_get("content_hash")?;
                    let address: Address = contributor
                        .parse()
                        .map_err(|_| corrupt(format!("contributor {contributor:?}")))?;
                    let hash = field::from_hex(&hash)
                        .map_err(|_| corrupt(format!("content hash {hash:?}")))?;
                    Ok((field::from_address(&address.0 .0), hash))
                })
                .collect::<Result<Vec<(Fr, Fr)>>>()?;
            let (root, depth) = tokio::task::spawn_blocking(move || version_root(&inputs))
                .await
                .map_err(|e| Error::Coordinator(format!("seal thread: {e}")))??;

            let mut tx = self.begin().await?;
            Self::datanet_id(&mut *tx, self.datanet_lock_sql(), name).await?;
            let now_latest = self.latest_version(&mut *tx, id).await?;
            let now_items = sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM datanet_items WHERE datanet = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>("n")?;
            if now_latest != (version, sealed_items) || now_items != items as i64 {
                // Added to or sealed meanwhile: look again (the expectation, if any, decides).
                drop(tx);
                if tries >= 5 {
                    return Err(Error::Coordinator(format!(
                        "{name} kept changing while it was being sealed; try again"
                    )));
                }
                continue;
            }
            let sealed_at = now_ms / 1000;
            let root = field::to_hex(&root);
            sqlx::query(
                "INSERT INTO datanet_versions (datanet, version, items, depth, root, sealed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(version as i64 + 1)
            .bind(items as i64)
            .bind(i64::from(depth))
            .bind(root.as_str())
            .bind(sealed_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(SealedVersion {
                datanet: name.into(),
                version: version + 1,
                items,
                depth,
                root,
                sealed_at,
            });
        }
    }

    /// `(latest version, its items)` of Datanet `id`; `(0, 0)` before the first seal.
    async fn latest_version<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
        &self,
        exec: E,
        id: i64,
    ) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v, CAST(COALESCE(MAX(items), 0) AS BIGINT) AS n \
             FROM datanet_versions WHERE datanet = $1",
        )
        .bind(id)
        .fetch_one(exec)
        .await?;
        Ok((
            u64_of(row.try_get("v")?, "a version")?,
            u64_of(row.try_get("n")?, "an item count")?,
        ))
    }

    async fn datanet_versions(&self, name: &str, id: i64) -> Result<Vec<SealedVersion>> {
        sqlx::query(
            "SELECT version, items, depth, root, sealed_at FROM datanet_versions \
             WHERE datanet = $1 ORDER BY version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let depth: i64 = r.try_get("depth")?;
            Ok(SealedVersion {
                datanet: name.into(),
                version: u64_of(r.try_get("version")?, "a version")?,
                items: u64_of(r.try_get("items")?, "an item count")?,
                depth: u32::try_from(depth).map_err(|_| corrupt(format!("depth {depth}")))?,
                root: r.try_get("root")?,
                sealed_at: r.try_get("sealed_at")?,
            })
        })
        .collect()
    }

    /// Sealed version `version` of `name`.
    pub async fn datanet_version(&self, name: &str, version: u64) -> Result<SealedVersion> {
        validate_name(name)?;
        let id =
            Self::datanet_id(&self.pool, "SELECT id FROM datanets WHERE name = $1", name).await?;
        pick_version(name, self.datanet_versions(name, id).await?, version)
    }

    /// Overview of `name`: items, contributors, additions and sealed versions.
    pub async fn datanet_summary(&self, name: &str) -> Result<DatanetSummary> {
        validate_name(name)?;
        let id =
            Self::datanet_id(&self.pool, "SELECT id FROM datanets WHERE name = $1", name).await?;
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS items, CAST(COUNT(DISTINCT contributor) AS BIGINT) AS contributors \
             FROM datanet_items WHERE datanet = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let items = u64_of(row.try_get("items")?, "an item count")?;
        let contributors = u64_of(row.try_get("contributors")?, "a contributor count")?;
        let imports = u64_of(
            sqlx::query(
                "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM datanet_imports WHERE datanet = $1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?,
            "an addition count",
        )?;
        let versions = self.datanet_versions(name, id).await?;
        Ok(DatanetSummary::new(
            name,
            items,
            contributors,
            imports,
            versions,
        ))
    }

    /// The signed records of sealed `version` of `name`, in item order, one JSON line each (the import
    /// format).
    pub async fn datanet_records(&self, name: &str, version: u64) -> Result<Vec<String>> {
        let v = self.datanet_version(name, version).await?;
        let id =
            Self::datanet_id(&self.pool, "SELECT id FROM datanets WHERE name = $1", name).await?;
        sqlx::query("SELECT record FROM datanet_items WHERE datanet = $1 AND idx < $2 ORDER BY idx")
            .bind(id)
            .bind(v.items as i64)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok(r.try_get("record")?))
            .collect()
    }
}
