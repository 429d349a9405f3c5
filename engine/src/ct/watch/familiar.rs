//! Whether an issuance is familiar (pure): the user authorized its
//! certificate, or its issuing CA — by key, else by CCADB operator or the
//! company answering for it — already vouched for a site under the domain
//! in certwatch's history, or (for a CT-watched domain) was found issuing
//! for it when the watch began. A CA that copies another CA's names is not
//! that CA: names take no part ([`CaIdentity::same_owner`]).

use std::collections::HashSet;

use super::Issuance;
use crate::ca::CaIdentity;
use crate::ccadb::disclosure::OperatorSource;
use crate::ccadb::Table;
use crate::trust::TrustKind;

/// Why an issuance is familiar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Familiar {
    /// Its CA vouched for a site under the domain in certwatch's history.
    History,
    /// The user authorized the certificate (`ct authorize`).
    Authorized,
    /// The CT watch found its CA issuing for the domain when it began.
    CtSeed,
}

impl Familiar {
    /// The stable name (`familiar_by` in JSON, stored by the watch).
    pub fn as_str(self) -> &'static str {
        match self {
            Familiar::History => "history",
            Familiar::Authorized => "authorized",
            Familiar::CtSeed => "ct_seed",
        }
    }
}

/// What the issuances are compared with.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// CAs that vouched for sites under the domain (trusted sightings and
    /// acceptances), operators resolved.
    pub history: &'a [CaIdentity],
    /// SHA-256s (hex) the user authorized.
    pub authorized: &'a HashSet<String>,
    /// Issuing CAs a CT watch of the domain found familiar.
    pub seed: &'a [CaIdentity],
}

/// One issuance, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessed {
    /// The issuance.
    pub issuance: Issuance,
    /// Its issuing CA as an identity (key, CCADB operator).
    pub ca: CaIdentity,
    /// Why it is familiar, or `None`.
    pub familiar: Option<Familiar>,
    /// Past notAfter.
    pub expired: bool,
}

/// The identity of an issuing key known from CT: its key and its name
/// (display); the operator comes from CCADB by key
/// ([`CaIdentity::resolve_operator`]); its root key is never a real one,
/// so only the issuing key or the operator can match it.
pub fn key_identity(spki: &str, issuer: &str) -> CaIdentity {
    let (org, cn) = super::dn_parts(issuer);
    CaIdentity {
        owner: org.clone().unwrap_or_else(|| issuer.to_string()),
        root: String::new(),
        root_spki: format!("ct-issuer:{spki}"),
        issuer_org: org,
        intermediate: cn.unwrap_or_else(|| issuer.to_string()),
        intermediate_spki: Some(spki.to_string()),
        trust: TrustKind::Public,
        operator: None,
        operator_source: OperatorSource::RootKey,
        ca_owner: None,
    }
}

/// The issuing CA of `i`, with its CCADB operator. Without a known key it
/// matches nothing.
pub fn issuer_identity(i: &Issuance, table: &Table) -> CaIdentity {
    match &i.issuer_spki {
        Some(k) => {
            let mut id = key_identity(k, &i.issuer);
            id.resolve_operator(table);
            id
        }
        None => {
            let mut id = key_identity("", &i.issuer);
            id.intermediate_spki = None;
            id.root_spki = format!("ct-issuer-unknown:{}", i.key);
            id.trust = TrustKind::Untrusted;
            id
        }
    }
}

/// Judges every issuance against `known`.
pub fn assess(list: Vec<Issuance>, known: &Known<'_>, table: &Table, now: i64) -> Vec<Assessed> {
    list.into_iter()
        .map(|issuance| {
            let ca = issuer_identity(&issuance, table);
            let familiar = if known.authorized.iter().any(|s| issuance.is(s)) {
                Some(Familiar::Authorized)
            } else if known.history.iter().any(|h| ca.same_owner(h)) {
                Some(Familiar::History)
            } else if known.seed.iter().any(|s| ca.same_owner(s)) {
                Some(Familiar::CtSeed)
            } else {
                None
            };
            Assessed {
                expired: issuance.expired(now),
                issuance,
                ca,
                familiar,
            }
        })
        .collect()
}

/// The unexpired issuances that are not familiar.
pub fn unfamiliar(a: &[Assessed]) -> impl Iterator<Item = &Assessed> {
    a.iter().filter(|x| x.familiar.is_none() && !x.expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(key: &str, spki: Option<&str>, issuer: &str, sha: &str) -> Issuance {
        Issuance {
            key: key.into(),
            issuer: issuer.into(),
            issuer_spki: spki.map(str::to_string),
            sha256: Some(sha.into()),
            not_after: Some(2_000),
            ..Issuance::default()
        }
    }

    #[test]
    fn familiarity_table() {
        let table = Table::new(vec![], vec![], 0, "test".into(), String::new());
        let history = vec![key_identity("k-le", "C=US, O=Let's Encrypt, CN=R11")];
        let seed = vec![key_identity("k-seed", "O=Seeded CA, CN=S1")];
        let authorized: HashSet<String> = ["AA".to_string()].into();
        let known = Known {
            history: &history,
            authorized: &authorized,
            seed: &seed,
        };
        for (i, want, expired) in [
            (
                issued("1", Some("k-le"), "O=Let's Encrypt, CN=R11", "b1"),
                Some(Familiar::History),
                false,
            ),
            // The same names under another key are another CA.
            (
                issued("2", Some("k-rogue"), "C=US, O=Let's Encrypt, CN=R11", "b2"),
                None,
                false,
            ),
            (
                issued("3", Some("k-rogue"), "O=Rogue", "aa"),
                Some(Familiar::Authorized),
                false,
            ),
            (
                issued("4", Some("k-seed"), "O=Seeded CA", "b4"),
                Some(Familiar::CtSeed),
                false,
            ),
            (
                issued("5", None, "O=Let's Encrypt, CN=R11", "b5"),
                None,
                false,
            ),
        ] {
            let got = assess(vec![i.clone()], &known, &table, 1_000);
            assert_eq!(got[0].familiar, want, "{}", i.key);
            assert_eq!(got[0].expired, expired);
        }
        let late = assess(
            vec![issued("6", Some("k-rogue"), "O=R", "b6")],
            &known,
            &table,
            3_000,
        );
        assert!(late[0].expired && late[0].familiar.is_none());
        assert_eq!(
            unfamiliar(&late).count(),
            0,
            "an expired issuance does not warn"
        );
    }
}
