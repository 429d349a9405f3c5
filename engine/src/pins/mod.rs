//! Declared expectations: which keys may vouch for a site (key pinning).
//!
//! A [`PinDb`] holds named [`Pinset`]s (SPKI SHA-256 hashes with a label
//! each, optional backup pins, bad hashes, an optional expiry) and entries
//! mapping a host to a pinset, optionally for its subdomains too. The most
//! specific entry wins. A chain is accepted iff the SPKI of some certificate
//! on its *verified* path (see [`path`]) is a pin or backup pin of the pinset
//! and none is a bad hash. A pinset past its expiry is not enforced, so a
//! stale pin never locks a user into false alarms.
//!
//! Layout: this file is the pin database, pure (types, lookup, matching);
//! [`toml_format`] reads and writes the pin file format ([`parse_toml`],
//! line-numbered [`Diagnostic`]s); [`chromium`] reads Chromium's static
//! pins; [`path`] finds the SPKIs proven to be on the path; the store keeps
//! user pins and accepted interceptors; [`source`] is the
//! [`crate::check::EvidenceSource`]; [`generate`] derives pinsets from root
//! PEMs (how `pinsets/shipped.toml` is made).

pub mod chromium;
pub mod generate;
pub mod path;
pub mod source;
pub mod toml_format;

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;

pub use toml_format::{line_of, parse_date_or_time, parse_toml};

/// The pinsets shipped with certwatch (generated, see `pinsets/README.md`).
pub const SHIPPED_TOML: &str = include_str!("../../../pinsets/shipped.toml");

/// One pinned key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// SHA-256 of the SubjectPublicKeyInfo, standard base64 (no `sha256/`).
    pub spki: String,
    /// What the key is, e.g. "GTS Root R1".
    pub label: String,
}

/// A named set of pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinset {
    /// Unique name.
    pub name: String,
    /// Accepted keys.
    pub pins: Vec<Pin>,
    /// Accepted backup keys (same effect as pins; kept apart for the reader).
    pub backup: Vec<Pin>,
    /// Keys that make a chain fail even when a pin matches.
    pub bad: Vec<Pin>,
    /// Not enforced from this Unix time on.
    pub expires: Option<i64>,
    /// Free text.
    pub description: Option<String>,
}

impl Pinset {
    /// Whether the pinset is enforced at `now`.
    pub fn enforced_at(&self, now: i64) -> bool {
        match self.expires {
            Some(e) => now < e,
            None => true,
        }
    }
}

/// A host (and optionally its subdomains) mapped to a pinset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinEntry {
    /// Normalised host name (lowercase, no trailing dot).
    pub host: String,
    /// Applies to subdomains too.
    pub include_subdomains: bool,
    /// Pinset name.
    pub pinset: String,
}

