//! The daemon test harness, shared by the daemon's own tests and those of
//! the host hub, the metrics textfile, the pipeline and CCADB: the real
//! `certwatchd` on a temp `CERTWATCH_HOME`, a private D-Bus session bus with
//! the recording notification server, requests over its socket, its config.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certwatch_engine::client::Client;
use certwatch_tests::{bin, TestEnv};
use serde_json::Value;

pub(crate) struct Kill(pub(crate) Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn poll<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private session bus and a notification server on it, or None (skip).
pub(crate) fn session_bus(dir: &Path) -> Option<(Kill, Kill, String, PathBuf)> {
    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .arg(format!("--address=unix:path={}", dir.join("bus").display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut addr = String::new();
    BufReader::new(bus.stdout.take()?)
        .read_line(&mut addr)
        .ok()?;
    let addr = addr.trim().to_string();
    let bus = Kill(bus);
    let log = dir.join("notifications.jsonl");
    let mut server = Command::new(bin("notify-server"))
        .arg(&log)
        .env("DBUS_SESSION_BUS_ADDRESS", &addr)
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut ready = String::new();
    BufReader::new(server.stdout.take()?)
        .read_line(&mut ready)
        .ok()?;
    if ready.trim() != "ready" {
        return None;
    }
    Some((bus, Kill(server), addr, log))
}

pub(crate) struct Daemon {
    pub(crate) child: Kill,
    /// The daemon's stderr (its log), a file.
    pub(crate) stderr: PathBuf,
}

pub(crate) fn start_daemon(e: &TestEnv, bus: Option<&str>) -> Daemon {
    start_daemon_env(e, bus, &[])
}

/// [`start_daemon`] with extra environment variables.
pub(crate) fn start_daemon_env(e: &TestEnv, bus: Option<&str>, env: &[(&str, &str)]) -> Daemon {
    let stderr = e
        .dir
        .path()
        .join(format!("certwatchd-{}.log", std::process::id()));
    let mut c = Command::new(bin("certwatchd"));
    c.env("CERTWATCH_HOME", e.home())
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .envs(env.iter().copied());
    match bus {
        Some(a) => c.env("DBUS_SESSION_BUS_ADDRESS", a),
        None => c.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
    };
    let child = Kill(c.spawn().unwrap());
    let paths = paths(e);
    poll("the daemon's socket", 20, || {
        Client::connect(&paths).map(|_| ())
    });
    Daemon { child, stderr }
}

pub(crate) fn paths(e: &TestEnv) -> certwatch_engine::paths::Paths {
    struct Home(PathBuf);
    impl certwatch_engine::probe::proxy::Env for Home {
        fn var(&self, name: &str) -> Option<String> {
            (name == "CERTWATCH_HOME").then(|| self.0.display().to_string())
        }
    }
    certwatch_engine::paths::Paths::resolve(&Home(e.home()), None).unwrap()
}

pub(crate) fn request(e: &TestEnv, req: Value) -> Value {
    Client::connect(&paths(e))
        .expect("daemon")
        .request(req)
        .unwrap()
}

pub(crate) fn write_config(e: &TestEnv, extra: &str) {
    std::fs::create_dir_all(e.home()).unwrap();
    let roots = e.roots.as_ref().unwrap();
    let empty = e.dir.path().join("no-local-roots.pem");
    std::fs::write(&empty, "").unwrap();
    std::fs::write(
        e.home().join("config.toml"),
        format!(
            // No fetch of the CT log list from the internet in tests; the
            // refresh is tested against a local server (ct_builtin.rs).
            "roots = {:?}\nlocal_roots = {:?}\ncaa = false\n{extra}ct_refresh = false\n{}",
            roots.display().to_string(),
            empty.display().to_string(),
            // Tests never reach the Internet: no weekly CCADB download
            // unless the test serves one.
            if extra.contains("ccadb_url") {
                ""
            } else {
                "ccadb_refresh = false\n"
            }
        ),
    )
    .unwrap();
}

/// `certwatch alerts --json`, one object per line.
pub(crate) fn alerts_json(e: &TestEnv) -> Vec<Value> {
    let out = e.run(&["alerts", "--json"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub(crate) fn sighting_count(e: &TestEnv, site: &str) -> usize {
    let out = e.run(&["history", site, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["sightings"].as_array().map(Vec::len).unwrap_or(0)
}
