//! Privacy: in the default configuration a check contacts only the site
//! being checked. Every outbound connect(2) is recorded with strace.

use certwatch_tests::{Ca, TestEnv, TlsServer};

#[test]
fn check_contacts_only_the_site() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let root = Ca::root("Privacy Root", "Privacy");
    let srv = TlsServer::start(&root.intermediate("P CA", "Privacy").leaf(&["localhost"]));
    let e = TestEnv::new().public_roots(&[&root]);
    let trace = e.dir.path().join("trace.txt");
    let bin = certwatch_tests::bin("certwatch");
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .arg(&bin);
    // Same environment as TestEnv::cmd, but under strace.
    cmd.env("CERTWATCH_HOME", e.home()).env("NO_COLOR", "1");
    for v in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env_remove(v);
    }
    let empty = e.dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    cmd.arg("--roots")
        .arg(e.roots.as_ref().unwrap())
        .arg("--local-roots")
        .arg(&empty);
    cmd.args(["check", &format!("localhost:{}", srv.port())]);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let log = std::fs::read_to_string(&trace).unwrap();
    let inet: Vec<&str> = log.lines().filter(|l| l.contains("AF_INET")).collect();
    assert!(!inet.is_empty(), "no connect seen: {log}");
    let port = format!("sin_port=htons({})", srv.port());
    let port6 = format!("sin6_port=htons({})", srv.port());
    for l in &inet {
        let to_site = (l.contains(&port) && l.contains("127.0.0.1"))
            || (l.contains(&port6) && l.contains("::1"));
        assert!(to_site, "unexpected outbound connection: {l}");
    }
}
