//! The core schema: append-only migrations tracked in `PRAGMA user_version`.
//! Feature modules keep theirs in `module_versions` ([`super::Store::ensure_module`]).

use rusqlite::TransactionBehavior;

use super::{Store, StoreError};

/// The schema version this build writes. Migrations are append-only.
pub const SCHEMA_VERSION: i64 = 1;

pub(super) const MIGRATIONS: &[&str] = &[
    // v1
    r#"
CREATE TABLE certs (
    id          INTEGER PRIMARY KEY,
    sha256      TEXT NOT NULL UNIQUE,
    spki_sha256 TEXT NOT NULL,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    not_before  INTEGER NOT NULL,
    not_after   INTEGER NOT NULL,
    der         BLOB NOT NULL
);
CREATE TABLE sites (
    id         INTEGER PRIMARY KEY,
    host       TEXT NOT NULL,
    port       INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    UNIQUE(host, port)
);
CREATE TABLE sightings (
    id                   INTEGER PRIMARY KEY,
    site_id              INTEGER NOT NULL REFERENCES sites(id),
    chain_sha256         TEXT NOT NULL,
    leaf_id              INTEGER NOT NULL REFERENCES certs(id),
    chain_ids            TEXT NOT NULL,
    trust                TEXT NOT NULL,
    ca_owner             TEXT NOT NULL,
    ca_root              TEXT NOT NULL,
    ca_root_spki         TEXT NOT NULL,
    ca_issuer_org        TEXT,
    ca_intermediate      TEXT NOT NULL,
    ca_intermediate_spki TEXT,
    first_seen           INTEGER NOT NULL,
    last_seen            INTEGER NOT NULL,
    count                INTEGER NOT NULL,
    severity             TEXT NOT NULL,
    reasons              TEXT NOT NULL,
    UNIQUE(site_id, chain_sha256)
);
CREATE INDEX sightings_site ON sightings(site_id, last_seen);
CREATE TABLE accepted (
    id                   INTEGER PRIMARY KEY,
    site_id              INTEGER NOT NULL REFERENCES sites(id),
    at                   INTEGER NOT NULL,
    leaf_spki            TEXT NOT NULL,
    trust                TEXT NOT NULL,
    ca_owner             TEXT NOT NULL,
    ca_root              TEXT NOT NULL,
    ca_root_spki         TEXT NOT NULL,
    ca_issuer_org        TEXT,
    ca_intermediate      TEXT NOT NULL,
    ca_intermediate_spki TEXT
);
CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    site   TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX events_at ON events(at);
CREATE TABLE module_versions (
    module  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
"#,
];

impl Store {
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                detail: e.to_string(),
            })?;
        // Re-read inside the lock: another process may have migrated meanwhile.
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                detail: e.to_string(),
            })?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(m)
                .and_then(|_| tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1)))
                .map_err(|e| StoreError::Sqlite {
                    path: self.path.clone(),
                    detail: format!("migration {}: {e}", i + 1),
                })?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}
