//! certwatchd: the one writer of the history, the scheduler of watched
//! sites, and the source of desktop alerts.
//!
//! Shape: a tokio runtime for the socket, signals and timers; all engine and
//! SQLite work runs on blocking threads behind one `Mutex<Inner>` (rusqlite
//! is not `Send` across awaits, and one writer is the point). Probes run
//! without the lock. Shutdown is a `watch` channel: the accept loop stops,
//! in-flight requests and the running schedule pass finish (their sightings
//! are committed), then the process exits.
//!
//! IPC (documented in ARCHITECTURE.md): JSON lines on a Unix socket, mode
//! 0600 in a 0700 directory, peer uid checked; requests
//! `{"v":1,"id":…,"type":…}`, replies `{"v":1,"id":…,"ok":bool,…}`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use certwatch_engine::caa::CaaConfig;
use certwatch_engine::check::{unix_now, CheckError, Checked, Engine, EvidenceSource};
use certwatch_engine::client::{MAX_LINE, PROTOCOL_VERSION};
use certwatch_engine::config::Config;
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::{self, ProbeConfig, Site};
use certwatch_engine::schedule::parse_every;
use certwatch_engine::store::watch;
use certwatch_engine::store::Store;
use certwatch_engine::trust::{Classifier, LocalRoots};

/// Everything the blocking side needs.
pub struct Inner {
    pub(crate) store: Store,
    engine: Arc<Engine>,
    pub(crate) config: Config,
    caa: Option<CaaConfig>,
    paths: Paths,
    config_error: Option<String>,
}

/// Shared daemon state.
pub struct Shared {
    inner: Mutex<Inner>,
    wake: Notify,
    notify_failed: AtomicBool,
    started: i64,
}

fn read_roots(p: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    certwatch_engine::model::split_chain(&bytes).map_err(|e| format!("{}: {e}", p.display()))
}

fn build_engine(config: &Config, store: &mut Store, paths: &Paths) -> Result<Engine, String> {
    let public = match &config.roots {
        Some(p) => Some(read_roots(p)?),
        None => None,
    };
    let local = match &config.local_roots {
        Some(p) => LocalRoots::Given(read_roots(p)?),
        None => LocalRoots::Os,
    };
    let classifier = Classifier::new(public.as_deref(), local).map_err(|e| e.to_string())?;
    let mut evidence: Vec<Arc<dyn EvidenceSource>> =
        certwatch_engine::pins::source::standard_sources(Some(store)).map_err(|e| e.to_string())?;
    match certwatch_engine::ct::cache::load(&config.log_lists, &paths.data_dir) {
        Ok(Some(list)) => evidence.push(Arc::new(certwatch_engine::ct::CtEvidenceSource::new(
            Arc::new(list),
        ))),
        Ok(None) => {}
        Err(e) => tracing::warn!("CT log list unusable, no CT evidence: {e}"),
    }
    Ok(Engine {
        classifier: Arc::new(classifier),
        probe: ProbeConfig::default(),
        evidence,
    })
}

fn caa_config(config: &Config) -> Option<CaaConfig> {
    config.caa.then(|| CaaConfig {
        dns_server: config.dns_server.as_deref().and_then(|d| d.parse().ok()),
        ..CaaConfig::default()
    })
}

impl Inner {
    /// Opens the store and builds the engine from `config`.
    pub fn new(paths: Paths, config: Config) -> Result<Inner, String> {
        let mut store = Store::open(&paths.db).map_err(|e| e.to_string())?;
        if let Some(aside) = &store.moved_aside {
            tracing::warn!("corrupt database moved to {}", aside.display());
        }
        let engine = build_engine(&config, &mut store, &paths)?;
        Ok(Inner {
            store,
            engine: Arc::new(engine),
            caa: caa_config(&config),
            config,
            paths,
            config_error: None,
        })
    }

