//! A local DNS server for CAA tests: dnsmasq on 127.0.0.1, authoritative
//! for `.test`, serving the CAA records a test asks for.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A dnsmasq child process, killed on drop.
pub struct Dnsmasq {
    child: Child,
    /// Where it answers (UDP).
    pub addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CAA RDATA in dnsmasq's hex form (flags 0).
pub fn caa_rr(tag: &str, value: &str) -> String {
    let mut h = format!("00{:02x}", tag.len());
    for b in tag.bytes().chain(value.bytes()) {
        h.push_str(&format!("{b:02x}"));
    }
    h
}

/// The dnsmasq binary, if installed.
pub fn dnsmasq_bin() -> Option<PathBuf> {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Starts dnsmasq on a free UDP port with `records` (name, tag, value);
/// answers authoritatively (NXDOMAIN/NODATA) for everything under .test.
pub fn start_dnsmasq(records: &[(&str, &str, &str)]) -> Option<Dnsmasq> {
    let bin = dnsmasq_bin()?;
    for _ in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--no-daemon",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--local=/test/",
        ])
        .arg(format!("--port={port}"));
        for (name, tag, value) in records {
            cmd.arg(format!("--dns-rr={name},257,{}", caa_rr(tag, value)));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
        let mut d = Dnsmasq { child, addr };
        // dropped (killed) at the end of this attempt unless returned
        // Ready when it answers a query (bounded).
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = d.child.try_wait() {
                break; // port taken: try another
            }
            if dns_answers(addr) {
                return Some(d);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    None
}

fn dns_answers(addr: SocketAddr) -> bool {
    let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["probe", "test"] {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut buf = [0u8; 512];
    s.send_to(&q, addr).is_ok() && s.recv(&mut buf).is_ok()
}
