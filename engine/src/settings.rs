//! The check settings, resolved once with one precedence for every front end:
//! built-in defaults < `config.toml` < environment < command-line flags.
//!
//! Pure: each source becomes a [`Layer`] (every field optional, "unset" is
//! `None`), and [`Settings::resolve`] lays them over the defaults. The same
//! setting has the same name everywhere (README, "Settings"):
//!
//! | setting            | config.toml        | environment                 | flag                 |
//! |--------------------|--------------------|-----------------------------|----------------------|
//! | public roots       | `roots`            | `CERTWATCH_ROOTS`           | `--roots`            |
//! | local roots        | `local_roots`      | `CERTWATCH_LOCAL_ROOTS`     | `--local-roots`      |
//! | CT log lists       | `log_lists`        | `CERTWATCH_LOG_LIST` (`:`)  | `--log-list` (rep.)  |
//! | CCADB table        | `ccadb`            | `CERTWATCH_CCADB`           | `--ccadb`            |
//! | connect timeout    | `connect_timeout`  | `CERTWATCH_CONNECT_TIMEOUT` | `--connect-timeout`  |
//! | handshake timeout  | `timeout`          | `CERTWATCH_TIMEOUT`         | `--timeout`          |
//! | CAA look-ups       | `caa`              | `CERTWATCH_CAA` (0/1)       | `--caa` / `--no-caa` |
//! | CAA DNS server     | `dns_server`       | `CERTWATCH_DNS_SERVER`      | `--dns-server`       |
//! | expiry warning     | `warn_days`        | `CERTWATCH_WARN_DAYS`       | `--warn-days`        |
//! | expiry critical    | `crit_days`        | `CERTWATCH_CRIT_DAYS`       | `--crit-days`        |
//! | browser probe cache| `probe_cache`      | `CERTWATCH_PROBE_CACHE`     | (host, daemon only)  |
//! | CT search service  | `ct_search_url`    | `CERTWATCH_CT_SEARCH_URL`   | `--search-url`       |
//! | fleet server       | `fleet_url`        | `CERTWATCH_FLEET_URL`       |                      |
//! | fleet TLS roots    | `fleet_ca`         | `CERTWATCH_FLEET_CA`        |                      |
//! | fleet password     | `fleet_password_file` | `CERTWATCH_FLEET_PASSWORD`, `CERTWATCH_FLEET_PASSWORD_FILE` |  |
//! | fleet network label| `fleet_network`    | `CERTWATCH_FLEET_NETWORK`   |                      |
//! | hashed site names  | `fleet_hash_sites`, `fleet_secret_file` | `CERTWATCH_FLEET_SECRET_FILE` |   |
//! | fleet machine id   | (hashed OS id)     | `CERTWATCH_MACHINE_ID`      |                      |
//!
//! `CERTWATCH_NO_CAA=1` is still read (as `CERTWATCH_CAA=0`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::probe::proxy::Env;
use crate::verdict::ExpiryPolicy;

