//! The metrics textfile (config `metrics_textfile`): the OpenMetrics text
//! of every watched site ([`openmetrics::render`], the same text as
//! `certwatch check --format prometheus`) for node_exporter's textfile
//! collector.
//!
//! Written at start and after each scheduled pass, atomically (a temp file
//! beside it renamed over it: node_exporter never reads a part) with mode
//! 0644 ([`write_shared_atomic`]): node_exporter runs as its own user, and
//! the user asked for the file by naming it. What it holds: for each site
//! on the watch list, this daemon's latest check of it
//! ([`SiteSummary::from_checked`] / [`SiteSummary::failed`]); before the
//! daemon's first check of a site, its latest stored sighting
//! ([`SiteSummary::from_history`]: expiry, CA, the severity it was first
//! judged with, no CT). Sites no longer watched drop out. A failed write
//! is logged and tried again after the next pass; the file in place stays.

use std::collections::BTreeMap;

use certwatch_engine::check::{CheckError, Checked};
use certwatch_engine::format::{openmetrics, SiteSummary};
use certwatch_engine::paths::write_shared_atomic;
use certwatch_engine::probe::Site;
use certwatch_engine::store::watch;

use crate::server::Shared;

/// This daemon's latest result per site, keyed by host and port.
#[derive(Debug, Default)]
pub struct Latest(BTreeMap<(String, u16), SiteSummary>);

impl Shared {
    /// Keeps a scheduled check's result for the textfile.
    pub(crate) fn note_metrics(&self, site: &Site, at: i64, r: &Result<Checked, CheckError>) {
        let s = match r {
            Ok(c) => SiteSummary::from_checked(c),
            Err(e) => SiteSummary::failed(site, at, e),
        };
        if let Ok(mut m) = self.metrics.lock() {
            m.0.insert((site.host.clone(), site.port), s);
        }
    }

    /// Writes the textfile when one is configured (blocking; the shared
    /// state is locked only to read the watch list and history).
    pub(crate) fn write_metrics(&self) {
        let (path, summaries) = {
            let inner = self.lock();
            let Some(path) = inner.config.metrics_textfile.clone() else {
                return;
            };
            let watched = match watch::list(&inner.store) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!("metrics textfile: watch list: {e}");
                    return;
                }
            };
            let latest = match self.metrics.lock() {
                Ok(mut m) => {
                    // Sites no longer watched are forgotten.
                    m.0.retain(|(h, p), _| {
                        watched
                            .iter()
                            .any(|w| w.site.host == *h && w.site.port == *p)
                    });
                    m.0.clone()
                }
                Err(_) => BTreeMap::new(),
            };
            let summaries: Vec<SiteSummary> = watched
                .iter()
                .filter_map(|w| {
                    let key = (w.site.host.clone(), w.site.port);
                    latest.get(&key).cloned().or_else(|| {
                        let timeline = inner.store.timeline(&w.site).ok()?;
                        let last = timeline.iter().max_by_key(|e| e.sighting.last_seen)?;
                        Some(SiteSummary::from_history(&w.site, last))
                    })
                })
                .collect();
            (path, summaries)
        };
        let text = openmetrics::render(&summaries);
        match write_shared_atomic(&path, text.as_bytes()) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), sites = summaries.len(), "metrics written")
            }
            Err(e) => tracing::warn!("metrics textfile {}: {e}", path.display()),
        }
    }
}

/// The textfile at start, before the first pass (async wrapper).
pub(crate) async fn at_start(shared: &std::sync::Arc<Shared>) {
    let s = shared.clone();
    let _ = tokio::task::spawn_blocking(move || s.write_metrics()).await;
}
