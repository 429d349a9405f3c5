//! The daemon's CT watch, end to end: `certwatch watch add DOMAIN --ct`,
//! the real `certwatchd` polling a crt.sh-compatible server on 127.0.0.1,
//! `ct_unfamiliar_issuer` alerts through the usual alert path (stored, the
//! hook), a daemon killed and restarted in the middle (no repeated alert,
//! no lost issuance), and a first contact with a watched site judged
//! against the operators its CT issuances showed.

use serde_json::Value;

use crate::daemon::{alerts_json, poll, start_daemon, write_config};
use certwatch_tests::ctsearch::{crtsh_server, SearchWorld};
use certwatch_tests::dns::start_dnsmasq;
use certwatch_tests::{
    ccadb_csv, code, has_code, stderr, stdout, Ca, Disclosure, TestEnv, TlsServer,
};

fn ct_watch(e: &TestEnv, domain: &str) -> Option<Value> {
    stdout(&e.run(&["watch", "list", "--json"]))
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["ct_domain"] == domain)
}

fn polls(e: &TestEnv, domain: &str) -> i64 {
    ct_watch(e, domain)
        .and_then(|v| v["polls"].as_i64())
        .unwrap_or(0)
}

fn ct_alerts(e: &TestEnv) -> Vec<Value> {
    alerts_json(e)
        .into_iter()
        .filter(|a| a["title"].as_str().unwrap_or("").contains("(CT)"))
        .collect()
}

