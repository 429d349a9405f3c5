//! Store module `daemon`: the watch list, the alerts and the audit-log
//! listing (its own append-only migrations). Usable without the daemon, so
//! the CLI edits the watch list and acknowledges alerts with no daemon
//! running. The schedule maths are pure: [`crate::schedule`].

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::probe::Site;
use crate::schedule::{next_due_after_failure, next_due_after_success};

pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE watch (
    id          INTEGER PRIMARY KEY,
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    connect     TEXT,
    every_secs  INTEGER NOT NULL,
    next_due    INTEGER NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    last_check  INTEGER,
    UNIQUE(host, port)
);
CREATE TABLE alerts (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    site      TEXT NOT NULL,
    ca_key    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    json      TEXT NOT NULL,
    acked_at  INTEGER,
    UNIQUE(site, ca_key)
);
"#];

/// One watched site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The site.
    pub site: Site,
    /// Connect here instead (like `--connect`).
    pub connect: Option<String>,
    /// Re-check interval, seconds.
    pub every_secs: i64,
    /// Next check, Unix seconds.
    pub next_due: i64,
    /// Consecutive failures.
    pub failures: i64,
    /// The last failure, if the last check failed.
    pub last_error: Option<String>,
    /// When last checked.
    pub last_check: Option<i64>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Row id.
    pub id: i64,
    /// When raised.
    pub at: i64,
    /// `host:port`.
    pub site: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// Notification title.
    pub title: String,
    /// Notification body.
    pub body: String,
    /// The verdict JSON.
    pub json: String,
    /// When acknowledged.
    pub acked_at: Option<i64>,
}

/// Adds (or updates) a watched site, due now.
pub fn add(
    store: &mut Store,
    site: &Site,
    connect: Option<&str>,
    every_secs: i64,
    now: i64,
) -> Result<(), StoreError> {
    store
        .conn
        .execute(
            "INSERT INTO watch (host, port, connect, every_secs, next_due) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(host, port) DO UPDATE SET connect = excluded.connect,
                 every_secs = excluded.every_secs, next_due = excluded.next_due, failures = 0",
            params![site.host, site.port, connect, every_secs, now],
        )
        .map_err(|e| store.err(e))?;
    store.log_event(
        now,
        "watch_add",
        Some(&site.to_string()),
        &format!("every {every_secs}s"),
    )
}

/// Removes a watched site; false when it was not watched.
pub fn remove(store: &mut Store, site: &Site, now: i64) -> Result<bool, StoreError> {
    let n = store
        .conn
        .execute(
            "DELETE FROM watch WHERE host = ?1 AND port = ?2",
            params![site.host, site.port],
        )
        .map_err(|e| store.err(e))?;
    if n > 0 {
        store.log_event(now, "watch_remove", Some(&site.to_string()), "")?;
    }
    Ok(n > 0)
}

/// The watch list, soonest first.
pub fn list(store: &Store) -> Result<Vec<Watch>, StoreError> {
    let mut stmt = store
        .conn
        .prepare("SELECT host, port, connect, every_secs, next_due, failures, last_error, last_check FROM watch ORDER BY next_due, host")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Watch {
                site: Site {
                    host: r.get(0)?,
                    port: r.get(1)?,
                },
                connect: r.get(2)?,
                every_secs: r.get(3)?,
                next_due: r.get(4)?,
                failures: r.get(5)?,
                last_error: r.get(6)?,
                last_check: r.get(7)?,
            })
        })
        .map_err(|e| store.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.err(e));
    rows
}

/// Records the outcome of a scheduled check.
pub fn record_check(
    store: &mut Store,
    w: &Watch,
    now: i64,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let (next, failures) = match error {
        None => (next_due_after_success(&w.site, w.every_secs, now), 0),
        Some(_) => (
            next_due_after_failure(w.every_secs, w.failures + 1, now),
            w.failures + 1,
        ),
    };
    store
        .conn
        .execute(
            "UPDATE watch SET next_due = ?1, failures = ?2, last_error = ?3, last_check = ?4
             WHERE host = ?5 AND port = ?6",
            params![next, failures, error, now, w.site.host, w.site.port],
        )
        .map(|_| ())
        .map_err(|e| store.err(e))
}

