//! Which keys are proven to be on a chain's path.
//!
//! A server may append any public certificate to its chain (the real Amazon
//! root after a mitmproxy leaf, for instance), so pins must not be matched
//! against every certificate *sent*. The path is: the leaf (its key signed
//! the handshake), then each certificate of the chain whose subject is the
//! previous one's issuer *and whose key verifies its signature*, and finally
//! the trust anchor when the chain validated (`public` or `local`).

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::model::CertInfo;
use crate::trust::{Trust, TrustKind};

/// SPKI SHA-256 (base64) of each key on the path, leaf first, no duplicates.
pub fn path_spkis(chain: &[CertInfo], trust: &Trust) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in path_indices(chain) {
        if !out.contains(&chain[i].spki_sha256) {
            out.push(chain[i].spki_sha256.clone());
        }
    }
    if matches!(trust.kind, TrustKind::Public | TrustKind::Local) {
        if let Some(a) = &trust.anchor {
            if !out.contains(&a.spki_sha256) {
                out.push(a.spki_sha256.clone());
            }
        }
    }
    out
}

/// Indices into `chain` of the signature-linked path from the leaf (0) up.
pub fn path_indices(chain: &[CertInfo]) -> Vec<usize> {
    let mut out = Vec::new();
    if chain.is_empty() {
        return out;
    }
    let parsed: Vec<Option<X509Certificate<'_>>> = chain
        .iter()
        .map(|c| X509Certificate::from_der(&c.der).ok().map(|(_, x)| x))
        .collect();
    out.push(0);
    let mut used = vec![false; chain.len()];
    used[0] = true;
    let mut cur = 0usize;
    loop {
        if chain[cur].self_issued {
            break;
        }
        let next = (0..chain.len()).find(|&j| {
            !used[j]
                && chain[j].subject == chain[cur].issuer
                && match (&parsed[cur], &parsed[j]) {
                    (Some(child), Some(parent)) => {
                        child.verify_signature(Some(parent.public_key())).is_ok()
                    }
                    _ => false,
                }
        });
        let Some(j) = next else { break };
        used[j] = true;
        out.push(j);
        cur = j;
    }
    out
}
