//! The fleet's consensus in the check pipeline: an [`Enricher`] that reads
//! the other machines' view of the site from the fleet server within
//! [`BUDGET`] (200 ms, waiting for the connection included) and caches it
//! for [`CACHE_SECS`]. No answer in time, or no server, is
//! `FleetEvidence::Unavailable`: no evidence, never an error; after a
//! failure the server is not asked again for [`RETRY_SECS`], so a fleet
//! down costs one 200 ms wait, not one per check.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::pg::Fleet;
use super::FleetSettings;
use crate::check::{Analysis, Enricher};
use crate::probe::target::Site;
use crate::verdict::fleet::{FleetEvidence, RECENT_SECS};
use crate::verdict::{Evidence, History, Verdict};

/// The most a check waits for the fleet server.
pub const BUDGET: Duration = Duration::from_millis(200);
/// How long a view answers for the same site.
pub const CACHE_SECS: u64 = 60;
/// How long a failure keeps the fleet unasked.
pub const RETRY_SECS: u64 = 30;
/// Sites cached at most.
const MAX_CACHED: usize = 4096;

/// Reads the fleet's view of each checked site.
pub struct FleetEnricher {
    settings: FleetSettings,
    machine: String,
    secret: Option<Vec<u8>>,
    fleet: Mutex<Option<Fleet>>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    views: HashMap<String, (Instant, FleetEvidence)>,
    down: Option<(Instant, String)>,
}

impl std::fmt::Debug for FleetEnricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetEnricher")
            .field("machine", &self.machine)
            .finish()
    }
}

impl FleetEnricher {
    /// Prepares the enricher (no I/O but the machine id and the secret).
    pub fn new(settings: &FleetSettings) -> Result<FleetEnricher, String> {
        Ok(FleetEnricher {
            machine: super::machine_id(settings, super::MACHINE_ID_FILES)?,
            secret: super::read_secret(settings)?,
            settings: settings.clone(),
            fleet: Mutex::new(None),
            cache: Mutex::new(Cache::default()),
        })
    }

    fn cached(&self, key: &str) -> Option<FleetEvidence> {
        let mut c = self.cache.lock().ok()?;
        if let Some((at, why)) = &c.down {
            if at.elapsed() < Duration::from_secs(RETRY_SECS) {
                return Some(FleetEvidence::Unavailable(why.clone()));
            }
            c.down = None;
        }
        match c.views.get(key) {
            Some((at, v)) if at.elapsed() < Duration::from_secs(CACHE_SECS) => Some(v.clone()),
            _ => None,
        }
    }

    fn remember(&self, key: String, v: Result<FleetEvidence, String>) {
        if let Ok(mut c) = self.cache.lock() {
            match v {
                Ok(v) => {
                    if c.views.len() >= MAX_CACHED {
                        c.views.clear();
                    }
                    c.views.insert(key, (Instant::now(), v));
                }
                Err(why) => c.down = Some((Instant::now(), why)),
            }
        }
    }

    /// The view of `key`, asking the server within what is left of the
    /// budget.
    fn ask(&self, key: &str, now: i64, started: Instant) -> Result<FleetEvidence, String> {
        // Wait for the connection, but not past the budget.
        let mut guard = loop {
            match self.fleet.try_lock() {
                Ok(g) => break g,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    if started.elapsed() >= BUDGET {
                        return Err("the fleet server is busy".into());
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        };
        if guard.is_none() {
            *guard = Some(Fleet::new(&self.settings).map_err(|e| e.to_string())?);
        }
        let left = BUDGET.saturating_sub(started.elapsed());
        let fleet = guard.as_mut().ok_or("no fleet connection")?;
        fleet
            .view(key, &self.machine, now - RECENT_SECS, left)
            .map(FleetEvidence::View)
            .map_err(|e| {
                if e.message.starts_with("no answer within")
                    || e.message.starts_with("no time left")
                {
                    format!(
                        "fleet {}: no answer within {} ms",
                        e.server,
                        BUDGET.as_millis()
                    )
                } else {
                    e.to_string()
                }
            })
    }
}

impl Enricher for FleetEnricher {
    fn wanted(&self, evidence: &Evidence, _history: &History, _first: &Verdict) -> bool {
        evidence.fleet.is_none()
    }

    fn enrich(
        &self,
        site: &Site,
        _analysis: &Analysis,
        evidence: &mut Evidence,
        now: i64,
    ) -> Result<(), String> {
        let started = Instant::now();
        let key = super::site_key(site, self.secret.as_deref());
        if let Some(v) = self.cached(&key) {
            evidence.fleet = Some(v);
            return Ok(());
        }
        let got = self.ask(&key, now, started);
        evidence.fleet = Some(match &got {
            Ok(v) => v.clone(),
            Err(why) => FleetEvidence::Unavailable(why.clone()),
        });
        self.remember(key, got);
        Ok(())
    }
}
