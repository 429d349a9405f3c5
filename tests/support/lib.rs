//! Test support: a PKI made at test time (rcgen), real TLS servers on
//! 127.0.0.1, a CONNECT proxy, and a per-test environment that drives the
//! real `certwatch` binaries against a temporary `CERTWATCH_HOME`.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod corpus;
pub mod ctlog;
pub mod dns;

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

/// A certificate authority made at test time.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate, DER.
    pub der: Vec<u8>,
    /// Issuers above this CA (DER, nearest first), excluding the root.
    pub parents: Vec<Vec<u8>>,
    root: bool,
}

fn dn(params: &mut CertificateParams, cn: &str, org: Option<&str>) {
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(o) = org {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
}

fn ca_params(cn: &str, org: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    dn(&mut p, cn, org);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(3650);
    p.not_after = now + time::Duration::days(3650);
    p
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str, org: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, Some(org));
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            params,
            key,
            der,
            parents: Vec::new(),
            root: true,
        }
    }

    /// An intermediate signed by `self`.
    pub fn intermediate(&self, cn: &str, org: &str) -> Ca {
        self.intermediate_with_key(cn, org, KeyPair::generate().unwrap())
    }

    /// An intermediate signed by `self` with a given key.
    pub fn intermediate_with_key(&self, cn: &str, org: &str, key: KeyPair) -> Ca {
        let params = ca_params(cn, Some(org));
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        let mut parents = Vec::new();
        if !self.is_root() {
            parents.push(self.der.clone());
            parents.extend(self.parents.iter().cloned());
        }
        Ca {
            params,
            key,
            der,
            parents,
            root: false,
        }
    }

    fn is_root(&self) -> bool {
        self.root
    }

    /// PEM of this CA's certificate.
    pub fn pem(&self) -> String {
        pem(&self.der)
    }

    /// A leaf for `names`, valid from `not_before_days` ago for `days` days.
    pub fn leaf_valid(&self, names: &[&str], not_before_days: i64, days: i64) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        let not_before = now - time::Duration::days(not_before_days);
        let not_after = not_before + time::Duration::days(days);
        self.leaf_at(names, not_before, not_after, &KeyPair::generate().unwrap())
    }

    /// A leaf valid over absolute times, with a given key (PKCS#8 DER; RSA or ECDSA).
    pub fn leaf_at(
        &self,
        names: &[&str],
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
        key: &KeyPair,
    ) -> Leaf {
        self.leaf_from(&leaf_params(names, not_before, not_after), key)
    }

    /// A leaf from caller-made `params` and `key` (e.g. with custom extensions).
    pub fn leaf_from(&self, params: &CertificateParams, key: &KeyPair) -> Leaf {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(key, &issuer).unwrap().der().to_vec();
        let mut chain = vec![der];
        if !self.is_root() {
            chain.push(self.der.clone());
            chain.extend(self.parents.iter().cloned());
        }
        Leaf {
            chain,
            key_der: key.serialize_der(),
        }
    }

    /// A 90-day leaf for `names`, issued yesterday.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_valid(names, 1, 90)
    }
}

/// Parameters of a server leaf for `names` valid over the given times.
pub fn leaf_params(
    names: &[&str],
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    dn(&mut p, names.first().copied().unwrap_or("leaf"), None);
    p.is_ca = IsCa::ExplicitNoCa;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

/// A fresh RSA-2048 key (ring cannot generate RSA; openssl does).
pub fn rsa_key() -> KeyPair {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl genpkey");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).unwrap();
    KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
}

/// A self-signed leaf (no CA).
pub fn self_signed(names: &[&str]) -> Leaf {
    self_signed_with(names, &KeyPair::generate().unwrap())
}

/// A self-signed leaf with a given key.
pub fn self_signed_with(names: &[&str], key: &KeyPair) -> Leaf {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    dn(&mut p, names[0], None);
    let der = p.self_signed(key).unwrap().der().to_vec();
    Leaf {
        chain: vec![der],
        key_der: key.serialize_der(),
    }
}

/// A server certificate chain (leaf first, root excluded) and its key.
#[derive(Clone)]
pub struct Leaf {
    /// DER chain, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 DER private key.
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// The chain as PEM.
    pub fn pem(&self) -> String {
        self.chain.iter().map(|d| pem(d)).collect()
    }
}

/// PEM-encodes one certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

#[derive(Debug)]
struct Swappable(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Swappable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|g| g.clone())
    }
}

fn certified(leaf: &Leaf) -> Arc<CertifiedKey> {
    let provider = rustls::crypto::ring::default_provider();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone()));
    let signing = provider.key_provider.load_private_key(key).unwrap();
    let chain = leaf
        .chain
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    Arc::new(CertifiedKey::new(chain, signing))
}

/// A real TLS server on 127.0.0.1 whose certificate can be swapped.
pub struct TlsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    resolver: Arc<Swappable>,
    stop: Arc<AtomicBool>,
    /// Handshakes completed.
    pub handshakes: Arc<AtomicUsize>,
}

impl TlsServer {
    /// Starts serving `leaf` on an ephemeral port.
    pub fn start(leaf: &Leaf) -> TlsServer {
        Self::start_on("127.0.0.1:0", leaf)
    }

    /// Starts serving `leaf` on `bind`.
    pub fn start_on(bind: &str, leaf: &Leaf) -> TlsServer {
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let resolver = Arc::new(Swappable(RwLock::new(certified(leaf))));
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let handshakes = Arc::new(AtomicUsize::new(0));
        {
            let stop = stop.clone();
            let handshakes = handshakes.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut tcp) = conn else { continue };
                    let config = config.clone();
                    let handshakes = handshakes.clone();
                    std::thread::spawn(move || {
                        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                        let Ok(mut conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        while conn.is_handshaking() {
                            if conn.complete_io(&mut tcp).is_err() {
                                return;
                            }
                        }
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        let _ = conn.complete_io(&mut tcp);
                    });
                }
            });
        }
        TlsServer {
            addr,
            resolver,
            stop,
            handshakes,
        }
    }

    /// Serves `leaf` from now on.
    pub fn swap(&self, leaf: &Leaf) {
        *self.resolver.0.write().unwrap() = certified(leaf);
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// A raw TCP server that runs `handler` for each connection (hostile servers).
pub fn raw_server(handler: impl Fn(TcpStream) + Send + Sync + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let h = handler.clone();
            std::thread::spawn(move || h(conn));
        }
    });
    addr
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1 that records the targets asked for.
pub struct ConnectProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// CONNECT targets seen.
    pub targets: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    /// Starts the proxy; it tunnels every CONNECT to `upstream` (whatever the target).
    pub fn start(upstream: SocketAddr) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let t2 = targets.clone();
        std::thread::spawn(move || {
            for mut client in listener.incoming().flatten() {
                let targets = t2.clone();
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let line = String::from_utf8_lossy(&head)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    targets.lock().unwrap().push(target);
                    let Ok(server) = TcpStream::connect(upstream) else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
                        return;
                    };
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    pipe(client, server);
                });
            }
        });
        ConnectProxy { addr, targets }
    }
}

fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

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
