//! `certwatch check` against real loopback TLS servers: the issue-2 scenarios.

use certwatch_tests::{codes, self_signed, Ca, ConnectProxy, TestEnv, TlsServer};

/// A public CA with an intermediate, as a real CA would have.
struct Pki {
    root_a: Ca,
    int_a1: Ca,
    int_a2: Ca,
    root_b: Ca,
    int_b: Ca,
    local: Ca,
}

fn pki() -> Pki {
    let root_a = Ca::root("Test Root A", "Alpha Trust");
    let int_a1 = root_a.intermediate("Alpha R10", "Alpha Encrypt");
    let int_a2 = root_a.intermediate("Alpha R11", "Alpha Encrypt");
    let root_b = Ca::root("Test Root B", "Beta Certs");
    let int_b = root_b.intermediate("Beta TLS CA", "Beta Certs");
    let local = Ca::root("Corp Proxy Root", "Corp IT");
    Pki {
        root_a,
        int_a1,
        int_a2,
        root_b,
        int_b,
        local,
    }
}

fn env(p: &Pki) -> TestEnv {
    TestEnv::new()
        .public_roots(&[&p.root_a, &p.root_b])
        .local(&[&p.local])
}

fn connect(s: &TlsServer) -> String {
    format!("127.0.0.1:{}", s.port())
}

#[test]
fn first_sight_renewal_rotation_and_ca_change() {
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.int_a1.leaf(&["shop.test"]));
    let c = connect(&srv);

    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["severity"], "ok");
    assert_eq!(v["trust"], "public");
    assert!(codes(&v).contains(&"first_seen".into()), "{v}");
    assert_eq!(v["chain"].as_array().unwrap().len(), 2);
    assert_eq!(v["anchor"]["name"], "Test Root A");

    // Same certificate again.
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!((code, v["severity"].as_str()), (0, Some("ok")));
    assert!(codes(&v).contains(&"unchanged".into()));

    // Renewal by the same intermediate.
    srv.swap(&p.int_a1.leaf(&["shop.test"]));
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!((code, v["severity"].as_str()), (0, Some("ok")), "{v}");
    assert!(codes(&v).contains(&"renewed".into()));

    // Let's Encrypt-style rotation R10 -> R11: same CA, not a warning.
    srv.swap(&p.int_a2.leaf(&["shop.test"]));
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["severity"], "info");
    assert!(codes(&v).contains(&"intermediate_rotated".into()), "{v}");
    assert!(!codes(&v).contains(&"ca_changed".into()));

    // Another public CA: warning.
    srv.swap(&p.int_b.leaf(&["shop.test"]));
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["severity"], "warning");
    assert!(codes(&v).contains(&"ca_changed".into()));
    assert_eq!(v["previous_ca"]["issuer_org"], "Alpha Encrypt");
    assert_eq!(v["ca"]["issuer_org"], "Beta Certs");

    // The user accepts: the same CA no longer warns, even with a new leaf.
    let out = e.run(&["accept", "shop.test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    srv.swap(&p.int_b.leaf(&["shop.test"]));
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!(code, 0, "{v}");

    // The original CA again (CDN-style alternation): known, not a change.
    srv.swap(&p.int_a1.leaf(&["shop.test"]));
    let (code, v) = e.check_json("shop.test", &["--connect", &c]);
    assert_eq!(code, 0, "{v}");
    assert!(codes(&v).contains(&"renewed".into()), "{v}");

    // History shows every distinct certificate.
    let out = e.run(&["history", "shop.test", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["sightings"].as_array().unwrap().len(), 6, "{h}");
}

#[test]
fn local_root_after_public_history_is_critical() {
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.int_a1.leaf(&["bank.test"]));
    let c = connect(&srv);
    assert_eq!(e.check_json("bank.test", &["--connect", &c]).0, 0);
    srv.swap(&p.local.leaf(&["bank.test"]));
    let (code, v) = e.check_json("bank.test", &["--connect", &c]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["trust"], "local");
    assert_eq!(v["anchor"]["name"], "Corp Proxy Root");
    let cs = codes(&v);
    assert!(
        cs.contains(&"local_root".into()) && cs.contains(&"ca_changed".into()),
        "{v}"
    );
    // Human output names the old and the new CA.
    let out = e.run(&["check", "bank.test", "--connect", &c]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CRITICAL") && text.contains("Alpha") && text.contains("Corp"),
        "{text}"
    );
}

#[test]
fn local_root_on_first_sight_is_a_warning_and_can_be_accepted() {
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.local.leaf(&["intranet.test"]));
    let c = connect(&srv);
    let (code, v) = e.check_json("intranet.test", &["--connect", &c]);
    assert_eq!(code, 1, "{v}");
    assert!(e.run(&["accept", "intranet.test"]).status.success());
    let (code, v) = e.check_json("intranet.test", &["--connect", &c]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["severity"], "info");
}

