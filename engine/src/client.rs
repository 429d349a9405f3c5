//! The daemon's IPC protocol and a blocking client of its socket (no async
//! runtime), used by the CLI and the native host. A missing socket costs one
//! failed `connect(2)`.
//!
//! Wire format: one JSON object per line. A request is
//! `{"v":1,"id":…,"type":…, …fields}` ([`Request`], tagged by `type`); a
//! reply is `{"v":1,"id":…,"ok":bool, …}` ([`Reply`]): on failure an
//! `error: {kind, message}`, on success the fields of its [`Body`]. The
//! server (`certwatchd::server`) and this client share these types.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::paths::Paths;

/// The socket's file name.
pub const SOCKET_NAME: &str = "certwatchd.sock";
/// The protocol version spoken.
pub const PROTOCOL_VERSION: u64 = 1;
/// Longest request or reply line.
pub const MAX_LINE: usize = 1024 * 1024;

/// Where the daemon listens.
pub fn socket_path(paths: &Paths) -> PathBuf {
    paths.runtime_dir.join(SOCKET_NAME)
}

fn default_port() -> u16 {
    443
}

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Version, database, counts.
    Status,
    /// Check a site now (and alert as a watched check would).
    Check {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
        /// Connect here instead (`ADDR:PORT`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connect: Option<String>,
    },
    /// Watch a site.
    WatchAdd {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
        /// Interval like `6h` (default: config `default_every`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        every: Option<String>,
        /// Connect here instead (`ADDR:PORT`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connect: Option<String>,
    },
    /// Stop watching a site.
    WatchRemove {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
    },
    /// The watch list changed in the database: re-plan the schedule.
    WatchChanged,
    /// Re-read config.toml (as SIGHUP).
    Reload,
    /// A page load the browser companion saw, relayed by the native host:
    /// judged and recorded like the host's own `check`, alerted like a
    /// watched site, and re-checked later when suspicious.
    BrowserCheck {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
        /// The chain the browser received, base64 DER, leaf first (Firefox).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain: Option<Vec<String>>,
        /// The browser's TLS state.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tls_state: Option<String>,
        /// Whether the browser considers the chain's root built in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_builtin_root: Option<bool>,
        /// The server address the browser's request went to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<std::net::IpAddr>,
    },
    /// A site's timeline (`certwatch history --json`'s shape).
    History {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
    },
    /// Accept the CA of a site's latest sighting.
    Accept {
        /// Host name or IP literal.
        host: String,
        /// Port.
        #[serde(default = "default_port")]
        port: u16,
    },
}

impl Request {
    /// Every `type` this protocol version knows.
    pub const TYPES: &'static [&'static str] = &[
        "status",
        "check",
        "watch_add",
        "watch_remove",
        "watch_changed",
        "reload",
        "browser_check",
        "history",
        "accept",
    ];
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpcError {
    /// Stable kind (`bad_request`, `unknown_type`, `version`, `store`, a check error kind…).
    pub kind: String,
    /// One line.
    pub message: String,
}

/// The daemon's `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// certwatchd's version.
    pub version: String,
    /// Its process id.
    pub pid: u32,
    /// When it started (RFC 3339).
    pub started: String,
    /// Its database.
    pub db: String,
    /// Database size.
    pub db_bytes: u64,
    /// Sites known.
    pub sites: i64,
    /// Open alerts.
    pub open_alerts: i64,
    /// Watched sites.
    pub watched: usize,
    /// Desktop notifications on.
    pub notifications: bool,
    /// The alert hook's argv.
    pub hook: Vec<String>,
    /// The last config.toml error (the previous config stays in use).
    pub config_error: Option<String>,
    /// Re-checks of sites the browser found suspicious, still to come.
    #[serde(default)]
    pub rechecks: usize,
}

/// The success fields of a reply, by request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    /// For `status`.
    Status(Box<DaemonStatus>),
    /// For `check` and `browser_check`: the verdict, shaped like
    /// `certwatch check --json`; for `history` the timeline, for `accept`
    /// the accepted CA.
    Checked {
        /// The result object.
        result: Value,
    },
    /// For `watch_remove`.
    Removed {
        /// Whether the site was watched.
        removed: bool,
    },
    /// Nothing more to say (`watch_add`, `watch_changed`, `reload`, errors).
    Done {},
}

