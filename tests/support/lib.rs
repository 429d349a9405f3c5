//! Test support: a PKI made at test time (rcgen), real TLS servers on
//! 127.0.0.1, a CONNECT proxy, and a per-test environment that drives the
//! real `certwatch` binaries against a temporary `CERTWATCH_HOME`.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod ccadb;
pub mod corpus;
pub mod ctlog;
pub mod ctsearch;
pub mod dns;
mod pki;
pub mod postgres;
mod servers;
pub mod tiledlog;

pub use ccadb::*;
pub use pki::*;
pub use servers::*;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `../shared/data` beside the project, if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = workspace_root().join("../shared/data");
    p.is_dir().then_some(p)
}

/// The binaries certwatch ships; the tests drive them built exactly as
/// shipped (see [`bin`]).
pub const SHIPPED: [(&str, &str); 3] = [
    ("certwatch", "certwatch-cli"),
    ("certwatch-host", "certwatch-host"),
    ("certwatchd", "certwatchd"),
];

/// A real chain of `../shared/data/chains/x509_limbo_online`: the PEM (leaf,
/// then the intermediates as served) and the limbo validation time
/// (RFC 3339), or None when the file is absent or not a limbo test case.
pub fn limbo_chain(data: &Path, site: &str) -> Option<(String, String)> {
    let p = data.join(format!("chains/x509_limbo_online/{site}.limbo.json"));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    let t = v.get("testcases").and_then(|t| t.get(0)).unwrap_or(&v);
    let mut s = t["peer_certificate"].as_str()?.to_string();
    for i in t["untrusted_intermediates"].as_array()? {
        s.push('\n');
        s.push_str(i.as_str()?);
    }
    Some((s, t["validation_time"].as_str()?.to_string()))
}

/// Path of a workspace binary. The first call in a test process builds what
/// the tests drive (a no-op when up to date), so tests never drive a stale
/// binary:
/// - the shipped binaries ([`SHIPPED`]) each with `cargo build -p PACKAGE`
///   on its own, into `target/shipped/`: a workspace build would unify
///   features across packages (the daemon's and the tests' into the CLI),
///   and the tests would drive binaries that are not the ones a user gets;
/// - the test helpers (`ipc-client`, `notify-server`, …) with the
///   workspace, as `cargo test --workspace` builds them.
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/it-xxxx (tests) or target/<profile>/x (bins) → target/<profile>/
    let mut dir = exe.parent().unwrap().to_path_buf();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().unwrap().to_path_buf();
    }
    let profile = dir.file_name().unwrap().to_string_lossy().to_string();
    let target = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let shipped_target = target.join("shipped");
    BUILT.get_or_init(|| {
        if std::env::var_os("CERTWATCH_TEST_NO_BUILD").is_some() {
            return;
        }
        let cargo = |args: &[&str], target_dir: &Path| {
            let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            c.current_dir(workspace_root())
                .args(["build", "--quiet"])
                .args(args)
                .env("CARGO_TARGET_DIR", target_dir);
            if profile == "release" {
                c.arg("--release");
            }
            let st = c.status().expect("cargo build");
            assert!(st.success(), "cargo build {args:?} failed");
        };
        // --all-targets: the same feature set as `cargo test --workspace`, so
        // this build never replaces the artifacts the test run uses.
        cargo(&["--workspace", "--all-targets"], &target);
        for (bin, package) in SHIPPED {
            cargo(&["-p", package, "--bin", bin], &shipped_target);
        }
    });
    let path = if SHIPPED.iter().any(|(b, _)| *b == name) {
        shipped_target.join(&profile).join(name)
    } else {
        dir.join(name)
    };
    assert!(path.exists(), "binary {} not found", path.display());
    path
}

/// A per-test environment: a temp `CERTWATCH_HOME` plus test roots.
pub struct TestEnv {
    /// The temp dir (kept alive).
    pub dir: tempfile::TempDir,
    /// `--roots` file, when set.
    pub roots: Option<PathBuf>,
    /// `--local-roots` file, when set.
    pub local_roots: Option<PathBuf>,
}

impl TestEnv {
    /// A new empty environment with no public or local roots configured.
    pub fn new() -> TestEnv {
        TestEnv {
            dir: tempfile::tempdir().unwrap(),
            roots: None,
            local_roots: None,
        }
    }

    /// `CERTWATCH_HOME`.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `name` in the temp dir (beside, not inside, `CERTWATCH_HOME`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to [`TestEnv::path`] `name`; returns the path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes `cas` as the public roots file.
    pub fn public_roots(mut self, cas: &[&Ca]) -> Self {
        let p = self.dir.path().join("public-roots.pem");
        std::fs::write(&p, cas.iter().map(|c| c.pem()).collect::<String>()).unwrap();
        self.roots = Some(p);
        self
    }

    /// Writes `cas` as the local roots file.
    pub fn local(mut self, cas: &[&Ca]) -> Self {
        let p = self.dir.path().join("local-roots.pem");
        std::fs::write(&p, cas.iter().map(|c| c.pem()).collect::<String>()).unwrap();
        self.local_roots = Some(p);
        self
    }

    /// A `certwatch` command with this environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin("certwatch"));
        c.env("CERTWATCH_HOME", self.home())
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env("NO_COLOR", "1");
        let empty = self.dir.path().join("empty-roots.pem");
        if !empty.exists() {
            // An empty local store: tests never depend on the machine's OS roots.
            std::fs::write(&empty, "").unwrap();
        }
        if let Some(r) = &self.roots {
            c.arg("--roots").arg(r);
        }
        let ccadb = self.path("ccadb.csv");
        if ccadb.exists() {
            c.env("CERTWATCH_CCADB", ccadb);
        }
        // Tests never depend on the machine's OS store: an empty file = no local roots.
        c.arg("--local-roots")
            .arg(self.local_roots.as_ref().unwrap_or(&empty));
        c
    }

    /// Runs `certwatch ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `certwatch check SITE --json` and parses the one JSON line.
    pub fn check_json(&self, site: &str, extra: &[&str]) -> (i32, serde_json::Value) {
        let mut args = vec!["check", site, "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().next().unwrap_or_else(|| {
            panic!(
                "no JSON output (exit {code}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, serde_json::from_str(line).unwrap())
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// A command's exit code (-1 when a signal ended it).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A command's stdout, lossily decoded.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's stderr, lossily decoded.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The first line of a command's stdout as JSON; panics showing both streams.
pub fn json_line(o: &Output) -> serde_json::Value {
    let s = stdout(o);
    serde_json::from_str(s.lines().next().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout={s:?} stderr={:?}", stderr(o)))
}

/// SHA-256 of a certificate's SubjectPublicKeyInfo, standard base64.
pub fn spki_b64(der: &[u8]) -> String {
    certwatch_engine::model::parse_cert(der)
        .unwrap()
        .spki_sha256
}

/// The reason codes of a JSON verdict.
pub fn codes(v: &serde_json::Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a JSON verdict carries the reason `code`.
pub fn has_code(v: &serde_json::Value, code: &str) -> bool {
    codes(v).iter().any(|c| c == code)
}

/// Runs `sql` on the SQLite file `db` with the system's python3 (an
/// independent reader: not certwatch's own code) and returns its rows, one
/// per line, columns separated by spaces.
pub fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nfor r in c.execute(sys.argv[2]): print(*r)",
        ])
        .arg(db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
