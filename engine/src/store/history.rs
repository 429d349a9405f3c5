//! Sites, sightings, acceptances and the audit log: judging and recording
//! one observation in one `BEGIN IMMEDIATE` transaction ([`Store::observe`]).

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::error::map_err;
use super::{Store, StoreError};
use crate::ca::CaIdentity;
use crate::model::{sha256_hex, CertInfo};
use crate::probe::Site;
use crate::trust::TrustKind;
use crate::verdict::{AcceptedCa, History, PastSighting, Reason, Severity, Verdict};

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

impl Store {
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
            .prepare_cached(
                "UPDATE sightings SET last_seen = MAX(last_seen, ?1), count = count + 1
                 WHERE site_id = ?2 AND chain_sha256 = ?3",
            )
            .and_then(|mut q| q.execute(params![now, site_id, chain_hash]))
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
        if self.fleet_outbox {
            super::fleet::queue(
                &tx,
                &site.host,
                site.port,
                &crate::verdict::fleet::operator_key(ca),
                &crate::verdict::fleet::ca_name(ca),
                now,
            )
            .map_err(map)?;
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
                    severity: parse_stored(13, &r.get::<_, String>(13)?, Severity::parse)?,
                    reasons_json: r.get(14)?,
                    leaf_subject: r.get(15)?,
                    leaf_not_before: r.get(16)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
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
        .prepare_cached("SELECT id FROM sites WHERE host = ?1 AND port = ?2")?
        .query_row(params![site.host, site.port], |r| r.get(0))
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
        trust: parse_stored(base, &trust, TrustKind::parse)?,
        owner: r.get(base + 1)?,
        root: r.get(base + 2)?,
        root_spki: r.get(base + 3)?,
        issuer_org: r.get(base + 4)?,
        intermediate: r.get(base + 5)?,
        intermediate_spki: r.get(base + 6)?,
        // Resolved from the keys at judgement time (check::with_operators).
        operator: None,
        operator_source: crate::ccadb::disclosure::OperatorSource::RootKey,
        ca_owner: None,
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
    let ct_seed = super::ct_watch::seeds(conn, &site.host)?;
    Ok(History {
        sightings,
        accepted,
        ct_seed,
    })
}

/// A stored enum value: unknown text is an error ([`StoreError::BadValue`]), never a default.
fn parse_stored<T>(
    col: usize,
    text: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Text,
            format!("{text:?} is not a value this certwatch knows").into(),
        )
    })
}
