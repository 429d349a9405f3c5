//! `certwatch ct tail` against CT logs made at test time on 127.0.0.1 (see
//! `tests/support/tiledlog.rs`): a static-ct-api log and an RFC 6962 log
//! with real Merkle trees and signatures, followed by the real binary with a
//! private CERTWATCH_HOME; and logs that misbehave or fail.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use certwatch_engine::model::{parse_cert, sha256_hex};
use certwatch_tests::tiledlog::{Logged, ServedLog, Sig};
use certwatch_tests::{code, raw_server, stderr, stdout, Ca, TestEnv};
use serde_json::Value;

fn ca() -> Ca {
    Ca::root("Tail Test CA", "Tail Test Org")
}

/// `n` filler entries with `hits` (index, entry) put in place.
fn entries(ca: &Ca, n: usize, hits: Vec<(usize, Logged)>) -> Vec<Logged> {
    let filler = Logged::cert(ca, &["filler.unrelated.test"]);
    let mut v: Vec<Logged> = (0..n)
        .map(|i| Logged {
            ts: 1_700_000_000_000 + i as u64,
            ..filler.clone()
        })
        .collect();
    for (i, e) in hits {
        v[i] = Logged {
            ts: 1_700_000_000_000 + i as u64,
            ..e
        };
    }
    v
}

fn list(env: &TestEnv, logs: &[(&str, &ServedLog)]) -> PathBuf {
    env.write("list.json", &ServedLog::list(logs))
}

fn tail(env: &TestEnv, list: &std::path::Path, log: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--log-list",
        list.to_str().unwrap(),
        "ct",
        "tail",
        "--log",
        log,
        "--once",
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// Runs expecting exit `want`; its stderr.
fn fails(env: &TestEnv, list: &std::path::Path, log: &str, want: i32, extra: &[&str]) -> String {
    let out = tail(env, list, log, extra);
    let err = stderr(&out);
    assert_eq!(code(&out), want, "{err}");
    // Nothing is reported from a run that failed (not even a summary).
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    err
}

/// Runs with `--json`; the exit code and the one JSON line.
fn tail_json(env: &TestEnv, list: &std::path::Path, log: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = extra.to_vec();
    args.push("--json");
    let out = tail(env, list, log, &args);
    let s = stdout(&out);
    let v = serde_json::from_str(s.lines().next().unwrap_or("null"))
        .unwrap_or_else(|e| panic!("{e}: stdout={s:?} stderr={:?}", stderr(&out)));
    (code(&out), v)
}

fn indices(v: &Value) -> Vec<u64> {
    v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["index"].as_u64().unwrap())
        .collect()
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        }
    }
    None
}