#[test]
fn self_signed_expired_and_wrong_name_are_critical() {
    let p = pki();
    let e = env(&p);
    let cases: Vec<(&str, certwatch_tests::Leaf, &str)> = vec![
        ("self.test", self_signed(&["self.test"]), "untrusted"),
        (
            "old.test",
            p.int_a1.leaf_valid(&["old.test"], 100, 90),
            "expired",
        ),
        (
            "future.test",
            p.int_a1.leaf_valid(&["future.test"], -10, 90),
            "not_yet_valid",
        ),
        (
            "right.test",
            p.int_a1.leaf(&["other.test"]),
            "name_mismatch",
        ),
    ];
    for (host, leaf, code_want) in cases {
        let srv = TlsServer::start(&leaf);
        let (code, v) = e.check_json(host, &["--connect", &connect(&srv)]);
        assert_eq!(code, 2, "{host}: {v}");
        assert!(codes(&v).contains(&code_want.to_string()), "{host}: {v}");
    }
    // An expired certificate from a public CA is still classified public.
    let srv = TlsServer::start(&p.int_a1.leaf_valid(&["old2.test"], 100, 90));
    let (_, v) = e.check_json("old2.test", &["--connect", &connect(&srv)]);
    assert_eq!(v["trust"], "public", "{v}");
}

#[test]
fn proxy_path_keeps_sni_and_site_identity() {
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.int_a1.leaf(&["proxied.test"]));
    let proxy = ConnectProxy::start(srv.addr);
    let out = e
        .cmd()
        .args(["check", "proxied.test:8443", "--json"])
        .env("HTTPS_PROXY", format!("http://{}", proxy.addr))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["host"], "proxied.test");
    assert_eq!(v["port"], 8443);
    assert_eq!(
        proxy.targets.lock().unwrap().as_slice(),
        ["proxied.test:8443"]
    );
    // NO_PROXY bypasses the proxy: the direct connection to proxied.test fails to resolve.
    let out = e
        .cmd()
        .args(["check", "proxied.test:8443", "--json"])
        .env("HTTPS_PROXY", format!("http://{}", proxy.addr))
        .env("NO_PROXY", ".test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(proxy.targets.lock().unwrap().len(), 1);
}

#[test]
fn ipv6_loopback() {
    let p = pki();
    let e = env(&p);
    let Ok(l) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    };
    drop(l);
    let srv = TlsServer::start_on("[::1]:0", &p.int_a1.leaf(&["v6.test"]));
    let (code, v) = e.check_json("v6.test", &["--connect", &format!("[::1]:{}", srv.port())]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["tls"]["peer"], format!("[::1]:{}", srv.port()));
}

