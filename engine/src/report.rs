//! The JSON shape of a check: the serialization boundary shared by
//! `certwatch check --json`, `inspect --json`, the daemon's IPC and the native
//! host. Internal types do not derive serde; this module maps them. Fields
//! are only ever added, never renamed (scripts depend on them).

use serde_json::{json, Value};

use crate::ca::CaIdentity;
use crate::check::{CheckError, Checked};
use crate::model::CertInfo;
use crate::probe::Site;
use crate::verdict::{CaaEvidence, PinEvidence, Reason, SctReport};

/// RFC 3339 UTC for Unix seconds.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// JSON for a CA identity.
pub fn ca_json(ca: &CaIdentity) -> Value {
    json!({
        "name": ca.short(),
        "owner": ca.owner,
        "issuer_org": ca.issuer_org,
        "intermediate": ca.intermediate,
        "intermediate_spki_sha256": ca.intermediate_spki,
        "root": ca.root,
        "root_spki_sha256": ca.root_spki,
        "trust": ca.trust.as_str(),
        "operator": ca.operator,
        "operator_source": ca.operator_source.as_str(),
        "ca_owner": ca.ca_owner,
    })
}

/// JSON for one certificate.
pub fn cert_json(c: &CertInfo) -> Value {
    json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "sha256": c.sha256,
        "spki_sha256": c.spki_sha256,
        "not_before": rfc3339(c.not_before),
        "not_after": rfc3339(c.not_after),
        "sans": c.sans,
        "key_type": c.key_type,
        "is_ca": c.is_ca,
    })
}

/// JSON for reasons.
pub fn reasons_json(reasons: &[Reason]) -> Value {
    Value::Array(
        reasons
            .iter()
            .map(|r| json!({"code": r.code.as_str(), "severity": r.severity.as_str(), "message": r.message}))
            .collect(),
    )
}

/// The full JSON object for a completed check.
pub fn checked_json(c: &Checked) -> Value {
    let t = &c.analysis.trust;
    let mut v = json!({
        "host": c.site.host,
        "port": c.site.port,
        "checked_at": rfc3339(c.at),
        "severity": c.verdict.severity.as_str(),
        "reasons": reasons_json(&c.verdict.reasons),
        "trust": t.kind.as_str(),
        "anchor": t.anchor.as_ref().map(|a| json!({"subject": a.subject, "name": a.name, "spki_sha256": a.spki_sha256})),
        "validity": {
            "expired": t.expired,
            "not_yet_valid": t.not_yet_valid,
            "name_mismatch": t.name_mismatch,
            "self_signed": t.self_signed,
            "errors": t.errors,
        },
        "ca": ca_json(&c.analysis.ca),
        "previous_ca": c.verdict.previous_ca.as_ref().map(ca_json),
        "chain": c.analysis.chain.iter().map(cert_json).collect::<Vec<_>>(),
        "tls": c.probed.as_ref().map(|p| json!({
            "protocol": p.protocol, "cipher": p.cipher, "peer": p.peer, "certificates_presented": p.presented,
        })),
        "stored": c.stored,
        "error": Value::Null,
    });
    v["sct"] = c
        .evidence
        .ct
        .as_ref()
        .map(|ct| Value::Array(ct.scts.iter().map(sct_json).collect()))
        .unwrap_or(Value::Null);
    v["ct_policy"] = c
        .evidence
        .ct
        .as_ref()
        .map(|ct| {
            json!({
                "status": if ct.compliant { "compliant" } else { "not_compliant" },
                "reason": ct.reason,
            })
        })
        .unwrap_or(Value::Null);
    // The list judged with: its date, and whether it is over 70 days old
    // at the check time (Chrome stops enforcing CT then).
    let ct = c.evidence.ct.as_ref();
    v["ct_list_date"] = ct
        .and_then(|ct| ct.list_date)
        .map(|d| json!(rfc3339(d)))
        .unwrap_or(Value::Null);
    v["ct_list_stale"] = ct.map(|ct| json!(ct.list_stale)).unwrap_or(Value::Null);
    if let Some(i) = &c.evidence.interceptor {
        v["interceptor"] = json!(i);
    }
    if let Some(p) = &c.evidence.pin {
        v["pin"] = pin_json(p);
    }
    if let Some(caa) = &c.evidence.caa {
        v["caa"] = caa_json(caa);
    }
    if let Some(n) = &c.evidence.interceptor_accepted {
        v["interceptor_accepted"] = json!({ "network": n });
    }
    if let Some(f) = &c.evidence.fleet {
        v["fleet"] = fleet_json(f);
    }
    v
}

/// JSON for fleet evidence: `{status: ok|unavailable, recent_machines,
/// operators: [{operator, ca_name, machines, recent_machines, first_seen,
/// last_seen}]}` or `{status: unavailable, reason}`.
pub fn fleet_json(f: &crate::verdict::fleet::FleetEvidence) -> Value {
    use crate::verdict::fleet::FleetEvidence;
    match f {
        FleetEvidence::View(v) => json!({
            "status": "ok",
            "recent_machines": v.recent_machines,
            "operators": v.operators.iter().map(|o| json!({
                "operator": o.operator,
                "ca_name": o.ca_name,
                "machines": o.machines,
                "recent_machines": o.recent_machines,
                "first_seen": rfc3339(o.first_seen),
                "last_seen": rfc3339(o.last_seen),
            })).collect::<Vec<_>>(),
        }),
        FleetEvidence::Unavailable(reason) => json!({"status": "unavailable", "reason": reason}),
    }
}

