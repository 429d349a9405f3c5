//! `config.toml`: the user's settings file, read by every front end (the
//! check settings become a [`crate::settings::Layer`]; notifications, hook and
//! `default_every`, `metrics_textfile` are the daemon's). Parsing is pure: text in, a [`Config`]
//! or a `config.toml:LINE: message` error out. A running daemon that fails to
//! reload keeps its previous config.

use std::path::PathBuf;

use serde::Deserialize;

/// The settings file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PEM file replacing the built-in public roots (like `--roots`).
    #[serde(default)]
    pub roots: Option<PathBuf>,
    /// PEM file replacing the OS store (like `--local-roots`).
    #[serde(default)]
    pub local_roots: Option<PathBuf>,
    /// CT log-list files (like `--log-list`); default: the cached signed list.
    #[serde(default)]
    pub log_lists: Vec<PathBuf>,
    /// CCADB table (like `--ccadb`); default: the cache, else the snapshot.
    #[serde(default)]
    pub ccadb: Option<PathBuf>,
    /// Where the daemon fetches CCADB's report weekly (default: CCADB's
    /// public all-certificate-records CSV).
    #[serde(default)]
    pub ccadb_url: Option<String>,
    /// Whether the daemon refreshes the CCADB table weekly.
    #[serde(default = "yes")]
    pub ccadb_refresh: bool,
    /// Show desktop notifications.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// A command (argv, never a shell) that receives each alert's JSON on stdin.
    #[serde(default)]
    pub hook: Vec<String>,
    /// Seconds the hook may run before it is killed (default 30).
    #[serde(default)]
    pub hook_timeout: Option<f64>,
    /// Default re-check interval for `watch add` without `--every`.
    #[serde(default = "six_hours")]
    pub default_every: String,
    /// When the daemon re-checks a site the browser found suspicious
    /// (delays after the finding; `[]` = never).
    #[serde(default = "recheck_delays")]
    pub browser_recheck: Vec<String>,
    /// TCP connect timeout, seconds (like `--connect-timeout`).
    #[serde(default)]
    pub connect_timeout: Option<f64>,
    /// TLS handshake timeout, seconds (like `--timeout`).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// CAA look-ups on a CA change (default on).
    #[serde(default)]
    pub caa: Option<bool>,
    /// DNS server for CAA (`IP:PORT`; tests).
    #[serde(default)]
    pub dns_server: Option<String>,
    /// `expires_soon` warning below this many days left (default: relative
    /// to the certificate's lifetime, see `verdict::ExpiryPolicy`).
    #[serde(default)]
    pub warn_days: Option<u32>,
    /// Seconds a probe answers for repeat browser visits (host, daemon; 0 = off).
    #[serde(default)]
    pub probe_cache: Option<u32>,
    /// `expires_soon` critical below this many days left.
    #[serde(default)]
    pub crit_days: Option<u32>,
    /// The daemon refreshes Google's signed CT log list daily (default on;
    /// `false`: no request to gstatic.com, the built-in or cached list stays).
    #[serde(default)]
    pub ct_refresh: Option<bool>,
    /// Where the daemon fetches the signed list from (an `https://` URL of
    /// `log_list.json`; the signature is the same name ending `.sig`).
    #[serde(default)]
    pub ct_list_url: Option<String>,
    /// The daemon writes the OpenMetrics text of every watched site here
    /// (atomically, mode 0644, at start and after each scheduled pass) for
    /// node_exporter's textfile collector; the directory must exist.
    #[serde(default)]
    pub metrics_textfile: Option<PathBuf>,
    /// The CT search service of `ct issuances` and CT watches: a
    /// crt.sh-compatible search (default `https://crt.sh/`) or certspotter's
    /// API (a URL naming `/v1/issuances` or api.certspotter.com).
    #[serde(default)]
    pub ct_search_url: Option<String>,
    /// How often the daemon asks the search service about a CT-watched
    /// domain (default 1h; at least 1s).
    #[serde(default)]
    pub ct_watch_every: Option<String>,
    /// Fleet mode: the organisation's PostgreSQL (`postgresql://…`).
    #[serde(default)]
    pub fleet_url: Option<String>,
    /// PEM roots for the fleet server's TLS (default: the system's).
    #[serde(default)]
    pub fleet_ca: Option<PathBuf>,
    /// A file holding the fleet server's password (never put it here).
    #[serde(default)]
    pub fleet_password_file: Option<PathBuf>,
    /// This machine's network label in the fleet.
    #[serde(default)]
    pub fleet_network: Option<String>,
    /// Send keyed hashes of site names instead of the names.
    #[serde(default)]
    pub fleet_hash_sites: Option<bool>,
    /// The organisation's secret for `fleet_hash_sites`.
    #[serde(default)]
    pub fleet_secret_file: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

