//! CAA on a CA change, through the real `certwatch` binary against TLS
//! servers on 127.0.0.1 and a dnsmasq started here (skipped when dnsmasq
//! is not installed).

use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};

use certwatch_tests::dns::start_dnsmasq;
use certwatch_tests::{code, has_code, json_line, stderr, Ca, TestEnv, TlsServer};

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
    let old = Ca::root("Old Test Root", "Old Test CA Inc");
    let old_i = old.intermediate("Old Issuing CA", "Old Test CA Inc");
    let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
    let le_i = le.intermediate("R99", "Let's Encrypt");
    let third = Ca::root("DigiCert Test Root", "DigiCert Inc");
    let env = TestEnv::new().public_roots(&[&old, &le, &third]);
    let names = [
        "allow.test",
        "forbid.test",
        "none.test",
        "www.parent.test",
        "x.wild.test",
    ];
    let before_srv = TlsServer::start(&old_i.leaf(&names));
    let before = before_srv.addr;
    let mut new_names: Vec<&str> = names.to_vec();
    new_names.retain(|n| *n != "x.wild.test");
    new_names.push("*.wild.test");
    let after_srv = TlsServer::start(&le_i.leaf(&new_names));
    let after = after_srv.addr;
    let dns_arg = dns.addr.to_string();
    let check = |host: &str, addr: SocketAddr, extra: &[&str]| {
        let o = env.run(
            &[
                &[
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
        assert!(has_code(&v, "ca_changed"), "{v}");
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
        let o = env.run(&["accept", host]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let again = check(host, after, &[]);
        assert!(again.get("caa").is_none(), "{again}");
    }
    // switched off: no CAA evidence even on a change
    let third_srv = TlsServer::start(&third.leaf(&["allow.test"]));
    let v = check("allow.test", third_srv.addr, &["--no-caa"]);
    assert!(has_code(&v, "ca_changed"), "{v}");
    assert!(v.get("caa").is_none(), "{v}");
}

#[test]
fn caa_dns_failure_is_not_evidence() {
    // A DNS server that never answers: the check still completes, without CAA.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let old = Ca::root("Old Test Root", "Old Test CA Inc");
    let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
    let env = TestEnv::new().public_roots(&[&old, &le]);
    let a_srv = TlsServer::start(&old.leaf(&["quiet.test"]));
    let b_srv = TlsServer::start(&le.leaf(&["quiet.test"]));
    let (a, b) = (a_srv.addr, b_srv.addr);
    let run = |s: SocketAddr| {
        env.run(&[
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
