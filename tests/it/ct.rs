//! Certificate Transparency: SCT verification against a test CT log made
//! here, against the real vectors in `../shared/data`, the signed log list,
//! the CLI (`ct update`, `--log-list`), and fetching over HTTPS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certwatch_engine::ct::{self, cache, loglist, LogList};
use certwatch_engine::model::{parse_cert, split_chain, CertInfo};

fn data() -> Option<PathBuf> {
    let d = certwatch_tests::shared_data();
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
    let now = certwatch_engine::check::unix_now();
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
    let now = certwatch_engine::check::unix_now();
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

// ---------------------------------------------------------------------------
// A test CT log made here: its own ring ECDSA P-256 key, signing SCTs for
// rcgen-made certificates, and a log list naming it.

use certwatch_tests::{Ca, Leaf};
use rcgen::{CertificateParams, DnType, KeyPair, SerialNumber};

use certwatch_tests::ctlog::{b64, entry_precert, entry_x509, list_json, tls_list, tlv, TestLog};

fn now_ms() -> u64 {
    (certwatch_engine::check::unix_now() as u64) * 1000
}

fn leaf_params(names: &[&str], days: i64) -> CertificateParams {
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
struct Make {
    /// Sign the SCTs over a precertificate naming a different host.
    tamper: bool,
    /// SCT timestamp offset from now, ms.
    ts_offset_ms: i64,
    /// Lifetime in days (default 90).
    days: i64,
}

/// A leaf issued by `ca` with embedded SCTs from `logs`.
fn logged_leaf(ca: &Ca, names: &[&str], logs: &[&TestLog], m: Make) -> Leaf {
    let days = if m.days == 0 { 90 } else { m.days };
    let key = KeyPair::generate().unwrap();
    let ts = (now_ms() as i64 + m.ts_offset_ms - 60_000) as u64;
    let forged = m.tamper.then(|| leaf_params(&["evil.test"], days));
    certwatch_tests::ctlog::embed_scts(
        ca,
        &leaf_params(names, days),
        &key,
        logs,
        ts,
        forged.as_ref(),
    )
}

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
    let ev = eval(
        &logged_leaf(&ca, &["ct.test"], &[&a, &stranger], Make::default()),
        &ca,
    );
    assert_eq!(statuses(&ev), ["valid", "unknown_log"]);
    assert_eq!(ev.unknown_log, 1);
    assert!(!ev.compliant);

    // two operators missing: two logs of one operator
    let ev = eval(
        &logged_leaf(&ca, &["ct.test"], &[&a, &c], Make::default()),
        &ca,
    );
    assert_eq!(statuses(&ev), ["valid", "valid"]);
    assert!(!ev.compliant);
    assert!(ev.reason.contains("one operator"), "{}", ev.reason);

    // a year-long certificate needs three logs
    let ev = eval(
        &logged_leaf(
            &ca,
            &["ct.test"],
            &[&a, &b],
            Make {
                days: 365,
                ..Make::default()
            },
        ),
        &ca,
    );
    assert!(
        !ev.compliant && ev.reason.contains("3 required"),
        "{}",
        ev.reason
    );
    let ev = eval(
        &logged_leaf(
            &ca,
            &["ct.test"],
            &[&a, &b, &c],
            Make {
                days: 365,
                ..Make::default()
            },
        ),
        &ca,
    );
    assert!(ev.compliant, "{}", ev.reason);

    // timestamp in the future
    let ev = eval(
        &logged_leaf(
            &ca,
            &["ct.test"],
            &[&a, &b],
            Make {
                ts_offset_ms: 86_400_000,
                ..Make::default()
            },
        ),
        &ca,
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
    assert!(ev.compliant, "{}", ev.reason);

    // The response is for another certificate: its SCTs are not ours.
    let ev = ct::evaluate(&chain, &ocsp_response(&[9, 9], &list), &[], &lists, now);
    assert_eq!(ev.total, 0);

    // TLS-extension delivery (the engine cannot receive it from rustls, but
    // the evaluation supports it).
    let ev = ct::evaluate(&chain, &[], &list, &lists, now);
    assert_eq!(statuses(&ev), ["valid", "valid"]);
    assert_eq!(ev.scts[1].source, "tls_extension");

    // Garbage OCSP is reported, never a panic.
    for bad in [vec![0x30], ocsp_response(&serial, &[1, 2, 3])] {
        let ev = ct::evaluate(&chain, &bad, &[], &lists, now);
        assert!(!ev.compliant);
        assert!(ev.reason.contains("malformed"), "{}", ev.reason);
    }
}

// ---------------------------------------------------------------------------
// End to end through the real binary.

use certwatch_tests::{TestEnv, TlsServer};

#[test]
fn check_reports_scts_and_policy() {
    let root = Ca::root("CT E2E Root", "CT E2E Org");
    let ca = root.intermediate("CT E2E Issuing CA", "CT E2E Org");
    let (a, b) = (TestLog::new(), TestLog::new());
    let env = TestEnv::new().public_roots(&[&root]);
    let list = env.dir.path().join("list.json");
    std::fs::write(&list, list_json(&[(&a, "Op A"), (&b, "Op B")])).unwrap();
    let list = list.to_str().unwrap().to_string();

    let leaf = logged_leaf(&ca, &["localhost"], &[&a, &b], Make::default());
    let server = TlsServer::start(&leaf);
    let site = format!("localhost:{}", server.port());

    // No log list and no cache: no CT evidence, no noise.
    let (code, v) = env.check_json(&site, &["--no-store"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["sct"].is_null() && v["ct_policy"].is_null(), "{v}");

    let (code, v) = env.check_json(&site, &["--no-store", "--log-list", &list]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["ct_policy"]["status"], "compliant", "{v}");
    let scts = v["sct"].as_array().unwrap();
    assert_eq!(scts.len(), 2);
    for s in scts {
        assert_eq!(s["status"], "valid");
        assert_eq!(s["source"], "embedded");
        assert!(
            s["log_name"].is_string() && s["operator"].is_string() && s["timestamp"].is_string()
        );
    }
    assert!(certwatch_tests::codes(&v).contains(&"ct_compliant".to_string()));

    // A public chain without SCTs: sct_missing, ct_not_compliant.
    server.swap(&ca.leaf(&["localhost"]));
    let (code, v) = env.check_json(&site, &["--no-store", "--log-list", &list]);
    let codes = certwatch_tests::codes(&v);
    assert!(codes.contains(&"sct_missing".to_string()), "{v}");
    assert!(codes.contains(&"ct_not_compliant".to_string()), "{v}");
    assert_eq!(code, 1, "{v}");

    // A missing --log-list file is a clear error (exit 3).
    let out = env.run(&[
        "--log-list",
        "/nonexistent/list.json",
        "check",
        &site,
        "--no-store",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/list.json"));
}

#[test]
fn inspect_takes_log_list_and_at() {
    let Some(d) = data() else { return };
    let env = TestEnv::new();
    let chain = env.dir.path().join("netflix.pem");
    let dir = d.join("sct_pairs/www.netflix.com_2016_symantec");
    let mut pem = std::fs::read(dir.join("leaf.pem")).unwrap();
    pem.extend(std::fs::read(dir.join("issuer.pem")).unwrap());
    std::fs::write(&chain, pem).unwrap();
    let historic = d.join("ct_log_lists/google_all_logs_list_2026-06-26_with_historic_logs.json");
    let out = env.run(&[
        "--log-list",
        historic.to_str().unwrap(),
        "inspect",
        chain.to_str().unwrap(),
        "--at",
        "2017-04-17T00:00:00Z",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st: Vec<&str> = v["sct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["valid", "valid", "valid"], "{v}");
    // Judged today with only the current list, the old logs are unknown.
    let current = d.join("ct_log_lists/google_all_logs_list_2026-08-21.json");
    let out = env.run(&[
        "--log-list",
        current.to_str().unwrap(),
        "inspect",
        chain.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["sct"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "unknown_log"),
        "{v}"
    );
    assert_eq!(v["ct_policy"]["status"], "not_compliant");
}

#[test]
fn ct_update_installs_verified_lists_and_refuses_bad_ones() {
    let Some(d) = data() else { return };
    let dir = d.join("ct_log_lists");
    let json = dir.join("google_log_list_v3_v80.14_2026-01-02.json");
    let sig = dir.join("google_log_list_v3_v80.14_2026-01-02.sig");
    let env = TestEnv::new();
    let cached = env.home().join("ct/log_list.json");

    // A tampered list is refused before anything is cached.
    let bad = env.dir.path().join("bad.json");
    let mut bytes = std::fs::read(&json).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&bad, &bytes).unwrap();
    let out = env.run(&[
        "ct",
        "update",
        "--from",
        bad.to_str().unwrap(),
        "--sig",
        sig.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("signature") && err.contains("nothing was installed"),
        "{err}"
    );
    assert!(!cached.exists());

    let out = env.run(&[
        "ct",
        "update",
        "--from",
        json.to_str().unwrap(),
        "--sig",
        sig.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&json).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&cached).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let m = std::fs::metadata(cached.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o700);
    }

    // A bad list later leaves the good cache in place.
    let out = env.run(&[
        "ct",
        "update",
        "--from",
        bad.to_str().unwrap(),
        "--sig",
        sig.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the cached list stays in use"));
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&json).unwrap()
    );

    // The cache is used by checks when no --log-list is given.
    let out = env.run(&["ct", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["logs"].as_array().unwrap().len() > 10);
}

/// A minimal HTTPS/1.1 server: `routes` maps a path to (status, body).
fn https_server(leaf: &Leaf, routes: Vec<(&'static str, u16, Vec<u8>)>) -> std::net::SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::io::{BufRead as _, BufReader, Write as _};
    let certs = leaf
        .chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, routes) = (config.clone(), routes.clone());
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut reader = BufReader::new(&mut tls);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    match reader.read_line(&mut h) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if h == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .map(|(_, s, b)| (*s, b.clone()))
                    .unwrap_or((404, b"not found".to_vec()));
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(&body);
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

#[test]
fn ct_update_downloads_over_https() {
    let Some(d) = data() else { return };
    let dir = d.join("ct_log_lists");
    let json = std::fs::read(dir.join("google_log_list_v3_v80.14_2026-01-02.json")).unwrap();
    let sig = std::fs::read(dir.join("google_log_list_v3_v80.14_2026-01-02.sig")).unwrap();
    let mut tampered = json.clone();
    let i = tampered.len() - 2;
    tampered[i] ^= 1;
    let root = Ca::root("Fetch Test Root", "Fetch Test Org");
    let leaf = root.leaf(&["localhost"]);
    let addr = https_server(
        &leaf,
        vec![
            ("/v3/log_list.json", 200, json.clone()),
            ("/v3/log_list.sig", 200, sig.clone()),
            ("/bad/log_list.json", 200, tampered),
            ("/bad/log_list.sig", 200, sig),
            ("/busy/log_list.json", 429, b"slow down".to_vec()),
        ],
    );
    let env = TestEnv::new().public_roots(&[&root]);
    let url = |p: &str| format!("https://localhost:{}{p}", addr.port());
    let cached = env.home().join("ct/log_list.json");

    let out = env.run(&["ct", "update", "--url", &url("/bad/log_list.json")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signature"));
    assert!(!cached.exists());

    let out = env.run(&["ct", "update", "--url", &url("/busy/log_list.json")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("429"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = env.run(&["ct", "update", "--url", &url("/v3/log_list.json")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&cached).unwrap(), json);

    // A server the roots do not vouch for is refused.
    let stranger = Ca::root("Stranger", "Stranger Org");
    let env2 = TestEnv::new().public_roots(&[&stranger]);
    let out = env2.run(&["ct", "update", "--url", &url("/v3/log_list.json")]);
    assert_eq!(out.status.code(), Some(3));
}

// ---------------------------------------------------------------------------
// CT watch back-ends against local HTTP servers speaking the real API shapes.

use std::sync::atomic::{AtomicUsize, Ordering};

use certwatch_engine::ca::CaIdentity;
use certwatch_engine::ct::watch::{self, CrtSh, CtSearch, LogMonitor, Polite, WatchError};
use certwatch_engine::trust::TrustKind;

type Handler = dyn Fn(&str) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

/// A plain HTTP/1.1 server on 127.0.0.1; counts requests.
fn http_server(handler: Arc<Handler>) -> (String, Arc<AtomicUsize>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut reader = BufReader::new(tcp.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                match reader.read_line(&mut h) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if h == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, headers, body) = handler(&target);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = tcp.write_all(head.as_bytes());
            let _ = tcp.write_all(&body);
        }
    });
    (format!("http://{addr}/"), hits)
}

fn polite(min_secs: u64) -> Polite {
    Polite::new(None, std::time::Duration::from_secs(min_secs)).unwrap()
}

fn known(org: &str, intermediate: &str) -> CaIdentity {
    CaIdentity {
        owner: org.into(),
        root: format!("{org} Root"),
        root_spki: "x".into(),
        issuer_org: Some(org.into()),
        intermediate: intermediate.into(),
        intermediate_spki: None,
        trust: TrustKind::Public,
    }
}

fn query_param<'a>(target: &'a str, key: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn crtsh_backend_search_cache_unfamiliar_and_errors() {
    let rows = br#"[
      {"issuer_ca_id":1,"issuer_name":"C=US, O=Let's Encrypt, CN=R3","common_name":"www.example.test","name_value":"www.example.test","id":1,"entry_timestamp":"2026-01-01T00:00:00.000","not_before":"2026-01-01T00:00:00","not_after":"2026-04-01T00:00:00","serial_number":"01"},
      {"issuer_ca_id":2,"issuer_name":"C=XX, O=Rogue Trust, CN=Rogue CA 1","common_name":"login.example.test","name_value":"login.example.test\nexample.test","id":2,"entry_timestamp":"2026-02-01T00:00:00.000","not_before":"2026-02-01T00:00:00","not_after":"2026-05-01T00:00:00","serial_number":"02"}
    ]"#
    .to_vec();
    let (base, hits) = http_server(Arc::new(move |t: &str| {
        assert!(t.contains("output=json"), "{t}");
        match query_param(t, "q") {
            Some(q) if q.ends_with("example.test") => (200, vec![], rows.clone()),
            Some(q) if q.ends_with("busy.test") => (
                429,
                vec![("Retry-After".into(), "120".into())],
                b"slow down".to_vec(),
            ),
            Some(q) if q.ends_with("broken.test") => (500, vec![], b"oops".to_vec()),
            _ => (200, vec![], b"<html>not json</html>".to_vec()),
        }
    }));
    let domains = vec!["example.test".to_string()];
    let mut s = CrtSh::new(&base, polite(0));
    let found = s.poll(&domains).unwrap();
    assert_eq!(found.len(), 2);
    let n = hits.load(Ordering::SeqCst);
    assert_eq!(n, 2, "one query for the subdomains, one for the apex");
    let rogue = watch::unfamiliar(&found, &[known("Let's Encrypt", "R3")]);
    assert_eq!(rogue.len(), 1);
    assert_eq!(rogue[0].issuer_org.as_deref(), Some("Rogue Trust"));
    assert_eq!(rogue[0].names, vec!["example.test", "login.example.test"]);
    assert!(
        watch::unfamiliar(&found, &[]).is_empty(),
        "no history: no alert"
    );

    // Cached: no new request.
    assert_eq!(s.poll(&domains).unwrap().len(), 2);
    assert_eq!(hits.load(Ordering::SeqCst), n);

    // 429 with Retry-After: backs off without asking again.
    let mut busy = CrtSh::new(&base, polite(0));
    let e = busy.poll(&["busy.test".to_string()]).unwrap_err();
    assert!(
        matches!(
            e,
            WatchError::Status {
                status: 429,
                retry_in_secs: 120,
                ..
            }
        ),
        "{e}"
    );
    let before = hits.load(Ordering::SeqCst);
    assert!(matches!(
        busy.poll(&["busy.test".to_string()]),
        Err(WatchError::Backoff { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), before);

    // 5xx: exponential backoff from the base step.
    let mut broken = CrtSh::new(&base, polite(0));
    let e = broken.poll(&["broken.test".to_string()]).unwrap_err();
    assert!(
        matches!(
            e,
            WatchError::Status {
                status: 500,
                retry_in_secs: 60,
                ..
            }
        ),
        "{e}"
    );

    // Garbage: a parse error naming the back-end's answer.
    let mut garbage = CrtSh::new(&base, polite(0));
    let e = garbage.poll(&["garbage.test".to_string()]).unwrap_err();
    assert!(matches!(e, WatchError::Parse { .. }), "{e}");
    assert!(e.to_string().contains("crt.sh JSON"), "{e}");

    // Rate limit: a second poll before the interval is refused locally.
    let mut slow = CrtSh::new(&base, polite(3600));
    slow.ttl = std::time::Duration::ZERO;
    slow.poll(&domains).unwrap();
    let before = hits.load(Ordering::SeqCst);
    assert!(matches!(
        slow.poll(&domains),
        Err(WatchError::RateLimited { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), before);
}

/// A `MerkleTreeLeaf` for a certificate (x509 entry) or a precertificate TBS.
fn merkle_leaf(ts: u64, der: &[u8], precert_issuer_spki: Option<&[u8]>) -> Vec<u8> {
    let mut v = vec![0u8, 0];
    v.extend_from_slice(&ts.to_be_bytes());
    match precert_issuer_spki {
        Some(spki) => {
            v.extend_from_slice(&entry_precert(spki, der));
        }
        None => v.extend_from_slice(&entry_x509(der)),
    }
    v.extend_from_slice(&[0, 0]);
    v
}

fn sth_json(log: &TestLog, tree_size: u64, tamper: bool) -> Vec<u8> {
    let ts = now_ms();
    let root = [7u8; 32];
    let mut signed = vec![0u8, 1];
    signed.extend_from_slice(&ts.to_be_bytes());
    signed.extend_from_slice(&(if tamper { tree_size + 1 } else { tree_size }).to_be_bytes());
    signed.extend_from_slice(&root);
    let sig = log.sign(&signed);
    let mut ds = vec![4u8, 3];
    ds.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    ds.extend_from_slice(&sig);
    format!(
        r#"{{"tree_size":{tree_size},"timestamp":{ts},"sha256_root_hash":"{}","tree_head_signature":"{}"}}"#,
        b64(&root),
        b64(&ds)
    )
    .into_bytes()
}

#[test]
fn rfc6962_backend_reads_new_entries() {
    let good = Ca::root("Good CA", "Good Trust");
    let rogue = Ca::root("Rogue CA", "Rogue Trust");
    let log = TestLog::new();
    let list = LogList::parse("t", list_json(&[(&log, "Op")]).as_bytes()).unwrap();
    let log_entry = list.logs()[0].clone();

    let ts = now_ms();
    let x509 = good.leaf(&["www.watch.test"]).chain[0].clone();
    let pre = rogue.leaf(&["login.watch.test"]).chain[0].clone();
    let pre_tbs = parse_cert(&pre).unwrap().tbs_der;
    let rogue_spki = parse_cert(&rogue.der).unwrap().spki_der;
    let other = good.leaf(&["unrelated.test"]).chain[0].clone();
    let leaves: Vec<Vec<u8>> = vec![
        merkle_leaf(ts, &other, None),
        merkle_leaf(ts, &x509, None),
        merkle_leaf(ts, &other, None),
        merkle_leaf(ts, &pre_tbs, Some(&rogue_spki)),
        merkle_leaf(ts, &other, None),
    ];
    let tree = Arc::new(std::sync::Mutex::new(leaves));
    let sth_tamper = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (t2, st2) = (tree.clone(), sth_tamper.clone());
    let log_sth = Arc::new(log);
    let l2 = log_sth.clone();
    let (base, hits) = http_server(Arc::new(move |t: &str| {
        let leaves = t2.lock().unwrap().clone();
        if t.starts_with("/ct/v1/get-sth") {
            return (
                200,
                vec![],
                sth_json(&l2, leaves.len() as u64, st2.load(Ordering::SeqCst)),
            );
        }
        if t.starts_with("/ct/v1/get-entries") {
            let start: usize = query_param(t, "start").unwrap().parse().unwrap();
            let end: usize = query_param(t, "end").unwrap().parse().unwrap();
            if start >= 100 {
                return (200, vec![], b"{\"entries\": 7}".to_vec());
            }
            // Logs may answer with fewer entries than asked: at most 2 here.
            let stop = (end + 1).min(leaves.len()).min(start + 2);
            let entries: Vec<String> = leaves[start..stop]
                .iter()
                .map(|l| format!(r#"{{"leaf_input":"{}","extra_data":""}}"#, b64(l)))
                .collect();
            return (
                200,
                vec![],
                format!(r#"{{"entries":[{}]}}"#, entries.join(",")).into_bytes(),
            );
        }
        (404, vec![], b"no".to_vec())
    }));

    let domains = vec!["watch.test".to_string()];
    let mut m = LogMonitor::new(&base, Some(log_entry.clone()), polite(0));
    m.batch = 4;
    let found = m.poll(&domains).unwrap();
    assert_eq!(m.next_index, Some(5));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].names, vec!["www.watch.test"]);
    assert!(!found[0].precert);
    assert_eq!(found[1].names, vec!["login.watch.test"]);
    assert!(found[1].precert);
    assert_eq!(found[1].issuer_org.as_deref(), Some("Rogue Trust"));
    let alerts = watch::unfamiliar(&found, &[known("Good Trust", "Good CA")]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].id, "3");

    // Nothing new: only get-sth is asked.
    let before = hits.load(Ordering::SeqCst);
    assert!(m.poll(&domains).unwrap().is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);

    // One new entry: read from where the last poll stopped.
    tree.lock()
        .unwrap()
        .push(merkle_leaf(ts, &pre_tbs, Some(&rogue_spki)));
    let found = m.poll(&domains).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "5");

    // A tree head whose signature does not verify is refused.
    sth_tamper.store(true, Ordering::SeqCst);
    let e = m.poll(&domains).unwrap_err();
    assert!(e.to_string().contains("does not verify"), "{e}");
    sth_tamper.store(false, Ordering::SeqCst);

    // Garbage get-entries: a parse error, no panic.
    let mut g = LogMonitor::new(&base, None, polite(0));
    g.next_index = Some(100);
    tree.lock()
        .unwrap()
        .resize(120, merkle_leaf(ts, &other, None));
    let e = g.poll(&domains).unwrap_err();
    assert!(matches!(e, WatchError::Parse { .. }), "{e}");
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

/// A CA change: public but not CT-compliant is critical; CT-compliant stays a warning.
#[test]
fn ca_change_severity_follows_ct() {
    let root_a = Ca::root("Alpha Root", "Alpha Trust");
    let root_b = Ca::root("Beta Root", "Beta Trust");
    let root_c = Ca::root("Gamma Root", "Gamma Trust");
    let (a, b) = (TestLog::new(), TestLog::new());
    let env = TestEnv::new().public_roots(&[&root_a, &root_b, &root_c]);
    let list = env.dir.path().join("list.json");
    std::fs::write(&list, list_json(&[(&a, "Op A"), (&b, "Op B")])).unwrap();
    let list = list.to_str().unwrap().to_string();
    let server = TlsServer::start(&logged_leaf(
        &root_a,
        &["localhost"],
        &[&a, &b],
        Make::default(),
    ));
    let site = format!("localhost:{}", server.port());
    let args = ["--log-list", list.as_str(), "--no-caa"];

    let (code, v) = env.check_json(&site, &args);
    assert_eq!(code, 0, "{v}");

    // Switch to another public CA whose certificate is logged: a warning.
    server.swap(&logged_leaf(
        &root_c,
        &["localhost"],
        &[&a, &b],
        Make::default(),
    ));
    let (code, v) = env.check_json(&site, &args);
    assert_eq!(v["severity"], "warning", "{v}");
    assert_eq!(code, 1);
    assert!(certwatch_tests::codes(&v).contains(&"ca_changed".to_string()));

    // Switch to a third public CA whose certificate no log has seen: critical.
    server.swap(&root_b.leaf(&["localhost"]));
    let (code, v) = env.check_json(&site, &args);
    assert_eq!(v["severity"], "critical", "{v}");
    assert_eq!(code, 2);
    let codes = certwatch_tests::codes(&v);
    assert!(
        codes.contains(&"ca_changed".to_string()) && codes.contains(&"sct_missing".to_string()),
        "{v}"
    );
}
