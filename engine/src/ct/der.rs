//! A minimal, bounded DER walker: just enough to find extensions in a
//! TBSCertificate or an OCSP response and to drop one extension by
//! re-encoding the lengths around it. Single-byte tags only (all X.509 and
//! OCSP structures certwatch walks use them); no indefinite lengths.

use std::fmt;

/// DER the walker cannot read, with what it expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerError(pub &'static str);

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed DER: {}", self.0)
    }
}

impl std::error::Error for DerError {}

/// One tag-length-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents.
    pub value: &'a [u8],
    /// Header and contents.
    pub raw: &'a [u8],
}

/// OID 1.3.6.1.4.1.11129.2.4.2 (embedded SCT list), contents octets.
pub const OID_SCT_LIST: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02, 0x04, 0x02];
/// OID 1.3.6.1.4.1.11129.2.4.5 (SCT list in an OCSP SingleResponse), contents octets.
pub const OID_OCSP_SCT_LIST: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02, 0x04, 0x05];
/// OID 1.3.6.1.5.5.7.48.1.1 (id-pkix-ocsp-basic), contents octets.
pub const OID_OCSP_BASIC: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];

/// Reads one TLV from the front of `input`; returns it and the rest.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError("truncated tag"))?;
    if tag & 0x1F == 0x1F {
        return Err(DerError("multi-byte tag"));
    }
    let (&first, rest) = rest.split_first().ok_or(DerError("truncated length"))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7F) as usize;
        if n == 0 || n > 4 {
            return Err(DerError("unsupported length form"));
        }
        if rest.len() < n {
            return Err(DerError("truncated length"));
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError("value runs past the end"));
    }
    let header = input.len() - rest.len();
    let tlv = Tlv {
        tag,
        value: &rest[..len],
        raw: &input[..header + len],
    };
    Ok((tlv, &rest[len..]))
}

/// Reads one TLV with `tag`.
pub fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(Tlv<'a>, &'a [u8]), DerError> {
    let (t, rest) = read(input)?;
    if t.tag != tag {
        return Err(DerError(what));
    }
    Ok((t, rest))
}

/// Reads exactly one TLV with `tag` spanning all of `input`.
pub fn exactly<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
    let (t, rest) = expect(input, tag, what)?;
    if !rest.is_empty() {
        return Err(DerError("trailing bytes"));
    }
    Ok(t)
}

/// The children of a constructed value.
pub fn children(mut value: &[u8]) -> Result<Vec<Tlv<'_>>, DerError> {
    let mut out = Vec::new();
    while !value.is_empty() {
        let (t, rest) = read(value)?;
        out.push(t);
        value = rest;
    }
    Ok(out)
}

/// DER header for `tag` and `len`.
pub fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut v = vec![tag];
    if len < 0x80 {
        v.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        v.push(0x80 | (8 - skip) as u8);
        v.extend_from_slice(&bytes[skip..]);
    }
    v
}

fn wrap(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut v = header(tag, len);
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// The `extnValue` contents of the extension `oid` in an `Extensions` SEQUENCE's contents.
pub fn find_in_extensions<'a>(exts: &'a [u8], oid: &[u8]) -> Result<Option<&'a [u8]>, DerError> {
    for ext in children(exts)? {
        if ext.tag != 0x30 {
            return Err(DerError("extension is not a SEQUENCE"));
        }
        let (id, rest) = expect(ext.value, 0x06, "extension without OID")?;
        if id.value != oid {
            continue;
        }
        let mut rest = rest;
        let (mut t, mut after) = read(rest)?;
        if t.tag == 0x01 {
            rest = after;
            (t, after) = read(rest)?;
        }
        if t.tag != 0x04 || !after.is_empty() {
            return Err(DerError("extension value is not an OCTET STRING"));
        }
        return Ok(Some(t.value));
    }
    Ok(None)
}

/// The `Extensions` SEQUENCE contents of a TBSCertificate, if it has any.
fn tbs_extensions(tbs: &[u8]) -> Result<Option<Tlv<'_>>, DerError> {
    let seq = exactly(tbs, 0x30, "TBSCertificate is not a SEQUENCE")?;
    for child in children(seq.value)? {
        if child.tag == 0xA3 {
            return Ok(Some(exactly(
                child.value,
                0x30,
                "extensions are not a SEQUENCE",
            )?));
        }
    }
    Ok(None)
}

