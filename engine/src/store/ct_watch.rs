//! Store module `ct_watch`: the CT-watched domains with their position at
//! the search service, every issuance a watch has processed (so a restart
//! neither repeats an alert nor skips an issuance: an issuance, its alert
//! and the position move in one transaction), the certificates the user
//! authorized (`ct authorize`, audit-logged), the CA certificates fetched
//! to establish an issuing key, and crt.sh downloads by id. The issuances
//! a watch found familiar seed a watched site's first contact
//! ([`seeds`], read with the site's history).

use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError};
use crate::ca::CaIdentity;

pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE ct_watch (
    domain             TEXT PRIMARY KEY,
    include_subdomains INTEGER NOT NULL,
    every_secs         INTEGER NOT NULL,
    next_due           INTEGER NOT NULL,
    position           TEXT,
    polls              INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    last_poll          INTEGER
);
CREATE TABLE ct_seen (
    domain         TEXT NOT NULL,
    key            TEXT NOT NULL,
    sha256         TEXT,
    precert_sha256 TEXT,
    issuer         TEXT NOT NULL,
    issuer_spki    TEXT,
    names          TEXT NOT NULL,
    not_after      INTEGER,
    at             INTEGER NOT NULL,
    familiar       TEXT,
    PRIMARY KEY (domain, key)
);
CREATE TABLE ct_authorized (
    sha256 TEXT PRIMARY KEY,
    at     INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE ct_issuers (
    sha256      TEXT PRIMARY KEY,
    spki_sha256 TEXT NOT NULL,
    der         BLOB NOT NULL,
    at          INTEGER NOT NULL
);
CREATE TABLE ct_certs (
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    der    BLOB NOT NULL,
    PRIMARY KEY (source, id)
);
"#];

/// One CT-watched domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtWatch {
    /// The domain.
    pub domain: String,
    /// Its subdomains too.
    pub include_subdomains: bool,
    /// Poll interval, seconds.
    pub every_secs: i64,
    /// Next poll, Unix seconds.
    pub next_due: i64,
    /// Where the next search continues.
    pub position: Option<String>,
    /// Successful polls so far (0: the first poll seeds).
    pub polls: i64,
    /// Consecutive failures.
    pub failures: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When last polled.
    pub last_poll: Option<i64>,
}

/// One processed issuance, as the watch recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The back-end's issuance key.
    pub key: String,
    /// SHA-256 (hex) of the certificate, else the precertificate.
    pub sha256: Option<String>,
    /// SHA-256 (hex) of the precertificate.
    pub precert_sha256: Option<String>,
    /// Issuer DN (display).
    pub issuer: String,
    /// Issuing key (base64 SHA-256).
    pub issuer_spki: Option<String>,
    /// Names, comma-separated.
    pub names: String,
    /// notAfter.
    pub not_after: Option<i64>,
    /// `history`, `authorized`, `ct_seed`, or `None` (alerted).
    pub familiar: Option<String>,
}

impl Store {
    fn ct_exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize, StoreError> {
        self.conn.execute(sql, p).map_err(|e| self.err(e))
    }
}

/// Adds (or updates) a CT watch, due now; the position is kept.
pub fn add(
    store: &mut Store,
    domain: &str,
    include_subdomains: bool,
    every_secs: i64,
    now: i64,
) -> Result<(), StoreError> {
    store.ct_exec(
        "INSERT INTO ct_watch (domain, include_subdomains, every_secs, next_due) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(domain) DO UPDATE SET include_subdomains = excluded.include_subdomains,
             every_secs = excluded.every_secs, next_due = excluded.next_due, failures = 0",
        params![domain, include_subdomains, every_secs, now],
    )?;
    let subs = if include_subdomains {
        " and subdomains"
    } else {
        ""
    };
    store.log_event(
        now,
        "ct_watch_add",
        Some(domain),
        &format!("CT watch{subs}, every {every_secs}s"),
    )
}

/// Removes a CT watch (its processed issuances stay); false when none.
pub fn remove(store: &mut Store, domain: &str, now: i64) -> Result<bool, StoreError> {
    let n = store.ct_exec("DELETE FROM ct_watch WHERE domain = ?1", params![domain])?;
    if n > 0 {
        store.log_event(now, "ct_watch_remove", Some(domain), "")?;
    }
    Ok(n > 0)
}

