//! The daemon as the browser companion's hub. When certwatchd runs, the
//! native host relays the browser's requests here (`browser_check`,
//! `history`, `accept`), so the daemon is the one writer of the history.
//! A browser finding at warning or above raises the same alert as a watched
//! site (stored once per site and CA, so it is deduplicated with the
//! daemon's own alerts; desktop notification, hook, audit event) and plans
//! re-checks of the site from the daemon's own connection at the delays of
//! config `browser_recheck` (default 10 min, 1 h, 6 h; in memory: a restart
//! forgets them). A re-check's result goes to the audit log; while the
//! site's alert is open it raises no second one (a re-check that sees the
//! site's usual CA again is the same incident, told from the other side).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use certwatch_engine::client::{Body, Reply};

use certwatch_engine::check::browser::{self, decode_chain, Visit};
use certwatch_engine::check::{unix_now, CheckError, Locked};
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::probe::Site;
use certwatch_engine::report::ca_json;
use certwatch_engine::store::watch;
use certwatch_engine::verdict::Severity;

use crate::server::Shared;

/// What a browser visit needs of the daemon's config, resolved when the
/// config is (re)loaded, not per visit.
#[derive(Debug, Clone)]
pub struct Browsing {
    /// The engine uses the built-in public roots (see `check::browser::visit`).
    pub builtin_roots: bool,
    /// Seconds a probe answers repeat visits (`probe_cache`).
    pub probe_ttl: i64,
    /// `browser_recheck`, seconds.
    pub rechecks: Vec<i64>,
}

impl Browsing {
    /// From the config and the environment (as the engine's settings).
    pub fn of(config: &certwatch_engine::config::Config) -> Browsing {
        let settings = crate::server::settings(config).ok();
        Browsing {
            builtin_roots: settings.as_ref().is_none_or(|s| s.roots.is_none()),
            probe_ttl: settings.as_ref().map_or(
                i64::from(certwatch_engine::settings::DEFAULT_PROBE_CACHE),
                |s| i64::from(s.probe_cache),
            ),
            rechecks: config.recheck_delays().unwrap_or_default(),
        }
    }
}

/// Re-checks still to come, by site (pure bookkeeping).
#[derive(Debug, Default)]
pub struct Rechecks {
    due: BTreeMap<Site, Vec<i64>>,
}

impl Rechecks {
    /// Plans re-checks of `site` at `now + d` for each delay. A site with
    /// re-checks still to come keeps its plan (one finding, one plan).
    /// Returns whether a plan was made.
    pub fn plan(&mut self, site: &Site, now: i64, delays: &[i64]) -> bool {
        if delays.is_empty() || self.due.contains_key(site) {
            return false;
        }
        let mut at: Vec<i64> = delays.iter().map(|d| now + d).collect();
        at.sort_unstable();
        self.due.insert(site.clone(), at);
        true
    }

    /// The earliest re-check.
    pub fn next(&self) -> Option<i64> {
        self.due.values().filter_map(|v| v.first().copied()).min()
    }

    /// The sites due at `now`, each once; their remaining re-checks stay.
    pub fn take_due(&mut self, now: i64) -> Vec<Site> {
        let mut out = Vec::new();
        for (site, at) in &mut self.due {
            if at.first().is_some_and(|t| *t <= now) {
                at.retain(|t| *t > now);
                out.push(site.clone());
            }
        }
        self.due.retain(|_, at| !at.is_empty());
        out
    }

    /// Re-checks to come, over all sites.
    pub fn len(&self) -> usize {
        self.due.values().map(Vec::len).sum()
    }

    /// Whether none are planned.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

/// Why a hub request failed: a stable kind and one line.
pub type HubError = (String, String);

fn err(kind: &str, m: impl Into<String>) -> HubError {
    (kind.to_string(), m.into())
}

impl Shared {
    /// A page load the browser reported (blocking).
    pub(crate) fn browser_check(
        &self,
        site: Site,
        chain: Option<Vec<String>>,
        tls_state: Option<String>,
        is_builtin_root: Option<bool>,
        ip: Option<std::net::IpAddr>,
    ) -> Result<Value, HubError> {
        let chain = chain
            .as_deref()
            .map(decode_chain)
            .transpose()
            .map_err(|m| err("bad_request", m))?;
        if tls_state.as_ref().is_some_and(|s| s.len() > 32) {
            return Err(err("bad_request", "`tls_state` must be a short string"));
        }
        let visit = Visit {
            site,
            chain,
            tls_state,
            is_builtin_root,
            ip,
        };
        let (engine, b) = {
            let mut inner = self.lock();
            (inner.current_engine(), inner.browsing.clone())
        };
        let now = unix_now();
        let visited = browser::visit(
            &engine,
            &visit,
            &self.probes,
            &ProcessEnv,
            &mut Locked(self),
            b.builtin_roots,
            now,
        )
        .map_err(|e: CheckError| err(e.kind(), e.to_string()))?;
        let c = &visited.checked;
        for w in &c.warnings {
            tracing::warn!("{}: {w}", c.site);
        }
        if c.verdict.severity >= Severity::Warning {
            tracing::info!(site = %c.site, severity = c.verdict.severity.as_str(), "browser finding");
            crate::alert::maybe_alert(self, c);
            self.plan_rechecks(&c.site, now, &b.rechecks);
        }
        Ok(visited.json)
    }