#[test]
fn ct_tail_tiled_log_two_runs_while_it_grows() {
    let ca = ca();
    let www = Logged::cert(&ca, &["www.example.test"]);
    let pre = Logged::precert(&ca, &["example.test"]);
    let deep = Logged::cert(&ca, &["deep.a.example.test"]);
    let log = ServedLog::tiled(entries(
        &ca,
        300,
        vec![
            (3, www.clone()),
            (100, pre.clone()),
            (260, Logged::cert(&ca, &["example.test.evil.test"])),
            (280, deep),
        ],
    ));
    let env = TestEnv::new();
    let l = list(&env, &[("Test Tiled 2026", &log)]);
    let subs = ["--domain", "example.test", "--include-subdomains"];
    let (c, v) = tail_json(&env, &l, "test tiled 2026", &subs);
    assert_eq!(c, 0, "{v}");
    assert_eq!(v["verified_size"], 300);
    assert_eq!(v["entries_read"], 300);
    assert_eq!(indices(&v), vec![3, 100, 280]);
    let m = &v["matches"][1];
    assert_eq!(m["precert"], true);
    assert_eq!(m["sha256"], sha256_hex(&pre.der));
    assert_eq!(m["names"], serde_json::json!(["example.test"]));
    let ca_spki = sha256_hex(&parse_cert(&ca.der).unwrap().spki_der);
    assert_eq!(m["issuer_spki_sha256"], ca_spki.as_str());
    assert_eq!(
        v["matches"][0]["issuer_spki_sha256"],
        ca_spki.as_str(),
        "from the issuer fetched by hash"
    );
    assert!(v["matches"][0]["issuer"]
        .as_str()
        .unwrap()
        .contains("Tail Test CA"));
    // The issuer is cached, checked against its fingerprint, 0600.
    let cached = find_file(&env.home(), &sha256_hex(&ca.der)).expect("issuer cached");
    assert_eq!(std::fs::read(&cached).unwrap(), ca.der);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&cached).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Partial tiles, a level-1 tile, gzip with and without negotiation were read.
    let seen = log.with(|s| s.seen.clone());
    for p in ["/mon/tile/data/000", "/mon/tile/data/001.p/44"] {
        assert!(seen.iter().any(|s| s == p), "{p} in {seen:?}");
    }

    // The log grows; the next run proves consistency and reads only the new entries.
    log.with(|s| {
        let more = entries(&ca, 600, vec![(400, www.clone()), (599, pre.clone())]);
        s.entries.extend(more.into_iter().skip(300));
        s.size = 600;
    });
    let (c, v) = tail_json(&env, &l, "Test Tiled 2026", &subs);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (v["verified_size"].as_u64(), v["entries_read"].as_u64()),
        (Some(600), Some(300))
    );
    assert_eq!(indices(&v), vec![400, 599], "only new matches, no repeats");
    let seen = log.with(|s| s.seen.clone());
    assert!(
        seen.iter().any(|s| s == "/mon/tile/data/002.p/88"),
        "gzip without Content-Encoding: {seen:?}"
    );
    assert!(
        seen.iter().any(|s| s.starts_with("/mon/tile/1/000.p/2")),
        "{seen:?}"
    );
    // Nothing new: nothing read, nothing reported.
    let (c, v) = tail_json(&env, &l, &log.key_id_b64(), &subs);
    assert_eq!(
        (c, v["entries_read"].as_u64(), indices(&v)),
        (0, Some(0), vec![])
    );

    // Exact names only, from a window before the head, human output.
    let env2 = TestEnv::new();
    let l2 = list(&env2, &[("Test Tiled 2026", &log)]);
    let out = tail(
        &env2,
        &l2,
        "Test Tiled 2026",
        &["--domain", "example.test", "--window", "250"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s = stdout(&out);
    assert!(
        s.contains("#599 ") && s.contains(" precert UNFAMILIAR sha256="),
        "{s}"
    );
    assert!(
        !s.contains("#400 "),
        "www is not example.test without --include-subdomains: {s}"
    );
    assert!(
        s.contains("250 entries read") && s.contains("verified tree size 600"),
        "{s}"
    );
}

#[test]
fn ct_tail_tampered_tile_is_critical_and_not_saved() {
    let ca = ca();
    let log = ServedLog::tiled(entries(
        &ca,
        600,
        vec![(500, Logged::cert(&ca, &["example.test"]))],
    ));
    log.with(|s| s.tamper_tile = Some(1));
    let env = TestEnv::new();
    let l = list(&env, &[("t", &log)]);
    let err = fails(&env, &l, "t", 2, &["--domain", "example.test"]);
    assert!(
        err.contains("verification failed") && err.contains("tile/data/001"),
        "{err}"
    );
    // Not advanced: once the log serves the right tile, the run reads everything.
    log.with(|s| s.tamper_tile = None);
    let (c, v) = tail_json(&env, &l, "t", &["--domain", "example.test"]);
    assert_eq!(
        (c, v["entries_read"].as_u64(), indices(&v)),
        (0, Some(600), vec![500])
    );
}

#[test]
fn ct_tail_checkpoint_signatures_and_forks() {
    let ca = ca();
    let log = ServedLog::tiled(entries(&ca, 300, vec![]));
    let env = TestEnv::new();
    let l = list(&env, &[("t", &log)]);
    for (sig, want) in [
        (Sig::UnknownKey, "only unknown keys"),
        (Sig::Bad, "signature does not verify"),
    ] {
        log.with(|s| s.sig = sig);
        let err = fails(&env, &l, "t", 2, &["--domain", "example.test"]);
        assert!(
            err.contains(want) && err.contains("/mon/checkpoint"),
            "{err}"
        );
    }
    log.with(|s| s.sig = Sig::Good);
    let (c, v) = tail_json(&env, &l, "t", &["--domain", "example.test"]);
    assert_eq!((c, v["verified_size"].as_u64()), (0, Some(300)));
    // A rewritten history under a validly signed, larger checkpoint.
    log.with(|s| {
        s.entries[5].ts += 1;
        s.entries.extend(entries(&ca, 100, vec![]));
        s.size = 400;
    });
    let err = fails(&env, &l, "t", 2, &["--domain", "example.test"]);
    assert!(
        err.contains("does not extend the verified tree of 300 entries"),
        "{err}"
    );
}

#[test]
fn ct_tail_budget_stops_and_the_next_run_goes_on() {
    let ca = ca();
    let hit = Logged::cert(&ca, &["example.test"]);
    let log = ServedLog::tiled(entries(&ca, 600, vec![(10, hit.clone()), (300, hit)]));
    let env = TestEnv::new();
    let l = list(&env, &[("t", &log)]);
    // An issuer that does not hash to its fingerprint: a warning, no chain.
    log.with(|s| s.wrong_issuer = true);
    let out = tail(
        &env,
        &l,
        "t",
        &["--domain", "example.test", "--max-bytes", "600", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not hash to its fingerprint"),
        "{}",
        stderr(&out)
    );
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["matches"][0]["issuer_spki_sha256"], Value::Null);
    assert!(
        find_file(&env.home(), &sha256_hex(&ca.der)).is_none(),
        "not cached"
    );
    log.with(|s| s.wrong_issuer = false);
    assert_eq!(v["budget_hit"], true);
    assert_eq!(
        (v["entries_read"].as_u64(), v["next_index"].as_u64()),
        (Some(256), Some(256))
    );
    assert_eq!(indices(&v), vec![10]);
    assert!(v["bytes"].as_u64().unwrap() > 600);
    let (c, v) = tail_json(&env, &l, "t", &["--domain", "example.test"]);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (v["entries_read"].as_u64(), v["next_index"].as_u64()),
        (Some(344), Some(600))
    );
    assert_eq!(indices(&v), vec![300]);
}