/// A reply from the daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Protocol version.
    pub v: u64,
    /// The request's `id`, echoed.
    #[serde(default)]
    pub id: Value,
    /// Whether the request succeeded.
    pub ok: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<IpcError>,
    /// What it returned.
    #[serde(flatten)]
    pub body: Body,
}

impl Reply {
    /// A success.
    pub fn ok(id: Value, body: Body) -> Reply {
        Reply {
            v: PROTOCOL_VERSION,
            id,
            ok: true,
            error: None,
            body,
        }
    }

    /// A failure.
    pub fn err(id: Value, kind: &str, message: impl Into<String>) -> Reply {
        Reply {
            v: PROTOCOL_VERSION,
            id,
            ok: false,
            error: Some(IpcError {
                kind: kind.to_string(),
                message: message.into(),
            }),
            body: Body::Done {},
        }
    }

    /// One wire line (without the newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"v\":{PROTOCOL_VERSION},\"ok\":false,\"error\":{{\"kind\":\"internal\",\"message\":\"unserialisable reply\"}}}}"
            )
        })
    }
}

/// A connection to a running daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects, or `None` when no daemon answers.
    pub fn connect(paths: &Paths) -> Option<Client> {
        Self::connect_to(&socket_path(paths))
    }

    /// Connects to a socket path.
    pub fn connect_to(path: &Path) -> Option<Client> {
        let stream = UnixStream::connect(path).ok()?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let reader = BufReader::new(stream.try_clone().ok()?);
        Some(Client { stream, reader })
    }

    /// Sends a typed request and reads its reply; a failed request is its
    /// error's message.
    pub fn call(&mut self, req: &Request) -> Result<Reply, String> {
        let v = serde_json::to_value(req).map_err(|e| e.to_string())?;
        let reply: Reply =
            serde_json::from_value(self.request(v)?).map_err(|e| format!("daemon reply: {e}"))?;
        match (&reply.ok, &reply.error) {
            (false, Some(e)) => Err(format!("daemon: {}", e.message)),
            (false, None) => Err("daemon: request failed".into()),
            (true, _) => Ok(reply),
        }
    }

    /// Sends one raw request line (`v` is added) and reads one reply (the
    /// wire level, for tests of malformed requests).
    pub fn request(&mut self, mut req: Value) -> Result<Value, String> {
        if let Value::Object(m) = &mut req {
            m.insert("v".into(), Value::from(PROTOCOL_VERSION));
        }
        let mut line = req.to_string();
        line.push('\n');
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| format!("daemon socket: {e}"))?;
        let mut reply = String::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_line(&mut reply)
            .map_err(|e| format!("daemon socket: {e}"))?;
        if n == 0 {
            return Err("daemon closed the connection".into());
        }
        serde_json::from_str(&reply).map_err(|e| format!("daemon reply is not JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_and_replies_round_trip() {
        let r: Request =
            serde_json::from_value(json!({"type": "check", "host": "a.test"})).unwrap();
        assert_eq!(
            r,
            Request::Check {
                host: "a.test".into(),
                port: 443,
                connect: None
            }
        );
        assert!(serde_json::from_value::<Request>(json!({"type": "check"})).is_err());
        assert!(
            serde_json::from_value::<Request>(json!({"type": "check", "host": "h", "x": 1}))
                .is_err()
        );
        for t in Request::TYPES {
            let parsed = serde_json::from_value::<Request>(json!({"type": t}));
            let unit = matches!(*t, "status" | "watch_changed" | "reload");
            assert_eq!(
                parsed.is_ok(),
                unit,
                "{t}: every type is known, sites need a host"
            );
        }
        let reply = Reply::ok(json!(7), Body::Removed { removed: true });
        let back: Reply = serde_json::from_str(&reply.to_line()).unwrap();
        assert_eq!(back, reply);
        let e = Reply::err(json!(null), "bad_request", "no");
        let back: Reply = serde_json::from_str(&e.to_line()).unwrap();
        assert_eq!(back, e);
        assert!(e.to_line().contains("\"kind\":\"bad_request\""));
    }
}