fn six_hours() -> String {
    "6h".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            roots: None,
            local_roots: None,
            log_lists: Vec::new(),
            ccadb: None,
            ccadb_url: None,
            ccadb_refresh: true,
            notifications: true,
            hook: Vec::new(),
            hook_timeout: None,
            default_every: six_hours(),
            browser_recheck: recheck_delays(),
            connect_timeout: None,
            timeout: None,
            caa: None,
            dns_server: None,
            warn_days: None,
            probe_cache: None,
            crit_days: None,
            ct_refresh: None,
            ct_list_url: None,
            metrics_textfile: None,
            ct_search_url: None,
            ct_watch_every: None,
            fleet_url: None,
            fleet_ca: None,
            fleet_password_file: None,
            fleet_network: None,
            fleet_hash_sites: None,
            fleet_secret_file: None,
        }
    }
}

fn recheck_delays() -> Vec<String> {
    ["10m", "1h", "6h"].map(String::from).to_vec()
}

impl Config {
    /// `browser_recheck` in seconds, soonest first (at most 8).
    pub fn recheck_delays(&self) -> Result<Vec<i64>, String> {
        if self.browser_recheck.len() > 8 {
            return Err("at most 8 delays".into());
        }
        let mut d = self
            .browser_recheck
            .iter()
            .map(|s| crate::schedule::parse_delay(s))
            .collect::<Result<Vec<_>, _>>()?;
        d.sort_unstable();
        d.dedup();
        Ok(d)
    }

    /// How long the alert hook may run.
    pub fn hook_timeout(&self) -> std::time::Duration {
        self.hook_timeout
            .and_then(|v| crate::settings::parse_secs("hook_timeout", v).ok())
            .unwrap_or(std::time::Duration::from_secs(30))
    }

    /// Whether the daemon refreshes the CT log list (default on).
    pub fn ct_refresh(&self) -> bool {
        self.ct_refresh.unwrap_or(true)
    }

    /// The expiry thresholds for watched sites.
    pub fn expiry_policy(&self) -> crate::verdict::ExpiryPolicy {
        crate::verdict::ExpiryPolicy {
            warn_days: self.warn_days,
            crit_days: self.crit_days,
        }
    }
}

/// Parses `text` (from `file`, for messages).
pub fn parse(file: &str, text: &str) -> Result<Config, String> {
    let c: Config = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .unwrap_or(1);
        format!("{file}:{line}: {}", e.message())
    })?;
    crate::schedule::parse_every(&c.default_every)
        .map_err(|e| format!("{file}: default_every: {e}"))?;
    if c.probe_cache.is_some_and(|n| n > 86_400) {
        return Err(format!("{file}: probe_cache: at most 86400 seconds"));
    }
    c.recheck_delays()
        .map_err(|e| format!("{file}: browser_recheck: {e}"))?;
    if let Some(h) = c.hook.first() {
        if h.trim().is_empty() {
            return Err(format!("{file}: hook: the first element must be a program"));
        }
    }
    if let Some(u) = &c.ct_list_url {
        if !u.starts_with("https://") {
            return Err(format!("{file}: ct_list_url: must be an https:// URL"));
        }
    }
    if let Some(m) = &c.metrics_textfile {
        if !m.is_absolute() || m.file_name().is_none() {
            return Err(format!(
                "{file}: metrics_textfile: must be an absolute file path"
            ));
        }
    }
    if let Some(u) = &c.ct_search_url {
        crate::settings::parse_search_url(&format!("{file}: ct_search_url"), u)?;
    }
    if let Some(u) = &c.fleet_url {
        crate::fleet::parse_url(&format!("{file}: fleet_url"), u)?;
    }
    if let Some(n) = &c.fleet_network {
        crate::fleet::parse_network(&format!("{file}: fleet_network"), n)?;
    }
    if let Some(e) = &c.ct_watch_every {
        crate::schedule::parse_delay(e).map_err(|err| format!("{file}: ct_watch_every: {err}"))?;
    }
    if let Some(d) = &c.dns_server {
        crate::settings::parse_dns_server(&format!("{file}: dns_server"), d)?;
    }
    for (key, v) in [
        ("connect_timeout", c.connect_timeout),
        ("timeout", c.timeout),
    ] {
        if let Some(v) = v {
            crate::settings::parse_secs(&format!("{file}: {key}"), v)?;
        }
    }
    Ok(c)
}