    /// Re-reads config.toml; on error keeps the running config.
    pub fn reload(&mut self) -> Result<(), String> {
        let file = self.paths.config_file();
        let result = certwatch_engine::config::load(&file).and_then(|c| {
            let engine = build_engine(&c, &mut self.store, &self.paths)?;
            Ok((c, engine))
        });
        match result {
            Ok((c, engine)) => {
                self.caa = caa_config(&c);
                self.config = c;
                self.engine = Arc::new(engine);
                self.config_error = None;
                let _ = self.store.log_event(unix_now(), "config", None, "reloaded");
                Ok(())
            }
            Err(e) => {
                self.config_error = Some(e.clone());
                let _ = self.store.log_event(unix_now(), "config_error", None, &e);
                Err(e)
            }
        }
    }

    fn conclude(
        &mut self,
        site: &Site,
        probed: Result<probe::Probed, CheckError>,
        now: i64,
    ) -> Result<Checked, CheckError> {
        let probed = probed?;
        let engine = self.engine.clone();
        let (analysis, mut evidence) = engine.prepare(site, &probed.chain, Some(&probed), now)?;
        // Watched sites get `expires_soon` (config `warn_days` / `crit_days`).
        evidence.expiry = Some(self.config.expiry_policy());
        if let Some(cfg) = &self.caa {
            if let Ok(h) = self.store.history(site) {
                if let Err(e) = certwatch_engine::caa::enrich(
                    &site.host,
                    &analysis,
                    &mut evidence,
                    &h,
                    now,
                    cfg,
                ) {
                    tracing::warn!("CAA for {site}: {e}");
                }
            }
        }
        engine.conclude(
            site,
            analysis,
            evidence,
            Some(&probed),
            Some(&mut self.store),
            now,
        )
    }
}

/// Probes without holding the lock.
fn probe_site(
    engine: &Engine,
    site: &Site,
    connect: Option<String>,
) -> Result<probe::Probed, CheckError> {
    let mut cfg = engine.probe.clone();
    cfg.connect_to = connect;
    cfg.proxy = probe::proxy::proxy_for(&site.host, &probe::proxy::ProcessEnv)
        .map_err(|e| CheckError::Probe(probe::ProbeError::Proxy(e.to_string())))?;
    Ok(probe::probe(site, &cfg)?)
}

