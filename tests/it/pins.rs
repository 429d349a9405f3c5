//! Pins, interceptor naming and CAA, driving the real `certwatch` binary
//! against rcgen PKIs, TLS servers on 127.0.0.1, a dnsmasq started here,
//! and (when present) the real data in ../shared/data.
//!
//! Self-contained helpers (own PKI, own TLS server) so this module does not
//! depend on the shape of tests/support.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;

// ---------------------------------------------------------------- helpers

fn certwatch_bin() -> PathBuf {
    // Builds the workspace binaries once per test process (see tests/support).
    certwatch_tests::bin("certwatch")
}

fn shared_data() -> Option<PathBuf> {
    certwatch_tests::shared_data()
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(certwatch_bin())
            .env("CERTWATCH_HOME", self.dir.path())
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .arg("--db")
            .arg(self.path("certwatch.db"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        out
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_line(o: &Output) -> Value {
    let s = stdout(o);
    serde_json::from_str(s.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout={s:?} stderr={:?}", stderr(o)))
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for c in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(c).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

fn pems(ders: &[Vec<u8>]) -> String {
    ders.iter().map(|d| pem(d)).collect()
}

fn spki_b64(der: &[u8]) -> String {
    certwatch_engine::model::parse_cert(der)
        .unwrap()
        .spki_sha256
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    fn root(cn: &str, org: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, org);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    fn intermediate(&self, cn: &str, org: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, org);
        let der = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .der()
            .to_vec();
        Ca { params, key, der }
    }

    /// (leaf DER, leaf key PKCS#8 DER)
    fn leaf(&self, names: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(10);
        p.not_after = now + time::Duration::days(80);
        let der = p
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .der()
            .to_vec();
        (der, key.serialize_der())
    }
}

fn ca_params(cn: &str, org: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name.push(DnType::OrganizationName, org);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(3650);
    p.not_after = now + time::Duration::days(3650);
    p
}

/// A TLS server on 127.0.0.1 presenting `chain` (leaf first); it completes
/// handshakes until the test process ends.
fn tls_server(chain: Vec<Vec<u8>>, key: Vec<u8>) -> SocketAddr {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain.into_iter().map(CertificateDer::from).collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let cfg = Arc::new(cfg);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut sock) = stream else { continue };
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(mut conn) = rustls::ServerConnection::new(cfg) else {
                    return;
                };
                while conn.is_handshaking() {
                    if conn.complete_io(&mut sock).is_err() {
                        return;
                    }
                }
                let _ = conn.complete_io(&mut sock);
            });
        }
    });
    addr
}

