//! Where a check's history comes from and its sighting goes: the
//! [`Recorder`] seam between the pipeline and the store.
//!
//! The pipeline calls [`Recorder::history`] (before enrichers, which may use
//! the network) and then [`Recorder::record`], which judges against the
//! history *inside* the store's transaction and writes the sighting. An
//! implementation that guards shared state (the daemon's) takes its lock in
//! each call and releases it in between.

use crate::check::Analysis;
use crate::probe::Site;
use crate::store::{Store, StoreError};
use crate::verdict::{History, Verdict};

/// A history source and sighting sink for [`super::Engine::finish`].
pub trait Recorder {
    /// The site's history before this observation.
    fn history(&mut self, site: &Site) -> Result<History, StoreError>;
    /// Judges with `judge` against the site's history and records the
    /// sighting, atomically. Returns the verdict and whether it was stored.
    fn record(
        &mut self,
        site: &Site,
        analysis: &Analysis,
        now: i64,
        judge: &dyn Fn(&History) -> Verdict,
    ) -> Result<(Verdict, bool), StoreError>;
}

impl Recorder for Store {
    fn history(&mut self, site: &Site) -> Result<History, StoreError> {
        Store::history(self, site)
    }

    fn record(
        &mut self,
        site: &Site,
        analysis: &Analysis,
        now: i64,
        judge: &dyn Fn(&History) -> Verdict,
    ) -> Result<(Verdict, bool), StoreError> {
        let r = self.observe(site, &analysis.chain, &analysis.ca, now, judge)?;
        Ok((r.verdict, true))
    }
}

/// Judges against an existing history but never writes (`check
/// --no-store`). An unreadable or missing store is an empty history.
pub struct ReadOnly<'a>(pub Option<&'a Store>);

impl Recorder for ReadOnly<'_> {
    fn history(&mut self, site: &Site) -> Result<History, StoreError> {
        Ok(self
            .0
            .and_then(|s| s.history(site).ok())
            .unwrap_or_default())
    }

    fn record(
        &mut self,
        site: &Site,
        _analysis: &Analysis,
        _now: i64,
        judge: &dyn Fn(&History) -> Verdict,
    ) -> Result<(Verdict, bool), StoreError> {
        Ok((judge(&self.history(site)?), false))
    }
}

/// No history at all (`inspect`: a chain file judged on its own).
pub struct NoHistory;

impl Recorder for NoHistory {
    fn history(&mut self, _site: &Site) -> Result<History, StoreError> {
        Ok(History::default())
    }

    fn record(
        &mut self,
        _site: &Site,
        _analysis: &Analysis,
        _now: i64,
        judge: &dyn Fn(&History) -> Verdict,
    ) -> Result<(Verdict, bool), StoreError> {
        Ok((judge(&History::default()), false))
    }
}

/// Shared state that lends its store for one call at a time (a mutex: the
/// native host's workers, the daemon's state).
pub trait StoreLock {
    /// Runs `f` with the store locked.
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R;
}

impl StoreLock for std::sync::Mutex<Store> {
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        // A panic while holding the lock would be a bug; SQLite keeps the data.
        f(&mut self.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The [`Recorder`] of a shared store: locked for each call only, so
/// probes and enrichers run with it released.
pub struct Locked<'a, L: StoreLock>(pub &'a L);

impl<L: StoreLock> Recorder for Locked<'_, L> {
    fn history(&mut self, site: &Site) -> Result<History, StoreError> {
        self.0.with_store(|s| s.history(site))
    }

    fn record(
        &mut self,
        site: &Site,
        analysis: &Analysis,
        now: i64,
        judge: &dyn Fn(&History) -> Verdict,
    ) -> Result<(Verdict, bool), StoreError> {
        self.0
            .with_store(|s| Recorder::record(s, site, analysis, now, judge))
    }
}