/// Environment variable names.
pub mod env {
    /// PEM file of public roots replacing the built-in Mozilla set.
    pub const ROOTS: &str = "CERTWATCH_ROOTS";
    /// PEM file of local roots replacing the OS store.
    pub const LOCAL_ROOTS: &str = "CERTWATCH_LOCAL_ROOTS";
    /// CT log-list files, `:`-separated.
    pub const LOG_LIST: &str = "CERTWATCH_LOG_LIST";
    /// CCADB table (CSV report or compact form) replacing cache and snapshot.
    pub const CCADB: &str = "CERTWATCH_CCADB";
    /// Connect timeout, seconds.
    pub const CONNECT_TIMEOUT: &str = "CERTWATCH_CONNECT_TIMEOUT";
    /// TLS handshake timeout, seconds.
    pub const TIMEOUT: &str = "CERTWATCH_TIMEOUT";
    /// `0`/`1`: CAA look-ups on a CA change.
    pub const CAA: &str = "CERTWATCH_CAA";
    /// Older spelling: `1` = no CAA look-ups.
    pub const NO_CAA: &str = "CERTWATCH_NO_CAA";
    /// DNS server for CAA, `IP:PORT`.
    pub const DNS_SERVER: &str = "CERTWATCH_DNS_SERVER";
    /// `expires_soon` warning threshold, days.
    pub const WARN_DAYS: &str = "CERTWATCH_WARN_DAYS";
    /// `expires_soon` critical threshold, days.
    pub const CRIT_DAYS: &str = "CERTWATCH_CRIT_DAYS";
    /// Seconds a probe answers for repeat browser visits (0 = off).
    pub const PROBE_CACHE: &str = "CERTWATCH_PROBE_CACHE";
    /// The CT search service (`ct issuances`, the daemon's CT watch).
    pub const CT_SEARCH_URL: &str = "CERTWATCH_CT_SEARCH_URL";
    /// The fleet server (`postgresql://…`).
    pub const FLEET_URL: &str = "CERTWATCH_FLEET_URL";
    /// PEM roots for the fleet server's TLS.
    pub const FLEET_CA: &str = "CERTWATCH_FLEET_CA";
    /// The fleet server's password.
    pub const FLEET_PASSWORD: &str = "CERTWATCH_FLEET_PASSWORD";
    /// A file holding the fleet server's password.
    pub const FLEET_PASSWORD_FILE: &str = "CERTWATCH_FLEET_PASSWORD_FILE";
    /// This machine's network label in the fleet.
    pub const FLEET_NETWORK: &str = "CERTWATCH_FLEET_NETWORK";
    /// The organisation secret for `fleet_hash_sites`.
    pub const FLEET_SECRET_FILE: &str = "CERTWATCH_FLEET_SECRET_FILE";
    /// This machine's fleet id, replacing the hashed OS machine id.
    pub const MACHINE_ID: &str = "CERTWATCH_MACHINE_ID";
}

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default seconds a probe answers for repeat browser visits.
pub const DEFAULT_PROBE_CACHE: u32 = 600;
/// Default TLS handshake timeout.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a setting's value came from (for error messages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    #[default]
    Default,
    /// `config.toml`.
    Config,
    /// A `CERTWATCH_*` variable.
    Env,
    /// A command-line flag.
    Flags,
}

impl Source {
    /// How to name setting `key` (its config.toml key) from this source:
    /// `config.toml roots`, `CERTWATCH_ROOTS`, `--roots`.
    pub fn name(self, key: &str) -> String {
        let (env, flag) = match key {
            "roots" => (env::ROOTS, "--roots"),
            "local_roots" => (env::LOCAL_ROOTS, "--local-roots"),
            "log_lists" => (env::LOG_LIST, "--log-list"),
            "ccadb" => (env::CCADB, "--ccadb"),
            _ => ("", ""),
        };
        match self {
            Source::Default => format!("default {key}"),
            Source::Config => format!("config.toml {key}"),
            Source::Env => env.to_string(),
            Source::Flags => flag.to_string(),
        }
    }
}

/// Where the file-valued settings came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origins {
    /// Of [`Settings::roots`].
    pub roots: Source,
    /// Of [`Settings::local_roots`].
    pub local_roots: Source,
    /// Of [`Settings::log_lists`].
    pub log_lists: Source,
    /// Of [`Settings::ccadb`].
    pub ccadb: Source,
}

/// The resolved settings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// PEM file replacing the built-in public roots.
    pub roots: Option<PathBuf>,
    /// PEM file replacing the OS store.
    pub local_roots: Option<PathBuf>,
    /// CT log-list files; empty = the cached signed list, if any.
    pub log_lists: Vec<PathBuf>,
    /// CCADB table replacing the cache and the embedded snapshot.
    pub ccadb: Option<PathBuf>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// TLS handshake timeout.
    pub handshake_timeout: Duration,
    /// CAA look-ups when the CA changed.
    pub caa: bool,
    /// DNS server for CAA (`None`: the system's resolvers).
    pub dns_server: Option<SocketAddr>,
    /// `expires_soon` thresholds.
    pub expiry: ExpiryPolicy,
    /// Seconds a probe of a site answers for repeat browser visits
    /// (`check::browser::ProbeCache`; 0 = every visit probes).
    pub probe_cache: u32,
    /// The CT search service: a crt.sh-compatible search or certspotter's
    /// API (`ct::watch::service_for`); `None`: `ct::watch::DEFAULT_SEARCH_URL`.
    pub ct_search_url: Option<String>,
    /// Fleet mode (`crate::fleet`), when `fleet_url` is set.
    pub fleet: Option<crate::fleet::FleetSettings>,
    /// Where the file-valued settings came from.
    pub origins: Origins,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            roots: None,
            local_roots: None,
            log_lists: Vec::new(),
            ccadb: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            caa: true,
            dns_server: None,
            expiry: ExpiryPolicy::default(),
            probe_cache: DEFAULT_PROBE_CACHE,
            ct_search_url: None,
            fleet: None,
            origins: Origins::default(),
        }
    }
}

