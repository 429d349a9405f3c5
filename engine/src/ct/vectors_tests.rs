//! CT against the real vectors in `../shared/data` (skipped with a printed
//! reason when absent): recorded SCT pairs, the synthetic vector, Google's
//! signed log list, and the real log lists in both formats.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ct::{self, cache, loglist, LogList};
use crate::model::{parse_cert, split_chain, CertInfo};

/// `../shared/data` beside the workspace, if present.
fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    p.is_dir().then_some(p)
}

fn data() -> Option<PathBuf> {
    let d = shared_data();
    if d.is_none() {
        eprintln!("skipped: ../shared/data is absent");
    }
    d
}

fn certs(path: &Path) -> Vec<CertInfo> {
    let bytes = std::fs::read(path).unwrap();
    // Some vectors carry `openssl x509 -text` output before the PEM block.
    let start = bytes
        .windows(10)
        .position(|w| w == b"-----BEGIN")
        .unwrap_or(0);
    split_chain(&bytes[start..])
        .unwrap()
        .iter()
        .map(|d| parse_cert(d).unwrap())
        .collect()
}

fn real_lists(d: &Path) -> LogList {
    let dir = d.join("ct_log_lists");
    cache::load_files(&[
        dir.join("google_all_logs_list_2026-08-21.json"),
        dir.join("google_all_logs_list_2026-06-26_with_historic_logs.json"),
        dir.join("apple_current_log_list_2026-04-01.json"),
        d.join("synthetic_ct_vector/test_log_list_GENERATED.json"),
    ])
    .unwrap()
}

/// (leaf, issuer) for a manifest entry; limbo entries name JSON fields.
fn pair(d: &Path, e: &serde_json::Value) -> (CertInfo, CertInfo) {
    let leaf = e["leaf"].as_str().unwrap();
    let issuer = e["issuer"].as_str().unwrap();
    if let Some((file, _)) = leaf.split_once(".limbo.json#") {
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(format!("{file}.limbo.json"))).unwrap())
                .unwrap();
        let pem = |s: &serde_json::Value| {
            let ders = split_chain(s.as_str().unwrap().as_bytes()).unwrap();
            parse_cert(&ders[0]).unwrap()
        };
        let leaf = pem(&j["peer_certificate"]);
        let issuer = j["untrusted_intermediates"]
            .as_array()
            .unwrap()
            .iter()
            .map(pem)
            .find(|c| c.subject == leaf.issuer)
            .unwrap();
        return (leaf, issuer);
    }
    let (leaf, idx) = match leaf.split_once('#') {
        Some((f, i)) => (f, i.parse::<usize>().unwrap()),
        None => (leaf, 0),
    };
    let l = certs(&d.join(leaf)).swap_remove(idx);
    let i = certs(&d.join(issuer)).swap_remove(0);
    (l, i)
}

#[test]
fn real_sct_pairs_give_the_recorded_results() {
    let Some(d) = data() else { return };
    let lists = real_lists(&d);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("sct_pairs/manifest.json")).unwrap()).unwrap();
    let now = crate::check::unix_now();
    let (mut valid, mut pairs) = (0, 0);
    for e in manifest.as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        let (leaf, issuer) = pair(&d, e);
        let ev = ct::evaluate(&[leaf, issuer], &[], &[], &lists, now);
        let want: Vec<(String, String)> = e["scts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let r = match s["result"].as_str().unwrap() {
                    "valid" => "valid",
                    "INVALID_SIGNATURE" => "invalid",
                    other => panic!("{id}: unexpected recorded result {other}"),
                };
                (s["log_id"].as_str().unwrap().to_string(), r.to_string())
            })
            .collect();
        let got: Vec<(String, String)> = ev
            .scts
            .iter()
            .map(|s| (s.log_id.clone(), s.status.to_string()))
            .collect();
        assert_eq!(got, want, "{id}: {}", ev.reason);
        valid += got.iter().filter(|(_, s)| s == "valid").count();
        pairs += 1;
        if e["sct_count"] == 0 {
            assert_eq!(ev.total, 0, "{id}");
            assert!(!ev.compliant);
        }
    }
    assert_eq!(pairs, 34);
    // The manifest records 87 valid SCTs: 86 real ones and the synthetic vector's.
    assert_eq!(valid, 87);
}

