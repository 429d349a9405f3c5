//! The project's own view of a certificate, parsed once with x509-parser.
//!
//! Everything downstream (trust, CA identity, verdict, store, JSON) works on
//! [`CertInfo`], never on x509-parser types, so a parser change stays here.
//! Parsing is total: malformed input is an [`Error`], never a panic.

use base64::Engine as _;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Largest certificate we accept (DER bytes). Real leaves are 1–8 KiB.
pub const MAX_CERT_DER: usize = 64 * 1024;
/// Most certificates we keep from one chain; longer chains are truncated by the probe.
pub const MAX_CHAIN_LEN: usize = 16;
/// Most certificates one PEM file may hold (root bundles have ~150).
pub const MAX_PEM_CERTS: usize = 4096;

/// Why a certificate could not be turned into a [`CertInfo`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a DER X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    NotACertificate(String),
    /// The certificate is larger than [`MAX_CERT_DER`].
    #[error("certificate is {0} bytes, over the {MAX_CERT_DER}-byte limit")]
    TooLarge(usize),
    /// A PEM input held no CERTIFICATE block.
    #[error("no CERTIFICATE block found in PEM input")]
    NoPemCertificate,
    /// A PEM block was malformed.
    #[error("malformed PEM: {0}")]
    BadPem(String),
}

/// A parsed certificate: the facts certwatch reasons about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The DER bytes as presented.
    pub der: Vec<u8>,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo DER, base64 (the form HPKP pins use).
    pub spki_sha256: String,
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// Issuer distinguished name, RFC 4514 style.
    pub issuer: String,
    /// First CN of the subject, if any.
    pub subject_cn: Option<String>,
    /// First O of the subject, if any.
    pub subject_org: Option<String>,
    /// First O of the issuer, if any.
    pub issuer_org: Option<String>,
    /// First CN of the issuer, if any.
    pub issuer_cn: Option<String>,
    /// DNS and IP subject alternative names.
    pub sans: Vec<String>,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Key type and size, e.g. `RSA-2048`, `EC-P256`, `Ed25519`.
    pub key_type: String,
    /// Authority key identifier, lowercase hex.
    pub aki: Option<String>,
    /// Subject key identifier, lowercase hex.
    pub ski: Option<String>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// Subject equals issuer (a root, or a self-signed leaf).
    pub self_issued: bool,
    /// Raw DER of the SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Raw DER of the TBSCertificate (used by CT verification).
    pub tbs_der: Vec<u8>,
}

impl CertInfo {
    /// Lifetime in seconds (notAfter − notBefore).
    pub fn lifetime_secs(&self) -> i64 {
        self.not_after.saturating_sub(self.not_before)
    }

    /// A short human name: the subject CN, else O, else the whole subject.
    pub fn display_name(&self) -> &str {
        self.subject_cn
            .as_deref()
            .or(self.subject_org.as_deref())
            .unwrap_or(&self.subject)
    }
}

/// SHA-256 of `data` as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// SHA-256 of `data` as standard base64.
pub fn sha256_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Parses one DER certificate.
pub fn parse_cert(der: &[u8]) -> Result<CertInfo, Error> {
    if der.len() > MAX_CERT_DER {
        return Err(Error::TooLarge(der.len()));
    }
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| Error::NotACertificate(short_nom_error(&e)))?;
    if !rest.is_empty() {
        return Err(Error::NotACertificate(format!(
            "{} trailing bytes after the certificate",
            rest.len()
        )));
    }
    let spki_der = cert.tbs_certificate.subject_pki.raw.to_vec();
    let mut sans = Vec::new();
    let mut aki = None;
    let mut ski = None;
    let mut is_ca = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => sans.push(d.to_string()),
                        GeneralName::IPAddress(ip) => {
                            if let Some(ip) = ip_from_bytes(ip) {
                                sans.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| hex(k.0));
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(hex(k.0)),
            ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
            _ => {}
        }
    }
    let subject = cert.subject();
    let issuer = cert.issuer();
    Ok(CertInfo {
        sha256: sha256_hex(der),
        spki_sha256: sha256_b64(&spki_der),
        subject: subject.to_string(),
        issuer: issuer.to_string(),
        subject_cn: first_attr(subject.iter_common_name()),
        subject_org: first_attr(subject.iter_organization()),
        issuer_org: first_attr(issuer.iter_organization()),
        issuer_cn: first_attr(issuer.iter_common_name()),
        sans,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        key_type: key_type(&cert),
        aki,
        ski,
        is_ca,
        self_issued: subject.as_raw() == issuer.as_raw(),
        tbs_der: cert.tbs_certificate.as_ref().to_vec(),
        spki_der,
        der: der.to_vec(),
    })
}