#[test]
fn ct_tail_gzip_bomb_and_http_errors_are_bounded_and_clear() {
    let ca = ca();
    let log = ServedLog::tiled(entries(&ca, 300, vec![]));
    let env = TestEnv::new();
    let l = list(&env, &[("t", &log)]);
    log.with(|s| s.bomb_tile = Some(0));
    let err = fails(&env, &l, "t", 3, &["--domain", "example.test"]);
    assert!(
        err.contains("tile/data/000") && err.contains("decompresses to more than"),
        "{err}"
    );
    log.with(|s| {
        s.bomb_tile = None;
        s.fail = Some((429, vec![("Retry-After".into(), "120".into())]));
    });
    let err = fails(&env, &l, "t", 3, &["--domain", "example.test"]);
    assert!(
        err.contains("/mon/checkpoint: HTTP 429; retry in 120 s"),
        "{err}"
    );
    log.with(|s| s.fail = Some((503, vec![])));
    let err = stderr(&tail(&env, &l, "t", &["--domain", "example.test"]));
    assert!(err.contains("HTTP 503; retry in 60 s"), "{err}");
    log.with(|s| s.fail = Some((404, vec![])));
    let err = stderr(&tail(&env, &l, "t", &["--domain", "example.test"]));
    assert!(err.contains("HTTP 404") && !err.contains("retry"), "{err}");
}

/// A log list naming a tiled log whose monitoring URL is `base`.
fn list_at(env: &TestEnv, base: &str) -> PathBuf {
    let log = ServedLog::tiled(Vec::new());
    let json = ServedLog::list(&[("t", &log)])
        .replace(&format!("{}mon/", log.base), &format!("{base}mon/"));
    env.write("list.json", &json)
}