impl PinEntry {
    /// "example.com" or "*.example.com and example.com" style display.
    pub fn describe(&self) -> String {
        if self.include_subdomains {
            format!("{} (and subdomains)", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// Pinsets and entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinDb {
    pinsets: BTreeMap<String, Pinset>,
    entries: BTreeMap<String, PinEntry>,
}

/// A problem found while reading a pin file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// One line: what is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// The outcome of checking a chain against the pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinCheck {
    /// No entry applies.
    NotPinned,
    /// An entry applies but its pinset expired (not enforced).
    Expired {
        /// The entry.
        entry: PinEntry,
        /// The pinset name.
        pinset: String,
    },
    /// The chain matches.
    Ok {
        /// The entry.
        entry: PinEntry,
        /// The pinset name.
        pinset: String,
        /// The key that matched.
        matched: Pin,
        /// It was a backup pin.
        backup: bool,
    },
    /// The chain violates the pinset.
    Violation {
        /// The entry.
        entry: PinEntry,
        /// The pinset name.
        pinset: String,
        /// A bad hash found on the path, if that was the reason.
        bad: Option<Pin>,
        /// One line: why.
        detail: String,
    },
}

impl PinCheck {
    /// `ok`, `violation` or `not_pinned` (expired counts as not pinned).
    pub fn status(&self) -> &'static str {
        match self {
            PinCheck::NotPinned | PinCheck::Expired { .. } => "not_pinned",
            PinCheck::Ok { .. } => "ok",
            PinCheck::Violation { .. } => "violation",
        }
    }
}

/// Parses `sha256/BASE64` or `BASE64` (a 32-byte SHA-256) into canonical base64.
pub fn parse_spki_hash(s: &str) -> Result<String, String> {
    let t = s.trim();
    let b64 = t
        .strip_prefix("sha256/")
        .or_else(|| t.strip_prefix("SHA256/"))
        .unwrap_or(t);
    if t.starts_with("sha1/") {
        return Err(format!("{t:?}: sha1 pins are not supported, use sha256/…"));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("{t:?} is not base64 ({e})"))?;
    if bytes.len() != 32 {
        return Err(format!(
            "{t:?} decodes to {} bytes, a SHA-256 has 32",
            bytes.len()
        ));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Lowercases, drops one trailing dot, checks the characters.
pub fn normalize_host(h: &str) -> Result<String, String> {
    let t = h.trim();
    let t = t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase();
    if t.is_empty() || t.len() > 253 {
        return Err(format!("{h:?} is not a host name"));
    }
    if t.starts_with("*.") {
        return Err(format!(
            "{h:?}: no wildcards; pin the parent with include_subdomains"
        ));
    }
    let ok = t.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) || t.parse::<std::net::IpAddr>().is_ok();
    if !ok {
        return Err(format!("{h:?} is not a host name"));
    }
    Ok(t)
}

impl PinDb {
    /// An empty database.
    pub fn new() -> PinDb {
        PinDb::default()
    }

    /// The pinsets, by name.
    pub fn pinsets(&self) -> impl Iterator<Item = &Pinset> {
        self.pinsets.values()
    }

    /// The entries, by host.
    pub fn entries(&self) -> impl Iterator<Item = &PinEntry> {
        self.entries.values()
    }

    /// A pinset by name.
    pub fn pinset(&self, name: &str) -> Option<&Pinset> {
        self.pinsets.get(name)
    }

    /// Whether there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.pinsets.is_empty()
    }

    /// Adds or replaces a pinset.
    pub fn insert_pinset(&mut self, p: Pinset) {
        self.pinsets.insert(p.name.clone(), p);
    }

    /// Adds or replaces the entry for its host.
    pub fn insert_entry(&mut self, e: PinEntry) {
        self.entries.insert(e.host.clone(), e);
    }

    /// Removes the entry for `host`; returns it.
    pub fn remove_entry(&mut self, host: &str) -> Option<PinEntry> {
        self.entries.remove(host)
    }

    /// Removes pinsets no entry refers to; returns their names.
    pub fn prune_pinsets(&mut self) -> Vec<String> {
        let used: std::collections::BTreeSet<&str> =
            self.entries.values().map(|e| e.pinset.as_str()).collect();
        let unused: Vec<String> = self
            .pinsets
            .keys()
            .filter(|k| !used.contains(k.as_str()))
            .cloned()
            .collect();
        for k in &unused {
            self.pinsets.remove(k);
        }
        unused
    }

    /// Layers `top` over `self`: its pinsets and entries replace same-named ones.
    pub fn layer(&mut self, top: PinDb) {
        self.pinsets.extend(top.pinsets);
        self.entries.extend(top.entries);
    }

    /// The most specific entry for `host`: an exact entry, else the nearest
    /// parent entry with `include_subdomains`.
    pub fn lookup(&self, host: &str) -> Option<&PinEntry> {
        let host = normalize_host(host).ok()?;
        if let Some(e) = self.entries.get(&host) {
            return Some(e);
        }
        if host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let mut rest = host.as_str();
        while let Some(i) = rest.find('.') {
            rest = &rest[i + 1..];
            if let Some(e) = self.entries.get(rest) {
                if e.include_subdomains {
                    return Some(e);
                }
            }
        }
        None
    }

    /// Checks the SPKIs (base64 SHA-256) proven to be on a chain's path
    /// against the pins for `host` at `now`.
    pub fn check(&self, host: &str, path_spkis: &[String], now: i64) -> PinCheck {
        let Some(entry) = self.lookup(host) else {
            return PinCheck::NotPinned;
        };
        let Some(set) = self.pinsets.get(&entry.pinset) else {
            return PinCheck::NotPinned;
        };
        if !set.enforced_at(now) {
            return PinCheck::Expired {
                entry: entry.clone(),
                pinset: set.name.clone(),
            };
        }
        let has = |list: &[Pin]| -> Option<Pin> {
            path_spkis
                .iter()
                .find_map(|s| list.iter().find(|p| &p.spki == s))
                .cloned()
        };
        if let Some(bad) = has(&set.bad) {
            return PinCheck::Violation {
                entry: entry.clone(),
                pinset: set.name.clone(),
                detail: format!(
                    "the chain contains the key \"{}\" (sha256/{}), which the pinset lists as bad",
                    bad.label, bad.spki
                ),
                bad: Some(bad),
            };
        }
        if let Some(m) = has(&set.pins) {
            return PinCheck::Ok {
                entry: entry.clone(),
                pinset: set.name.clone(),
                matched: m,
                backup: false,
            };
        }
        if let Some(m) = has(&set.backup) {
            return PinCheck::Ok {
                entry: entry.clone(),
                pinset: set.name.clone(),
                matched: m,
                backup: true,
            };
        }
        let expected: Vec<&str> = set
            .pins
            .iter()
            .chain(&set.backup)
            .take(4)
            .map(|p| p.label.as_str())
            .collect();
        let more = set.pins.len() + set.backup.len() > expected.len();
        PinCheck::Violation {
            entry: entry.clone(),
            pinset: set.name.clone(),
            bad: None,
            detail: format!(
                "none of the {} keys on the chain's path is pinned (expected one of: {}{})",
                path_spkis.len(),
                expected.join(", "),
                if more { ", …" } else { "" }
            ),
        }
    }
}

/// The shipped pinsets (a bad shipped file is a build-time bug, caught by tests).
pub fn shipped() -> PinDb {
    parse_toml(SHIPPED_TOML).0
}

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod tests;
