//! `certwatch ct issuances` and `ct authorize`, the real binary against a
//! crt.sh-compatible search and a certspotter-API server on 127.0.0.1 over
//! certificates made at test time: familiarity decided by keys and CCADB
//! operators (a CA copying another CA's names is not that CA), a
//! precertificate and its certificate as one issuance, the exit codes, and
//! every way the service can fail, each a one-line error.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use certwatch_tests::ctsearch::{certspotter_server, crtsh_server, SearchWorld};
use certwatch_tests::{
    ccadb_csv, code, json_line, pem, raw_server, stderr, stdout, Ca, Disclosure, TestEnv, TlsServer,
};
use serde_json::Value;

struct World {
    e: TestEnv,
    root: Ca,
    good: Ca,
    good2: Ca,
    rogue: Ca,
    search: std::sync::Arc<SearchWorld>,
    _srv: TlsServer,
}

/// A site with history (www.example.test, by Good CA 1 under Good Root,
/// operated by Good Corp in CCADB) and a rogue CA that copies Good CA 1's
/// names under another root.
fn world() -> World {
    let root = Ca::root("Good Root", "Good Corp");
    let good = root.intermediate("Good CA 1", "Good Corp");
    let good2 = root.intermediate("Good CA 2", "Good Corp");
    let rogue_root = Ca::root("Rogue Root", "Rogue Ltd");
    let rogue = rogue_root.intermediate("Good CA 1", "Good Corp");
    let e = TestEnv::new().public_roots(&[&root, &rogue_root]);
    e.ccadb(&ccadb_csv(
        &[
            Disclosure::root(&root, "Good Corp"),
            Disclosure::intermediate(&good, "Good Corp"),
            Disclosure::intermediate(&good2, "Good Corp"),
            Disclosure::root(&rogue_root, "Rogue Ltd"),
            Disclosure::intermediate(&rogue, "Rogue Ltd"),
        ],
        "2026-11-01",
    ));
    let srv = TlsServer::start(&good.leaf(&["www.example.test"]));
    let connect = format!("127.0.0.1:{}", srv.port());
    let (c, v) = e.check_json("www.example.test", &["--connect", &connect]);
    assert_eq!(c, 0, "{v}");
    World {
        e,
        root,
        good,
        good2,
        rogue,
        search: SearchWorld::new(),
        _srv: srv,
    }
}

fn issuances(e: &TestEnv, url: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "ct",
        "issuances",
        "example.test",
        "--search-url",
        url,
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = e.run(&args);
    (code(&out), json_line(&out))
}

fn by_name<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["issuances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["names"].as_array().unwrap().iter().any(|n| n == name))
        .unwrap_or_else(|| panic!("no issuance for {name}: {v}"))
}

