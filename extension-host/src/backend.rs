//! Where requests are answered. [`Backend`] is the seam: [`DirectBackend`]
//! uses the engine and the history database in-process; [`crate::relay`]
//! routes the same requests over the daemon's socket when certwatchd runs.
//!
//! Backends are shared by the host's worker threads (`&self`): the store is
//! locked per call, never during a probe.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use certwatch_engine::check::browser::{self, ProbeCache};
use certwatch_engine::check::{unix_now, CheckError, Engine, Locked};
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::Env;
use certwatch_engine::probe::Site;
use certwatch_engine::report::{ca_json, error_json};
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::{Layer, Settings};
use certwatch_engine::store::Store;
use serde_json::{json, Value};

use crate::messages::{CheckRequest, PROTOCOL_VERSION};

/// A failed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Stable kind (`store`, `connect`, `never_checked`, `config`, …).
    pub kind: String,
    /// One line.
    pub message: String,
    /// A partial result (for `check`: the `severity: unknown` object).
    pub result: Option<Value>,
}

impl Failure {
    /// A failure with no partial result.
    pub fn new(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.to_string(),
            message: message.into(),
            result: None,
        }
    }
}

/// Answers requests, from several threads at once. Results are the JSON
/// objects documented in PROTOCOL.md.
pub trait Backend: Send + Sync {
    /// `check`: a verdict shaped like `certwatch check --json`.
    fn check(&self, req: &CheckRequest) -> Result<Value, Failure>;
    /// `history`: the site's timeline, shaped like `certwatch history --json`.
    fn history(&self, site: &Site) -> Result<Value, Failure>;
    /// `accept`: accept the CA of the site's latest sighting.
    fn accept(&self, site: &Site) -> Result<Value, Failure>;
    /// `status`: versions, database, backend.
    fn status(&self) -> Result<Value, Failure>;
}

/// Environment variables the host reads (documented in PROTOCOL.md); the
/// check settings are `certwatch_engine::settings::env` (the same names as
/// for the CLI and the daemon).
pub mod env {
    pub use certwatch_engine::settings::env::*;
    /// Cap on a message from the browser, bytes.
    pub const MAX_IN: &str = "CERTWATCH_HOST_MAX_IN";
}

/// An engine and the store's change stamp it was made at.
type Stamped = (Arc<Engine>, Option<(i64, u64)>);

/// The engine and database, in-process.
pub struct DirectBackend {
    /// The engine and the store's change stamp when it last read the user's
    /// declarations (pins, acknowledged interceptors).
    engine: Mutex<Stamped>,
    paths: Paths,
    store: Mutex<Store>,
    probes: Mutex<ProbeCache>,
    builtin_roots: bool,
    /// Where the public roots were set (`status`): `builtin`, `CERTWATCH_ROOTS`, `config.toml roots`.
    roots_from: String,
    env: Box<dyn Env + Send + Sync>,
}

impl DirectBackend {
    /// Builds from config.toml and the environment (`CERTWATCH_HOME`, the
    /// settings of `certwatch_engine::settings`, proxy variables), with the
    /// same precedence as the CLI (there are no flags).
    pub fn from_env(env: Box<dyn Env + Send + Sync>) -> Result<DirectBackend, Failure> {
        let config_err = |e: String| Failure::new("config", e);
        let paths = Paths::resolve(env.as_ref(), None)
            .map_err(|e| config_err(format!("cannot locate the database: {e}")))?;
        let config = certwatch_engine::config::load(&paths.config_file()).map_err(config_err)?;
        let settings = Settings::resolve(&[
            Layer::from_config(&config),
            Layer::from_env(env.as_ref()).map_err(config_err)?,
        ]);
        let mut store = open_store(&paths)?;
        // One host serves the whole browser session: checkpoints off the
        // request path (a failure only costs speed).
        let _ = store.checkpoint_in_background(std::time::Duration::from_secs(2));
        let stamp = store.change_stamp().ok();
        let (mut engine, warnings) =
            Engine::from_settings(&settings, Some(&mut store), &paths.data_dir)
                .map_err(|e| config_err(e.to_string()))?;
        for w in warnings {
            eprintln!("certwatch-host: {}", sanitize(&w));
        }
        // Browser visits: a site's coming expiry is not the visitor's business.
        engine.expiry = None;
        Ok(DirectBackend {
            engine: Mutex::new((Arc::new(engine), stamp)),
            builtin_roots: settings.roots.is_none(),
            roots_from: match settings.roots {
                None => "builtin".into(),
                Some(_) => settings.origins.roots.name("roots"),
            },
            paths,
            store: Mutex::new(store),
            probes: Mutex::new(ProbeCache::new(
                i64::from(settings.probe_cache),
                browser::PROBE_CACHE_SITES,
            )),
            env,
        })
    }

