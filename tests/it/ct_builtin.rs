//! CT out of the box: a fresh install (no `ct update`, no `--log-list`)
//! judges the real chains in `../shared/data/chains/x509_limbo_online` with
//! the built-in Google list, and every front end says when the list in use
//! is over 70 days old, where an SCT from a log the list does not know
//! (`unknown_log`) never raises the severity.

use std::path::{Path, PathBuf};

use certwatch_engine::ct::sct::embedded_scts;
use certwatch_engine::model::{parse_cert, split_chain};
use certwatch_tests::ctlog::{list_json, logged_leaf, Make, TestLog};
use certwatch_tests::{code, has_code, json_line, stderr, stdout, Ca, TestEnv, TlsServer};
use serde_json::Value;

/// Google's signed list v80.14, dated 2026-01-02 (stale at any time this runs).
fn signed_list(d: &Path) -> PathBuf {
    d.join("ct_log_lists/google_log_list_v3_v80.14_2026-01-02.json")
}

fn rfc3339(t: i64) -> String {
    certwatch_engine::report::rfc3339(t)
}

/// Each limbo chain as (site, PEM leaf + intermediates, a time when it was
/// live: an hour after its newest SCT, since the limbo validation time can
/// precede the SCTs).
/// (site, PEM, when it was live).
type LimboChain = (String, String, i64);

fn limbo_chains(dir: &Path) -> Vec<LimboChain> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.to_string_lossy().ends_with(".limbo.json"));
    files.sort();
    files
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let mut pem = v["peer_certificate"].as_str().unwrap().to_string();
            for i in v["untrusted_intermediates"].as_array().unwrap() {
                pem.push('\n');
                pem.push_str(i.as_str().unwrap());
            }
            let leaf = parse_cert(&split_chain(pem.as_bytes()).unwrap()[0]).unwrap();
            let newest = embedded_scts(&leaf.tbs_der)
                .unwrap()
                .iter()
                .map(|s| (s.timestamp_ms / 1000) as i64)
                .max()
                .unwrap_or(leaf.not_before);
            let site = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".limbo.json", "");
            (site, pem, newest + 3600)
        })
        .collect()
}

/// `../shared/data` and its limbo chains, or None (skipped, with the reason).
fn limbo_data() -> Option<(PathBuf, Vec<LimboChain>)> {
    let Some(d) = certwatch_tests::shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return None;
    };
    let dir = d.join("chains/x509_limbo_online");
    let chains = limbo_chains(&dir);
    if chains.is_empty() {
        eprintln!("skipped: {} is absent or empty", dir.display());
        return None;
    }
    Some((d, chains))
}