#[test]
fn file_with_200_hosts() {
    let p = pki();
    let e = env(&p);
    let names: Vec<String> = (0..200).map(|i| format!("h{i}.bulk.test")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let srv = TlsServer::start(&p.int_a1.leaf(&refs));
    let list = e.dir.path().join("hosts.txt");
    let mut body = String::from("# bulk list\n\n");
    for n in &names {
        body.push_str(n);
        body.push('\n');
    }
    std::fs::write(&list, body).unwrap();
    let out = e.run(&[
        "check",
        "--file",
        list.to_str().unwrap(),
        "--connect",
        &connect(&srv),
        "--json",
        "--jobs",
        "16",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 200);
    // Output follows input order.
    for (i, v) in lines.iter().enumerate() {
        assert_eq!(v["host"], names[i]);
        assert_eq!(v["severity"], "ok");
    }
    assert!(srv.handshakes.load(std::sync::atomic::Ordering::SeqCst) >= 200);
    // Every site is in the store.
    let out = e.run(&["history", "h199.bulk.test", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["sightings"].as_array().unwrap().len(), 1);
    // Worst status wins: CRITICAL beats UNKNOWN beats OK.
    let bad = TlsServer::start(&self_signed(&["bad.test"]));
    let out = e.run(&["check", &connect(&bad), "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let ip_srv = TlsServer::start(&p.int_a1.leaf(&["127.0.0.1"]));
    let out = e.run(&["check", "127.0.0.1:1", &connect(&ip_srv)]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.int_a1.leaf(&["priv.test"]));
    assert_eq!(
        e.check_json("priv.test", &["--connect", &connect(&srv)]).0,
        0
    );
    let home = e.home();
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let db = home.join("certwatch.db");
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Loosened by someone: tightened again on next use.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        e.check_json("priv.test", &["--connect", &connect(&srv)]).0,
        0
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn no_store_records_nothing() {
    let p = pki();
    let e = env(&p);
    let srv = TlsServer::start(&p.int_a1.leaf(&["ns.test"]));
    let (code, v) = e.check_json("ns.test", &["--connect", &connect(&srv), "--no-store"]);
    assert_eq!(code, 0);
    assert_eq!(v["stored"], false);
    let out = e.run(&["history", "ns.test", "--json"]);
    let h: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["sightings"].as_array().unwrap().len(), 0);
}

/// `expires_soon`: lifetime-relative defaults, `--warn-days` / `--crit-days`,
/// config.toml `warn_days` / `crit_days`.
#[test]
fn expiry_thresholds() {
    let p = pki();
    let e = env(&p);
    // A 90-day certificate on its normal schedule (renewed at 60 days): quiet.
    let srv = TlsServer::start(&p.int_a1.leaf_valid(&["mail.test"], 59, 90));
    let c = connect(&srv);
    let (code, v) = e.check_json("mail.test", &["--connect", &c, "--no-store"]);
    assert_eq!(code, 0, "{v}");
    assert!(!codes(&v).contains(&"expires_soon".into()), "{v}");

    // 10 days left of 90: warning.
    srv.swap(&p.int_a1.leaf_valid(&["mail.test"], 80, 90));
    let (code, v) = e.check_json("mail.test", &["--connect", &c, "--no-store"]);
    assert_eq!((code, v["severity"].as_str()), (1, Some("warning")), "{v}");
    assert!(codes(&v).contains(&"expires_soon".into()), "{v}");
    // Thresholds off: ok.
    let (code, v) = e.check_json(
        "mail.test",
        &[
            "--connect",
            &c,
            "--no-store",
            "--warn-days",
            "0",
            "--crit-days",
            "0",
        ],
    );
    assert_eq!(code, 0, "{v}");
    // --crit-days 15: critical (exit 2).
    let (code, v) = e.check_json(
        "mail.test",
        &["--connect", &c, "--no-store", "--crit-days", "15"],
    );
    assert_eq!((code, v["severity"].as_str()), (2, Some("critical")), "{v}");

    // 3 days left: critical by default.
    srv.swap(&p.int_a1.leaf_valid(&["mail.test"], 87, 90));
    let (code, v) = e.check_json("mail.test", &["--connect", &c, "--no-store"]);
    assert_eq!(code, 2, "{v}");
    let r = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "expires_soon")
        .unwrap();
    assert!(r["message"].as_str().unwrap().contains("expires in"), "{r}");

    // config.toml: warn_days = 100 makes a fresh 90-day certificate warn;
    // the flag still wins over it.
    srv.swap(&p.int_a1.leaf(&["mail.test"]));
    std::fs::create_dir_all(e.home()).unwrap();
    std::fs::write(e.home().join("config.toml"), "warn_days = 100\n").unwrap();
    let (code, v) = e.check_json("mail.test", &["--connect", &c, "--no-store"]);
    assert_eq!(code, 1, "{v}");
    let (code, v) = e.check_json(
        "mail.test",
        &["--connect", &c, "--no-store", "--warn-days", "30"],
    );
    assert_eq!(code, 0, "{v}");
    // A bad config value: one line naming the file and line.
    std::fs::write(e.home().join("config.toml"), "\nwarn_days = \"soon\"\n").unwrap();
    let out = e.run(&["check", "mail.test", "--connect", &c, "--no-store"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml:2:"), "{err}");
}
