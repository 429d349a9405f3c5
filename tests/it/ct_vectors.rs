//! CT evaluation against a test CT log made here (tests/support/ctlog.rs:
//! its own ECDSA P-256 key signing SCTs for rcgen-made certificates, and a
//! log list naming it): embedded, OCSP- and TLS-delivered SCTs, the policy,
//! and corrupted inputs. No binary, no server.

use certwatch_engine::ct::{self, watch, LogList};
use certwatch_engine::model::{parse_cert, CertInfo};
use certwatch_tests::ctlog::{
    entry_x509, list_json, logged_leaf, now_ms, tls_list, tlv, Make, TestLog,
};
use certwatch_tests::{Ca, Leaf};

fn chain_info(leaf: &Leaf, ca: &Ca) -> Vec<CertInfo> {
    let mut v: Vec<CertInfo> = leaf.chain.iter().map(|d| parse_cert(d).unwrap()).collect();
    if v.len() == 1 {
        v.push(parse_cert(&ca.der).unwrap());
    }
    v
}

fn statuses(ev: &certwatch_engine::verdict::CtEvidence) -> Vec<&str> {
    ev.scts.iter().map(|s| s.status).collect()
}

#[test]
fn test_log_cases() {
    let ca = Ca::root("CT Test Root", "CT Test Org");
    let other = Ca::root("Other Root", "Other Org");
    let (a, b, c) = (TestLog::new(), TestLog::new(), TestLog::new());
    let lists = LogList::parse(
        "test",
        list_json(&[(&a, "Op A"), (&b, "Op B"), (&c, "Op A")]).as_bytes(),
    )
    .unwrap();
    let now = certwatch_engine::check::unix_now();
    let eval =
        |leaf: &Leaf, issuer: &Ca| ct::evaluate(&chain_info(leaf, issuer), &[], &[], &lists, now);
    // A leaf for ct.test from `ca` logged in `logs`, evaluated.
    let logged = |logs: &[&TestLog], m: Make| eval(&logged_leaf(&ca, &["ct.test"], logs, m), &ca);

    // valid: two logs, two operators, 90 days
    let good = logged_leaf(&ca, &["ct.test"], &[&a, &b], Make::default());
    let ev = eval(&good, &ca);
    assert_eq!(statuses(&ev), ["valid", "valid"]);
    assert!(ev.compliant, "{}", ev.reason);
    assert_eq!(ev.scts[0].operator.as_deref(), Some("Op A"));
    assert_eq!(ev.scts[0].source, "embedded");

    // tampered TBS: the SCTs were signed over another precertificate
    let tampered = logged_leaf(
        &ca,
        &["ct.test"],
        &[&a, &b],
        Make {
            tamper: true,
            ..Make::default()
        },
    );
    let ev = eval(&tampered, &ca);
    assert_eq!(statuses(&ev), ["invalid", "invalid"]);
    assert_eq!(ev.invalid, 2);
    assert!(!ev.compliant);

    // wrong issuer: the issuer key hash differs
    let ev = eval(&good, &other);
    assert_eq!(statuses(&ev), ["invalid", "invalid"]);

    // unknown log
    let stranger = TestLog::new();
    let ev = logged(&[&a, &stranger], Make::default());
    assert_eq!(statuses(&ev), ["valid", "unknown_log"]);
    assert_eq!(ev.unknown_log, 1);
    assert!(!ev.compliant);

    // two operators missing: two logs of one operator
    let ev = logged(&[&a, &c], Make::default());
    assert_eq!(statuses(&ev), ["valid", "valid"]);
    assert!(!ev.compliant);
    assert!(ev.reason.contains("one operator"), "{}", ev.reason);

    // a year-long certificate needs three logs
    let ev = logged(
        &[&a, &b],
        Make {
            days: 365,
            ..Make::default()
        },
    );
    assert!(
        !ev.compliant && ev.reason.contains("3 required"),
        "{}",
        ev.reason
    );
    let ev = logged(
        &[&a, &b, &c],
        Make {
            days: 365,
            ..Make::default()
        },
    );
    assert!(ev.compliant, "{}", ev.reason);

    // timestamp in the future
    let ev = logged(
        &[&a, &b],
        Make {
            ts_offset_ms: 86_400_000,
            ..Make::default()
        },
    );
    assert_eq!(statuses(&ev), ["future_timestamp", "future_timestamp"]);

    // no SCTs at all
    let plain = ca.leaf(&["plain.test"]);
    let ev = eval(&plain, &ca);
    assert_eq!(ev.total, 0);
    assert!(!ev.compliant && ev.reason.contains("no SCTs"));
}

