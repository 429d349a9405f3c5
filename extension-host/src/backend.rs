//! Where requests are answered. [`Backend`] is the seam: [`DirectBackend`]
//! uses the engine and the history database in-process; a daemon backend
//! can later route the same requests over the daemon's IPC socket.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use certwatch_engine::caa::{self, CaaConfig};
use certwatch_engine::check::{analyze, unix_now, Analysis, CheckError, Engine};
use certwatch_engine::model::split_chain;
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::{proxy_for, Env};
use certwatch_engine::probe::{self, ProbeConfig, ProbeError, Site};
use certwatch_engine::report::{ca_json, checked_json, error_json};
use certwatch_engine::store::Store;
use certwatch_engine::trust::{Classifier, LocalRoots};
use certwatch_engine::verdict::Evidence;
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

/// Environment variables the host reads (documented in PROTOCOL.md).
pub mod env {
    /// PEM file of public roots replacing the built-in Mozilla set (like `--roots`).
    pub const ROOTS: &str = "CERTWATCH_ROOTS";
    /// PEM file of local roots replacing the OS store (like `--local-roots`).
    pub const LOCAL_ROOTS: &str = "CERTWATCH_LOCAL_ROOTS";
    /// Cap on a message from the browser, bytes.
    pub const MAX_IN: &str = "CERTWATCH_HOST_MAX_IN";
    /// `1`: no CAA look-ups (as `certwatch check --no-caa`).
    pub const NO_CAA: &str = "CERTWATCH_NO_CAA";
}

/// The engine and database, in-process.
pub struct DirectBackend {
    engine: Engine,
    paths: Paths,
    store: Option<Store>,
    builtin_roots: bool,
    caa: Option<CaaConfig>,
    env: Box<dyn Env>,
}

fn read_pem(var: &str, path: &str) -> Result<Vec<Vec<u8>>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::new("config", format!("{var}={path}: cannot read: {e}")))?;
    // An empty file means "no roots" (as the CLI's --roots/--local-roots).
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    split_chain(&bytes).map_err(|e| Failure::new("config", format!("{var}={path}: {e}")))
}

impl DirectBackend {
    /// Builds from the environment: `CERTWATCH_HOME` (as the CLI),
    /// `CERTWATCH_ROOTS`, `CERTWATCH_LOCAL_ROOTS`, proxy variables.
    pub fn from_env(env: Box<dyn Env>) -> Result<DirectBackend, Failure> {
        let paths = Paths::resolve(env.as_ref(), None)
            .map_err(|e| Failure::new("config", format!("cannot locate the database: {e}")))?;
        let public = match env.var(env::ROOTS) {
            Some(p) => Some(read_pem(env::ROOTS, &p)?),
            None => None,
        };
        let local = match env.var(env::LOCAL_ROOTS) {
            Some(p) => LocalRoots::Given(read_pem(env::LOCAL_ROOTS, &p)?),
            None => LocalRoots::Os,
        };
        let builtin_roots = public.is_none();
        let classifier = Classifier::new(public.as_deref(), local)
            .map_err(|e| Failure::new("config", format!("{}: {e}", env::ROOTS)))?;
        let caa = match env.var(env::NO_CAA).as_deref() {
            Some("1") | Some("true") | Some("yes") => None,
            _ => Some(CaaConfig::default()),
        };
        let mut b = DirectBackend {
            engine: Engine {
                classifier: Arc::new(classifier),
                probe: ProbeConfig {
                    connect_timeout: Duration::from_secs(5),
                    handshake_timeout: Duration::from_secs(10),
                    connect_to: None,
                    proxy: None,
                },
                evidence: Vec::new(),
            },
            paths,
            store: None,
            builtin_roots,
            caa,
            env,
        };
        // The same evidence sources as `certwatch check`: pins (shipped +
        // the user's) and interceptor naming (with acknowledged roots).
        let store = b.store()?;
        b.engine.evidence = certwatch_engine::pins::source::standard_sources(Some(store))
            .map_err(|e| Failure::new("store", e.to_string()))?;
        // And CT, from the cached (signature-verified) log list when there is one.
        if let Ok(Some(list)) = certwatch_engine::ct::cache::load(&[], &b.paths.data_dir) {
            b.engine.evidence.push(std::sync::Arc::new(
                certwatch_engine::ct::CtEvidenceSource::new(std::sync::Arc::new(list)),
            ));
        }
        Ok(b)
    }

