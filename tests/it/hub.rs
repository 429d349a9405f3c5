//! The long-lived native host and the daemon as its hub: one host process
//! answering a whole browser session (repeat visits from its probe cache,
//! a hung site not holding up other tabs), and, when certwatchd runs, the
//! host relaying to it so that a browser finding becomes a daemon alert, a
//! desktop notification (recorded by the test notification server on a
//! private D-Bus), a deduplicated re-check — and the host working directly
//! again when the daemon goes away.

use std::io::{Read, Write};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use certwatch_tests::{codes, raw_server, TestEnv, TlsServer};
use serde_json::{json, Value};

use crate::daemon::{alerts_json, poll, request, session_bus, start_daemon, write_config, Kill};
use crate::host::{browser_chain, chromium_args, frame, host_command, pki};

/// One host process, spoken to frame by frame like a `connectNative` port.
struct Session {
    _child: Kill,
    stdin: ChildStdin,
    stdout: ChildStdout,
    next: u64,
}

impl Session {
    fn start(e: &TestEnv, env: &[(&str, &str)]) -> Session {
        let mut c = host_command(e, &chromium_args());
        c.stderr(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        Session {
            _child: Kill(child),
            stdin,
            stdout,
            next: 1,
        }
    }

    fn send(&mut self, mut m: Value) -> u64 {
        let id = self.next;
        self.next += 1;
        m["id"] = json!(id);
        self.stdin
            .write_all(&frame(m.to_string().as_bytes()))
            .unwrap();
        self.stdin.flush().unwrap();
        id
    }

    fn read(&mut self) -> Value {
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_ne_bytes(len) as usize];
        self.stdout.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    fn ask(&mut self, m: Value) -> Value {
        let id = self.send(m);
        let r = self.read();
        assert_eq!(r["id"], id, "{r}");
        r
    }
}

fn check(port: u16) -> Value {
    json!({"type": "check", "host": "127.0.0.1", "port": port})
}

fn severity(r: &Value) -> &str {
    r["result"]["severity"].as_str().unwrap_or("")
}

/// A repeat visit needs no TLS connection: the second check of a site is
/// answered from the host's probe (the server is gone by then). A new
/// browser chain or server address probes again; a CA change is never cached.
#[test]
fn repeat_visits_answer_from_the_probe_cache() {
    let p = pki();
    let e = TestEnv::new().public_roots(&[&p.root_a, &p.root_b]);
    let leaf_a = p.int_a.leaf(&["127.0.0.1"]);
    let srv = TlsServer::start(&leaf_a);
    let port = srv.port();
    let mut s = Session::start(&e, &[]);
    let first = s.ask(check(port));
    assert_eq!(severity(&first), "ok", "{first}");
    assert_eq!(first["result"]["probe_cached"], false, "{first}");
    assert_eq!(first["result"]["backend"], "direct", "{first}");
    drop(srv);
    let again = s.ask(check(port));
    assert_eq!(severity(&again), "ok", "{again}");
    assert_eq!(again["result"]["probe_cached"], true, "{again}");
    assert_eq!(again["result"]["ca"]["name"], "Alpha Encrypt");
    // Another server address (Chromium's webRequest `ip`): probes again, and
    // the server is gone.
    let mut moved = check(port);
    moved["ip"] = json!("127.0.0.2");
    let r = s.ask(moved);
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["kind"], "connect", "{r}");

    // Firefox: the same chain is answered from the cache; another chain
    // (CA B) probes again: the server now serves B too.
    let srv = TlsServer::start_on(&format!("127.0.0.1:{port}"), &leaf_a);
    let ff = |chain: Vec<String>| json!({"type": "check", "host": "127.0.0.1", "port": port, "chain": chain, "is_builtin_root": false});
    let a = s.ask(ff(browser_chain(&leaf_a, &p.root_a)));
    assert_eq!(a["result"]["probe_cached"], false, "{a}");
    let a2 = s.ask(ff(browser_chain(&leaf_a, &p.root_a)));
    assert_eq!(a2["result"]["probe_cached"], true, "{a2}");
    let leaf_b = p.int_b.leaf(&["127.0.0.1"]);
    srv.swap(&leaf_b);
    let b = s.ask(ff(browser_chain(&leaf_b, &p.root_b)));
    assert_eq!(b["result"]["probe_cached"], false, "{b}");
    assert_eq!(b["result"]["host_probe"]["ca"]["name"], "Beta Certs", "{b}");
    assert!(codes(&b["result"]).contains(&"ca_changed".into()), "{b}");
    // The CA change emptied the site's cache: Chromium's next visit probes.
    let c = s.ask(check(port));
    assert_eq!(c["result"]["probe_cached"], false, "{c}");
    // CERTWATCH_PROBE_CACHE=0: every visit probes.
    let mut off = Session::start(&e, &[("CERTWATCH_PROBE_CACHE", "0")]);
    for _ in 0..2 {
        let r = off.ask(check(port));
        assert_eq!(r["result"]["probe_cached"], false, "{r}");
    }
}

