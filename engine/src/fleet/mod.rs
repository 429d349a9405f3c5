//! Fleet mode: an organisation's machines share their sightings in a
//! PostgreSQL database and read the fleet's consensus back as evidence.
//! Off unless `fleet_url` is set.
//!
//! - this module (pure but for reading the OS machine id): the settings
//!   ([`FleetSettings`], [`FleetLayer`]), the machine id, the site key
//!   (clear `host:port`, or a keyed hash with `fleet_hash_sites`);
//! - `schema.rs`: the server's versioned migrations and the role SQL;
//! - `pg.rs`: the PostgreSQL edge (tokio-postgres, rustls), every call under
//!   a deadline;
//! - `outbox.rs`: sending the outbox (`fleet push`, the daemon);
//! - `enrich.rs`: the check pipeline's `Enricher` (consensus read with a
//!   200 ms budget, cached);
//! - the outbox is the store module `fleet` (`store/fleet.rs`), written in
//!   the transaction that records a sighting.
//!
//! The judge is `verdict::fleet` (pure).

pub mod enrich;
pub mod outbox;
pub mod pg;
pub mod rows;
pub mod schema;

pub use pg::{parse_url, redacted};

use std::path::{Path, PathBuf};

use crate::probe::target::Site;

/// A password: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The fleet settings of one layer (config.toml, environment); `None` = unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetLayer {
    /// `fleet_url` / `CERTWATCH_FLEET_URL`.
    pub url: Option<String>,
    /// `fleet_ca` / `CERTWATCH_FLEET_CA`: PEM roots for the server's TLS.
    pub ca: Option<PathBuf>,
    /// `fleet_password_file` / `CERTWATCH_FLEET_PASSWORD_FILE`.
    pub password_file: Option<PathBuf>,
    /// `CERTWATCH_FLEET_PASSWORD` (environment only).
    pub password: Option<Secret>,
    /// `fleet_network` / `CERTWATCH_FLEET_NETWORK`: a label for this
    /// machine's network ("office", "vpn").
    pub network: Option<String>,
    /// `fleet_hash_sites`: send keyed hashes of site names, not the names.
    pub hash_sites: Option<bool>,
    /// `fleet_secret_file` / `CERTWATCH_FLEET_SECRET_FILE`: the
    /// organisation's secret for `fleet_hash_sites`.
    pub secret_file: Option<PathBuf>,
    /// `CERTWATCH_MACHINE_ID` (environment only; tests, cloned machines).
    pub machine_id: Option<String>,
}

impl FleetLayer {
    /// Lays `top` over `self`.
    pub fn over(&mut self, top: &FleetLayer) {
        fn set<T: Clone>(slot: &mut Option<T>, v: &Option<T>) {
            if v.is_some() {
                slot.clone_from(v);
            }
        }
        set(&mut self.url, &top.url);
        set(&mut self.ca, &top.ca);
        set(&mut self.password_file, &top.password_file);
        set(&mut self.password, &top.password);
        set(&mut self.network, &top.network);
        set(&mut self.hash_sites, &top.hash_sites);
        set(&mut self.secret_file, &top.secret_file);
        set(&mut self.machine_id, &top.machine_id);
    }

    /// The fleet settings, when a URL is set.
    pub fn resolve(&self) -> Option<FleetSettings> {
        Some(FleetSettings {
            url: self.url.clone()?,
            ca: self.ca.clone(),
            password_file: self.password_file.clone(),
            password: self.password.clone(),
            network: self.network.clone().unwrap_or_default(),
            hash_sites: self.hash_sites.unwrap_or(false),
            secret_file: self.secret_file.clone(),
            machine_id: self.machine_id.clone(),
        })
    }
}

/// Resolved fleet settings (present only when `fleet_url` is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// `postgresql://…` (libpq URL or key=value form).
    pub url: String,
    /// PEM roots for TLS (default: the system's roots).
    pub ca: Option<PathBuf>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// The password from the environment.
    pub password: Option<Secret>,
    /// Network label ("" = none).
    pub network: String,
    /// Keyed hashes of site names instead of names.
    pub hash_sites: bool,
    /// The organisation secret for `hash_sites`.
    pub secret_file: Option<PathBuf>,
    /// Machine id override.
    pub machine_id: Option<String>,
}

/// Checks a machine id override: 1–64 of `[A-Za-z0-9._:-]`.
pub fn parse_machine_id(what: &str, v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{what}: {v:?}: expected 1 to 64 letters, digits, '.', '_', ':' or '-'"
        ))
    }
}

/// Checks a network label: at most 64 printable characters.
pub fn parse_network(what: &str, v: &str) -> Result<String, String> {
    if v.chars().count() <= 64 && v.chars().all(|c| !c.is_control()) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{what}: at most 64 characters, no control characters"
        ))
    }
}

