//! RFC 6962 pieces `ct tail` reads logs with ([`crate::ct::tail::rfc`]):
//! `get-sth` parsing, the tree head signature ([`verify_sth`], also the
//! signature of a static-ct-api checkpoint), and the `MerkleTreeLeaf`
//! ([`parse_leaf`]).

use base64::Engine as _;
use serde::Deserialize;

use super::WatchError;
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
