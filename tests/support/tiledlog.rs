//! CT logs made at test time and served over HTTP on 127.0.0.1, for
//! `certwatch ct tail`: a static-ct-api (tiled) log — signed checkpoint,
//! hash tiles (full and partial), gzip data tiles of `TileLeaf`s, issuers
//! by hash — and an RFC 6962 log (`get-sth`, `get-sth-consistency`,
//! `get-proof-by-hash`, `get-entries`). The trees are real: built with an
//! independent, recursive transcription of RFC 6962 §2.1 (not the
//! engine's code), signed with a [`TestLog`] key. Each log can misbehave on
//! request (tampered tile, bad or unknown signature, forked history, HTTP
//! errors, truncated JSON, a gzip bomb).

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use certwatch_engine::model::parse_cert;
use rcgen::{CustomExtension, KeyPair};
use ring::digest::{digest, SHA256};

use crate::ctlog::{b64, TestLog};
use crate::{http_server, Ca};

pub type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let v: Vec<u8> = parts.concat();
    digest(&SHA256, &v).as_ref().try_into().unwrap()
}

/// RFC 6962 MTH.
pub fn mth(d: &[H]) -> H {
    match d.len() {
        0 => sha(&[]),
        1 => d[0],
        n => {
            let k = split(n);
            sha(&[&[1], &mth(&d[..k]), &mth(&d[k..])])
        }
    }
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962 PATH(m, D).
pub fn path(m: usize, d: &[H]) -> Vec<H> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = split(d.len());
    let (mut p, sib) = if m < k {
        (path(m, &d[..k]), mth(&d[k..]))
    } else {
        (path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sib);
    p
}

/// RFC 6962 SUBPROOF(m, D, b).
pub fn subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
    if m == d.len() {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(d.len());
    let (mut p, sib) = if m <= k {
        (subproof(m, &d[..k], b), mth(&d[k..]))
    } else {
        (subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(sib);
    p
}

/// One logged certificate or precertificate.
#[derive(Clone)]
pub struct Logged {
    pub ts: u64,
    pub precert: bool,
    /// The certificate, or the precertificate as submitted.
    pub der: Vec<u8>,
    /// The precertificate's TBS (what the log signs for a precert).
    pub tbs: Vec<u8>,
    pub issuer_key_hash: H,
    /// Issuer DERs, nearest first.
    pub chain: Vec<Vec<u8>>,
}

impl Logged {
    /// A certificate for `names` issued by `ca`.
    pub fn cert(ca: &Ca, names: &[&str]) -> Logged {
        let leaf = ca.leaf(names);
        Self::from(ca, leaf.chain[0].clone(), false)
    }

    /// A precertificate (poison extension) for `names` issued by `ca`.
    pub fn precert(ca: &Ca, names: &[&str]) -> Logged {
        let now = time::OffsetDateTime::now_utc();
        let mut p = crate::leaf_params(
            names,
            now - time::Duration::days(1),
            now + time::Duration::days(30),
        );
        let mut poison =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3], vec![5, 0]);
        poison.set_criticality(true);
        p.custom_extensions.push(poison);
        let leaf = ca.leaf_from(&p, &KeyPair::generate().unwrap());
        Self::from(ca, leaf.chain[0].clone(), true)
    }

    fn from(ca: &Ca, der: Vec<u8>, precert: bool) -> Logged {
        let info = parse_cert(&der).unwrap();
        let ca_spki = parse_cert(&ca.der).unwrap().spki_der;
        Logged {
            ts: 1_700_000_000_000,
            precert,
            tbs: info.tbs_der,
            der,
            issuer_key_hash: sha(&[&ca_spki]),
            chain: vec![ca.der.clone()],
        }
    }

    /// The RFC 6962 `TimestampedEntry` with a `leaf_index` extension.
    fn timestamped(&self, index: u64, with_index: bool) -> Vec<u8> {
        let mut v = self.ts.to_be_bytes().to_vec();
        let signed = if self.precert {
            v.extend_from_slice(&[0, 1]);
            v.extend_from_slice(&self.issuer_key_hash);
            &self.tbs
        } else {
            v.extend_from_slice(&[0, 0]);
            &self.der
        };
        v.extend_from_slice(&(signed.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(signed);
        if with_index {
            v.extend_from_slice(&[0, 8, 0, 0, 5]);
            v.extend_from_slice(&index.to_be_bytes()[3..]);
        } else {
            v.extend_from_slice(&[0, 0]);
        }
        v
    }

    /// The `MerkleTreeLeaf` (version 0, timestamped_entry).
    pub fn merkle_leaf(&self, index: u64, with_index: bool) -> Vec<u8> {
        let mut v = vec![0u8, 0];
        v.extend(self.timestamped(index, with_index));
        v
    }

    /// A static-ct-api `TileLeaf`.
    pub fn tile_leaf(&self, index: u64) -> Vec<u8> {
        let mut v = self.timestamped(index, true);
        if self.precert {
            v.extend_from_slice(&(self.der.len() as u32).to_be_bytes()[1..]);
            v.extend_from_slice(&self.der);
        }
        let fps: Vec<u8> = self.chain.iter().flat_map(|c| sha(&[c])).collect();
        v.extend_from_slice(&(fps.len() as u16).to_be_bytes());
        v.extend(fps);
        v
    }
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// How a log signs its tree head.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Good,
    /// Only a signature by another key (as a witness would add).
    UnknownKey,
    /// The log's key ID, but a signature over another root.
    Bad,
}

/// A log's contents and behaviour; tests change it between runs.
pub struct State {
    pub entries: Vec<Logged>,
    /// The published tree size.
    pub size: usize,
    pub sig: Sig,
    /// Data tile whose first entry's timestamp is changed when served.
    pub tamper_tile: Option<u64>,
    /// Data tile served as a gzip bomb.
    pub bomb_tile: Option<u64>,
    /// Answer every request with this status and headers.
    pub fail: Option<(u16, Vec<(String, String)>)>,
    /// Cut `get-entries` answers in half.
    pub truncate_entries: bool,
    /// Serve other bytes for every issuer.
    pub wrong_issuer: bool,
    /// Requests seen (paths).
    pub seen: Vec<String>,
    origin: String,
}

impl State {
    fn hashes(&self, n: usize, tiled: bool) -> Vec<H> {
        self.entries[..n]
            .iter()
            .enumerate()
            .map(|(i, e)| sha(&[&[0], &e.merkle_leaf(i as u64, tiled)]))
            .collect()
    }
}

/// A test log served on 127.0.0.1.
pub struct ServedLog {
    pub key: Arc<TestLog>,
    pub state: Arc<Mutex<State>>,
    /// `http://127.0.0.1:PORT/`.
    pub base: String,
    pub tiled: bool,
}

impl ServedLog {
    /// A tiled log (monitoring prefix `BASE/mon/`, submission `BASE/sub/`).
    pub fn tiled(entries: Vec<Logged>) -> ServedLog {
        Self::start(entries, true)
    }

    /// An RFC 6962 log at `BASE/log/`.
    pub fn rfc6962(entries: Vec<Logged>) -> ServedLog {
        Self::start(entries, false)
    }

    fn start(entries: Vec<Logged>, tiled: bool) -> ServedLog {
        let key = Arc::new(TestLog::new());
        let other = Arc::new(TestLog::new());
        let size = entries.len();
        let state = Arc::new(Mutex::new(State {
            entries,
            size,
            sig: Sig::Good,
            tamper_tile: None,
            bomb_tile: None,
            fail: None,
            truncate_entries: false,
            wrong_issuer: false,
            seen: Vec::new(),
            origin: String::new(),
        }));
        let (st, k) = (state.clone(), key.clone());
        let (base, _) = http_server(Arc::new(move |target: &str| {
            let mut s = st.lock().unwrap();
            s.seen.push(target.to_string());
            if let Some((code, headers)) = s.fail.clone() {
                return (code, headers, b"unavailable".to_vec());
            }
            if tiled {
                serve_tiled(&s, &k, &other, target)
            } else {
                serve_rfc(&s, &k, target)
            }
        }));
        state.lock().unwrap().origin = format!("{}sub", base.trim_start_matches("http://"));
        ServedLog {
            key,
            state,
            base,
            tiled,
        }
    }

    /// This log as a v3 log-list entry named `name`.
    pub fn json(&self, name: &str) -> String {
        let common = format!(
            r#""description":"{name}","log_id":"{}","key":"{}","mmd":60,"state":{{"usable":{{"timestamp":"2020-01-01T00:00:00Z"}}}}"#,
            b64(&self.key.id),
            b64(&self.key.spki)
        );
        if self.tiled {
            format!(
                r#"{{{common},"submission_url":"{0}sub/","monitoring_url":"{0}mon/"}}"#,
                self.base
            )
        } else {
            format!(r#"{{{common},"url":"{}log/"}}"#, self.base)
        }
    }

    /// A v3 log list with these logs (`name`, log).
    pub fn list(logs: &[(&str, &ServedLog)]) -> String {
        let part = |tiled: bool| {
            logs.iter()
                .filter(|(_, l)| l.tiled == tiled)
                .map(|(n, l)| l.json(n))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            r#"{{"version":"1","operators":[{{"name":"Test Op","email":[],"logs":[{}],"tiled_logs":[{}]}}]}}"#,
            part(false),
            part(true)
        )
    }

    /// The log id, base64.
    pub fn key_id_b64(&self) -> String {
        b64(&self.key.id)
    }

    /// Changes the log's state.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

fn ok(body: Vec<u8>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    (200, vec![], body)
}

fn not_found() -> (u16, Vec<(String, String)>, Vec<u8>) {
    (404, vec![], b"not found".to_vec())
}

/// The TLS `DigitallySigned` tree head signature.
fn tree_head_sig(key: &TestLog, ts: u64, size: u64, root: &H) -> Vec<u8> {
    let mut data = vec![0u8, 1];
    data.extend_from_slice(&ts.to_be_bytes());
    data.extend_from_slice(&size.to_be_bytes());
    data.extend_from_slice(root);
    let sig = key.sign(&data);
    let mut v = vec![4u8, 3];
    v.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    v.extend(sig);
    v
}

fn checkpoint(s: &State, key: &TestLog, other: &TestLog) -> Vec<u8> {
    let root = mth(&s.hashes(s.size, true));
    let ts = 1_700_000_000_000u64;
    let note_sig = |k: &TestLog, signed_root: &H| {
        let mut id_in = s.origin.as_bytes().to_vec();
        id_in.extend_from_slice(&[0x0A, 0x05]);
        id_in.extend_from_slice(&k.id);
        let mut v = sha(&[&id_in])[..4].to_vec();
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend(tree_head_sig(k, ts, s.size as u64, signed_root));
        format!("\u{2014} {} {}\n", s.origin, b64(&v))
    };
    let sigs = match s.sig {
        Sig::Good => format!("{}{}", note_sig(other, &root), note_sig(key, &root)),
        Sig::UnknownKey => note_sig(other, &root),
        Sig::Bad => note_sig(key, &[0xEE; 32]),
    };
    format!("{}\n{}\n{}\n\n{sigs}", s.origin, s.size, b64(&root)).into_bytes()
}

/// `x001/x234/067` → 1234067; `.p/W` → W.
fn tile_index(rest: &str) -> Option<(u64, u64)> {
    let (idx, width) = match rest.split_once(".p/") {
        Some((i, w)) => (i, w.parse().ok()?),
        None => (rest, 256),
    };
    let mut n = 0u64;
    for g in idx.split('/') {
        n = n * 1000 + g.trim_start_matches('x').parse::<u64>().ok()?;
    }
    Some((n, width))
}

fn serve_tiled(
    s: &State,
    key: &TestLog,
    other: &TestLog,
    target: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let Some(p) = target.strip_prefix("/mon/") else {
        return not_found();
    };
    if p == "checkpoint" {
        return ok(checkpoint(s, key, other));
    }
    if let Some(hex) = p.strip_prefix("issuer/") {
        if s.wrong_issuer {
            return ok(b"not the issuer".to_vec());
        }
        for e in &s.entries {
            for c in &e.chain {
                if certwatch_engine::model::sha256_hex(c) == hex {
                    return ok(c.clone());
                }
            }
        }
        return not_found();
    }
    if let Some(rest) = p.strip_prefix("tile/data/") {
        let Some((n, w)) = tile_index(rest) else {
            return not_found();
        };
        let (lo, hi) = ((n * 256) as usize, (n * 256 + w) as usize);
        if hi > s.size || (w < 256 && hi != s.size) {
            return not_found();
        }
        if s.bomb_tile == Some(n) {
            return (
                200,
                vec![("Content-Encoding".into(), "gzip".into())],
                gzip(&vec![0u8; 24 << 20]),
            );
        }
        let mut body = Vec::new();
        for i in lo..hi {
            let mut leaf = s.entries[i].tile_leaf(i as u64);
            if s.tamper_tile == Some(n) && i == lo {
                leaf[7] ^= 1;
            }
            body.extend(leaf);
        }
        // gzip with the header (not negotiated), plain, gzip without the header.
        let gz = vec![("Content-Encoding".into(), "gzip".into())];
        return match n % 3 {
            0 => (200, gz, gzip(&body)),
            1 => ok(body),
            _ => ok(gzip(&body)),
        };
    }
    if let Some(rest) = p.strip_prefix("tile/") {
        let Some((level, rest)) = rest.split_once('/') else {
            return not_found();
        };
        let (Ok(level), Some((n, w))) = (level.parse::<u32>(), tile_index(rest)) else {
            return not_found();
        };
        let unit = 256usize.pow(level);
        let at_level = s.size / unit;
        let (lo, hi) = ((n * 256) as usize, (n * 256 + w) as usize);
        if hi > at_level || (w < 256 && hi != at_level) {
            return not_found();
        }
        let leaves = s.hashes(s.size, true);
        let body: Vec<u8> = (lo..hi)
            .flat_map(|i| mth(&leaves[i * unit..(i + 1) * unit]))
            .collect();
        return ok(body);
    }
    not_found()
}

fn query(target: &str, key: &str) -> Option<String> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(|v| {
            v.replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "=")
        })
}

fn num(target: &str, key: &str) -> usize {
    query(target, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

fn u24(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(b);
    v
}

fn serve_rfc(s: &State, key: &TestLog, target: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let Some(p) = target.strip_prefix("/log/ct/v1/") else {
        return not_found();
    };
    let leaves = s.hashes(s.size, false);
    let list = |hs: &[H]| {
        hs.iter()
            .map(|h| format!("\"{}\"", b64(h)))
            .collect::<Vec<_>>()
            .join(",")
    };
    if p == "get-sth" {
        let root = mth(&leaves);
        let signed = if s.sig == Sig::Bad { [0xEE; 32] } else { root };
        let ts = 1_700_000_000_000u64;
        return ok(format!(
            r#"{{"tree_size":{},"timestamp":{ts},"sha256_root_hash":"{}","tree_head_signature":"{}"}}"#,
            s.size,
            b64(&root),
            b64(&tree_head_sig(key, ts, s.size as u64, &signed))
        )
        .into_bytes());
    }
    if p.starts_with("get-sth-consistency") {
        let (m, n) = (num(p, "first"), num(p, "second"));
        if m == 0 || m > n || n > s.size {
            return (400, vec![], b"bad range".to_vec());
        }
        return ok(format!(
            r#"{{"consistency":[{}]}}"#,
            list(&subproof(m, &leaves[..n], true))
        )
        .into_bytes());
    }
    if p.starts_with("get-proof-by-hash") {
        let (h, n) = (query(p, "hash").unwrap_or_default(), num(p, "tree_size"));
        let Some(i) = (n <= s.size)
            .then(|| leaves[..n].iter().position(|l| b64(l) == h))
            .flatten()
        else {
            return (400, vec![], b"no such leaf".to_vec());
        };
        return ok(format!(
            r#"{{"leaf_index":{i},"audit_path":[{}]}}"#,
            list(&path(i, &leaves[..n]))
        )
        .into_bytes());
    }
    if p.starts_with("get-entries") {
        let (lo, hi) = (num(p, "start"), num(p, "end"));
        let hi = hi.min(lo + 99).min(s.size.saturating_sub(1));
        if lo > hi {
            return (400, vec![], b"bad range".to_vec());
        }
        let items: Vec<String> = (lo..=hi)
            .map(|i| {
                let e = &s.entries[i];
                let chain: Vec<u8> = e.chain.iter().flat_map(|c| u24(c)).collect();
                let extra = if e.precert {
                    [u24(&e.der), u24(&chain)].concat()
                } else {
                    u24(&chain)
                };
                format!(
                    r#"{{"leaf_input":"{}","extra_data":"{}"}}"#,
                    b64(&e.merkle_leaf(i as u64, false)),
                    b64(&extra)
                )
            })
            .collect();
        let mut body = format!(r#"{{"entries":[{}]}}"#, items.join(",")).into_bytes();
        if s.truncate_entries {
            body.truncate(body.len() / 2);
        }
        return ok(body);
    }
    not_found()
}
