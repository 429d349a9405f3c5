//! CT log lists: Google's v3 JSON and Apple's v5 JSON (the same shape for the
//! fields certwatch reads), merging, and verifying Google's signed list.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

use super::der;

/// Google's log-list signing key (RSA 4096), as published with the v3 list
/// (`https://www.gstatic.com/ct/log_list/v3/log_list_pubkey.pem`). A public fact.
pub const GOOGLE_LOG_LIST_PUBKEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAsu0BHGnQ++W2CTdyZyxv
HHRALOZPlnu/VMVgo2m+JZ8MNbAOH2cgXb8mvOj8flsX/qPMuKIaauO+PwROMjiq
fUpcFm80Kl7i97ZQyBDYKm3MkEYYpGN+skAR2OebX9G2DfDqFY8+jUpOOWtBNr3L
rmVcwx+FcFdMjGDlrZ5JRmoJ/SeGKiORkbbu9eY1Wd0uVhz/xI5bQb0OgII7hEj+
i/IPbJqOHgB8xQ5zWAJJ0DmG+FM6o7gk403v6W3S8qRYiR84c50KppGwe4YqSMkF
bLDleGQWLoaDSpEWtESisb4JiLaY4H+Kk0EyAhPSb+49JfUozYl+lf7iFN3qRq/S
IXXTh6z0S7Qa8EYDhKGCrpI03/+qprwy+my6fpWHi6aUIk4holUCmWvFxZDfixox
K0RlqbFDl2JXMBquwlQpm8u5wrsic1ksIv9z8x9zh4PJqNpCah0ciemI3YGRQqSe
/mRRXBiSn9YQBUPcaeqCYan+snGADFwHuXCd9xIAdFBolw9R9HTedHGUfVXPJDiF
4VusfX6BRR/qaadB+bqEArF/TzuDUr6FvOR4o8lUUxgLuZ/7HO+bHnaPFKYHHSm+
+z1lVDhhYuSZ8ax3T0C3FZpb7HMjZtpEorSV5ElKJEJwrhrBCMOD8L01EoSPrGlS
1w22i9uGHMn/uGQKo28u7AsCAwEAAQ==
-----END PUBLIC KEY-----
";

/// Google's v3 list and its signature.
pub const GOOGLE_LOG_LIST_URL: &str = "https://www.gstatic.com/ct/log_list/v3/log_list.json";
/// The detached signature of [`GOOGLE_LOG_LIST_URL`].
pub const GOOGLE_LOG_LIST_SIG_URL: &str = "https://www.gstatic.com/ct/log_list/v3/log_list.sig";

/// Largest log list accepted (Google's all-logs list is ~165 KB).
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;

/// A list older than this (by its date, at the evaluation time) is stale:
/// Chrome stops enforcing CT when its list is more than 70 days old.
pub const MAX_LIST_AGE_SECS: i64 = 70 * 86_400;

/// Why a log list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListError(pub String);

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ListError {}

/// A log's lifecycle state, as the list gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    /// Not yet trusted.
    Pending,
    /// Trusted, probationary.
    Qualified,
    /// Trusted.
    Usable,
    /// Trusted for existing SCTs, frozen.
    ReadOnly,
    /// No longer trusted for SCTs after the state's timestamp.
    Retired,
    /// Never (or no longer) trusted.
    Rejected,
    /// No state given, in a list without states (a local or test list):
    /// taken as trusted.
    Unknown,
    /// No state given in one of Google's lists, or a `log_type` of `test` or
    /// `monitoring_only`: the log is not part of Chrome's policy (test and
    /// monitoring-only logs), so its SCTs never count.
    NotInPolicy,
}

impl LogState {
    fn parse(s: &str) -> LogState {
        match s {
            "pending" => LogState::Pending,
            "qualified" => LogState::Qualified,
            "usable" => LogState::Usable,
            "readonly" => LogState::ReadOnly,
            "retired" => LogState::Retired,
            "rejected" => LogState::Rejected,
            _ => LogState::Unknown,
        }
    }

    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogState::Pending => "pending",
            LogState::Qualified => "qualified",
            LogState::Usable => "usable",
            LogState::ReadOnly => "readonly",
            LogState::Retired => "retired",
            LogState::Rejected => "rejected",
            LogState::Unknown => "unknown",
            LogState::NotInPolicy => "not_in_policy",
        }
    }
}

/// The log's signature algorithm, from its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// ECDSA P-256 with SHA-256.
    EcdsaP256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rsa,
}