    fn plan_rechecks(&self, site: &Site, now: i64, delays: &[i64]) {
        let planned = self
            .rechecks
            .lock()
            .map(|mut r| r.plan(site, now, delays))
            .unwrap_or(false);
        if planned {
            let text = delays
                .iter()
                .map(|d| format!("{d}s"))
                .collect::<Vec<_>>()
                .join(", ");
            let detail = format!("the browser found it suspicious: re-checks in {text}");
            let _ = self
                .lock()
                .store
                .log_event(now, "recheck", Some(&site.to_string()), &detail);
            self.wake.notify_one();
        }
    }

    /// The earliest planned re-check.
    pub(crate) fn next_recheck(&self) -> Option<i64> {
        self.rechecks.lock().ok().and_then(|r| r.next())
    }

    /// Runs the due re-checks (blocking). Returns how many.
    pub(crate) fn run_rechecks(&self) -> usize {
        let due = self
            .rechecks
            .lock()
            .map(|mut r| r.take_due(unix_now()))
            .unwrap_or_default();
        for site in &due {
            // The finding's alert is still open: the re-check tells the rest
            // of that story (audit log), it does not raise a second alert.
            let name = site.to_string();
            let open = watch::has_open_alert(&self.lock().store, &name).unwrap_or(false);
            let detail = match self.check_and(site, None, !open) {
                Ok(c) => {
                    let sev = c.verdict.severity.as_str();
                    tracing::info!(site = %site, severity = sev, "re-checked");
                    format!(
                        "re-checked from certwatchd's own connection: {sev}, {}",
                        c.analysis.ca.describe()
                    )
                }
                Err(e) => {
                    tracing::warn!(site = %site, "re-check failed: {e}");
                    format!("re-check failed: {e}")
                }
            };
            let _ = self
                .lock()
                .store
                .log_event(unix_now(), "recheck", Some(&name), &detail);
        }
        due.len()
    }

    /// Re-checks to come.
    pub(crate) fn rechecks_pending(&self) -> usize {
        self.rechecks.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// A site's timeline (blocking).
    pub(crate) fn history(&self, site: &Site) -> Result<Value, HubError> {
        let timeline = self
            .lock()
            .store
            .timeline(site)
            .map_err(|e| err("store", e.to_string()))?;
        Ok(certwatch_engine::report::timeline_json(site, &timeline))
    }

    /// Accepts the CA of a site's latest sighting (blocking).
    pub(crate) fn accept(&self, site: &Site) -> Result<Value, HubError> {
        let accepted = self
            .lock()
            .store
            .accept_latest(site, unix_now())
            .map_err(|e| err("store", e.to_string()))?;
        match accepted {
            Some(ca) => {
                if let Ok(mut p) = self.probes.lock() {
                    p.invalidate(site);
                }
                Ok(json!({"host": site.host, "port": site.port, "accepted": ca_json(&ca)}))
            }
            None => Err(err(
                "never_checked",
                format!("{site}: never checked, nothing to accept"),
            )),
        }
    }
}

/// The IPC reply of a hub request.
pub(crate) fn reply(id: Value, r: Result<Value, HubError>) -> Reply {
    match r {
        Ok(result) => Reply::ok(id, Body::Checked { result }),
        Err((kind, message)) => Reply::err(id, &kind, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recheck_table() {
        let a = Site::parse("a.test", 443).unwrap();
        let b = Site::parse("b.test", 443).unwrap();
        let mut r = Rechecks::default();
        assert!(!r.plan(&a, 100, &[]), "no delays, no plan");
        assert!(r.plan(&a, 100, &[3600, 600]));
        assert!(!r.plan(&a, 200, &[10]), "one plan per site at a time");
        assert!(r.plan(&b, 100, &[60]));
        assert_eq!(r.next(), Some(160));
        assert_eq!(r.len(), 3);
        assert!(r.take_due(159).is_empty());
        assert_eq!(r.take_due(160), vec![b.clone()]);
        assert_eq!(r.next(), Some(700));
        // Late: both of a's due times passed, one re-check.
        assert_eq!(r.take_due(5000), vec![a.clone()]);
        assert!(r.is_empty());
        assert!(
            r.plan(&a, 6000, &[60]),
            "a new finding after the plan ran out"
        );
    }
}
