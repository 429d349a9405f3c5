//! Store module `fleet`: the outbox of sightings for the fleet server (its
//! own append-only migrations). A row is queued by [`queue`] inside the
//! transaction that records the sighting (`Store::observe`, when
//! [`Store::set_fleet_outbox`] turned it on), so a sighting is never
//! recorded without being queued; the daemon (or `certwatch fleet push`)
//! sends a batch, and only after the server committed it are its rows
//! deleted here ([`delete`]). A send repeated after a crash is harmless:
//! the server keeps one row per (machine, `sighting_id`).
//!
//! At most one row per site and CA operator is queued per
//! [`QUEUE_EVERY_SECS`]: the fleet needs "who saw which operator recently",
//! not every page load.

use rusqlite::{params, OptionalExtension as _, Transaction};

use super::{Store, StoreError};

/// The `fleet` module's migrations. Append only; never edit one.
pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE fleet_outbox (
    id          INTEGER PRIMARY KEY,
    sighting_id TEXT NOT NULL UNIQUE,
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    operator    TEXT NOT NULL,
    ca_name     TEXT NOT NULL,
    seen_at     INTEGER NOT NULL
);
CREATE TABLE fleet_queued (
    host     TEXT NOT NULL,
    port     INTEGER NOT NULL,
    operator TEXT NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (host, port, operator)
);
CREATE TABLE fleet_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#];

/// A sighting of one site and operator is queued at most this often.
pub const QUEUE_EVERY_SECS: i64 = 600;

/// One queued sighting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Local row id (for [`delete`]).
    pub id: i64,
    /// Random, unique: what makes a retried send idempotent.
    pub sighting_id: String,
    /// The site's host.
    pub host: String,
    /// The site's port.
    pub port: u16,
    /// `verdict::fleet::operator_key`.
    pub operator: String,
    /// For people.
    pub ca_name: String,
    /// Unix seconds.
    pub seen_at: i64,
}

/// What the outbox holds and how the last push went.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxStatus {
    /// Rows waiting.
    pub pending: i64,
    /// The oldest waiting row's time.
    pub oldest: Option<i64>,
    /// Unix seconds of the last successful push.
    pub last_push: Option<i64>,
    /// The last push's error, when it failed.
    pub last_error: Option<String>,
    /// Rows the server took as new, over all pushes.
    pub pushed: i64,
}

fn random_id() -> String {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 16];
    // SystemRandom fails only without an OS RNG; then fall back to the
    // time and a counter, still unique for this machine.
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b[..8].copy_from_slice(&t.to_be_bytes());
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[8..].copy_from_slice(&n.to_be_bytes());
    }
    crate::model::hex(&b)
}