/// One CT log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// SHA-256 of the key.
    pub log_id: [u8; 32],
    /// Human name.
    pub description: String,
    /// Operator name.
    pub operator: String,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// `subjectPublicKey` bits (what ring verifies with).
    pub public_key: Vec<u8>,
    /// Key algorithm.
    pub alg: KeyAlg,
    /// RFC 6962 log (`url`) rather than a static-ct-api (tiled) log.
    pub rfc6962: bool,
    /// `url` or `submission_url`.
    pub url: String,
    /// `monitoring_url` for tiled logs.
    pub monitoring_url: Option<String>,
    /// State.
    pub state: LogState,
    /// When the state began, Unix seconds.
    pub state_since: Option<i64>,
    /// Accepted notAfter window `[start, end)`, Unix seconds.
    pub temporal_interval: Option<(i64, i64)>,
    /// Earlier operators with the time each stopped operating the log
    /// (Unix seconds), oldest first (`previous_operators`).
    pub previous_operators: Vec<(String, i64)>,
}

impl Log {
    /// Whether an SCT with timestamp `t` (Unix seconds) from this log counts.
    pub fn usable_for_sct_at(&self, t: i64) -> bool {
        match self.state {
            LogState::Pending | LogState::NotInPolicy => false,
            // A list without states (a local or test list) is taken as trusted.
            LogState::Qualified | LogState::Usable | LogState::ReadOnly | LogState::Unknown => true,
            LogState::Retired | LogState::Rejected => self.state_since.is_some_and(|s| t < s),
        }
    }

    /// The log's operator at `t` (Unix seconds): the previous operator whose
    /// `end_time` is the first after `t`, else the current one. Chrome takes
    /// an SCT's operator as of the SCT's timestamp.
    pub fn operator_at(&self, t: i64) -> &str {
        self.previous_operators
            .iter()
            .find(|(_, end)| t < *end)
            .map(|(name, _)| name.as_str())
            .unwrap_or(&self.operator)
    }

    /// Base64 log id.
    pub fn log_id_b64(&self) -> String {
        b64(&self.log_id)
    }
}

/// Standard base64.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One or more merged log lists.
#[derive(Debug, Clone, Default)]
pub struct LogList {
    logs: Vec<Log>,
    index: HashMap<[u8; 32], usize>,
    /// Where the lists came from (names given by the loader).
    pub sources: Vec<String>,
    /// When the list was published (`log_list_timestamp`, Unix seconds;
    /// for merged lists the newest), when known.
    pub timestamp: Option<i64>,
}

/// How old the list in use is at an evaluation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// The list's date (Unix seconds), when known.
    pub date: Option<i64>,
    /// Whole days between the date and the evaluation time (0 when unknown
    /// or in the future).
    pub age_days: i64,
    /// Older than [`MAX_LIST_AGE_SECS`]: Chrome would no longer enforce CT
    /// with it, and logs created since are missing (`unknown_log`).
    pub stale: bool,
}

#[derive(Deserialize)]
struct RawList {
    operators: Vec<RawOperator>,
    #[serde(default)]
    log_list_timestamp: Option<String>,
    #[serde(default)]
    is_all_logs: Option<bool>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawOperator {
    name: String,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(default)]
    tiled_logs: Vec<RawLog>,
}

#[derive(Deserialize)]
struct RawLog {
    #[serde(default)]
    description: Option<String>,
    log_id: String,
    key: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    submission_url: Option<String>,
    #[serde(default)]
    monitoring_url: Option<String>,
    #[serde(default)]
    state: Option<HashMap<String, RawState>>,
    #[serde(default)]
    temporal_interval: Option<RawInterval>,
    #[serde(default)]
    log_type: Option<String>,
    #[serde(default)]
    previous_operators: Vec<RawPreviousOperator>,
}

#[derive(Deserialize)]
struct RawPreviousOperator {
    name: String,
    end_time: String,
}

#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Deserialize)]
struct RawInterval {
    start_inclusive: String,
    end_exclusive: String,
}

fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