/// The CT watches, soonest first.
pub fn list(store: &Store) -> Result<Vec<CtWatch>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached(
            "SELECT domain, include_subdomains, every_secs, next_due, position, polls, failures,
                    last_error, last_poll FROM ct_watch ORDER BY next_due, domain",
        )
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map([], |r| {
            Ok(CtWatch {
                domain: r.get(0)?,
                include_subdomains: r.get(1)?,
                every_secs: r.get(2)?,
                next_due: r.get(3)?,
                position: r.get(4)?,
                polls: r.get(5)?,
                failures: r.get(6)?,
                last_error: r.get(7)?,
                last_poll: r.get(8)?,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// Whether the watch already processed the issuance with this key.
pub fn seen(store: &Store, domain: &str, key: &str) -> Result<bool, StoreError> {
    store
        .conn
        .query_row(
            "SELECT 1 FROM ct_seen WHERE domain = ?1 AND key = ?2",
            params![domain, key],
            |_| Ok(()),
        )
        .optional()
        .map(|o| o.is_some())
        .map_err(|e| store.err(e))
}

/// The issuances a watch recorded for `domain`.
pub fn seen_list(store: &Store, domain: &str) -> Result<Vec<Seen>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached(
            "SELECT key, sha256, precert_sha256, issuer, issuer_spki, names, not_after, familiar
             FROM ct_seen WHERE domain = ?1 ORDER BY at, key",
        )
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map(params![domain], |r| {
            Ok(Seen {
                key: r.get(0)?,
                sha256: r.get(1)?,
                precert_sha256: r.get(2)?,
                issuer: r.get(3)?,
                issuer_spki: r.get(4)?,
                names: r.get(5)?,
                not_after: r.get(6)?,
                familiar: r.get(7)?,
            })
        })
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// An alert to store with an unfamiliar issuance (the `alerts` table of
/// the daemon module: one per site and key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The alert's site (the watched domain).
    pub site: String,
    /// Its key (`ct|` + the issuance key): never raised twice.
    pub ca_key: String,
    /// `warning` or `critical`.
    pub severity: String,
    /// Notification title.
    pub title: String,
    /// Notification body.
    pub body: String,
    /// JSON for `alerts --json` and the hook.
    pub json: String,
}

/// One poll's outcome, recorded in one transaction: the issuances not
/// processed before, each with its alert when unfamiliar, then the
/// position. A crash before the commit leaves everything as it was, so the
/// next poll sees the same issuances again; one after it repeats nothing.
/// Returns the alerts newly stored, with their ids (to notify once).
pub fn record_poll(
    store: &mut Store,
    w: &CtWatch,
    now: i64,
    issuances: &[(Seen, Option<NewAlert>)],
    position: Option<&str>,
) -> Result<Vec<(i64, NewAlert)>, StoreError> {
    let (path, busy) = (store.path.clone(), store.busy_ms);
    let map = |e: rusqlite::Error| super::error::map_err(&path, busy, e);
    let tx = store
        .conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map)?;
    let mut raised = Vec::new();
    for (s, alert) in issuances {
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO ct_seen (domain, key, sha256, precert_sha256, issuer,
                    issuer_spki, names, not_after, at, familiar)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    w.domain,
                    s.key,
                    s.sha256,
                    s.precert_sha256,
                    s.issuer,
                    s.issuer_spki,
                    s.names,
                    s.not_after,
                    now,
                    s.familiar
                ],
            )
            .map_err(map)?;
        let Some(a) = alert.as_ref().filter(|_| n == 1) else {
            continue;
        };
        let stored = tx
            .execute(
                "INSERT OR IGNORE INTO alerts (at, site, ca_key, severity, title, body, json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![now, a.site, a.ca_key, a.severity, a.title, a.body, a.json],
            )
            .map_err(map)?;
        if stored == 1 {
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO events (at, kind, site, detail) VALUES (?1, 'alert', ?2, ?3)",
                params![now, a.site, a.title],
            )
            .map_err(map)?;
            raised.push((id, a.clone()));
        }
    }
    let next = now + w.every_secs.max(1);
    tx.execute(
        "UPDATE ct_watch SET position = COALESCE(?2, position), polls = polls + 1, failures = 0,
             last_error = NULL, last_poll = ?3, next_due = ?4 WHERE domain = ?1",
        params![w.domain, position, now, next],
    )
    .map_err(map)?;
    tx.commit().map_err(map)?;
    Ok(raised)
}

/// A failed poll: backoff (`retry_in` seconds, at least the interval's
/// failure schedule) and the error kept for `watch list`.
pub fn record_failure(
    store: &mut Store,
    domain: &str,
    now: i64,
    retry_in: i64,
    error: &str,
) -> Result<(), StoreError> {
    store.ct_exec(
        "UPDATE ct_watch SET failures = failures + 1, last_error = ?2, last_poll = ?3,
             next_due = ?4 WHERE domain = ?1",
        params![domain, error, now, now + retry_in.max(1)],
    )?;
    Ok(())
}