/// Loads `path`; a missing file is the default config.
pub fn load(path: &std::path::Path) -> Result<Config, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => parse(&path.display().to_string(), &t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_table() {
        assert_eq!(parse("c", "").unwrap(), Config::default());
        let c = parse(
            "c",
            "notifications = false\nhook = [\"/bin/cat\"]\ndefault_every = \"1d\"\n",
        )
        .unwrap();
        assert!(!c.notifications);
        assert_eq!(c.hook, vec!["/bin/cat".to_string()]);
        assert!(c.ct_refresh());
        let c = parse(
            "c",
            "ct_refresh = false\nct_list_url = \"https://mirror.test/log_list.json\"\n",
        )
        .unwrap();
        assert!(!c.ct_refresh());
        let e = parse("c", "ct_list_url = \"http://mirror.test/l.json\"\n").unwrap_err();
        assert!(e.contains("ct_list_url: must be an https:// URL"), "{e}");
        let e = parse("config.toml", "notifications = true\nbogus = 1\n").unwrap_err();
        assert!(e.starts_with("config.toml:2:"), "{e}");
        let e = parse("config.toml", "notifications = \"maybe\"\n").unwrap_err();
        assert!(e.starts_with("config.toml:1:"), "{e}");
        assert!(parse("c", "default_every = \"5x\"").is_err());
        assert!(parse("c", "browser_recheck = [\"0s\"]").is_err());
        let c = parse("c", "browser_recheck = [\"1h\", \"2s\"]").unwrap();
        assert_eq!(c.recheck_delays(), Ok(vec![2, 3600]));
        assert_eq!(
            Config::default().recheck_delays(),
            Ok(vec![600, 3600, 21_600])
        );
        assert!(parse("c", "hook = [\"\"]").is_err());
        assert!(parse("c", "dns_server = \"nope\"").is_err());
        assert!(parse("c", "timeout = 0").is_err());
        assert!(parse("c", "connect_timeout = 1e9").is_err());
        assert_eq!(parse("c", "timeout = 2.5").unwrap().timeout, Some(2.5));
        assert_eq!(parse("c", "caa = false").unwrap().caa, Some(false));
        let c = parse("c", "warn_days = 30\ncrit_days = 10\n").unwrap();
        assert_eq!(c.expiry_policy().warn_days, Some(30));
        assert_eq!(c.expiry_policy().crit_days, Some(10));
        let e = parse("config.toml", "\nwarn_days = -1\n").unwrap_err();
        assert!(e.starts_with("config.toml:2:"), "{e}");
        let c = parse("c", "metrics_textfile = \"/var/lib/node/certwatch.prom\"").unwrap();
        assert_eq!(
            c.metrics_textfile.as_deref(),
            Some(std::path::Path::new("/var/lib/node/certwatch.prom"))
        );
        let e = parse("c", "metrics_textfile = \"certwatch.prom\"").unwrap_err();
        assert!(e.contains("metrics_textfile: must be an absolute"), "{e}");
    }
}
