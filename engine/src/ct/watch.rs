//! CT watch: which certificates were issued for a domain (and its
//! subdomains), from CT search back-ends behind one trait, and which of them
//! come from a CA the site's history never used.
//!
//! Pure here: parsing crt.sh-style JSON, RFC 6962 `get-sth` / `get-entries`
//! (Merkle tree leaves), name matching, and [`unfamiliar`]. The HTTP
//! back-ends ([`CrtSh`], [`LogMonitor`]) need the `net-fetch` feature; they
//! cache, rate-limit (a minimum interval between polls, refused rather than
//! slept), and back off on HTTP 429/5xx (honouring `Retry-After`).
//! Nothing is queried unless the user adds a watch: the scheduler lives in
//! the daemon.

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use crate::ca::CaIdentity;

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

/// (O, CN) of a DN written as `C=US, O=Let's Encrypt, CN=R3`.
pub fn dn_parts(dn: &str) -> (Option<String>, Option<String>) {
    let (mut o, mut cn) = (None, None);
    let mut rest = dn;
    while !rest.is_empty() {
        let (part, tail) = split_rdn(rest);
        rest = tail;
        if let Some((k, v)) = part.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "O" if o.is_none() => o = Some(v),
                "CN" if cn.is_none() => cn = Some(v),
                _ => {}
            }
        }
    }
    (o, cn)
}

fn split_rdn(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, ch) in s.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&s[..i], s[i + 1..].trim_start()),
            _ => {}
        }
    }
    (s, "")
}

fn naive_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let with_z = if s.ends_with('Z') || s.contains('+') {
        s.to_string()
    } else {
        format!("{s}Z")
    };
    time::OffsetDateTime::parse(&with_z, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[derive(Deserialize)]
struct CrtShRow {
    id: serde_json::Value,
    issuer_name: String,
    #[serde(default)]
    common_name: Option<String>,
    #[serde(default)]
    name_value: Option<String>,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
}

/// Parses a crt.sh `output=json` answer, keeping names under `domain`.
pub fn parse_crtsh(domain: &str, body: &[u8]) -> Result<Vec<Issuance>, WatchError> {
    let rows: Vec<CrtShRow> = serde_json::from_slice(body).map_err(|e| WatchError::Parse {
        what: "crt.sh JSON".into(),
        detail: e.to_string(),
    })?;
    let mut out = Vec::new();
    for r in rows {
        let mut names: Vec<String> = r
            .name_value
            .as_deref()
            .unwrap_or_default()
            .split('\n')
            .chain(r.common_name.as_deref())
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty() && covers(domain, n))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let (issuer_org, issuer_cn) = dn_parts(&r.issuer_name);
        out.push(Issuance {
            source: "crt.sh".into(),
            id: match &r.id {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            },
            issuer: r.issuer_name,
            issuer_org,
            issuer_cn,
            names,
            not_before: r.not_before.as_deref().and_then(naive_time),
            not_after: r.not_after.as_deref().and_then(naive_time),
            precert: false,
        });
    }
    Ok(out)
}

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sth {
    /// Number of entries.
    pub tree_size: u64,
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// Root hash.
    pub root_hash: Vec<u8>,
    /// The TLS-encoded `DigitallySigned`.
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct RawSth {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

fn b64d(s: &str, what: &str) -> Result<Vec<u8>, WatchError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| WatchError::Parse {
            what: what.into(),
            detail: "not base64".into(),
        })
}

/// Parses a `get-sth` answer.
pub fn parse_sth(body: &[u8]) -> Result<Sth, WatchError> {
    let r: RawSth = serde_json::from_slice(body).map_err(|e| WatchError::Parse {
        what: "get-sth".into(),
        detail: e.to_string(),
    })?;
    let root_hash = b64d(&r.sha256_root_hash, "get-sth sha256_root_hash")?;
    if root_hash.len() != 32 {
        return Err(WatchError::Parse {
            what: "get-sth".into(),
            detail: "root hash is not 32 bytes".into(),
        });
    }
    Ok(Sth {
        tree_size: r.tree_size,
        timestamp: r.timestamp,
        root_hash,
        signature: b64d(&r.tree_head_signature, "get-sth tree_head_signature")?,
    })
}