/// A one-line notice when the CT log list judged with is stale at `now`,
/// for people (`check`, `inspect`, `ct show`).
pub fn ct_list_notice(list_date: Option<i64>, now: i64) -> Option<String> {
    let f = crate::ct::loglist::freshness(list_date, now);
    let date = f.date?;
    f.stale.then(|| {
        format!(
            "the CT log list is from {} ({} days old, over {}): Chrome stops enforcing CT with such a list, and SCTs from logs created since show as unknown_log; run `certwatch ct update`",
            &rfc3339(date)[..10],
            f.age_days,
            crate::ct::loglist::MAX_LIST_AGE_SECS / 86_400
        )
    })
}

/// JSON for one SCT.
pub fn sct_json(s: &SctReport) -> Value {
    let secs = (s.timestamp_ms / 1000) as i64;
    json!({
        "log_id": s.log_id,
        "log_name": s.log_name,
        "operator": s.operator,
        "timestamp": rfc3339(secs),
        "timestamp_ms": s.timestamp_ms,
        "source": s.source,
        "status": s.status,
    })
}

/// JSON for pin evidence: `{status: ok|violation|not_pinned, entry, pinset, matched_spki}`.
pub fn pin_json(p: &PinEvidence) -> Value {
    match p {
        PinEvidence::Ok {
            entry,
            pinset,
            matched_spki,
        } => {
            json!({"status": "ok", "entry": entry, "pinset": pinset, "matched_spki": matched_spki})
        }
        PinEvidence::Violation {
            entry,
            pinset,
            detail,
        } => {
            json!({"status": "violation", "entry": entry, "pinset": pinset, "matched_spki": null, "detail": detail})
        }
        PinEvidence::NotPinned => {
            json!({"status": "not_pinned", "entry": null, "pinset": null, "matched_spki": null})
        }
    }
}

/// JSON for CAA evidence: `{status: allows|forbids|none, domain, allowed}`.
pub fn caa_json(c: &CaaEvidence) -> Value {
    match c {
        CaaEvidence::Allows { domain } => json!({"status": "allows", "domain": domain}),
        CaaEvidence::Forbids { domain, allowed } => {
            json!({"status": "forbids", "domain": domain, "allowed": allowed})
        }
        CaaEvidence::None => json!({"status": "none", "domain": null}),
    }
}

/// The JSON object for a check that could not reach a verdict.
pub fn error_json(site: &Site, at: i64, e: &CheckError) -> Value {
    unknown_json(site, at, e.kind(), &e.to_string())
}

/// The `severity: "unknown"` object for a failure of kind `kind` (also a
/// failure the daemon reported, relayed by the native host).
pub fn unknown_json(site: &Site, at: i64, kind: &str, message: &str) -> Value {
    json!({
        "host": site.host,
        "port": site.port,
        "checked_at": rfc3339(at),
        "severity": "unknown",
        "reasons": [],
        "error": {"kind": kind, "message": message},
    })
}

/// The JSON shape of a site's timeline (`certwatch history --json`, the
/// native host's `history` reply).
pub fn timeline_json(site: &Site, timeline: &[crate::store::TimelineEntry]) -> Value {
    let entries: Vec<Value> = timeline
        .iter()
        .map(|e| {
            json!({
                "first_seen": rfc3339(e.sighting.first_seen),
                "last_seen": rfc3339(e.sighting.last_seen),
                "count": e.count,
                "leaf_sha256": e.sighting.leaf_sha256,
                "leaf_spki_sha256": e.sighting.leaf_spki,
                "leaf_subject": e.leaf_subject,
                "leaf_not_before": rfc3339(e.leaf_not_before),
                "leaf_not_after": rfc3339(e.sighting.leaf_not_after),
                "ca": ca_json(&e.sighting.ca),
                "severity": e.severity.as_str(),
                "reasons": serde_json::from_str::<Value>(&e.reasons_json).unwrap_or_default(),
            })
        })
        .collect();
    json!({"host": site.host, "port": site.port, "sightings": entries})
}

/// One issuance as JSON (`ct issuances --json`, the daemon's alerts).
pub fn issuance_json(a: &crate::ct::watch::familiar::Assessed) -> Value {
    let i = &a.issuance;
    json!({
        "sha256": i.sha256,
        "precert_sha256": i.precert_sha256,
        "precert_only": i.precert,
        "serial": i.serial,
        "names": i.names,
        "not_before": i.not_before.map(rfc3339),
        "not_after": i.not_after.map(rfc3339),
        "expired": a.expired,
        "issuer": {
            "name": i.issuer,
            "spki_sha256": i.issuer_spki,
            "key": i.issuer_key.as_str(),
        },
        "operator": a.ca.operator,
        "ca_owner": a.ca.ca_owner,
        "familiar": a.familiar.is_some(),
        "familiar_by": a.familiar.map(|f| f.as_str()),
        "source": i.source,
        "id": i.id,
    })
}
