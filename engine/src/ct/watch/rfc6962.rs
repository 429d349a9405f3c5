//! RFC 6962 log monitoring: `get-sth` (a signed tree head, verified with
//! the log's key from the log list), then `get-entries` over the entries
//! logged since the previous poll, decoding each `MerkleTreeLeaf`.

use base64::Engine as _;
use serde::Deserialize;

use super::{covers, CtSearch, Issuance, Polite, WatchError};
use crate::ct::loglist::{KeyAlg, Log};

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
pub fn verify_sth(sth: &Sth, log: &Log) -> bool {
    let mut data = vec![0u8, 1];
    data.extend_from_slice(&sth.timestamp.to_be_bytes());
    data.extend_from_slice(&sth.tree_size.to_be_bytes());
    data.extend_from_slice(&sth.root_hash);
    let s = &sth.signature;
    if s.len() < 4 || (s[2] as usize) << 8 | s[3] as usize != s.len() - 4 {
        return false;
    }
    let alg: &dyn ring::signature::VerificationAlgorithm = match (s[0], s[1], log.alg) {
        (4, 3, KeyAlg::EcdsaP256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
        (4, 1, KeyAlg::Rsa) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
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
        ..Issuance::default()
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

#[cfg(test)]
mod tests {
    use super::*;

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
