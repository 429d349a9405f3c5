//! A real PostgreSQL for tests, from Debian's `postgresql` package:
//! `initdb` and `postgres` on a temp directory, listening on 127.0.0.1 (a
//! free port) and a Unix socket in that directory, trust authentication.
//! As root (CI) PostgreSQL refuses to run, so it runs as `nobody` through
//! `setpriv` (which execs: the child's pid is the postmaster's).
//! [`Postgres::kill`] is a SIGKILL of the postmaster (a crash); [`Postgres::start`]
//! again recovers the same data directory.

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The newest `/usr/lib/postgresql/*/bin` with `postgres` and `initdb`.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|d| d.path().join("bin"))
        .filter(|b| b.join("postgres").is_file() && b.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
    });
    found.pop()
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `chown -R owner path`.
pub fn chown(path: &Path, owner: &str) {
    let ok = Command::new("chown")
        .args(["-R", owner])
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success(), "chown {owner} {}", path.display());
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running (or killed) test PostgreSQL.
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    child: Option<Child>,
    extra: Vec<String>,
}

impl Postgres {
    /// Initialises a cluster and starts it; `None` (with the reason
    /// printed as "skipped: …") when the package or setpriv is missing.
    /// `extra` are `-c name=value` settings.
    pub fn new(extra: &[&str]) -> Option<Postgres> {
        let mut pg = Postgres::init(extra)?;
        pg.start();
        Some(pg)
    }

    /// [`Postgres::new`] without starting it. In `extra`, `{dir}` is the
    /// temp directory.
    pub fn init(extra: &[&str]) -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            eprintln!("skipped: no /usr/lib/postgresql/*/bin/postgres (Debian package postgresql)");
            return None;
        };
        if is_root() && Command::new("setpriv").arg("--version").output().is_err() {
            eprintln!("skipped: running as root and setpriv (util-linux) is missing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            chown(dir.path(), "65534:65534");
        }
        let mut pg = Postgres {
            bin,
            dir,
            port: free_port(),
            child: None,
            extra: Vec::new(),
        };
        let dir = pg.dir.path().display().to_string();
        pg.extra = extra.iter().map(|s| s.replace("{dir}", &dir)).collect();
        let init = pg
            .as_server("initdb")
            .arg("-D")
            .arg(pg.data())
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--locale=C",
                "-E",
                "UTF8",
            ])
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        Some(pg)
    }

    /// [`Postgres::init`] with TLS on, from `server.crt` / `server.key` in
    /// its directory (write them with [`Postgres::tls_files`] before
    /// [`Postgres::start`]).
    pub fn init_tls() -> Option<Postgres> {
        Postgres::init(&[
            "ssl=on",
            "ssl_cert_file={dir}/server.crt",
            "ssl_key_file={dir}/server.key",
            "fsync=off",
        ])
    }

    /// Writes `leaf` as `server.crt` / `server.key` in [`Postgres::dir`]
    /// (the key private to the server's user, as PostgreSQL wants).
    pub fn tls_files(&self, leaf: &crate::Leaf) {
        let (crt, key) = (self.dir().join("server.crt"), self.dir().join("server.key"));
        std::fs::write(&crt, leaf.pem()).unwrap();
        std::fs::write(&key, leaf.key_pem()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        if is_root() {
            chown(self.dir(), "65534:65534");
        }
    }

    fn as_server(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut c = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        c.stdin(Stdio::null());
        c
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The temp directory (the Unix socket's, and for files the server reads).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the server (again, after [`Postgres::kill`]) and waits until
    /// it accepts connections.
    pub fn start(&mut self) {
        if is_root() {
            chown(self.dir.path(), "65534:65534");
        }
        let log = self.dir.path().join("postgres.log");
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let mut cmd = self.as_server("postgres");
            cmd.arg("-D")
                .arg(self.data())
                .arg("-k")
                .arg(self.dir.path())
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
            for e in &self.extra {
                cmd.arg("-c").arg(e);
            }
            let mut child = cmd
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap();
            let ready = loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break false;
                }
                if TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                    && self.psql_raw("SELECT 1").status.success()
                {
                    break true;
                }
                if Instant::now() > until {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if ready {
                self.child = Some(child);
                return;
            }
            let _ = child.kill();
            let _ = child.wait();
            // A killed server's backends may still hold the data directory
            // for a moment; try again until the deadline.
            assert!(
                Instant::now() < until,
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL of the postmaster: a crash, not a shutdown.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Wait until the port no longer answers.
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The URL of `user` on database `postgres` over TCP.
    pub fn url(&self, user: &str) -> String {
        format!("postgresql://{user}@127.0.0.1:{}/postgres", self.port)
    }

    fn psql_raw(&self, sql: &str) -> Output {
        self.psql_as_raw("postgres", sql)
    }

    fn psql_as_raw(&self, user: &str, sql: &str) -> Output {
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `sql` as the superuser; panics on failure; returns stdout.
    pub fn psql(&self, sql: &str) -> String {
        let o = self.psql_raw(sql);
        assert!(
            o.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Runs `sql` as `user`: Ok(stdout) or Err(stderr).
    pub fn psql_as(&self, user: &str, sql: &str) -> Result<String, String> {
        let o = self.psql_as_raw(user, sql);
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).trim().to_string())
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().to_string();
            // Fast shutdown (SIGINT), then SIGKILL.
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
