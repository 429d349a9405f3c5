//! The daemon as the hub: when certwatchd runs, the host relays every
//! request over the daemon's socket, so the daemon is the one writer of the
//! history and raises the alerts (desktop notification, hook, audit event)
//! for what the browser found. When no daemon answers, the host works
//! directly ([`DirectBackend`], built at the first such request) and says
//! so in `status`. Each request tries the daemon first, so a daemon started
//! later takes over without restarting the browser; a connection that broke
//! (the daemon restarted) is retried once on a fresh one.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use certwatch_engine::check::browser::encode_chain;
use certwatch_engine::check::unix_now;
use certwatch_engine::client::{self, Client, Request as Ipc};
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::Site;
use certwatch_engine::report::unknown_json;
use serde_json::{json, Value};

use crate::backend::{Backend, DirectBackend, Failure};
use crate::messages::{CheckRequest, PROTOCOL_VERSION};

type MakeDirect = Box<dyn Fn() -> Result<DirectBackend, Failure> + Send + Sync>;

/// Daemon when it answers, else direct.
pub struct Router {
    socket: PathBuf,
    idle: Mutex<Vec<Client>>,
    direct: OnceLock<Result<DirectBackend, Failure>>,
    make_direct: MakeDirect,
}

/// What a relayed request came to.
enum Relayed {
    /// The daemon answered (its result or its refusal).
    Answered(Result<Value, Failure>),
    /// No daemon, or it went away: work directly.
    NoDaemon,
}

impl Router {
    /// Relays to the daemon of `paths`; `make_direct` builds the in-process
    /// backend when no daemon answers.
    pub fn new(paths: &Paths, make_direct: MakeDirect) -> Router {
        Router {
            socket: client::socket_path(paths),
            idle: Mutex::new(Vec::new()),
            direct: OnceLock::new(),
            make_direct,
        }
    }

    fn direct(&self) -> Result<&DirectBackend, Failure> {
        self.direct
            .get_or_init(|| (self.make_direct)())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `req` to the daemon: an idle connection, else a new one; a
    /// transport failure on a reused connection is retried once on a new one.
    fn relay(&self, req: &Ipc) -> Relayed {
        let Ok(line) = serde_json::to_value(req) else {
            return Relayed::NoDaemon;
        };
        let reused = self.idle().pop();
        let fresh = reused.is_none();
        let mut conn = match reused.or_else(|| Client::connect_to(&self.socket)) {
            Some(c) => c,
            None => return Relayed::NoDaemon,
        };
        let reply = match conn.request(line.clone()) {
            Ok(r) => r,
            Err(_) if !fresh => {
                let Some(mut c) = Client::connect_to(&self.socket) else {
                    return Relayed::NoDaemon;
                };
                match c.request(line) {
                    Ok(r) => {
                        conn = c;
                        r
                    }
                    Err(_) => return Relayed::NoDaemon,
                }
            }
            Err(_) => return Relayed::NoDaemon,
        };
        self.idle().push(conn);
        Relayed::Answered(answer(&reply))
    }

    fn route(
        &self,
        req: Ipc,
        direct: impl FnOnce(&DirectBackend) -> Result<Value, Failure>,
    ) -> Result<Value, Failure> {
        match self.relay(&req) {
            Relayed::Answered(r) => r,
            Relayed::NoDaemon => direct(self.direct()?),
        }
    }
}

/// A daemon reply → the host's result: its `result`, or the reply's own
/// fields (`status`).
fn answer(reply: &Value) -> Result<Value, Failure> {
    if reply.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| reply.clone()));
    }
    let err = reply.get("error");
    let field = |k: &str| {
        err.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or("daemon")
            .to_string()
    };
    Err(Failure::new(
        &field("kind"),
        format!("certwatchd: {}", field("message")),
    ))
}

/// The `severity: unknown` object of a failed relayed check.
fn unknown(site: &Site, f: Failure) -> Failure {
    Failure {
        result: Some(unknown_json(site, unix_now(), &f.kind, &f.message)),
        ..f
    }
}

impl Backend for Router {
    fn check(&self, req: &CheckRequest) -> Result<Value, Failure> {
        let site = &req.site;
        let ipc = Ipc::BrowserCheck {
            host: site.host.clone(),
            port: site.port,
            chain: req.chain.as_deref().map(encode_chain),
            tls_state: req.tls_state.clone(),
            is_builtin_root: req.is_builtin_root,
            ip: req.ip,
        };
        match self.relay(&ipc) {
            Relayed::Answered(r) => {
                let mut v = r.map_err(|f| unknown(site, f))?;
                v["backend"] = json!("daemon");
                Ok(v)
            }
            Relayed::NoDaemon => {
                let mut v = self.direct()?.check(req)?;
                v["backend"] = json!("direct");
                Ok(v)
            }
        }
    }

    fn history(&self, site: &Site) -> Result<Value, Failure> {
        let ipc = Ipc::History {
            host: site.host.clone(),
            port: site.port,
        };
        self.route(ipc, |d| d.history(site))
    }

    fn accept(&self, site: &Site) -> Result<Value, Failure> {
        let ipc = Ipc::Accept {
            host: site.host.clone(),
            port: site.port,
        };
        self.route(ipc, |d| d.accept(site))
    }

    fn status(&self) -> Result<Value, Failure> {
        let socket = self.socket.display().to_string();
        if let Relayed::Answered(r) = self.relay(&Ipc::Status) {
            let d = r?;
            return Ok(json!({
                "host_version": certwatch_engine::VERSION,
                "protocol": PROTOCOL_VERSION,
                "backend": "daemon",
                "db": d.get("db"),
                "sites": d.get("sites"),
                "daemon": {
                    "running": true,
                    "socket": socket,
                    "version": d.get("version"),
                    "pid": d.get("pid"),
                    "open_alerts": d.get("open_alerts"),
                    "notifications": d.get("notifications"),
                },
            }));
        }
        let mut v = self.direct()?.status()?;
        v["daemon"] = json!({
            "running": false,
            "socket": socket,
            "note": "certwatchd is not running: the host checks and records sites itself, and no desktop alert is raised",
        });
        Ok(v)
    }
}
