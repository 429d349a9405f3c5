//! Trust classification of a presented chain: `public`, `local` or `untrusted`.
//!
//! `public` means the chain validates (rustls-webpki, server-auth usage) to the
//! built-in Mozilla root set (webpki-roots) or to the set given with `--roots`.
//! `local` means it validates only through the OS store or `--local-roots`:
//! corporate proxies, antivirus and malware roots live there. `untrusted`
//! means no path at all. Validity period and host name are judged separately,
//! so an expired certificate from a public CA is `public` + `expired`.
//!
//! The OS store is expensive to load (13–20 ms), so it is read lazily, only
//! when the public set fails.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{anchor_from_trusted_cert, EndEntityCert, KeyUsage};
use x509_parser::prelude::FromDer;

use crate::model::{sha256_b64, CertInfo};

/// The trust class of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrustKind {
    /// Validates to a root in the public (Mozilla) set.
    Public,
    /// Validates only to a locally installed root (OS store or `--local-roots`).
    Local,
    /// No path to any known root.
    Untrusted,
}

impl TrustKind {
    /// Stable lowercase name used in JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustKind::Public => "public",
            TrustKind::Local => "local",
            TrustKind::Untrusted => "untrusted",
        }
    }

    /// Inverse of [`TrustKind::as_str`].
    pub fn parse(s: &str) -> Option<TrustKind> {
        match s {
            "public" => Some(TrustKind::Public),
            "local" => Some(TrustKind::Local),
            "untrusted" => Some(TrustKind::Untrusted),
            _ => None,
        }
    }
}

/// The root a chain validated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Subject DN of the root.
    pub subject: String,
    /// CN of the root, else O, else the DN.
    pub name: String,
    /// O of the root, if any.
    pub org: Option<String>,
    /// SHA-256 of the root's SPKI, base64.
    pub spki_sha256: String,
}

/// The outcome of classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// The trust class.
    pub kind: TrustKind,
    /// The anchor, for `public` and `local`.
    pub anchor: Option<Anchor>,
    /// The leaf (or another certificate on the path) is past notAfter.
    pub expired: bool,
    /// The leaf (or another certificate on the path) is before notBefore.
    pub not_yet_valid: bool,
    /// The leaf is not valid for the host name checked.
    pub name_mismatch: bool,
    /// A single self-issued certificate.
    pub self_signed: bool,
    /// Validation errors, short and stable (e.g. `UnknownIssuer`).
    pub errors: Vec<String>,
    /// The verified path's intermediates as indexes into the chain, the
    /// leaf's issuer first (empty: issued by the anchor itself, or no path).
    /// The issuing CA is the one whose key signed the leaf, whatever names
    /// other certificates in the chain carry.
    pub path: Vec<usize>,
}

/// Where the local (non-public) roots come from.
#[derive(Debug, Clone)]
pub enum LocalRoots {
    /// The operating system's store (rustls-native-certs), loaded lazily.
    Os,
    /// Exactly these DER roots (`--local-roots FILE`).
    Given(Vec<Vec<u8>>),
    /// No local roots at all.
    None,
}

/// Classifies chains. Build once, share freely (it is `Send + Sync`).
pub struct Classifier {
    public: Vec<TrustAnchor<'static>>,
    local_spec: LocalRoots,
    local: OnceLock<Arc<Vec<TrustAnchor<'static>>>>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("public_roots", &self.public.len())
            .field("local", &self.local_spec)
            .finish()
    }
}

/// Errors building a classifier from root files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootsError {
    /// A root certificate could not be used as a trust anchor.
    #[error("root certificate #{index} is not a usable trust anchor: {reason}")]
    BadAnchor {
        /// Position in the file.
        index: usize,
        /// webpki's reason.
        reason: String,
    },
}

fn anchors_from_ders(ders: &[Vec<u8>]) -> Result<Vec<TrustAnchor<'static>>, RootsError> {
    ders.iter()
        .enumerate()
        .map(|(index, d)| {
            anchor_from_trusted_cert(&CertificateDer::from(d.as_slice()))
                .map(|a| a.to_owned())
                .map_err(|e| RootsError::BadAnchor {
                    index,
                    reason: format!("{e:?}"),
                })
        })
        .collect()
}

impl Classifier {
    /// `public`: `None` = built-in Mozilla set; `Some(ders)` replaces it.
    pub fn new(public: Option<&[Vec<u8>]>, local: LocalRoots) -> Result<Self, RootsError> {
        let public = match public {
            None => webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            Some(ders) => anchors_from_ders(ders)?,
        };
        let local_cell = OnceLock::new();
        if let LocalRoots::Given(ders) = &local {
            let _ = local_cell.set(Arc::new(anchors_from_ders(ders)?));
        }
        Ok(Classifier {
            public,
            local_spec: local,
            local: local_cell,
        })
    }

