//! Where requests are answered. [`Backend`] is the seam: [`DirectBackend`]
//! uses the engine and the history database in-process; a daemon backend
//! can later route the same requests over the daemon's IPC socket.

use std::path::PathBuf;

use certwatch_engine::check::{analyze, unix_now, CheckError, Checked, Engine};
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::Env;
use certwatch_engine::probe::Site;
use certwatch_engine::report::{ca_json, checked_json, error_json};
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::{Layer, Settings};
use certwatch_engine::store::Store;
use serde_json::{json, Value};

use crate::compare::chain_difference;
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
    fn new(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.to_string(),
            message: message.into(),
            result: None,
        }
    }
}

/// Answers requests. Results are the JSON objects documented in PROTOCOL.md.
pub trait Backend {
    /// `check`: a verdict shaped like `certwatch check --json`.
    fn check(&mut self, req: &CheckRequest) -> Result<Value, Failure>;
    /// `history`: the site's timeline, shaped like `certwatch history --json`.
    fn history(&mut self, site: &Site) -> Result<Value, Failure>;
    /// `accept`: accept the CA of the site's latest sighting.
    fn accept(&mut self, site: &Site) -> Result<Value, Failure>;
    /// `status`: versions, database, backend.
    fn status(&mut self) -> Result<Value, Failure>;
}

/// Environment variables the host reads (documented in PROTOCOL.md); the
/// check settings are `certwatch_engine::settings::env` (the same names as
/// for the CLI and the daemon).
pub mod env {
    pub use certwatch_engine::settings::env::*;
    /// Cap on a message from the browser, bytes.
    pub const MAX_IN: &str = "CERTWATCH_HOST_MAX_IN";
}

/// The engine and database, in-process.
pub struct DirectBackend {
    engine: Engine,
    paths: Paths,
    store: Option<Store>,
    builtin_roots: bool,
    /// Where the public roots were set (`status`): `builtin`, `CERTWATCH_ROOTS`, `config.toml roots`.
    roots_from: String,
    env: Box<dyn Env>,
}

impl DirectBackend {
    /// Builds from config.toml and the environment (`CERTWATCH_HOME`, the
    /// settings of `certwatch_engine::settings`, proxy variables), with the
    /// same precedence as the CLI (there are no flags).
    pub fn from_env(env: Box<dyn Env>) -> Result<DirectBackend, Failure> {
        let config_err = |e: String| Failure::new("config", e);
        let paths = Paths::resolve(env.as_ref(), None)
            .map_err(|e| config_err(format!("cannot locate the database: {e}")))?;
        let config = certwatch_engine::config::load(&paths.config_file()).map_err(config_err)?;
        let settings = Settings::resolve(&[
            Layer::from_config(&config),
            Layer::from_env(env.as_ref()).map_err(config_err)?,
        ]);
        let mut store = open_store(&paths)?;
        let (mut engine, warnings) =
            Engine::from_settings(&settings, Some(&mut store), &paths.data_dir)
                .map_err(|e| config_err(e.to_string()))?;
        for w in warnings {
            eprintln!("certwatch-host: {}", sanitize(&w));
        }
        // Browser visits: a site's coming expiry is not the visitor's business.
        engine.expiry = None;
        Ok(DirectBackend {
            engine,
            builtin_roots: settings.roots.is_none(),
            roots_from: match settings.roots {
                None => "builtin".into(),
                Some(_) => settings.origins.roots.name("roots"),
            },
            paths,
            store: Some(store),
            env,
        })
    }

    /// The database path.
    pub fn db_path(&self) -> PathBuf {
        self.paths.db.clone()
    }

    fn store(&mut self) -> Result<&mut Store, Failure> {
        store_of(&mut self.store, &self.paths)
    }

    /// The CT log list in use (`status`): where from, its date, whether it
    /// is over 70 days old (then a `notice` says so); null when none.
    fn ct_list_status(&self, now: i64) -> Value {
        let Some(ct) = &self.engine.ct else {
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

/// The open store, opening it if a previous failure closed it.
fn store_of<'a>(slot: &'a mut Option<Store>, paths: &Paths) -> Result<&'a mut Store, Failure> {
    if slot.is_none() {
        *slot = Some(open_store(paths)?);
    }
    slot.as_mut()
        .ok_or_else(|| Failure::new("store", "database not open"))
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

fn warn(checked: &Checked) {
    for w in &checked.warnings {
        eprintln!("certwatch-host: {}", sanitize(w));
    }
}

fn check_failure(site: &Site, now: i64, e: &CheckError) -> Failure {
    Failure {
        kind: e.kind().to_string(),
        message: e.to_string(),
        result: Some(error_json(site, now, e)),
    }
}

impl Backend for DirectBackend {
    fn check(&mut self, req: &CheckRequest) -> Result<Value, Failure> {
        let site = &req.site;
        let now = unix_now();
        let fail = |e: CheckError| check_failure(site, now, &e);
        let own = self.engine.probe(site, None, self.env.as_ref());
        let Some(chain) = &req.chain else {
            // Chromium: only the host name; our own probe is the observation.
            let probed = own.map_err(fail)?;
            let p = self
                .engine
                .prepare(site, &probed.chain, Some(&probed), now)
                .map_err(fail)?;
            let store = store_of(&mut self.store, &self.paths)?;
            let checked = self.engine.finish(site, p, store, now).map_err(fail)?;
            warn(&checked);
            let mut v = checked_json(&checked);
            v["source"] = json!("probe");
            return Ok(v);
        };
        // Firefox: the browser's chain is the observation; our probe is the witness.
        let mut p = self.engine.prepare(site, chain, None, now).map_err(fail)?;
        let host_probe = match own.and_then(|p| {
            analyze(
                &p.chain,
                &site.host,
                now,
                &self.engine.classifier,
                &self.engine.ccadb,
            )
            .map(|a| (a, p))
        }) {
            Ok((own, probed)) => {
                p.evidence.browser_chain_differs = chain_difference(
                    &p.analysis.ca,
                    &own.ca,
                    req.is_builtin_root,
                    self.builtin_roots,
                );
                json!({
                    "ca": ca_json(&own.ca),
                    "trust": own.trust.kind.as_str(),
                    "leaf_sha256": own.chain.first().map(|c| c.sha256.clone()),
                    "protocol": probed.protocol,
                    "error": Value::Null,
                })
            }
            Err(e) => json!({"error": {"kind": e.kind(), "message": e.to_string()}}),
        };
        let store = store_of(&mut self.store, &self.paths)?;
        let checked = self.engine.finish(site, p, store, now).map_err(fail)?;
        warn(&checked);
        let mut v = checked_json(&checked);
        v["source"] = json!("browser");
        v["browser"] = json!({"tls_state": req.tls_state, "is_builtin_root": req.is_builtin_root});
        v["host_probe"] = host_probe;
        Ok(v)
    }

    fn history(&mut self, site: &Site) -> Result<Value, Failure> {
        let store = self.store()?;
        let timeline = store
            .timeline(site)
            .map_err(|e| Failure::new("store", e.to_string()))?;
        Ok(certwatch_engine::report::timeline_json(site, &timeline))
    }

    fn accept(&mut self, site: &Site) -> Result<Value, Failure> {
        let store = self.store()?;
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

    fn status(&mut self) -> Result<Value, Failure> {
        let db = self.paths.db.display().to_string();
        let roots = self.roots_from.clone();
        let sites = self
            .store()?
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
