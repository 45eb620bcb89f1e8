//! Datanets in the state database: create, import (all-or-nothing), seal, show.

use std::io::BufRead;

use alloy_primitives::Address;
use rayon::prelude::*;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use zkattr_circuits::{
    field::{self, Fr},
    merkle::{self, MerkleTree},
};

use super::{
    inclusion::{InclusionItem, InclusionProof},
    record::{Content, Record},
};
use crate::{
    db,
    error::{Error, Result},
};

/// Default limit on one record (one JSONL line), in bytes: 5 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 5 * 1024 * 1024;

/// Lines verified together (signature recovery runs in parallel within a batch).
const BATCH_LINES: usize = 256;

/// Checks a Datanet name: 1 to 64 characters from `A-Z a-z 0-9 . _ -`, not starting with `.` or `-`.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() || name.len() > 64 {
        Some("must be 1 to 64 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Some("may contain only letters, digits, '.', '_' and '-'")
    } else if name.starts_with(['.', '-']) {
        Some("may not start with '.' or '-'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            name: name.into(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Options of an import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Records (lines) longer than this are refused.
    pub max_record_bytes: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }
}

/// What an import added.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The Datanet.
    pub datanet: String,
    /// Import number within this home.
    pub import_id: i64,
    /// Records added.
    pub records: u64,
    /// Index of the first added item.
    pub first_item: u64,
    /// Items in the Datanet after the import.
    pub items: u64,
}

/// A sealed version.
#[derive(Debug, Clone, Serialize)]
pub struct SealedVersion {
    /// The Datanet.
    pub datanet: String,
    /// Version number, from 1.
    pub version: u64,
    /// Items `0..items` are in this version.
    pub items: u64,
    /// Depth of the Merkle tree.
    pub depth: u32,
    /// The root, `0x…`.
    pub root: String,
    /// Seconds since the Unix epoch.
    pub sealed_at: i64,
}

/// Overview of one Datanet.
#[derive(Debug, Clone, Serialize)]
pub struct DatanetSummary {
    /// Name.
    pub name: String,
    /// Items stored.
    pub items: u64,
    /// Distinct contributors.
    pub contributors: u64,
    /// Items added since the latest version.
    pub unsealed_items: u64,
    /// Imports made.
    pub imports: u64,
    /// Sealed versions, oldest first.
    pub versions: Vec<SealedVersion>,
}

impl DatanetSummary {
    /// The overview of `name` from its counts and its sealed versions (oldest first).
    pub(crate) fn new(
        name: &str,
        items: u64,
        contributors: u64,
        imports: u64,
        versions: Vec<SealedVersion>,
    ) -> Self {
        let sealed = versions.last().map_or(0, |v| v.items);
        Self {
            name: name.into(),
            items,
            contributors,
            unsealed_items: items.saturating_sub(sealed),
            imports,
            versions,
        }
    }
}

/// Version `version` of `name` from its sealed versions `all` (oldest first), or the error naming the latest.
pub(crate) fn pick_version(
    name: &str,
    all: Vec<SealedVersion>,
    version: u64,
) -> Result<SealedVersion> {
    let latest = all.last().map_or(0, |v| v.version);
    all.into_iter()
        .find(|v| v.version == version)
        .ok_or(Error::VersionNotFound {
            name: name.into(),
            version,
            latest,
        })
}

/// Reads one line of at most `limit` bytes into `buf` (without its line ending).
/// Returns `None` at end of input, otherwise the line's full length; when that exceeds `limit`, the rest of the
/// line has been skipped and `buf` holds only its start.
fn read_line_bounded<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: u64,
    consumed: &mut u64,
) -> std::io::Result<Option<u64>> {
    buf.clear();
    let mut len = 0u64;
    let mut any = false;
    let mut last = None;
    // Keep at most limit + 1 bytes: enough to see a trailing '\r' on a line of exactly `limit` bytes.
    let keep_max = limit.saturating_add(1);
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let keep = keep_max
            .saturating_sub(buf.len() as u64)
            .min(chunk.len() as u64) as usize;
        buf.extend_from_slice(&chunk[..keep]);
        last = chunk.last().copied().or(last);
        len += chunk.len() as u64;
        let used = done.unwrap_or(chunk.len());
        r.consume(used);
        *consumed += used as u64;
        if done.is_some() {
            if last == Some(b'\r') {
                if buf.len() as u64 == len {
                    buf.pop();
                }
                len -= 1;
            }
            return Ok(Some(len));
        }
    }
}