/// A minimal stapled OCSP response carrying `list` for `serial`.
fn ocsp_response(serial: &[u8], list: &[u8]) -> Vec<u8> {
    let oid_sha1 = tlv(0x06, &[0x2B, 0x0E, 0x03, 0x02, 0x1A]);
    let alg = tlv(0x30, &[oid_sha1, vec![0x05, 0x00]].concat());
    let cert_id = tlv(
        0x30,
        &[
            alg,
            tlv(0x04, &[0; 20]),
            tlv(0x04, &[0; 20]),
            tlv(0x02, serial),
        ]
        .concat(),
    );
    let time = tlv(0x18, b"20260101000000Z");
    let ext = tlv(
        0x30,
        &[
            tlv(0x06, ct::der::OID_OCSP_SCT_LIST),
            tlv(0x04, &tlv(0x04, list)),
        ]
        .concat(),
    );
    let single_exts = tlv(0xA1, &tlv(0x30, &ext));
    let single = tlv(
        0x30,
        &[cert_id, vec![0x80, 0x00], time.clone(), single_exts].concat(),
    );
    let responder = tlv(0xA1, &tlv(0x30, &[]));
    let data = tlv(0x30, &[responder, time, tlv(0x30, &single)].concat());
    let sig_alg = tlv(
        0x30,
        &tlv(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]),
    );
    let basic = tlv(0x30, &[data, sig_alg, tlv(0x03, &[0, 1, 2])].concat());
    let rb = tlv(
        0x30,
        &[tlv(0x06, ct::der::OID_OCSP_BASIC), tlv(0x04, &basic)].concat(),
    );
    tlv(0x30, &[vec![0x0A, 0x01, 0x00], tlv(0xA0, &rb)].concat())
}

#[test]
fn ocsp_and_tls_delivered_scts() {
    let ca = Ca::root("CT Test Root", "CT Test Org");
    let (a, b) = (TestLog::new(), TestLog::new());
    let lists =
        LogList::parse("test", list_json(&[(&a, "Op A"), (&b, "Op B")]).as_bytes()).unwrap();
    let leaf = ca.leaf(&["ocsp.test"]);
    let chain = chain_info(&leaf, &ca);
    let entry = entry_x509(&leaf.chain[0]);
    let ts = now_ms() - 60_000;
    let list = tls_list(&[
        a.sct(ts, &entry, b""),
        b.sct(ts, &entry, &[0, 0, 0, 0, 0, 0, 0, 5]),
    ]);
    let serial = ct::der::tbs_serial(&chain[0].tbs_der).unwrap().to_vec();
    let now = certwatch_engine::check::unix_now();

    let ev = ct::evaluate(&chain, &ocsp_response(&serial, &list), &[], &lists, now);
    assert_eq!(statuses(&ev), ["valid", "valid"], "{}", ev.reason);
    assert_eq!(ev.scts[0].source, "ocsp");
    // Reported, but Chrome 148 and later no longer count OCSP-delivered SCTs.
    assert!(!ev.compliant, "{}", ev.reason);
    assert!(
        ev.reason.contains("OCSP response not counted"),
        "{}",
        ev.reason
    );

    // The response is for another certificate: its SCTs are not ours.
    let ev = ct::evaluate(&chain, &ocsp_response(&[9, 9], &list), &[], &lists, now);
    assert_eq!(ev.total, 0);

    // TLS-extension delivery (the engine cannot receive it from rustls, but
    // the evaluation supports it).
    let ev = ct::evaluate(&chain, &[], &list, &lists, now);
    assert_eq!(statuses(&ev), ["valid", "valid"]);
    assert_eq!(ev.scts[1].source, "tls_extension");
    assert!(ev.compliant, "{}", ev.reason);
    assert!(ev.reason.contains("TLS-delivered"), "{}", ev.reason);

    // Garbage OCSP is reported, never a panic.
    for bad in [vec![0x30], ocsp_response(&serial, &[1, 2, 3])] {
        let ev = ct::evaluate(&chain, &bad, &[], &lists, now);
        assert!(!ev.compliant);
        assert!(ev.reason.contains("malformed"), "{}", ev.reason);
    }
}

/// Every single-byte corruption and every truncation of a real SCT-bearing
/// TBS and of an OCSP response is an error or a result, never a panic.
#[test]
fn corrupted_inputs_never_panic() {
    let ca = Ca::root("CT Test Root", "CT Test Org");
    let a = TestLog::new();
    let leaf = logged_leaf(&ca, &["fuzz.test"], &[&a], Make::default());
    let tbs = parse_cert(&leaf.chain[0]).unwrap().tbs_der;
    let serial = ct::der::tbs_serial(&tbs).unwrap().to_vec();
    let entry = entry_x509(&leaf.chain[0]);
    let ocsp = ocsp_response(&serial, &tls_list(&[a.sct(1, &entry, b"")]));
    for input in [&tbs, &ocsp] {
        for i in 0..input.len() {
            for x in [0x01u8, 0x80, 0xFF] {
                let mut m = input.clone();
                m[i] ^= x;
                let _ = ct::der::tbs_without_extension(&m, ct::der::OID_SCT_LIST);
                let _ = ct::sct::embedded_scts(&m);
                let _ = ct::sct::ocsp_scts(&m, &serial);
            }
            let _ = ct::der::tbs_without_extension(&input[..i], ct::der::OID_SCT_LIST);
            let _ = ct::sct::embedded_scts(&input[..i]);
            let _ = ct::sct::ocsp_scts(&input[..i], &serial);
            let _ = ct::sct::parse_sct_list(&input[..i], ct::SctSource::Tls);
            let _ = watch::parse_leaf(&input[..i]);
        }
    }
}
