//! The history store: SQLite (WAL, busy timeout, append-only migrations).
//!
//! Certificates are deduplicated by SHA-256; a *sighting* is one distinct chain
//! for one site, with first/last seen and a count, and the verdict it got the
//! first time. A repeated sighting updates three integers, so it costs no new
//! rows. Judging and recording happen in one `BEGIN IMMEDIATE` transaction
//! ([`Store::observe`]), so concurrent writers (daemon, CLIs, native hosts)
//! never judge against a stale history.
//!
//! A file that is not a database is moved aside (`FILE.corrupt-UNIXTIME`) and
//! a fresh one created; the caller is told. A database from a newer
//! certwatch is refused, never downgraded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::ca::CaIdentity;
use crate::model::{sha256_hex, CertInfo};
use crate::probe::Site;
use crate::trust::TrustKind;
use crate::verdict::{AcceptedCa, History, PastSighting, Reason, Severity, Verdict};

/// The schema version this build writes. Migrations are append-only.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
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

/// Store errors: each says what failed and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the database longer than the busy timeout.
    #[error("database {path} is locked by another process (waited {waited_ms} ms)")]
    Locked {
        /// The file.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The database was written by a newer certwatch.
    #[error("database {path} has schema version {found}, newer than this certwatch supports ({SCHEMA_VERSION}); upgrade certwatch")]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// The file or its directory cannot be created, read or written.
    #[error("cannot open database {path}: {detail}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Any other SQLite failure.
    #[error("database {path}: {detail}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy_ms: u64,
    /// Set when a corrupt file was moved aside on open.
    pub moved_aside: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// One row of a site's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The sighting.
    pub sighting: PastSighting,
    /// How often it was seen.
    pub count: i64,
    /// Severity of the verdict when it first appeared.
    pub severity: Severity,
    /// Reason codes and messages of that verdict (JSON array as stored).
    pub reasons_json: String,
    /// Leaf subject and issuer.
    pub leaf_subject: String,
    /// Leaf notBefore.
    pub leaf_not_before: i64,
}

/// Outcome of recording an observation.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The verdict, judged against the history before this observation.
    pub verdict: Verdict,
    /// That history.
    pub history: History,
    /// True when this chain was never seen for this site before.
    pub new_sighting: bool,
}

