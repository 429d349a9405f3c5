//! Certificate Transparency through the real binary: SCTs and the policy in
//! `check`, `inspect --log-list --at` on real vectors, `ct update` from
//! files and over HTTPS, and CA-change severity following CT. The engine-
//! level CT tests are in `ct_vectors.rs`, `ct_watch.rs` and, for the real
//! vectors alone, `engine/src/ct/vectors_tests.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use certwatch_tests::ctlog::{list_json, logged_leaf, Make, TestLog};
use certwatch_tests::{Ca, Leaf, TestEnv, TlsServer};

fn data() -> Option<PathBuf> {
    let d = certwatch_tests::shared_data();
    if d.is_none() {
        eprintln!("skipped: ../shared/data is absent");
    }
    d
}

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
pub(crate) fn https_server(
    leaf: &Leaf,
    routes: Vec<(&'static str, u16, Vec<u8>)>,
) -> std::net::SocketAddr {
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