impl LogList {
    /// Parses one list (Google v3 or Apple v5); `name` goes into errors.
    pub fn parse(name: &str, json: &[u8]) -> Result<LogList, ListError> {
        let err = |m: String| ListError(format!("log list {name}: {m}"));
        if json.len() > MAX_LIST_BYTES {
            return Err(err(format!("larger than {MAX_LIST_BYTES} bytes")));
        }
        let raw: RawList = serde_json::from_slice(json).map_err(|e| err(e.to_string()))?;
        let timestamp = match &raw.log_list_timestamp {
            Some(t) => Some(parse_time(t).ok_or_else(|| err("bad log_list_timestamp".into()))?),
            None => None,
        };
        // Google's own lists give every log in Chrome's policy a state.
        let official = timestamp.is_some() || raw.is_all_logs.is_some() || raw.version.is_some();
        let mut list = LogList {
            sources: vec![name.to_string()],
            timestamp,
            ..LogList::default()
        };
        let dec = base64::engine::general_purpose::STANDARD;
        for op in raw.operators {
            let all = op
                .logs
                .into_iter()
                .map(|l| (l, true))
                .chain(op.tiled_logs.into_iter().map(|l| (l, false)));
            for (l, rfc6962) in all {
                let desc = l.description.clone().unwrap_or_else(|| l.log_id.clone());
                let lerr = |m: &str| err(format!("log {desc:?}: {m}"));
                let spki = dec
                    .decode(l.key.trim())
                    .map_err(|_| lerr("key is not base64"))?;
                let id = dec
                    .decode(l.log_id.trim())
                    .map_err(|_| lerr("log_id is not base64"))?;
                let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
                if id.as_slice() != digest.as_ref() {
                    return Err(lerr("log_id is not the SHA-256 of its key"));
                }
                let mut log_id = [0u8; 32];
                log_id.copy_from_slice(digest.as_ref());
                let (oid, key) = der::spki_key(&spki).map_err(|e| lerr(&e.to_string()))?;
                let public_key = key.to_vec();
                let alg = match oid {
                    [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01] => KeyAlg::EcdsaP256,
                    [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01] => KeyAlg::Rsa,
                    _ => return Err(lerr("key is neither EC nor RSA")),
                };
                let (state, state_since) = match l.state.as_ref().and_then(|m| m.iter().next()) {
                    Some((k, v)) => (
                        LogState::parse(k),
                        v.timestamp.as_deref().and_then(parse_time),
                    ),
                    None if official => (LogState::NotInPolicy, None),
                    None => (LogState::Unknown, None),
                };
                let state = match l.log_type.as_deref() {
                    Some("test" | "monitoring_only") => LogState::NotInPolicy,
                    _ => state,
                };
                let mut previous_operators = Vec::with_capacity(l.previous_operators.len());
                for p in &l.previous_operators {
                    let end = parse_time(&p.end_time)
                        .ok_or_else(|| lerr("bad previous_operators end_time"))?;
                    previous_operators.push((p.name.clone(), end));
                }
                previous_operators.sort_by_key(|(_, end)| *end);
                let temporal_interval = match &l.temporal_interval {
                    Some(t) => Some((
                        parse_time(&t.start_inclusive)
                            .ok_or_else(|| lerr("bad temporal_interval.start_inclusive"))?,
                        parse_time(&t.end_exclusive)
                            .ok_or_else(|| lerr("bad temporal_interval.end_exclusive"))?,
                    )),
                    None => None,
                };
                let url = l
                    .url
                    .clone()
                    .or(l.submission_url.clone())
                    .unwrap_or_default();
                list.push(Log {
                    log_id,
                    description: desc.clone(),
                    operator: op.name.clone(),
                    spki,
                    public_key,
                    alg,
                    rfc6962: rfc6962 && l.url.is_some(),
                    url,
                    monitoring_url: l.monitoring_url,
                    state,
                    state_since,
                    temporal_interval,
                    previous_operators,
                });
            }
        }
        Ok(list)
    }

    fn push(&mut self, log: Log) {
        if !self.index.contains_key(&log.log_id) {
            self.index.insert(log.log_id, self.logs.len());
            self.logs.push(log);
        }
    }

    /// Merges `other` in; a log already present (same log_id) keeps its first entry.
    pub fn merge(&mut self, other: LogList) {
        self.sources.extend(other.sources);
        self.timestamp = self.timestamp.max(other.timestamp);
        for l in other.logs {
            self.push(l);
        }
    }

    /// The log with this id.
    pub fn get(&self, log_id: &[u8; 32]) -> Option<&Log> {
        self.index.get(log_id).map(|&i| &self.logs[i])
    }

    /// All logs, in load order.
    pub fn logs(&self) -> &[Log] {
        &self.logs
    }

    /// Number of logs.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// No logs.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }

    /// How old the list is at `now` (Unix seconds).
    pub fn freshness(&self, now: i64) -> Freshness {
        freshness(self.timestamp, now)
    }
}