#[test]
fn ct_tail_servers_that_stream_forever_are_cut_off() {
    let flood = raw_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n");
        let chunk = [b'a'; 8192];
        while s.write_all(&chunk).is_ok() {}
    });
    let trickle = raw_server(|mut s| {
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n");
        while s.write_all(b"a").is_ok() {
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    certwatch_tests::bin("certwatch"); // built before the clock starts
    let env = TestEnv::new();
    let l = list_at(&env, &format!("http://{flood}/"));
    let t = Instant::now();
    let err = fails(&env, &l, "t", 3, &["--domain", "example.test"]);
    assert!(
        err.contains("/mon/checkpoint") && err.contains("larger than 65536 bytes"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    let l = list_at(&env, &format!("http://{trickle}/"));
    let t = Instant::now();
    let err = fails(
        &env,
        &l,
        "t",
        3,
        &["--domain", "example.test", "--timeout", "2"],
    );
    assert!(err.contains("/mon/checkpoint"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

#[test]
fn ct_tail_rfc6962_log_follow_fork_and_truncated_json() {
    let ca = ca();
    let pre = Logged::precert(&ca, &["www.example.test"]);
    let cert = Logged::cert(&ca, &["example.test"]);
    let log = ServedLog::rfc6962(entries(&ca, 250, vec![(10, cert.clone()), (200, pre)]));
    let env = TestEnv::new();
    let l = list(&env, &[("r", &log)]);
    let subs = ["--domain", "example.test", "--include-subdomains"];
    let (c, v) = tail_json(&env, &l, "r", &subs);
    assert_eq!(c, 0, "{v}");
    assert_eq!(
        (v["verified_size"].as_u64(), v["entries_read"].as_u64()),
        (Some(250), Some(250))
    );
    assert_eq!(indices(&v), vec![10, 200]);
    let ca_spki = sha256_hex(&parse_cert(&ca.der).unwrap().spki_der);
    assert_eq!(
        v["matches"][0]["issuer_spki_sha256"],
        ca_spki.as_str(),
        "from extra_data"
    );
    assert_eq!(v["matches"][0]["sha256"], sha256_hex(&cert.der));
    assert_eq!(v["matches"][1]["precert"], true);
    // Grows: consistency from the log, only the new match.
    log.with(|s| {
        let more = entries(&ca, 300, vec![(280, cert.clone())]);
        s.entries.extend(more.into_iter().skip(250));
        s.size = 300;
    });
    let (c, v) = tail_json(&env, &l, "r", &subs);
    assert_eq!(
        (c, v["entries_read"].as_u64(), indices(&v)),
        (0, Some(50), vec![280])
    );
    // A first run from a window takes its compact range from an inclusion proof.
    let env2 = TestEnv::new();
    let l2 = list(&env2, &[("r", &log)]);
    let (c, v) = tail_json(
        &env2,
        &l2,
        "r",
        &[&subs[..], &["--window", "60"][..]].concat(),
    );
    assert_eq!(
        (c, v["entries_read"].as_u64(), indices(&v)),
        (0, Some(60), vec![280])
    );
    assert!(log.with(|s| s.seen.iter().any(|p| p.contains("get-proof-by-hash"))));
    // Truncated JSON: a clear error naming the URL.
    let env3 = TestEnv::new();
    let l3 = list(&env3, &[("r", &log)]);
    log.with(|s| s.truncate_entries = true);
    let err = fails(&env3, &l3, "r", 3, &subs);
    assert!(
        err.contains("ct/v1/get-entries?start=0") && err.contains("malformed or truncated JSON"),
        "{err}"
    );
    log.with(|s| s.truncate_entries = false);
    // A bad STH signature, then a forked history.
    log.with(|s| s.sig = Sig::Bad);
    let err = stderr(&tail(&env, &l, "r", &subs));
    assert!(
        err.contains("get-sth") && err.contains("does not verify"),
        "{err}"
    );
    log.with(|s| {
        s.sig = Sig::Good;
        s.entries[1].ts += 1;
        s.entries.extend(entries(&ca, 20, vec![]));
        s.size = 320;
    });
    let err = fails(&env, &l, "r", 2, &subs);
    assert!(
        err.contains("does not extend the verified tree of 300 entries"),
        "{err}"
    );
}

#[test]
fn ct_tail_without_once_follows_the_log_as_it_grows() {
    use std::io::BufRead as _;
    let ca = ca();
    let hit = Logged::cert(&ca, &["example.test"]);
    let log = ServedLog::tiled(entries(&ca, 20, vec![(5, hit.clone())]));
    let env = TestEnv::new();
    let l = list(&env, &[("t", &log)]);
    let mut child = env
        .cmd()
        .args([
            "--log-list",
            l.to_str().unwrap(),
            "ct",
            "tail",
            "--log",
            "t",
        ])
        .args(["--domain", "example.test", "--interval", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(next().starts_with("t #5 "));
    assert!(next().contains("20 entries read"));
    log.with(|s| {
        s.entries.extend(entries(&ca, 10, vec![(3, hit.clone())]));
        s.size = 30;
    });
    // Polls go on: a later one finds the new entry, and only it.
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("10 entries read")) {
        lines.push(next());
    }
    child.kill().unwrap();
    let _ = child.wait();
    let found: Vec<_> = lines.iter().filter(|l| l.starts_with("t #")).collect();
    assert_eq!(found.len(), 1, "{lines:?}");
    assert!(found[0].starts_with("t #23 "), "{lines:?}");
}

#[test]
fn ct_tail_judges_matches_by_key_like_ct_issuances() {
    let ca = ca();
    // Another CA under the same organisation name: names make no CA one.
    let rogue = Ca::root("Tail Test CA", "Tail Test Org");
    let env = TestEnv::new().public_roots(&[&ca]);
    let srv = certwatch_tests::TlsServer::start(&ca.leaf(&["www.example.test"]));
    let (c, v) = env.check_json(
        "www.example.test",
        &["--connect", &format!("127.0.0.1:{}", srv.port())],
    );
    assert_eq!(c, 0, "{v}");
    let log = ServedLog::tiled(entries(
        &ca,
        10,
        vec![
            (2, Logged::cert(&ca, &["api.example.test"])),
            (5, Logged::cert(&rogue, &["login.example.test"])),
        ],
    ));
    let l = list(&env, &[("Test Tiled 2026", &log)]);
    let subs = [
        "--domain",
        "example.test",
        "--include-subdomains",
        "--start",
        "0",
    ];
    let (c, v) = tail_json(&env, &l, "test tiled 2026", &subs);
    assert_eq!(c, 0, "{v}");
    let m = |i: u64| {
        v["matches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["index"] == i)
            .cloned()
            .unwrap_or_else(|| panic!("no match {i}: {v}"))
    };
    assert_eq!(m(2)["familiar_by"], "history", "{v}");
    assert_eq!(m(2)["issuer_key"], "verified");
    assert_eq!(m(5)["familiar"], false, "{v}");
    assert_eq!(m(5)["familiar_by"], Value::Null);
}