    /// The database path.
    pub fn db_path(&self) -> PathBuf {
        self.paths.db.clone()
    }

    fn engine(&self) -> Arc<Engine> {
        self.engine
            .lock()
            .map(|e| e.0.clone())
            .unwrap_or_else(|p| p.into_inner().0.clone())
    }

    /// The engine, with the user's declarations re-read when another
    /// process changed the store (`certwatch pins add`, `accept-interceptor`
    /// take effect at the next visit, as in the daemon).
    fn current_engine(&self) -> Arc<Engine> {
        let stamp = self.store().change_stamp().ok();
        let mut slot = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some() && stamp != slot.1 {
            let mut engine = (*slot.0).clone();
            match engine.reload_user(Some(&mut self.store())) {
                Ok(()) => *slot = (Arc::new(engine), stamp),
                Err(e) => eprintln!(
                    "certwatch-host: re-reading pins and interceptors: {}",
                    sanitize(&e.to_string())
                ),
            }
        }
        slot.0.clone()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The CT log list in use (`status`): where from, its date, whether it
    /// is over 70 days old (then a `notice` says so); null when none.
    fn ct_list_status(&self, now: i64) -> Value {
        let engine = self.engine();
        let Some(ct) = &engine.ct else {
            return Value::Null;
        };
        let list = ct.lists();
        let f = list.freshness(now);
        json!({
            "sources": list.sources,
            "logs": list.len(),
            "date": f.date.map(certwatch_engine::report::rfc3339),
            "stale": f.stale,
            "notice": certwatch_engine::report::ct_list_notice(f.date, now),
        })
    }
}

fn open_store(paths: &Paths) -> Result<Store, Failure> {
    let s = Store::open(&paths.db).map_err(|e| Failure::new("store", e.to_string()))?;
    if let Some(aside) = &s.moved_aside {
        eprintln!(
            "certwatch-host: {} was not a valid database; moved it to {}",
            paths.db.display(),
            aside.display()
        );
    }
    Ok(s)
}

fn check_failure(site: &Site, now: i64, e: &CheckError) -> Failure {
    Failure {
        kind: e.kind().to_string(),
        message: e.to_string(),
        result: Some(error_json(site, now, e)),
    }
}

impl Backend for DirectBackend {
    fn check(&self, req: &CheckRequest) -> Result<Value, Failure> {
        let now = unix_now();
        let visited = browser::visit(
            &self.current_engine(),
            req,
            &self.probes,
            self.env.as_ref(),
            &mut Locked(&self.store),
            self.builtin_roots,
            now,
        )
        .map_err(|e| check_failure(&req.site, now, &e))?;
        for w in &visited.checked.warnings {
            eprintln!("certwatch-host: {}", sanitize(w));
        }
        Ok(visited.json)
    }

    fn history(&self, site: &Site) -> Result<Value, Failure> {
        let store = self.store();
        let timeline = store
            .timeline(site)
            .map_err(|e| Failure::new("store", e.to_string()))?;
        Ok(certwatch_engine::report::timeline_json(site, &timeline))
    }

    fn accept(&self, site: &Site) -> Result<Value, Failure> {
        let mut store = self.store();
        match store
            .accept_latest(site, unix_now())
            .map_err(|e| Failure::new("store", e.to_string()))?
        {
            Some(ca) => Ok(json!({"host": site.host, "port": site.port, "accepted": ca_json(&ca)})),
            None => Err(Failure::new(
                "never_checked",
                format!("{site}: never checked, nothing to accept"),
            )),
        }
    }

    fn status(&self) -> Result<Value, Failure> {
        let db = self.paths.db.display().to_string();
        let roots = self.roots_from.clone();
        let sites = self
            .store()
            .site_count()
            .map_err(|e| Failure::new("store", e.to_string()))?;
        Ok(json!({
            "host_version": certwatch_engine::VERSION,
            "protocol": PROTOCOL_VERSION,
            "backend": "direct",
            "db": db,
            "sites": sites,
            "roots": roots,
            "ct_list": self.ct_list_status(unix_now()),
        }))
    }
}
