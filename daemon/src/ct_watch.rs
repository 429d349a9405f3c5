//! The daemon's CT watch of chosen domains (`certwatch watch add DOMAIN
//! --ct`): every `ct_watch_every` (default 1 h) it asks the search service
//! (`ct_search_url`, default crt.sh) for the issuances discovered since its
//! stored position, judges them like `ct issuances` does
//! ([`certwatch_engine::ct::watch::run::Lookup`]), and records them, their
//! `ct_unfamiliar_issuer` alerts and the new position in one transaction
//! ([`ct_watch::record_poll`]): a restart repeats no alert and skips no
//! issuance. A failure backs off (the server's `Retry-After`, else
//! doubling from a minute up to the interval). The first poll of a domain
//! with no history seeds the operators it uses (a first contact is then
//! judged against them) instead of raising an alert per certificate. An
//! alert is critical when the CAA set of the certificate's name forbids
//! its CA (config `caa`, one DNS look-up per unfamiliar issuance). The
//! store is locked only to read and to record, never during the search.

use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::caa::CaaConfig;
use certwatch_engine::check::{read_roots, unix_now};
use certwatch_engine::ct::fetch::HttpClient;
use certwatch_engine::ct::watch::familiar::{Assessed, Familiar};
use certwatch_engine::ct::watch::run::Lookup;
use certwatch_engine::ct::watch::{self, Query, WatchError};
use certwatch_engine::report::issuance_json;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::schedule::next_due_after_failure;
use certwatch_engine::store::ct_watch::{self, CtWatch, NewAlert, Seen};
use certwatch_engine::verdict::{CaaEvidence, Severity};

use crate::server::{settings, Shared};

/// Most CAA look-ups per poll (one per unfamiliar issuance).
const MAX_CAA_LOOKUPS: usize = 20;

/// The longest sleep between looks at the CT watch list.
const MAX_SLEEP_SECS: i64 = 3_600;

/// Polls due CT watches, sleeps until the next is due or a watch changed.
pub(crate) async fn watcher(
    shared: Arc<Shared>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let s = shared.clone();
        let wait = tokio::task::spawn_blocking(move || poll_due(&s))
            .await
            .unwrap_or(60);
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = shared.ct_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(wait.clamp(1, MAX_SLEEP_SECS) as u64)) => {}
        }
    }
}

/// Polls every due CT watch (blocking); returns the seconds until the next.
pub fn poll_due(shared: &Shared) -> i64 {
    let now = unix_now();
    let list = match ct_watch::list(&shared.lock().store) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("CT watch list: {e}");
            return 60;
        }
    };
    for w in list.iter().filter(|w| w.next_due <= now) {
        poll(shared, w);
    }
    ct_watch::list(&shared.lock().store)
        .ok()
        .and_then(|l| l.iter().map(|w| w.next_due).min())
        .map(|t| t - unix_now())
        .unwrap_or(MAX_SLEEP_SECS)
}