#[test]
fn fresh_install_judges_the_real_chains_with_the_builtin_list() {
    let Some((_, chains)) = limbo_data() else {
        return;
    };
    // No --roots: the built-in roots, so the built-in list applies.
    let env = TestEnv::new();
    assert!(chains.len() >= 10, "{} chains", chains.len());
    let mut in_2026 = 0;
    for (site, pem, at) in &chains {
        let file = env.write(&format!("{site}.pem"), pem);
        let at = rfc3339(*at);
        let out = env.run(&["inspect", file.to_str().unwrap(), "--at", &at, "--json"]);
        let v = json_line(&out);
        let st: Vec<&str> = v["sct"]
            .as_array()
            .unwrap_or_else(|| panic!("{site}: no CT evidence: {v}"))
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        assert!(!st.is_empty(), "{site}: no SCTs");
        assert!(st.iter().all(|s| *s == "valid"), "{site} at {at}: {st:?}");
        assert_eq!(v["ct_policy"]["status"], "compliant", "{site} at {at}: {v}");
        assert!(has_code(&v, "ct_compliant"), "{site}: {v}");
        assert_eq!(v["trust"], "public", "{site}: {v}");
        assert_eq!(v["ct_list_date"], "2026-08-21T00:00:00Z", "{site}");
        assert_eq!(v["ct_list_stale"], false, "{site} at {at}");
        if at.starts_with("2026") {
            in_2026 += 1;
        }
        println!("{site} at {at}: {}", v["ct_policy"]["reason"]);
    }
    assert!(in_2026 >= 10, "{in_2026} chains from 2026");
    // Nothing was downloaded or cached.
    assert!(!env.home().join("ct/log_list.json").exists());

    // `ct show` names the built-in list and its date.
    let out = env.run(&["ct", "show", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json_line(&out);
    assert!(
        v["sources"][0].as_str().unwrap().starts_with("built-in"),
        "{v}"
    );
    assert_eq!(v["date"], "2026-08-21T00:00:00Z");
    assert_eq!(v["logs"].as_array().unwrap().len(), 117);
}

#[test]
fn stale_list_is_reported_by_inspect_check_and_ct_show() {
    let Some((d, chains)) = limbo_data() else {
        return;
    };
    let (site, pem, _) = &chains[0];
    let env = TestEnv::new();
    let file = env.write("chain.pem", pem);
    let file = file.to_str().unwrap();
    // The built-in list (2026-08-21) judged 41 days later is current; 86
    // days later it is stale, in JSON and in words.
    let v = json_line(&env.run(&["inspect", file, "--at", "2026-10-01T00:00:00Z", "--json"]));
    assert_eq!(v["ct_list_stale"], false, "{site}: {v}");
    let v = json_line(&env.run(&["inspect", file, "--at", "2026-11-15T00:00:00Z", "--json"]));
    assert_eq!(v["ct_list_stale"], true, "{site}: {v}");
    assert_eq!(v["ct_list_date"], "2026-08-21T00:00:00Z");
    let out = env.run(&["inspect", file, "--at", "2026-11-15T00:00:00Z"]);
    let text = stdout(&out);
    assert!(
        text.contains("note: the CT log list is from 2026-08-21 (86 days old, over 70)"),
        "{text}"
    );
    let out = env.run(&["inspect", file, "--at", "2026-10-01T00:00:00Z"]);
    assert!(!stdout(&out).contains("CT log list"), "{}", stdout(&out));

    // A configured list dated 2026-01-02: `ct show` says it is stale.
    let list = signed_list(&d);
    let out = env.run(&["--log-list", list.to_str().unwrap(), "ct", "show"]);
    let text = stdout(&out);
    assert!(
        text.contains("dated 2026-01-02")
            && text.contains("note: the CT log list is from 2026-01-02"),
        "{text}"
    );
    let v = json_line(&env.run(&["--log-list", list.to_str().unwrap(), "ct", "show", "--json"]));
    assert_eq!(v["stale"], true, "{v}");
    assert_eq!(v["date"], "2026-01-02T12:57:01Z");
}

/// With a stale list a public certificate whose SCTs come from a log the
/// list does not know is `unknown_log`: reported, never a warning, and a CA
/// change to it is not critical; `check` says the list is stale.
#[test]
fn unknown_log_with_a_stale_list_never_raises_severity() {
    let root_a = Ca::root("Stale Root A", "Stale A");
    let root_b = Ca::root("Stale Root B", "Stale B");
    let (ca_a, ca_b) = (
        root_a.intermediate("Stale CA A", "Stale A"),
        root_b.intermediate("Stale CA B", "Stale B"),
    );
    let (known, unknown) = (TestLog::new(), TestLog::new());
    let env = TestEnv::new().public_roots(&[&root_a, &root_b]);
    let json = list_json(&[(&known, "Op K")]).replacen(
        r#"{"version":"1","#,
        r#"{"version":"1","log_list_timestamp":"2026-01-02T00:00:00Z","#,
        1,
    );
    let list = env.write("stale_list.json", &json);
    let list = list.to_str().unwrap();
    let server = TlsServer::start(&logged_leaf(
        &ca_a,
        &["localhost"],
        &[&known, &unknown],
        Make::default(),
    ));
    let site = format!("localhost:{}", server.port());
    let (c, v) = env.check_json(&site, &["--log-list", list, "--no-caa"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["ct_list_stale"], true, "{v}");
    assert_eq!(v["ct_list_date"], "2026-01-02T00:00:00Z");
    let st: Vec<&str> = v["sct"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["valid", "unknown_log"], "{v}");
    let ct = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "ct_not_compliant")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(ct["severity"], "info", "{v}");
    // The human output carries the note.
    let out = env.run(&["check", &site, "--log-list", list, "--no-caa", "--no-store"]);
    assert!(
        stdout(&out).contains("note: the CT log list is from 2026-01-02"),
        "{}",
        stdout(&out)
    );
    // A CA change to a certificate with only unknown-log SCTs: a warning, not critical.
    server.swap(&logged_leaf(
        &ca_b,
        &["localhost"],
        &[&unknown],
        Make::default(),
    ));
    let (c, v) = env.check_json(&site, &["--log-list", list, "--no-caa"]);
    assert!(has_code(&v, "ca_changed"), "{v}");
    assert_eq!(v["severity"], "warning", "{v}");
    assert_eq!(c, 1, "{v}");
}

/// The daemon refreshes the signed list (here from a local HTTPS server
/// serving Google's real signed v80.14 list): a bad list is refused and
/// logged, the daemon carries on; a good one is installed and judged with
/// at once (the test roots replace the built-in ones, so no CT evidence was
/// in use before).
#[test]
fn daemon_refreshes_the_signed_list_and_survives_failures() {
    let Some(d) = certwatch_tests::shared_data() else {
        eprintln!("skipped: ../shared/data is absent");
        return;
    };
    let dir = d.join("ct_log_lists");
    let json = std::fs::read(signed_list(&d)).unwrap();
    let sig = std::fs::read(dir.join("google_log_list_v3_v80.14_2026-01-02.sig")).unwrap();
    let mut tampered = json.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 1;
    let root = Ca::root("Refresh Root", "Refresh Org");
    let addr = crate::ct::https_server(
        &root.leaf(&["localhost"]),
        vec![
            ("/good/log_list.json", 200, json.clone()),
            ("/good/log_list.sig", 200, sig.clone()),
            ("/bad/log_list.json", 200, tampered),
            ("/bad/log_list.sig", 200, sig),
        ],
    );
    let site_root = Ca::root("Refresh Site Root", "Refresh Site");
    let site_ca = site_root.intermediate("Refresh Site CA", "Refresh Site");
    let server = TlsServer::start(&site_ca.leaf(&["localhost"]));
    let env = TestEnv::new().public_roots(&[&root, &site_root]);
    let empty = env.write("no-local-roots.pem", "");
    let config = |path: &str| {
        std::fs::create_dir_all(env.home()).unwrap();
        std::fs::write(
            env.home().join("config.toml"),
            format!(
                "roots = {:?}\nlocal_roots = {:?}\ncaa = false\nnotifications = false\nccadb_refresh = false\nct_list_url = \"https://localhost:{}{path}\"\n",
                env.roots.as_ref().unwrap().display().to_string(),
                empty.display().to_string(),
                addr.port()
            ),
        )
        .unwrap();
    };
    let cached = env.home().join("ct/log_list.json");
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let t0 = std::time::Instant::now();
        while !f() {
            assert!(t0.elapsed().as_secs() < 30, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    let check = || {
        crate::daemon::request(
            &env,
            serde_json::json!({"type": "check", "host": "localhost", "port": server.port()}),
        )
    };

    // A list whose signature fails: logged, nothing installed, the daemon serves.
    config("/bad/log_list.json");
    let daemon = crate::daemon::start_daemon(&env, None);
    let log = |d: &crate::daemon::Daemon| std::fs::read_to_string(&d.stderr).unwrap_or_default();
    wait_for("the refusal in the log", &|| {
        log(&daemon).contains("refresh failed")
    });
    assert!(log(&daemon).contains("signature"), "{}", log(&daemon));
    assert!(!cached.exists());
    let r = check();
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["result"]["ct_policy"].is_null(), "{r}");
    drop(daemon);

    // The real signed list: installed, and the next check is judged with it.
    config("/good/log_list.json");
    let daemon = crate::daemon::start_daemon(&env, None);
    wait_for("the installed list", &|| {
        log(&daemon).contains("CT log list refreshed")
    });
    assert_eq!(std::fs::read(&cached).unwrap(), json);
    let r = check();
    assert_eq!(r["result"]["ct_list_date"], "2026-01-02T12:57:01Z", "{r}");
    assert_eq!(r["result"]["ct_list_stale"], true, "{r}");
    assert_eq!(r["result"]["ct_policy"]["status"], "not_compliant", "{r}");
    drop(daemon);

    // `ct_refresh = false`: no request, the cache is left as it is.
    std::fs::remove_file(&cached).unwrap();
    let text = std::fs::read_to_string(env.home().join("config.toml")).unwrap();
    std::fs::write(
        env.home().join("config.toml"),
        format!("{text}ct_refresh = false\n"),
    )
    .unwrap();
    let daemon = crate::daemon::start_daemon(&env, None);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!cached.exists());
    assert!(!log(&daemon).contains("CT log list"), "{}", log(&daemon));
}
