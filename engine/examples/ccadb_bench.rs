//! Cost of the CA operator identity (issue 12) on the real 2025–26 chains.
//!
//! `cargo run --release -p certwatch-engine --example ccadb_bench [ROUNDS]`
//! Prints: the embedded snapshot's size and parse time (paid once per
//! process), and per check the identity with the CCADB look-ups
//! (`CaIdentity::of` + the disclosure check) against the same without a
//! table, so the difference is the look-up cost.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Instant;

use certwatch_engine::ca::CaIdentity;
use certwatch_engine::ccadb::{disclosure, Table, SNAPSHOT};
use certwatch_engine::model::{parse_chain, split_chain, CertInfo};
use certwatch_engine::trust::{Classifier, LocalRoots, Trust};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    println!("embedded snapshot: {} bytes", SNAPSHOT.len());
    let t = Instant::now();
    let n = 20;
    for _ in 0..n {
        std::hint::black_box(Table::snapshot().unwrap());
    }
    println!(
        "snapshot parse: {:.2} ms (once per process)",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let table = Table::snapshot().unwrap();
    let d =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/chains/x509_limbo_online");
    let Ok(dir) = std::fs::read_dir(&d) else {
        eprintln!("skipped the per-check figure: {} is absent", d.display());
        return;
    };
    let classifier = Classifier::new(None, LocalRoots::None).unwrap();
    let mut chains: Vec<(Vec<CertInfo>, Trust)> = Vec::new();
    for e in dir.flatten() {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
        let t = v.get("testcases").and_then(|t| t.get(0)).unwrap_or(&v);
        let mut pem = t["peer_certificate"].as_str().unwrap().to_string();
        for i in t["untrusted_intermediates"].as_array().unwrap() {
            pem.push('\n');
            pem.push_str(i.as_str().unwrap());
        }
        let at = time::OffsetDateTime::parse(
            &t["validation_time"]
                .as_str()
                .unwrap()
                .replace("+00:00", "Z"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let host = t["expected_peer_name"]["value"]
            .as_str()
            .unwrap()
            .to_string();
        let chain = parse_chain(&split_chain(pem.as_bytes()).unwrap()).unwrap();
        let trust = classifier.classify(&chain, &host, at);
        chains.push((chain, trust));
    }
    let empty = Table::default();
    let time = |table: &Table| {
        let t = Instant::now();
        for _ in 0..rounds {
            for (chain, trust) in &chains {
                let ca = CaIdentity::of(chain, trust, table).unwrap();
                let path: Vec<&CertInfo> =
                    trust.path.iter().filter_map(|i| chain.get(*i)).collect();
                std::hint::black_box(disclosure::undisclosed(
                    table,
                    trust.kind,
                    &path,
                    &ca.root_spki,
                ));
                std::hint::black_box(ca);
            }
        }
        t.elapsed().as_secs_f64() * 1e6 / (rounds * chains.len()) as f64
    };
    let with = time(&table);
    let without = time(&empty);
    println!(
        "identity per check over {} real chains: {with:.2} µs with the CCADB table, {without:.2} µs without: look-ups {:.2} µs",
        chains.len(),
        with - without
    );
}