/// Where the OS keeps its machine id.
pub const MACHINE_ID_FILES: &[&str] = &["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// This machine's fleet id: the override, else SHA-256 of the OS machine id
/// (domain-separated, so the OS id itself never leaves the machine), first
/// 16 bytes in hex.
pub fn machine_id(s: &FleetSettings, files: &[&str]) -> Result<String, String> {
    if let Some(m) = &s.machine_id {
        return Ok(m.clone());
    }
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f) {
            let id = text.trim();
            if !id.is_empty() {
                let mut input = b"certwatch fleet machine id\0".to_vec();
                input.extend_from_slice(id.as_bytes());
                let d = ring::digest::digest(&ring::digest::SHA256, &input);
                return Ok(crate::model::hex(&d.as_ref()[..16]));
            }
        }
    }
    Err(format!(
        "fleet: no machine id in {}; set CERTWATCH_MACHINE_ID",
        files.join(" or ")
    ))
}

/// The organisation secret for `fleet_hash_sites` (at least 16 bytes).
pub fn read_secret(s: &FleetSettings) -> Result<Option<Vec<u8>>, String> {
    if !s.hash_sites {
        return Ok(None);
    }
    let path = s.secret_file.as_deref().ok_or_else(|| {
        "fleet_hash_sites = true needs fleet_secret_file (the organisation's secret)".to_string()
    })?;
    let bytes = read_small(path)?;
    let trimmed = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
    if trimmed.len() < 16 {
        return Err(format!(
            "{}: the fleet secret must be at least 16 bytes",
            path.display()
        ));
    }
    Ok(Some(trimmed))
}

/// The password: `CERTWATCH_FLEET_PASSWORD`, else the first line of
/// `fleet_password_file`, else none (the URL's, or trust/peer auth).
pub fn password(s: &FleetSettings) -> Result<Option<Secret>, String> {
    if let Some(p) = &s.password {
        return Ok(Some(p.clone()));
    }
    match &s.password_file {
        None => Ok(None),
        Some(path) => {
            let bytes = read_small(path)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{}: the password is not UTF-8", path.display()))?;
            Ok(Some(Secret(text.lines().next().unwrap_or("").to_string())))
        }
    }
}

fn read_small(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > 4096 {
        return Err(format!("{}: larger than 4096 bytes", path.display()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The key the server knows a site by: `host:port`, or with a secret
/// `h:` + hex HMAC-SHA256(secret, `host:port`).
pub fn site_key(site: &Site, secret: Option<&[u8]>) -> String {
    let clear = site.to_string();
    match secret {
        None => clear,
        Some(k) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k);
            let tag = ring::hmac::sign(&key, clear.as_bytes());
            format!("h:{}", crate::model::hex(tag.as_ref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FleetSettings {
        FleetLayer {
            url: Some("postgresql://m@db.example/certwatch".into()),
            ..FleetLayer::default()
        }
        .resolve()
        .unwrap()
    }

    #[test]
    fn layers_resolve_only_with_a_url() {
        let mut l = FleetLayer {
            network: Some("office".into()),
            ..FleetLayer::default()
        };
        assert!(l.resolve().is_none());
        l.over(&FleetLayer {
            url: Some("postgresql://x@y/z".into()),
            network: None,
            ..FleetLayer::default()
        });
        let s = l.resolve().unwrap();
        assert_eq!(s.network, "office");
        assert!(!s.hash_sites);
    }

    #[test]
    fn machine_ids_are_hashed_and_overridable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("machine-id");
        std::fs::write(&f, "0123456789abcdef0123456789abcdef\n").unwrap();
        let p = f.to_str().unwrap();
        let id = machine_id(&settings(), &["/nonexistent", p]).unwrap();
        assert_eq!(id.len(), 32);
        assert!(!id.contains("0123456789abcdef"));
        assert_eq!(id, machine_id(&settings(), &[p]).unwrap(), "stable");
        let mut s = settings();
        s.machine_id = Some("laptop-7".into());
        assert_eq!(machine_id(&s, &[p]).unwrap(), "laptop-7");
        assert!(machine_id(&settings(), &["/nonexistent"])
            .unwrap_err()
            .contains("CERTWATCH_MACHINE_ID"));
    }

    #[test]
    fn checks_reject_bad_values() {
        assert!(parse_machine_id("x", "a b").is_err());
        assert!(parse_machine_id("x", "").is_err());
        assert!(parse_machine_id("x", &"a".repeat(65)).is_err());
        assert!(parse_machine_id("x", "host-1.example:2").is_ok());
        assert!(parse_network("x", "office\u{1b}[31m").is_err());
        assert!(parse_url("x", "postgresql://u@h/db?sslmode=require").is_ok());
        assert!(parse_url("x", "postgresql://u@h:notaport/db").is_err());
    }

    #[test]
    fn site_keys_hash_with_the_secret() {
        let site = Site {
            host: "bank.example".into(),
            port: 443,
        };
        assert_eq!(site_key(&site, None), "bank.example:443");
        let a = site_key(&site, Some(b"0123456789abcdef"));
        assert!(a.starts_with("h:") && a.len() == 66, "{a}");
        assert!(!a.contains("bank"));
        assert_ne!(a, site_key(&site, Some(b"another-secret-16")));
    }

    #[test]
    fn redaction_drops_the_password() {
        let r = redacted("postgresql://m:hunter2@db.example:6432/fleet");
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("db.example:6432/fleet"), "{r}");
    }
}
