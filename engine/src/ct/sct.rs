//! SCTs: parsing the TLS-encoded list, finding it in a certificate or a
//! stapled OCSP response, and verifying each SCT per RFC 6962 with ring.

use super::der::{self, DerError};
use super::loglist::{KeyAlg, LogList};

/// Where an SCT was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SctSource {
    /// In the certificate (precertificate entry).
    Embedded,
    /// In the TLS `signed_certificate_timestamp` extension (x509 entry).
    Tls,
    /// In a stapled OCSP response (x509 entry).
    Ocsp,
}

impl SctSource {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            SctSource::Embedded => "embedded",
            SctSource::Tls => "tls_extension",
            SctSource::Ocsp => "ocsp",
        }
    }
}

/// One parsed SCT (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// The log's id.
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// CtExtensions, verbatim (signed).
    pub extensions: Vec<u8>,
    /// TLS HashAlgorithm.
    pub hash_alg: u8,
    /// TLS SignatureAlgorithm.
    pub sig_alg: u8,
    /// The signature.
    pub signature: Vec<u8>,
    /// How it arrived.
    pub source: SctSource,
}

/// The verification outcome of one SCT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SctStatus {
    /// Signature verifies with a known log that was usable then.
    Valid,
    /// Signature does not verify (or an unsupported algorithm).
    Invalid,
    /// The log is in none of the loaded lists.
    UnknownLog,
    /// Timestamp after the evaluation time.
    FutureTimestamp,
    /// The log was not usable at the SCT's time (pending, retired or
    /// rejected before, or the certificate's notAfter is outside the shard).
    LogNotUsableAtTime,
    /// The issuer's certificate is needed for an embedded SCT but was not given.
    NoIssuer,
}