/// One poll of one domain.
pub fn poll(shared: &Shared, w: &CtWatch) {
    let (config, table) = {
        let i = shared.lock();
        (i.config.clone(), i.engine.ccadb.clone())
    };
    let settings = match settings(&config) {
        Ok(s) => s,
        Err(e) => return failed(shared, w, 3_600, &format!("settings: {e}")),
    };
    let roots = match &settings.roots {
        Some(r) => match read_roots(r) {
            Ok(r) => r,
            Err(e) => return failed(shared, w, 3_600, &format!("settings: {e}")),
        },
        None => Vec::new(),
    };
    let caa = settings.caa.then(|| CaaConfig {
        dns_server: settings.dns_server,
        ..CaaConfig::default()
    });
    let url = settings
        .ct_search_url
        .clone()
        .unwrap_or_else(|| watch::DEFAULT_SEARCH_URL.to_string());
    let q = Query::new(&w.domain, w.include_subdomains, false);
    let lookup = {
        let i = shared.lock();
        Lookup::load(&i.store, &q.domain, &roots, &table)
            .and_then(|l| l.with_downloads(&i.store, &url))
    };
    let mut lookup = match lookup {
        Ok(l) => l,
        Err(e) => return failed(shared, w, 60, &format!("store: {e}")),
    };
    let first = w.polls == 0 && lookup.history.is_empty() && lookup.seed.is_empty();
    let tls_roots = (!roots.is_empty()).then_some(roots.as_slice());
    let aia = HttpClient::new(tls_roots, Duration::from_secs(10)).ok();
    let mut search = match watch::service_for(&url, tls_roots) {
        Ok(s) => s,
        Err(e) => return failed(shared, w, 3_600, &e.to_string()),
    };
    let now = unix_now();
    let found = match lookup.search(
        search.as_mut(),
        &q,
        w.position.as_deref(),
        aia.as_ref(),
        &table,
        now,
    ) {
        Ok(f) => f,
        Err(e) => {
            let retry = match &e {
                WatchError::Status { retry_in_secs, .. } => *retry_in_secs as i64,
                _ => 0,
            };
            let backoff = next_due_after_failure(w.every_secs, w.failures + 1, now) - now;
            return failed(shared, w, retry.max(backoff), &e.to_string());
        }
    };
    for n in &lookup.notes {
        tracing::info!(domain = %w.domain, "CT watch: {n}");
    }
    let mut lookups = MAX_CAA_LOOKUPS;
    let rows: Vec<(Seen, Option<NewAlert>)> = found
        .issuances
        .iter()
        .map(|a| {
            let familiar = a
                .familiar
                .or(first.then_some(Familiar::CtSeed))
                .map(|f| f.as_str().to_string());
            let alert = (familiar.is_none() && !a.expired).then(|| {
                let forbids = match &caa {
                    Some(cfg) if lookups > 0 => {
                        lookups -= 1;
                        caa_forbids(a, cfg)
                    }
                    _ => None,
                };
                alert_for(&w.domain, a, now, forbids.as_deref())
            });
            (seen(a, familiar), alert)
        })
        .collect();
    let raised = {
        let mut i = shared.lock();
        if let Err(e) = lookup.save(&mut i.store, now) {
            tracing::warn!("CT watch caches: {e}");
        }
        if first && !rows.is_empty() {
            let mut ops: Vec<String> = found
                .issuances
                .iter()
                .map(|a| {
                    a.ca.operator
                        .clone()
                        .unwrap_or_else(|| a.ca.short().to_string())
                })
                .collect();
            ops.sort();
            ops.dedup();
            let detail = format!(
                "first CT poll, no history: {} issuances seed {}",
                rows.len(),
                ops.join(", ")
            );
            let _ = i.store.log_event(now, "ct_seed", Some(&w.domain), &detail);
        }
        ct_watch::record_poll(&mut i.store, w, now, &rows, found.position.as_deref())
    };
    match raised {
        Ok(raised) => {
            tracing::info!(domain = %w.domain, issuances = rows.len(), alerts = raised.len(), "CT watch polled");
            for (id, a) in raised {
                let sev = if a.severity == "critical" {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                crate::alert::notify(shared, id, &a.title, &a.body, sev, a.json);
            }
        }
        Err(e) => tracing::error!(domain = %w.domain, "CT watch: recording the poll failed: {e}"),
    }
}

fn failed(shared: &Shared, w: &CtWatch, retry_in: i64, error: &str) {
    tracing::warn!(domain = %w.domain, "CT watch poll failed: {error}");
    let now = unix_now();
    let mut i = shared.lock();
    if let Err(e) = ct_watch::record_failure(&mut i.store, &w.domain, now, retry_in, error) {
        tracing::error!("CT watch: {e}");
    }
}

fn seen(a: &Assessed, familiar: Option<String>) -> Seen {
    let i = &a.issuance;
    Seen {
        key: i.key.clone(),
        sha256: i.sha256.clone(),
        precert_sha256: i.precert_sha256.clone(),
        issuer: i.issuer.clone(),
        issuer_spki: i.issuer_spki.clone(),
        names: i.names.join(","),
        not_after: i.not_after,
        familiar,
    }
}

/// When the CAA set of the issuance's first name forbids its CA: "CAA of
/// D allows only X, Y". DNS failures, CAs without a CCADB operator or
/// without CAA domains give nothing (the alert stays a warning).
fn caa_forbids(a: &Assessed, cfg: &CaaConfig) -> Option<String> {
    // Only an issuing key CCADB names an operator for is matched to CAA
    // domains: a certificate's own names never are.
    a.ca.operator.as_ref()?;
    let name = a.issuance.names.first()?;
    let wildcard = name.starts_with("*.");
    let host = name.trim_start_matches("*.");
    match certwatch_engine::caa::evaluate(host, &a.ca, wildcard, cfg) {
        Ok(CaaEvidence::Forbids { domain, allowed }) => Some(format!(
            "CAA of {domain} allows only {}",
            allowed.join(", ")
        )),
        Ok(_) => None,
        Err(e) => {
            tracing::info!("CT watch: {e}");
            None
        }
    }
}

/// The `ct_unfamiliar_issuer` alert of an issuance: a warning, critical
/// when `caa_forbids` (texts sanitised here; markup is escaped when
/// notifying).
pub fn alert_for(domain: &str, a: &Assessed, now: i64, caa_forbids: Option<&str>) -> NewAlert {
    let i = &a.issuance;
    let who = match &a.ca.operator {
        Some(op) => format!("{} (operated by {op})", a.ca.short()),
        None => format!("{} (issuing key not in CCADB)", a.ca.short()),
    };
    let names = i.names.join(", ");
    let sha = i.sha256.clone().unwrap_or_default();
    let title = format!(
        "certwatch: a certificate for {} was issued by {} (CT)",
        sanitize(&names),
        sanitize(a.ca.short())
    );
    let severity = if caa_forbids.is_some() {
        "critical"
    } else {
        "warning"
    };
    let caa_line = caa_forbids
        .map(|c| format!("{}: that CA may not issue for it.\n", sanitize(c)))
        .unwrap_or_default();
    let body = format!(
        "Certificate Transparency shows a certificate for {} from {}, a CA no site of {} was seen using.\n{caa_line}SHA-256 {}\nIf it is expected: certwatch ct authorize {}",
        sanitize(&names),
        sanitize(&who),
        sanitize(domain),
        sanitize(&sha),
        sanitize(&sha)
    );
    let json = serde_json::json!({
        "code": "ct_unfamiliar_issuer",
        "severity": severity,
        "caa_forbids": caa_forbids,
        "domain": domain,
        "at": certwatch_engine::report::rfc3339(now),
        "issuance": issuance_json(a),
    });
    NewAlert {
        site: domain.to_string(),
        ca_key: format!("ct|{}", i.key),
        severity: severity.into(),
        title,
        body,
        json: json.to_string(),
    }
}
