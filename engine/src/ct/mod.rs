//! Certificate Transparency: log lists ([`loglist`]), SCT extraction and
//! verification ([`sct`], over the small DER walker in [`der`]), Chrome's CT
//! policy ([`policy`]), and the evidence source that feeds the verdict.
//!
//! The list shipped in the engine is [`builtin`]; [`cache`] chooses between
//! it, the cached signed list and configured files.
//!
//! Everything here is pure except [`cache`] (files) and [`fetch`] (HTTPS).

pub mod builtin;
pub mod cache;
pub mod der;
pub mod fetch;
pub mod loglist;
pub mod policy;
pub mod sct;
pub mod tail;
pub mod watch;

use std::sync::{Arc, RwLock};

use crate::check::{Analysis, EvidenceSource};
use crate::model::CertInfo;
use crate::probe::{Probed, Site};
use crate::verdict::{CtEvidence, Evidence, SctReport};

pub use loglist::{ListError, LogList};
pub use sct::{SctSource, SctStatus};

/// Evaluates CT for a chain (leaf first) with an optional stapled OCSP
/// response and TLS-extension SCT list, at `now` (Unix seconds).
pub fn evaluate(
    chain: &[CertInfo],
    ocsp: &[u8],
    tls_scts: &[u8],
    logs: &LogList,
    now: i64,
) -> CtEvidence {
    let fresh = logs.freshness(now);
    let Some(leaf) = chain.first() else {
        return CtEvidence {
            compliant: false,
            reason: "empty chain".into(),
            total: 0,
            invalid: 0,
            unknown_log: 0,
            scts: Vec::new(),
            list_date: fresh.date,
            list_stale: fresh.stale,
        };
    };
    let mut problems = Vec::new();
    let mut scts = match sct::embedded_scts(&leaf.tbs_der) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("embedded SCT list: {e}"));
            Vec::new()
        }
    };
    if !tls_scts.is_empty() {
        match sct::parse_sct_list(tls_scts, SctSource::Tls) {
            Ok(v) => scts.extend(v),
            Err(e) => problems.push(format!("TLS SCT list: {e}")),
        }
    }
    if !ocsp.is_empty() {
        let found = der::tbs_serial(&leaf.tbs_der).and_then(|serial| sct::ocsp_scts(ocsp, serial));
        match found {
            Ok(v) => scts.extend(v),
            Err(e) => problems.push(format!("stapled OCSP response: {e}")),
        }
    }
    let issuer = chain.get(1).map(|c| c.spki_der.as_slice());
    let entry = sct::SignedEntry::new(&leaf.der, &leaf.tbs_der, issuer);
    let mut reports = Vec::with_capacity(scts.len());
    let mut policy_in = Vec::with_capacity(scts.len());
    let (mut invalid, mut unknown) = (problems.len(), 0);
    for s in &scts {
        let status = sct::verify(s, &entry, logs, now, leaf.not_after);
        let log = logs.get(&s.log_id);
        let ts = (s.timestamp_ms / 1000).min(i64::MAX as u64) as i64;
        match status {
            SctStatus::Invalid => invalid += 1,
            SctStatus::UnknownLog | SctStatus::NoIssuer => unknown += 1,
            _ => {}
        }
        reports.push(SctReport {
            log_id: loglist::b64(&s.log_id),
            log_name: log.map(|l| l.description.clone()),
            operator: log.map(|l| l.operator_at(ts).to_string()),
            timestamp_ms: s.timestamp_ms,
            source: s.source.as_str(),
            status: status.as_str(),
        });
        if let Some(l) = log {
            policy_in.push(policy::PolicySct {
                log_id: s.log_id,
                operator: l.operator_at(ts).to_string(),
                rfc6962: l.rfc6962,
                state: l.state,
                state_since: l.state_since,
                timestamp: ts,
                source: s.source,
                status,
            });
        }
    }
    let (compliant, mut reason) = if scts.is_empty() && problems.is_empty() {
        policy::evaluate(&[], leaf.lifetime_secs(), now)
    } else if policy_in.is_empty() {
        (
            false,
            format!(
                "CT policy not met: none of the {} SCTs is from a log in the loaded lists",
                scts.len()
            ),
        )
    } else {
        policy::evaluate(&policy_in, leaf.lifetime_secs(), now)
    };
    if !problems.is_empty() {
        reason = format!("{reason}; malformed: {}", problems.join("; "));
    }
    CtEvidence {
        compliant: compliant && problems.is_empty(),
        reason,
        total: scts.len() + problems.len(),
        invalid,
        unknown_log: unknown,
        scts: reports,
        list_date: fresh.date,
        list_stale: fresh.stale,
    }
}

/// CT evidence for every check, from loaded log lists.
pub struct CtEvidenceSource {
    logs: RwLock<Arc<LogList>>,
}

impl CtEvidenceSource {
    /// A source judging against `logs`.
    pub fn new(logs: Arc<LogList>) -> CtEvidenceSource {
        CtEvidenceSource {
            logs: RwLock::new(logs),
        }
    }

    /// Judges against `logs` from now on (after a refresh of the cached list).
    pub fn replace(&self, logs: Arc<LogList>) {
        if let Ok(mut g) = self.logs.write() {
            *g = logs;
        }
    }

    /// The lists in use.
    pub fn lists(&self) -> Arc<LogList> {
        match self.logs.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

impl EvidenceSource for CtEvidenceSource {
    fn gather(
        &self,
        _site: &Site,
        analysis: &Analysis,
        probed: Option<&Probed>,
        now: i64,
        evidence: &mut Evidence,
    ) {
        let ocsp = probed.map(|p| p.ocsp.as_slice()).unwrap_or_default();
        // rustls 0.23 does not expose the TLS-extension SCT list to clients.
        evidence.ct = Some(evaluate(&analysis.chain, ocsp, &[], &self.lists(), now));
    }
}

#[cfg(test)]
mod vectors_tests;
