//! `certwatch check` over STARTTLS: real PostgreSQL and exim4 servers on
//! loopback (started here; skipped, saying why, when Debian's packages are
//! absent), protocol-faithful servers for IMAP, POP3, XMPP, LDAP, FTP and
//! submission, and servers that refuse, flood or stall.
//!
//! As root (CI), PostgreSQL refuses to run, so it runs as `nobody` (uid and
//! gid 65534) through `setpriv`, which execs (the child's pid is the
//! postmaster's) in a temp dir chowned to it; exim4 is given its own config
//! with `-C` (it then drops root and runs as `Debian-exim`, which owns the
//! temp dir), so nothing under /etc is read or touched.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certwatch_tests::postgres::{chown, free_port, is_root, Postgres};
use certwatch_tests::{codes, raw_server, starttls_server, stderr, stdout, Ca, Leaf, TestEnv};

fn pki() -> (Ca, Ca, Ca, Ca) {
    let root_a = Ca::root("Test Root A", "Alpha Trust");
    let int_a = root_a.intermediate("Alpha R10", "Alpha Encrypt");
    let root_b = Ca::root("Test Root B", "Beta Certs");
    let int_b = root_b.intermediate("Beta TLS CA", "Beta Certs");
    (root_a, int_a, root_b, int_b)
}

/// One line from the client, read byte by byte (never past the line).
fn line(s: &mut TcpStream) -> Option<String> {
    let mut v = Vec::new();
    let mut b = [0u8; 1];
    while !v.ends_with(b"\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        v.push(b[0]);
    }
    v.truncate(v.len() - 2);
    String::from_utf8(v).ok()
}

/// Reads until what the client sent ends with `end`.
fn until(s: &mut TcpStream, end: &str) -> Option<String> {
    let mut v = Vec::new();
    let mut b = [0u8; 1];
    while !v.ends_with(end.as_bytes()) {
        if s.read(&mut b).ok()? == 0 || v.len() > 4096 {
            return None;
        }
        v.push(b[0]);
    }
    String::from_utf8(v).ok()
}

fn say(s: &mut TcpStream, text: &str) -> bool {
    s.write_all(text.as_bytes()).is_ok()
}

/// ESMTP submission (RFC 6409, RFC 3207).
fn submission(s: &mut TcpStream) -> bool {
    say(s, "220 mx.test ESMTP ready\r\n");
    let ehlo = line(s).unwrap_or_default();
    if !ehlo.starts_with("EHLO ") {
        return !say(s, "503 5.5.1 EHLO first\r\n");
    }
    say(
        s,
        "250-mx.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 1000\r\n",
    );
    line(s).as_deref() == Some("STARTTLS") && say(s, "220 2.0.0 Ready to start TLS\r\n")
}

/// IMAP (RFC 3501, RFC 2595): any tags, CAPABILITY then STARTTLS.
fn imap(s: &mut TcpStream) -> bool {
    say(s, "* OK IMAP4rev1 test server ready\r\n");
    while let Some(l) = line(s) {
        let (tag, cmd) = l.split_once(' ').unwrap_or((&l, ""));
        match cmd.to_ascii_uppercase().as_str() {
            "CAPABILITY" => say(
                s,
                &format!("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n{tag} OK CAPABILITY completed\r\n"),
            ),
            "STARTTLS" => return say(s, &format!("{tag} OK Begin TLS negotiation now\r\n")),
            _ => say(s, &format!("{tag} BAD unknown command\r\n")),
        };
    }
    false
}

/// POP3 (RFC 2449 CAPA, RFC 2595 STLS).
fn pop3(s: &mut TcpStream) -> bool {
    say(s, "+OK POP3 server ready\r\n");
    line(s).as_deref() == Some("CAPA")
        && say(s, "+OK Capability list follows\r\nUSER\r\nSTLS\r\n.\r\n")
        && line(s).as_deref() == Some("STLS")
        && say(s, "+OK Begin TLS negotiation\r\n")
}

