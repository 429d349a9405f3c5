//! Table-driven tests of the judge: each row is (history, observation, evidence) → (severity, codes).

use super::*;
use crate::ca::CaIdentity;
use crate::ccadb::disclosure::OperatorSource;
use crate::model::CertInfo;
use crate::trust::{Anchor, Trust, TrustKind};

pub(super) const NOW: i64 = 1_800_000_000;
pub(super) const DAY: i64 = 86_400;

pub(super) fn ca(
    owner: &str,
    root: &str,
    org: &str,
    inter: &str,
    inter_key: &str,
    trust: TrustKind,
) -> CaIdentity {
    CaIdentity {
        owner: owner.into(),
        root: root.into(),
        root_spki: format!("spki:{root}"),
        issuer_org: Some(org.into()),
        intermediate: inter.into(),
        intermediate_spki: Some(format!("spki:{inter_key}")),
        trust,
        operator: (trust == TrustKind::Public).then(|| owner.to_string()),
        operator_source: OperatorSource::CcadbIntermediate,
        ca_owner: None,
    }
}

pub(super) fn le(inter: &str) -> CaIdentity {
    ca(
        "ISRG",
        "ISRG Root X1",
        "Let's Encrypt",
        inter,
        inter,
        TrustKind::Public,
    )
}
pub(super) fn digicert() -> CaIdentity {
    ca(
        "DigiCert Inc",
        "DigiCert Global Root G2",
        "DigiCert Inc",
        "DigiCert G2 TLS",
        "dg2",
        TrustKind::Public,
    )
}
pub(super) fn corp() -> CaIdentity {
    ca(
        "Corp IT",
        "Corp Root",
        "Corp IT",
        "Corp Proxy",
        "corp",
        TrustKind::Local,
    )
}
fn selfsigned() -> CaIdentity {
    ca("self", "self", "self", "self", "self", TrustKind::Untrusted)
}

fn leaf(fp: &str, not_after: i64) -> CertInfo {
    CertInfo {
        der: vec![],
        sha256: fp.into(),
        spki_sha256: format!("leafkey:{fp}"),
        subject: "CN=site.test".into(),
        issuer: "CN=I".into(),
        subject_cn: Some("site.test".into()),
        subject_org: None,
        issuer_org: None,
        issuer_cn: Some("I".into()),
        sans: vec!["site.test".into()],
        not_before: NOW - 86_400,
        not_after,
        key_type: "EC-P256".into(),
        aki: None,
        ski: None,
        is_ca: false,
        self_issued: false,
        spki_der: vec![],
        tbs_der: vec![],
    }
}

pub(super) fn seen(fp: &str, ca: CaIdentity, days_ago: i64, not_after: i64) -> PastSighting {
    PastSighting {
        leaf_sha256: fp.into(),
        leaf_spki: format!("leafkey:{fp}"),
        leaf_not_after: not_after,
        ca,
        first_seen: NOW - days_ago * DAY,
        last_seen: NOW - days_ago * DAY + 3600,
    }
}

fn trust(kind: TrustKind) -> Trust {
    Trust {
        kind,
        anchor: (kind != TrustKind::Untrusted).then(|| Anchor {
            subject: "CN=root".into(),
            name: "root".into(),
            org: None,
            spki_sha256: "x".into(),
        }),
        expired: false,
        not_yet_valid: false,
        name_mismatch: false,
        self_signed: kind == TrustKind::Untrusted,
        errors: vec![],
        path: vec![],
    }
}

pub(super) struct Row {
    name: &'static str,
    history: Vec<PastSighting>,
    accepted: Vec<CaIdentity>,
    ct_seed: Vec<CaIdentity>,
    leaf: &'static str,
    leaf_not_after: i64,
    ca: CaIdentity,
    trust: Trust,
    pub(super) evidence: Evidence,
    want: Severity,
    codes: &'static [&'static str],
    pub(super) not_codes: &'static [&'static str],
}

pub(super) fn row(
    name: &'static str,
    history: Vec<PastSighting>,
    ca: CaIdentity,
    want: Severity,
    codes: &'static [&'static str],
) -> Row {
    let kind = ca.trust;
    Row {
        name,
        history,
        accepted: vec![],
        ct_seed: vec![],
        leaf: "new",
        leaf_not_after: NOW + 90 * DAY,
        ca,
        trust: trust(kind),
        evidence: Evidence::default(),
        want,
        codes,
        not_codes: &[],
    }
}