/// How old a list dated `date` is at `now` (pure).
pub fn freshness(date: Option<i64>, now: i64) -> Freshness {
    let age = date.map(|d| now.saturating_sub(d)).unwrap_or(0).max(0);
    Freshness {
        date,
        age_days: age / 86_400,
        stale: age > MAX_LIST_AGE_SECS,
    }
}

/// Decodes a single-key PEM (`-----BEGIN PUBLIC KEY-----`) to DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, ListError> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| ListError("public key PEM is not base64".into()))
}

/// Verifies `sig` (RSA PKCS#1 v1.5 SHA-256) over `json` with the SPKI DER `key`.
pub fn verify_signature_with(json: &[u8], sig: &[u8], spki: &[u8]) -> Result<(), ListError> {
    let (_, key) = der::spki_key(spki).map_err(|e| ListError(format!("signing key: {e}")))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(json, sig)
        .map_err(|_| {
            ListError("log list signature does not verify with Google's log-list key".into())
        })
}

/// Verifies Google's signed list against the embedded key, then parses it.
pub fn verify_google_signed(json: &[u8], sig: &[u8]) -> Result<LogList, ListError> {
    let spki = pem_to_der(GOOGLE_LOG_LIST_PUBKEY_PEM)?;
    verify_signature_with(json, sig, &spki)?;
    LogList::parse("google (signed)", json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEmXg8sUUzwBYaWrRb+V0IopzQ6o3UyEJ04r5ZrRXGdpYM8K+hB0pXrGRLI0eeWz+3skXrS0IO83AhA3GpRL6s6w==";
    const EC_ID: &str = "3xwuwRUAlFJHqWFoMl3cXHlZ6PfG04j8AC4LvT9012Q=";

    fn list(id: &str, extra: &str) -> String {
        format!(
            r#"{{"operators":[{{"name":"Op","logs":[{{"description":"L","log_id":"{id}","key":"{EC_KEY}","url":"https://l/"{extra}}}]}}]}}"#
        )
    }

    #[test]
    fn parses_and_validates() {
        let cases: &[(&str, &str, Result<LogState, &str>)] = &[
            (EC_ID, "", Ok(LogState::Unknown)),
            (
                EC_ID,
                r#","state":{"usable":{"timestamp":"2020-01-01T00:00:00Z"}}"#,
                Ok(LogState::Usable),
            ),
            (
                EC_ID,
                r#","state":{"retired":{"timestamp":"2020-01-01T00:00:00Z"}}"#,
                Ok(LogState::Retired),
            ),
            ("AAAA", "", Err("not the SHA-256")),
            ("!!", "", Err("not base64")),
            (
                EC_ID,
                r#","temporal_interval":{"start_inclusive":"x","end_exclusive":"y"}"#,
                Err("temporal_interval"),
            ),
        ];
        for (id, extra, want) in cases {
            let got = LogList::parse("t", list(id, extra).as_bytes());
            match (got, want) {
                (Ok(l), Ok(s)) => {
                    assert_eq!(l.logs()[0].state, *s);
                    assert_eq!(l.logs()[0].alg, KeyAlg::EcdsaP256);
                    assert!(l.logs()[0].rfc6962);
                }
                (Err(e), Err(m)) => assert!(e.0.contains(m), "{e}"),
                (g, w) => panic!("{id} {extra}: got {g:?}, want {w:?}"),
            }
        }
        assert!(LogList::parse("t", b"{")
            .unwrap_err()
            .0
            .starts_with("log list t:"));
    }

    #[test]
    fn merge_dedupes_by_log_id() {
        let mut a = LogList::parse("a", list(EC_ID, "").as_bytes()).unwrap();
        let b = LogList::parse("b", list(EC_ID, "").as_bytes()).unwrap();
        a.merge(b);
        assert_eq!(a.len(), 1);
        assert_eq!(a.sources, vec!["a", "b"]);
    }

    #[test]
    fn retired_logs_count_only_before_retirement() {
        let l = LogList::parse(
            "t",
            list(
                EC_ID,
                r#","state":{"retired":{"timestamp":"2020-01-01T00:00:00Z"}}"#,
            )
            .as_bytes(),
        )
        .unwrap();
        let log = &l.logs()[0];
        assert!(log.usable_for_sct_at(1_500_000_000));
        assert!(!log.usable_for_sct_at(1_600_000_000));
    }

    #[test]
    fn embedded_key_parses() {
        let spki = pem_to_der(GOOGLE_LOG_LIST_PUBKEY_PEM).unwrap();
        assert!(der::spki_key(&spki).is_ok());
        assert!(verify_google_signed(b"{}", &[0u8; 512]).is_err());
    }
}