/// One source of settings; `None` = this source does not set it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Which source this is.
    pub source: Source,
    /// See [`Settings::roots`].
    pub roots: Option<PathBuf>,
    /// See [`Settings::local_roots`].
    pub local_roots: Option<PathBuf>,
    /// See [`Settings::log_lists`].
    pub log_lists: Option<Vec<PathBuf>>,
    /// See [`Settings::ccadb`].
    pub ccadb: Option<PathBuf>,
    /// See [`Settings::connect_timeout`].
    pub connect_timeout: Option<Duration>,
    /// See [`Settings::handshake_timeout`].
    pub handshake_timeout: Option<Duration>,
    /// See [`Settings::caa`].
    pub caa: Option<bool>,
    /// See [`Settings::dns_server`].
    pub dns_server: Option<SocketAddr>,
    /// See [`Settings::expiry`].
    pub warn_days: Option<u32>,
    /// See [`Settings::expiry`].
    pub crit_days: Option<u32>,
    /// See [`Settings::probe_cache`].
    pub probe_cache: Option<u32>,
    /// See [`Settings::ct_search_url`].
    pub ct_search_url: Option<String>,
    /// See [`Settings::fleet`].
    pub fleet: crate::fleet::FleetLayer,
}

impl Settings {
    /// Lays `layers` (lowest precedence first) over the defaults.
    pub fn resolve(layers: &[Layer]) -> Settings {
        let mut s = Settings::default();
        let mut fleet = crate::fleet::FleetLayer::default();
        for l in layers {
            fleet.over(&l.fleet);
            if l.roots.is_some() {
                s.origins.roots = l.source;
            }
            if l.local_roots.is_some() {
                s.origins.local_roots = l.source;
            }
            if l.log_lists.is_some() {
                s.origins.log_lists = l.source;
            }
            if l.ccadb.is_some() {
                s.origins.ccadb = l.source;
            }
            set(&mut s.roots, l.roots.clone().map(Some));
            set(&mut s.local_roots, l.local_roots.clone().map(Some));
            set(&mut s.log_lists, l.log_lists.clone());
            set(&mut s.ccadb, l.ccadb.clone().map(Some));
            set(&mut s.connect_timeout, l.connect_timeout);
            set(&mut s.handshake_timeout, l.handshake_timeout);
            set(&mut s.caa, l.caa);
            set(&mut s.dns_server, l.dns_server.map(Some));
            set(&mut s.expiry.warn_days, l.warn_days.map(Some));
            set(&mut s.expiry.crit_days, l.crit_days.map(Some));
            set(&mut s.probe_cache, l.probe_cache);
            set(&mut s.ct_search_url, l.ct_search_url.clone().map(Some));
        }
        s.fleet = fleet.resolve();
        s
    }
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// A timeout in seconds: finite, above 0, at most an hour.
pub fn parse_secs(what: &str, v: f64) -> Result<Duration, String> {
    if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
        return Err(format!(
            "{what} must be between 0 and 3600 seconds, not {v}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A CAA DNS server, `IP:PORT`.
pub fn parse_dns_server(what: &str, v: &str) -> Result<SocketAddr, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{what}: {v:?} is not IP:PORT"))
}

fn parse_bool(what: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(format!("{what}={v:?}: expected 0 or 1")),
    }
}

impl Layer {
    /// The check settings of a parsed `config.toml` (already validated).
    pub fn from_config(c: &Config) -> Layer {
        Layer {
            source: Source::Config,
            roots: c.roots.clone(),
            local_roots: c.local_roots.clone(),
            log_lists: (!c.log_lists.is_empty()).then(|| c.log_lists.clone()),
            ccadb: c.ccadb.clone(),
            connect_timeout: c.connect_timeout.and_then(|v| parse_secs("", v).ok()),
            handshake_timeout: c.timeout.and_then(|v| parse_secs("", v).ok()),
            caa: c.caa,
            dns_server: c.dns_server.as_deref().and_then(|d| d.parse().ok()),
            warn_days: c.warn_days,
            crit_days: c.crit_days,
            probe_cache: c.probe_cache,
            ct_search_url: c.ct_search_url.clone(),
            fleet: crate::fleet::FleetLayer {
                url: c.fleet_url.clone(),
                ca: c.fleet_ca.clone(),
                password_file: c.fleet_password_file.clone(),
                password: None,
                network: c.fleet_network.clone(),
                hash_sites: c.fleet_hash_sites,
                secret_file: c.fleet_secret_file.clone(),
                machine_id: None,
            },
        }
    }

    /// The `CERTWATCH_*` variables; a malformed value is an error naming it.
    /// An empty variable counts as unset.
    pub fn from_env(e: &dyn Env) -> Result<Layer, String> {
        let var = |name: &str| e.var(name).filter(|v| !v.trim().is_empty());
        let secs = |name: &str| -> Result<Option<Duration>, String> {
            var(name)
                .map(|v| {
                    let n: f64 = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("{name}={v:?}: not a number of seconds"))?;
                    parse_secs(name, n)
                })
                .transpose()
        };
        let days = |name: &str| -> Result<Option<u32>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse()
                        .map_err(|_| format!("{name}={v:?}: not a number of days"))
                })
                .transpose()
        };
        let caa = match (var(env::CAA), var(env::NO_CAA)) {
            (Some(v), _) => Some(parse_bool(env::CAA, &v)?),
            (None, Some(v)) => Some(!parse_bool(env::NO_CAA, &v)?),
            (None, None) => None,
        };
        Ok(Layer {
            source: Source::Env,
            roots: var(env::ROOTS).map(PathBuf::from),
            local_roots: var(env::LOCAL_ROOTS).map(PathBuf::from),
            log_lists: var(env::LOG_LIST).map(|v| {
                v.split(':')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }),
            ccadb: var(env::CCADB).map(PathBuf::from),
            connect_timeout: secs(env::CONNECT_TIMEOUT)?,
            handshake_timeout: secs(env::TIMEOUT)?,
            caa,
            dns_server: var(env::DNS_SERVER)
                .map(|v| parse_dns_server(env::DNS_SERVER, &v))
                .transpose()?,
            warn_days: days(env::WARN_DAYS)?,
            crit_days: days(env::CRIT_DAYS)?,
            probe_cache: var(env::PROBE_CACHE)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= 86_400)
                        .ok_or_else(|| {
                            format!(
                                "{}={v:?}: expected seconds from 0 to 86400",
                                env::PROBE_CACHE
                            )
                        })
                })
                .transpose()?,
            ct_search_url: var(env::CT_SEARCH_URL)
                .map(|v| parse_search_url(env::CT_SEARCH_URL, v.trim()))
                .transpose()?,
            fleet: crate::fleet::FleetLayer {
                url: var(env::FLEET_URL)
                    .map(|v| crate::fleet::parse_url(env::FLEET_URL, &v))
                    .transpose()?,
                ca: var(env::FLEET_CA).map(PathBuf::from),
                password_file: var(env::FLEET_PASSWORD_FILE).map(PathBuf::from),
                password: e.var(env::FLEET_PASSWORD).map(crate::fleet::Secret),
                network: var(env::FLEET_NETWORK)
                    .map(|v| crate::fleet::parse_network(env::FLEET_NETWORK, &v))
                    .transpose()?,
                hash_sites: None,
                secret_file: var(env::FLEET_SECRET_FILE).map(PathBuf::from),
                machine_id: var(env::MACHINE_ID)
                    .map(|v| crate::fleet::parse_machine_id(env::MACHINE_ID, v.trim()))
                    .transpose()?,
            },
        })
    }
}

