//! One pipeline for every front end: the CLI, the native host and the daemon
//! (over IPC) give the same verdict for the same site with every kind of
//! evidence on (CT from a test log, the user's pins, CAA from a local
//! dnsmasq, an acknowledged interceptor), all configured once in
//! `config.toml`; and the daemon follows what the CLI changes in the store
//! (pins, `accept-interceptor`) without a restart.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use certwatch_tests::ctlog::{embed_scts, list_json, TestLog};
use certwatch_tests::dns::start_dnsmasq;
use certwatch_tests::{bin, leaf_params, Ca, Leaf, TestEnv, TlsServer};
use rcgen::KeyPair;
use serde_json::{json, Value};

use crate::daemon::{request, start_daemon};

/// The public CAs, the corporate proxy's root, and two CT logs.
struct World {
    old_root: Ca,
    old_int: Ca,
    le_root: Ca,
    le_int: Ca,
    corp: Ca,
    logs: (TestLog, TestLog),
}

impl World {
    fn new() -> World {
        let old_root = Ca::root("Old Test Root", "Old Test CA Inc");
        let old_int = old_root.intermediate("Old Issuing CA", "Old Test CA Inc");
        let le_root = Ca::root("ISRG Test Root", "Internet Security Research Group");
        let le_int = le_root.intermediate("R99", "Let's Encrypt");
        let corp = Ca::root("ACME Corp Inspection CA", "ACME Corp");
        World {
            old_root,
            old_int,
            le_root,
            le_int,
            corp,
            logs: (TestLog::new(), TestLog::new()),
        }
    }

    /// A leaf for `name` from `ca` with SCTs from both logs embedded.
    fn logged(&self, ca: &Ca, name: &str) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let now_ms = (certwatch_engine::check::unix_now() as u64 - 60) * 1000;
        let start = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        let params = leaf_params(&[name], start, start + time::Duration::days(90));
        embed_scts(
            ca,
            &params,
            &key,
            &[&self.logs.0, &self.logs.1],
            now_ms,
            None,
        )
    }

    /// A fresh home whose config.toml sets every check setting.
    fn home(&self, dns: Option<&str>) -> TestEnv {
        let e = TestEnv::new();
        let dir = e.dir.path();
        let write = |name: &str, text: String| -> PathBuf {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let roots = write("roots.pem", self.old_root.pem() + &self.le_root.pem());
        let local = write("local.pem", self.corp.pem());
        let list = write(
            "log_list.json",
            list_json(&[(&self.logs.0, "Op A"), (&self.logs.1, "Op B")]),
        );
        std::fs::create_dir_all(e.home()).unwrap();
        let dns = dns
            .map(|d| format!("dns_server = {d:?}\n"))
            .unwrap_or_else(|| "caa = false\n".into());
        std::fs::write(
            e.home().join("config.toml"),
            format!(
                "roots = {:?}\nlocal_roots = {:?}\nlog_lists = [{:?}]\nccadb_refresh = false\n{dns}",
                roots.display().to_string(),
                local.display().to_string(),
                list.display().to_string()
            ),
        )
        .unwrap();
        e
    }
}

/// `certwatch ARGS` with only CERTWATCH_HOME: every setting from config.toml.
fn cli(e: &TestEnv, args: &[&str]) -> Output {
    Command::new(bin("certwatch"))
        .args(args)
        .env("CERTWATCH_HOME", e.home())
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A name of this machine that resolves to loopback and that the CAA
/// resolver will ask the test DNS server about: the host name when
/// /etc/hosts maps it to 127.0.0.1 (it does here), else `localhost` (which
/// hickory answers itself: no CAA look-up reaches dnsmasq).
fn loopback_name() -> String {
    use std::net::ToSocketAddrs as _;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let loopback = !name.is_empty()
        && (name.as_str(), 443)
            .to_socket_addrs()
            .map(|mut a| a.all(|a| a.ip().is_loopback()))
            .unwrap_or(false);
    if loopback {
        name
    } else {
        "localhost".into()
    }
}

fn cli_check(e: &TestEnv, host: &str, port: u16) -> Value {
    let o = cli(e, &["check", &format!("{host}:{port}"), "--json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.lines().next().unwrap_or("null")).unwrap()
}

/// One `check` through the real native host, as Chromium sends it.
fn host_check(e: &TestEnv, host: &str, port: u16) -> Value {
    let body = json!({"type": "check", "host": host, "port": port}).to_string();
    let mut framed = (body.len() as u32).to_ne_bytes().to_vec();
    framed.extend_from_slice(body.as_bytes());
    let mut child = Command::new(bin("certwatch-host"))
        .arg(format!(
            "chrome-extension://{}/",
            certwatch_engine::install::browser::CHROMIUM_ID
        ))
        .env("CERTWATCH_HOME", e.home())
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&framed).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.stdout.len() > 4,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout[4..]).unwrap();
    assert_eq!(reply["ok"], true, "{reply}");
    reply["result"].clone()
}

fn daemon_check(e: &TestEnv, host: &str, port: u16) -> Value {
    let r = request(e, json!({"type": "check", "host": host, "port": port}));
    assert_eq!(r["ok"], true, "{r}");
    r["result"].clone()
}

/// The verdict without what differs by time or by front end.
fn comparable(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("checked_at");
        m.remove("source");
        // The host's own fields: which backend answered, cache use.
        m.remove("backend");
        m.remove("probe_cached");
    }
    v
}

