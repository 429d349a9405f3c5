//! Who issued a certificate found in CT, by key: the issuing CA is the
//! candidate certificate whose key verifies the certificate's signature —
//! never the one whose name the certificate's issuer field copies.
//! Candidates come from certwatch's history (every chain it recorded), the
//! configured roots, the CA certificates fetched before, and the
//! certificate's own AIA `caIssuers` URL (fetched over HTTP by
//! [`fetch_aia`], the only I/O here; it tells that CA's server which CA
//! certificate is wanted, never which domain).

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::{Issuance, IssuerKey};
use crate::ct::fetch::{BodyError, HttpClient};
use crate::model::{parse_cert, CertInfo};

/// Most bytes read for one AIA certificate.
pub const MAX_AIA_BYTES: u64 = 64 * 1024;

/// The precertificate poison extension (RFC 6962 §3.1).
const POISON_OID: &str = "1.3.6.1.4.1.11129.2.4.3";

/// The parts of a downloaded (pre)certificate an issuance needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// SHA-256 (hex).
    pub sha256: String,
    /// Serial number, lowercase hex without leading zeros.
    pub serial: String,
    /// A precertificate (it carries the poison extension).
    pub precert: bool,
    /// The issuer DN as text.
    pub issuer: String,
    /// Issuer O and CN.
    pub issuer_org: Option<String>,
    /// Issuer CN.
    pub issuer_cn: Option<String>,
    /// DNS names (SANs, else the CN), lowercase.
    pub names: Vec<String>,
    /// Validity, Unix seconds.
    pub not_before: i64,
    /// Validity, Unix seconds.
    pub not_after: i64,
    /// The AIA caIssuers HTTP URLs.
    pub ca_issuers: Vec<String>,
}

/// Normalises a serial number written in hex (`0A:1b`, `0a1b`).
pub fn norm_serial(s: &str) -> String {
    let hex: String = s
        .chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let t = hex.trim_start_matches('0');
    if t.is_empty() {
        "0".into()
    } else {
        t.to_string()
    }
}

/// Parses a (pre)certificate DER.
pub fn parse(der: &[u8]) -> Result<Parsed, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    let info = parse_cert(der).map_err(|e| e.to_string())?;
    let precert = cert
        .tbs_certificate
        .extensions()
        .iter()
        .any(|e| e.oid.to_id_string() == POISON_OID);
    let mut names: Vec<String> = info.sans.iter().map(|n| n.to_ascii_lowercase()).collect();
    if names.is_empty() {
        names.extend(info.subject_cn.iter().map(|n| n.to_ascii_lowercase()));
    }
    let mut ca_issuers = Vec::new();
    for ext in cert.tbs_certificate.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for d in &aia.accessdescs {
                if d.access_method.to_id_string() != "1.3.6.1.5.5.7.48.2" {
                    continue;
                }
                if let GeneralName::URI(u) = &d.access_location {
                    if u.starts_with("http://") || u.starts_with("https://") {
                        ca_issuers.push(u.to_string());
                    }
                }
            }
        }
    }
    Ok(Parsed {
        sha256: info.sha256.clone(),
        serial: norm_serial(&cert.tbs_certificate.raw_serial_as_string()),
        precert,
        issuer: info.issuer.clone(),
        issuer_org: info.issuer_org.clone(),
        issuer_cn: info.issuer_cn.clone(),
        names,
        not_before: info.not_before,
        not_after: info.not_after,
        ca_issuers,
    })
}

/// The candidate among `candidates` (DER CA certificates) whose key
/// verifies `der`'s signature and whose subject is `der`'s issuer.
pub fn issuer_of(der: &[u8], candidates: &[CertInfo]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let issuer_raw = cert.tbs_certificate.issuer.as_raw();
    candidates
        .iter()
        .filter(|c| c.is_ca || c.self_issued)
        .find(|c| {
            X509Certificate::from_der(&c.der).is_ok_and(|(_, ca)| {
                ca.tbs_certificate.subject.as_raw() == issuer_raw
                    && cert.verify_signature(Some(ca.public_key())).is_ok()
            })
        })
        .cloned()
}

/// Fills in the issuance's issuing key from `candidates` when its DER is
/// known and a candidate verifies it. A verified key replaces a claimed
/// one (the claim is a third party's). Returns the issuing certificate.
pub fn establish(i: &mut Issuance, candidates: &[CertInfo]) -> Option<CertInfo> {
    let der = i.der.as_deref()?;
    let ca = issuer_of(der, candidates)?;
    i.issuer_spki = Some(ca.spki_sha256.clone());
    i.issuer_key = IssuerKey::Verified;
    Some(ca)
}

/// Downloads the CA certificate at an AIA `caIssuers` URL (DER, or PEM),
/// bounded to [`MAX_AIA_BYTES`].
pub fn fetch_aia(client: &HttpClient, url: &str) -> Result<CertInfo, String> {
    let resp = client.get(url).map_err(|e| format!("{url}: {e}"))?;
    if !resp.is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let body = resp.body(MAX_AIA_BYTES).map_err(|e| match e {
        BodyError::Read(d) => format!("{url}: {d}"),
        BodyError::TooLarge => format!("{url}: larger than {MAX_AIA_BYTES} bytes"),
    })?;
    let der = crate::model::split_chain(&body)
        .ok()
        .and_then(|v| v.into_iter().next())
        .unwrap_or(body);
    let info = parse_cert(&der).map_err(|e| format!("{url}: {e}"))?;
    if !info.is_ca {
        return Err(format!("{url}: not a CA certificate"));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_normalise() {
        for (a, b) in [
            ("0A:1B", "a1b"),
            ("00a1b", "a1b"),
            ("a1b", "a1b"),
            ("00", "0"),
            ("", "0"),
        ] {
            assert_eq!(norm_serial(a), b, "{a}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b""[..], b"\x30\x03\x02\x01\x01", &[0xFF; 64]] {
            assert!(parse(bad).is_err());
            assert!(issuer_of(bad, &[]).is_none());
        }
    }
}
