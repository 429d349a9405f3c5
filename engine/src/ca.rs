//! Who vouches for a site: the company that *operates* the issuing CA, not
//! the names in its certificates.
//!
//! Names inside a certificate are written by whoever operates the CA above
//! it, so a rogue or coerced public CA can call its intermediate
//! "O=Let's Encrypt, CN=R11". Identity is therefore decided by keys and by
//! CCADB's audited disclosures ([`crate::ccadb`]): the operator of the
//! verified path's issuing CA (its Subordinate CA Owner, else CA Owner),
//! else the root's operator by root key. Two identities are the *same CA*
//! when they share the root key or the issuing key, or — only for publicly
//! trusted chains — CCADB names the same operator for both. No string taken
//! from a certificate ever merges two operators; names are kept for people.

use crate::ccadb::disclosure::{self, OperatorSource};
use crate::ccadb::Table;
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
    /// The operator's CCADB name (public chains with a disclosure only).
    pub operator: Option<String>,
    /// Where [`CaIdentity::operator`] came from.
    pub operator_source: OperatorSource,
    /// The CCADB CA Owner answering for the issuing CA when another company
    /// operates it (an externally operated subordinate CA), else `None`.
    pub ca_owner: Option<String>,
}

impl CaIdentity {
    /// Derives the identity of `chain` under `trust`, with the operator
    /// from `table`.
    pub fn of(chain: &[CertInfo], trust: &Trust, table: &Table) -> Option<CaIdentity> {
        let leaf = chain.first()?;
        // The verified path's issuing certificate; without a path (untrusted
        // chains) the presented certificate named as the issuer.
        let issuer_cert = match (trust.path.first(), &trust.anchor) {
            (Some(i), _) => chain.get(*i),
            (None, Some(_)) => None,
            (None, None) => chain
                .iter()
                .skip(1)
                .find(|c| c.subject == leaf.issuer)
                .or_else(|| chain.get(1)),
        };
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
        let (operator, operator_source) =
            disclosure::operator(table, trust.kind, issuer_cert, &root_spki);
        let ca_owner = disclosure::answering_owner(table, trust.kind, issuer_cert);
        Some(CaIdentity {
            owner,
            root,
            root_spki,
            issuer_org: leaf.issuer_org.clone(),
            intermediate,
            intermediate_spki: issuer_cert
                .map(|c| c.spki_sha256.clone())
                .or_else(|| trust.anchor.as_ref().map(|a| a.spki_sha256.clone())),
            trust: trust.kind,
            operator,
            operator_source,
            ca_owner,
        })
    }

    /// Fills in the operator of an identity recorded without one (history
    /// from before operators, or from another table) from its keys.
    pub fn resolve_operator(&mut self, table: &Table) {
        if self.operator.is_some() || self.trust != TrustKind::Public {
            return;
        }
        let by_issuer = self
            .intermediate_spki
            .as_deref()
            .and_then(crate::ccadb::parse_b64_32)
            .and_then(|k| table.by_key(&k, |_| true))
            .map(|f| (f.operator.to_string(), f.owner.map(str::to_string), f.kind));
        if let Some((op, owner, kind)) = by_issuer {
            self.operator = Some(op);
            self.ca_owner = owner;
            self.operator_source = match kind {
                crate::ccadb::Kind::Root => OperatorSource::CcadbRoot,
                crate::ccadb::Kind::Intermediate => OperatorSource::CcadbIntermediate,
            };
        } else if let Some(f) = table.root(&self.root_spki) {
            self.operator = Some(f.operator.to_string());
            self.operator_source = OperatorSource::CcadbRoot;
        }
    }

    /// Whether `self` and `other` are the same CA (see module doc): the same
    /// issuing key; else, both public with a CCADB operator, the same
    /// operator or the same company answering for it in CCADB (the CA
    /// Owner of an externally operated subordinate CA, e.g. Amazon's CAs
    /// that DigiCert runs and Amazon's own); else the same root key. No
    /// name taken from a certificate takes part.
    pub fn same_owner(&self, other: &CaIdentity) -> bool {
        if self.intermediate_spki.is_some() && self.intermediate_spki == other.intermediate_spki {
            return true;
        }
        if self.trust == TrustKind::Public && other.trust == TrustKind::Public {
            if let (Some(a), Some(b)) = (&self.operator, &other.operator) {
                return a == b || self.answering() == other.answering();
            }
        }
        self.root_spki == other.root_spki
    }

    /// Whether `self`, another CA than `old`, presents `old`'s brand (issuer
    /// organisation, compared case- and punctuation-insensitively): the
    /// mark of a CA that copies another CA's names. Names never make two CAs
    /// one; here they only make a change more suspicious.
    pub fn copies_brand_of(&self, old: &CaIdentity) -> bool {
        match (&self.issuer_org, &old.issuer_org) {
            (Some(a), Some(b)) => {
                !norm(a).is_empty() && norm(a) == norm(b) && !self.same_owner(old)
            }
            _ => false,
        }
    }

    /// The company answering for the issuing CA in CCADB: its CA Owner when
    /// another company operates it, else its operator.
    pub fn answering(&self) -> Option<&str> {
        self.ca_owner.as_deref().or(self.operator.as_deref())
    }

    /// "Let's Encrypt (R11, root ISRG Root X1; operated by Internet Security
    /// Research Group)": the brand people know, and the operator CCADB names.
    pub fn describe(&self) -> String {
        let brand = self.issuer_org.as_deref().unwrap_or(&self.owner);
        let op = match &self.operator {
            Some(o) if norm(o) != norm(brand) => format!("; operated by {o}"),
            _ => String::new(),
        };
        format!("{brand} ({}, root {}{op})", self.intermediate, self.root)
    }