/// Verifies an STH's signature with a log from the log list (RFC 6962 §3.5).
pub fn verify_sth(sth: &Sth, log: &super::loglist::Log) -> bool {
    let mut data = vec![0u8, 1];
    data.extend_from_slice(&sth.timestamp.to_be_bytes());
    data.extend_from_slice(&sth.tree_size.to_be_bytes());
    data.extend_from_slice(&sth.root_hash);
    let s = &sth.signature;
    if s.len() < 4 || (s[2] as usize) << 8 | s[3] as usize != s.len() - 4 {
        return false;
    }
    let alg: &dyn ring::signature::VerificationAlgorithm = match (s[0], s[1], log.alg) {
        (4, 3, super::loglist::KeyAlg::EcdsaP256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
        (4, 1, super::loglist::KeyAlg::Rsa) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        _ => return false,
    };
    ring::signature::UnparsedPublicKey::new(alg, &log.public_key)
        .verify(&data, &s[4..])
        .is_ok()
}

#[derive(Deserialize)]
struct RawEntries {
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    leaf_input: String,
}

/// A decoded Merkle tree leaf: entry type and certificate (or precert TBS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafEntry {
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// A precertificate entry (`cert` is then a TBSCertificate).
    pub precert: bool,
    /// The certificate DER, or the precertificate's TBSCertificate DER.
    pub cert: Vec<u8>,
}

/// Decodes a `MerkleTreeLeaf` (RFC 6962 §3.4).
pub fn parse_leaf(leaf: &[u8]) -> Result<LeafEntry, String> {
    let take = |b: &[u8], at: usize, n: usize| -> Result<Vec<u8>, String> {
        b.get(at..at + n)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "truncated leaf".to_string())
    };
    if leaf.len() < 12 || leaf[0] != 0 || leaf[1] != 0 {
        return Err("not a v1 timestamped_entry leaf".into());
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&leaf[2..10]);
    let entry_type = u16::from_be_bytes([leaf[10], leaf[11]]);
    let (precert, at) = match entry_type {
        0 => (false, 12),
        1 => (true, 12 + 32),
        t => return Err(format!("unknown entry type {t}")),
    };
    let len = take(leaf, at, 3)?;
    let n = (len[0] as usize) << 16 | (len[1] as usize) << 8 | len[2] as usize;
    let cert = take(leaf, at + 3, n)?;
    Ok(LeafEntry {
        timestamp: u64::from_be_bytes(ts),
        precert,
        cert,
    })
}

fn issuance_from_tbs(
    tbs: &x509_parser::certificate::TbsCertificate<'_>,
    source: &str,
    id: String,
    precert: bool,
) -> Issuance {
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
    };
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = tbs.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.push(d.to_ascii_lowercase());
            }
        }
    }
    if let Some(cn) = first(&mut tbs.subject().iter_common_name()) {
        names.push(cn.to_ascii_lowercase());
    }
    Issuance {
        source: source.to_string(),
        id,
        issuer: tbs.issuer().to_string(),
        issuer_org: first(&mut tbs.issuer().iter_organization()),
        issuer_cn: first(&mut tbs.issuer().iter_common_name()),
        names,
        not_before: Some(tbs.validity().not_before.timestamp()),
        not_after: Some(tbs.validity().not_after.timestamp()),
        precert,
    }
}