impl Shared {
    /// New shared state.
    pub fn new(inner: Inner) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(inner),
            wake: Notify::new(),
            notify_failed: AtomicBool::new(false),
            started: unix_now(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug; the data is SQLite-backed, so go on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One check, with alerting (blocking).
    fn check(&self, site: &Site, connect: Option<String>) -> Result<Checked, CheckError> {
        let engine = self.lock().engine.clone();
        let probed = probe_site(&engine, site, connect);
        let now = unix_now();
        let mut inner = self.lock();
        let checked = inner.conclude(site, probed, now)?;
        crate::alert::maybe_alert(&mut inner, self, &checked);
        Ok(checked)
    }

    /// Checks every due watched site (blocking). Returns how many.
    fn run_due(&self) -> usize {
        let now = unix_now();
        let due: Vec<watch::Watch> = match watch::list(&self.lock().store) {
            Ok(l) => l.into_iter().filter(|w| w.next_due <= now).collect(),
            Err(e) => {
                tracing::error!("watch list: {e}");
                return 0;
            }
        };
        for w in &due {
            let result = self.check(&w.site, w.connect.clone());
            let err = result.as_ref().err().map(|e| e.to_string());
            match &result {
                Ok(c) => {
                    tracing::info!(site = %w.site, severity = c.verdict.severity.as_str(), "checked")
                }
                Err(e) => tracing::warn!(site = %w.site, "check failed: {e}"),
            }
            if let Err(e) =
                watch::record_check(&mut self.lock().store, w, unix_now(), err.as_deref())
            {
                tracing::error!("watch update: {e}");
            }
        }
        due.len()
    }

    fn next_due(&self) -> Option<i64> {
        watch::list(&self.lock().store)
            .ok()
            .and_then(|l| l.iter().map(|w| w.next_due).min())
    }

    /// Answers one request (blocking).
    pub fn handle(&self, req: &Value) -> Value {
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        let reply = |ok: bool, mut body: Value| {
            if let Value::Object(m) = &mut body {
                m.insert("v".into(), json!(PROTOCOL_VERSION));
                m.insert("id".into(), id.clone());
                m.insert("ok".into(), json!(ok));
            }
            body
        };
        let err = |kind: &str, msg: String| {
            reply(false, json!({"error": {"kind": kind, "message": msg}}))
        };
        if let Some(v) = req.get("v") {
            if v.as_u64() != Some(PROTOCOL_VERSION) {
                return err("version", format!("unsupported protocol version {v}"));
            }
        }
        let site = || -> Result<Site, Value> {
            let host = req.get("host").and_then(Value::as_str).unwrap_or_default();
            let port = req.get("port").and_then(Value::as_u64).unwrap_or(443);
            let port =
                u16::try_from(port).map_err(|_| err("bad_request", "port out of range".into()))?;
            Site::parse(host, port).map_err(|e| err("bad_request", e.to_string()))
        };
        let kind = req.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "status" => {
                let inner = self.lock();
                let db_bytes = std::fs::metadata(&inner.paths.db)
                    .map(|m| m.len())
                    .unwrap_or(0);
                let sites = inner.store.site_count().unwrap_or(0);
                let open = watch::open_alerts(&inner.store).unwrap_or(0);
                let watched = watch::list(&inner.store).map(|l| l.len()).unwrap_or(0);
                reply(
                    true,
                    json!({
                        "version": certwatch_engine::VERSION,
                        "pid": std::process::id(),
                        "started": certwatch_engine::report::rfc3339(self.started),
                        "db": inner.paths.db.display().to_string(),
                        "db_bytes": db_bytes,
                        "sites": sites,
                        "open_alerts": open,
                        "watched": watched,
                        "notifications": inner.config.notifications,
                        "hook": inner.config.hook,
                        "config_error": inner.config_error,
                    }),
                )
            }
            "check" => {
                let site = match site() {
                    Ok(s) => s,
                    Err(e) => return e,
                };
                let connect = req
                    .get("connect")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                match self.check(&site, connect) {
                    Ok(c) => reply(
                        true,
                        json!({"result": certwatch_engine::report::checked_json(&c)}),
                    ),
                    Err(e) => err(e.kind(), e.to_string()),
                }
            }
            "watch_add" => {
                let site = match site() {
                    Ok(s) => s,
                    Err(e) => return e,
                };
                let mut inner = self.lock();
                let every = req
                    .get("every")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| inner.config.default_every.clone());
                let every = match parse_every(&every) {
                    Ok(e) => e,
                    Err(m) => return err("bad_request", m),
                };
                let connect = req.get("connect").and_then(Value::as_str);
                let r = watch::add(&mut inner.store, &site, connect, every, unix_now());
                drop(inner);
                self.wake.notify_one();
                match r {
                    Ok(()) => reply(true, json!({})),
                    Err(e) => err("store", e.to_string()),
                }
            }
            "watch_remove" => {
                let site = match site() {
                    Ok(s) => s,
                    Err(e) => return e,
                };
                let r = watch::remove(&mut self.lock().store, &site, unix_now());
                self.wake.notify_one();
                match r {
                    Ok(removed) => reply(true, json!({"removed": removed})),
                    Err(e) => err("store", e.to_string()),
                }
            }
            "watch_changed" => {
                self.wake.notify_one();
                reply(true, json!({}))
            }
            "reload" => match self.lock().reload() {
                Ok(()) => reply(true, json!({})),
                Err(e) => err("config", e),
            },
            _ => err("unknown_type", format!("unknown request type {kind:?}")),
        }
    }
}

