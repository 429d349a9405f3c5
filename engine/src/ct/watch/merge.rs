//! A precertificate and its final certificate are one issuance (pure).
//! CAs log the precertificate first and often the certificate later; both
//! carry the same issuer and serial number (RFC 6962 §3.1), so the search
//! rows that share [`Issuance::key`] are merged: the certificate's SHA-256
//! wins, the precertificate's is kept beside it, the names are the union,
//! and a verified issuing key beats a claimed one.

use super::{Issuance, IssuerKey};

/// Merges issuances with the same key, keeping the first one's place.
pub fn merge(rows: Vec<Issuance>) -> Vec<Issuance> {
    let mut out: Vec<Issuance> = Vec::with_capacity(rows.len());
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for r in rows {
        match at.get(&r.key) {
            Some(&i) => {
                if let Some(m) = out.get_mut(i) {
                    absorb(m, r);
                }
            }
            None => {
                at.insert(r.key.clone(), out.len());
                out.push(r);
            }
        }
    }
    out
}

fn absorb(m: &mut Issuance, r: Issuance) {
    match (m.precert, r.precert) {
        // The certificate joins its precertificate.
        (true, false) => {
            m.precert_sha256 = m.precert_sha256.take().or_else(|| m.sha256.take());
            m.sha256 = r.sha256.clone();
            m.der = r.der.clone().or(m.der.take());
            m.precert = false;
        }
        (false, true) if m.precert_sha256.is_none() => {
            m.precert_sha256 = r.sha256.clone();
        }
        _ => {}
    }
    if m.der.is_none() {
        m.der = r.der.clone();
    }
    if m.sha256.is_none() {
        m.sha256 = r.sha256.clone();
    }
    let better_key = match (m.issuer_key, r.issuer_key) {
        (IssuerKey::Verified, _) => false,
        (_, IssuerKey::Verified) => true,
        (IssuerKey::Unknown, IssuerKey::Claimed) => true,
        _ => false,
    };
    if better_key {
        m.issuer_spki = r.issuer_spki.clone();
        m.issuer_key = r.issuer_key;
    }
    for n in r.names {
        if !m.names.contains(&n) {
            m.names.push(n);
        }
    }
    m.names.sort();
    m.not_before = m.not_before.or(r.not_before);
    m.not_after = m.not_after.or(r.not_after);
    m.serial = m.serial.take().or(r.serial);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, sha: &str, precert: bool, names: &[&str]) -> Issuance {
        Issuance {
            key: key.into(),
            sha256: Some(sha.into()),
            precert,
            names: names.iter().map(|n| n.to_string()).collect(),
            ..Issuance::default()
        }
    }

    #[test]
    fn precert_and_cert_are_one_in_either_order() {
        for rows in [
            vec![
                row("k", "pre", true, &["a.test"]),
                row("k", "fin", false, &["b.test"]),
            ],
            vec![
                row("k", "fin", false, &["b.test"]),
                row("k", "pre", true, &["a.test"]),
            ],
        ] {
            let m = merge(rows);
            assert_eq!(m.len(), 1);
            assert_eq!(m[0].sha256.as_deref(), Some("fin"));
            assert_eq!(m[0].precert_sha256.as_deref(), Some("pre"));
            assert!(!m[0].precert);
            assert_eq!(m[0].names, vec!["a.test", "b.test"]);
            assert!(m[0].is("PRE") && m[0].is("fin") && !m[0].is("other"));
        }
    }

    #[test]
    fn different_keys_stay_apart_and_a_lone_precert_stays_a_precert() {
        let m = merge(vec![
            row("k1", "a", true, &["x.test"]),
            row("k2", "b", false, &["x.test"]),
        ]);
        assert_eq!(m.len(), 2);
        assert!(m[0].precert && !m[1].precert);
    }

    #[test]
    fn a_verified_key_beats_a_claim() {
        let mut a = row("k", "a", true, &[]);
        a.issuer_spki = Some("claimed".into());
        a.issuer_key = IssuerKey::Claimed;
        let mut b = row("k", "b", false, &[]);
        b.issuer_spki = Some("verified".into());
        b.issuer_key = IssuerKey::Verified;
        let m = merge(vec![a, b]);
        assert_eq!(m[0].issuer_spki.as_deref(), Some("verified"));
        assert_eq!(m[0].issuer_key, IssuerKey::Verified);
    }
}