/// A public root, an issuing CA, and an interceptor's local root.
struct Pki {
    root: Ca,
    inter: Ca,
    evil: Ca,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::root("Pin Test Root", "Pin Test Org");
        let inter = root.intermediate("Pin Test Issuing CA", "Pin Test Org");
        let evil = Ca::root("mitmproxy", "mitmproxy");
        Pki { root, inter, evil }
    }

    /// Writes roots.pem (public) and local.pem (the interceptor's root).
    fn write_roots(&self, env: &Env) -> (String, String) {
        let r = env.write("roots.pem", &pem(&self.root.der));
        let l = env.write("local.pem", &pem(&self.evil.der));
        (
            r.to_string_lossy().into_owned(),
            l.to_string_lossy().into_owned(),
        )
    }

    fn good_chain(&self, host: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
        let (leaf, key) = self.inter.leaf(&[host]);
        (vec![leaf, self.inter.der.clone()], key)
    }

    fn evil_chain(&self, host: &str) -> (Vec<Vec<u8>>, Vec<u8>) {
        let (leaf, key) = self.evil.leaf(&[host]);
        (vec![leaf], key)
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn pins_check_offline_table() {
    let env = Env::new();
    let pki = Pki::new();
    let (roots, local) = pki.write_roots(&env);
    let file = env.write(
        "pins.toml",
        &format!(
            "[[pinset]]\nname = \"site\"\nexpires = 2099-01-01\npins = [{{ label = \"Pin Test Root\", spki = \"sha256/{}\" }}]\n\n[[entry]]\nhost = \"site.test\"\ninclude_subdomains = true\npinset = \"site\"\n",
            spki_b64(&pki.root.der)
        ),
    );
    let o = env.run(&["pins", "import", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let good = env.write("good.pem", &pems(&pki.good_chain("www.site.test").0));
    let evil = env.write("evil.pem", &pems(&pki.evil_chain("www.site.test").0));
    // (host, chain, exit, status)
    let cases = [
        ("www.site.test", &good, 0, "ok"),
        ("site.test", &good, 0, "ok"),
        ("www.site.test", &evil, 2, "violation"),
        ("other.test", &evil, 0, "not_pinned"),
    ];
    for (host, chain, exit, status) in cases {
        let o = env.run(&[
            "--roots",
            &roots,
            "--local-roots",
            &local,
            "pins",
            "check",
            host,
            "--chain",
            chain.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code(&o), exit, "{host}: {} {}", stdout(&o), stderr(&o));
        let v = json_line(&o);
        assert_eq!(v["status"], status, "{host}: {v}");
        if status == "ok" {
            assert_eq!(v["matched_spki"], spki_b64(&pki.root.der));
        }
    }
    // inspect carries the same evidence in its JSON, violation is critical
    let o = env.run(&[
        "--roots",
        &roots,
        "--local-roots",
        &local,
        "inspect",
        evil.to_str().unwrap(),
        "--host",
        "www.site.test",
        "--json",
    ]);
    assert_eq!(code(&o), 2);
    let v = json_line(&o);
    assert_eq!(v["pin"]["status"], "violation", "{v}");
    assert_eq!(v["pin"]["pinset"], "site");
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "pin_violation" && r["severity"] == "critical"));
    assert!(
        v["interceptor"].as_str().unwrap().contains("mitmproxy"),
        "{v}"
    );
}

#[test]
fn bad_pin_file_reports_lines() {
    let env = Env::new();
    let file = env.write(
        "bad.toml",
        "[[pinset]]\nname = \"x\"\npins = [\n  { label = \"k\", spki = \"sha256/notbase64!\" },\n]\n",
    );
    let o = env.run(&["pins", "import", file.to_str().unwrap()]);
    assert_eq!(code(&o), 3);
    let err = stderr(&o);
    assert!(err.contains("bad.toml:4:"), "{err}");
    assert!(err.contains("not base64"), "{err}");
    let file = env.write("syntax.toml", "[[pinset]\n");
    let o = env.run(&["pins", "import", file.to_str().unwrap()]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("syntax.toml:1:"), "{}", stderr(&o));
}

#[test]
fn user_pins_add_list_export_import_remove() {
    let env = Env::new();
    let k = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let o = env.run(&[
        "pins",
        "add",
        "Example.TEST",
        "--spki",
        k,
        "--include-subdomains",
        "--expires",
        "2099-01-01",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run(&["pins", "list", "--json"]);
    let v = json_line(&o);
    assert_eq!(v["host"], "example.test");
    assert_eq!(v["include_subdomains"], true);
    assert_eq!(v["pins"][0]["spki_sha256"], &k[7..]);
    assert_eq!(v["expires"], "2099-01-01T00:00:00Z");
    let out = env.path("export.toml");
    let o = env.run(&["pins", "export", "--output", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let o = env.run(&["pins", "remove", "example.test"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run(&["pins", "remove", "example.test"]);
    assert_eq!(code(&o), 3);
    assert!(stdout(&env.run(&["pins", "list", "--json"])).is_empty());
    let o = env.run(&["pins", "import", out.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json_line(&env.run(&["pins", "list", "--json"]));
    assert_eq!(v["host"], "example.test");
    // bad inputs: one line each, exit 3
    for args in [
        vec!["pins", "add", "x.test", "--spki", "sha256/short"],
        vec!["pins", "add", "*.x.test", "--spki", k],
        vec!["pins", "add", "x.test"],
        vec![
            "pins",
            "add",
            "x.test",
            "--spki",
            k,
            "--expires",
            "tomorrow",
        ],
    ] {
        let o = env.run(&args);
        assert_eq!(code(&o), 3, "{args:?}");
        assert_eq!(
            stderr(&o).trim().lines().count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn pin_from_current_then_interception_is_critical() {
    let env = Env::new();
    let pki = Pki::new();
    let (roots, local) = pki.write_roots(&env);
    let (chain, key) = pki.good_chain("shop.test");
    let good = tls_server(chain, key);
    let (chain, key) = pki.evil_chain("shop.test");
    let evil = tls_server(chain, key);
    let g = ["--roots", roots.as_str(), "--local-roots", local.as_str()];
    let run = |extra: &[&str]| env.run(&[&g[..], extra].concat());
    let o = run(&[
        "pins",
        "add",
        "shop.test",
        "--from-current",
        "--connect",
        &good.to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("Pin Test Root"), "{}", stdout(&o));
    let o = run(&[
        "check",
        "shop.test",
        "--connect",
        &good.to_string(),
        "--json",
        "--no-caa",
    ]);
    assert_eq!(code(&o), 0, "{} {}", stdout(&o), stderr(&o));
    let v = json_line(&o);
    assert_eq!(v["pin"]["status"], "ok", "{v}");
    assert_eq!(v["pin"]["pinset"], "user/shop.test");
    assert_eq!(v["pin"]["matched_spki"], spki_b64(&pki.root.der));
    let o = run(&[
        "check",
        "shop.test",
        "--connect",
        &evil.to_string(),
        "--json",
        "--no-caa",
    ]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let v = json_line(&o);
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["pin"]["status"], "violation", "{v}");
    assert!(v["interceptor"].as_str().unwrap().contains("mitmproxy"));
    // an unpinned host: not_pinned
    let o = run(&[
        "check",
        "other.test",
        "--connect",
        &good.to_string(),
        "--json",
        "--no-caa",
    ]);
    let v = json_line(&o);
    assert_eq!(v["pin"]["status"], "not_pinned", "{v}");
}

#[test]
fn accept_interceptor_lowers_only_that_root() {
    let env = Env::new();
    let pki = Pki::new();
    let corp = Ca::root("ACME Corp Inspection CA", "ACME Corp");
    let other = Ca::root("Unknown Root", "Nobody");
    let roots = env.write("roots.pem", &pem(&pki.root.der));
    let local = env.write("local.pem", &(pem(&corp.der) + &pem(&other.der)));
    let (r, l) = (roots.to_str().unwrap(), local.to_str().unwrap());
    // history: the site was public before
    let (chain, key) = pki.good_chain("bank.test");
    let public = tls_server(chain, key);
    let (leaf, key) = corp.leaf(&["bank.test"]);
    let proxied = tls_server(vec![leaf], key);
    let (leaf, key) = other.leaf(&["bank.test"]);
    let rogue = tls_server(vec![leaf], key);
    let check = |addr: SocketAddr| {
        json_line(&env.run(&[
            "--roots",
            r,
            "--local-roots",
            l,
            "check",
            "bank.test",
            "--connect",
            &addr.to_string(),
            "--json",
            "--no-caa",
        ]))
    };
    assert_eq!(check(public)["severity"], "ok");
    assert_eq!(check(proxied)["severity"], "critical");
    // accept by certificate SHA-256 (hex), resolved through --local-roots
    let hex = certwatch_engine::model::sha256_hex(&corp.der);
    let o = env.run(&[
        "--local-roots",
        l,
        "accept-interceptor",
        &hex,
        "--network",
        "office",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&spki_b64(&corp.der)), "{}", stdout(&o));
    let v = check(proxied);
    assert_eq!(v["severity"], "info", "{v}");
    assert_eq!(v["interceptor_accepted"]["network"], "office");
    // a pinned site through the acknowledged proxy: not re-alerted as a pin violation
    let o = env.run(&[
        "pins",
        "add",
        "bank.test",
        "--spki",
        &spki_b64(&pki.root.der),
        "--expires",
        "2099-01-01",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = check(proxied);
    assert_eq!(v["severity"], "info", "{v}");
    assert_eq!(v["pin"]["status"], "not_pinned", "{v}");
    let v = check(rogue);
    assert_eq!(v["pin"]["status"], "violation", "{v}");
    assert_eq!(check(public)["pin"]["status"], "ok");
    let o = env.run(&["pins", "remove", "bank.test"]);
    assert_eq!(code(&o), 0);
    // another local root still alerts
    assert_eq!(check(rogue)["severity"], "critical");
    // by SPKI (base64) too; list; forget
    let o = env.run(&[
        "accept-interceptor",
        &format!("sha256/{}", spki_b64(&other.der)),
        "--network",
        "lab",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(check(rogue)["severity"], "info");
    let o = env.run(&["accept-interceptor", "--list"]);
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    let o = env.run(&["accept-interceptor", "--forget", &spki_b64(&other.der)]);
    assert_eq!(code(&o), 0);
    assert_eq!(check(rogue)["severity"], "critical");
    // an unknown hex root is refused with a hint
    let o = env.run(&[
        "--local-roots",
        l,
        "accept-interceptor",
        &"ab".repeat(32),
        "--network",
        "x",
    ]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("SPKI"), "{}", stderr(&o));
}

// ------------------------------------------------------------ shared data

fn limbo_chain(data: &Path, site: &str) -> Option<(String, String)> {
    let p = data.join(format!("chains/x509_limbo_online/{site}.limbo.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    let t = v.get("testcases").and_then(|t| t.get(0)).unwrap_or(&v);
    let mut s = t["peer_certificate"].as_str()?.to_string();
    for i in t["untrusted_intermediates"].as_array()? {
        s.push('\n');
        s.push_str(i.as_str()?);
    }
    Some((s, t["validation_time"].as_str()?.to_string()))
}

#[test]
fn chromium_2024_import_and_lookups() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let resolved = data.join("pins/chromium_2024/chromium_static_pins_resolved.json");
    if !resolved.is_file() {
        eprintln!("skipped: {} is absent", resolved.display());
        return;
    }
    let env = Env::new();
    let o = env.run(&[
        "pins",
        "import-chromium",
        resolved.to_str().unwrap(),
        "--expires",
        "2099-01-01",
    ]);
    assert_eq!(code(&o), 0, "{} {}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("3 pinsets and 372 entries"),
        "{}",
        stdout(&o)
    );
    let o = env.run(&["pins", "list", "--json"]);
    let entries: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 372);
    let find = |h: &str| entries.iter().find(|e| e["host"] == h).cloned();
    let fb = find("facebook.com").unwrap();
    assert_eq!(fb["pinset"], "chromium/facebook");
    assert_eq!(fb["include_subdomains"], true);
    assert_eq!(find("gmail.com").unwrap()["include_subdomains"], false);
    assert_eq!(find("google").unwrap()["pinset"], "chromium/google");
    let g = find("google.com").unwrap();
    assert_eq!(g["bad"].as_array().unwrap().len(), 3);
    assert!(g["pins"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["label"] == "GTSRootR1"
            && p["spki_sha256"] == "hxqRlPTu1bMS/0DITB1SSu0vd4u/8l8TjPgfaAp63Gc="));
    // lookups with real chains: (host, chain site, expected status, pinset)
    let cases = [
        (
            "mail.google.com",
            "google.com",
            "ok",
            Some("chromium/google"),
        ),
        (
            "www.google.com",
            "google.com",
            "ok",
            Some("chromium/google"),
        ),
        ("gmail.com", "google.com", "ok", Some("chromium/google")),
        (
            "www.facebook.com",
            "facebook.com",
            "ok",
            Some("chromium/facebook"),
        ),
        // Cloudflare's chain (GTS Root R4) is not a Facebook key
        (
            "facebook.com",
            "cloudflare.com",
            "violation",
            Some("chromium/facebook"),
        ),
        ("sub.gmail.com", "google.com", "not_pinned", None),
        ("docs.python.org", "docs.python.org", "not_pinned", None),
    ];
    for (host, site, status, pinset) in cases {
        let Some((chain, at)) = limbo_chain(&data, site) else {
            eprintln!("skipped case {host}: limbo chain {site} absent");
            continue;
        };
        let f = env.write(&format!("{site}.pem"), &chain);
        let o = env.run(&[
            "pins",
            "check",
            host,
            "--chain",
            f.to_str().unwrap(),
            "--at",
            &at,
            "--json",
        ]);
        let v = json_line(&o);
        assert_eq!(v["status"], status, "{host} with {site}: {v}");
        if let Some(p) = pinset {
            assert_eq!(v["pinset"], p, "{host}");
        }
    }
    // the raw Chromium JSON names keys: without the .pins file nothing resolves
    let raw = data.join("pins/chromium_2024/transport_security_state_static_pins_2024-10-09.json");
    if raw.is_file() {
        let env2 = Env::new();
        let o = env2.run(&["pins", "import-chromium", raw.to_str().unwrap()]);
        assert_eq!(code(&o), 3);
        assert!(stderr(&o).contains("--pins"), "{}", stderr(&o));
    }
    // the 2016 .pins file resolves names (the 2016 extract is already resolved)
    let pins16 = data.join("pins/chromium_2016/transport_security_state_static_2016.pins");
    let json16 = data.join("pins/chromium_2016/chromium_pins_2016_extract.json");
    if pins16.is_file() && json16.is_file() {
        let env3 = Env::new();
        let o = env3.run(&[
            "pins",
            "import-chromium",
            json16.to_str().unwrap(),
            "--pins",
            pins16.to_str().unwrap(),
        ]);
        assert!(code(&o) <= 1, "{}", stderr(&o));
        assert!(stdout(&o).contains("10 pinsets"), "{}", stdout(&o));
    }
}

#[test]
fn shipped_pins_match_real_chains_and_regenerate() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let env = Env::new();
    for (host, site) in [
        ("accounts.google.com", "google.com"),
        ("google.com", "google.com"),
        ("www.facebook.com", "facebook.com"),
    ] {
        let Some((chain, at)) = limbo_chain(&data, site) else {
            eprintln!("skipped: limbo chain {site} absent");
            continue;
        };
        let f = env.write(&format!("{site}.pem"), &chain);
        let o = env.run(&[
            "pins",
            "check",
            host,
            "--chain",
            f.to_str().unwrap(),
            "--at",
            &at,
            "--json",
        ]);
        assert_eq!(code(&o), 0, "{host}: {}", stdout(&o));
        assert_eq!(json_line(&o)["status"], "ok", "{host}");
    }
    let roots = data.join("root_stores/mozilla_certifi_cacert_2026.10.18.pem");
    if !roots.is_file() {
        eprintln!("skipped regeneration: {} absent", roots.display());
        return;
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = env.path("shipped.toml");
    let o = env.run(&[
        "pins",
        "generate",
        "--spec",
        ws.join("pinsets/shipped.spec.toml").to_str().unwrap(),
        "--from-roots",
        roots.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(ws.join("pinsets/shipped.toml")).unwrap(),
        "pinsets/shipped.toml is stale: regenerate it (pinsets/README.md)"
    );
}

#[test]
fn mitm_chains_are_named_mitmproxy() {
    let Some(data) = shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let dir = data.join("mitm");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let env = Env::new();
    // the 2020 attack chain: forged leaf + the real Amazon chain appended
    let attack = dir.join("appmattus_babylonhealth/mitmproxy-attack-chain.pem");
    let o = env.run(&[
        "inspect",
        attack.to_str().unwrap(),
        "--host",
        "babylonhealth.com",
        "--at",
        "2020-06-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let v = json_line(&o);
    assert!(
        v["interceptor"]
            .as_str()
            .unwrap_or("")
            .contains("mitmproxy"),
        "{v}"
    );
    // pinning babylonhealth.com to Amazon's root: the appended real root does not help
    let original = dir.join("appmattus_babylonhealth/mitmproxy-original-chain.pem");
    let o = env.run(&[
        "pins",
        "check",
        "babylonhealth.com",
        "--chain",
        original.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json_line(&o)["status"], "not_pinned");
    let orig = std::fs::read(&original).unwrap();
    let ders = certwatch_engine::model::split_chain(&orig).unwrap();
    let amazon = ders
        .iter()
        .map(|d| certwatch_engine::model::parse_cert(d).unwrap())
        .find(|c| c.subject_cn.as_deref() == Some("Amazon Root CA 1"))
        .unwrap();
    let o = env.run(&[
        "pins",
        "add",
        "babylonhealth.com",
        "--spki",
        &amazon.spki_sha256,
        "--expires",
        "2099-01-01",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = env.run(&[
        "pins",
        "check",
        "babylonhealth.com",
        "--chain",
        original.to_str().unwrap(),
        "--at",
        "2020-06-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(json_line(&o)["status"], "ok", "{}", stdout(&o));
    let o = env.run(&[
        "pins",
        "check",
        "babylonhealth.com",
        "--chain",
        attack.to_str().unwrap(),
        "--at",
        "2020-06-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(code(&o), 2);
    assert_eq!(json_line(&o)["status"], "violation");
    // the loopback capture, with mitmproxy's root installed locally: local + named
    let cap = dir.join("local_capture_2026-11-22");
    let chain = cap.join("intercepted_chain_seen_by_client.pem");
    let ca = cap.join("mitmproxy_ca_cert.pem");
    let o = env.run(&[
        "--local-roots",
        ca.to_str().unwrap(),
        "inspect",
        chain.to_str().unwrap(),
        "--host",
        "localhost",
        "--json",
    ]);
    let v = json_line(&o);
    assert_eq!(v["trust"], "local", "{v}");
    assert!(
        v["interceptor"]
            .as_str()
            .unwrap_or("")
            .contains("mitmproxy"),
        "{v}"
    );
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["code"] == "interceptor_known"));
}

// -------------------------------------------------------------------- CAA

use certwatch_tests::dns::start_dnsmasq;

#[test]
fn caa_on_ca_change_allow_forbid_none_and_parent() {
    let Some(dns) = start_dnsmasq(&[
        ("allow.test", "issue", "letsencrypt.org"),
        ("forbid.test", "issue", "digicert.com"),
        (
            "parent.test",
            "issue",
            "digicert.com; validationmethods=dns-01",
        ),
        ("wild.test", "issue", "letsencrypt.org"),
        ("wild.test", "issuewild", ";"),
    ]) else {
        eprintln!("skipped: dnsmasq is not installed (apt-get install dnsmasq-base)");
        return;
    };
    let env = Env::new();
    let old = Ca::root("Old Test Root", "Old Test CA Inc");
    let old_i = old.intermediate("Old Issuing CA", "Old Test CA Inc");
    let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
    let le_i = le.intermediate("R99", "Let's Encrypt");
    let third = Ca::root("DigiCert Test Root", "DigiCert Inc");
    let roots = env.write(
        "roots.pem",
        &(pem(&old.der) + &pem(&le.der) + &pem(&third.der)),
    );
    let r = roots.to_str().unwrap();
    let names = [
        "allow.test",
        "forbid.test",
        "none.test",
        "www.parent.test",
        "x.wild.test",
    ];
    let (leaf, key) = old_i.leaf(&names);
    let before = tls_server(vec![leaf, old_i.der.clone()], key);
    let mut new_names: Vec<&str> = names.to_vec();
    new_names.retain(|n| *n != "x.wild.test");
    new_names.push("*.wild.test");
    let (leaf, key) = le_i.leaf(&new_names);
    let after = tls_server(vec![leaf, le_i.der.clone()], key);
    let dns_arg = dns.addr.to_string();
    let check = |host: &str, addr: SocketAddr, extra: &[&str]| {
        let o = env.run(
            &[
                &[
                    "--roots",
                    r,
                    "check",
                    host,
                    "--connect",
                    &addr.to_string(),
                    "--json",
                    "--dns-server",
                    &dns_arg,
                ][..],
                extra,
            ]
            .concat(),
        );
        json_line(&o)
    };
    // (host, caa status, domain, severity at least)
    let cases = [
        ("allow.test", "allows", "allow.test"),
        ("forbid.test", "forbids", "forbid.test"),
        ("none.test", "none", ""),
        ("www.parent.test", "forbids", "parent.test"),
        ("x.wild.test", "forbids", "wild.test"),
    ];
    for (host, status, domain) in cases {
        let first = check(host, before, &[]);
        assert_eq!(first["severity"], "ok", "{host}: {first}");
        assert!(
            first.get("caa").is_none(),
            "no CAA on a first sighting: {first}"
        );
        let v = check(host, after, &[]);
        assert!(
            v["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["code"] == "ca_changed"),
            "{v}"
        );
        assert_eq!(v["caa"]["status"], status, "{host}: {v}");
        if !domain.is_empty() {
            assert_eq!(v["caa"]["domain"], domain, "{host}");
        }
        let want = format!("caa_{status}");
        assert!(
            v["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["code"] == want.as_str()),
            "{v}"
        );
        if status == "forbids" {
            assert_eq!(v["severity"], "critical", "{host}: {v}");
        }
        // once the user accepts the new CA there is no change, so no look-up
        let o = env.run(&["--roots", r, "accept", host]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let again = check(host, after, &[]);
        assert!(again.get("caa").is_none(), "{again}");
    }
    // switched off: no CAA evidence even on a change
    let (leaf, key) = third.leaf(&["allow.test"]);
    let third_srv = tls_server(vec![leaf], key);
    let v = check("allow.test", third_srv, &["--no-caa"]);
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "ca_changed"),
        "{v}"
    );
    assert!(v.get("caa").is_none(), "{v}");
}

#[test]
fn caa_dns_failure_is_not_evidence() {
    // A DNS server that never answers: the check still completes, without CAA.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let env = Env::new();
    let old = Ca::root("Old Test Root", "Old Test CA Inc");
    let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
    let roots = env.write("roots.pem", &(pem(&old.der) + &pem(&le.der)));
    let r = roots.to_str().unwrap();
    let (leaf, key) = old.leaf(&["quiet.test"]);
    let a = tls_server(vec![leaf], key);
    let (leaf, key) = le.leaf(&["quiet.test"]);
    let b = tls_server(vec![leaf], key);
    let run = |s: SocketAddr| {
        env.run(&[
            "--roots",
            r,
            "check",
            "quiet.test",
            "--connect",
            &s.to_string(),
            "--json",
            "--dns-server",
            &addr.to_string(),
        ])
    };
    assert_eq!(code(&run(a)), 0);
    let o = run(b);
    let v = json_line(&o);
    assert!(v.get("caa").is_none(), "{v}");
    assert!(stderr(&o).contains("CAA look-up"), "{}", stderr(&o));
    let _ = std::io::stderr().flush();
}

// ------------------------------------------------------- real mitmproxy

/// `mitmdump` from `$MITMDUMP`, else from PATH.
fn mitmdump_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MITMDUMP").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("mitmdump"))
            .find(|p| p.is_file())
    })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_mitmproxy_interception_is_named_and_critical() {
    let Some(mitmdump) = mitmdump_bin() else {
        eprintln!(
            "skipped: mitmdump not found (set MITMDUMP or put it on PATH; see notes/pins.md)"
        );
        return;
    };
    let env = Env::new();
    let root = Ca::root("Origin Test Root", "Origin Test CA");
    let inter = root.intermediate("Origin Issuing CA", "Origin Test CA");
    let (leaf, key) = inter.leaf(&["bank.test"]);
    let origin = tls_server(vec![leaf, inter.der.clone()], key);
    let roots = env.write("roots.pem", &pem(&root.der));
    let r = roots.to_str().unwrap();
    // history: the real site first
    let o = env.run(&[
        "--roots",
        r,
        "check",
        "bank.test",
        "--connect",
        &origin.to_string(),
        "--json",
        "--no-caa",
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // mitmproxy as a reverse proxy in front of it, on its own port
    let confdir = env.path("mitm");
    std::fs::create_dir_all(&confdir).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&mitmdump)
        .args([
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            &port.to_string(),
        ])
        .arg("--mode")
        .arg(format!("reverse:https://{origin}"))
        .args(["--set", "ssl_insecure=true", "--set"])
        .arg(format!("confdir={}", confdir.display()))
        .args(["-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut mitm = Killed(child);
    let ca_file = confdir.join("mitmproxy-ca-cert.pem");
    let deadline = Instant::now() + Duration::from_secs(120);
    let proxy: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    loop {
        if let Ok(Some(st)) = mitm.0.try_wait() {
            panic!("mitmdump exited early: {st}");
        }
        if ca_file.is_file() && std::net::TcpStream::connect(proxy).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mitmdump did not start within 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The proxy's root is not installed: untrusted, named, critical.
    let o = env.run(&[
        "--roots",
        r,
        "check",
        "bank.test",
        "--connect",
        &proxy.to_string(),
        "--json",
        "--no-caa",
    ]);
    let v = json_line(&o);
    assert_eq!(code(&o), 2, "{v}");
    assert_eq!(v["trust"], "untrusted", "{v}");
    assert!(
        v["interceptor"]
            .as_str()
            .unwrap_or("")
            .contains("mitmproxy"),
        "{v}"
    );
    // Installed as a local root (what a debugging user does): local, named, critical
    // because this site used a public CA before.
    let o = env.run(&[
        "--roots",
        r,
        "--local-roots",
        ca_file.to_str().unwrap(),
        "check",
        "bank.test",
        "--connect",
        &proxy.to_string(),
        "--json",
        "--no-caa",
    ]);
    let v = json_line(&o);
    assert_eq!(code(&o), 2, "{v}");
    assert_eq!(v["trust"], "local", "{v}");
    assert_eq!(v["severity"], "critical");
    assert!(
        v["interceptor"]
            .as_str()
            .unwrap_or("")
            .contains("mitmproxy"),
        "{v}"
    );
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["code"] == "interceptor_known"));
}
