//! The native-messaging host, driven like a browser drives it (no browser):
//! the real `certwatch-host` binary, framed JSON on stdin/stdout, real TLS
//! servers on 127.0.0.1 and a real database in a temp `CERTWATCH_HOME`.
//! (`certwatch extension install/uninstall` and the extension's manifest:
//! `extension.rs`.)

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use certwatch_engine::install::browser::{CHROMIUM_ID, GECKO_ID};
use certwatch_tests::{bin, codes, Ca, Leaf, TestEnv, TlsServer};
use serde_json::{json, Value};

pub(crate) fn chromium_args() -> Vec<String> {
    vec![format!("chrome-extension://{CHROMIUM_ID}/")]
}

fn firefox_args() -> Vec<String> {
    vec![
        "/home/u/.mozilla/native-messaging-hosts/org.certwatch.host.json".into(),
        GECKO_ID.into(),
    ]
}

pub(crate) fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_ne_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn msg(v: Value) -> Vec<u8> {
    frame(v.to_string().as_bytes())
}

/// Output of one host run.
struct Run {
    replies: Vec<Value>,
    code: i32,
    stderr: String,
}

/// The host binary with `args` on `e`'s home and roots, piped.
pub(crate) fn host_command(e: &TestEnv, args: &[String]) -> Command {
    let empty = e.dir.path().join("empty-roots.pem");
    std::fs::write(&empty, "").unwrap();
    let mut c = Command::new(bin("certwatch-host"));
    c.args(args)
        .env("CERTWATCH_HOME", e.home())
        .env(
            "CERTWATCH_LOCAL_ROOTS",
            e.local_roots.as_ref().unwrap_or(&empty),
        )
        .env_remove("CERTWATCH_ROOTS")
        .env_remove("CERTWATCH_HOST_MAX_IN")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(r) = &e.roots {
        c.env("CERTWATCH_ROOTS", r);
    }
    c
}

