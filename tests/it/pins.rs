//! Pins, driving the real `certwatch` binary against rcgen PKIs, TLS
//! servers on 127.0.0.1 (tests/support), and (when present) the real data
//! in ../shared/data. Interceptor naming is in `interceptor.rs`, CAA in
//! `caa.rs`.

use std::path::Path;

use certwatch_tests::{
    code, json_line, shared_data, spki_b64, stderr, stdout, Ca, Leaf, TestEnv, TlsServer,
};
use serde_json::Value;

/// A public root, an issuing CA, and an interceptor's local root.
pub(crate) struct Pki {
    pub(crate) root: Ca,
    inter: Ca,
    evil: Ca,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let root = Ca::root("Pin Test Root", "Pin Test Org");
        let inter = root.intermediate("Pin Test Issuing CA", "Pin Test Org");
        let evil = Ca::root("mitmproxy", "mitmproxy");
        Pki { root, inter, evil }
    }

    /// An environment with the public root and the interceptor's local root.
    fn env(&self) -> TestEnv {
        TestEnv::new()
            .public_roots(&[&self.root])
            .local(&[&self.evil])
    }

    /// A leaf for `host` from the issuing CA, with the intermediate.
    pub(crate) fn good_chain(&self, host: &str) -> Leaf {
        self.inter.leaf(&[host])
    }

    /// A leaf for `host` from the interceptor's root.
    fn evil_chain(&self, host: &str) -> Leaf {
        self.evil.leaf(&[host])
    }
}

#[test]
fn pins_check_offline_table() {
    let pki = Pki::new();
    let env = pki.env();
    let file = env.write(
        "pins.toml",
        &format!(
            "[[pinset]]\nname = \"site\"\nexpires = 2099-01-01\npins = [{{ label = \"Pin Test Root\", spki = \"sha256/{}\" }}]\n\n[[entry]]\nhost = \"site.test\"\ninclude_subdomains = true\npinset = \"site\"\n",
            spki_b64(&pki.root.der)
        ),
    );
    let o = env.run(&["pins", "import", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let good = env.write("good.pem", &pki.good_chain("www.site.test").pem());
    let evil = env.write("evil.pem", &pki.evil_chain("www.site.test").pem());
    // (host, chain, exit, status)
    let cases = [
        ("www.site.test", &good, 0, "ok"),
        ("site.test", &good, 0, "ok"),
        ("www.site.test", &evil, 2, "violation"),
        ("other.test", &evil, 0, "not_pinned"),
    ];
    for (host, chain, exit, status) in cases {
        let o = env.run(&[
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
    let env = TestEnv::new();
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
    let env = TestEnv::new();
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
    let pki = Pki::new();
    let env = pki.env();
    let good_srv = TlsServer::start(&pki.good_chain("shop.test"));
    let evil_srv = TlsServer::start(&pki.evil_chain("shop.test"));
    let (good, evil) = (good_srv.addr, evil_srv.addr);
    let run = |args: &[&str]| env.run(args);
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

// ------------------------------------------------------------ shared data

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
    let env = TestEnv::new();
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
        let Some((chain, at)) = certwatch_tests::limbo_chain(&data, site) else {
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
        let env2 = TestEnv::new();
        let o = env2.run(&["pins", "import-chromium", raw.to_str().unwrap()]);
        assert_eq!(code(&o), 3);
        assert!(stderr(&o).contains("--pins"), "{}", stderr(&o));
    }
    // the 2016 .pins file resolves names (the 2016 extract is already resolved)
    let pins16 = data.join("pins/chromium_2016/transport_security_state_static_2016.pins");
    let json16 = data.join("pins/chromium_2016/chromium_pins_2016_extract.json");
    if pins16.is_file() && json16.is_file() {
        let env3 = TestEnv::new();
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
    let env = TestEnv::new();
    for (host, site) in [
        ("accounts.google.com", "google.com"),
        ("google.com", "google.com"),
        ("www.facebook.com", "facebook.com"),
    ] {
        let Some((chain, at)) = certwatch_tests::limbo_chain(&data, site) else {
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
