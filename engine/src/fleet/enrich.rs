//! The fleet's consensus in the check pipeline: an [`Enricher`] that reads
//! the other machines' view of the site from the fleet server within
//! [`BUDGET`] (200 ms, waiting for the connection included) and caches it
//! for [`CACHE_SECS`]. No answer in time, or no server, is
//! `FleetEvidence::Unavailable`: no evidence, never an error; after a
//! failure the server is not asked again for [`RETRY_SECS`], so a fleet
//! down costs one 200 ms wait, not one per check. The connection is made
//! in the background when the probe starts ([`Enricher::warm`]), so the
//! budget is spent on the query, not on TCP, TLS and authentication.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
/// The most the background connection may take.
const WARM_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the fleet's view of each checked site.
pub struct FleetEnricher {
    settings: FleetSettings,
    machine: String,
    secret: Option<Vec<u8>>,
    fleet: Arc<Mutex<Option<Fleet>>>,
    cache: Mutex<Cache>,
    /// A background connection was started (again after a failure).
    warming: Arc<AtomicBool>,
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
            fleet: Arc::new(Mutex::new(None)),
            cache: Mutex::new(Cache::default()),
            warming: Arc::new(AtomicBool::new(false)),
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

    fn remember(&self, key: String, v: Result<FleetEvidence, Asked>) {
        if let Ok(mut c) = self.cache.lock() {
            match v {
                Ok(v) => {
                    if c.views.len() >= MAX_CACHED {
                        c.views.clear();
                    }
                    c.views.insert(key, (Instant::now(), v));
                }
                Err(Asked::Failed(why)) => {
                    c.down = Some((Instant::now(), why));
                    self.warming.store(false, Ordering::SeqCst);
                }
                // Still connecting in the background: ask again next time.
                Err(Asked::Busy(_)) => {}
            }
        }
    }

    /// The view of `key`, asking the server within what is left of the
    /// budget.
    fn ask(&self, key: &str, now: i64, started: Instant) -> Result<FleetEvidence, Asked> {
        // Wait for the connection, but not past the budget.
        let mut guard = loop {
            match self.fleet.try_lock() {
                Ok(g) => break g,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    if started.elapsed() >= BUDGET {
                        return Err(Asked::Busy(format!(
                            "still connecting to the fleet server after {} ms",
                            BUDGET.as_millis()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        };
        if guard.is_none() {
            *guard = Some(Fleet::new(&self.settings).map_err(|e| Asked::Failed(e.to_string()))?);
        }
        let left = BUDGET.saturating_sub(started.elapsed());
        let fleet = guard
            .as_mut()
            .ok_or_else(|| Asked::Failed("no fleet connection".into()))?;
        fleet
            .view(key, &self.machine, now - RECENT_SECS, left)
            .map(FleetEvidence::View)
            .map_err(|e| {
                Asked::Failed(
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
                    },
                )
            })
    }
}

/// Why the server gave no view.
#[derive(Debug)]
enum Asked {
    /// It failed or did not answer in time: remembered for [`RETRY_SECS`].
    Failed(String),
    /// The background connection is still being made.
    Busy(String),
}

impl Asked {
    fn why(&self) -> &str {
        match self {
            Asked::Failed(w) | Asked::Busy(w) => w,
        }
    }
}

impl Enricher for FleetEnricher {
    fn wanted(&self, evidence: &Evidence, _history: &History, _first: &Verdict) -> bool {
        evidence.fleet.is_none()
    }

    fn warm(&self) {
        if self.warming.swap(true, Ordering::SeqCst) {
            return;
        }
        let (fleet, settings) = (self.fleet.clone(), self.settings.clone());
        let spawned = std::thread::Builder::new()
            .name("fleet-connect".into())
            .spawn(move || {
                let mut guard = fleet.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    match Fleet::new(&settings) {
                        Ok(f) => *guard = Some(f),
                        Err(_) => return,
                    }
                }
                if let Some(f) = guard.as_mut() {
                    // A failure shows when the view is asked for.
                    let _ = f.connect(WARM_TIMEOUT);
                }
            });
        if spawned.is_err() {
            self.warming.store(false, Ordering::SeqCst);
        }
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
            Err(a) => FleetEvidence::Unavailable(a.why().to_string()),
        });
        self.remember(key, got);
        Ok(())
    }
}
