//! Interceptors: accepting a corporate inspection root per network, the
//! mitmproxy chains in ../shared/data (when present), and a real
//! `mitmdump` in front of a TLS server (when installed), all through the
//! real `certwatch` binary.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certwatch_tests::{
    code, has_code, json_line, shared_data, spki_b64, stderr, stdout, Ca, TestEnv, TlsServer,
};

use crate::pins::Pki;

/// `certwatch check bank.test --connect ADDR --json --no-caa`.
fn check_bank(env: &TestEnv, addr: SocketAddr) -> std::process::Output {
    env.run(&[
        "check",
        "bank.test",
        "--connect",
        &addr.to_string(),
        "--json",
        "--no-caa",
    ])
}

/// Whether a JSON verdict names mitmproxy as the interceptor.
fn named_mitmproxy(v: &serde_json::Value) -> bool {
    v["interceptor"]
        .as_str()
        .unwrap_or("")
        .contains("mitmproxy")
}

#[test]
fn accept_interceptor_lowers_only_that_root() {
    let pki = Pki::new();
    let corp = Ca::root("ACME Corp Inspection CA", "ACME Corp");
    let other = Ca::root("Unknown Root", "Nobody");
    let env = TestEnv::new()
        .public_roots(&[&pki.root])
        .local(&[&corp, &other]);
    // history: the site was public before
    let public_srv = TlsServer::start(&pki.good_chain("bank.test"));
    let proxied_srv = TlsServer::start(&corp.leaf(&["bank.test"]));
    let rogue_srv = TlsServer::start(&other.leaf(&["bank.test"]));
    let (public, proxied, rogue) = (public_srv.addr, proxied_srv.addr, rogue_srv.addr);
    let check = |addr: SocketAddr| json_line(&check_bank(&env, addr));
    assert_eq!(check(public)["severity"], "ok");
    assert_eq!(check(proxied)["severity"], "critical");
    // accept by certificate SHA-256 (hex), resolved through --local-roots
    let hex = certwatch_engine::model::sha256_hex(&corp.der);
    let o = env.run(&["accept-interceptor", &hex, "--network", "office"]);
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
    let o = env.run(&["accept-interceptor", &"ab".repeat(32), "--network", "x"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("SPKI"), "{}", stderr(&o));
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
    let mut env = TestEnv::new();
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
    assert!(named_mitmproxy(&v), "{v}");
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
    env.local_roots = Some(ca);
    let o = env.run(&[
        "inspect",
        chain.to_str().unwrap(),
        "--host",
        "localhost",
        "--json",
    ]);
    let v = json_line(&o);
    assert_eq!(v["trust"], "local", "{v}");
    assert!(named_mitmproxy(&v), "{v}");
    assert!(has_code(&v, "interceptor_known"));
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
    let root = Ca::root("Origin Test Root", "Origin Test CA");
    let inter = root.intermediate("Origin Issuing CA", "Origin Test CA");
    let origin_srv = TlsServer::start(&inter.leaf(&["bank.test"]));
    let origin = origin_srv.addr;
    let mut env = TestEnv::new().public_roots(&[&root]);
    // history: the real site first
    let o = check_bank(&env, origin);
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
    let o = check_bank(&env, proxy);
    let v = json_line(&o);
    assert_eq!(code(&o), 2, "{v}");
    assert_eq!(v["trust"], "untrusted", "{v}");
    assert!(named_mitmproxy(&v), "{v}");
    // Installed as a local root (what a debugging user does): local, named, critical
    // because this site used a public CA before.
    env.local_roots = Some(ca_file.clone());
    let o = check_bank(&env, proxy);
    let v = json_line(&o);
    assert_eq!(code(&o), 2, "{v}");
    assert_eq!(v["trust"], "local", "{v}");
    assert_eq!(v["severity"], "critical");
    assert!(named_mitmproxy(&v), "{v}");
    assert!(has_code(&v, "interceptor_known"));
}