/// A line parsed and checked, ready to insert.
pub(crate) struct Checked {
    /// Its 1-based line number.
    pub line: u64,
    /// The record.
    pub record: Record,
    /// Hash of its content.
    pub content_hash: Fr,
    /// The hash its contributor signed.
    pub record_hash: [u8; 32],
}

fn check_line(line: u64, text: &[u8]) -> Result<Checked> {
    let text = std::str::from_utf8(text).map_err(|_| Error::Malformed {
        line,
        reason: "not valid UTF-8".into(),
    })?;
    let record = Record::from_json(text).map_err(|reason| Error::Malformed { line, reason })?;
    let content_hash = record.content.hash();
    let record_hash = super::record::record_hash(
        record.contributor,
        &content_hash,
        &record.label,
        &record.licence,
    );
    super::record::verify_record_signature(record.contributor, &record_hash, &record.signature)
        .map_err(|reason| Error::BadSignature { line, reason })?;
    Ok(Checked {
        line,
        record,
        content_hash,
        record_hash: record_hash.0,
    })
}

/// Reads JSONL records from `reader` and checks each one (within `opts.max_record_bytes`, well-formed, its
/// contributor's signature valid), in batches whose signatures are recovered in parallel. `sink` gets every
/// batch in input order; blank lines are skipped. Stops at the first bad line (the error names it, and every
/// line before it has reached `sink`) or the first error of `sink`. `progress` is told the bytes read so far.
pub(crate) fn check_records<R: BufRead>(
    reader: &mut R,
    source: &str,
    opts: ImportOptions,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(Vec<Checked>) -> Result<()>,
) -> Result<()> {
    let mut line_no = 0u64;
    let mut consumed = 0u64;
    let mut buf = Vec::new();
    let mut eof = false;
    let mut too_large = None;
    while !eof {
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(BATCH_LINES);
        while batch.len() < BATCH_LINES {
            let len = read_line_bounded(reader, &mut buf, opts.max_record_bytes, &mut consumed)
                .map_err(|e| Error::io(source, e))?;
            let Some(len) = len else {
                eof = true;
                break;
            };
            line_no += 1;
            if len > opts.max_record_bytes {
                // Reported after the lines before it, so the first bad line is the one named.
                too_large = Some(Error::RecordTooLarge {
                    line: line_no,
                    bytes: len,
                    limit: opts.max_record_bytes,
                });
                eof = true;
                break;
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            batch.push((line_no, std::mem::take(&mut buf)));
        }
        // Parse and verify in parallel; report the first failing line in input order.
        let mut good = Vec::with_capacity(batch.len());
        let mut bad = None;
        for c in batch
            .par_iter()
            .map(|(l, text)| check_line(*l, text))
            .collect::<Vec<_>>()
        {
            match c {
                Ok(c) => good.push(c),
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        // The lines before a bad one go to `sink` first: one of them may be the first bad line (a duplicate).
        sink(good)?;
        if let Some(e) = bad {
            return Err(e);
        }
        progress(consumed);
    }
    too_large.map_or(Ok(()), Err)
}

/// The Datanets of one home.
#[derive(Debug)]
pub struct Datanets {
    conn: Connection,
}

impl Datanets {
    /// Opens the home's database (creating it if needed).
    pub fn open(home: &std::path::Path) -> Result<Self> {
        Ok(Self {
            conn: db::open(home)?,
        })
    }

    /// Opens the home's database only if it exists.
    pub fn open_existing(home: &std::path::Path) -> Result<Option<Self>> {
        Ok(db::open_existing(home)?.map(|conn| Self { conn }))
    }

    fn id(conn: &Connection, name: &str) -> Result<i64> {
        conn.query_row("SELECT id FROM datanets WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| Error::DatanetNotFound { name: name.into() })
    }

    /// Creates an empty Datanet.
    pub fn create(&mut self, name: &str) -> Result<()> {
        validate_name(name)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        match Self::id(&tx, name) {
            Ok(_) => return Err(Error::DatanetExists { name: name.into() }),
            Err(Error::DatanetNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        tx.execute(
            "INSERT INTO datanets (name, created_at) VALUES (?1, ?2)",
            params![name, db::now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Names of all Datanets.
    pub fn list(&self) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT name FROM datanets ORDER BY name")?;
        let names = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }

    /// Imports JSONL records from `reader`, all or nothing: on any error (or a crash) the Datanet is left as it
    /// was. `source` names the input in errors and in the import log; `progress` is told the bytes read so far.
    pub fn import<R: BufRead>(
        &mut self,
        name: &str,
        mut reader: R,
        source: &str,
        opts: ImportOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ImportSummary> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let datanet_id = Self::id(&tx, name)?;
        let first_item: u64 = tx.query_row(
            "SELECT COUNT(*) FROM items WHERE datanet_id = ?1",
            [datanet_id],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO imports (datanet_id, source, first_item, records, imported_at) VALUES (?1, ?2, ?3, 0, ?4)",
            params![datanet_id, source, first_item, db::now()],
        )?;
        let import_id = tx.last_insert_rowid();
        let mut next = first_item;
        {
            let mut find_dup = tx.prepare(
                "SELECT i.idx, i.import_id, i.line, m.source FROM items i JOIN imports m ON m.id = i.import_id
                 WHERE i.datanet_id = ?1 AND i.content_hash = ?2",
            )?;
            let mut insert = tx.prepare(
                "INSERT INTO items (datanet_id, idx, contributor, content_hash, record_hash, label, licence, content,
                                    signature, import_id, line)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            check_records(&mut reader, source, opts, progress, &mut |batch| {
                for c in batch {
                    let ch = field::to_bytes_be(&c.content_hash);
                    let dup = find_dup
                        .query_row(params![datanet_id, &ch[..]], |r| {
                            Ok((
                                r.get::<_, u64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, u64>(2)?,
                                r.get::<_, String>(3)?,
                            ))
                        })
                        .optional()?;
                    if let Some((earlier_item, earlier_import, earlier_line, earlier_source)) = dup
                    {
                        let earlier = if earlier_import == import_id {
                            format!("line {earlier_line} of this import")
                        } else {
                            format!("line {earlier_line} of import #{earlier_import} ({earlier_source})")
                        };
                        return Err(Error::Duplicate {
                            line: c.line,
                            content_hash: field::to_hex(&c.content_hash),
                            earlier_item,
                            earlier,
                        });
                    }
                    let content =
                        serde_json::to_string(&c.record.content).expect("content serialises");
                    insert.execute(params![
                        datanet_id,
                        next,
                        c.record.contributor.as_slice(),
                        &ch[..],
                        &c.record_hash[..],
                        c.record.label,
                        c.record.licence,
                        content,
                        &c.record.signature[..],
                        import_id,
                        c.line,
                    ])?;
                    next += 1;
                }
                Ok(())
            })?;
        }
        let records = next - first_item;
        if records == 0 {
            return Err(Error::EmptyImport {
                source_name: source.into(),
            });
        }
        tx.execute(
            "UPDATE imports SET records = ?1 WHERE id = ?2",
            params![records, import_id],
        )?;
        tx.commit()?;
        Ok(ImportSummary {
            datanet: name.into(),
            import_id,
            records,
            first_item,
            items: next,
        })
    }

    /// `(contributor, content_hash)` of items `0..count`, as field elements, in item order.
    fn leaf_inputs_by_id(conn: &Connection, datanet_id: i64, count: u64) -> Result<Vec<(Fr, Fr)>> {
        let mut st = conn.prepare(
            "SELECT contributor, content_hash FROM items WHERE datanet_id = ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let rows = st
            .query_map(params![datanet_id, count], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.iter()
            .map(|(c, h)| Ok((contributor_field(c)?, stored_field(h)?)))
            .collect()
    }

    /// Leaves of items `0..count`, recomputed from the stored contributor and content hash.
    fn leaves(conn: &Connection, datanet_id: i64, count: u64) -> Result<Vec<Fr>> {
        Ok(leaves_of(&Self::leaf_inputs_by_id(
            conn, datanet_id, count,
        )?))
    }

    /// The leaf inputs `(contributor, content_hash)` of every item of a sealed version, in item order: what a
    /// circuit needs to recompute the version's root.
    pub fn leaf_inputs(&self, name: &str, version: u64) -> Result<Vec<(Fr, Fr)>> {
        let id = Self::id(&self.conn, name)?;
        let v = self.version(name, version)?;
        Self::leaf_inputs_by_id(&self.conn, id, v.items)
    }

    fn latest(conn: &Connection, datanet_id: i64) -> Result<(u64, u64)> {
        Ok(conn.query_row(
            "SELECT COALESCE(MAX(version), 0), COALESCE(MAX(items), 0) FROM versions WHERE datanet_id = ?1",
            [datanet_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Seals the next version over every item stored so far.
    pub fn seal(&mut self, name: &str) -> Result<SealedVersion> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = Self::id(&tx, name)?;
        let (version, sealed_items) = Self::latest(&tx, id)?;
        let items: u64 = tx.query_row(
            "SELECT COUNT(*) FROM items WHERE datanet_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if items == sealed_items {
            return Err(Error::NothingToSeal {
                name: name.into(),
                version,
            });
        }
        let (root, depth) = version_root(&Self::leaf_inputs_by_id(&tx, id, items)?)?;
        let sealed_at = db::now();
        tx.execute(
            "INSERT INTO versions (datanet_id, version, items, depth, root, sealed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, version + 1, items, depth, &field::to_bytes_be(&root)[..], sealed_at],
        )?;
        tx.commit()?;
        Ok(SealedVersion {
            datanet: name.into(),
            version: version + 1,
            items,
            depth,
            root: field::to_hex(&root),
            sealed_at,
        })
    }

    fn versions(conn: &Connection, name: &str, id: i64) -> Result<Vec<SealedVersion>> {
        let mut st = conn.prepare(
            "SELECT version, items, depth, root, sealed_at FROM versions WHERE datanet_id = ?1 ORDER BY version",
        )?;
        let rows = st
            .query_map([id], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                    r.get(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(version, items, depth, root, sealed_at)| {
                Ok(SealedVersion {
                    datanet: name.into(),
                    version,
                    items,
                    depth,
                    root: field::to_hex(&stored_field(&root)?),
                    sealed_at,
                })
            })
            .collect()
    }

    /// A sealed version.
    pub fn version(&self, name: &str, version: u64) -> Result<SealedVersion> {
        let id = Self::id(&self.conn, name)?;
        pick_version(name, Self::versions(&self.conn, name, id)?, version)
    }

    /// Every item of a sealed version, in item order, as the trainer reads them. Text items are refused
    /// (the digits model takes integer features).
    pub fn snapshot_items(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Vec<zkattr_trainer::data::SnapshotItem>> {
        let id = Self::id(&self.conn, name)?;
        let v = self.version(name, version)?;
        let mut st = self.conn.prepare(
            "SELECT idx, contributor, content, label FROM items WHERE datanet_id = ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let rows = st
            .query_map(params![id, v.items], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(index, contributor, content, label)| {
                let content: Content = serde_json::from_str(&content).map_err(|e| {
                    Error::Corrupt(format!("stored content of item {index} is unreadable: {e}"))
                })?;
                let content = match content {
                    Content::Features(f) => zkattr_trainer::data::ItemContent::Features(f),
                    Content::Text(t) => zkattr_trainer::data::ItemContent::Text(t),
                };
                Ok(zkattr_trainer::data::SnapshotItem {
                    index,
                    contributor: address(&contributor)?.0 .0,
                    content,
                    label,
                })
            })
            .collect()
    }

    /// The signed records of items `0..items` of sealed `version`, in item order, one JSON line each (the
    /// import format): with the version list, enough for anyone to rebuild and check the snapshot.
    pub fn export_records(&self, name: &str, version: u64) -> Result<Vec<String>> {
        let id = Self::id(&self.conn, name)?;
        let v = self.version(name, version)?;
        let mut st = self.conn.prepare(
            "SELECT idx, contributor, content, label, licence, signature FROM items \
             WHERE datanet_id = ?1 AND idx < ?2 ORDER BY idx",
        )?;
        let rows = st
            .query_map(params![id, v.items], |r| {
                Ok((
                    r.get::<_, u64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(index, contributor, content, label, licence, signature)| {
                let content: Content = serde_json::from_str(&content).map_err(|e| {
                    Error::Corrupt(format!("stored content of item {index} is unreadable: {e}"))
                })?;
                let signature: [u8; 65] = signature.try_into().map_err(|_| {
                    Error::Corrupt(format!("stored signature of item {index} is not 65 bytes"))
                })?;
                Ok(Record {
                    contributor: address(&contributor)?,
                    content,
                    label,
                    licence,
                    signature,
                }
                .to_json())
            })
            .collect()
    }

    /// Overview of a Datanet.
    pub fn show(&self, name: &str) -> Result<DatanetSummary> {
        let id = Self::id(&self.conn, name)?;
        let (items, contributors): (u64, u64) = self.conn.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT contributor) FROM items WHERE datanet_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let imports: u64 = self.conn.query_row(
            "SELECT COUNT(*) FROM imports WHERE datanet_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let versions = Self::versions(&self.conn, name, id)?;
        Ok(DatanetSummary::new(
            name,
            items,
            contributors,
            imports,
            versions,
        ))
    }

    /// The inclusion proof of `item` in sealed `version`.
    pub fn prove_inclusion(&self, name: &str, version: u64, item: u64) -> Result<InclusionProof> {
        let id = Self::id(&self.conn, name)?;
        let v = self.version(name, version)?;
        if item >= v.items {
            return Err(Error::ItemNotFound {
                name: name.into(),
                version,
                item,
                items: v.items,
            });
        }
        let leaves = Self::leaves(&self.conn, id, v.items)?;
        let tree = MerkleTree::new(&leaves)?;
        if field::to_hex(&tree.root()) != v.root {
            return Err(Error::Corrupt(format!(
                "the stored items of {name} no longer hash to the sealed root of version {version}"
            )));
        }
        let path = tree.proof(item)?;
        let (contributor, content_hash, label, licence, content, signature): (
            Vec<u8>,
            Vec<u8>,
            String,
            String,
            String,
            Vec<u8>,
        ) = self.conn.query_row(
            "SELECT contributor, content_hash, label, licence, content, signature FROM items
                 WHERE datanet_id = ?1 AND idx = ?2",
            params![id, item],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )?;
        let content: Content = serde_json::from_str(&content).map_err(|e| {
            Error::Corrupt(format!("stored content of item {item} is unreadable: {e}"))
        })?;
        Ok(InclusionProof {
            format: InclusionProof::FORMAT.into(),
            datanet: name.into(),
            version,
            items: v.items,
            depth: v.depth,
            root: v.root,
            item: InclusionItem {
                index: item,
                contributor: address(&contributor)?,
                content_hash: stored_field(&content_hash)?,
                label,
                licence,
                content: Some(content),
                signature: format!("0x{}", hex::encode(signature)),
            },
            siblings: path.siblings,
        })
    }
}

/// The leaves of items whose `(contributor, content_hash)` are `inputs`, in item order.
fn leaves_of(inputs: &[(Fr, Fr)]) -> Vec<Fr> {
    merkle::leaves_par(inputs.len(), |i| {
        merkle::leaf_hash(inputs[i].0, inputs[i].1, i as u64)
    })
}

/// The root and depth of a version whose items' `(contributor, content_hash)` are `inputs`, in item order.
pub(crate) fn version_root(inputs: &[(Fr, Fr)]) -> Result<(Fr, u32)> {
    let leaves = leaves_of(inputs);
    Ok((merkle::root(&leaves)?, merkle::depth_for(leaves.len())?))
}

fn address(bytes: &[u8]) -> Result<Address> {
    <[u8; 20]>::try_from(bytes)
        .map(Address::from)
        .map_err(|_| Error::Corrupt("a stored contributor is not 20 bytes".into()))
}

fn contributor_field(bytes: &[u8]) -> Result<Fr> {
    Ok(field::from_address(&address(bytes)?.0 .0))
}

fn stored_field(bytes: &[u8]) -> Result<Fr> {
    <[u8; 32]>::try_from(bytes)
        .ok()
        .and_then(|b| field::from_bytes_be(&b))
        .ok_or_else(|| Error::Corrupt("a stored field element is malformed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn bounded_lines() {
        let mut r = Cursor::new(b"ab\r\ncdefgh\n\nxyz".to_vec());
        let mut buf = Vec::new();
        let mut n = 0;
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 3, &mut n).unwrap(),
            Some(2)
        );
        assert_eq!(buf, b"ab");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 3, &mut n).unwrap(),
            Some(6)
        );
        assert!(buf.len() <= 4);
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 3, &mut n).unwrap(),
            Some(0)
        );
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 3, &mut n).unwrap(),
            Some(3)
        );
        assert_eq!(buf, b"xyz");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 3, &mut n).unwrap(),
            None
        );
        assert_eq!(n, 15);
        // The largest limit does not overflow, and a line over the limit is not kept whole.
        let mut r = Cursor::new(b"abc\r\n".to_vec());
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, u64::MAX, &mut n).unwrap(),
            Some(3)
        );
        assert_eq!(buf, b"abc");
        let mut r = Cursor::new(vec![b'x'; 100_000]);
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 10, &mut n).unwrap(),
            Some(100_000)
        );
        assert_eq!(buf.len(), 11);
    }

    #[test]
    fn names_are_checked() {
        for ok in ["digits", "a", "my.data_net-2"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", ".hidden", "-x", "a/b", "sp ace", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