/// Binds the socket: a private directory, no other daemon, mode 0600.
pub fn bind(paths: &Paths) -> Result<(UnixListener, PathBuf), String> {
    certwatch_engine::paths::ensure_private_dir(&paths.runtime_dir)
        .map_err(|e| format!("{}: {e}", paths.runtime_dir.display()))?;
    let path = certwatch_engine::client::socket_path(paths);
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(format!(
                "another certwatchd is running ({})",
                path.display()
            ));
        }
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let std_listener = std::os::unix::net::UnixListener::bind(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std_listener
        .set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let l = UnixListener::from_std(std_listener).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((l, path))
}

/// Serves until `shutdown` flips to true.
pub async fn run(
    shared: Arc<Shared>,
    listener: UnixListener,
    socket: PathBuf,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    use std::os::unix::fs::MetadataExt;
    let own_uid = std::fs::metadata(&socket).map(|m| m.uid()).ok();
    let mut tasks = tokio::task::JoinSet::new();
    {
        let shared = shared.clone();
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move { scheduler(shared, &mut shutdown).await });
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let peer = stream.peer_cred().ok().map(|c| c.uid());
                let shared = shared.clone();
                let allowed = own_uid.is_some() && peer == own_uid;
                let stop = shutdown.clone();
                tasks.spawn(async move { connection(shared, stream, allowed, peer, stop).await });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tracing::info!("shutting down: finishing in-flight work");
    let _ = std::fs::remove_file(&socket);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .is_err()
    {
        tracing::warn!("in-flight work did not finish in 30 s");
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: UnixStream,
    allowed: bool,
    peer: Option<u32>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (read, mut write) = stream.into_split();
    if !allowed {
        tracing::warn!("refused a connection from uid {peer:?}");
        let line = json!({"v": PROTOCOL_VERSION, "ok": false, "error": {"kind": "forbidden", "message": "this socket serves only its owner"}});
        let _ = write.write_all(format!("{line}\n").as_bytes()).await;
        return;
    }
    let mut lines = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let mut limited = (&mut lines).take(MAX_LINE as u64 + 1);
        // An idle connection does not hold up shutdown; a request in flight does.
        tokio::select! {
            r = limited.read_until(b'\n', &mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = stop.changed() => return,
        }
        let reply = if buf.len() > MAX_LINE {
            json!({"v": PROTOCOL_VERSION, "ok": false, "error": {"kind": "too_large", "message": format!("request over {MAX_LINE} bytes")}})
        } else {
            match serde_json::from_slice::<Value>(&buf) {
                Ok(req) if req.is_object() => {
                    let shared = shared.clone();
                    tokio::task::spawn_blocking(move || shared.handle(&req))
                        .await
                        .unwrap_or_else(|_| json!({"v": PROTOCOL_VERSION, "ok": false, "error": {"kind": "internal", "message": "request failed"}}))
                }
                _ => {
                    json!({"v": PROTOCOL_VERSION, "ok": false, "error": {"kind": "bad_json", "message": "each request is one JSON object per line"}})
                }
            }
        };
        if write
            .write_all(format!("{reply}\n").as_bytes())
            .await
            .is_err()
        {
            return;
        }
        if buf.len() > MAX_LINE {
            return;
        }
    }
}

/// Sleeps until the earliest due watch (no wake-ups when nothing is due),
/// or until woken by an IPC change, then checks what is due.
async fn scheduler(shared: Arc<Shared>, shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        let s = shared.clone();
        let next = tokio::task::spawn_blocking(move || s.next_due())
            .await
            .ok()
            .flatten();
        let sleep = async {
            match next {
                Some(t) => {
                    let wait = (t - unix_now()).max(0) as u64;
                    tokio::time::sleep(Duration::from_secs(wait)).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = shared.wake.notified() => continue,
            _ = sleep => {
                let s = shared.clone();
                let _ = tokio::task::spawn_blocking(move || s.run_due()).await;
            }
        }
    }
}

/// Whether desktop notifications failed already (logged once).
pub fn note_notify_failure(shared: &Shared, e: &str) {
    if !shared.notify_failed.swap(true, Ordering::SeqCst) {
        tracing::warn!("desktop notification failed (alerts are still stored): {e}");
    }
}