fn busy_timeout_ms() -> u64 {
    std::env::var("CERTWATCH_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |detail: String| StoreError::Open {
            path: path.to_path_buf(),
            detail,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                crate::paths::ensure_private_dir(parent).map_err(|e| open_err(e.to_string()))?;
            }
        }
        crate::paths::ensure_private_file(path).map_err(|e| open_err(e.to_string()))?;
        for suffix in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                let _ = crate::paths::tighten(&p, 0o600);
            }
        }
        match Self::open_inner(path) {
            Err(StoreError::Sqlite { detail, .. }) if is_corruption(&detail) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let mut aside = path.as_os_str().to_owned();
                aside.push(format!(".corrupt-{now}"));
                let aside = PathBuf::from(aside);
                std::fs::rename(path, &aside)
                    .map_err(|e| open_err(format!("{detail}; and moving it aside failed: {e}")))?;
                for suffix in ["-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                crate::paths::ensure_private_file(path).map_err(|e| open_err(e.to_string()))?;
                let mut s = Self::open_inner(path)?;
                s.moved_aside = Some(aside);
                Ok(s)
            }
            other => other,
        }
    }

    fn open_inner(path: &Path) -> Result<Store, StoreError> {
        let busy_ms = busy_timeout_ms();
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let mut s = Store {
            conn,
            path: path.to_path_buf(),
            busy_ms,
            moved_aside: None,
        };
        s.conn
            .busy_timeout(Duration::from_millis(busy_ms))
            .map_err(|e| s.err(e))?;
        // journal_mode=WAL is persistent; setting it needs a lock, so do it once.
        let mode: String = s
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| s.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            s.conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
                .map_err(|e| s.err(e))?;
        }
        s.conn
            .execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| s.err(e))?;
        s.migrate()?;
        Ok(s)
    }

    /// An in-memory store (tests, `--no-store`).
    pub fn in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Open {
            path: ":memory:".into(),
            detail: e.to_string(),
        })?;
        let mut s = Store {
            conn,
            path: ":memory:".into(),
            busy_ms: 0,
            moved_aside: None,
        };
        s.migrate()?;
        Ok(s)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) {
                return StoreError::Locked {
                    path: self.path.clone(),
                    waited_ms: self.busy_ms,
                };
            }
        }
        StoreError::Sqlite {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
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

    /// Applies a feature module's own append-only migrations (pins, alerts,
    /// watch list…), tracked per module in `module_versions`, so modules
    /// evolve their tables without touching the core schema or each other.
    pub fn ensure_module(&mut self, module: &str, migrations: &[&str]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let busy = self.busy_ms;
        let map = |e: rusqlite::Error| map_err(&path, busy, e);
        let current: i64 = self
            .conn
            .query_row(
                "SELECT version FROM module_versions WHERE module = ?1",
                params![module],
                |r| r.get(0),
            )
            .optional()
            .map_err(map)?
            .unwrap_or(0);
        if current as usize >= migrations.len() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let current: i64 = tx
            .query_row(
                "SELECT version FROM module_versions WHERE module = ?1",
                params![module],
                |r| r.get(0),
            )
            .optional()
            .map_err(map)?
            .unwrap_or(0);
        for (i, m) in migrations.iter().enumerate().skip(current.max(0) as usize) {
            tx.execute_batch(m).map_err(|e| StoreError::Sqlite {
                path: path.clone(),
                detail: format!("{module} migration {}: {e}", i + 1),
            })?;
        }
        tx.execute(
            "INSERT INTO module_versions (module, version) VALUES (?1, ?2)
             ON CONFLICT(module) DO UPDATE SET version = excluded.version",
            params![module, migrations.len() as i64],
        )
        .map_err(map)?;
        tx.commit().map_err(map)
    }

    /// Appends an audit event.
    pub fn log_event(
        &self,
        at: i64,
        kind: &str,
        site: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO events (at, kind, site, detail) VALUES (?1, ?2, ?3, ?4)",
                params![at, kind, site, detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Loads a site's history (read-only).
    pub fn history(&self, site: &Site) -> Result<History, StoreError> {
        load_history(&self.conn, site).map_err(|e| self.err(e))
    }

    /// Judges and records one observation atomically.
    ///
    /// `judge` receives the history *before* this observation.
    pub fn observe(
        &mut self,
        site: &Site,
        chain: &[CertInfo],
        ca: &CaIdentity,
        now: i64,
        judge: impl FnOnce(&History) -> Verdict,
    ) -> Result<Recorded, StoreError> {
        let path = self.path.clone();
        let busy = self.busy_ms;
        let map = |e: rusqlite::Error| map_err(&path, busy, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let history = load_history(&tx, site).map_err(map)?;
        let verdict = judge(&history);
        let site_id = upsert_site(&tx, site, now).map_err(map)?;
        let mut ids = Vec::with_capacity(chain.len());
        for c in chain {
            ids.push(upsert_cert(&tx, c).map_err(map)?);
        }
        let chain_hash = sha256_hex(
            chain
                .iter()
                .map(|c| c.sha256.as_str())
                .collect::<Vec<_>>()
                .join(",")
                .as_bytes(),
        );
        let updated = tx
            .execute(
                "UPDATE sightings SET last_seen = MAX(last_seen, ?1), count = count + 1
                 WHERE site_id = ?2 AND chain_sha256 = ?3",
                params![now, site_id, chain_hash],
            )
            .map_err(map)?;
        let new_sighting = updated == 0;
        if new_sighting {
            let chain_ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            tx.execute(
                "INSERT INTO sightings (site_id, chain_sha256, leaf_id, chain_ids, trust,
                    ca_owner, ca_root, ca_root_spki, ca_issuer_org, ca_intermediate,
                    ca_intermediate_spki, first_seen, last_seen, count, severity, reasons)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, 1, ?13, ?14)",
                params![
                    site_id,
                    chain_hash,
                    ids[0],
                    chain_ids,
                    ca.trust.as_str(),
                    ca.owner,
                    ca.root,
                    ca.root_spki,
                    ca.issuer_org,
                    ca.intermediate,
                    ca.intermediate_spki,
                    now,
                    verdict.severity.as_str(),
                    reasons_json(&verdict.reasons),
                ],
            )
            .map_err(map)?;
            if verdict.severity >= Severity::Warning {
                tx.execute(
                    "INSERT INTO events (at, kind, site, detail) VALUES (?1, 'verdict', ?2, ?3)",
                    params![now, site.to_string(), reasons_json(&verdict.reasons)],
                )
                .map_err(map)?;
            }
        }
        tx.commit().map_err(map)?;
        Ok(Recorded {
            verdict,
            history,
            new_sighting,
        })
    }

    /// Accepts the CA of the site's most recent sighting. Returns it, or
    /// `None` when the site has never been seen.
    pub fn accept_latest(
        &mut self,
        site: &Site,
        now: i64,
    ) -> Result<Option<CaIdentity>, StoreError> {
        let path = self.path.clone();
        let busy = self.busy_ms;
        let map = |e: rusqlite::Error| map_err(&path, busy, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let history = load_history(&tx, site).map_err(map)?;
        let Some(last) = history.sightings.last() else {
            return Ok(None);
        };
        let site_id = upsert_site(&tx, site, now).map_err(map)?;
        let ca = &last.ca;
        tx.execute(
            "INSERT INTO accepted (site_id, at, leaf_spki, trust, ca_owner, ca_root, ca_root_spki,
                ca_issuer_org, ca_intermediate, ca_intermediate_spki)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                site_id,
                now,
                last.leaf_spki,
                ca.trust.as_str(),
                ca.owner,
                ca.root,
                ca.root_spki,
                ca.issuer_org,
                ca.intermediate,
                ca.intermediate_spki
            ],
        )
        .map_err(map)?;
        tx.execute(
            "INSERT INTO events (at, kind, site, detail) VALUES (?1, 'accept', ?2, ?3)",
            params![now, site.to_string(), ca.describe()],
        )
        .map_err(map)?;
        tx.commit().map_err(map)?;
        Ok(Some(ca.clone()))
    }

    /// The site's timeline, oldest first.
    pub fn timeline(&self, site: &Site) -> Result<Vec<TimelineEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.trust, s.ca_owner, s.ca_root, s.ca_root_spki, s.ca_issuer_org,
                        s.ca_intermediate, s.ca_intermediate_spki, s.first_seen, s.last_seen,
                        c.sha256, c.spki_sha256, c.not_after, s.count, s.severity, s.reasons,
                        c.subject, c.not_before
                 FROM sightings s JOIN sites t ON t.id = s.site_id JOIN certs c ON c.id = s.leaf_id
                 WHERE t.host = ?1 AND t.port = ?2
                 ORDER BY s.first_seen, s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![site.host, site.port], |r| {
                Ok(TimelineEntry {
                    sighting: sighting_from_row(r)?,
                    count: r.get(12)?,
                    severity: Severity::parse(&r.get::<_, String>(13)?).unwrap_or(Severity::Ok),
                    reasons_json: r.get(14)?,
                    leaf_subject: r.get(15)?,
                    leaf_not_before: r.get(16)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Number of known sites.
    pub fn site_count(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM sites", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when it says "ok".
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let r: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Sqlite {
                path: self.path.clone(),
                detail: format!("integrity check: {r}"),
            })
        }
    }

    /// Direct access for modules layered on the store (events, alerts, pins).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mutable access for modules layered on the store.
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

fn is_corruption(detail: &str) -> bool {
    detail.contains("file is not a database") || detail.contains("malformed")
}

fn map_err(path: &Path, busy_ms: u64, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) {
            return StoreError::Locked {
                path: path.to_path_buf(),
                waited_ms: busy_ms,
            };
        }
    }
    StoreError::Sqlite {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

fn reasons_json(reasons: &[Reason]) -> String {
    let v: Vec<serde_json::Value> = reasons
        .iter()
        .map(|r| {
            serde_json::json!({
                "code": r.code.as_str(),
                "severity": r.severity.as_str(),
                "message": r.message,
            })
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn upsert_site(conn: &Connection, site: &Site, now: i64) -> rusqlite::Result<i64> {
    if let Some(id) = conn
        .query_row(
            "SELECT id FROM sites WHERE host = ?1 AND port = ?2",
            params![site.host, site.port],
            |r| r.get(0),
        )
        .optional()?
    {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO sites (host, port, first_seen) VALUES (?1, ?2, ?3)",
        params![site.host, site.port, now],
    )?;
    Ok(conn.last_insert_rowid())
}

fn upsert_cert(conn: &Connection, c: &CertInfo) -> rusqlite::Result<i64> {
    if let Some(id) = conn
        .prepare_cached("SELECT id FROM certs WHERE sha256 = ?1")?
        .query_row(params![c.sha256], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO certs (sha256, spki_sha256, subject, issuer, not_before, not_after, der)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        c.sha256,
        c.spki_sha256,
        c.subject,
        c.issuer,
        c.not_before,
        c.not_after,
        c.der
    ])?;
    Ok(conn.last_insert_rowid())
}

fn ca_from_row(r: &rusqlite::Row<'_>, base: usize) -> rusqlite::Result<CaIdentity> {
    let trust: String = r.get(base)?;
    Ok(CaIdentity {
        trust: TrustKind::parse(&trust).unwrap_or(TrustKind::Untrusted),
        owner: r.get(base + 1)?,
        root: r.get(base + 2)?,
        root_spki: r.get(base + 3)?,
        issuer_org: r.get(base + 4)?,
        intermediate: r.get(base + 5)?,
        intermediate_spki: r.get(base + 6)?,
    })
}

fn sighting_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PastSighting> {
    Ok(PastSighting {
        ca: ca_from_row(r, 0)?,
        first_seen: r.get(7)?,
        last_seen: r.get(8)?,
        leaf_sha256: r.get(9)?,
        leaf_spki: r.get(10)?,
        leaf_not_after: r.get(11)?,
    })
}

fn load_history(conn: &Connection, site: &Site) -> rusqlite::Result<History> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.trust, s.ca_owner, s.ca_root, s.ca_root_spki, s.ca_issuer_org,
                s.ca_intermediate, s.ca_intermediate_spki, s.first_seen, s.last_seen,
                c.sha256, c.spki_sha256, c.not_after
         FROM sightings s JOIN sites t ON t.id = s.site_id JOIN certs c ON c.id = s.leaf_id
         WHERE t.host = ?1 AND t.port = ?2
         ORDER BY s.last_seen, s.id",
    )?;
    let sightings = stmt
        .query_map(params![site.host, site.port], sighting_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT a.trust, a.ca_owner, a.ca_root, a.ca_root_spki, a.ca_issuer_org,
                a.ca_intermediate, a.ca_intermediate_spki, a.leaf_spki, a.at
         FROM accepted a JOIN sites t ON t.id = a.site_id
         WHERE t.host = ?1 AND t.port = ?2 ORDER BY a.at, a.id",
    )?;
    let accepted = stmt
        .query_map(params![site.host, site.port], |r| {
            Ok(AcceptedCa {
                ca: ca_from_row(r, 0)?,
                leaf_spki: r.get(7)?,
                at: r.get(8)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(History {
        sightings,
        accepted,
    })
}