fn accept_corp(e: &TestEnv, w: &World) {
    let hex = certwatch_engine::model::sha256_hex(&w.corp.der);
    ok(&cli(
        e,
        &["accept-interceptor", &hex, "--network", "office"],
    ));
}

fn pin_both_roots(e: &TestEnv, w: &World, host: &str) {
    let spki = |ca: &Ca| {
        let info = certwatch_engine::model::parse_cert(&ca.der).unwrap();
        format!("sha256/{}", info.spki_sha256)
    };
    ok(&cli(
        e,
        &[
            "pins",
            "add",
            host,
            "--spki",
            &spki(&w.old_root),
            "--spki",
            &spki(&w.le_root),
            "--expires",
            "2099-01-01",
        ],
    ));
}

#[test]
fn cli_host_and_daemon_give_the_same_verdict() {
    let name = loopback_name();
    let Some(dns) = start_dnsmasq(&[(name.as_str(), "issue", "letsencrypt.org")]) else {
        eprintln!("skipped: dnsmasq is not installed (apt-get install dnsmasq-base)");
        return;
    };
    let dns = dns.addr.to_string();
    let w = World::new();
    let srv = TlsServer::start(&w.logged(&w.old_int, &name));
    let port = srv.port();
    let homes: Vec<TestEnv> = (0..3).map(|_| w.home(Some(&dns))).collect();
    for h in &homes {
        pin_both_roots(h, &w, &name);
        accept_corp(h, &w);
    }
    let _daemon = start_daemon(&homes[2], None);
    let run = |step: &str| -> Vec<Value> {
        let v = vec![
            cli_check(&homes[0], &name, port),
            host_check(&homes[1], &name, port),
            daemon_check(&homes[2], &name, port),
        ];
        for (front, x) in ["cli", "host"].iter().zip(&v) {
            assert_eq!(
                comparable(x.clone()),
                comparable(v[2].clone()),
                "{step}: {front} differs from the daemon"
            );
        }
        v
    };

    // First sighting under the old CA: ok, CT-compliant, pin ok, no CAA.
    let v = run("first sighting");
    assert_eq!(v[0]["severity"], "ok", "{}", v[0]);
    assert_eq!(v[0]["ct_policy"]["status"], "compliant", "{}", v[0]);
    assert_eq!(v[0]["pin"]["status"], "ok", "{}", v[0]);
    assert!(v[0].get("caa").is_none(), "{}", v[0]);

    // The site moves to a logged Let's Encrypt chain that CAA allows and
    // the pins cover: a CA change, explained, info.
    srv.swap(&w.logged(&w.le_int, &name));
    let v = run("CA change");
    assert_eq!(v[0]["severity"], "info", "{}", v[0]);
    assert_eq!(v[0]["ct_policy"]["status"], "compliant", "{}", v[0]);
    assert!(certwatch_tests::codes(&v[0]).contains(&"ca_changed".to_string()));
    if name == "localhost" {
        eprintln!("note: this machine's host name does not resolve to loopback; CAA was asked about localhost, which the resolver answers itself");
    } else {
        assert_eq!(v[0]["caa"]["status"], "allows", "{}", v[0]);
    }

    // The office proxy (acknowledged) intercepts: info, named network.
    srv.swap(&w.corp.leaf(&[name.as_str()]));
    let v = run("acknowledged interception");
    assert_eq!(v[0]["severity"], "info", "{}", v[0]);
    assert_eq!(
        v[0]["interceptor_accepted"]["network"], "office",
        "{}",
        v[0]
    );
}

#[test]
fn daemon_follows_pins_and_accept_interceptor_without_restart() {
    let h = "localhost";
    let w = World::new();
    let srv = TlsServer::start(&w.logged(&w.old_int, h));
    let port = srv.port();
    let e = w.home(None);
    let _daemon = start_daemon(&e, None);
    let v = daemon_check(&e, h, port);
    assert_eq!(v["severity"], "ok", "{v}");
    assert_eq!(v["pin"]["status"], "not_pinned", "{v}");

    // Pinned by the CLI while the daemon runs: its next check sees the pin.
    pin_both_roots(&e, &w, h);
    assert_eq!(daemon_check(&e, h, port)["pin"]["status"], "ok");

    // Interception by a local root: critical …
    srv.swap(&w.corp.leaf(&[h]));
    let v = daemon_check(&e, h, port);
    assert_eq!(v["severity"], "critical", "{v}");
    // … until the user acknowledges it as the office proxy with the CLI:
    // the running daemon's next check is info, not critical.
    accept_corp(&e, &w);
    let v = daemon_check(&e, h, port);
    assert_eq!(v["severity"], "info", "{v}");
    assert_eq!(v["interceptor_accepted"]["network"], "office", "{v}");
    // Forgetting it takes effect just as fast.
    let spki = certwatch_engine::model::parse_cert(&w.corp.der)
        .unwrap()
        .spki_sha256;
    ok(&cli(&e, &["accept-interceptor", "--forget", &spki]));
    assert_eq!(daemon_check(&e, h, port)["severity"], "critical");
}