fn ct(compliant: bool, total: usize) -> Evidence {
    Evidence {
        ct: Some(CtEvidence {
            compliant,
            reason: "r".into(),
            total,
            invalid: 0,
            unknown_log: 0,
            scts: Vec::new(),
            list_date: None,
            list_stale: false,
        }),
        ..Evidence::default()
    }
}

#[test]
fn judge_table() {
    let soon = NOW + 5 * DAY;
    let later = NOW + 60 * DAY;
    let mut rows = vec![
        row(
            "first sight",
            vec![],
            le("R10"),
            Severity::Ok,
            &["first_seen"],
        ),
        row(
            "same cert",
            vec![seen("new", le("R10"), 10, later)],
            le("R10"),
            Severity::Ok,
            &["unchanged"],
        ),
        row(
            "renewal, same intermediate",
            vec![seen("old", le("R10"), 80, soon)],
            le("R10"),
            Severity::Ok,
            &["renewed"],
        ),
        row(
            "LE rotation R10 -> R11",
            vec![seen("old", le("R10"), 80, soon)],
            le("R11"),
            Severity::Info,
            &["renewed", "intermediate_rotated"],
        ),
        row(
            "LE RSA -> ECDSA (X1 -> X2 root, same org)",
            vec![seen("old", le("R10"), 80, soon)],
            ca(
                "ISRG",
                "ISRG Root X2",
                "Let's Encrypt",
                "E5",
                "E5",
                TrustKind::Public,
            ),
            Severity::Info,
            &["renewed"],
        ),
        row(
            "another public CA",
            vec![seen("old", le("R10"), 80, soon)],
            digicert(),
            Severity::Warning,
            &["ca_changed"],
        ),
        row(
            "public CA change to a local root",
            vec![seen("old", le("R10"), 80, soon)],
            corp(),
            Severity::Critical,
            &["ca_changed", "local_root"],
        ),
        row(
            "local root on first sight",
            vec![],
            corp(),
            Severity::Warning,
            &["local_root", "first_seen"],
        ),
        row(
            "self-signed on first sight",
            vec![],
            selfsigned(),
            Severity::Critical,
            &["untrusted"],
        ),
        row(
            "self-signed replacing public",
            vec![seen("old", le("R10"), 80, soon)],
            selfsigned(),
            Severity::Critical,
            &["untrusted", "ca_changed"],
        ),
        row(
            "CDN alternating between two known CAs",
            vec![
                seen("a", le("R10"), 30, later),
                seen("b", digicert(), 20, later),
                seen("a2", le("R11"), 10, later),
            ],
            digicert(),
            Severity::Ok,
            &["renewed"],
        ),
        row(
            "repeated sighting of an unaccepted change keeps warning",
            vec![
                seen("old", le("R10"), 30, later),
                seen("new", digicert(), 1, later),
            ],
            digicert(),
            Severity::Warning,
            &["unchanged", "ca_changed"],
        ),
    ];
    // Early replacement is said.
    let mut r = row(
        "early replacement is said",
        vec![seen("old", le("R10"), 10, NOW + 80 * DAY)],
        digicert(),
        Severity::Warning,
        &["ca_changed"],
    );
    r.not_codes = &["renewed"];
    rows.push(r);
    // Evidence moves a CA change.
    let mut r = row(
        "CT-compliant change with CAA allowing: info",
        vec![seen("old", le("R10"), 80, soon)],
        digicert(),
        Severity::Info,
        &["ca_changed", "ct_compliant", "caa_allows"],
    );
    r.evidence = ct(true, 3);
    r.evidence.caa = Some(CaaEvidence::Allows {
        domain: "site.test".into(),
    });
    rows.push(r);
    let mut r = row(
        "CT-compliant change without CAA/pin evidence stays warning",
        vec![seen("old", le("R10"), 80, soon)],
        digicert(),
        Severity::Warning,
        &["ca_changed"],
    );
    r.evidence = ct(true, 3);
    rows.push(r);
    let mut r = row(
        "public CA change without SCTs: critical",
        vec![seen("old", le("R10"), 80, soon)],
        digicert(),
        Severity::Critical,
        &["ca_changed", "sct_missing", "ct_not_compliant"],
    );
    r.evidence = ct(false, 0);
    rows.push(r);
    let mut r = row(
        "CAA forbids: critical",
        vec![seen("old", le("R10"), 80, soon)],
        digicert(),
        Severity::Critical,
        &["caa_forbids"],
    );
    r.evidence = ct(true, 3);
    r.evidence.caa = Some(CaaEvidence::Forbids {
        domain: "site.test".into(),
        allowed: vec!["letsencrypt.org".into()],
    });
    rows.push(r);
    let mut r = row(
        "pin violation without a CA change: critical",
        vec![seen("old", le("R10"), 80, soon)],
        le("R10"),
        Severity::Critical,
        &["pin_violation", "renewed"],
    );
    r.evidence.pin = Some(PinEvidence::Violation {
        entry: "site.test".into(),
        pinset: "p".into(),
        detail: "d".into(),
    });
    rows.push(r);
    let mut r = row(
        "accepted CA",
        vec![seen("old", le("R10"), 80, soon)],
        digicert(),
        Severity::Ok,
        &["accepted"],
    );
    r.accepted = vec![digicert()];
    r.not_codes = &["ca_changed"];
    rows.push(r);
    let mut r = row(
        "accepted local root: info",
        vec![seen("old", le("R10"), 80, soon)],
        corp(),
        Severity::Info,
        &["local_root", "accepted"],
    );
    r.accepted = vec![corp()];
    rows.push(r);
    let mut r = row(
        "acknowledged interceptor network: info",
        vec![],
        corp(),
        Severity::Info,
        &["local_root", "interceptor_known"],
    );
    r.evidence.interceptor = Some("Zscaler".into());
    r.evidence.interceptor_accepted = Some("office".into());
    rows.push(r);
    let mut r = row(
        "expired",
        vec![],
        le("R10"),
        Severity::Critical,
        &["expired"],
    );
    r.trust.expired = true;
    r.leaf_not_after = NOW - DAY;
    rows.push(r);
    let mut r = row(
        "name mismatch",
        vec![],
        le("R10"),
        Severity::Critical,
        &["name_mismatch"],
    );
    r.trust.name_mismatch = true;
    rows.push(r);
    let mut r = row(
        "same issuer name, new issuer key (forged intermediate under a local root)",
        vec![seen("old", le("R10"), 80, soon)],
        ca(
            "Evil",
            "Evil Root",
            "Let's Encrypt",
            "R10",
            "forged",
            TrustKind::Local,
        ),
        Severity::Critical,
        &["key_changed", "ca_changed"],
    );
    r.not_codes = &["renewed"];
    rows.push(r);
    // Expiry: only when the caller passes thresholds (CLI, daemon).
    let mut r = row(
        "expires in 2 hours, thresholds given",
        vec![seen("new", le("R10"), 10, soon)],
        le("R10"),
        Severity::Critical,
        &["expires_soon", "unchanged"],
    );
    r.leaf_not_after = NOW + 7200;
    r.evidence.expiry = Some(ExpiryPolicy::default());
    rows.push(r);
    let mut r = row(
        "expires in 2 hours, browser visit (no thresholds)",
        vec![seen("new", le("R10"), 10, soon)],
        le("R10"),
        Severity::Ok,
        &["unchanged"],
    );
    r.leaf_not_after = NOW + 7200;
    r.not_codes = &["expires_soon"];
    rows.push(r);
    let mut r = row(
        "expires in 60 days, --warn-days 90",
        vec![],
        le("R10"),
        Severity::Warning,
        &["expires_soon", "first_seen"],
    );
    r.leaf_not_after = later;
    r.evidence.expiry = Some(ExpiryPolicy {
        warn_days: Some(90),
        crit_days: None,
    });
    rows.push(r);
    let mut r = row(
        "expired with thresholds: expired, not expires_soon",
        vec![],
        le("R10"),
        Severity::Critical,
        &["expired"],
    );
    r.trust.expired = true;
    r.leaf_not_after = NOW - DAY;
    r.evidence.expiry = Some(ExpiryPolicy::default());
    r.not_codes = &["expires_soon"];
    rows.push(r);

    // First contact with a CT-watched site: judged against the issuing CAs
    // its CT watch found (keys, then CCADB operators), not a mere sighting.
    let mut r = row(
        "first contact, CT shows this CA",
        vec![],
        le("R11"),
        Severity::Ok,
        &["first_seen", "first_seen_ct_familiar"],
    );
    r.ct_seed = vec![le("R11")];
    rows.push(r);
    let mut r = row(
        "first contact, CT shows the same operator under another intermediate",
        vec![],
        le("R12"),
        Severity::Ok,
        &["first_seen_ct_familiar"],
    );
    r.ct_seed = vec![le("R10")];
    rows.push(r);
    let mut r = row(
        "first contact, CT shows only another operator",
        vec![],
        digicert(),
        Severity::Warning,
        &["first_seen", "first_seen_ct_unfamiliar"],
    );
    r.ct_seed = vec![le("R11")];
    rows.push(r);
    let mut r = row(
        "first contact, a CA copying the seeded CA's names is not it",
        vec![],
        ca(
            "Rogue",
            "Rogue Root",
            "Let's Encrypt",
            "R11",
            "rogue",
            TrustKind::Public,
        ),
        Severity::Warning,
        &["first_seen_ct_unfamiliar"],
    );
    r.ct_seed = vec![le("R11")];
    rows.push(r);
    let mut r = row(
        "first contact, accepted by the user: no CT judgement",
        vec![],
        digicert(),
        Severity::Ok,
        &["first_seen"],
    );
    r.ct_seed = vec![le("R11")];
    r.accepted = vec![digicert()];
    r.not_codes = &["first_seen_ct_unfamiliar"];
    rows.push(r);
    let mut r = row(
        "a known site is judged by its history, not the CT seed",
        vec![seen("old", le("R11"), 30, NOW + 60 * DAY)],
        le("R11"),
        Severity::Ok,
        &["renewed"],
    );
    r.ct_seed = vec![digicert()];
    r.not_codes = &["first_seen_ct_unfamiliar", "first_seen_ct_familiar"];
    rows.push(r);
    run_rows(rows);
}