    /// Short display name: the issuing organisation, else the owner.
    pub fn short(&self) -> &str {
        self.issuer_org.as_deref().unwrap_or(&self.owner)
    }
}

/// A name compared case- and punctuation-insensitively (for display
/// decisions and evidence look-ups, never for identity).
pub(crate) fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(op: Option<&str>, root_spki: &str, org: &str, trust: TrustKind) -> CaIdentity {
        CaIdentity {
            owner: org.into(),
            root: org.into(),
            root_spki: root_spki.into(),
            issuer_org: Some(org.into()),
            intermediate: "R11".into(),
            intermediate_spki: Some(format!("issuer-of-{root_spki}")),
            trust,
            operator: op.map(str::to_string),
            operator_source: OperatorSource::CcadbIntermediate,
            ca_owner: None,
        }
    }

    #[test]
    fn same_owner_table() {
        use TrustKind::*;
        let isrg = Some("Internet Security Research Group");
        let cases = [
            // (what, a, b, same?)
            (
                "X1 and X2 hierarchies: CCADB ties them",
                id(isrg, "x1", "Let's Encrypt", Public),
                id(isrg, "x2", "Let's Encrypt", Public),
                true,
            ),
            (
                "two operators",
                id(isrg, "x1", "Let's Encrypt", Public),
                id(Some("DigiCert"), "d1", "DigiCert Inc", Public),
                false,
            ),
            (
                "a public CA copying Let's Encrypt's names",
                id(isrg, "x1", "Let's Encrypt", Public),
                id(Some("Rogue State CA"), "evil", "Let's Encrypt", Public),
                false,
            ),
            (
                "copied names, no disclosure for the copy",
                id(isrg, "x1", "Let's Encrypt", Public),
                id(None, "evil", "Let's Encrypt", Public),
                false,
            ),
            (
                "no disclosure on either side: keys only",
                id(None, "a", "Same Name", Public),
                id(None, "b", "Same Name", Public),
                false,
            ),
            (
                "same root key, any trust",
                id(None, "k", "A", Public),
                id(None, "k", "B", Local),
                true,
            ),
            (
                "a local root named like a public CA",
                id(isrg, "x1", "Let's Encrypt", Public),
                id(isrg, "evil", "Let's Encrypt", Local),
                false,
            ),
            (
                "local roots with one name, two keys",
                id(None, "c1", "Corp", Local),
                id(None, "c2", "Corp", Local),
                false,
            ),
            (
                "operator names are CCADB's, compared exactly",
                id(Some("Sectigo"), "s1", "Sectigo", Public),
                id(Some("sectigo"), "s2", "Sectigo", Public),
                false,
            ),
        ];
        let mut apple = id(Some("Apple Inc."), "dc", "Apple Inc.", Public);
        apple.intermediate_spki = Some("apple-ev".into());
        let digicert = id(Some("DigiCert"), "dc", "DigiCert Inc", Public);
        let apple_under_digicert = CaIdentity {
            ca_owner: Some("DigiCert".into()),
            ..apple.clone()
        };
        // Amazon's CAs that DigiCert operates, and Amazon's own.
        let amazon_by_digicert = CaIdentity {
            ca_owner: Some("Amazon Trust Services".into()),
            ..id(Some("DigiCert"), "a1", "Amazon", Public)
        };
        let amazon = id(Some("Amazon Trust Services"), "a1b", "Amazon", Public);
        let cases = cases.into_iter().chain([
            (
                "another operator under a shared root, no CCADB tie",
                apple.clone(),
                digicert.clone(),
                false,
            ),
            (
                "an externally operated CA and its CA Owner's own",
                apple_under_digicert.clone(),
                digicert,
                true,
            ),
            (
                "Amazon's CAs run by DigiCert and Amazon's own",
                amazon_by_digicert.clone(),
                amazon,
                true,
            ),
            (
                "two companies' CAs both run by DigiCert are not one CA",
                amazon_by_digicert,
                apple_under_digicert,
                false,
            ),
            (
                "a shared root without operators: the root key ties them",
                CaIdentity {
                    operator: None,
                    ..apple.clone()
                },
                id(None, "dc", "DigiCert Inc", Public),
                true,
            ),
        ]);
        for (what, a, b, want) in cases {
            assert_eq!(a.same_owner(&b), want, "{what}");
            assert_eq!(b.same_owner(&a), want, "{what} (reversed)");
        }
        let mut cross = id(None, "gs-root", "Google Trust Services", Public);
        cross.intermediate_spki = Some("wr2".into());
        let mut direct = id(None, "gts-r1", "Google Trust Services", Public);
        direct.intermediate_spki = Some("wr2".into());
        assert!(cross.same_owner(&direct), "one issuing key under two roots");
    }

    #[test]
    fn copies_brand_table() {
        use TrustKind::*;
        let isrg = Some("Internet Security Research Group");
        let le = id(isrg, "x1", "Let's Encrypt", Public);
        let rogue = id(Some("Rogue State CA"), "evil", "Let's Encrypt", Public);
        let rogue_punct = id(Some("Rogue State CA"), "evil", "LETS ENCRYPT", Public);
        let dc = id(Some("DigiCert"), "d1", "DigiCert Inc", Public);
        let le_x2 = id(isrg, "x2", "Let's Encrypt", Public);
        assert!(rogue.copies_brand_of(&le));
        assert!(
            rogue_punct.copies_brand_of(&le),
            "case and punctuation do not matter"
        );
        assert!(!dc.copies_brand_of(&le), "another brand");
        assert!(!le_x2.copies_brand_of(&le), "the same operator");
    }
}
