//! CT watch: which certificates were issued for a domain (and its
//! subdomains), from CT search services behind one trait ([`Search`]), and
//! which of them come from a CA operator the site's history never used
//! ([`familiar`], decided by keys and CCADB, never by names).
//!
//! Layout: this file holds the traits and the types every back-end shares;
//! [`crtsh`] is the crt.sh-compatible JSON search ([`CrtSh`], each
//! certificate downloaded by `?d=ID`); [`certspotter`] SSLMate's
//! `/v1/issuances` API ([`CertSpotter`]); [`merge`] makes a precertificate
//! and its certificate one issuance; [`issuer`] establishes the issuing
//! CA's key by the certificate's signature; [`familiar`] judges; [`run`]
//! is the one search pipeline of the CLI and the daemon; [`rfc6962`] holds
//! the RFC 6962 parsing `ct tail` uses (tree heads and their signature,
//! Merkle tree leaves); [`polite`] is the HTTP manners the search services
//! use ([`Polite`]: a minimum interval between polls, refused rather than
//! slept, and backoff on HTTP 429/5xx honouring `Retry-After`). Parsing is
//! pure. Nothing is queried unless the user runs `ct issuances` or adds a
//! CT watch (the daemon's scheduler).

pub mod certspotter;
pub mod crtsh;
pub mod familiar;
pub mod issuer;
pub mod merge;
pub mod polite;
pub mod rfc6962;
pub mod run;

use std::fmt;

pub use certspotter::{parse_certspotter, CertSpotter};
pub use crtsh::{dn_parts, parse_crtsh, CrtSh};
pub use merge::merge;
pub use polite::Polite;
pub use rfc6962::{parse_leaf, parse_sth, verify_sth, LeafEntry, Sth};

/// How the issuing CA's key of an issuance is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IssuerKey {
    /// Not known: no back-end said it and no known CA certificate's key
    /// verifies the certificate's signature.
    #[default]
    Unknown,
    /// The search service said so (certspotter's `issuer.pubkey_sha256`).
    Claimed,
    /// The certificate's signature verifies with this key.
    Verified,
}

impl IssuerKey {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKey::Unknown => "unknown",
            IssuerKey::Claimed => "claimed",
            IssuerKey::Verified => "verified",
        }
    }
}

/// One issuance a back-end reported: a certificate, its precertificate,
/// or both (one issuance, see [`merge`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issuance {
    /// Which back-end (`crt.sh`, `certspotter` or the log URL).
    pub source: String,
    /// The back-end's id (crt.sh id, certspotter id, or the log entry index).
    pub id: String,
    /// The back-end's key for "the same issuance" (see [`Issuance::key`]).
    pub key: String,
    /// SHA-256 (hex) of the certificate, else of the precertificate.
    pub sha256: Option<String>,
    /// SHA-256 (hex) of the precertificate, when one was logged.
    pub precert_sha256: Option<String>,
    /// Serial number (lowercase hex), when known.
    pub serial: Option<String>,
    /// Issuer DN as text.
    pub issuer: String,
    /// Issuer organisation (display only).
    pub issuer_org: Option<String>,
    /// Issuer common name (display only).
    pub issuer_cn: Option<String>,
    /// SHA-256 (base64) of the issuing CA's SPKI.
    pub issuer_spki: Option<String>,
    /// How [`Issuance::issuer_spki`] is known.
    pub issuer_key: IssuerKey,
    /// DNS names under the watched domain (lowercase).
    pub names: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: Option<i64>,
    /// notAfter, Unix seconds.
    pub not_after: Option<i64>,
    /// Only a precertificate is known.
    pub precert: bool,
    /// The (pre)certificate DER, when the back-end gave it.
    pub der: Option<Vec<u8>>,
}

impl Issuance {
    /// Whether the issuance is expired at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.not_after.is_some_and(|t| t < now)
    }

    /// Whether `sha256` (hex) names this issuance's certificate or
    /// precertificate.
    pub fn is(&self, sha256: &str) -> bool {
        let s = sha256.to_ascii_lowercase();
        self.sha256.as_deref() == Some(s.as_str())
            || self.precert_sha256.as_deref() == Some(s.as_str())
    }
}

/// Why a back-end gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchError {
    /// Transport failure.
    Http {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The server refused or failed (429, 5xx, …); back off for `retry_in_secs`.
    Status {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Seconds before the next attempt.
        retry_in_secs: u64,
    },
    /// Still backing off after an earlier failure; no request was made.
    Backoff {
        /// Seconds left.
        retry_in_secs: u64,
    },
    /// Polled again before the minimum interval; no request was made.
    RateLimited {
        /// Seconds left.
        retry_in_secs: u64,
    },
    /// The answer was not what the API promises.
    Parse {
        /// The URL or part.
        what: String,
        /// Why.
        detail: String,
    },
}

impl fmt::Display for WatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchError::Http { url, detail } => write!(f, "{url}: {detail}"),
            WatchError::Status {
                url,
                status,
                retry_in_secs,
            } => write!(f, "{url}: HTTP {status}; retrying in {retry_in_secs} s"),
            WatchError::Backoff { retry_in_secs } => {
                write!(f, "backing off after errors; retrying in {retry_in_secs} s")
            }
            WatchError::RateLimited { retry_in_secs } => {
                write!(f, "polled too soon; next poll in {retry_in_secs} s")
            }
            WatchError::Parse { what, detail } => write!(f, "{what}: unexpected answer: {detail}"),
        }
    }
}