fn first_attr<'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
}

fn short_nom_error(e: &x509_parser::nom::Err<x509_parser::error::X509Error>) -> String {
    match e {
        x509_parser::nom::Err::Incomplete(_) => "truncated DER".to_string(),
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e.to_string(),
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

fn key_type(cert: &X509Certificate<'_>) -> String {
    match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA-{}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => match ec.key_size() {
            256 => "EC-P256".to_string(),
            384 => "EC-P384".to_string(),
            521 => "EC-P521".to_string(),
            n => format!("EC-{n}"),
        },
        Ok(PublicKey::DSA(_)) => "DSA".to_string(),
        Ok(PublicKey::GostR3410(_)) | Ok(PublicKey::GostR3410_2012(_)) => "GOST".to_string(),
        Ok(PublicKey::Unknown(_)) | Err(_) => {
            let oid = cert.public_key().algorithm.algorithm.to_id_string();
            match oid.as_str() {
                "1.3.101.112" => "Ed25519".to_string(),
                "1.3.101.113" => "Ed448".to_string(),
                _ => format!("unknown({oid})"),
            }
        }
    }
}

/// Splits PEM text or a DER blob into DER certificates (leaf first, as given).
///
/// PEM: every `CERTIFICATE` block in order; other blocks are skipped.
/// Anything that does not start with `-----BEGIN` is treated as one DER certificate.
pub fn split_chain(bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    // PEM anywhere in the input (root bundles start with `#` comments).
    let looks_pem = bytes.windows(10).any(|w| w == b"-----BEGIN");
    if !looks_pem {
        if bytes.first() == Some(&0x30) {
            return Ok(vec![bytes.to_vec()]);
        }
        return Err(Error::NoPemCertificate);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Error::BadPem("not UTF-8".into()))?;
    let mut out = Vec::new();
    let mut in_cert = false;
    let mut b64 = String::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            in_cert = true;
            b64.clear();
        } else if line == "-----END CERTIFICATE-----" {
            if !in_cert {
                return Err(Error::BadPem(format!(
                    "line {}: END without BEGIN",
                    lineno + 1
                )));
            }
            in_cert = false;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| Error::BadPem(format!("line {}: {e}", lineno + 1)))?;
            if out.len() >= MAX_PEM_CERTS {
                return Err(Error::BadPem(format!(
                    "more than {MAX_PEM_CERTS} certificates"
                )));
            }
            out.push(der);
        } else if in_cert {
            if line.contains(':') {
                continue; // RFC 1421 headers; not expected, tolerated
            }
            b64.push_str(line);
            if b64.len() > MAX_CERT_DER * 2 {
                return Err(Error::TooLarge(b64.len() * 3 / 4));
            }
        }
    }
    if in_cert {
        return Err(Error::BadPem("BEGIN CERTIFICATE without END".into()));
    }
    if out.is_empty() {
        return Err(Error::NoPemCertificate);
    }
    Ok(out)
}

/// Parses a whole chain; the first failure names the certificate's position.
pub fn parse_chain(ders: &[Vec<u8>]) -> Result<Vec<CertInfo>, (usize, Error)> {
    ders.iter()
        .enumerate()
        .map(|(i, d)| parse_cert(d).map_err(|e| (i, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x82\xff\xff",
            b"hello",
            &[0u8; 100],
        ] {
            assert!(parse_cert(input).is_err());
        }
    }

    #[test]
    fn root_bundle_with_comments_is_read() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.test".into()]).unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        let bundle = format!("# Mozilla bundle\n# comment\n\n{}", pem.repeat(200));
        assert_eq!(split_chain(bundle.as_bytes()).unwrap().len(), 200);
    }

    #[test]
    fn pem_without_certificate_is_rejected() {
        assert_eq!(
            split_chain(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(Error::NoPemCertificate)
        );
        assert_eq!(split_chain(b"just text"), Err(Error::NoPemCertificate));
        assert!(matches!(
            split_chain(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Err(Error::BadPem(_))
        ));
    }

    #[test]
    fn rcgen_certificate_parses() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["example.test".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Org");
        let cert = params.self_signed(&key).unwrap();
        let info = parse_cert(cert.der()).unwrap();
        assert_eq!(info.sans, vec!["example.test".to_string()]);
        assert_eq!(info.key_type, "EC-P256");
        assert!(info.self_issued);
        assert_eq!(info.subject_org.as_deref(), Some("Example Org"));
        assert_eq!(
            info.spki_sha256,
            sha256_b64(&rcgen::PublicKeyData::subject_public_key_info(&key))
        );
        let pem = cert.pem();
        let split = split_chain(pem.as_bytes()).unwrap();
        assert_eq!(split, vec![cert.der().to_vec()]);
    }
}