/// FTP (RFC 959 multi-line greeting, RFC 4217 AUTH TLS).
fn ftp(s: &mut TcpStream) -> bool {
    say(
        s,
        "220-Welcome to the test FTP server\r\n no anonymous access\r\n220 ready\r\n",
    );
    line(s).as_deref() == Some("AUTH TLS") && say(s, "234 AUTH TLS successful\r\n")
}

/// XMPP (RFC 6120 §5.4): records the stream header's `to`.
fn xmpp(to: Arc<Mutex<String>>) -> impl Fn(&mut TcpStream) -> bool {
    move |s| {
        let Some(header) = until(s, "'http://etherx.jabber.org/streams'>") else {
            return false;
        };
        *to.lock().unwrap() = header;
        say(
            s,
            "<?xml version='1.0'?><stream:stream from='mx.test' id='s1' version='1.0' \
             xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
             <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
             </stream:features>",
        );
        until(s, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").is_some()
            && say(s, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    }
}

const LDAP_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// LDAP (RFC 4511 §4.14): one ExtendedRequest, answered with `result`.
fn ldap(result: u8) -> impl Fn(&mut TcpStream) -> bool {
    move |s| {
        let mut head = [0u8; 2];
        if s.read_exact(&mut head).is_err() || head[0] != 0x30 {
            return false;
        }
        let mut body = vec![0u8; usize::from(head[1])];
        if s.read_exact(&mut body).is_err()
            || body.get(3) != Some(&0x77)
            || !body.ends_with(LDAP_OID)
        {
            return false;
        }
        let mut op = vec![
            0x0a,
            0x01,
            result,
            0x04,
            0x00,
            0x04,
            0x00,
            0x8a,
            LDAP_OID.len() as u8,
        ];
        op.extend_from_slice(LDAP_OID);
        let mut msg = vec![
            0x30,
            op.len() as u8 + 5,
            0x02,
            0x01,
            0x01,
            0x78,
            op.len() as u8,
        ];
        msg.extend(op);
        s.write_all(&msg).is_ok() && result == 0
    }
}

#[test]
fn faithful_servers_for_each_protocol() {
    let (root_a, int_a, root_b, _) = pki();
    let e = TestEnv::new().public_roots(&[&root_a, &root_b]);
    let leaf = int_a.leaf(&["mx.test"]);
    let to = Arc::new(Mutex::new(String::new()));
    let cases: Vec<(&str, &[&str], u16, std::net::SocketAddr)> = vec![
        (
            "submission://mx.test",
            &[],
            587,
            starttls_server(&leaf, submission),
        ),
        (
            "mx.test",
            &["--starttls", "submission"],
            587,
            starttls_server(&leaf, submission),
        ),
        ("imap://mx.test", &[], 143, starttls_server(&leaf, imap)),
        ("pop3://mx.test", &[], 110, starttls_server(&leaf, pop3)),
        (
            "xmpp://mx.test",
            &[],
            5222,
            starttls_server(&leaf, xmpp(to.clone())),
        ),
        ("ldap://mx.test", &[], 389, starttls_server(&leaf, ldap(0))),
        ("ftp://mx.test", &[], 21, starttls_server(&leaf, ftp)),
        (
            "mx.test:2121",
            &["--starttls", "ftp"],
            2121,
            starttls_server(&leaf, ftp),
        ),
    ];
    for (site, flags, port, addr) in cases {
        let connect = addr.to_string();
        let mut extra = vec!["--connect", connect.as_str()];
        extra.extend_from_slice(flags);
        let (code, v) = e.check_json(site, &extra);
        assert_eq!(code, 0, "{site}: {v}");
        assert_eq!(
            (v["host"].as_str(), v["port"].as_u64()),
            (Some("mx.test"), Some(port.into())),
            "{site}"
        );
        assert_eq!(v["trust"], "public", "{site}: {v}");
        assert_eq!(v["anchor"]["name"], "Test Root A", "{site}");
        assert_eq!(v["chain"].as_array().map(Vec::len), Some(2), "{site}");
    }
    assert!(
        to.lock().unwrap().contains("to='mx.test'"),
        "{}",
        to.lock().unwrap()
    );
    // The history key is host and port: the IMAP site is mx.test:143.
    let out = e.run(&["history", "mx.test:143", "--json"]);
    assert!(stdout(&out).contains("Alpha R10"), "{}", stdout(&out));
}

/// An SMTP server that greets, then runs `after_ehlo` on the connection.
fn smtp_then(after_ehlo: fn(&mut TcpStream)) -> std::net::SocketAddr {
    raw_server(move |mut s| {
        say(&mut s, "220 mx.test ESMTP\r\n");
        if line(&mut s).is_some_and(|l| l.starts_with("EHLO")) {
            after_ehlo(&mut s);
        }
    })
}

#[test]
fn refusals_floods_and_stalls_are_one_line_errors() {
    let e = TestEnv::new();
    let leaf = certwatch_tests::self_signed(&["mx.test"]);
    let cases: Vec<(&str, std::net::SocketAddr, &str)> = vec![
        (
            "smtp://mx.test",
            smtp_then(|s| {
                say(s, "250-mx.test\r\n250 8BITMIME\r\n");
            }),
            "the server does not offer STARTTLS (EHLO reply: \"mx.test | 8BITMIME\")",
        ),
        (
            "smtp://mx.test",
            smtp_then(|s| {
                say(s, "250-mx.test\r\n250 STARTTLS\r\n");
                line(s);
                say(s, "454 4.7.0 TLS not available due to local problem\r\n");
            }),
            "STARTTLS refused: 454 \"4.7.0 TLS not available due to local problem\"",
        ),
        (
            "smtp://mx.test",
            smtp_then(|s| while say(s, "250-PIPELINING\r\n") {}),
            "the server sent more than 65536 bytes before TLS (waiting for the EHLO reply)",
        ),
        (
            "smtp://mx.test",
            raw_server(|mut s| {
                say(&mut s, &format!("220 {}\r\n", "x".repeat(5000)));
            }),
            "the server sent a line longer than 4096 bytes (waiting for the greeting)",
        ),
        (
            "smtp://mx.test",
            smtp_then(|_| std::thread::sleep(Duration::from_secs(4))),
            "no answer within 1.0s (waiting for the EHLO reply)",
        ),
        (
            "imap://mx.test",
            starttls_server(&leaf, |s| {
                say(s, "* OK ready\r\n");
                line(s);
                !say(s, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na001 OK done\r\n")
            }),
            "the server does not offer STARTTLS (capabilities: \"IMAP4rev1 AUTH=PLAIN\")",
        ),
        (
            "ldap://mx.test",
            starttls_server(&leaf, ldap(2)),
            "the server does not offer StartTLS (resultCode 2 protocolError",
        ),
        (
            "postgres://mx.test",
            raw_server(|mut s| {
                let mut req = [0u8; 8];
                if s.read_exact(&mut req).is_ok() {
                    say(&mut s, "N");
                }
            }),
            "the server does not offer TLS (SSLRequest answered N: ssl is off)",
        ),
        (
            "ftp://mx.test",
            starttls_server(&leaf, |s| {
                say(s, "220 ftp\r\n");
                line(s);
                !say(s, "502 Command not implemented\r\n")
            }),
            "the server does not offer TLS (AUTH TLS: 502 \"Command not implemented\")",
        ),
    ];
    for (site, addr, want) in cases {
        let connect = addr.to_string();
        let started = Instant::now();
        let out = e.run(&[
            "check",
            site,
            "--connect",
            &connect,
            "--timeout",
            "1",
            "--no-store",
        ]);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{want}: too slow"
        );
        assert_eq!(certwatch_tests::code(&out), 3, "{want}: {}", stderr(&out));
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("UNKNOWN  STARTTLS ("), "{text}");
        assert!(text.contains(want), "{text:?} lacks {want:?}");
        let (code, v) = e.check_json(
            site,
            &["--connect", &connect, "--timeout", "1", "--no-store"],
        );
        assert_eq!(
            (code, v["error"]["kind"].as_str()),
            (3, Some("starttls")),
            "{v}"
        );
    }
}

// ----------------------------------------------------------- real servers

/// A server process, stopped on drop (`kill -INT`, then SIGKILL after 5 s).
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Spawns `cmd` (stderr to `log`) and waits until `port` accepts connections.
    fn start(cmd: &mut Command, log: PathBuf, port: u16) -> Daemon {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, log }.ready(port)
    }

    fn ready(mut self, port: u16) -> Daemon {
        let until = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "server exited ({st}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < until, "server not listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The records, a re-check, and a CA change after the server restarts with
/// a certificate from another CA: `start` serves a leaf for `name`.
fn ca_change(
    url: &str,
    name: &str,
    port: u16,
    start: &mut dyn FnMut(&Leaf) -> Box<dyn std::any::Any>,
) {
    let (root_a, int_a, root_b, int_b) = pki();
    let leaves = [int_a.leaf(&[name]), int_b.leaf(&[name])];
    let e = TestEnv::new().public_roots(&[&root_a, &root_b]);
    let connect = format!("127.0.0.1:{port}");
    let server = start(&leaves[0]);
    let (code, v) = e.check_json(url, &["--connect", &connect]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(
        (v["trust"].as_str(), v["anchor"]["name"].as_str()),
        (Some("public"), Some("Test Root A")),
        "{v}"
    );
    assert!(codes(&v).contains(&"first_seen".into()), "{v}");
    let (code, v) = e.check_json(url, &["--connect", &connect]);
    assert_eq!(code, 0, "{v}");
    assert!(codes(&v).contains(&"unchanged".into()), "{v}");
    drop(server);
    let _server = start(&leaves[1]);
    let (code, v) = e.check_json(url, &["--connect", &connect]);
    assert_eq!((code, v["severity"].as_str()), (1, Some("warning")), "{v}");
    assert!(codes(&v).contains(&"ca_changed".into()), "{v}");
    assert_eq!(v["anchor"]["name"], "Test Root B", "{v}");
}

#[test]
fn real_postgresql() {
    let Some(mut pg) = Postgres::init_tls() else {
        return;
    };
    let port = pg.port;
    let mut start = |leaf: &Leaf| -> Box<dyn std::any::Any> {
        pg.kill();
        pg.tls_files(leaf);
        pg.start();
        Box::new(())
    };
    ca_change("postgres://app@db.test/app", "db.test", port, &mut start);
}

#[test]
fn real_exim4() {
    let Ok(exim) = which("exim4") else {
        eprintln!("skipped: no exim4 (Debian package exim4-daemon-light)");
        return;
    };
    if !is_root() {
        eprintln!("skipped: exim4 -C runs a test daemon only when started as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let config = d.join("exim.conf");
    std::fs::write(
        &config,
        format!(
            "keep_environment =\nprimary_hostname = mx.test\nspool_directory = {d}/spool\n\
             log_file_path = {d}/%slog\npid_file_path = {d}/exim.pid\n\
             exim_user = Debian-exim\nexim_group = Debian-exim\n\
             daemon_smtp_ports = {port}\nlocal_interfaces = 127.0.0.1\n\
             tls_advertise_hosts = *\ntls_certificate = {d}/cert.pem\ntls_privatekey = {d}/key.pem\n\
             acl_smtp_rcpt = refuse\nbegin acl\nrefuse:\n  deny\n",
            d = d.display()
        ),
    )
    .unwrap();
    let mut start = |leaf: &Leaf| -> Box<dyn std::any::Any> {
        std::fs::write(d.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(d.join("key.pem"), leaf.key_pem()).unwrap();
        // Exim writes its logs and spool as Debian-exim; its config stays root's.
        chown(d, "Debian-exim:");
        chown(&config, "root:");
        let log = d.join("exim.stderr");
        let mut cmd = Command::new(&exim);
        cmd.args(["-bdf", "-oX", &port.to_string(), "-C"])
            .arg(&config);
        Box::new(Daemon::start(&mut cmd, log, port))
    };
    ca_change("smtp://mx.test", "mx.test", port, &mut start);
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