impl std::error::Error for WatchError {}

/// What a search service is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The domain (lowercase, no trailing dot).
    pub domain: String,
    /// Also its subdomains, of any depth.
    pub include_subdomains: bool,
    /// Also expired issuances.
    pub include_expired: bool,
}

impl Query {
    /// A query for `domain` (normalised).
    pub fn new(domain: &str, include_subdomains: bool, include_expired: bool) -> Query {
        Query {
            domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
            include_subdomains,
            include_expired,
        }
    }

    /// Whether a certificate for `name` concerns this query: the domain
    /// itself or a wildcard covering it, and with `include_subdomains` any
    /// name under it.
    pub fn wants(&self, name: &str) -> bool {
        let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if self.include_subdomains {
            return covers(&self.domain, &n);
        }
        n == self.domain
            || n.strip_prefix("*.").is_some_and(|parent| {
                self.domain
                    .split_once('.')
                    .is_some_and(|(_, p)| p == parent)
            })
    }
}

/// One answer of a search service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The issuances, merged (a precertificate and its certificate are one).
    pub issuances: Vec<Issuance>,
    /// Where the next search continues (`after`), when the service has one.
    pub position: Option<String>,
    /// Rows whose certificate was not downloaded (the per-run limit, or
    /// a download that was not that row's certificate).
    pub not_downloaded: usize,
    /// Why some certificates could not be used (one line each).
    pub notes: Vec<String>,
}

/// A CT search service: crt.sh ([`CrtSh`]) or certspotter ([`CertSpotter`]).
pub trait Search: Send {
    /// A short name for messages.
    fn name(&self) -> String;
    /// The issuances for `q` discovered after `after` (a [`Page::position`]
    /// of an earlier answer), or all of them.
    fn search(&mut self, q: &Query, after: Option<&str>) -> Result<Page, WatchError>;
    /// The certificates downloaded by id (crt.sh), for the caller's cache.
    fn downloads(&mut self) -> Option<&mut std::collections::HashMap<String, Vec<u8>>> {
        None
    }
}

/// The search service of `url`: certspotter's API when the URL names
/// `/v1/issuances` or api.certspotter.com; else a crt.sh-compatible
/// search, and when that path answers HTTP 404 at a URL without a path,
/// certspotter's API under it (`URL/v1/issuances`), which is then kept.
/// `roots`: the TLS roots for HTTPS (`None`: the Mozilla roots).
pub fn service_for(url: &str, roots: Option<&[Vec<u8>]>) -> Result<Box<dyn Search>, WatchError> {
    let lower = url.to_ascii_lowercase();
    let polite = || Polite::new(roots, std::time::Duration::ZERO);
    if lower.contains("/v1/issuances") || lower.contains("api.certspotter.com") {
        return Ok(Box::new(CertSpotter::new(url, polite()?)));
    }
    let crtsh = CrtSh::new(url, polite()?);
    let bare = url
        .split_once("://")
        .map(|(_, rest)| !rest.trim_end_matches('/').contains('/') && !rest.contains('?'))
        .unwrap_or(false);
    if !bare {
        return Ok(Box::new(crtsh));
    }
    Ok(Box::new(Either {
        crtsh,
        certspotter: CertSpotter::new(url, polite()?),
        use_certspotter: false,
    }))
}

/// A server at a bare URL: crt.sh-compatible, else certspotter's API.
struct Either {
    crtsh: CrtSh,
    certspotter: CertSpotter,
    use_certspotter: bool,
}

impl Search for Either {
    fn name(&self) -> String {
        if self.use_certspotter {
            self.certspotter.name()
        } else {
            self.crtsh.name()
        }
    }

    fn search(&mut self, q: &Query, after: Option<&str>) -> Result<Page, WatchError> {
        if self.use_certspotter {
            return self.certspotter.search(q, after);
        }
        match self.crtsh.search(q, after) {
            Err(WatchError::Status { status: 404, .. }) => {
                let page = self.certspotter.search(q, after)?;
                self.use_certspotter = true;
                Ok(page)
            }
            r => r,
        }
    }

    fn downloads(&mut self) -> Option<&mut std::collections::HashMap<String, Vec<u8>>> {
        if self.use_certspotter {
            None
        } else {
            self.crtsh.downloads()
        }
    }
}

/// The default search service.
pub const DEFAULT_SEARCH_URL: &str = "https://crt.sh/";

/// Percent-encodes a query value (unreserved characters stay).
pub(crate) fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `name` is `domain` or one of its subdomains (a wildcard counts).
pub fn covers(domain: &str, name: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let n = n.strip_prefix("*.").unwrap_or(&n);
    n == d || n.ends_with(&format!(".{d}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_table() {
        for (d, n, want) in [
            ("example.com", "example.com", true),
            ("example.com", "www.example.com", true),
            ("example.com", "*.example.com", true),
            ("example.com", "WWW.Example.COM.", true),
            ("example.com", "badexample.com", false),
            ("example.com", "example.com.evil.net", false),
            ("example.com", "com", false),
        ] {
            assert_eq!(covers(d, n), want, "{d} {n}");
        }
    }
}
