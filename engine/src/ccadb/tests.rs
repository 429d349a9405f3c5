//! Tests of the CCADB table: the CSV reader, the compact form, look-ups and the disclosure rules.

use super::disclosure::{operator, undisclosed, OperatorSource};
use super::*;
use crate::trust::TrustKind;

fn k(n: u8) -> [u8; 32] {
    [n; 32]
}

fn b64(b: &[u8; 32]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn rec(fp: u8, key: Option<u8>, kind: Kind, op: u32, nb_day: i64) -> Record {
    Record {
        sha256: k(fp),
        spki: key.map(k),
        kind,
        operator: op,
        owner: None,
        not_before: Some(nb_day),
        revoked: false,
        parent: None,
    }
}

/// A small world: ISRG (root X1 key 1, R11 key 2), DigiCert (root key 3)
/// with an Apple-operated intermediate (key 4), a key listed under two
/// operators (key 9).
fn world() -> Table {
    Table::new(
        vec![
            "ISRG".into(),
            "DigiCert".into(),
            "Apple Inc.".into(),
            "Other".into(),
        ],
        vec![
            rec(10, Some(1), Kind::Root, 0, 16_000),
            rec(11, Some(2), Kind::Intermediate, 0, 19_000),
            rec(12, Some(3), Kind::Root, 1, 15_000),
            Record {
                owner: Some(1),
                ..rec(13, Some(4), Kind::Intermediate, 2, 18_000)
            },
            rec(14, Some(9), Kind::Intermediate, 1, 18_000),
            rec(15, Some(9), Kind::Intermediate, 3, 18_000),
            rec(16, None, Kind::Intermediate, 1, 18_000),
        ],
        parse_date("2026-08-22").unwrap(),
        "test".into(),
        "0".into(),
    )
}

fn cert(fp: u8, key: u8, not_before: &str) -> CertInfo {
    let mut c = template();
    c.sha256 = crate::model::hex(&k(fp));
    c.spki_sha256 = b64(&k(key));
    c.not_before = parse_date(not_before).unwrap();
    c
}

use crate::model::CertInfo;

fn template() -> CertInfo {
    static DER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let der = DER.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec!["ca.test".to_string()]).expect("params");
        params.self_signed(&key).expect("cert").der().to_vec()
    });
    crate::model::parse_cert(der).expect("test cert")
}

#[test]
fn operator_table() {
    let t = world();
    use OperatorSource::*;
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        TrustKind,
        Option<CertInfo>,
        [u8; 32],
        Option<&str>,
        OperatorSource,
    )> = vec![
        (
            "R11 by fingerprint",
            TrustKind::Public,
            Some(cert(11, 77, "2024-03-13")),
            k(1),
            Some("ISRG"),
            CcadbIntermediate,
        ),
        (
            "re-issued R11: other fingerprint, same key",
            TrustKind::Public,
            Some(cert(99, 2, "2025-01-01")),
            k(1),
            Some("ISRG"),
            CcadbIntermediate,
        ),
        (
            "Apple's CA under a DigiCert root",
            TrustKind::Public,
            Some(cert(13, 4, "2020-01-01")),
            k(3),
            Some("Apple Inc."),
            CcadbIntermediate,
        ),
        (
            "unknown intermediate: the root's operator",
            TrustKind::Public,
            Some(cert(98, 98, "2020-01-01")),
            k(3),
            Some("DigiCert"),
            CcadbRoot,
        ),
        (
            "a key under two operators settles nothing",
            TrustKind::Public,
            Some(cert(97, 9, "2020-01-01")),
            k(3),
            Some("DigiCert"),
            CcadbRoot,
        ),
        (
            "leaf issued by the root itself",
            TrustKind::Public,
            None,
            k(1),
            Some("ISRG"),
            CcadbRoot,
        ),
        (
            "a root the data does not cover",
            TrustKind::Public,
            Some(cert(96, 96, "2020-01-01")),
            k(50),
            None,
            RootKey,
        ),
        (
            "local chains have no operator",
            TrustKind::Local,
            Some(cert(11, 2, "2024-03-13")),
            k(1),
            None,
            RootKey,
        ),
        (
            "untrusted chains have no operator",
            TrustKind::Untrusted,
            Some(cert(11, 2, "2024-03-13")),
            k(1),
            None,
            RootKey,
        ),
    ];
    for (what, trust, issuing, root, want, source) in cases {
        let got = operator(&t, trust, issuing.as_ref(), &b64(&root));
        assert_eq!(got, (want.map(str::to_string), source), "{what}");
    }
}