/// Marks a certificate (by SHA-256, hex) as expected; audit-logged. Its
/// recorded issuances become familiar (`authorized`).
pub fn authorize(
    store: &mut Store,
    sha256: &str,
    detail: &str,
    now: i64,
) -> Result<usize, StoreError> {
    let sha = sha256.to_ascii_lowercase();
    store.ct_exec(
        "INSERT INTO ct_authorized (sha256, at, detail) VALUES (?1, ?2, ?3)
         ON CONFLICT(sha256) DO UPDATE SET at = excluded.at, detail = excluded.detail",
        params![sha, now, detail],
    )?;
    let n = store.ct_exec(
        "UPDATE ct_seen SET familiar = 'authorized' WHERE sha256 = ?1 OR precert_sha256 = ?1",
        params![sha],
    )?;
    store.log_event(now, "ct_authorize", None, &format!("{sha} {detail}"))?;
    Ok(n)
}

/// The authorized certificates' SHA-256s.
pub fn authorized(store: &Store) -> Result<std::collections::HashSet<String>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached("SELECT sha256 FROM ct_authorized")
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// CA certificates (DER) that may have issued a certificate: every
/// non-leaf certificate of the recorded chains, and those fetched before.
pub fn ca_certs(store: &Store) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached(
            "SELECT der FROM certs WHERE id NOT IN (SELECT leaf_id FROM sightings)
             UNION ALL SELECT der FROM ct_issuers",
        )
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// Keeps a fetched CA certificate.
pub fn add_issuer(
    store: &mut Store,
    sha256: &str,
    spki: &str,
    der: &[u8],
    now: i64,
) -> Result<(), StoreError> {
    store.ct_exec(
        "INSERT OR IGNORE INTO ct_issuers (sha256, spki_sha256, der, at) VALUES (?1, ?2, ?3, ?4)",
        params![sha256, spki, der, now],
    )?;
    Ok(())
}

/// crt.sh downloads by id from the service at `source` (its URL).
pub fn cached_certs(
    store: &Store,
    source: &str,
) -> Result<std::collections::HashMap<String, Vec<u8>>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached("SELECT id, der FROM ct_certs WHERE source = ?1")
        .map_err(|e| store.err(e))?;
    let rows = q
        .query_map(params![source], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| store.err(e))?;
    Ok(rows)
}

/// Keeps crt.sh downloads from the service at `source`.
pub fn cache_certs<'a>(
    store: &mut Store,
    source: &str,
    certs: impl Iterator<Item = (&'a String, &'a Vec<u8>)>,
) -> Result<(), StoreError> {
    let (path, busy) = (store.path.clone(), store.busy_ms);
    let map = |e: rusqlite::Error| super::error::map_err(&path, busy, e);
    let tx = store.conn.transaction().map_err(map)?;
    for (id, der) in certs {
        tx.execute(
            "INSERT OR IGNORE INTO ct_certs (source, id, der) VALUES (?1, ?2, ?3)",
            params![source, id, der],
        )
        .map_err(map)?;
    }
    tx.commit().map_err(map)
}

/// The issuing CAs a CT watch found familiar for a watched domain
/// covering `host`: a first contact is judged against them.
pub fn seeds_for(store: &Store, host: &str) -> Result<Vec<CaIdentity>, StoreError> {
    seeds(&store.conn, host).map_err(|e| store.err(e))
}

/// The CAs that vouched for `domain` and the sites under it: trusted
/// sightings and acceptances (operators not yet resolved).
pub fn identities_under(store: &Store, domain: &str) -> Result<Vec<CaIdentity>, StoreError> {
    let mut q = store
        .conn
        .prepare_cached(
            "SELECT host, port FROM sites
             WHERE host = ?1 OR substr(host, -length(?1) - 1) = '.' || ?1",
        )
        .map_err(|e| store.err(e))?;
    let sites: Vec<(String, u16)> = q
        .query_map(params![domain], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| store.err(e))?;
    let mut out = Vec::new();
    for (host, port) in sites {
        let h = store.history(&crate::probe::Site { host, port })?;
        out.extend(
            h.sightings
                .into_iter()
                .map(|s| s.ca)
                .filter(|c| c.trust == crate::trust::TrustKind::Public),
        );
        out.extend(h.accepted.into_iter().map(|a| a.ca));
    }
    Ok(out)
}

/// The seeds query (also run inside `load_history`'s connection).
pub(super) fn seeds(conn: &Connection, host: &str) -> rusqlite::Result<Vec<CaIdentity>> {
    let mut q = conn.prepare_cached(
        "SELECT DISTINCT s.issuer_spki, s.issuer FROM ct_seen s JOIN ct_watch w ON w.domain = s.domain
         WHERE s.familiar IS NOT NULL AND s.issuer_spki IS NOT NULL
           AND (w.domain = ?1 OR (w.include_subdomains AND substr(?1, -length(w.domain) - 1) = '.' || w.domain))
         ORDER BY s.issuer_spki",
    )?;
    let rows = q.query_map(params![host], |r| {
        let spki: String = r.get(0)?;
        let issuer: String = r.get(1)?;
        Ok(crate::ct::watch::familiar::key_identity(&spki, &issuer))
    })?;
    rows.collect()
}