/// A CT search service URL: `http://` or `https://`.
pub fn parse_search_url(what: &str, v: &str) -> Result<String, String> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v.to_string())
    } else {
        Err(format!("{what}: expected an http(s):// URL, got {v:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, &'static str>);
    impl Env for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| v.to_string())
        }
    }
    fn vars(v: &[(&'static str, &'static str)]) -> Vars {
        Vars(v.iter().copied().collect())
    }

    #[test]
    fn precedence_defaults_config_env_flags() {
        let config = crate::config::parse(
            "c",
            "roots = \"/c/roots.pem\"\ntimeout = 7\ncaa = false\nwarn_days = 30\n",
        )
        .unwrap();
        let env = Layer::from_env(&vars(&[
            ("CERTWATCH_ROOTS", "/e/roots.pem"),
            ("CERTWATCH_CONNECT_TIMEOUT", "2.5"),
            ("CERTWATCH_LOG_LIST", "/a.json:/b.json"),
        ]))
        .unwrap();
        let flags = Layer {
            source: Source::Flags,
            caa: Some(true),
            crit_days: Some(3),
            ..Layer::default()
        };
        let from_config = [Layer::from_config(&config)];
        let table: Vec<(&[Layer], Settings)> = vec![
            (&[], Settings::default()),
            (
                &from_config,
                Settings {
                    roots: Some("/c/roots.pem".into()),
                    origins: Origins {
                        roots: Source::Config,
                        ..Origins::default()
                    },
                    handshake_timeout: Duration::from_secs(7),
                    caa: false,
                    expiry: ExpiryPolicy {
                        warn_days: Some(30),
                        crit_days: None,
                    },
                    ..Settings::default()
                },
            ),
        ];
        for (layers, want) in table {
            assert_eq!(Settings::resolve(layers), want);
        }
        let all = Settings::resolve(&[Layer::from_config(&config), env, flags]);
        assert_eq!(all.roots, Some("/e/roots.pem".into()), "env over config");
        assert_eq!(all.origins.roots.name("roots"), "CERTWATCH_ROOTS");
        assert_eq!(
            all.origins.log_lists.name("log_lists"),
            "CERTWATCH_LOG_LIST"
        );
        assert_eq!(all.handshake_timeout, Duration::from_secs(7), "config kept");
        assert_eq!(all.connect_timeout, Duration::from_secs_f64(2.5));
        assert_eq!(
            all.log_lists,
            vec![PathBuf::from("/a.json"), "/b.json".into()]
        );
        assert!(all.caa, "flag over config");
        assert_eq!(all.expiry.warn_days, Some(30));
        assert_eq!(all.expiry.crit_days, Some(3));
    }

    #[test]
    fn env_values_are_checked() {
        let bad: &[(&'static str, &'static str)] = &[
            ("CERTWATCH_TIMEOUT", "soon"),
            ("CERTWATCH_TIMEOUT", "0"),
            ("CERTWATCH_CONNECT_TIMEOUT", "99999"),
            ("CERTWATCH_CAA", "maybe"),
            ("CERTWATCH_DNS_SERVER", "localhost"),
            ("CERTWATCH_WARN_DAYS", "-1"),
            ("CERTWATCH_CT_SEARCH_URL", "ftp://crt.sh/"),
        ];
        for (k, v) in bad {
            let e = Layer::from_env(&vars(&[(k, v)])).unwrap_err();
            assert!(e.contains(k), "{e}");
        }
        let l = Layer::from_env(&vars(&[("CERTWATCH_NO_CAA", "1")])).unwrap();
        assert_eq!(l.caa, Some(false));
        let l =
            Layer::from_env(&vars(&[("CERTWATCH_CAA", "1"), ("CERTWATCH_NO_CAA", "1")])).unwrap();
        assert_eq!(l.caa, Some(true), "the new name wins");
        let l = Layer::from_env(&vars(&[("CERTWATCH_ROOTS", "")])).unwrap();
        assert_eq!(l.roots, None, "empty = unset");
        let l = Layer::from_env(&vars(&[(
            "CERTWATCH_CT_SEARCH_URL",
            " https://ct.example/ ",
        )]))
        .unwrap();
        assert_eq!(l.ct_search_url.as_deref(), Some("https://ct.example/"));
        let l = Layer::from_env(&vars(&[("CERTWATCH_DNS_SERVER", "127.0.0.1:5353")])).unwrap();
        assert_eq!(l.dns_server, Some("127.0.0.1:5353".parse().unwrap()));
    }
}