#[test]
fn synthetic_vector_valid_and_invalid() {
    let Some(d) = data() else { return };
    let dir = d.join("synthetic_ct_vector");
    let lists = cache::load_files(&[dir.join("test_log_list_GENERATED.json")]).unwrap();
    let ca = certs(&dir.join("ca-cert.pem")).swap_remove(0);
    let now = crate::check::unix_now();
    for (file, want) in [
        ("test-embedded-cert.pem", "valid"),
        ("test-invalid-embedded-cert.pem", "invalid"),
    ] {
        let leaf = certs(&dir.join(file)).swap_remove(0);
        let ev = ct::evaluate(&[leaf.clone(), ca.clone()], &[], &[], &lists, now);
        assert_eq!(ev.scts.len(), 1, "{file}");
        assert_eq!(ev.scts[0].status, want, "{file}");
        // Without its issuer an embedded SCT cannot be judged.
        let alone = ct::evaluate(&[leaf], &[], &[], &lists, now);
        assert_eq!(alone.scts[0].status, "no_issuer");
    }
}

#[test]
fn signed_google_list_verifies_and_tampering_fails() {
    let Some(d) = data() else { return };
    let dir = d.join("ct_log_lists");
    let json = std::fs::read(dir.join("google_log_list_v3_v80.14_2026-01-02.json")).unwrap();
    let sig = std::fs::read(dir.join("google_log_list_v3_v80.14_2026-01-02.sig")).unwrap();
    let list = loglist::verify_google_signed(&json, &sig).unwrap();
    assert!(list.len() > 10);
    // The embedded key is the published one.
    let pem = std::fs::read_to_string(dir.join("google_log_list_pubkey.pem")).unwrap();
    assert_eq!(
        loglist::pem_to_der(&pem).unwrap(),
        loglist::pem_to_der(loglist::GOOGLE_LOG_LIST_PUBKEY_PEM).unwrap()
    );
    for i in [0, json.len() / 2, json.len() - 1] {
        let mut bad = json.clone();
        bad[i] ^= 1;
        let e = loglist::verify_google_signed(&bad, &sig).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }
    let mut bad_sig = sig.clone();
    bad_sig[10] ^= 0x80;
    assert!(loglist::verify_google_signed(&json, &bad_sig).is_err());
}

#[test]
fn real_lists_parse_with_both_formats() {
    let Some(d) = data() else { return };
    let lists = real_lists(&d);
    assert!(lists.len() >= 256, "{}", lists.len());
    assert!(lists
        .logs()
        .iter()
        .any(|l| !l.rfc6962 && l.monitoring_url.is_some()));
    let _ = Arc::new(lists);
}

/// (site, leaf + intermediates, validation time) of each real limbo chain.
fn limbo_chains(d: &Path) -> Vec<(String, Vec<CertInfo>, i64)> {
    let dir = d.join("chains/x509_limbo_online");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let pem = |s: &serde_json::Value| {
        let ders = split_chain(s.as_str().unwrap().as_bytes()).unwrap();
        parse_cert(&ders[0]).unwrap()
    };
    files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".limbo.json"))
        .map(|p| {
            let j: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let leaf = pem(&j["peer_certificate"]);
            let inters: Vec<CertInfo> = j["untrusted_intermediates"]
                .as_array()
                .unwrap()
                .iter()
                .map(pem)
                .collect();
            // Leaf first, then its issuer.
            let mut chain = vec![leaf.clone()];
            chain.extend(inters.iter().find(|c| c.subject == leaf.issuer).cloned());
            let t = time::OffsetDateTime::parse(
                j["validation_time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
            .unix_timestamp();
            let site = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".limbo.json", "");
            (site, chain, t)
        })
        .collect()
}

#[test]
fn builtin_list_judges_the_real_chains_compliant() {
    let Some(d) = data() else { return };
    let list = ct::builtin::list().unwrap();
    let chains = limbo_chains(&d);
    if chains.is_empty() {
        eprintln!("skipped: chains/x509_limbo_online is absent");
        return;
    }
    let mut judged = 0;
    for (site, chain, t) in &chains {
        // The limbo validation time can precede the SCTs (it is near
        // notBefore); judge when the chain was live: just after its newest SCT.
        let newest = crate::ct::sct::embedded_scts(&chain[0].tbs_der)
            .unwrap()
            .iter()
            .map(|s| (s.timestamp_ms / 1000) as i64)
            .max()
            .unwrap_or(*t);
        let t = &(*t).max(newest + 3600);
        let ev = ct::evaluate(chain, &[], &[], &list, *t);
        let statuses: Vec<&str> = ev.scts.iter().map(|s| s.status).collect();
        eprintln!(
            "{site} at {}: {} {statuses:?}",
            crate::report::rfc3339(*t),
            ev.reason
        );
        assert!(ev.total > 0, "{site}: no SCTs");
        assert_eq!(ev.invalid, 0, "{site}: {statuses:?}");
        assert!(ev.compliant, "{site}: {} {statuses:?}", ev.reason);
        assert!(
            !ev.list_stale,
            "{site}: judged before the list was 70 days old"
        );
        if crate::report::rfc3339(*t).starts_with("2026") {
            judged += 1;
        }
    }
    assert!(judged >= 10, "{judged}");
}