/// Stores an alert unless one exists for the same site and CA; returns its
/// id when new (so the caller notifies exactly once).
#[allow(clippy::too_many_arguments)]
pub fn raise(
    store: &mut Store,
    at: i64,
    site: &str,
    ca_key: &str,
    severity: &str,
    title: &str,
    body: &str,
    json: &str,
) -> Result<Option<i64>, StoreError> {
    let n = store
        .conn
        .execute(
            "INSERT OR IGNORE INTO alerts (at, site, ca_key, severity, title, body, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![at, site, ca_key, severity, title, body, json],
        )
        .map_err(|e| store.err(e))?;
    if n == 0 {
        return Ok(None);
    }
    let id = store.conn.last_insert_rowid();
    store.log_event(at, "alert", Some(site), title)?;
    Ok(Some(id))
}

/// Alerts, newest first; `all` includes acknowledged ones.
pub fn alerts(store: &Store, all: bool) -> Result<Vec<Alert>, StoreError> {
    let q = if all {
        "SELECT id, at, site, severity, title, body, json, acked_at FROM alerts ORDER BY at DESC, id DESC"
    } else {
        "SELECT id, at, site, severity, title, body, json, acked_at FROM alerts WHERE acked_at IS NULL ORDER BY at DESC, id DESC"
    };
    let mut stmt = store.conn.prepare(q).map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Alert {
                id: r.get(0)?,
                at: r.get(1)?,
                site: r.get(2)?,
                severity: r.get(3)?,
                title: r.get(4)?,
                body: r.get(5)?,
                json: r.get(6)?,
                acked_at: r.get(7)?,
            })
        })
        .map_err(|e| store.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.err(e));
    rows
}

/// Acknowledges an alert; false when there is no such open alert.
pub fn ack(store: &mut Store, id: i64, now: i64) -> Result<bool, StoreError> {
    let n = store
        .conn
        .execute(
            "UPDATE alerts SET acked_at = ?1 WHERE id = ?2 AND acked_at IS NULL",
            params![now, id],
        )
        .map_err(|e| store.err(e))?;
    if n > 0 {
        store.log_event(now, "alert_ack", None, &format!("alert {id}"))?;
    }
    Ok(n > 0)
}

/// Open (unacknowledged) alerts.
/// Whether `site` has an open (unacknowledged) alert.
pub fn has_open_alert(store: &Store, site: &str) -> Result<bool, StoreError> {
    store
        .conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM alerts WHERE site = ?1 AND acked_at IS NULL)",
            [site],
            |r| r.get(0),
        )
        .map_err(|e| store.err(e))
}

/// Open alerts.
pub fn open_alerts(store: &Store) -> Result<i64, StoreError> {
    store
        .conn
        .query_row(
            "SELECT COUNT(*) FROM alerts WHERE acked_at IS NULL",
            [],
            |r| r.get(0),
        )
        .optional()
        .map(|v| v.unwrap_or(0))
        .map_err(|e| store.err(e))
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When.
    pub at: i64,
    /// Kind (`verdict`, `accept`, `alert`, `watch_add`, `config`, …).
    pub kind: String,
    /// Site, when it concerns one.
    pub site: Option<String>,
    /// Detail.
    pub detail: String,
}

/// Events since `since`, oldest first.
pub fn events(store: &Store, since: i64) -> Result<Vec<Event>, StoreError> {
    let mut stmt = store
        .conn
        .prepare("SELECT at, kind, site, detail FROM events WHERE at >= ?1 ORDER BY at, id")
        .map_err(|e| store.err(e))?;
    let rows = stmt
        .query_map(params![since], |r| {
            Ok(Event {
                at: r.get(0)?,
                kind: r.get(1)?,
                site: r.get(2)?,
                detail: r.get(3)?,
            })
        })
        .map_err(|e| store.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.err(e));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_deduplicate_per_site_and_ca() {
        let mut s = Store::in_memory().unwrap();
        let a = raise(&mut s, 1, "a.test:443", "k1", "warning", "t", "b", "{}").unwrap();
        assert!(a.is_some());
        assert_eq!(
            raise(&mut s, 2, "a.test:443", "k1", "warning", "t", "b", "{}").unwrap(),
            None
        );
        assert!(
            raise(&mut s, 3, "a.test:443", "k2", "critical", "t", "b", "{}")
                .unwrap()
                .is_some()
        );
        assert_eq!(open_alerts(&s).unwrap(), 2);
        assert!(ack(&mut s, a.unwrap(), 4).unwrap());
        assert!(!ack(&mut s, a.unwrap(), 5).unwrap());
        assert_eq!(alerts(&s, false).unwrap().len(), 1);
        assert_eq!(alerts(&s, true).unwrap().len(), 2);
    }
}