/// Parses a `get-entries` answer whose first entry has index `start`,
/// keeping entries for `domains`. Returns them and the number of entries read.
pub fn parse_entries(
    source: &str,
    start: u64,
    body: &[u8],
    domains: &[String],
) -> Result<(Vec<Issuance>, u64), WatchError> {
    use x509_parser::prelude::FromDer as _;
    let raw: RawEntries = serde_json::from_slice(body).map_err(|e| WatchError::Parse {
        what: "get-entries".into(),
        detail: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, e) in raw.entries.iter().enumerate() {
        let idx = start + i as u64;
        let what = || format!("get-entries entry {idx}");
        let bytes = b64d(&e.leaf_input, &what())?;
        let leaf = parse_leaf(&bytes).map_err(|d| WatchError::Parse {
            what: what(),
            detail: d,
        })?;
        let parsed = if leaf.precert {
            x509_parser::certificate::TbsCertificate::from_der(&leaf.cert)
                .map(|(_, t)| issuance_from_tbs(&t, source, idx.to_string(), true))
        } else {
            x509_parser::certificate::X509Certificate::from_der(&leaf.cert)
                .map(|(_, c)| issuance_from_tbs(&c.tbs_certificate, source, idx.to_string(), false))
        };
        let mut iss = parsed.map_err(|err| WatchError::Parse {
            what: what(),
            detail: err.to_string(),
        })?;
        iss.names.retain(|n| domains.iter().any(|d| covers(d, n)));
        iss.names.sort();
        iss.names.dedup();
        if !iss.names.is_empty() {
            out.push(iss);
        }
    }
    Ok((out, raw.entries.len() as u64))
}

pub use net::{CrtSh, LogMonitor, Polite};

mod net {
    use std::collections::HashMap;
    use std::io::Read as _;
    use std::time::{Duration, Instant};

    use super::{
        parse_crtsh, parse_entries, parse_sth, verify_sth, CtSearch, Issuance, WatchError,
    };
    use crate::ct::loglist::Log;

    const MAX_BODY: u64 = 16 * 1024 * 1024;

    /// HTTP with manners: a minimum interval between polls, exponential
    /// backoff after 429/5xx (or the server's `Retry-After`), bounded bodies.
    pub struct Polite {
        client: reqwest::blocking::Client,
        /// Minimum time between two polls.
        pub min_interval: Duration,
        /// First backoff step.
        pub backoff_base: Duration,
        /// Longest backoff.
        pub backoff_max: Duration,
        last_poll: Option<Instant>,
        failures: u32,
        backoff_until: Option<Instant>,
    }

    impl Polite {
        /// A client over rustls/ring trusting `roots` (DER) or the Mozilla roots.
        pub fn new(
            roots: Option<&[Vec<u8>]>,
            min_interval: Duration,
        ) -> Result<Polite, WatchError> {
            let tls = crate::ct::fetch::client_tls(roots).map_err(|e| WatchError::Http {
                url: String::new(),
                detail: e.to_string(),
            })?;
            let client = reqwest::blocking::Client::builder()
                .tls_backend_preconfigured(tls)
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("certwatch/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| WatchError::Http {
                    url: String::new(),
                    detail: e.to_string(),
                })?;
            Ok(Polite {
                client,
                min_interval,
                backoff_base: Duration::from_secs(60),
                backoff_max: Duration::from_secs(6 * 3600),
                last_poll: None,
                failures: 0,
                backoff_until: None,
            })
        }

        /// Starts a poll: refused while backing off or before the minimum interval.
        pub fn begin_poll(&mut self) -> Result<(), WatchError> {
            let now = Instant::now();
            if let Some(u) = self.backoff_until.filter(|u| *u > now) {
                return Err(WatchError::Backoff {
                    retry_in_secs: (u - now).as_secs().max(1),
                });
            }
            if let Some(l) = self.last_poll {
                let next = l + self.min_interval;
                if next > now {
                    return Err(WatchError::RateLimited {
                        retry_in_secs: (next - now).as_secs().max(1),
                    });
                }
            }
            self.last_poll = Some(now);
            Ok(())
        }

        /// GETs `url`; a 429/5xx starts or extends the backoff.
        pub fn get(&mut self, url: &str) -> Result<Vec<u8>, WatchError> {
            let resp = self.client.get(url).send().map_err(|e| WatchError::Http {
                url: url.to_string(),
                detail: e.to_string(),
            })?;
            let status = resp.status();
            if status.as_u16() == 429 || status.is_server_error() {
                self.failures = self.failures.saturating_add(1);
                let exp = self
                    .backoff_base
                    .saturating_mul(1u32 << (self.failures - 1).min(16))
                    .min(self.backoff_max);
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .map(|d| d.min(self.backoff_max));
                let wait = retry_after.unwrap_or(exp);
                self.backoff_until = Some(Instant::now() + wait);
                return Err(WatchError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    retry_in_secs: wait.as_secs(),
                });
            }
            if !status.is_success() {
                return Err(WatchError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    retry_in_secs: self.min_interval.as_secs(),
                });
            }
            self.failures = 0;
            self.backoff_until = None;
            let mut body = Vec::new();
            resp.take(MAX_BODY + 1)
                .read_to_end(&mut body)
                .map_err(|e| WatchError::Http {
                    url: url.to_string(),
                    detail: e.to_string(),
                })?;
            if body.len() as u64 > MAX_BODY {
                return Err(WatchError::Parse {
                    what: url.to_string(),
                    detail: format!("answer larger than {MAX_BODY} bytes"),
                });
            }
            Ok(body)
        }
    }

    /// A crt.sh-style JSON search (`?q=%.DOMAIN&output=json`), cached per domain.
    pub struct CrtSh {
        base: String,
        http: Polite,
        /// How long an answer is reused.
        pub ttl: Duration,
        cache: HashMap<String, (Instant, Vec<Issuance>)>,
    }

    impl CrtSh {
        /// `base` e.g. `https://crt.sh/`.
        pub fn new(base: &str, http: Polite) -> CrtSh {
            CrtSh {
                base: base.to_string(),
                http,
                ttl: Duration::from_secs(6 * 3600),
                cache: HashMap::new(),
            }
        }
    }

    fn pct(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    impl CtSearch for CrtSh {
        fn name(&self) -> String {
            format!("crt.sh search at {}", self.base)
        }

        fn poll(&mut self, domains: &[String]) -> Result<Vec<Issuance>, WatchError> {
            let now = Instant::now();
            let stale: Vec<&String> = domains
                .iter()
                .filter(|d| {
                    self.cache
                        .get(*d)
                        .is_none_or_compat(|(t, _)| now.duration_since(*t) >= self.ttl)
                })
                .collect();
            if !stale.is_empty() {
                self.http.begin_poll()?;
                for d in stale {
                    // `%.d` finds the subdomains, `d` the apex itself.
                    let mut found = Vec::new();
                    for q in [format!("%.{d}"), d.clone()] {
                        let url = format!("{}?q={}&output=json", self.base, pct(&q));
                        let body = self.http.get(&url)?;
                        found.extend(parse_crtsh(d, &body)?);
                    }
                    found.sort_by(|a, b| a.id.cmp(&b.id));
                    found.dedup_by(|a, b| a.id == b.id);
                    self.cache.insert(d.clone(), (Instant::now(), found));
                }
            }
            Ok(domains
                .iter()
                .filter_map(|d| self.cache.get(d))
                .flat_map(|(_, v)| v.iter().cloned())
                .collect())
        }
    }

    trait NoneOr<T> {
        fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool;
    }

    impl<T> NoneOr<T> for Option<&T> {
        fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool {
            match self {
                None => true,
                Some(v) => f(v),
            }
        }
    }

    /// RFC 6962 log monitoring: `get-sth`, then `get-entries` over the entries
    /// logged since the previous poll (at most `window` per poll).
    pub struct LogMonitor {
        base: String,
        http: Polite,
        log: Option<Log>,
        /// Next entry to read; `None` until the first poll.
        pub next_index: Option<u64>,
        /// Most entries read per poll.
        pub window: u64,
        /// Entries asked for per `get-entries` request.
        pub batch: u64,
    }

    impl LogMonitor {
        /// `base` is the log URL (ending in `/`); `log` (from the log list)
        /// enables STH signature checks. The first poll starts `window`
        /// entries before the tree head unless `next_index` is set.
        pub fn new(base: &str, log: Option<Log>, http: Polite) -> LogMonitor {
            let mut base = base.to_string();
            if !base.ends_with('/') {
                base.push('/');
            }
            LogMonitor {
                base,
                http,
                log,
                next_index: None,
                window: 1000,
                batch: 256,
            }
        }
    }

    impl CtSearch for LogMonitor {
        fn name(&self) -> String {
            format!("RFC 6962 log {}", self.base)
        }

        fn poll(&mut self, domains: &[String]) -> Result<Vec<Issuance>, WatchError> {
            self.http.begin_poll()?;
            let sth_url = format!("{}ct/v1/get-sth", self.base);
            let sth = parse_sth(&self.http.get(&sth_url)?)?;
            if let Some(log) = &self.log {
                if !verify_sth(&sth, log) {
                    return Err(WatchError::Parse {
                        what: sth_url,
                        detail: "tree head signature does not verify with the log's key".into(),
                    });
                }
            }
            let mut idx = self
                .next_index
                .unwrap_or_else(|| sth.tree_size.saturating_sub(self.window));
            let end = sth.tree_size.min(idx.saturating_add(self.window));
            let mut out = Vec::new();
            while idx < end {
                let last = (idx + self.batch.max(1)).min(end) - 1;
                let url = format!("{}ct/v1/get-entries?start={idx}&end={last}", self.base);
                let body = self.http.get(&url)?;
                let (found, n) = parse_entries(&self.base, idx, &body, domains)?;
                if n == 0 || idx + n > last + 1 {
                    return Err(WatchError::Parse {
                        what: url,
                        detail: format!("{n} entries for a request of {}", last + 1 - idx),
                    });
                }
                out.extend(found);
                idx += n;
                self.next_index = Some(idx);
            }
            self.next_index = Some(idx);
            Ok(out)
        }
    }
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

    #[test]
    fn dn_parts_table() {
        assert_eq!(
            dn_parts("C=US, O=Let's Encrypt, CN=R3"),
            (Some("Let's Encrypt".into()), Some("R3".into()))
        );
        assert_eq!(
            dn_parts(r#"C=GB, O="Sectigo Limited, Inc", CN=Sectigo RSA"#),
            (
                Some("Sectigo Limited, Inc".into()),
                Some("Sectigo RSA".into())
            )
        );
        assert_eq!(dn_parts(""), (None, None));
    }

    #[test]
    fn crtsh_parsing() {
        let body = br#"[{"issuer_ca_id":1,"issuer_name":"C=US, O=Let's Encrypt, CN=R3","common_name":"example.com","name_value":"example.com\nwww.example.com\nother.net","id":42,"entry_timestamp":"2024-01-01T00:00:00.5","not_before":"2024-01-01T00:00:00","not_after":"2024-03-31T00:00:00","serial_number":"01"}]"#;
        let got = parse_crtsh("example.com", body).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].names, vec!["example.com", "www.example.com"]);
        assert_eq!(got[0].issuer_org.as_deref(), Some("Let's Encrypt"));
        assert_eq!(got[0].id, "42");
        assert_eq!(got[0].not_before, Some(1_704_067_200));
        for bad in [&b"<html>"[..], b"{}", b"[{\"id\":1}]", b""] {
            assert!(matches!(
                parse_crtsh("example.com", bad),
                Err(WatchError::Parse { .. })
            ));
        }
    }

    #[test]
    fn leaf_parsing_rejects_garbage() {
        for bad in [
            &[][..],
            &[0, 0, 0],
            &[1; 20],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 1],
        ] {
            assert!(parse_leaf(bad).is_err(), "{bad:?}");
        }
        let mut ok = vec![
            0u8, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0xAB, 0xCD, 0, 0,
        ];
        let e = parse_leaf(&ok).unwrap();
        assert_eq!(
            (e.timestamp, e.precert, e.cert),
            (1, false, vec![0xAB, 0xCD])
        );
        ok.truncate(16);
        assert!(parse_leaf(&ok).is_err());
    }
}
