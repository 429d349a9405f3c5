//! An RFC 6962 log as a [`LogSource`]: `get-sth` (signature verified with
//! the log's key, [`crate::ct::watch::verify_sth`]), `get-sth-consistency`,
//! `get-proof-by-hash`, and `get-entries` (leaves decoded with
//! [`crate::ct::watch::parse_leaf`], the chain from `extra_data`).

use base64::Engine as _;
use serde::Deserialize;

use super::http::Fetcher;
use super::merkle::{leaf_hash, Hash};
use super::tile::Reader;
use super::{Batch, Entry, Head, LogSource, TailError};
use crate::ct::loglist::Log;
use crate::ct::watch::{parse_leaf, parse_sth, verify_sth, WatchError};

/// Largest `get-entries` answer.
pub const MAX_ENTRIES_BODY: u64 = 16 * 1024 * 1024;
/// Largest answer of the small endpoints (tree head, proofs).
pub const MAX_SMALL_BODY: u64 = 256 * 1024;

/// An RFC 6962 log.
pub struct Rfc6962Source {
    http: Fetcher,
    log: Log,
    /// Entries asked for per `get-entries`.
    pub batch: u64,
}

impl Rfc6962Source {
    /// Reads `log` (its `url`) through `http`.
    pub fn new(log: Log, http: Fetcher) -> Rfc6962Source {
        Rfc6962Source {
            http,
            log,
            batch: 256,
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&mut self, path: &str, max: u64) -> Result<T, TailError> {
        let body = self.http.get(path, max)?;
        serde_json::from_slice(&body.bytes).map_err(|e| {
            TailError::bad(
                &self.http.url(path),
                format!("malformed or truncated JSON: {e}"),
            )
        })
    }
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, TailError> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| TailError::bad(what, "not base64"))
}

fn hashes(list: &[String], what: &str) -> Result<Vec<Hash>, TailError> {
    list.iter()
        .map(|s| {
            b64(s, what)?
                .try_into()
                .map_err(|_| TailError::bad(what, "a proof hash is not 32 bytes"))
        })
        .collect()
}

/// `+`, `/` and `=` of base64 in a query string.
fn query_escape(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[derive(Deserialize)]
struct Consistency {
    consistency: Vec<String>,
}

#[derive(Deserialize)]
struct Proof {
    leaf_index: u64,
    audit_path: Vec<String>,
}

#[derive(Deserialize)]
struct RawEntries {
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    leaf_input: String,
    #[serde(default)]
    extra_data: String,
}

/// The chain (and, for precerts, the precertificate) from `extra_data`.
/// The precertificate (precert entries) and the chain of an entry.
type Extra = (Option<Vec<u8>>, Vec<Vec<u8>>);

fn extra(precert: bool, data: &[u8]) -> Result<Extra, String> {
    if data.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut r = Reader::new(data);
    let pre = if precert {
        Some(r.vec(3)?.to_vec())
    } else {
        None
    };
    let mut list = Reader::new(r.vec(3)?);
    let mut chain = Vec::new();
    while !list.done() {
        chain.push(list.vec(3)?.to_vec());
    }
    Ok((pre, chain))
}

impl LogSource for Rfc6962Source {
    fn head(&mut self) -> Result<Head, TailError> {
        let path = "ct/v1/get-sth";
        let url = self.http.url(path);
        let body = self.http.get(path, MAX_SMALL_BODY)?;
        let sth = parse_sth(&body.bytes).map_err(|e| match e {
            WatchError::Parse { detail, .. } => TailError::bad(&url, detail),
            other => TailError::bad(&url, other.to_string()),
        })?;
        if !verify_sth(&sth, &self.log) {
            return Err(TailError::failed(
                &url,
                "the tree head's signature does not verify with the log's key",
            ));
        }
        let mut root = [0u8; 32];
        root.copy_from_slice(sth.root_hash.get(..32).unwrap_or(&[0; 32]));
        Ok(Head {
            size: sth.tree_size,
            root,
            timestamp: sth.timestamp,
        })
    }

    fn consistency(&mut self, m: u64, n: u64) -> Result<Vec<Hash>, TailError> {
        let path = format!("ct/v1/get-sth-consistency?first={m}&second={n}");
        let c: Consistency = self.json(&path, MAX_SMALL_BODY)?;
        hashes(&c.consistency, &self.http.url(&path))
    }

    fn inclusion(&mut self, index: u64, leaf: &Hash, size: u64) -> Result<Vec<Hash>, TailError> {
        let h = query_escape(&crate::ct::loglist::b64(leaf));
        let path = format!("ct/v1/get-proof-by-hash?hash={h}&tree_size={size}");
        let p: Proof = self.json(&path, MAX_SMALL_BODY)?;
        if p.leaf_index != index {
            return Err(TailError::failed(
                &self.http.url(&path),
                format!(
                    "entry {index} is at index {} by the log's proof",
                    p.leaf_index
                ),
            ));
        }
        hashes(&p.audit_path, &self.http.url(&path))
    }

    fn batch(&mut self, start: u64, size: u64) -> Result<Batch, TailError> {
        let end = size.min(start.saturating_add(self.batch.max(1))) - 1;
        let path = format!("ct/v1/get-entries?start={start}&end={end}");
        let url = self.http.url(&path);
        let raw: RawEntries = self.json(&path, MAX_ENTRIES_BODY)?;
        let mut entries = Vec::new();
        for (i, e) in raw.entries.iter().enumerate() {
            let index = start + i as u64;
            let what = format!("{url} entry {index}");
            let input = b64(&e.leaf_input, &what)?;
            let leaf = parse_leaf(&input).map_err(|d| TailError::bad(&what, d))?;
            let issuer_key_hash = if leaf.precert {
                input.get(12..44).and_then(|s| s.try_into().ok())
            } else {
                None
            };
            let extra_data = b64(&e.extra_data, &what)?;
            let (pre, chain) = extra(leaf.precert, &extra_data)
                .map_err(|d| TailError::bad(&what, format!("extra_data: {d}")))?;
            entries.push(Entry {
                index,
                timestamp: leaf.timestamp,
                precert: leaf.precert,
                der: if leaf.precert {
                    pre
                } else {
                    Some(leaf.cert.clone())
                },
                signed_entry: leaf.cert,
                issuer_key_hash,
                chain_fingerprints: Vec::new(),
                chain,
                hash: leaf_hash(&input),
            });
        }
        Ok(Batch { url, entries })
    }

    fn issuers(&mut self, entry: &Entry) -> (Vec<Vec<u8>>, Option<String>) {
        (entry.chain.clone(), None)
    }

    fn bytes(&self) -> u64 {
        self.http.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_data_parses_and_rejects_garbage() {
        assert_eq!(extra(false, &[]).unwrap(), (None, vec![]));
        let x509 = [0, 0, 5, 0, 0, 2, 0xAB, 0xCD];
        assert_eq!(extra(false, &x509).unwrap(), (None, vec![vec![0xAB, 0xCD]]));
        let pre = [0, 0, 1, 0x30, 0, 0, 4, 0, 0, 1, 0x31];
        assert_eq!(
            extra(true, &pre).unwrap(),
            (Some(vec![0x30]), vec![vec![0x31]])
        );
        for bad in [&[0u8, 0, 9][..], &[0, 0, 3, 0, 0, 9], &[1, 2]] {
            assert!(extra(false, bad).is_err(), "{bad:?}");
            assert!(extra(true, bad).is_err(), "{bad:?}");
        }
        assert_eq!(query_escape("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
