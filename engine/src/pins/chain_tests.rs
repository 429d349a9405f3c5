//! Pins against real (rcgen) chains, classified and judged end to end.

use crate::ccadb::Table;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::path::path_spkis;
use super::source::PinEvidenceSource;
use super::*;
use crate::check::{analyze, Engine, NoHistory};
use crate::model::parse_cert;
use crate::probe::{ProbeConfig, Site};
use crate::trust::{Classifier, LocalRoots};
use crate::verdict::{Code, Severity};

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn ca(cn: &str, parent: Option<&Ca>) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let der = match parent {
        None => params.self_signed(&key).unwrap().der().to_vec(),
        Some(p) => params
            .signed_by(&key, &Issuer::from_params(&p.params, &p.key))
            .unwrap()
            .der()
            .to_vec(),
    };
    Ca { params, key, der }
}

fn leaf(host: &str, by: &Ca) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![host.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, host);
    p.signed_by(&key, &Issuer::from_params(&by.params, &by.key))
        .unwrap()
        .der()
        .to_vec()
}

fn spki(der: &[u8]) -> String {
    parse_cert(der).unwrap().spki_sha256
}

struct Pki {
    root: Ca,
    backup_root: Ca,
    inter: Ca,
    evil: Ca,
    classifier: Classifier,
}

fn pki() -> Pki {
    let root = ca("Pinned Root", None);
    let backup_root = ca("Backup Root", None);
    let inter = ca("Pinned Issuing CA", Some(&root));
    let evil = ca("Evil Proxy CA", None);
    let classifier = Classifier::new(
        Some(&[root.der.clone(), backup_root.der.clone()]),
        LocalRoots::Given(vec![evil.der.clone()]),
    )
    .unwrap();
    Pki {
        root,
        backup_root,
        inter,
        evil,
        classifier,
    }
}

fn db_for(p: &Pki, bad: &[&Ca], expires: &str) -> PinDb {
    let pin =
        |c: &Ca, l: &str| format!("{{ label = \"{l}\", spki = \"sha256/{}\" }}", spki(&c.der));
    let bad: Vec<String> = bad.iter().map(|c| pin(c, "bad")).collect();
    let src = format!(
        "[[pinset]]\nname = \"s\"\nexpires = {expires}\npins = [{}]\nbackup = [{}]\nbad = [{}]\n[[entry]]\nhost = \"site.test\"\ninclude_subdomains = true\npinset = \"s\"\n",
        pin(&p.root, "root"),
        pin(&p.backup_root, "backup"),
        bad.join(", ")
    );
    let (db, d) = parse_toml(&src);
    assert!(d.is_empty(), "{d:?}");
    db
}

#[test]
fn rcgen_chain_table() {
    let p = pki();
    let now = crate::check::unix_now();
    let good = vec![leaf("www.site.test", &p.inter), p.inter.der.clone()];
    let via_backup = vec![leaf("www.site.test", &p.backup_root)];
    let intercepted = vec![leaf("www.site.test", &p.evil)];
    // the forged leaf followed by the real intermediate and root: not on the path
    let appended = vec![
        leaf("www.site.test", &p.evil),
        p.inter.der.clone(),
        p.root.der.clone(),
    ];
    let self_signed = {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["www.site.test".to_string()]).unwrap();
        vec![params.self_signed(&key).unwrap().der().to_vec()]
    };
    // (name, chain, bad keys, expires, host, expected status)
    type Case<'a> = (
        &'a str,
        &'a Vec<Vec<u8>>,
        Vec<&'a Ca>,
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "root pin, subdomain",
            &good,
            vec![],
            "2099-01-01",
            "www.site.test",
            "ok",
        ),
        (
            "root pin, exact",
            &good,
            vec![],
            "2099-01-01",
            "site.test",
            "ok",
        ),
        (
            "backup root",
            &via_backup,
            vec![],
            "2099-01-01",
            "www.site.test",
            "ok",
        ),
        (
            "local interceptor",
            &intercepted,
            vec![],
            "2099-01-01",
            "www.site.test",
            "violation",
        ),
        (
            "appended real chain",
            &appended,
            vec![],
            "2099-01-01",
            "www.site.test",
            "violation",
        ),
        (
            "self-signed",
            &self_signed,
            vec![],
            "2099-01-01",
            "www.site.test",
            "violation",
        ),
        (
            "bad intermediate",
            &good,
            vec![&p.inter],
            "2099-01-01",
            "www.site.test",
            "violation",
        ),
        (
            "expired pinset",
            &intercepted,
            vec![],
            "2001-01-01",
            "www.site.test",
            "not_pinned",
        ),
        (
            "other host",
            &intercepted,
            vec![],
            "2099-01-01",
            "other.test",
            "not_pinned",
        ),
    ];
    for (name, chain, bad, expires, host, want) in cases {
        let db = db_for(&p, &bad, expires);
        let an = analyze(chain, host, now, &p.classifier, &Table::default()).unwrap();
        let r = db.check(host, &path_spkis(&an.chain, &an.trust), now);
        assert_eq!(r.status(), want, "{name}: {r:?}");
    }
}

#[test]
fn appended_root_is_not_on_the_path() {
    let p = pki();
    let chain = vec![
        leaf("www.site.test", &p.evil),
        p.inter.der.clone(),
        p.root.der.clone(),
    ];
    let an = analyze(
        &chain,
        "www.site.test",
        crate::check::unix_now(),
        &p.classifier,
        &Table::default(),
    )
    .unwrap();
    let path = path_spkis(&an.chain, &an.trust);
    assert!(!path.contains(&spki(&p.root.der)));
    assert!(!path.contains(&spki(&p.inter.der)));
    let good = vec![
        leaf("www.site.test", &p.inter),
        p.inter.der.clone(),
        p.root.der.clone(),
    ];
    let an = analyze(
        &good,
        "www.site.test",
        crate::check::unix_now(),
        &p.classifier,
        &Table::default(),
    )
    .unwrap();
    let path = path_spkis(&an.chain, &an.trust);
    assert_eq!(path.len(), 3);
    assert_eq!(path[2], spki(&p.root.der));
}

#[test]
fn violation_is_critical_through_the_engine() {
    let p = pki();
    let now = crate::check::unix_now();
    let db = db_for(&p, &[], "2099-01-01");
    let engine = Engine {
        classifier: std::sync::Arc::new(p.classifier),
        probe: ProbeConfig::default(),
        user_evidence: vec![std::sync::Arc::new(PinEvidenceSource::new(db))],
        evidence: Vec::new(),
        ct: None,
        enrichers: Vec::new(),
        expiry: None,
        ccadb: std::sync::Arc::new(Table::default()),
    };
    let site = Site::parse("www.site.test", 443).unwrap();
    // a publicly valid chain under the backup root: pin ok
    let prepared = engine
        .prepare(&site, &[leaf("www.site.test", &p.backup_root)], None, now)
        .unwrap();
    let c = engine.finish(&site, prepared, &mut NoHistory, now).unwrap();
    assert!(c.verdict.has(Code::PinOk), "{:?}", c.verdict);
    // a publicly valid chain under an unpinned CA would be public too; here the
    // interceptor's local root: pin_violation, critical
    let prepared = engine
        .prepare(&site, &[leaf("www.site.test", &p.evil)], None, now)
        .unwrap();
    let c = engine.finish(&site, prepared, &mut NoHistory, now).unwrap();
    assert!(c.verdict.has(Code::PinViolation));
    assert_eq!(c.verdict.severity, Severity::Critical);
}
