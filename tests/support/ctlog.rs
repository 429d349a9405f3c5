//! A Certificate Transparency log made at test time: its own ring ECDSA P-256
//! key signs RFC 6962 SCTs for rcgen-made (pre)certificates, and a v3 log list
//! names it. Used by the CT tests and the accuracy corpus.

#![allow(clippy::unwrap_used, missing_docs)]

use certwatch_engine::ct::{self, loglist};
use certwatch_engine::model::parse_cert;
use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair, SerialNumber};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};

use crate::{Ca, Leaf};

pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
pub const SCT_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

pub struct TestLog {
    key: EcdsaKeyPair,
    /// The log's SPKI DER.
    pub spki: Vec<u8>,
    /// The log id: SHA-256 of the SPKI.
    pub id: [u8; 32],
    rng: SystemRandom,
}

pub fn b64(b: &[u8]) -> String {
    loglist::b64(b)
}

impl TestLog {
    /// Signs `data` with the log's key (ECDSA P-256 SHA-256, ASN.1).
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.key.sign(&self.rng, data).unwrap().as_ref().to_vec()
    }

    /// A log with a fresh key.
    pub fn new() -> TestLog {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        let mut id = [0u8; 32];
        id.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &spki).as_ref());
        TestLog { key, spki, id, rng }
    }

    /// A serialized SCT over `entry` (entry_type + entry, RFC 6962 §3.2).
    pub fn sct(&self, ts_ms: u64, entry: &[u8], ext: &[u8]) -> Vec<u8> {
        let mut signed = vec![0u8, 0];
        signed.extend_from_slice(&ts_ms.to_be_bytes());
        signed.extend_from_slice(entry);
        signed.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        signed.extend_from_slice(ext);
        let sig = self.key.sign(&self.rng, &signed).unwrap();
        let mut v = vec![0u8];
        v.extend_from_slice(&self.id);
        v.extend_from_slice(&ts_ms.to_be_bytes());
        v.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        v.extend_from_slice(ext);
        v.extend_from_slice(&[4, 3]);
        v.extend_from_slice(&(sig.as_ref().len() as u16).to_be_bytes());
        v.extend_from_slice(sig.as_ref());
        v
    }

    /// This log as a v3 log-list entry.
    pub fn json(&self, name: &str) -> String {
        format!(
            r#"{{"description":"{name}","log_id":"{}","key":"{}","url":"https://{name}.test/","mmd":86400,"state":{{"usable":{{"timestamp":"2020-01-01T00:00:00Z"}}}}}}"#,
            b64(&self.id),
            b64(&self.spki)
        )
    }
}

/// A log list naming `logs` as (log, operator).
pub fn list_json(logs: &[(&TestLog, &str)]) -> String {
    let ops: Vec<String> = logs
        .iter()
        .enumerate()
        .map(|(i, (l, op))| {
            format!(
                r#"{{"name":"{op}","email":[],"logs":[{}]}}"#,
                l.json(&format!("log{i}"))
            )
        })
        .collect();
    format!(r#"{{"version":"1","operators":[{}]}}"#, ops.join(","))
}

pub fn entry_precert(issuer_spki: &[u8], tbs: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8, 1];
    v.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, issuer_spki).as_ref());
    v.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(tbs);
    v
}

pub fn entry_x509(leaf: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8, 0];
    v.extend_from_slice(&(leaf.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(leaf);
    v
}

pub fn tls_list(scts: &[Vec<u8>]) -> Vec<u8> {
    let mut inner = Vec::new();
    for s in scts {
        inner.extend_from_slice(&(s.len() as u16).to_be_bytes());
        inner.extend_from_slice(s);
    }
    let mut v = (inner.len() as u16).to_be_bytes().to_vec();
    v.extend(inner);
    v
}

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = ct::der::header(tag, content.len());
    v.extend_from_slice(content);
    v
}

impl Default for TestLog {
    fn default() -> Self {
        Self::new()
    }
}

/// A leaf from `params` and `key`, issued by `ca`, with SCTs from `logs`
/// embedded, timestamped `ts_ms`. With `signed_params` the SCTs are signed
/// over a different precertificate (a forged SCT).
pub fn embed_scts(
    ca: &Ca,
    params: &CertificateParams,
    key: &KeyPair,
    logs: &[&TestLog],
    ts_ms: u64,
    signed_params: Option<&CertificateParams>,
) -> Leaf {
    let pre = ca.leaf_from(signed_params.unwrap_or(params), key);
    let pre_tbs = parse_cert(&pre.chain[0]).unwrap().tbs_der;
    let issuer_spki = parse_cert(&ca.der).unwrap().spki_der;
    let scts: Vec<Vec<u8>> = logs
        .iter()
        .map(|l| l.sct(ts_ms, &entry_precert(&issuer_spki, &pre_tbs), b""))
        .collect();
    let mut p = params.clone();
    p.custom_extensions.push(CustomExtension::from_oid_content(
        SCT_OID,
        tlv(0x04, &tls_list(&scts)),
    ));
    ca.leaf_from(&p, key)
}

/// Now (or `CERTWATCH_FAKE_NOW`) in milliseconds.
pub fn now_ms() -> u64 {
    (certwatch_engine::check::unix_now() as u64) * 1000
}

/// A leaf valid from yesterday for `days`, with a fixed serial.
fn logged_leaf_params(names: &[&str], days: i64) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.serial_number = Some(SerialNumber::from_slice(&[0x11, 0x22, 0x33, 0x44]));
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = p.not_before + time::Duration::days(days);
    p
}

/// Options for making a logged leaf.
#[derive(Default)]
pub struct Make {
    /// Sign the SCTs over a precertificate naming a different host.
    pub tamper: bool,
    /// SCT timestamp offset from now, ms.
    pub ts_offset_ms: i64,
    /// Lifetime in days (default 90).
    pub days: i64,
}

/// A leaf issued by `ca` with embedded SCTs from `logs`.
pub fn logged_leaf(ca: &Ca, names: &[&str], logs: &[&TestLog], m: Make) -> Leaf {
    let days = if m.days == 0 { 90 } else { m.days };
    let key = KeyPair::generate().unwrap();
    let ts = (now_ms() as i64 + m.ts_offset_ms - 60_000) as u64;
    let forged = m.tamper.then(|| logged_leaf_params(&["evil.test"], days));
    embed_scts(
        ca,
        &logged_leaf_params(names, days),
        &key,
        logs,
        ts,
        forged.as_ref(),
    )
}
