//! Pure judgements over the table: who operates a chain's issuing CA, and
//! whether every CA on a public path was disclosed.

use super::{day_of, Kind, Table};
use crate::model::CertInfo;
use crate::trust::TrustKind;

/// How long a CA has to disclose a new intermediate (Mozilla Root Store
/// Policy 5.3.2: within a week of its creation) — a certificate younger
/// than the data plus this grace is "unknown", never "undisclosed".
pub const DISCLOSURE_GRACE_DAYS: i64 = 7;

/// Where a chain's operator came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperatorSource {
    /// The issuing intermediate's CCADB record (by SHA-256 or key).
    CcadbIntermediate,
    /// The root's CCADB record (by key): the issuing CA is the root, or
    /// its intermediate has no record the table can use.
    CcadbRoot,
    /// No disclosure applies (local and untrusted chains, or a public root
    /// the data does not cover): the identity is the root key alone.
    RootKey,
}

impl OperatorSource {
    /// Stable name for JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorSource::CcadbIntermediate => "ccadb_intermediate",
            OperatorSource::CcadbRoot => "ccadb_root",
            OperatorSource::RootKey => "root_key",
        }
    }
}

/// The operator of a chain: the issuing certificate's record (SHA-256 or
/// key), else the root's by key. Only public chains have one.
pub fn operator(
    table: &Table,
    trust: TrustKind,
    issuing: Option<&CertInfo>,
    root_spki: &str,
) -> (Option<String>, OperatorSource) {
    if trust != TrustKind::Public {
        return (None, OperatorSource::RootKey);
    }
    if let Some(f) = issuing.and_then(|c| table.certificate(&c.sha256, &c.spki_sha256)) {
        let source = match f.kind {
            Kind::Root => OperatorSource::CcadbRoot,
            Kind::Intermediate => OperatorSource::CcadbIntermediate,
        };
        return (Some(f.operator.to_string()), source);
    }
    match table.root(root_spki) {
        Some(f) => (Some(f.operator.to_string()), OperatorSource::CcadbRoot),
        None => (None, OperatorSource::RootKey),
    }
}

/// The CA Owner answering for the issuing CA when another company
/// operates it (CCADB's "Subordinate CA Owner"): Amazon for the Amazon CAs
/// DigiCert runs, DigiCert for Apple's CAs under DigiCert's roots.
pub fn answering_owner(
    table: &Table,
    trust: TrustKind,
    issuing: Option<&CertInfo>,
) -> Option<String> {
    if trust != TrustKind::Public {
        return None;
    }
    let f = table.certificate(&issuing?.sha256, &issuing?.spki_sha256)?;
    f.owner.map(str::to_string)
}

/// A CA on a public path that the data does not list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Display name of the certificate (CN, else O, else DN).
    pub name: String,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// Its notBefore (Unix seconds).
    pub not_before: i64,
    /// The data's date, `YYYY-MM-DD`.
    pub data_date: String,
    /// Where the data came from.
    pub data_source: String,
    /// `false`: issued before the data's date (minus the disclosure grace),
    /// so it should be there: undisclosed. `true`: too new to tell.
    pub too_new: bool,
}

/// Checks that every intermediate of a verified public path (`path`, the
/// issuing CA first) is disclosed. Says nothing when the data does not
/// cover the root (its owner's records are missing: never a false alarm).
/// Returns the first undisclosed intermediate, else the first too new to
/// tell.
pub fn undisclosed(
    table: &Table,
    trust: TrustKind,
    path: &[&CertInfo],
    root_spki: &str,
) -> Option<Missing> {
    if trust != TrustKind::Public || table.root(root_spki).is_none() {
        return None;
    }
    let cutoff = day_of(table.date) - DISCLOSURE_GRACE_DAYS;
    let mut unknown = None;
    for c in path {
        if table.certificate(&c.sha256, &c.spki_sha256).is_some() {
            continue;
        }
        let m = Missing {
            name: c.display_name().to_string(),
            sha256: c.sha256.clone(),
            not_before: c.not_before,
            data_date: table.date_str(),
            data_source: table.source.clone(),
            too_new: day_of(c.not_before) > cutoff,
        };
        if !m.too_new {
            return Some(m);
        }
        unknown.get_or_insert(m);
    }
    unknown
}
