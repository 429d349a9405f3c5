//! SCT verifications per second on the real vectors in `../shared/data`.
//!
//! `cargo run --release -p certwatch-engine --example ct_bench [ROUNDS]`
//! Each round evaluates every manifest pair end to end (SCT extraction,
//! precertificate TBS re-encoding, signature checks, policy).

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use certwatch_engine::ct::{self, cache};
use certwatch_engine::model::{parse_cert, split_chain, CertInfo};

fn certs(p: &Path) -> Vec<CertInfo> {
    let b = std::fs::read(p).unwrap();
    let start = b.windows(10).position(|w| w == b"-----BEGIN").unwrap_or(0);
    split_chain(&b[start..])
        .unwrap()
        .iter()
        .map(|d| parse_cert(d).unwrap())
        .collect()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !d.is_dir() {
        eprintln!("skipped: {} is absent", d.display());
        return;
    }
    let l = d.join("ct_log_lists");
    let t = Instant::now();
    let lists = cache::load_files(&[
        l.join("google_all_logs_list_2026-08-21.json"),
        l.join("google_all_logs_list_2026-06-26_with_historic_logs.json"),
        l.join("apple_current_log_list_2026-04-01.json"),
    ])
    .unwrap();
    println!(
        "loaded 3 lists ({} logs) in {:.2} ms",
        lists.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let json = std::fs::read(l.join("google_log_list_v3_v80.14_2026-01-02.json")).unwrap();
    let sig = std::fs::read(l.join("google_log_list_v3_v80.14_2026-01-02.sig")).unwrap();
    let t = Instant::now();
    for _ in 0..100 {
        ct::LogList::parse("signed", &json).unwrap();
    }
    let parse_ms = t.elapsed().as_secs_f64() * 10.0;
    let t = Instant::now();
    for _ in 0..100 {
        ct::loglist::verify_google_signed(&json, &sig).unwrap();
    }
    println!(
        "Google's signed list ({} KB): parse {parse_ms:.3} ms, verify signature + parse {:.3} ms",
        json.len() / 1024,
        t.elapsed().as_secs_f64() * 10.0
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("sct_pairs/manifest.json")).unwrap()).unwrap();
    let mut pairs = Vec::new();
    for e in manifest.as_array().unwrap() {
        let (leaf, issuer) = (e["leaf"].as_str().unwrap(), e["issuer"].as_str().unwrap());
        if leaf.contains('#') || e["id"].as_str().unwrap().starts_with("synthetic") {
            continue; // limbo JSON and MITM entries: covered by the tests
        }
        pairs.push(vec![
            certs(&d.join(leaf)).swap_remove(0),
            certs(&d.join(issuer)).swap_remove(0),
        ]);
    }
    let now = certwatch_engine::check::unix_now();
    let per_round: usize = pairs
        .iter()
        .map(|c| ct::evaluate(c, &[], &[], &lists, now).scts.len())
        .sum();
    let t = Instant::now();
    let mut valid = 0usize;
    for _ in 0..rounds {
        for c in &pairs {
            let ev = ct::evaluate(c, &[], &[], &lists, now);
            valid += ev.scts.iter().filter(|s| s.status == "valid").count();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let n = per_round * rounds;
    println!(
        "{} certificates, {per_round} SCTs per round, {rounds} rounds: {n} verifications ({valid} valid) in {secs:.3} s = {:.0} SCT verifications/s, {:.1} µs per certificate",
        pairs.len(),
        n as f64 / secs,
        secs * 1e6 / (pairs.len() * rounds) as f64
    );
}