/// Judges each row and checks its severity and codes.
pub(super) fn run_rows(rows: Vec<Row>) {
    for r in rows {
        let history = History {
            sightings: r.history.clone(),
            accepted: r
                .accepted
                .iter()
                .map(|c| AcceptedCa {
                    ca: c.clone(),
                    leaf_spki: "k".into(),
                    at: NOW - DAY,
                })
                .collect(),
            ct_seed: r.ct_seed.clone(),
        };
        let chain = [leaf(r.leaf, r.leaf_not_after)];
        let v = judge(&Input {
            host: "site.test",
            now: NOW,
            chain: &chain,
            trust: &r.trust,
            ca: &r.ca,
            history: &history,
            evidence: &r.evidence,
        });
        let got: Vec<&str> = v.reasons.iter().map(|x| x.code.as_str()).collect();
        assert_eq!(v.severity, r.want, "{}: {got:?} {:#?}", r.name, v.reasons);
        for c in r.codes {
            assert!(got.contains(c), "{}: missing {c} in {got:?}", r.name);
        }
        for c in r.not_codes {
            assert!(!got.contains(c), "{}: unexpected {c} in {got:?}", r.name);
        }
        if r.name == "early replacement is said" {
            assert!(
                v.reasons[0]
                    .message
                    .contains("still valid for 80 more days"),
                "{}",
                v.reasons[0].message
            );
        }
        if v.has(Code::CaChanged) && r.ca.trust == TrustKind::Public {
            assert!(v.previous_ca.is_some(), "{}", r.name);
        }
    }
}

#[test]
fn reason_codes_are_stable_snake_case() {
    for c in [
        Code::FirstSeen,
        Code::CaChanged,
        Code::BrowserChainDiffers,
        Code::NotYetValid,
        Code::ExpiresSoon,
    ] {
        let s = c.as_str();
        assert!(
            s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{s}"
        );
    }
}
