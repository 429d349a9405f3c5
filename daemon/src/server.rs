//! certwatchd: the one writer of the history, the scheduler of watched
//! sites, and the source of desktop alerts.
//!
//! Shape: a tokio runtime for the socket, signals and timers; engine and
//! SQLite work runs on blocking threads. Shared state is one `Mutex<Inner>`
//! (the store, the engine, the config), held only for local work: reading
//! a history, recording a sighting, storing an alert. Probes, CAA look-ups,
//! desktop notifications and the alert hook run with it released (the
//! engine's [`Locked`] recorder over [`StoreLock`] takes the lock per call). Before
//! each check the engine re-reads the user's pins and acknowledged
//! interceptors when the store changed (another process committed), so the
//! CLI's `pins add` / `accept-interceptor` take effect at once. Shutdown is
//! a `watch` channel: the accept loop stops, in-flight requests and the
//! running schedule pass finish (their sightings are committed), then the
//! process exits.
//!
//! IPC: JSON lines on a Unix socket, mode 0600 in a 0700 directory, peer uid
//! checked; requests and replies are the typed [`Request`] / [`Reply`] of
//! `certwatch_engine::client`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use certwatch_engine::check::browser::{ProbeCache, PROBE_CACHE_SITES};
use certwatch_engine::check::{unix_now, CheckError, Checked, Engine, Locked, StoreLock};
use certwatch_engine::client::{Body, DaemonStatus, Reply, Request, MAX_LINE, PROTOCOL_VERSION};
use certwatch_engine::config::Config;
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::probe::Site;
use certwatch_engine::schedule::parse_every;
use certwatch_engine::settings::{Layer, Settings};
use certwatch_engine::store::{watch, Store};

/// Everything the blocking side needs.
pub struct Inner {
    pub(crate) store: Store,
    pub(crate) engine: Arc<Engine>,
    /// The store's change stamp when the engine last read the user's declarations.
    stamp: Option<(i64, u64)>,
    pub(crate) config: Config,
    pub(crate) paths: Paths,
    config_error: Option<String>,
    /// What browser visits need of the config, resolved once per (re)load.
    pub(crate) browsing: crate::hub::Browsing,
}

/// Shared daemon state.
pub struct Shared {
    inner: Mutex<Inner>,
    pub(crate) wake: Notify,
    /// Wakes the CT watcher (a watch changed).
    pub(crate) ct_wake: Notify,
    /// Recent probes of sites the browser visited (see `check::browser`).
    pub(crate) probes: Mutex<ProbeCache>,
    /// Re-checks of sites the browser found suspicious.
    pub(crate) rechecks: Mutex<crate::hub::Rechecks>,
    /// Latest results of watched sites, for `metrics_textfile`.
    pub(crate) metrics: Mutex<crate::metrics::Latest>,
    pub(crate) notify_failed: AtomicBool,
    started: i64,
}

/// The daemon's settings: config.toml < environment (a daemon has no flags).
pub(crate) fn settings(config: &Config) -> Result<Settings, String> {
    let env = Layer::from_env(&ProcessEnv)?;
    Ok(Settings::resolve(&[Layer::from_config(config), env]))
}

/// The daemon's engine, from [`settings`].
fn build_engine(config: &Config, store: &mut Store, paths: &Paths) -> Result<Engine, String> {
    let settings = settings(config)?;
    let (engine, warnings) = Engine::from_settings(&settings, Some(store), &paths.data_dir)
        .map_err(|e| e.to_string())?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(engine)
}