/// The `extnValue` contents of extension `oid` in a TBSCertificate.
pub fn tbs_extension<'a>(tbs: &'a [u8], oid: &[u8]) -> Result<Option<&'a [u8]>, DerError> {
    match tbs_extensions(tbs)? {
        Some(exts) => find_in_extensions(exts.value, oid),
        None => Ok(None),
    }
}

/// The serial number's contents octets of a TBSCertificate.
pub fn tbs_serial(tbs: &[u8]) -> Result<&[u8], DerError> {
    let seq = exactly(tbs, 0x30, "TBSCertificate is not a SEQUENCE")?;
    let (mut t, mut rest) = read(seq.value)?;
    if t.tag == 0xA0 {
        (t, rest) = read(rest)?;
    }
    let _ = rest;
    if t.tag != 0x02 {
        return Err(DerError("no serial number"));
    }
    Ok(t.value)
}

/// The TBSCertificate with the extension `oid` removed, re-encoded (RFC 6962
/// precertificate TBS). `None` when the extension is absent.
pub fn tbs_without_extension(tbs: &[u8], oid: &[u8]) -> Result<Option<Vec<u8>>, DerError> {
    let seq = exactly(tbs, 0x30, "TBSCertificate is not a SEQUENCE")?;
    let mut found = false;
    let mut fields: Vec<Vec<u8>> = Vec::new();
    for child in children(seq.value)? {
        if child.tag != 0xA3 {
            fields.push(child.raw.to_vec());
            continue;
        }
        let exts = exactly(child.value, 0x30, "extensions are not a SEQUENCE")?;
        let mut kept: Vec<&[u8]> = Vec::new();
        for ext in children(exts.value)? {
            let (id, _) = expect(ext.value, 0x06, "extension without OID")?;
            if id.value == oid && !found {
                found = true;
            } else {
                kept.push(ext.raw);
            }
        }
        let inner = wrap(0x30, &kept);
        fields.push(wrap(0xA3, &[&inner]));
    }
    if !found {
        return Ok(None);
    }
    let parts: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
    Ok(Some(wrap(0x30, &parts)))
}

/// The `subjectPublicKey` bits of a SubjectPublicKeyInfo, and its algorithm OID.
pub fn spki_key(spki: &[u8]) -> Result<(&[u8], &[u8]), DerError> {
    let seq = exactly(spki, 0x30, "SubjectPublicKeyInfo is not a SEQUENCE")?;
    let (alg, rest) = expect(seq.value, 0x30, "no AlgorithmIdentifier")?;
    let (oid, _) = expect(alg.value, 0x06, "no algorithm OID")?;
    let bits = exactly(rest, 0x03, "no subjectPublicKey BIT STRING")?;
    match bits.value.split_first() {
        Some((0, key)) => Ok((oid.value, key)),
        _ => Err(DerError("subjectPublicKey has unused bits")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 20] {
            let mut v = header(0x04, len);
            v.extend(vec![7u8; len]);
            let (t, rest) = read(&v).unwrap();
            assert_eq!((t.tag, t.value.len(), rest.len()), (0x04, len, 0));
        }
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x30],
            &[0x30, 0x81],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x05, 1],
            &[0x1F, 0x01, 0x00],
            &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
        ];
        for c in cases {
            assert!(read(c).is_err(), "{c:?}");
            assert!(tbs_without_extension(c, OID_SCT_LIST).is_err(), "{c:?}");
        }
    }

    #[test]
    fn removes_only_the_named_extension() {
        let ext = |oid: &[u8], val: &[u8]| {
            let o = wrap(0x06, &[oid]);
            let v = wrap(0x04, &[val]);
            wrap(0x30, &[&o, &v])
        };
        let a = ext(&[0x55, 0x1D, 0x13], &[0x30, 0x00]);
        let s = ext(OID_SCT_LIST, &vec![9u8; 300]);
        let exts = wrap(0x30, &[&a, &s]);
        let tbs = wrap(0x30, &[&[0x02, 0x01, 0x05], &wrap(0xA3, &[&exts])]);
        let out = tbs_without_extension(&tbs, OID_SCT_LIST).unwrap().unwrap();
        let want = wrap(
            0x30,
            &[&[0x02, 0x01, 0x05], &wrap(0xA3, &[&wrap(0x30, &[&a])])],
        );
        assert_eq!(out, want);
        assert_eq!(tbs_serial(&tbs).unwrap(), &[5]);
        assert_eq!(
            tbs_extension(&tbs, OID_SCT_LIST).unwrap().map(<[u8]>::len),
            Some(300)
        );
        assert_eq!(tbs_without_extension(&out, OID_SCT_LIST).unwrap(), None);
    }
}
