//! Concurrency: the daemon, two CLIs and eight native hosts writing to one
//! history at once for a minute (CERTWATCH_CONCURRENCY_SECS): every request
//! succeeds, every acknowledged sighting is stored, the database is intact.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certwatch_engine::client::Client;
use certwatch_engine::install::browser::CHROMIUM_ID;
use certwatch_tests::{bin, sqlite, Ca, TestEnv, TlsServer};
use serde_json::{json, Value};

#[test]
fn daemon_two_clis_and_eight_hosts_for_a_minute() {
    let secs: u64 = std::env::var("CERTWATCH_CONCURRENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let root = Ca::root("C Root", "C");
    let srv = TlsServer::start(
        &root
            .intermediate("C CA", "C")
            .leaf(&["*.c.test", "localhost"]),
    );
    let e = TestEnv::new().public_roots(&[&root]);
    let empty = e.dir.path().join("none.pem");
    std::fs::write(&empty, "").unwrap();
    std::fs::create_dir_all(e.home()).unwrap();
    std::fs::write(
        e.home().join("config.toml"),
        format!(
            "roots = {:?}\nlocal_roots = {:?}\ncaa = false\nnotifications = false\nccadb_refresh = false\nct_refresh = false\n",
            e.roots.as_ref().unwrap().display().to_string(),
            empty.display().to_string()
        ),
    )
    .unwrap();
    // Build every binary before the clock starts.
    let (cw, host, daemon) = (bin("certwatch"), bin("certwatch-host"), bin("certwatchd"));
    let mut d = Command::new(&daemon)
        .env("CERTWATCH_HOME", e.home())
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sock = e.home().join(certwatch_engine::client::SOCKET_NAME);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Client::connect_to(&sock).is_none() {
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let connect = format!("127.0.0.1:{}", srv.port());
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let host_acks = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();

    // The daemon, asked over its socket.
    {
        let (stop, errors, acked, connect, sock) = (
            stop.clone(),
            errors.clone(),
            acked.clone(),
            connect.clone(),
            sock.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut c = Client::connect_to(&sock).unwrap();
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let h = format!("d{i}.c.test");
                match c.request(json!({"type": "check", "host": h, "connect": connect})) {
                    Ok(r) if r["ok"] == true => acked.lock().unwrap().push(h),
                    other => errors.lock().unwrap().push(format!("daemon: {other:?}")),
                }
                i += 1;
            }
        }));
    }
    // Two CLIs, bulk checks.
    for k in 0..2 {
        let (stop, errors, acked, connect, cw) = (
            stop.clone(),
            errors.clone(),
            acked.clone(),
            connect.clone(),
            cw.clone(),
        );
        let home = e.home();
        let roots = e.roots.clone().unwrap();
        let empty = empty.clone();
        let list = e.dir.path().join(format!("list{k}.txt"));
        threads.push(std::thread::spawn(move || {
            let mut round = 0;
            while !stop.load(Ordering::SeqCst) {
                let names: Vec<String> = (0..25)
                    .map(|i| format!("c{k}-{round}-{i}.c.test"))
                    .collect();
                std::fs::write(&list, names.join("\n")).unwrap();
                let out = Command::new(&cw)
                    .env("CERTWATCH_HOME", &home)
                    .arg("--roots")
                    .arg(&roots)
                    .arg("--local-roots")
                    .arg(&empty)
                    .args([
                        "check",
                        "--no-caa",
                        "--json",
                        "--jobs",
                        "4",
                        "--connect",
                        &connect,
                        "--file",
                    ])
                    .arg(&list)
                    .output()
                    .unwrap();
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    let v: Value = serde_json::from_str(line).unwrap();
                    match v["severity"].as_str() {
                        Some("ok") => acked
                            .lock()
                            .unwrap()
                            .push(v["host"].as_str().unwrap().to_string()),
                        _ => errors.lock().unwrap().push(format!("cli: {line}")),
                    }
                }
                if out.status.code() != Some(0) {
                    errors.lock().unwrap().push(format!(
                        "cli exit {:?}: {}",
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                round += 1;
            }
        }));
    }
    // Eight native hosts, as Chromium drives them (host only; the host probes).
    for _ in 0..8 {
        let (stop, errors, host_acks, host, port) = (
            stop.clone(),
            errors.clone(),
            host_acks.clone(),
            host.clone(),
            srv.port(),
        );
        let home = e.home();
        let roots = e.roots.clone().unwrap();
        let empty = e.dir.path().join("none.pem");
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let mut child = Command::new(&host)
                    .arg(format!("chrome-extension://{CHROMIUM_ID}/"))
                    .env("CERTWATCH_HOME", &home)
                    .env("CERTWATCH_ROOTS", &roots)
                    .env("CERTWATCH_LOCAL_ROOTS", &empty)
                    .env("CERTWATCH_NO_CAA", "1")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let mut input = Vec::new();
                for i in 0..10 {
                    let body = json!({"type": "check", "host": "localhost", "port": port, "id": i})
                        .to_string();
                    input.extend_from_slice(&(body.len() as u32).to_ne_bytes());
                    input.extend_from_slice(body.as_bytes());
                }
                child.stdin.take().unwrap().write_all(&input).unwrap();
                let mut out = Vec::new();
                child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
                let _ = child.wait();
                let mut rest = out.as_slice();
                let mut n = 0;
                while rest.len() >= 4 {
                    let len = u32::from_ne_bytes(rest[..4].try_into().unwrap()) as usize;
                    let v: Value = serde_json::from_slice(&rest[4..4 + len]).unwrap();
                    if v["ok"] == true {
                        host_acks.fetch_add(1, Ordering::SeqCst);
                    } else {
                        errors.lock().unwrap().push(format!("host: {v}"));
                    }
                    rest = &rest[4 + len..];
                    n += 1;
                }
                if n != 10 {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("host answered {n} of 10"));
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &d.id().to_string()])
        .status();
    let _ = d.wait();
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    let db = e.home().join("certwatch.db");
    assert_eq!(sqlite(&db, "PRAGMA integrity_check"), "ok");
    let stored: std::collections::HashSet<String> = sqlite(&db, "SELECT host FROM sites")
        .lines()
        .map(str::to_string)
        .collect();
    let acked = acked.lock().unwrap();
    let lost: Vec<&String> = acked.iter().filter(|h| !stored.contains(*h)).collect();
    assert!(
        lost.is_empty(),
        "lost {} of {} acknowledged sightings",
        lost.len(),
        acked.len()
    );
    // Every host check was one repeated sighting of localhost:PORT.
    let count: usize = sqlite(
        &db,
        &format!("SELECT SUM(count) FROM sightings JOIN sites ON sites.id = sightings.site_id WHERE host = 'localhost' AND port = {}", srv.port()),
    )
    .parse()
    .unwrap_or(0);
    let host_acks = host_acks.load(Ordering::SeqCst);
    assert!(
        host_acks > 0 && count >= host_acks,
        "host acks {host_acks}, stored {count}"
    );
    eprintln!(
        "concurrency: {} daemon/CLI sightings and {host_acks} host checks in {secs}s, 0 errors",
        acked.len()
    );
}