/// Runs the host with `args`, feeding `input` then closing stdin.
fn host_raw(e: &TestEnv, args: &[String], input: &[u8], extra_env: &[(&str, &str)]) -> Run {
    let mut c = host_command(e, args);
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // The host may exit before reading everything (refused caller, oversized frame).
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let mut replies = Vec::new();
    let mut rest = out.stdout.as_slice();
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "truncated reply header");
        let n = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
        assert!(n <= 1_048_576, "reply over 1 MiB");
        assert!(rest.len() >= 4 + n, "truncated reply");
        replies.push(serde_json::from_slice(&rest[4..4 + n]).unwrap());
        rest = &rest[4 + n..];
    }
    // Requests are answered on several threads: replies come in any order.
    // Sorted by numeric id here (id-less replies, e.g. a fatal framing
    // error written last, stay at the end in their order).
    replies.sort_by_key(|r: &Value| r["id"].as_i64().unwrap_or(i64::MAX));
    Run {
        replies,
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn host(e: &TestEnv, args: &[String], msgs: &[Value]) -> Run {
    let input: Vec<u8> = msgs.iter().flat_map(|m| msg(m.clone())).collect();
    host_raw(e, args, &input, &[])
}

/// One request, one reply.
fn ask(e: &TestEnv, args: &[String], m: Value) -> Value {
    let r = host(e, args, &[m]);
    assert_eq!(r.code, 0, "host exited {}: {}", r.code, r.stderr);
    assert_eq!(r.replies.len(), 1, "{}", r.stderr);
    r.replies.into_iter().next().unwrap()
}

fn b64(chain: &[Vec<u8>]) -> Vec<String> {
    chain
        .iter()
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
        .collect()
}

/// The chain as Firefox reports it: leaf … root.
pub(crate) fn browser_chain(leaf: &Leaf, root: &Ca) -> Vec<String> {
    let mut c = leaf.chain.clone();
    c.push(root.der.clone());
    b64(&c)
}

pub(crate) struct Pki {
    pub(crate) root_a: Ca,
    pub(crate) int_a: Ca,
    pub(crate) root_b: Ca,
    pub(crate) int_b: Ca,
}

pub(crate) fn pki() -> Pki {
    let root_a = Ca::root("Host Root A", "Alpha Trust");
    let int_a = root_a.intermediate("Alpha R1", "Alpha Encrypt");
    let root_b = Ca::root("Host Root B", "Beta Certs");
    let int_b = root_b.intermediate("Beta TLS CA", "Beta Certs");
    Pki {
        root_a,
        int_a,
        root_b,
        int_b,
    }
}

#[test]
fn status_round_trip_and_id_echo() {
    let e = TestEnv::new();
    let r = host(
        &e,
        &chromium_args(),
        &[
            json!({"v": 1, "id": "a", "type": "status"}),
            json!({"id": 2, "type": "status"}),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.replies.len(), 2);
    let s = r.replies.iter().find(|v| v["id"] == "a").unwrap();
    assert_eq!(
        (s["v"].as_u64(), s["ok"].as_bool()),
        (Some(1), Some(true)),
        "{s}"
    );
    assert_eq!(s["id"], "a");
    assert_eq!(s["type"], "status");
    assert_eq!(s["result"]["backend"], "direct");
    assert_eq!(s["result"]["sites"], 0);
    // CT out of the box: the built-in list, with its date and staleness.
    let ct = &s["result"]["ct_list"];
    assert!(
        ct["sources"][0].as_str().unwrap().starts_with("built-in"),
        "{s}"
    );
    assert_eq!(ct["date"], "2026-08-21T00:00:00Z", "{s}");
    let stale = certwatch_engine::check::unix_now() - 1_787_270_400 > 70 * 86_400;
    assert_eq!(ct["stale"], stale, "{s}");
    assert_eq!(ct["notice"].is_string(), stale, "{s}");
    assert_eq!(
        Path::new(s["result"]["db"].as_str().unwrap()),
        e.home().join("certwatch.db")
    );
    assert!(r.replies.iter().any(|v| v["id"] == 2));
}

#[test]
fn chromium_check_probes_records_and_detects_ca_change() {
    let p = pki();
    let e = TestEnv::new().public_roots(&[&p.root_a, &p.root_b]);
    let srv = TlsServer::start(&p.int_a.leaf(&["127.0.0.1"]));
    let check = json!({"id": 1, "type": "check", "host": "127.0.0.1", "port": srv.port()});

    let v = ask(&e, &chromium_args(), check.clone());
    assert_eq!(v["ok"], true, "{v}");
    let res = &v["result"];
    assert_eq!(res["severity"], "ok", "{res}");
    assert_eq!(res["source"], "probe");
    assert_eq!(res["ca"]["name"], "Alpha Encrypt");
    assert!(codes(res).contains(&"first_seen".into()), "{res}");
    assert_eq!(res["stored"], true);

    // The CLI reads the same history.
    let out = e.run(&["history", &format!("127.0.0.1:{}", srv.port()), "--json"]);
    let h: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h["sightings"].as_array().unwrap().len(), 1, "{h}");

    srv.swap(&p.int_b.leaf(&["127.0.0.1"]));
    let v = ask(&e, &chromium_args(), check.clone());
    let res = &v["result"];
    assert!(
        ["warning", "critical"].contains(&res["severity"].as_str().unwrap()),
        "{res}"
    );
    assert!(codes(res).contains(&"ca_changed".into()), "{res}");
    assert_eq!(res["previous_ca"]["name"], "Alpha Encrypt");
    assert_eq!(res["ca"]["name"], "Beta Certs");

    let hist = ask(
        &e,
        &chromium_args(),
        json!({"type": "history", "host": "127.0.0.1", "port": srv.port()}),
    );
    let s = hist["result"]["sightings"].as_array().unwrap();
    assert_eq!(s.len(), 2, "{hist}");
    assert_eq!(s[0]["ca"]["name"], "Alpha Encrypt");
    assert_eq!(s[1]["ca"]["name"], "Beta Certs");

    let acc = ask(
        &e,
        &chromium_args(),
        json!({"type": "accept", "host": "127.0.0.1", "port": srv.port()}),
    );
    assert_eq!(acc["ok"], true, "{acc}");
    assert_eq!(acc["result"]["accepted"]["name"], "Beta Certs");
    let v = ask(&e, &chromium_args(), check);
    assert_eq!(v["result"]["severity"], "ok", "{v}");
}

#[test]
fn firefox_chain_is_recorded_and_compared_with_own_probe() {
    let p = pki();
    let e = TestEnv::new().public_roots(&[&p.root_a, &p.root_b]);
    let leaf_a = p.int_a.leaf(&["127.0.0.1"]);
    let srv = TlsServer::start(&leaf_a);
    let port = srv.port();

    // The browser saw what the site serves: no difference.
    let v = ask(
        &e,
        &firefox_args(),
        json!({"type": "check", "host": "127.0.0.1", "port": port,
               "chain": browser_chain(&leaf_a, &p.root_a), "tls_state": "secure", "is_builtin_root": false}),
    );
    let res = &v["result"];
    assert_eq!(res["severity"], "ok", "{res}");
    assert_eq!(res["source"], "browser");
    assert_eq!(res["chain"].as_array().unwrap().len(), 3);
    assert_eq!(res["host_probe"]["ca"]["name"], "Alpha Encrypt");
    assert_eq!(res["browser"]["is_builtin_root"], false);
    // With CERTWATCH_ROOTS, "not built in" is expected and is no reason.
    assert!(
        !codes(res).contains(&"browser_chain_differs".into()),
        "{res}"
    );

    // The browser saw another CA than the site serves us: interception.
    let leaf_b = p.int_b.leaf(&["127.0.0.1"]);
    let v = ask(
        &e,
        &firefox_args(),
        json!({"type": "check", "host": "127.0.0.1", "port": port,
               "chain": browser_chain(&leaf_b, &p.root_b), "tls_state": "secure", "is_builtin_root": true}),
    );
    let res = &v["result"];
    assert_eq!(res["severity"], "critical", "{res}");
    assert!(
        codes(res).contains(&"browser_chain_differs".into()),
        "{res}"
    );
    assert_eq!(res["ca"]["name"], "Beta Certs");
    assert_eq!(res["host_probe"]["ca"]["name"], "Alpha Encrypt");

    // The browser's chain is what was recorded.
    let hist = ask(
        &e,
        &firefox_args(),
        json!({"type": "history", "host": "127.0.0.1", "port": port}),
    );
    let s = hist["result"]["sightings"].as_array().unwrap();
    assert_eq!(s.len(), 2, "{hist}");
    assert_eq!(
        s[1]["leaf_sha256"],
        certwatch_engine::model::sha256_hex(&leaf_b.chain[0])
    );

    // The site unreachable by the host: the browser's chain is still judged.
    drop(srv);
    let v = ask(
        &e,
        &firefox_args(),
        json!({"type": "check", "host": "127.0.0.1", "port": port,
               "chain": browser_chain(&leaf_a, &p.root_a)}),
    );
    assert_eq!(v["ok"], true, "{v}");
    assert!(
        v["result"]["host_probe"]["error"]["kind"].is_string(),
        "{v}"
    );
}

#[test]
fn same_verdict_as_the_cli() {
    // Public CA change, and a chain through a locally installed root: the
    // host and `certwatch check --json` (separate histories) agree.
    let p = pki();
    let local = Ca::root("Corp Proxy Root", "Corp IT");
    let mk = || {
        TestEnv::new()
            .public_roots(&[&p.root_a, &p.root_b])
            .local(&[&local])
    };
    let (cli, hst) = (mk(), mk());
    let srv = TlsServer::start(&p.int_a.leaf(&["127.0.0.1"]));
    let site = format!("127.0.0.1:{}", srv.port());
    let leaves = [p.int_b.leaf(&["127.0.0.1"]), local.leaf(&["127.0.0.1"])];
    for step in 0..3 {
        if step > 0 {
            srv.swap(&leaves[step - 1]);
        }
        let (_, c) = cli.check_json(&site, &["--no-caa"]);
        let r = host_raw(
            &hst,
            &chromium_args(),
            &msg(json!({"type": "check", "host": "127.0.0.1", "port": srv.port()})),
            &[("CERTWATCH_NO_CAA", "1")],
        );
        let h = &r.replies[0]["result"];
        assert_eq!(
            h["severity"], c["severity"],
            "step {step}: host {h} cli {c}"
        );
        assert_eq!(codes(h), codes(&c), "step {step}");
        assert_eq!(h["ca"], c["ca"], "step {step}");
        assert_eq!(h["trust"], c["trust"], "step {step}");
    }
}

#[test]
fn check_failures_are_error_replies() {
    let e = TestEnv::new();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let r = host(
        &e,
        &chromium_args(),
        &[
            json!({"id": 1, "type": "check", "host": "127.0.0.1", "port": port}),
            json!({"id": 2, "type": "check", "host": "127.0.0.1", "chain": ["AAEC"]}),
            json!({"id": 3, "type": "accept", "host": "never.test"}),
            json!({"id": 4, "type": "status"}),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let k: Vec<_> = r
        .replies
        .iter()
        .map(|v| (v["ok"].as_bool().unwrap(), v["error"]["kind"].clone()))
        .collect();
    assert_eq!(
        k,
        vec![
            (false, json!("connect")),
            (false, json!("bad_certificate")),
            (false, json!("never_checked")),
            (true, Value::Null)
        ],
        "{:?}",
        r.replies
    );
    assert_eq!(r.replies[0]["result"]["severity"], "unknown");
}

#[test]
fn framing_abuse() {
    let e = TestEnv::new();
    let status = msg(json!({"type": "status"}));
    let kinds = |r: &Run| -> Vec<String> {
        r.replies
            .iter()
            .map(|v| {
                v["error"]["kind"]
                    .as_str()
                    .unwrap_or(if v["ok"] == true { "ok" } else { "?" })
                    .to_string()
            })
            .collect()
    };

    // Closed stdin at once: clean exit, nothing written.
    let r = host_raw(&e, &chromium_args(), b"", &[]);
    assert_eq!((r.code, r.replies.len()), (0, 0), "{}", r.stderr);

    // Zero length, invalid UTF-8, invalid JSON, non-object, unknown type,
    // unsupported version: each gets an error reply and the host carries on.
    let mut input = frame(b"");
    input.extend(frame(b"\xff\xfe{}"));
    input.extend(frame(b"{\"type\":"));
    input.extend(frame(b"[1,2]"));
    input.extend(msg(json!({"id": 9, "type": "launch_missiles"})));
    input.extend(msg(json!({"v": 99, "type": "status"})));
    input.extend(status.clone());
    let r = host_raw(&e, &chromium_args(), &input, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Answered on several threads: compare as a multiset.
    let mut got = kinds(&r);
    got.sort();
    assert_eq!(
        got,
        [
            "invalid_json",
            "invalid_json",
            "invalid_json",
            "invalid_utf8",
            "ok",
            "unknown_type",
            "unsupported_version",
        ]
    );
    let nine = r.replies.iter().find(|v| v["id"] == 9).unwrap();
    assert_eq!(nine["error"]["kind"], "unknown_type", "{nine}");

    // A length of 4 GiB − 1: refused at once without allocating, clean exit.
    let mut input = u32::MAX.to_ne_bytes().to_vec();
    input.extend_from_slice(b"{}");
    let r = host_raw(&e, &chromium_args(), &input, &[]);
    assert_eq!((r.code, kinds(&r)), (1, vec!["too_large".to_string()]));

    // The cap is configurable; exactly at the cap is fine.
    let small = br#"{"type":"status"}"#; // 17 bytes
    let mut input = frame(small);
    input.extend(frame(br#"{"type":"status"} "#)); // 18 bytes
    let r = host_raw(
        &e,
        &chromium_args(),
        &input,
        &[("CERTWATCH_HOST_MAX_IN", "17")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(kinds(&r), ["ok", "too_large"]);

    // Truncated header and truncated body.
    let mut input = status.clone();
    input.extend_from_slice(&[5, 0]);
    let r = host_raw(&e, &chromium_args(), &input, &[]);
    assert_eq!(
        (r.code, kinds(&r)),
        (1, vec!["ok".into(), "truncated".into()])
    );
    let mut input = 100u32.to_ne_bytes().to_vec();
    input.extend_from_slice(b"{\"type\":\"status\"}");
    let r = host_raw(&e, &chromium_args(), &input, &[]);
    assert_eq!((r.code, kinds(&r)), (1, vec!["truncated".to_string()]));

    // A bad cap setting is refused before anything else.
    let r = host_raw(
        &e,
        &chromium_args(),
        &status,
        &[("CERTWATCH_HOST_MAX_IN", "lots")],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("CERTWATCH_HOST_MAX_IN"), "{}", r.stderr);
}

#[test]
fn only_our_extension() {
    let e = TestEnv::new();
    let status = msg(json!({"type": "status"}));
    let foreign: Vec<Vec<String>> = vec![
        vec![],
        vec!["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/".into()],
        vec![format!("chrome-extension://{CHROMIUM_ID}")],
        vec!["/tmp/m.json".into(), "evil@example.org".into()],
        vec!["status".into()],
    ];
    for args in foreign {
        let r = host_raw(&e, &args, &status, &[]);
        assert_eq!(r.code, 1, "{args:?}");
        assert_eq!(r.replies.len(), 1, "{args:?}");
        assert_eq!(
            r.replies[0]["error"]["kind"], "forbidden_caller",
            "{args:?}"
        );
    }
    // Nothing was opened or created for a refused caller.
    assert!(!e.home().join("certwatch.db").exists());
    for args in [chromium_args(), firefox_args()] {
        let r = host_raw(&e, &args, &status, &[]);
        assert_eq!((r.code, r.replies[0]["ok"].as_bool()), (0, Some(true)));
    }
}

#[test]
fn bad_roots_setting_is_reported_per_request() {
    let e = TestEnv::new();
    let bad = e.dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let r = host_raw(
        &e,
        &chromium_args(),
        &msg(json!({"type": "status"})),
        &[("CERTWATCH_ROOTS", bad.to_str().unwrap())],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.replies[0]["error"]["kind"], "config", "{:?}", r.replies);
    assert!(
        r.replies[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CERTWATCH_ROOTS"),
        "{:?}",
        r.replies
    );
}

#[test]
fn many_messages_in_one_session() {
    // Replies are parseable frames of at most 1 MiB (asserted in host_raw).
    let e = TestEnv::new();
    let mut input = Vec::new();
    for i in 0..50 {
        input.extend(msg(
            json!({"id": i, "type": "history", "host": "example.test"}),
        ));
    }
    let r = host_raw(&e, &chromium_args(), &input, &[]);
    assert_eq!((r.code, r.replies.len()), (0, 50), "{}", r.stderr);
    assert_eq!(r.replies[49]["id"], 49);
    assert_eq!(r.replies[49]["result"]["sightings"], json!([]));
}

/// Browser visits never get `expires_soon` (noise there), even with 2 days left.
#[test]
fn browser_visits_never_warn_about_expiry() {
    let p = pki();
    let e = TestEnv::new().public_roots(&[&p.root_a, &p.root_b]);
    let srv = TlsServer::start(&p.int_a.leaf_valid(&["127.0.0.1"], 88, 90));
    let check = json!({"id": 1, "type": "check", "host": "127.0.0.1", "port": srv.port()});
    let v = ask(&e, &chromium_args(), check);
    let res = &v["result"];
    assert_eq!(res["severity"], "ok", "{res}");
    assert!(!codes(res).contains(&"expires_soon".into()), "{res}");
    // The CLI, on the same site, does warn.
    let (code, v) = e.check_json(
        "127.0.0.1",
        &[
            "--connect",
            &format!("127.0.0.1:{}", srv.port()),
            "--no-store",
        ],
    );
    assert_eq!(code, 2, "{v}");
    assert!(codes(&v).contains(&"expires_soon".into()), "{v}");
}
