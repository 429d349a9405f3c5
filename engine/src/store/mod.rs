//! The history store: SQLite (WAL, busy timeout, append-only migrations).
//! This module and its children are the only code that names `rusqlite`
//! (the tidy test checks it).
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

//! Layout: [`error`] (one error mapping, by SQLite error code), [`schema`]
//! (core migrations), [`history`] (sites, sightings, acceptances, the audit
//! log), and one module per feature's own tables, each with its own
//! append-only migrations: [`pins`] (user pins, acknowledged interceptors),
//! [`watch`] (watch list, alerts, events listing), [`ct_tail`] (the
//! position of `ct tail` in each log).

pub mod ct_tail;
pub mod ct_watch;
mod error;
pub mod fleet;
pub mod history;
pub mod pins;
mod schema;
pub mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

pub use error::StoreError;
pub use history::{Recorded, TimelineEntry};
pub use schema::SCHEMA_VERSION;

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy_ms: u64,
    /// Changes this connection made to what evidence sources cache.
    own_changes: u64,
    /// Set when a corrupt file was moved aside on open.
    pub moved_aside: Option<PathBuf>,
    /// Queue every recorded sighting for the fleet server (`fleet_url`).
    fleet_outbox: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn busy_timeout_ms() -> u64 {
    std::env::var("CERTWATCH_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

/// What the feature modules' tables look like now; opened with the store so
/// that every read can take `&Store`.
const MODULES: &[(&str, &[&str])] = &[
    ("pins", pins::MIGRATIONS),
    ("daemon", watch::MIGRATIONS),
    ("ct_watch", ct_watch::MIGRATIONS),
    ("ct_tail", ct_tail::MIGRATIONS),
    ("fleet", fleet::MIGRATIONS),
];

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
            Err(StoreError::Corrupt { detail, .. }) => {
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
            own_changes: 0,
            moved_aside: None,
            fleet_outbox: false,
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
        s.ensure_modules()?;
        Ok(s)
    }

    /// For a long-lived process (the native host, the daemon): this
    /// connection no longer checkpoints the WAL at commit (a checkpoint
    /// copies pages back and fsyncs the database: milliseconds, every few
    /// hundred commits); a background thread with its own connection runs a
    /// PASSIVE checkpoint every `every` instead, which never blocks a commit.
    /// It stops at the first error or when the process exits.
    pub fn checkpoint_in_background(&mut self, every: Duration) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_autocheckpoint=0;")
            .map_err(|e| self.err(e))?;
        let path = self.path.clone();
        let busy = self.busy_ms;
        std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                let Ok(conn) = Connection::open(&path) else {
                    return;
                };
                let _ = conn.busy_timeout(Duration::from_millis(busy));
                loop {
                    std::thread::sleep(every);
                    let step = conn
                        .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
                        .and_then(|mut q| q.query_row([], |r| r.get::<_, i64>(0)));
                    if step.is_err() {
                        return;
                    }
                }
            })
            .map(|_| ())
            .map_err(|e| StoreError::Open {
                path: self.path.clone(),
                detail: format!("checkpoint thread: {e}"),
            })
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
            own_changes: 0,
            moved_aside: None,
            fleet_outbox: false,
        };
        s.migrate()?;
        s.ensure_modules()?;
        Ok(s)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Turns the fleet outbox on: from now on [`Store::observe`] queues
    /// each sighting (`store::fleet`) in the transaction that records it.
    /// `Engine::from_settings` calls this when `fleet_url` is set.
    pub fn set_fleet_outbox(&mut self, on: bool) {
        self.fleet_outbox = on;
    }

    pub(crate) fn err(&self, e: rusqlite::Error) -> StoreError {
        error::map_err(&self.path, self.busy_ms, e)
    }

    fn ensure_modules(&mut self) -> Result<(), StoreError> {
        for (name, migrations) in MODULES {
            self.ensure_module(name, migrations)?;
        }
        Ok(())
    }

    /// Notes a change this connection made to the user's declarations.
    fn note_own_change(&mut self) {
        self.own_changes = self.own_changes.wrapping_add(1);
    }

    /// Applies a feature module's own append-only migrations (pins, alerts,
    /// watch list…), tracked per module in `module_versions`, so modules
    /// evolve their tables without touching the core schema or each other.
    pub fn ensure_module(&mut self, module: &str, migrations: &[&str]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let busy = self.busy_ms;
        let map = |e: rusqlite::Error| error::map_err(&path, busy, e);
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

    /// Moves the write-ahead log into the main file (`wal_checkpoint(TRUNCATE)`).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| self.err(e))
    }

    /// Changes whenever another connection commits, or this one changes the
    /// user's pins or acknowledged interceptors: evidence sources that cache
    /// what the user declared reload when it differs.
    pub fn change_stamp(&self) -> Result<(i64, u64), StoreError> {
        let v: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut q| q.query_row([], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        Ok((v, self.own_changes))
    }
}