#[test]
fn answering_owner_of_externally_operated_cas() {
    use super::disclosure::answering_owner;
    let t = world();
    let apple = cert(13, 4, "2023-01-01");
    assert_eq!(
        answering_owner(&t, TrustKind::Public, Some(&apple)).as_deref(),
        Some("DigiCert")
    );
    // A re-issued copy of the same CA (same key) answers the same.
    let copy = cert(99, 4, "2025-01-01");
    assert_eq!(
        answering_owner(&t, TrustKind::Public, Some(&copy)).as_deref(),
        Some("DigiCert")
    );
    // Operated by its owner: no separate answering owner.
    assert_eq!(
        answering_owner(&t, TrustKind::Public, Some(&cert(11, 2, "2024-01-01"))),
        None
    );
    // Only public chains.
    assert_eq!(answering_owner(&t, TrustKind::Local, Some(&apple)), None);
    // The compact form keeps the owner.
    let again = super::compact::read("t", &super::compact::write(&t)).unwrap();
    assert_eq!(
        answering_owner(&again, TrustKind::Public, Some(&apple)).as_deref(),
        Some("DigiCert")
    );
}

#[test]
fn undisclosed_table() {
    let t = world();
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, TrustKind, Vec<CertInfo>, [u8; 32], Option<bool>)> = vec![
        (
            "disclosed by fingerprint",
            TrustKind::Public,
            vec![cert(11, 77, "2024-03-13")],
            k(1),
            None,
        ),
        (
            "disclosed by key",
            TrustKind::Public,
            vec![cert(90, 4, "2024-03-13")],
            k(3),
            None,
        ),
        (
            "old and unlisted: undisclosed",
            TrustKind::Public,
            vec![cert(91, 91, "2025-06-01")],
            k(1),
            Some(false),
        ),
        (
            "issued after the data: unknown",
            TrustKind::Public,
            vec![cert(92, 92, "2026-10-01")],
            k(1),
            Some(true),
        ),
        (
            "within the week's grace: unknown",
            TrustKind::Public,
            vec![cert(92, 92, "2026-08-18")],
            k(1),
            Some(true),
        ),
        (
            "the higher of two is unlisted",
            TrustKind::Public,
            vec![cert(11, 2, "2024-03-13"), cert(93, 93, "2020-01-01")],
            k(1),
            Some(false),
        ),
        (
            "root not covered: never an alarm",
            TrustKind::Public,
            vec![cert(94, 94, "2020-01-01")],
            k(50),
            None,
        ),
        (
            "local chains are not judged",
            TrustKind::Local,
            vec![cert(94, 94, "2020-01-01")],
            k(1),
            None,
        ),
    ];
    for (what, trust, path, root, want) in cases {
        let refs: Vec<&CertInfo> = path.iter().collect();
        let got = undisclosed(&t, trust, &refs, &b64(&root));
        assert_eq!(got.as_ref().map(|m| m.too_new), want, "{what}: {got:?}");
        if let Some(m) = got {
            assert_eq!(m.data_date, "2026-08-22", "{what}");
        }
    }
}

#[test]
fn compact_form_round_trips_and_is_deterministic() {
    let t = world();
    let text = compact::write(&t);
    let back = compact::read("t", &text).unwrap();
    assert_eq!(compact::write(&back), text);
    assert_eq!(back.len(), t.len());
    assert_eq!(back.date_str(), "2026-08-22");
    assert_eq!(
        back.certificate(&crate::model::hex(&k(13)), "")
            .map(|f| f.operator),
        Some("Apple Inc.")
    );
    // Operators are written sorted, whatever order the input had.
    let lines: Vec<&str> = text.lines().skip(5).take(4).collect();
    assert_eq!(lines, ["Apple Inc.", "DigiCert", "ISRG", "Other"]);
}

#[test]
fn a_damaged_compact_file_is_named_with_its_line() {
    let text = compact::write(&world());
    let broken = text.replacen("\nR ", "\nX ", 1);
    let e = compact::read("ccadb.txt", &broken).unwrap_err();
    assert!(
        e.starts_with("ccadb.txt:") && e.contains("record kind"),
        "{e}"
    );
    let cut: String = text.lines().take(8).collect::<Vec<_>>().join("\n");
    assert!(compact::read("c", &cut)
        .unwrap_err()
        .contains("ends before"));
}

#[test]
fn the_embedded_snapshot_loads() {
    let t = Table::snapshot().expect("snapshot");
    assert!(t.len() > 5000, "{} records", t.len());
    // ISRG Root X1, by key.
    let x1 = t.root("C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=");
    assert_eq!(
        x1.map(|f| f.operator),
        Some("Internet Security Research Group")
    );
}
