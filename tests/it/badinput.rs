//! Bad input: one clear error line, exit 3, never a panic.

use std::io::{Read, Write};
use std::time::Duration;

use certwatch_tests::{raw_server, Ca, TestEnv, TlsServer};

fn unknown(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    format!("{stdout}{stderr}")
}

#[test]
fn network_failures_are_unknown() {
    let e = TestEnv::new();
    // Refused.
    let text = unknown(&e.run(&["check", "127.0.0.1:1"]));
    assert!(
        text.contains("cannot connect") && text.contains("refused"),
        "{text}"
    );
    // Unknown host (.invalid never resolves).
    let text = unknown(&e.run(&["check", "no-such-host.invalid"]));
    assert!(
        text.contains("cannot resolve no-such-host.invalid"),
        "{text}"
    );
    // Garbage instead of TLS.
    let addr = raw_server(|mut s| {
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        std::thread::sleep(Duration::from_millis(200));
    });
    let text = unknown(&e.run(&["check", &addr.to_string()]));
    assert!(text.contains("does not speak TLS"), "{text}");
    // Closes at once.
    let addr = raw_server(drop);
    let text = unknown(&e.run(&["check", &addr.to_string()]));
    assert!(text.contains("handshake"), "{text}");
    // Stalls: accepts, reads, never answers.
    let addr = raw_server(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_secs(5));
    });
    let text = unknown(&e.run(&["check", &addr.to_string(), "--timeout", "0.5"]));
    assert!(text.contains("timed out"), "{text}");
    // JSON error shape.
    let out = e.run(&["check", "127.0.0.1:1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["severity"], "unknown");
    assert_eq!(v["error"]["kind"], "connect");
}

#[test]
fn usage_errors_exit_3() {
    let e = TestEnv::new();
    unknown(&e.run(&["check", "--no-such-flag"]));
    unknown(&e.run(&["frobnicate"]));
    let text = unknown(&e.run(&["check", "exa mple.com"]));
    assert!(text.contains("invalid site"), "{text}");
    let text = unknown(&e.run(&["check"]));
    assert!(text.contains("no sites"), "{text}");
    let text = unknown(&e.run(&["check", "--file", "/nonexistent/list.txt"]));
    assert!(text.contains("/nonexistent/list.txt"), "{text}");
    assert_eq!(e.run(&["--help"]).status.code(), Some(0));
}

#[test]
fn bad_chain_files_for_inspect() {
    let e = TestEnv::new();
    let dir = e.dir.path();
    let key = dir.join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let text = unknown(&e.run(&["inspect", key.to_str().unwrap()]));
    assert!(text.contains("no CERTIFICATE block"), "{text}");
    let garbage = dir.join("garbage.der");
    std::fs::write(&garbage, [0x30, 0x82, 0x10, 0x00, 1, 2, 3]).unwrap();
    let text = unknown(&e.run(&["inspect", garbage.to_str().unwrap()]));
    assert!(text.contains("certificate #0"), "{text}");
    let broken = dir.join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let text = unknown(&e.run(&["inspect", broken.to_str().unwrap()]));
    assert!(text.contains("malformed PEM"), "{text}");
    unknown(&e.run(&["inspect", "/nonexistent.pem"]));
    let root = Ca::root("R", "O");
    let good = dir.join("good.pem");
    std::fs::write(&good, root.leaf(&["x.test"]).pem()).unwrap();
    let text = unknown(&e.run(&["inspect", good.to_str().unwrap(), "--at", "yesterday"]));
    assert!(text.contains("RFC 3339"), "{text}");
}

#[test]
fn database_problems() {
    let root = Ca::root("R", "O");
    let srv = TlsServer::start(&root.int_leaf());
    let e = TestEnv::new().public_roots(&[&root]);
    let site = ["check", "db.test", "--connect"];
    let connect = format!("127.0.0.1:{}", srv.port());
    let args: Vec<&str> = site.iter().copied().chain([connect.as_str()]).collect();

    // Unreadable: the DB path is a directory.
    let dir_db = e.dir.path().join("dir.db");
    std::fs::create_dir(&dir_db).unwrap();
    let mut a = args.clone();
    a.extend(["--db", dir_db.to_str().unwrap()]);
    let text = unknown(&e.run(&a));
    assert!(text.contains("dir.db"), "{text}");

    // Newer schema.
    let newer = e.dir.path().join("newer.db");
    {
        let c = rusqlite_free_set_user_version(&newer, 99);
        assert!(c);
    }
    let mut a = args.clone();
    a.extend(["--db", newer.to_str().unwrap()]);
    let text = unknown(&e.run(&a));
    assert!(
        text.contains("schema version 99") && text.contains("newer"),
        "{text}"
    );

    // Locked: another process holds an exclusive lock.
    let locked = e.dir.path().join("locked.db");
    let mut a = args.clone();
    a.extend(["--db", locked.to_str().unwrap()]);
    assert_eq!(e.run(&a).status.code(), Some(0));
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked',flush=True)\ntime.sleep(30)",
            locked.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    holder
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    let out = e
        .cmd()
        .args(&a)
        .env("CERTWATCH_BUSY_TIMEOUT_MS", "200")
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let text = unknown(&out);
    assert!(text.contains("locked"), "{text}");

    // Corrupt: moved aside, never overwritten, and the check goes on.
    let corrupt = e.dir.path().join("corrupt.db");
    std::fs::write(&corrupt, vec![0x42u8; 8192]).unwrap();
    let mut a = args.clone();
    a.extend(["--db", corrupt.to_str().unwrap()]);
    let out = e.run(&a);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("moved it to"));
    let aside: Vec<_> = std::fs::read_dir(e.dir.path())
        .unwrap()
        .flatten()
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .starts_with("corrupt.db.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), vec![0x42u8; 8192]);
}

/// Creates an SQLite file with `PRAGMA user_version = v` using the system python3.
fn rusqlite_free_set_user_version(path: &std::path::Path, v: i64) -> bool {
    std::process::Command::new("python3")
        .args([
            "-c",
            &format!("import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nc.execute('PRAGMA user_version={v}')\nc.commit()"),
            path.to_str().unwrap(),
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

trait IntLeaf {
    fn int_leaf(&self) -> certwatch_tests::Leaf;
}

impl IntLeaf for Ca {
    fn int_leaf(&self) -> certwatch_tests::Leaf {
        self.intermediate("I", "O").leaf(&["db.test"])
    }
}