    /// CAA evidence after a first judgement, as `certwatch check` does.
    fn add_caa(&mut self, site: &Site, analysis: &Analysis, evidence: &mut Evidence, now: i64) {
        let Some(cfg) = self.caa.clone() else { return };
        let history = match self.store.as_ref().map(|s| s.history(site)) {
            Some(Ok(h)) => h,
            _ => return,
        };
        if let Err(e) = caa::enrich(&site.host, analysis, evidence, &history, now, &cfg) {
            eprintln!(
                "certwatch-host: {}",
                certwatch_engine::sanitize::sanitize(&e.to_string())
            );
        }
    }

    /// The database path.
    pub fn db_path(&self) -> PathBuf {
        self.paths.db.clone()
    }

    fn store(&mut self) -> Result<&mut Store, Failure> {
        if self.store.is_none() {
            let s =
                Store::open(&self.paths.db).map_err(|e| Failure::new("store", e.to_string()))?;
            if let Some(aside) = &s.moved_aside {
                eprintln!(
                    "certwatch-host: {} was not a valid database; moved it to {}",
                    self.paths.db.display(),
                    aside.display()
                );
            }
            self.store = Some(s);
        }
        self.store
            .as_mut()
            .ok_or_else(|| Failure::new("store", "database not open"))
    }

    fn probe_cfg(&self, site: &Site) -> Result<ProbeConfig, ProbeError> {
        let mut cfg = self.engine.probe.clone();
        cfg.proxy = proxy_for(&site.host, self.env.as_ref())
            .map_err(|e| ProbeError::Proxy(e.to_string()))?;
        Ok(cfg)
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
        let own = self
            .probe_cfg(site)
            .and_then(|cfg| probe::probe(site, &cfg));
        let Some(chain) = &req.chain else {
            // Chromium: only the host name; our own probe is the observation.
            let probed = own.map_err(|e| fail(e.into()))?;
            let (analysis, mut evidence) = self
                .engine
                .prepare(site, &probed.chain, Some(&probed), now)
                .map_err(fail)?;
            self.store()?;
            self.add_caa(site, &analysis, &mut evidence, now);
            let checked = self
                .engine
                .conclude(
                    site,
                    analysis,
                    evidence,
                    Some(&probed),
                    self.store.as_mut(),
                    now,
                )
                .map_err(fail)?;
            let mut v = checked_json(&checked);
            v["source"] = json!("probe");
            return Ok(v);
        };
        // Firefox: the browser's chain is the observation; our probe is the witness.
        let (analysis, mut evidence) = self.engine.prepare(site, chain, None, now).map_err(fail)?;
        let host_probe = match own.map_err(CheckError::from).and_then(|p| {
            analyze(&p.chain, &site.host, now, &self.engine.classifier).map(|a| (a, p))
        }) {
            Ok((own, p)) => {
                evidence.browser_chain_differs = chain_difference(
                    &analysis.ca,
                    &own.ca,
                    req.is_builtin_root,
                    self.builtin_roots,
                );
                json!({
                    "ca": ca_json(&own.ca),
                    "trust": own.trust.kind.as_str(),
                    "leaf_sha256": own.chain.first().map(|c| c.sha256.clone()),
                    "protocol": p.protocol,
                    "error": Value::Null,
                })
            }
            Err(e) => json!({"error": {"kind": e.kind(), "message": e.to_string()}}),
        };
        self.store()?;
        self.add_caa(site, &analysis, &mut evidence, now);
        let checked = self
            .engine
            .conclude(site, analysis, evidence, None, self.store.as_mut(), now)
            .map_err(fail)?;
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
        let builtin = self.builtin_roots;
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
            "roots": if builtin { "builtin" } else { env::ROOTS },
        }))
    }
}