impl SctStatus {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SctStatus::Valid => "valid",
            SctStatus::Invalid => "invalid",
            SctStatus::UnknownLog => "unknown_log",
            SctStatus::FutureTimestamp => "future_timestamp",
            SctStatus::LogNotUsableAtTime => "log_not_usable_at_time",
            SctStatus::NoIssuer => "no_issuer",
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DerError> {
        if self.0.len() < n {
            return Err(DerError("SCT truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DerError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, DerError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }
    fn vec16(&mut self) -> Result<&'a [u8], DerError> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// At most this many SCTs are read from one list.
pub const MAX_SCTS: usize = 64;

/// Parses a TLS `SignedCertificateTimestampList`. SCTs of unknown versions are skipped.
pub fn parse_sct_list(bytes: &[u8], source: SctSource) -> Result<Vec<Sct>, DerError> {
    let mut r = Reader(bytes);
    let list = r.vec16()?;
    if !r.0.is_empty() {
        return Err(DerError("trailing bytes after SCT list"));
    }
    let mut r = Reader(list);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let one = r.vec16()?;
        if out.len() >= MAX_SCTS {
            break;
        }
        let mut s = Reader(one);
        if s.u8()? != 0 {
            continue;
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(s.take(32)?);
        let ts = s.take(8)?;
        let mut tsb = [0u8; 8];
        tsb.copy_from_slice(ts);
        let extensions = s.vec16()?.to_vec();
        let hash_alg = s.u8()?;
        let sig_alg = s.u8()?;
        let signature = s.vec16()?.to_vec();
        if !s.0.is_empty() {
            return Err(DerError("trailing bytes in SCT"));
        }
        out.push(Sct {
            log_id,
            timestamp_ms: u64::from_be_bytes(tsb),
            extensions,
            hash_alg,
            sig_alg,
            signature,
            source,
        });
    }
    Ok(out)
}

/// The SCT list carried in an extension value (an OCTET STRING around the TLS list).
fn list_from_ext_value(v: &[u8], source: SctSource) -> Result<Vec<Sct>, DerError> {
    let inner = der::exactly(v, 0x04, "SCT extension is not an OCTET STRING")?;
    parse_sct_list(inner.value, source)
}

/// Embedded SCTs of a certificate, from its TBSCertificate.
pub fn embedded_scts(tbs: &[u8]) -> Result<Vec<Sct>, DerError> {
    match der::tbs_extension(tbs, der::OID_SCT_LIST)? {
        Some(v) => list_from_ext_value(v, SctSource::Embedded),
        None => Ok(Vec::new()),
    }
}

/// SCTs in a stapled OCSP response, for the SingleResponse whose serial
/// number is `serial` (contents octets of the leaf's serialNumber).
pub fn ocsp_scts(ocsp: &[u8], serial: &[u8]) -> Result<Vec<Sct>, DerError> {
    if ocsp.is_empty() {
        return Ok(Vec::new());
    }
    let resp = der::exactly(ocsp, 0x30, "OCSPResponse is not a SEQUENCE")?;
    let (status, rest) = der::expect(resp.value, 0x0A, "no responseStatus")?;
    if status.value != [0] || rest.is_empty() {
        return Ok(Vec::new());
    }
    let bytes = der::exactly(rest, 0xA0, "no responseBytes")?;
    let rb = der::exactly(bytes.value, 0x30, "responseBytes is not a SEQUENCE")?;
    let (kind, rest) = der::expect(rb.value, 0x06, "no responseType")?;
    if kind.value != der::OID_OCSP_BASIC {
        return Ok(Vec::new());
    }
    let octets = der::exactly(rest, 0x04, "response is not an OCTET STRING")?;
    let basic = der::exactly(octets.value, 0x30, "BasicOCSPResponse is not a SEQUENCE")?;
    let (data, _) = der::expect(basic.value, 0x30, "no tbsResponseData")?;
    let mut out = Vec::new();
    for field in der::children(data.value)? {
        // responses: the only SEQUENCE directly inside ResponseData.
        if field.tag != 0x30 {
            continue;
        }
        for single in der::children(field.value)? {
            let parts = der::children(single.value)?;
            let Some(cert_id) = parts.first() else {
                continue;
            };
            let id_parts = der::children(cert_id.value)?;
            let matches = id_parts.get(3).is_some_and(|s| s.value == serial);
            if !matches {
                continue;
            }
            // certID, certStatus, thisUpdate, [0] nextUpdate?, [1] singleExtensions?
            for ext in parts.iter().skip(3).filter(|p| p.tag == 0xA1) {
                let exts = der::exactly(ext.value, 0x30, "singleExtensions is not a SEQUENCE")?;
                if let Some(v) = der::find_in_extensions(exts.value, der::OID_OCSP_SCT_LIST)? {
                    out.extend(list_from_ext_value(v, SctSource::Ocsp)?);
                }
            }
        }
    }
    Ok(out)
}

/// What an SCT signs over, for one certificate (computed once per certificate).
pub struct SignedEntry {
    /// `entry_type` + entry for precert SCTs; `None` without issuer.
    precert: Option<Vec<u8>>,
    /// `entry_type` + entry for x509 SCTs.
    x509: Vec<u8>,
}

fn u24(v: &mut Vec<u8>, n: usize) {
    v.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
}

impl SignedEntry {
    /// Builds the entries for `leaf_der` with TBS `tbs`, issued by the key `issuer_spki`.
    pub fn new(leaf_der: &[u8], tbs: &[u8], issuer_spki: Option<&[u8]>) -> SignedEntry {
        let precert = issuer_spki.and_then(|spki| {
            let ptbs = der::tbs_without_extension(tbs, der::OID_SCT_LIST).ok()??;
            let mut v = Vec::with_capacity(40 + ptbs.len());
            v.extend_from_slice(&[0, 1]);
            v.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, spki).as_ref());
            u24(&mut v, ptbs.len());
            v.extend_from_slice(&ptbs);
            Some(v)
        });
        let mut x509 = Vec::with_capacity(5 + leaf_der.len());
        x509.extend_from_slice(&[0, 0]);
        u24(&mut x509, leaf_der.len());
        x509.extend_from_slice(leaf_der);
        SignedEntry { precert, x509 }
    }
}

/// The digitally-signed data of `sct` over `entry` (RFC 6962 §3.2).
pub fn signed_data(sct: &Sct, entry: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(12 + entry.len() + sct.extensions.len());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    v.extend_from_slice(entry);
    v.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    v.extend_from_slice(&sct.extensions);
    v
}

/// Verifies `sct` for the certificate described by `entry` at `now`
/// (Unix seconds) with `not_after` the certificate's notAfter.
pub fn verify(
    sct: &Sct,
    entry: &SignedEntry,
    logs: &LogList,
    now: i64,
    not_after: i64,
) -> SctStatus {
    let Some(log) = logs.get(&sct.log_id) else {
        return SctStatus::UnknownLog;
    };
    let e = match sct.source {
        SctSource::Embedded => match &entry.precert {
            Some(p) => p.as_slice(),
            None => return SctStatus::NoIssuer,
        },
        SctSource::Tls | SctSource::Ocsp => entry.x509.as_slice(),
    };
    let alg: &dyn ring::signature::VerificationAlgorithm =
        match (sct.hash_alg, sct.sig_alg, log.alg) {
            (4, 3, KeyAlg::EcdsaP256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
            (4, 1, KeyAlg::Rsa) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            _ => return SctStatus::Invalid,
        };
    let data = signed_data(sct, e);
    if ring::signature::UnparsedPublicKey::new(alg, &log.public_key)
        .verify(&data, &sct.signature)
        .is_err()
    {
        return SctStatus::Invalid;
    }
    let t = (sct.timestamp_ms / 1000) as i64;
    if t > now {
        return SctStatus::FutureTimestamp;
    }
    let in_shard = log
        .temporal_interval
        .is_none_or_compat(|(a, b)| not_after >= a && not_after < b);
    if !log.usable_for_sct_at(t) || !in_shard {
        return SctStatus::LogNotUsableAtTime;
    }
    SctStatus::Valid
}

trait NoneOr<T> {
    fn is_none_or_compat(&self, f: impl FnOnce(T) -> bool) -> bool;
}

impl<T: Copy> NoneOr<T> for Option<T> {
    fn is_none_or_compat(&self, f: impl FnOnce(T) -> bool) -> bool {
        match self {
            None => true,
            Some(v) => f(*v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sct_bytes(ext: &[u8], sig: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8];
        v.extend_from_slice(&[7u8; 32]);
        v.extend_from_slice(&1_000u64.to_be_bytes());
        v.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        v.extend_from_slice(ext);
        v.extend_from_slice(&[4, 3]);
        v.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        v.extend_from_slice(sig);
        v
    }

    fn list(scts: &[Vec<u8>]) -> Vec<u8> {
        let mut inner = Vec::new();
        for s in scts {
            inner.extend_from_slice(&(s.len() as u16).to_be_bytes());
            inner.extend_from_slice(s);
        }
        let mut v = (inner.len() as u16).to_be_bytes().to_vec();
        v.extend(inner);
        v
    }

    #[test]
    fn parses_lists_and_rejects_garbage() {
        let two = list(&[
            sct_bytes(b"", b"sig"),
            sct_bytes(&[1, 2, 3, 4, 5, 6, 7, 8], b"s"),
        ]);
        let got = parse_sct_list(&two, SctSource::Tls).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].extensions.len(), 8);
        assert_eq!(got[0].timestamp_ms, 1000);
        let bad: &[&[u8]] = &[&[], &[0], &[0, 5, 0, 3], &two[..two.len() - 1]];
        for b in bad {
            assert!(parse_sct_list(b, SctSource::Tls).is_err(), "{b:?}");
        }
        let mut trailing = two.clone();
        trailing.push(0);
        assert!(parse_sct_list(&trailing, SctSource::Tls).is_err());
    }

    #[test]
    fn ocsp_garbage_is_an_error_or_empty() {
        assert_eq!(ocsp_scts(&[], &[1]).unwrap(), vec![]);
        assert!(ocsp_scts(&[0x30, 0x03, 0x0A, 0x01], &[1]).is_err());
        // unsuccessful status: no SCTs
        assert_eq!(
            ocsp_scts(&[0x30, 0x03, 0x0A, 0x01, 0x01], &[1]).unwrap(),
            vec![]
        );
    }
}