#[test]
fn shipped_cli_and_host_link_no_daemon_stack() {
    // The CLI and the host depend on the engine only: no D-Bus, no
    // notification stack (the tests drive them built per package, as shipped).
    for package in ["certwatch-cli", "certwatch-host"] {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(certwatch_tests::workspace_root())
            .args(["tree", "--offline", "-e", "normal", "-p", package])
            .output()
            .unwrap();
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(tree.contains("certwatch-engine"), "{tree}");
        for banned in ["notify-rust", "zbus", "certwatchd"] {
            assert!(
                !tree.contains(&format!("{banned} v")),
                "{package} links {banned}"
            );
        }
    }
}

/// How long one `status` request to the daemon takes.
fn status_latency(e: &TestEnv) -> std::time::Duration {
    let t = std::time::Instant::now();
    let r = request(e, json!({"type": "status"}));
    assert_eq!(r["ok"], true, "{r}");
    t.elapsed()
}

#[test]
fn a_silent_dns_server_or_a_stuck_hook_never_blocks_the_daemon() {
    // CAA through a DNS server that never answers (3 s per query), and a
    // hook that never reads its stdin nor exits: other requests are answered
    // at once, and the hook is killed after `hook_timeout`.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let w = World::new();
    let e = w.home(Some(&silent.local_addr().unwrap().to_string()));
    let marker = format!("{}.5", 700 + std::process::id() % 100);
    let mut config = std::fs::read_to_string(e.home().join("config.toml")).unwrap();
    config.push_str(&format!(
        "hook = [\"sleep\", \"{marker}\"]\nhook_timeout = 2\n"
    ));
    std::fs::write(e.home().join("config.toml"), config).unwrap();
    let srv = TlsServer::start(&w.logged(&w.old_int, "bank.test"));
    let connect = format!("127.0.0.1:{}", srv.port());
    let _daemon = start_daemon(&e, None);
    let check = |e: &TestEnv| {
        let r = request(
            e,
            json!({"type": "check", "host": "bank.test", "connect": connect}),
        );
        assert_eq!(r["ok"], true, "{r}");
        r["result"].clone()
    };
    assert_eq!(check(&e)["severity"], "ok");
    // A CA change: the daemon asks the silent server about CAA.
    srv.swap(&w.logged(&w.le_int, "bank.test"));
    std::thread::scope(|s| {
        let slow = s.spawn(|| {
            let t = std::time::Instant::now();
            (check(&e), t.elapsed())
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        let during = status_latency(&e);
        let (v, took) = slow.join().unwrap();
        assert!(
            took >= std::time::Duration::from_millis(2500),
            "the CAA look-up should wait for the silent server: {took:?}"
        );
        assert!(v.get("caa").is_none(), "no answer is no evidence: {v}");
        assert!(
            during < std::time::Duration::from_millis(1500),
            "status waited {during:?} behind a CAA look-up"
        );
    });
    // An interception alert: the hook starts and never ends by itself.
    srv.swap(&w.corp.leaf(&["bank.test"]));
    assert_eq!(check(&e)["severity"], "critical");
    let running = || {
        Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    assert!(status_latency(&e) < std::time::Duration::from_millis(1500));
    if Command::new("pgrep").arg("--version").output().is_err() {
        eprintln!("skipped (hook kill): pgrep is not installed (apt-get install procps)");
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = false;
    while std::time::Instant::now() < deadline {
        let r = running();
        seen |= r;
        if seen && !r {
            return; // started, then killed after hook_timeout
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "the hook was {} after 10 s",
        if seen { "still running" } else { "never seen" }
    );
}

#[test]
fn a_bad_setting_is_named_where_it_was_set() {
    // The environment layer of the one precedence, through the real CLI.
    let e = TestEnv::new();
    let o = Command::new(bin("certwatch"))
        .args(["check", "localhost:1", "--no-store"])
        .env("CERTWATCH_HOME", e.home())
        .env("CERTWATCH_TIMEOUT", "soon")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("CERTWATCH_TIMEOUT"), "{err}");
    // config.toml's log list that cannot be read: an error naming the key.
    std::fs::create_dir_all(e.home()).unwrap();
    std::fs::write(
        e.home().join("config.toml"),
        "log_lists = [\"/nonexistent/list.json\"]\n",
    )
    .unwrap();
    let o = cli(&e, &["check", "localhost:1", "--no-store"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("config.toml log_lists"), "{err}");
}
