//! Store benchmark (BENCHMARKS.md): bytes per repeated sighting at 1M
//! sightings, bytes per new sighting, and `history` query time at that size.
//!
//! `cargo run --release -p certwatch-engine --example store_bench -- [SITES] [REPEATS]`
//! (default 1000 sites × 1000 repeats = 1,000,000 sightings).

use std::time::Instant;

use certwatch_engine::ca::CaIdentity;
use certwatch_engine::model::parse_cert;
use certwatch_engine::probe::Site;
use certwatch_engine::store::Store;
use certwatch_engine::trust::{Classifier, LocalRoots};
use certwatch_engine::verdict::{judge, Evidence, Input};

fn main() {
    let mut args = std::env::args().skip(1);
    let sites: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    // STORE_BENCH_DB=PATH keeps the database (the host benchmark fills one this way).
    let path = std::env::var_os("STORE_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.db"));
    let mut store = Store::open(&path).expect("open");

    // One realistic chain: a leaf + intermediate made here.
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Bench CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["*.bench.test".to_string()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let chain = vec![
        parse_cert(leaf.der()).expect("parse"),
        parse_cert(ca_cert.der()).expect("parse"),
    ];
    let classifier =
        Classifier::new(Some(&[ca_cert.der().to_vec()]), LocalRoots::None).expect("roots");
    let now0 = 1_800_000_000i64;
    let trust = classifier.classify(&chain, "s0.bench.test", now0);
    let ca =
        CaIdentity::of(&chain, &trust, &certwatch_engine::ccadb::Table::default()).expect("ca");
    let evidence = Evidence::default();
    let site_list: Vec<Site> = (0..sites)
        .map(|i| Site::parse(&format!("s{i}.bench.test"), 443).expect("site"))
        .collect();

    let observe = |store: &mut Store, site: &Site, now: i64| {
        store
            .observe(site, &chain, &ca, now, |h| {
                judge(&Input {
                    host: &site.host,
                    now,
                    chain: &chain,
                    trust: &trust,
                    ca: &ca,
                    history: h,
                    evidence: &evidence,
                })
            })
            .expect("observe");
    };
    // First sightings.
    let t = Instant::now();
    for s in &site_list {
        observe(&mut store, s, now0);
    }
    let first = t.elapsed();
    checkpoint(&store);
    let size_first = file_size(&path);
    // Repeated sightings.
    let t = Instant::now();
    for r in 1..repeats {
        for s in &site_list {
            observe(&mut store, s, now0 + r as i64);
        }
    }
    let repeated = t.elapsed();
    checkpoint(&store);
    let size_all = file_size(&path);
    let total = sites * repeats;
    let repeated_n = sites * (repeats - 1);
    // history query time at this size.
    let mut times: Vec<f64> = Vec::new();
    for (i, s) in site_list.iter().enumerate().take(2000) {
        let t = Instant::now();
        let h = store.history(s).expect("history");
        times.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(h.sightings.len(), 1, "site {i}");
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    println!("sightings: {total} ({sites} sites x {repeats})");
    println!("first sightings: {:.1} µs each; DB {} bytes = {:.0} bytes per site (certificates deduplicated)",
        first.as_secs_f64() * 1e6 / sites as f64, size_first, size_first as f64 / sites as f64);
    println!(
        "repeated sightings: {:.1} µs each (one transaction each)",
        repeated.as_secs_f64() * 1e6 / repeated_n as f64
    );
    println!(
        "DB after {total} sightings: {size_all} bytes; growth per repeated sighting: {:.3} bytes",
        (size_all as f64 - size_first as f64) / repeated_n.max(1) as f64
    );
    println!(
        "history query (known site): p50 {:.1} µs, p99 {:.1} µs",
        p(0.5),
        p(0.99)
    );
}

fn checkpoint(store: &Store) {
    store.checkpoint().expect("checkpoint");
}

fn file_size(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
