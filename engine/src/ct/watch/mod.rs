//! CT watch: which certificates were issued for a domain (and its
//! subdomains), from CT search back-ends behind one trait ([`CtSearch`]),
//! and which of them come from a CA the site's history never used
//! ([`unfamiliar`]).
//!
//! Layout: this file holds the trait and the types every back-end shares;
//! [`crtsh`] is the crt.sh-style JSON search ([`CrtSh`]); [`rfc6962`] reads
//! a log's `get-sth` / `get-entries` (Merkle tree leaves, [`LogMonitor`]);
//! [`polite`] is the HTTP manners both use ([`Polite`]: a minimum interval
//! between polls, refused rather than slept, and backoff on HTTP 429/5xx
//! honouring `Retry-After`). Parsing is pure. Nothing is queried unless the
//! user adds a watch: the scheduler lives in the daemon.

pub mod crtsh;
pub mod polite;
pub mod rfc6962;

use std::fmt;

use crate::ca::CaIdentity;

pub use crtsh::{dn_parts, parse_crtsh, CrtSh};
pub use polite::Polite;
pub use rfc6962::{parse_entries, parse_leaf, parse_sth, verify_sth, LeafEntry, LogMonitor, Sth};

/// One certificate (or precertificate) a back-end reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuance {
    /// Which back-end (`crt.sh` or the log URL).
    pub source: String,
    /// The back-end's id (crt.sh id, or the log entry index).
    pub id: String,
    /// Issuer DN as text.
    pub issuer: String,
    /// Issuer organisation.
    pub issuer_org: Option<String>,
    /// Issuer common name.
    pub issuer_cn: Option<String>,
    /// DNS names (lowercase).
    pub names: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: Option<i64>,
    /// notAfter, Unix seconds.
    pub not_after: Option<i64>,
    /// A precertificate entry.
    pub precert: bool,
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

/// A CT search back-end.
pub trait CtSearch: Send {
    /// A short name for messages.
    fn name(&self) -> String;
    /// Certificates for `domains` and their subdomains (for log monitors:
    /// those logged since the previous poll).
    fn poll(&mut self, domains: &[String]) -> Result<Vec<Issuance>, WatchError>;
}

/// Whether `name` is `domain` or one of its subdomains (a wildcard counts).
pub fn covers(domain: &str, name: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    let n = n.strip_prefix("*.").unwrap_or(&n);
    n == d || n.ends_with(&format!(".{d}"))
}

/// The issuances from a CA none of `known` names (by organisation or
/// issuing CA name). Empty when there is no history to compare with.
pub fn unfamiliar<'a>(issuances: &'a [Issuance], known: &[CaIdentity]) -> Vec<&'a Issuance> {
    if known.is_empty() {
        return Vec::new();
    }
    let eq = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    issuances
        .iter()
        .filter(|i| {
            !known.iter().any(|k| {
                let org = i.issuer_org.as_deref();
                org.is_some_and(|o| {
                    k.issuer_org.as_deref().is_some_and(|ko| eq(o, ko)) || eq(o, &k.owner)
                }) || i
                    .issuer_cn
                    .as_deref()
                    .is_some_and(|c| eq(c, &k.intermediate))
            })
        })
        .collect()
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
