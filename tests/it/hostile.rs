//! Hostile servers: each ends within the configured timeout, with bounded
//! memory, as UNKNOWN with a clear reason — never a hang or a panic.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use certwatch_tests::{raw_server, TestEnv};

/// Reads the ClientHello record (header + body) so the server can answer it.
fn read_client_hello(s: &mut TcpStream) -> bool {
    let mut hdr = [0u8; 5];
    if s.read_exact(&mut hdr).is_err() {
        return false;
    }
    let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).is_ok()
}

/// A TLS 1.2 ServerHello (ECDHE-ECDSA-AES128-GCM-SHA256) as a plaintext record.
fn server_hello(version: [u8; 2]) -> Vec<u8> {
    let mut hs = vec![0x02, 0, 0, 0];
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[0x11; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0xc0, 0x2b]);
    body.push(0); // compression
    let n = body.len();
    hs[1..4].copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x03, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

fn run_check(e: &TestEnv, addr: &str) -> (std::process::Output, Duration) {
    let mut cmd = e.cmd(); // resolves (and if needed builds) the binary before timing
    cmd.args([
        "check",
        "hostile.test:443",
        "--connect",
        addr,
        "--timeout",
        "3",
        "--json",
    ]);
    let t = Instant::now();
    let out = cmd.output().unwrap();
    (out, t.elapsed())
}

fn assert_unknown(out: &std::process::Output, elapsed: Duration, want: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout} {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let msg = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains(want), "wanted {want:?} in {msg:?}");
    // Bounded by the 3 s handshake timeout plus process start, never a hang.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[test]
fn endless_certificate_message() {
    // ServerHello, then a Certificate message that claims 16 MiB and streams forever.
    let addr = raw_server(|mut s| {
        if !read_client_hello(&mut s) {
            return;
        }
        let _ = s.write_all(&server_hello([0x03, 0x03]));
        let _ = s.write_all(&[0x16, 0x03, 0x03, 0x40, 0x00, 0x0b, 0xff, 0xff, 0xff]);
        let chunk = [0x16u8, 0x03, 0x03, 0x40, 0x00];
        let filler = vec![0x30u8; 0x4000];
        for _ in 0..1000 {
            if s.write_all(&chunk)
                .and_then(|_| s.write_all(&filler))
                .is_err()
            {
                return;
            }
        }
    });
    let e = TestEnv::new();
    let (out, t) = run_check(&e, &addr.to_string());
    assert_unknown(&out, t, "handshake");
}

#[test]
fn ten_megabyte_record_stream() {
    // 10 MB of well-framed but meaningless handshake records.
    let addr = raw_server(|mut s| {
        if !read_client_hello(&mut s) {
            return;
        }
        let rec = [[0x16u8, 0x03, 0x03, 0x40, 0x00].as_slice(), &[0u8; 0x4000]].concat();
        for _ in 0..640 {
            if s.write_all(&rec).is_err() {
                return;
            }
        }
    });
    let e = TestEnv::new();
    let (out, t) = run_check(&e, &addr.to_string());
    assert_unknown(&out, t, "handshake");
}

#[test]
fn stalls_mid_handshake() {
    let addr = raw_server(|mut s| {
        if !read_client_hello(&mut s) {
            return;
        }
        // Half a ServerHello, then silence.
        let hello = server_hello([0x03, 0x03]);
        let _ = s.write_all(&hello[..20]);
        std::thread::sleep(Duration::from_secs(8));
    });
    let e = TestEnv::new();
    let (out, t) = run_check(&e, &addr.to_string());
    assert_unknown(&out, t, "timed out");
    assert!(
        t < Duration::from_secs(8),
        "the 3 s timeout was not honoured: {t:?}"
    );
}

#[test]
fn obsolete_protocol_only() {
    // Answers every ClientHello with a TLS 1.0 ServerHello.
    let addr = raw_server(|mut s| {
        if read_client_hello(&mut s) {
            let _ = s.write_all(&server_hello([0x03, 0x01]));
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let e = TestEnv::new();
    let (out, t) = run_check(&e, &addr.to_string());
    assert_unknown(&out, t, "handshake");
}

#[test]
fn garbage_and_immediate_close() {
    let e = TestEnv::new();
    let garbage = raw_server(|mut s| {
        let _ = s.write_all(&[0xde, 0xad, 0xbe, 0xef].repeat(1000));
    });
    let (out, t) = run_check(&e, &garbage.to_string());
    assert_unknown(&out, t, "does not speak TLS");
    let closes = raw_server(drop);
    let (out, t) = run_check(&e, &closes.to_string());
    assert_unknown(&out, t, "handshake");
    // An alert instead of a ServerHello.
    let alert = raw_server(|mut s| {
        if read_client_hello(&mut s) {
            let _ = s.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
        }
    });
    let (out, t) = run_check(&e, &alert.to_string());
    assert_unknown(&out, t, "handshake");
}