#[test]
fn ct_watch_alerts_once_across_restarts_and_seeds_first_contact() {
    let root = Ca::root("Good Root", "Good Corp");
    let good = root.intermediate("Good CA 1", "Good Corp");
    let rogue_root = Ca::root("Rogue Root", "Rogue Ltd");
    let rogue = rogue_root.intermediate("Good CA 1", "Good Corp");
    let e = TestEnv::new().public_roots(&[&root, &rogue_root]);
    let good_srv =
        TlsServer::start(&good.leaf(&["www.example.test", "a.shop.test", "b.shop.test"]));
    let rogue_srv = TlsServer::start(&rogue.leaf(&["c.shop.test"]));
    let via = |s: &TlsServer| format!("127.0.0.1:{}", s.port());
    let (c, v) = e.check_json("www.example.test", &["--connect", &via(&good_srv)]);
    assert_eq!(c, 0, "{v}");

    let search = SearchWorld::new();
    search.issue(&good, 1, &["www.example.test"], 90, true);
    search.issue(&good, 1, &["a.shop.test"], 90, true);
    let (url, _) = crtsh_server(search.clone());
    let hook_out = e.path("hook.jsonl");
    let hook = e.write(
        "hook.sh",
        &format!(
            "#!/bin/sh\ncat >> {}\necho >> {}\n",
            hook_out.display(),
            hook_out.display()
        ),
    );
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .unwrap();
    write_config(
        &e,
        &format!(
            "notifications = false\nhook = [{:?}]\nct_search_url = {url:?}\nct_watch_every = \"1s\"\n",
            hook.display().to_string()
        ),
    );
    for d in ["example.test", "shop.test"] {
        let out = e.run(&[
            "watch",
            "add",
            d,
            "--ct",
            "--include-subdomains",
            "--every",
            "1d",
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stdout(&out).contains("watching CT for"), "{}", stdout(&out));
    }

    let d = start_daemon(&e, None);
    poll("two CT polls of example.test", 60, || {
        (polls(&e, "example.test") >= 2).then_some(())
    });
    assert!(
        ct_alerts(&e).is_empty(),
        "the site's own CA: no alert {:?}",
        ct_alerts(&e)
    );

    // A certificate from a CA that copies Good CA 1's names: one alert.
    search.issue(&rogue, 2, &["login.example.test"], 90, true);
    let alerts = poll("the CT alert", 60, || {
        let a = ct_alerts(&e);
        (!a.is_empty()).then_some(a)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["site"], "example.test");
    assert_eq!(alerts[0]["severity"], "warning");
    let json = &alerts[0]["verdict"];
    assert_eq!(json["code"], "ct_unfamiliar_issuer", "{json}");
    assert_eq!(json["issuance"]["names"][0], "login.example.test");
    poll("the hook", 20, || {
        std::fs::read_to_string(&hook_out)
            .ok()
            .filter(|t| t.contains("ct_unfamiliar_issuer"))
    });

    // Killed and restarted: polls go on, the alert is not repeated.
    drop(d);
    let before = polls(&e, "example.test");
    let d = start_daemon(&e, None);
    poll("polls after the restart", 60, || {
        (polls(&e, "example.test") >= before + 2).then_some(())
    });
    assert_eq!(
        ct_alerts(&e).len(),
        1,
        "no repeated alert: {:?}",
        ct_alerts(&e)
    );

    // An issuance while the daemon is down is not lost.
    drop(d);
    search.issue(&rogue, 2, &["pay.example.test"], 90, false);
    let _d = start_daemon(&e, None);
    let alerts = poll("the second CT alert", 60, || {
        let a = ct_alerts(&e);
        (a.len() >= 2).then_some(a)
    });
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.iter().any(|a| a["title"]
            .as_str()
            .unwrap_or("")
            .contains("pay.example.test")),
        "{alerts:?}"
    );

    // shop.test had no history: its first poll seeded Good Corp's CA
    // (no alert), recorded in the audit log.
    assert!(ct_alerts(&e).iter().all(|a| a["site"] != "shop.test"));
    let log = stdout(&e.run(&["log"]));
    assert!(log.contains("ct_seed"), "{log}");
    // A first contact from the seeded CA is familiar...
    let (c, v) = e.check_json("b.shop.test", &["--connect", &via(&good_srv)]);
    assert_eq!(c, 0, "{v}");
    assert!(has_code(&v, "first_seen_ct_familiar"), "{v}");
    // ...one from a CA the watch never saw is a warning, not a mere first sighting.
    let (c, v) = e.check_json("c.shop.test", &["--connect", &via(&rogue_srv)]);
    assert_eq!(c, 1, "{v}");
    assert!(has_code(&v, "first_seen_ct_unfamiliar"), "{v}");
}

#[test]
fn ct_alert_is_critical_when_caa_forbids_the_ca() {
    let Some(dns) = start_dnsmasq(&[("example.test", "issue", "letsencrypt.org")]) else {
        eprintln!("skipped: dnsmasq is not installed (apt-get install dnsmasq-base)");
        return;
    };
    let le = Ca::root("ISRG Test Root", "Internet Security Research Group");
    let le_i = le.intermediate("R99", "Let's Encrypt");
    let dg = Ca::root("DigiCert Test Root", "DigiCert Inc");
    let dg_i = dg.intermediate("DigiCert Test CA", "DigiCert Inc");
    let e = TestEnv::new().public_roots(&[&le, &dg]);
    let csv = e.ccadb(&ccadb_csv(
        &[
            Disclosure::root(&le, "Internet Security Research Group"),
            Disclosure::intermediate(&le_i, "Internet Security Research Group"),
            Disclosure::root(&dg, "DigiCert"),
            Disclosure::intermediate(&dg_i, "DigiCert"),
        ],
        "2026-11-01",
    ));
    let srv = TlsServer::start(&le_i.leaf(&["www.example.test"]));
    let (c, v) = e.check_json(
        "www.example.test",
        &["--connect", &format!("127.0.0.1:{}", srv.port())],
    );
    assert_eq!(c, 0, "{v}");
    // The DigiCert intermediate is known by key from another site the user
    // visited, so CT's certificate is established as its issuance (the
    // check that the CAA match is by key, not by the certificate's names).
    let other = TlsServer::start(&dg_i.leaf(&["news.other.test"]));
    let (c, v) = e.check_json(
        "news.other.test",
        &["--connect", &format!("127.0.0.1:{}", other.port())],
    );
    assert_eq!(c, 0, "{v}");
    let search = SearchWorld::new();
    search.issue(&le_i, 1, &["www.example.test"], 90, true);
    search.issue(&dg_i, 2, &["login.example.test"], 90, true);
    let (url, _) = crtsh_server(search.clone());
    let empty = e.write("no-local-roots.pem", "");
    std::fs::create_dir_all(e.home()).unwrap();
    std::fs::write(
        e.home().join("config.toml"),
        format!(
            "roots = {:?}\nlocal_roots = {:?}\nccadb = {:?}\ncaa = true\ndns_server = \"{}\"\n\
             notifications = false\nct_refresh = false\nccadb_refresh = false\n\
             ct_search_url = {url:?}\nct_watch_every = \"1s\"\n",
            e.roots.as_ref().unwrap().display().to_string(),
            empty.display().to_string(),
            csv.display().to_string(),
            dns.addr,
        ),
    )
    .unwrap();
    let out = e.run(&[
        "watch",
        "add",
        "example.test",
        "--ct",
        "--include-subdomains",
        "--every",
        "1d",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let _d = start_daemon(&e, None);
    let alerts = poll("the CT alert", 60, || {
        let a = ct_alerts(&e);
        (!a.is_empty()).then_some(a)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["severity"], "critical", "{alerts:?}");
    let v = &alerts[0]["verdict"];
    assert_eq!(v["issuance"]["operator"], "DigiCert", "{v}");
    assert!(
        v["caa_forbids"]
            .as_str()
            .unwrap_or("")
            .contains("letsencrypt.org"),
        "{v}"
    );
    assert!(alerts[0]["body"]
        .as_str()
        .unwrap_or("")
        .contains("may not issue"));
}