impl Inner {
    /// Opens the store and builds the engine from `config`.
    pub fn new(paths: Paths, config: Config) -> Result<Inner, String> {
        let mut store = Store::open(&paths.db).map_err(|e| e.to_string())?;
        if let Some(aside) = &store.moved_aside {
            tracing::warn!("corrupt database moved to {}", aside.display());
        }
        if let Err(e) = store.checkpoint_in_background(Duration::from_secs(2)) {
            tracing::warn!("{e}");
        }
        let engine = build_engine(&config, &mut store, &paths)?;
        let stamp = store.change_stamp().ok();
        Ok(Inner {
            store,
            engine: Arc::new(engine),
            stamp,
            browsing: crate::hub::Browsing::of(&config),
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
                self.browsing = crate::hub::Browsing::of(&c);
                self.config = c;
                self.engine = Arc::new(engine);
                self.stamp = self.store.change_stamp().ok();
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

    /// The data paths.
    pub(crate) fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The settings the engine was built from (config.toml < environment).
    pub(crate) fn settings(&self) -> Result<Settings, String> {
        settings(&self.config)
    }

    /// Swaps in a new CCADB table; checks in flight keep the old one.
    pub(crate) fn replace_ccadb(&mut self, table: Arc<certwatch_engine::ccadb::Table>) {
        let mut engine = (*self.engine).clone();
        engine.ccadb = table;
        self.engine = Arc::new(engine);
    }

    /// Rebuilds the engine from the running config (after the CT refresh
    /// installed a list where none was in use).
    pub(crate) fn rebuild_engine(&mut self) -> Result<(), String> {
        let engine = build_engine(&self.config, &mut self.store, &self.paths)?;
        self.engine = Arc::new(engine);
        self.stamp = self.store.change_stamp().ok();
        Ok(())
    }

    /// The engine, with the user's declarations re-read when another
    /// process changed the store since the last check (local work only).
    pub(crate) fn current_engine(&mut self) -> Arc<Engine> {
        let stamp = self.store.change_stamp().ok();
        if stamp.is_some() && stamp != self.stamp {
            let mut engine = (*self.engine).clone();
            match engine.reload_user(Some(&mut self.store)) {
                Ok(()) => {
                    self.engine = Arc::new(engine);
                    self.stamp = stamp;
                }
                Err(e) => tracing::warn!("re-reading pins and interceptors: {e}"),
            }
        }
        self.engine.clone()
    }
}

/// The daemon's store for the engine's [`Locked`] recorder: the shared
/// state is locked for each call only.
impl StoreLock for Shared {
    fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.lock().store)
    }
}

impl Shared {
    /// New shared state.
    pub fn new(inner: Inner) -> Arc<Shared> {
        let probes = ProbeCache::new(inner.browsing.probe_ttl, PROBE_CACHE_SITES);
        Arc::new(Shared {
            inner: Mutex::new(inner),
            wake: Notify::new(),
            ct_wake: Notify::new(),
            probes: Mutex::new(probes),
            rechecks: Mutex::new(crate::hub::Rechecks::default()),
            metrics: Mutex::default(),
            notify_failed: AtomicBool::new(false),
            started: unix_now(),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock would be a bug; the data is SQLite-backed, so go on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One check, with alerting (blocking). The lock is taken only for the
    /// engine snapshot, the history, the record and the alert's row.
    pub(crate) fn check(&self, site: &Site, connect: Option<&str>) -> Result<Checked, CheckError> {
        self.check_and(site, connect, true)
    }

    /// One check; `alert`: raise an alert for a warning or critical verdict.
    pub(crate) fn check_and(
        &self,
        site: &Site,
        connect: Option<&str>,
        alert: bool,
    ) -> Result<Checked, CheckError> {
        let engine = self.lock().current_engine();
        // This check sees the site anew: the browser's next visit probes too.
        if let Ok(mut p) = self.probes.lock() {
            p.invalidate(site);
        }
        let checked = engine.observe(site, connect, &ProcessEnv, &mut Locked(self), unix_now())?;
        for w in &checked.warnings {
            tracing::warn!("{site}: {w}");
        }
        if alert {
            crate::alert::maybe_alert(self, &checked);
        }
        Ok(checked)
    }

    /// Re-reads config.toml (IPC `reload`, SIGHUP).
    pub fn reload(&self) -> Result<(), String> {
        let mut inner = self.lock();
        inner.reload()?;
        if let Ok(mut p) = self.probes.lock() {
            p.set_ttl(inner.browsing.probe_ttl);
        }
        Ok(())
    }

    /// Checks every due watched site (blocking). Returns how many.
    pub(crate) fn run_due(&self) -> usize {
        let now = unix_now();
        let due: Vec<watch::Watch> = match watch::list(&self.lock().store) {
            Ok(l) => l.into_iter().filter(|w| w.next_due <= now).collect(),
            Err(e) => {
                tracing::error!("watch list: {e}");
                return 0;
            }
        };
        for w in &due {
            let result = self.check(&w.site, w.connect.as_deref());
            self.note_metrics(&w.site, unix_now(), &result);
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
        self.write_metrics();
        due.len()
    }

    pub(crate) fn next_due(&self) -> Option<i64> {
        let watched = watch::list(&self.lock().store)
            .ok()
            .and_then(|l| l.iter().map(|w| w.next_due).min());
        [watched, self.next_recheck()].into_iter().flatten().min()
    }

    /// A watch changed: wake the scheduler and the CT watcher.
    fn poke(&self) {
        self.wake.notify_one();
        self.ct_wake.notify_one();
    }

    /// Answers one request line's JSON object (blocking).
    pub fn handle(&self, req: &Value) -> Reply {
        let id = req.get("id").cloned().unwrap_or(Value::Null);
        if let Some(v) = req.get("v") {
            if v.as_u64() != Some(PROTOCOL_VERSION) {
                return Reply::err(id, "version", format!("unsupported protocol version {v}"));
            }
        }
        let kind = req.get("type").and_then(Value::as_str).unwrap_or_default();
        if !Request::TYPES.contains(&kind) {
            return Reply::err(id, "unknown_type", format!("unknown request type {kind:?}"));
        }
        let mut fields = req.clone();
        if let Value::Object(m) = &mut fields {
            m.remove("v");
            m.remove("id");
        }
        match serde_json::from_value::<Request>(fields) {
            Ok(r) => self.answer(id, r),
            Err(e) => Reply::err(id, "bad_request", format!("{kind}: {e}")),
        }
    }

    fn answer(&self, id: Value, req: Request) -> Reply {
        let site = |host: &str, port: u16| Site::parse(host, port).map_err(|e| e.to_string());
        match req {
            Request::Status => {
                let inner = self.lock();
                let status = DaemonStatus {
                    version: certwatch_engine::VERSION.to_string(),
                    pid: std::process::id(),
                    started: certwatch_engine::report::rfc3339(self.started),
                    db: inner.paths.db.display().to_string(),
                    db_bytes: std::fs::metadata(&inner.paths.db)
                        .map(|m| m.len())
                        .unwrap_or(0),
                    sites: inner.store.site_count().unwrap_or(0),
                    open_alerts: watch::open_alerts(&inner.store).unwrap_or(0),
                    watched: watch::list(&inner.store).map(|l| l.len()).unwrap_or(0),
                    notifications: inner.config.notifications,
                    hook: inner.config.hook.clone(),
                    config_error: inner.config_error.clone(),
                    rechecks: self.rechecks_pending(),
                };
                Reply::ok(id, Body::Status(Box::new(status)))
            }
            Request::Check {
                host,
                port,
                connect,
            } => {
                let site = match site(&host, port) {
                    Ok(s) => s,
                    Err(e) => return Reply::err(id, "bad_request", e),
                };
                match self.check(&site, connect.as_deref()) {
                    Ok(c) => Reply::ok(
                        id,
                        Body::Checked {
                            result: certwatch_engine::report::checked_json(&c),
                        },
                    ),
                    Err(e) => Reply::err(id, e.kind(), e.to_string()),
                }
            }
            Request::WatchAdd {
                host,
                port,
                every,
                connect,
            } => {
                let site = match site(&host, port) {
                    Ok(s) => s,
                    Err(e) => return Reply::err(id, "bad_request", e),
                };
                let mut inner = self.lock();
                let every = every.unwrap_or_else(|| inner.config.default_every.clone());
                let every = match parse_every(&every) {
                    Ok(e) => e,
                    Err(m) => return Reply::err(id, "bad_request", m),
                };
                let r = watch::add(
                    &mut inner.store,
                    &site,
                    connect.as_deref(),
                    every,
                    unix_now(),
                );
                drop(inner);
                self.poke();
                match r {
                    Ok(()) => Reply::ok(id, Body::Done {}),
                    Err(e) => Reply::err(id, "store", e.to_string()),
                }
            }
            Request::WatchRemove { host, port } => {
                let site = match site(&host, port) {
                    Ok(s) => s,
                    Err(e) => return Reply::err(id, "bad_request", e),
                };
                let r = watch::remove(&mut self.lock().store, &site, unix_now());
                self.poke();
                match r {
                    Ok(removed) => Reply::ok(id, Body::Removed { removed }),
                    Err(e) => Reply::err(id, "store", e.to_string()),
                }
            }
            Request::WatchChanged => {
                self.poke();
                Reply::ok(id, Body::Done {})
            }
            Request::Reload => match self.reload() {
                Ok(()) => Reply::ok(id, Body::Done {}),
                Err(e) => Reply::err(id, "config", e),
            },
            Request::BrowserCheck {
                host,
                port,
                chain,
                tls_state,
                is_builtin_root,
                ip,
            } => crate::hub::reply(
                id,
                site(&host, port)
                    .map_err(|e| ("bad_request".into(), e))
                    .and_then(|s| self.browser_check(s, chain, tls_state, is_builtin_root, ip)),
            ),
            Request::History { host, port } => crate::hub::reply(
                id,
                site(&host, port)
                    .map_err(|e| ("bad_request".into(), e))
                    .and_then(|s| self.history(&s)),
            ),
            Request::Accept { host, port } => crate::hub::reply(
                id,
                site(&host, port)
                    .map_err(|e| ("bad_request".into(), e))
                    .and_then(|s| self.accept(&s)),
            ),
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
    certwatch_engine::paths::tighten(&path, 0o600)
        .map_err(|e| format!("{}: {e}", path.display()))?;
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
    crate::tasks::spawn_background(&mut tasks, &shared, &shutdown);
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
        let line = Reply::err(
            Value::Null,
            "forbidden",
            "this socket serves only its owner",
        );
        let _ = write
            .write_all(format!("{}\n", line.to_line()).as_bytes())
            .await;
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
            Reply::err(
                Value::Null,
                "too_large",
                format!("request over {MAX_LINE} bytes"),
            )
        } else {
            match serde_json::from_slice::<Value>(&buf) {
                Ok(req) if req.is_object() => {
                    let shared = shared.clone();
                    tokio::task::spawn_blocking(move || shared.handle(&req))
                        .await
                        .unwrap_or_else(|_| Reply::err(Value::Null, "internal", "request failed"))
                }
                _ => Reply::err(
                    Value::Null,
                    "bad_json",
                    "each request is one JSON object per line",
                ),
            }
        };
        if write
            .write_all(format!("{}\n", reply.to_line()).as_bytes())
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
