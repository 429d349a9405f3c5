//! certwatchd end to end: the real daemon binary on a temp CERTWATCH_HOME,
//! driven over its socket and with the real CLI, a private D-Bus session bus
//! with a notification server that records `Notify`, a hook command, SIGHUP
//! with a bad config, a foreign uid, kill -9 mid-write, SIGTERM.

mod harness;

pub(crate) use harness::*;

use std::process::Command;
use std::time::{Duration, Instant};

use certwatch_engine::client::Client;
use certwatch_tests::{bin, Ca, TestEnv, TlsServer};
use serde_json::{json, Value};

#[test]
fn watch_alert_notify_hook_and_reload() {
    let root_a = Ca::root("Alpha Root", "Alpha Trust");
    let root_b = Ca::root("Beta Root", "Beta Certs");
    let int_a = root_a.intermediate("Alpha CA", "Alpha Trust");
    let int_b = root_b.intermediate("Beta CA", "Beta Certs");
    let srv = TlsServer::start(&int_a.leaf(&["shop.test"]));
    let e = TestEnv::new().public_roots(&[&root_a, &root_b]);
    let hook_out = e.dir.path().join("hook.jsonl");
    write_config(
        &e,
        &format!(
            "hook = [\"tee\", \"-a\", {:?}]\n",
            hook_out.display().to_string()
        ),
    );
    let bus = session_bus(e.dir.path());
    if bus.is_none() {
        eprintln!("skipped (D-Bus part): dbus-daemon or the notification server is not available");
    }
    let t0 = Instant::now();
    let d = start_daemon(&e, bus.as_ref().map(|b| b.2.as_str()));
    eprintln!("certwatchd answered its socket after {:?}", t0.elapsed());

    // Socket private to the user.
    {
        use std::os::unix::fs::PermissionsExt;
        let sock = certwatch_engine::client::socket_path(&paths(&e));
        assert_eq!(
            std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // status through the CLI.
    let out = e.run(&["status", "--json"]);
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(st["daemon"]["running"], true, "{st}");

    // Watch the site: the daemon checks it at once.
    let connect = format!("127.0.0.1:{}", srv.port());
    let out = e.run(&[
        "watch",
        "add",
        "shop.test",
        "--connect",
        &connect,
        "--every",
        "1h",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    poll("the first sighting", 20, || {
        (sighting_count(&e, "shop.test") == 1).then_some(())
    });

    // Another CA now vouches for the site: alert, notification, hook, audit.
    srv.swap(&int_b.leaf(&["shop.test"]));
    assert!(e
        .run(&[
            "watch",
            "add",
            "shop.test",
            "--connect",
            &connect,
            "--every",
            "1h"
        ])
        .status
        .success());
    let alerts: Vec<Value> = poll("an alert", 20, || {
        let out = e.run(&["alerts", "--json"]);
        let v: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["severity"], "warning");
    assert!(alerts[0]["title"].as_str().unwrap().contains("shop.test"));
    assert!(
        alerts[0]["title"].as_str().unwrap().contains("Beta"),
        "{}",
        alerts[0]["title"]
    );
    let codes: Vec<&str> = alerts[0]["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"ca_changed"), "{codes:?}");

    // The same change again: stored once, notified once.
    let r = request(
        &e,
        json!({"type": "check", "host": "shop.test", "connect": connect}),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["result"]["severity"], "warning");
    let out = e.run(&["alerts", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    if let Some((_bus, _server, _addr, log)) = &bus {
        let notes: Vec<Value> = poll("the Notify call", 10, || {
            let t = std::fs::read_to_string(log).ok()?;
            let v: Vec<Value> = t
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            (!v.is_empty()).then_some(v)
        });
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0]["app_name"], "certwatch");
        assert!(
            notes[0]["summary"].as_str().unwrap().contains("shop.test"),
            "{}",
            notes[0]
        );
        assert!(
            notes[0]["body"].as_str().unwrap().contains("Was: Alpha"),
            "{}",
            notes[0]
        );
        assert_eq!(notes[0]["urgency"], 1, "normal urgency for a warning");
    }
    let hook: Value = poll("the hook", 10, || {
        let t = std::fs::read_to_string(&hook_out).ok()?;
        t.lines().next().and_then(|l| serde_json::from_str(l).ok())
    });
    assert_eq!(hook["verdict"]["host"], "shop.test");
    assert_eq!(hook["alert_id"], alerts[0]["id"]);

    // Audit log.
    let out = e.run(&["log", "--json"]);
    let kinds: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["kind"].as_str().map(str::to_string))
        .collect();
    for k in ["watch_add", "verdict", "alert"] {
        assert!(kinds.iter().any(|x| x == k), "missing {k} in {kinds:?}");
    }
    // Acknowledge.
    let id = alerts[0]["id"].to_string();
    assert!(e.run(&["alerts", "ack", &id]).status.success());
    assert_eq!(
        String::from_utf8_lossy(&e.run(&["alerts", "--json"]).stdout)
            .lines()
            .count(),
        0
    );

    // SIGHUP with a bad config: a clear error, and the old config stays.
    write_config(&e, "notifications = \"maybe\"\n");
    let pid = d.child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let st = poll("the reload error", 10, || {
        let s = request(&e, json!({"type": "status"}));
        s["config_error"].is_string().then_some(s)
    });
    assert!(
        st["config_error"]
            .as_str()
            .unwrap()
            .contains("config.toml:4:"),
        "{st}"
    );
    assert_eq!(st["notifications"], true);
    assert!(
        !st["hook"].as_array().unwrap().is_empty(),
        "old config (with its hook) kept: {st}"
    );
    let log = std::fs::read_to_string(&d.stderr).unwrap();
    assert!(log.contains("config.toml:4:"), "{log}");
    // A good config is taken.
    write_config(&e, "notifications = false\n");
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    poll("the reload", 10, || {
        let s = request(&e, json!({"type": "status"}));
        (s["notifications"] == false && s["config_error"].is_null()).then_some(())
    });

    // Bad requests get an error line, not a hang.
    let mut c = Client::connect(&paths(&e)).unwrap();
    let r = c.request(json!({"type": "frobnicate"})).unwrap();
    assert_eq!(r["error"]["kind"], "unknown_type");

    // SIGTERM: a clean exit.
    let mut child = d.child;
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let code = poll("the daemon to exit", 15, || {
        child.0.try_wait().ok().flatten()
    });
    assert!(code.success(), "{code}");
    drop(bus);
}

#[test]
fn foreign_uid_is_refused() {
    let e = TestEnv::new().public_roots(&[&Ca::root("R", "O")]);
    write_config(&e, "");
    let _d = start_daemon(&e, None);
    let am_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !am_root || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to run a client as another uid");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sock = certwatch_engine::client::socket_path(&paths(&e));
    // Open the file-system doors, so only the daemon's own check stands in the way.
    for (p, m) in [
        (e.dir.path().to_path_buf(), 0o755),
        (e.home(), 0o755),
        (sock.clone(), 0o666),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("ipc-client"))
        .arg(&sock)
        .arg(r#"{"type":"status"}"#)
        .output()
        .unwrap();
    let reply = String::from_utf8_lossy(&out.stdout);
    assert!(
        reply.contains("forbidden"),
        "{reply} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!reply.contains("db_bytes"));
}

#[test]
fn kill_9_mid_write_loses_no_acknowledged_sighting() {
    let root = Ca::root("K Root", "K");
    let srv = TlsServer::start(&root.intermediate("K CA", "K").leaf(&["*.k.test"]));
    let e = TestEnv::new().public_roots(&[&root]);
    write_config(&e, "notifications = false\n");
    let connect = format!("127.0.0.1:{}", srv.port());
    let mut acked = Vec::new();
    for round in 0..3 {
        let d = start_daemon(&e, None);
        let mut c = Client::connect(&paths(&e)).unwrap();
        for i in 0..(40 + round * 20) {
            let host = format!("h{round}-{i}.k.test");
            let r = c
                .request(json!({"type": "check", "host": host, "connect": connect}))
                .unwrap();
            assert_eq!(r["ok"], true, "{r}");
            acked.push(host);
        }
        // Keep it writing while it dies.
        let home = e.home();
        let connect2 = connect.clone();
        let writer = std::thread::spawn(move || {
            let p = certwatch_engine::client::socket_path(&certwatch_engine::paths::Paths {
                data_dir: home.clone(),
                config_dir: home.clone(),
                db: home.join("certwatch.db"),
                runtime_dir: home,
            });
            if let Some(mut c) = Client::connect_to(&p) {
                for i in 0..1000 {
                    if c.request(json!({"type": "check", "host": format!("x{i}.k.test"), "connect": connect2})).is_err() {
                        break;
                    }
                }
            }
        });
        std::thread::sleep(Duration::from_millis(150));
        let mut child = d.child;
        let _ = child.0.kill(); // SIGKILL
        let _ = child.0.wait();
        let _ = writer.join();
    }
    let db = e.home().join("certwatch.db");
    assert_eq!(certwatch_tests::sqlite(&db, "PRAGMA integrity_check"), "ok");
    let hosts = certwatch_tests::sqlite(&db, "SELECT host FROM sites");
    let stored: std::collections::HashSet<&str> = hosts.lines().collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|h| !stored.contains(h.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "lost {} acknowledged sightings: {lost:?}",
        lost.len()
    );
}

#[test]
fn service_unit_is_valid() {
    let e = TestEnv::new();
    let daemon = bin("certwatchd");
    let out = e
        .cmd()
        .env("HOME", e.dir.path())
        .args(["service", "install", "--dry-run", "--daemon-path"])
        .arg(&daemon)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let unit: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert!(unit.contains(&format!("ExecStart={}", daemon.display())));
    // Install for real (without systemctl) into the temp HOME, idempotently.
    for _ in 0..2 {
        let out = e
            .cmd()
            .env("HOME", e.dir.path())
            .args(["service", "install", "--no-enable", "--daemon-path"])
            .arg(&daemon)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let path = e.dir.path().join(".config/systemd/user/certwatchd.service");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), unit);
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let mut err = String::new();
    err.push_str(&String::from_utf8_lossy(&out.stderr));
    // Only complaints about this unit count (the host's own units may be noisy).
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("certwatchd.service"))
        .collect();
    assert!(out.status.success() || ours.is_empty(), "{err}");
    assert!(ours.is_empty(), "{err}");
}

/// A watched site close to expiry: one `expires_soon` alert, titled as such.
#[test]
fn watched_site_expiring_soon_alerts() {
    let root = Ca::root("Expiry Root", "Expiry Trust");
    let int = root.intermediate("Expiry CA", "Expiry Trust");
    let srv = TlsServer::start(&int.leaf_valid(&["mx.test"], 85, 90));
    let e = TestEnv::new().public_roots(&[&root]);
    write_config(&e, "notifications = false\nwarn_days = 30\ncrit_days = 2\n");
    let _d = start_daemon(&e, None);
    let connect = format!("127.0.0.1:{}", srv.port());
    let out = e.run(&["watch", "add", "mx.test", "--connect", &connect]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = poll("an expiry alert", 20, || {
        let v = alerts_json(&e);
        (!v.is_empty()).then_some(v)
    });
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    // 5 days left: past warn_days = 30, not yet crit_days = 2.
    assert_eq!(alerts[0]["severity"], "warning", "{}", alerts[0]);
    assert!(
        alerts[0]["title"]
            .as_str()
            .unwrap()
            .contains("expires soon"),
        "{}",
        alerts[0]["title"]
    );
    let codes: Vec<&str> = alerts[0]["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes.contains(&"expires_soon"), "{codes:?}");
}

/// Certificate text is escaped for the notification server's markup: an
/// organisation `<a href=…>Bank</a>` reaches `Notify` as `&lt;a …&gt;`.
#[test]
fn notification_markup_is_escaped() {
    const EVIL: &str = "<a href=\"https://evil.test\">Bank</a>";
    let root_a = Ca::root("Plain Root", "Plain Trust");
    let root_b = Ca::root("Evil Root", EVIL);
    let srv = TlsServer::start(
        &root_a
            .intermediate("Plain CA", "Plain Trust")
            .leaf(&["bank.test"]),
    );
    let e = TestEnv::new().public_roots(&[&root_a, &root_b]);
    write_config(&e, "");
    let Some((_bus, _server, addr, log)) = session_bus(e.dir.path()) else {
        eprintln!("skipped: dbus-daemon or the notification server is not available");
        return;
    };
    let _d = start_daemon(&e, Some(&addr));
    let connect = format!("127.0.0.1:{}", srv.port());
    let check = || {
        request(
            &e,
            json!({"type": "check", "host": "bank.test", "connect": connect}),
        )
    };
    assert_eq!(check()["result"]["severity"], "ok");
    srv.swap(&root_b.intermediate("Evil CA", EVIL).leaf(&["bank.test"]));
    let r = check();
    assert!(
        matches!(
            r["result"]["severity"].as_str(),
            Some("warning" | "critical")
        ),
        "{r}"
    );
    let notes: Vec<Value> = poll("the Notify call", 10, || {
        let t = std::fs::read_to_string(&log).ok()?;
        let v: Vec<Value> = t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (!v.is_empty()).then_some(v)
    });
    let summary = notes[0]["summary"].as_str().unwrap();
    let body = notes[0]["body"].as_str().unwrap();
    for text in [summary, body] {
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
    }
    let escaped = "&lt;a href=\"https://evil.test\"&gt;Bank&lt;/a&gt;";
    assert!(summary.contains(escaped), "{summary}");
    assert!(body.contains(escaped), "{body}");
    // The stored alert keeps the text as it is (the CLI sanitises for the terminal).
    let out = e.run(&["alerts", "--json"]);
    let alert: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert!(alert["title"].as_str().unwrap().contains(EVIL), "{alert}");
}