/// Queues a sighting inside `tx` (the recording transaction), unless one
/// of the same site and operator was queued in the last
/// [`QUEUE_EVERY_SECS`].
pub(super) fn queue(
    tx: &Transaction<'_>,
    host: &str,
    port: u16,
    operator: &str,
    ca_name: &str,
    now: i64,
) -> rusqlite::Result<bool> {
    let last: Option<i64> = tx
        .prepare_cached(
            "SELECT at FROM fleet_queued WHERE host = ?1 AND port = ?2 AND operator = ?3",
        )?
        .query_row(params![host, port, operator], |r| r.get(0))
        .optional()?;
    if last.is_some_and(|at| now >= at && now - at < QUEUE_EVERY_SECS) {
        return Ok(false);
    }
    tx.prepare_cached(
        "INSERT INTO fleet_outbox (sighting_id, host, port, operator, ca_name, seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![random_id(), host, port, operator, ca_name, now])?;
    tx.prepare_cached(
        "INSERT INTO fleet_queued (host, port, operator, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (host, port, operator) DO UPDATE SET at = excluded.at",
    )?
    .execute(params![host, port, operator, now])?;
    Ok(true)
}

/// The oldest `limit` queued rows.
pub fn batch(store: &Store, limit: usize) -> Result<Vec<Queued>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached(
            "SELECT id, sighting_id, host, port, operator, ca_name, seen_at
               FROM fleet_outbox ORDER BY id LIMIT ?1",
        )
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map(params![limit as i64], |r| {
            Ok(Queued {
                id: r.get(0)?,
                sighting_id: r.get(1)?,
                host: r.get(2)?,
                port: r.get(3)?,
                operator: r.get(4)?,
                ca_name: r.get(5)?,
                seen_at: r.get(6)?,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// Deletes rows the server committed and notes the push (`new`: how many
/// the server took as new).
pub fn delete(store: &mut Store, ids: &[i64], new: u64, now: i64) -> Result<(), StoreError> {
    let tx = store
        .conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| super::error::map_err(&store.path, store.busy_ms, e))?;
    let res = (|| {
        {
            let mut del = tx.prepare_cached("DELETE FROM fleet_outbox WHERE id = ?1")?;
            for id in ids {
                del.execute(params![id])?;
            }
        }
        set_state(&tx, "last_push", &now.to_string())?;
        tx.execute("DELETE FROM fleet_state WHERE key = 'last_error'", [])?;
        let pushed: i64 = get_state(&tx, "pushed")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        set_state(&tx, "pushed", &(pushed + new as i64).to_string())?;
        tx.commit()
    })();
    res.map_err(|e| super::error::map_err(&store.path, store.busy_ms, e))
}

/// Notes a failed push.
pub fn note_error(store: &mut Store, error: &str) -> Result<(), StoreError> {
    store
        .conn
        .execute(
            "INSERT INTO fleet_state (key, value) VALUES ('last_error', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![error],
        )
        .map_err(|e| store.err(e))?;
    Ok(())
}

/// The outbox's state.
pub fn status(store: &Store) -> Result<OutboxStatus, StoreError> {
    let (pending, oldest): (i64, Option<i64>) = store
        .conn
        .query_row("SELECT count(*), min(seen_at) FROM fleet_outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| store.err(e))?;
    let get = |k: &str| -> Result<Option<String>, StoreError> {
        store
            .conn
            .query_row(
                "SELECT value FROM fleet_state WHERE key = ?1",
                params![k],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| store.err(e))
    };
    Ok(OutboxStatus {
        pending,
        oldest,
        last_push: get("last_push")?.and_then(|v| v.parse().ok()),
        last_error: get("last_error")?,
        pushed: get("pushed")?.and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// Every site of the history (to name hashed site keys for people).
pub fn known_sites(store: &Store) -> Result<Vec<crate::probe::target::Site>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached("SELECT host, port FROM sites")
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map([], |r| {
            Ok(crate::probe::target::Site {
                host: r.get(0)?,
                port: r.get(1)?,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

fn set_state(tx: &Transaction<'_>, key: &str, value: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO fleet_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn get_state(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT value FROM fleet_state WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_throttles_per_site_and_operator_and_delete_drains() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("db.sqlite")).unwrap();
        let tx = s.conn.transaction().unwrap();
        assert!(queue(&tx, "a.test", 443, "ISRG", "Let's Encrypt", 1000).unwrap());
        assert!(!queue(&tx, "a.test", 443, "ISRG", "Let's Encrypt", 1300).unwrap());
        assert!(queue(&tx, "a.test", 443, "key:x", "Evil", 1300).unwrap());
        assert!(queue(&tx, "a.test", 443, "ISRG", "Let's Encrypt", 1600).unwrap());
        tx.commit().unwrap();
        let b = batch(&s, 10).unwrap();
        assert_eq!(b.len(), 3);
        assert_ne!(b[0].sighting_id, b[1].sighting_id);
        delete(&mut s, &[b[0].id, b[1].id], 2, 2000).unwrap();
        let st = status(&s).unwrap();
        assert_eq!((st.pending, st.pushed, st.last_push), (1, 2, Some(2000)));
        note_error(&mut s, "fleet x: down").unwrap();
        assert_eq!(
            status(&s).unwrap().last_error.as_deref(),
            Some("fleet x: down")
        );
    }
}