    fn local_anchors(&self) -> Arc<Vec<TrustAnchor<'static>>> {
        self.local
            .get_or_init(|| {
                Arc::new(match &self.local_spec {
                    LocalRoots::Os => {
                        let loaded = rustls_native_certs::load_native_certs();
                        loaded
                            .certs
                            .iter()
                            .filter_map(|c| anchor_from_trusted_cert(c).ok().map(|a| a.to_owned()))
                            .collect()
                    }
                    LocalRoots::Given(_) | LocalRoots::None => Vec::new(),
                })
            })
            .clone()
    }

    /// Classifies `chain` (leaf first) for `host` at Unix time `now`.
    pub fn classify(&self, chain: &[CertInfo], host: &str, now: i64) -> Trust {
        let mut trust = Trust {
            kind: TrustKind::Untrusted,
            anchor: None,
            expired: false,
            not_yet_valid: false,
            name_mismatch: false,
            self_signed: false,
            errors: Vec::new(),
            path: Vec::new(),
        };
        let Some(leaf) = chain.first() else {
            trust.errors.push("empty chain".into());
            return trust;
        };
        trust.self_signed = chain.len() == 1 && leaf.self_issued;
        trust.expired = now > leaf.not_after;
        trust.not_yet_valid = now < leaf.not_before;

        let leaf_der = CertificateDer::from(leaf.der.as_slice());
        let ee = match EndEntityCert::try_from(&leaf_der) {
            Ok(ee) => ee,
            Err(e) => {
                trust.errors.push(webpki_error_name(&e));
                return trust;
            }
        };
        trust.name_mismatch = match server_name(host) {
            Some(name) => ee.verify_is_valid_for_subject_name(&name).is_err(),
            None => true,
        };
        let inter: Vec<CertificateDer<'_>> = chain[1..]
            .iter()
            .map(|c| CertificateDer::from(c.der.as_slice()))
            .collect();

        match verify(&ee, &self.public, &inter, now, leaf, &mut trust) {
            Ok((anchor, path)) => {
                trust.kind = TrustKind::Public;
                trust.anchor = Some(anchor);
                trust.path = path_indexes(chain, &path);
                return trust;
            }
            Err(e) => trust.errors.push(e),
        }
        let local = self.local_anchors();
        if !local.is_empty() {
            if let Ok((anchor, path)) = verify(&ee, &local, &inter, now, leaf, &mut trust) {
                trust.kind = TrustKind::Local;
                trust.anchor = Some(anchor);
                trust.path = path_indexes(chain, &path);
                trust.errors.clear();
                return trust;
            }
        }
        trust
    }
}

/// Verifies at `now`; if only time is wrong, retries inside the leaf's
/// validity so that "expired but from a public CA" is still told apart.
fn verify(
    ee: &EndEntityCert<'_>,
    anchors: &[TrustAnchor<'_>],
    inter: &[CertificateDer<'_>],
    now: i64,
    leaf: &CertInfo,
    trust: &mut Trust,
) -> Result<(Anchor, Vec<Vec<u8>>), String> {
    let at = |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
    let run = |t: i64| {
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            anchors,
            inter,
            at(t),
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map(|p| {
            let path = p
                .intermediate_certificates()
                .map(|c| c.der().as_ref().to_vec())
                .collect();
            (anchor_info(p.anchor()), path)
        })
    };
    match run(now) {
        Ok(a) => Ok(a),
        Err(e @ (webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })) => {
            if matches!(e, webpki::Error::CertExpired { .. }) {
                trust.expired = true;
            } else {
                trust.not_yet_valid = true;
            }
            let mid = leaf.not_before + leaf.lifetime_secs() / 2;
            run(mid).map_err(|e| webpki_error_name(&e))
        }
        Err(e) => Err(webpki_error_name(&e)),
    }
}

/// Where each verified intermediate (DER) sits in the presented chain.
fn path_indexes(chain: &[CertInfo], path: &[Vec<u8>]) -> Vec<usize> {
    path.iter()
        .filter_map(|der| {
            chain
                .iter()
                .skip(1)
                .position(|c| &c.der == der)
                .map(|i| i + 1)
        })
        .collect()
}

fn server_name(host: &str) -> Option<ServerName<'static>> {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(h.to_string()).ok()
}

/// A short, stable name for a webpki error (its variant name).
fn webpki_error_name(e: &webpki::Error) -> String {
    let dbg = format!("{e:?}");
    let end = dbg.find([' ', '(', '{']).unwrap_or(dbg.len());
    dbg[..end].to_string()
}

/// Wraps DER *contents* in a SEQUENCE header.
pub(crate) fn der_sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 4);
    out.push(0x30);
    let n = contents.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0x81, n as u8]);
    } else if n <= 0xffff {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    } else {
        out.extend_from_slice(&[0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(contents);
    out
}

fn anchor_info(a: &TrustAnchor<'_>) -> Anchor {
    let name_der = der_sequence(a.subject.as_ref());
    let (subject, name, org) = match x509_parser::x509::X509Name::from_der(&name_der) {
        Ok((_, n)) => {
            let cn = n
                .iter_common_name()
                .next()
                .and_then(|v| v.as_str().ok())
                .map(str::to_string);
            let org = n
                .iter_organization()
                .next()
                .and_then(|v| v.as_str().ok())
                .map(str::to_string);
            let subject = n.to_string();
            let name = cn
                .or_else(|| org.clone())
                .unwrap_or_else(|| subject.clone());
            (subject, name, org)
        }
        Err(_) => ("(unparsable name)".into(), "(unparsable name)".into(), None),
    };
    Anchor {
        subject,
        name,
        org,
        spki_sha256: sha256_b64(&der_sequence(a.subject_public_key_info.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_sequence_lengths() {
        assert_eq!(der_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        assert_eq!(&der_sequence(&[0; 200])[..3], &[0x30, 0x81, 200]);
        assert_eq!(&der_sequence(&[0; 300])[..4], &[0x30, 0x82, 1, 44]);
    }

    #[test]
    fn error_names_are_short() {
        assert_eq!(
            webpki_error_name(&webpki::Error::UnknownIssuer),
            "UnknownIssuer"
        );
    }

    #[test]
    fn builtin_roots_are_loaded() {
        let c = Classifier::new(None, LocalRoots::None).unwrap();
        assert!(c.public.len() > 100);
    }
}