#[test]
fn crtsh_issuances_are_judged_by_key_and_merged() {
    let w = world();
    let (fin, pre) = w.search.issue(&w.good, 1, &["www.example.test"], 90, true);
    w.search
        .issue(&w.rogue, 2, &["login.example.test"], 90, true);
    w.search.issue(&w.good, 1, &["old.example.test"], 2, true);
    let _ = &w.root;
    let (url, _) = crtsh_server(w.search.clone());

    let (c, v) = issuances(&w.e, &url, &["--include-subdomains"]);
    assert_eq!(c, 1, "an unexpired issuance from an unfamiliar CA: {v}");
    assert_eq!(v["issuances"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["unfamiliar"], 1);
    let good = by_name(&v, "www.example.test");
    let sha = |d: &[u8]| certwatch_engine::model::parse_cert(d).unwrap().sha256;
    assert_eq!(good["sha256"], sha(&fin), "the final certificate's SHA-256");
    assert_eq!(
        good["precert_sha256"],
        sha(&pre),
        "its precertificate, merged"
    );
    assert_eq!(good["familiar"], true);
    assert_eq!(good["familiar_by"], "history");
    assert_eq!(good["issuer"]["key"], "verified");
    assert_eq!(good["operator"], "Good Corp");
    let rogue = by_name(&v, "login.example.test");
    assert_eq!(
        rogue["familiar"], false,
        "the same names under another key: {rogue}"
    );
    assert_eq!(rogue["familiar_by"], Value::Null);

    // Only the domain itself: none of these names.
    let (c, v) = issuances(&w.e, &url, &[]);
    assert_eq!((c, v["issuances"].as_array().unwrap().len()), (0, 0), "{v}");

    // The text form names the unfamiliar issuance, escaped.
    let out = w.e.run(&[
        "ct",
        "issuances",
        "example.test",
        "--include-subdomains",
        "--search-url",
        &url,
    ]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("UNFAMILIAR"), "{}", stdout(&out));

    // Authorized by its PEM: familiar, exit 0, recorded in the audit log.
    let rogue_sha = rogue["sha256"].as_str().unwrap().to_string();
    let logged = w.search.logged.lock().unwrap().clone();
    let rogue_der = logged
        .iter()
        .find(|l| l.names[0] == "login.example.test" && !l.precert)
        .unwrap()
        .der
        .clone();
    let file = w.e.write("rogue.pem", &pem(&rogue_der));
    let out = w.e.run(&["ct", "authorize", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(&rogue_sha), "{}", stdout(&out));
    let (c, v) = issuances(&w.e, &url, &["--include-subdomains"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        by_name(&v, "login.example.test")["familiar_by"],
        "authorized"
    );
    let log = stdout(&w.e.run(&["log"]));
    assert!(
        log.contains("ct_authorize") && log.contains(&rogue_sha),
        "{log}"
    );

    // Another crt.sh-compatible service numbers its certificates the same
    // way: its ids never reuse the first service's downloads.
    let other = SearchWorld::new();
    let (fin2, _) = other.issue(&w.good2, 3, &["www.example.test"], 90, true);
    let (url2, _) = crtsh_server(other.clone());
    let (_, v) = issuances(&w.e, &url2, &["--include-subdomains"]);
    assert_eq!(by_name(&v, "www.example.test")["sha256"], sha(&fin2), "{v}");

    // Not a certificate, not a hash: a clear error.
    let out = w.e.run(&["ct", "authorize", "nonsense"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("neither a SHA-256"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn certspotter_issuances_use_the_claimed_key_through_ccadb() {
    let w = world();
    w.search.issue(&w.good, 1, &["www.example.test"], 90, true);
    // A new intermediate of the same operator (a rotation): familiar by
    // CCADB operator, though no site ever showed this key.
    w.search
        .issue(&w.good2, 3, &["api.example.test"], 90, false);
    w.search
        .issue(&w.rogue, 2, &["login.example.test"], 90, true);
    let (base, hits) = certspotter_server(w.search.clone());
    let url = format!("{base}v1/issuances");
    let (c, v) = issuances(&w.e, &url, &["--include-subdomains"]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["issuances"].as_array().unwrap().len(), 3, "{v}");
    assert!(
        hits.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "paged by after="
    );
    let good = by_name(&v, "www.example.test");
    assert_eq!(good["familiar_by"], "history");
    assert_eq!(good["issuer"]["key"], "verified");
    let rotated = by_name(&v, "api.example.test");
    assert_eq!(rotated["familiar"], true, "{rotated}");
    assert_eq!(rotated["operator"], "Good Corp");
    assert_eq!(rotated["precert_only"], true);
    let rogue = by_name(&v, "login.example.test");
    assert_eq!(rogue["familiar"], false);
    assert_eq!(rogue["operator"], "Rogue Ltd", "{rogue}");
    assert_eq!(rogue["issuer"]["key"], "claimed");

    // The server's bare URL: its crt.sh path answers 404, so the same
    // service is asked as certspotter's API.
    let (c, v) = issuances(&w.e, &base, &["--include-subdomains"]);
    assert_eq!(c, 1, "{v}");
    assert_eq!(v["issuances"].as_array().unwrap().len(), 3, "{v}");
    assert!(v["search"].as_str().unwrap().contains("certspotter"), "{v}");
}

fn fails_with(e: &TestEnv, url: &str, want: &str) {
    let t = Instant::now();
    let out = e.run(&["ct", "issuances", "example.test", "--search-url", url]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(want), "{want:?} not in {err:?}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        t.elapsed() < Duration::from_secs(40),
        "bounded: {:?}",
        t.elapsed()
    );
}

#[test]
fn a_failing_search_is_exit_3_with_one_line() {
    let e = TestEnv::new();
    // The binaries are built on first use: not part of the bound below.
    assert_eq!(code(&e.run(&["--version"])), 0);
    let w = SearchWorld::new();
    let (url, _) = crtsh_server(w.clone());
    *w.fail.lock().unwrap() = Some((
        429,
        vec![("Retry-After".into(), "120".into())],
        b"slow".to_vec(),
    ));
    fails_with(&e, &url, "HTTP 429; retrying in 120 s");
    *w.fail.lock().unwrap() = Some((503, vec![], b"down".to_vec()));
    fails_with(&e, &url, "HTTP 503");
    *w.fail.lock().unwrap() = Some((200, vec![], b"[{\"id\":1,\"issuer_name\":\"C=".to_vec()));
    fails_with(&e, &url, "unexpected answer");
    let (cs, _) = certspotter_server(w.clone());
    fails_with(
        &e,
        &format!("{cs}v1/issuances"),
        "/v1/issuances?domain=example.test",
    );
    // A server that never stops sending: bounded by the body limit.
    let addr = raw_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n[");
        let chunk = vec![b' '; 64 * 1024];
        while s.write_all(&chunk).is_ok() {}
    });
    fails_with(&e, &format!("http://{addr}/"), "larger than");
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    fails_with(&e, &format!("http://127.0.0.1:{port}/"), "127.0.0.1");
    fails_with(&e, "ftp://example.test/", "http(s)://");
}