/// A site that accepts TCP and never answers TLS holds up only its own
/// request: a later request of another tab is answered first.
#[test]
fn a_hung_site_does_not_hold_up_other_tabs() {
    let hung = raw_server(|mut stream| {
        let mut buf = [0u8; 1024];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let e = TestEnv::new();
    let mut s = Session::start(&e, &[("CERTWATCH_TIMEOUT", "3")]);
    let slow = s.send(check(hung.port()));
    let quick = s.send(json!({"type": "history", "host": "other.test"}));
    let first = s.read();
    assert_eq!(first["id"], quick, "the history reply comes first: {first}");
    let second = s.read();
    assert_eq!(second["id"], slow, "{second}");
    assert_eq!(second["ok"], false, "{second}");
    assert_eq!(second["result"]["severity"], "unknown", "{second}");
}

/// With certwatchd running, the host relays: the daemon records, raises one
/// alert (notification recorded on D-Bus) for a critical browser finding,
/// re-checks the site from its own connection without alerting twice, and
/// accepts. Then the daemon stops and the same host works directly.
#[test]
fn browser_findings_reach_the_daemon() {
    let p = pki();
    let e = TestEnv::new().public_roots(&[&p.root_a, &p.root_b]);
    write_config(&e, "browser_recheck = [\"2s\"]\n");
    let Some((_bus, _server, addr, log)) = session_bus(e.dir.path()) else {
        eprintln!("skipped: dbus-daemon or the notification server is not available");
        return;
    };
    let daemon = start_daemon(&e, Some(&addr));
    let leaf_a = p.int_a.leaf(&["127.0.0.1"]);
    let srv = TlsServer::start(&leaf_a);
    let port = srv.port();
    let site = format!("127.0.0.1:{port}");
    let mut s = Session::start(&e, &[("CERTWATCH_PROBE_CACHE", "0")]);

    let st = s.ask(json!({"type": "status"}));
    assert_eq!(st["result"]["backend"], "daemon", "{st}");
    assert_eq!(st["result"]["daemon"]["running"], true, "{st}");
    let r = s.ask(check(port));
    assert_eq!(
        (severity(&r), &r["result"]["backend"]),
        ("ok", &json!("daemon")),
        "{r}"
    );

    // The browser (Firefox) now gets a chain of CA B under a root it says
    // is not built in, while the site still serves CA A: critical.
    let leaf_b = p.int_b.leaf(&["127.0.0.1"]);
    let ff = json!({"type": "check", "host": "127.0.0.1", "port": port,
        "chain": browser_chain(&leaf_b, &p.root_b), "is_builtin_root": false});
    let r = s.ask(ff.clone());
    assert_eq!(severity(&r), "critical", "{r}");
    assert_eq!(r["result"]["backend"], "daemon", "{r}");
    assert!(
        codes(&r["result"]).contains(&"browser_chain_differs".into()),
        "{r}"
    );
    let alerts = poll("the daemon's alert", 10, || {
        let a = alerts_json(&e);
        (!a.is_empty()).then_some(a)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["site"], site, "{alerts:?}");
    let notes = poll("the Notify call", 10, || {
        let t = std::fs::read_to_string(&log).ok()?;
        let n: Vec<Value> = t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (!n.is_empty()).then_some(n)
    });
    assert!(
        notes[0]["summary"].as_str().unwrap().contains(&site),
        "{notes:?}"
    );
    let status = request(&e, json!({"type": "status"}));
    assert_eq!(status["rechecks"], 1, "{status}");

    // The same finding again: recorded, not alerted twice.
    assert_eq!(severity(&s.ask(ff)), "critical");
    // The re-check (2 s later) sees CA A from the daemon's own connection.
    poll("the daemon's re-check", 15, || {
        (request(&e, json!({"type": "status"}))["rechecks"] == 0).then_some(())
    });
    let events = || String::from_utf8_lossy(&e.run(&["log", "--json"]).stdout).into_owned();
    assert!(events().contains("\"recheck\""), "{}", events());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alerts_json(&e).len(), 1, "deduplicated");
    let n = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(n, 1, "one desktop notification");

    // Accept through the host: the daemon writes it.
    let acc = s.ask(json!({"type": "accept", "host": "127.0.0.1", "port": port}));
    assert_eq!(acc["ok"], true, "{acc}");
    assert!(acc["result"]["accepted"]["name"].is_string(), "{acc}");
    assert!(events().contains("accept"), "{}", events());
    let h = s.ask(json!({"type": "history", "host": "127.0.0.1", "port": port}));
    let seen: u64 = h["result"]["sightings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["count"].as_u64().unwrap())
        .sum();
    assert_eq!(seen, 4, "visit, 2 findings, the daemon's re-check: {h}");

    // The daemon goes away: the same host works directly and says so.
    drop(daemon);
    let st = s.ask(json!({"type": "status"}));
    assert_eq!(st["result"]["backend"], "direct", "{st}");
    assert_eq!(st["result"]["daemon"]["running"], false, "{st}");
    let r = s.ask(check(port));
    assert_eq!(r["result"]["backend"], "direct", "{r}");
    assert_eq!(r["result"]["stored"], true, "{r}");
}
