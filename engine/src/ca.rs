//! Who vouches for a site: the CA *owner*, not the exact intermediate.
//!
//! Let's Encrypt signs with R10, R11, E5, E6… under ISRG Root X1 and X2; all of
//! that is one CA. The identity of a chain is therefore built from its anchor
//! root and the issuer organisation, and two identities are the *same CA* when
//! they share the root key, or — only for publicly trusted chains, where the
//! organisation names are vouched for by audited CAs — the owner name or the
//! issuing organisation. For `local` and `untrusted` chains only the root key
//! counts: a forged "O=Let's Encrypt" under a local root is not Let's Encrypt.

use crate::model::CertInfo;
use crate::trust::{Trust, TrustKind};

/// The CA identity of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaIdentity {
    /// Owner name used for display and matching (root O, else root CN).
    pub owner: String,
    /// Root (anchor) display name; for untrusted chains the top certificate.
    pub root: String,
    /// SHA-256 (base64) of the root SPKI; for untrusted chains the top
    /// certificate's issuer key if known, else the top certificate's own key.
    pub root_spki: String,
    /// Organisation of the leaf's issuer (e.g. "Let's Encrypt").
    pub issuer_org: Option<String>,
    /// The issuing intermediate's display name (the leaf's issuer CN).
    pub intermediate: String,
    /// SHA-256 (base64) of the issuing certificate's SPKI, when it was sent.
    pub intermediate_spki: Option<String>,
    /// The trust class this identity was derived under.
    pub trust: TrustKind,
}

impl CaIdentity {
    /// Derives the identity of `chain` under `trust`.
    pub fn of(chain: &[CertInfo], trust: &Trust) -> Option<CaIdentity> {
        let leaf = chain.first()?;
        let issuer_cert = chain
            .iter()
            .skip(1)
            .find(|c| c.subject == leaf.issuer)
            .or_else(|| chain.get(1));
        let intermediate = leaf
            .issuer_cn
            .clone()
            .or_else(|| leaf.issuer_org.clone())
            .unwrap_or_else(|| leaf.issuer.clone());
        let (owner, root, root_spki) = match &trust.anchor {
            Some(a) => (
                a.org.clone().unwrap_or_else(|| a.name.clone()),
                a.name.clone(),
                a.spki_sha256.clone(),
            ),
            None => {
                let top = chain.last().unwrap_or(leaf);
                let name = top
                    .issuer_org
                    .clone()
                    .or_else(|| top.issuer_cn.clone())
                    .unwrap_or_else(|| top.issuer.clone());
                let root_name = top.issuer_cn.clone().unwrap_or_else(|| top.issuer.clone());
                // Without an anchor, the best stable key we have is the key of the
                // highest certificate presented.
                (name, root_name, top.spki_sha256.clone())
            }
        };
        Some(CaIdentity {
            owner,
            root,
            root_spki,
            issuer_org: leaf.issuer_org.clone(),
            intermediate,
            intermediate_spki: issuer_cert.map(|c| c.spki_sha256.clone()),
            trust: trust.kind,
        })
    }

    /// Whether `self` and `other` are the same CA owner (see module doc).
    pub fn same_owner(&self, other: &CaIdentity) -> bool {
        if self.root_spki == other.root_spki {
            return true;
        }
        if self.trust == TrustKind::Public && other.trust == TrustKind::Public {
            if norm(&self.owner) == norm(&other.owner) {
                return true;
            }
            if let (Some(a), Some(b)) = (&self.issuer_org, &other.issuer_org) {
                return norm(a) == norm(b);
            }
        }
        false
    }

    /// "Let's Encrypt (R11, root ISRG Root X1)".
    pub fn describe(&self) -> String {
        let brand = self.issuer_org.as_deref().unwrap_or(&self.owner);
        format!("{brand} ({}, root {})", self.intermediate, self.root)
    }

    /// Short display name: the issuing organisation, else the owner.
    pub fn short(&self) -> &str {
        self.issuer_org.as_deref().unwrap_or(&self.owner)
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(owner: &str, root_spki: &str, org: Option<&str>, trust: TrustKind) -> CaIdentity {
        CaIdentity {
            owner: owner.into(),
            root: owner.into(),
            root_spki: root_spki.into(),
            issuer_org: org.map(str::to_string),
            intermediate: "I".into(),
            intermediate_spki: None,
            trust,
        }
    }

    #[test]
    fn same_owner_table() {
        use TrustKind::*;
        let cases = [
            // (a, b, same?)
            (
                id("ISRG", "x1", Some("Let's Encrypt"), Public),
                id("ISRG", "x2", Some("Let's Encrypt"), Public),
                true,
            ),
            (
                id("ISRG", "x1", Some("Let's Encrypt"), Public),
                id("DigiCert Inc", "d1", Some("DigiCert Inc"), Public),
                false,
            ),
            (id("A", "k", None, Public), id("B", "k", None, Local), true),
            (
                id("ISRG", "x1", Some("Let's Encrypt"), Public),
                id("ISRG", "evil", Some("Let's Encrypt"), Local),
                false,
            ),
            (
                id("Corp", "c1", Some("Corp"), Local),
                id("Corp", "c2", Some("Corp"), Local),
                false,
            ),
            (
                id("Sectigo Limited", "s1", Some("Sectigo"), Public),
                id("sectigo limited", "s2", None, Public),
                true,
            ),
        ];
        for (i, (a, b, want)) in cases.iter().enumerate() {
            assert_eq!(a.same_owner(b), *want, "case {i}");
            assert_eq!(b.same_owner(a), *want, "case {i} reversed");
        }
    }
}
