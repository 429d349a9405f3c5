//! Observe: one TLS handshake to a site, capturing the chain exactly as presented.
//!
//! Blocking std I/O with explicit timeouts: the CLI needs no async runtime,
//! and a bulk check runs probes on a bounded thread pool. The handshake uses
//! rustls with the ring provider and the accept-any verifier in [`danger`],
//! sends SNI = the site's host (not for IP literals), and sends no
//! application data. Memory is bounded by rustls's own message-size limits.
//! With STARTTLS ([`starttls`]) the protocol's plain-text dialogue runs
//! first, under the same handshake deadline.

pub mod danger;
pub mod proxy;
pub mod starttls;
pub mod target;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::model::MAX_CHAIN_LEN;
pub use starttls::StartTls;
pub use target::Site;

/// How to reach a site.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// TCP connect timeout, per address.
    pub connect_timeout: Duration,
    /// Whole-handshake timeout (after connect; the STARTTLS dialogue included).
    pub handshake_timeout: Duration,
    /// Connect here instead of resolving the site (`--connect ADDR:PORT`).
    pub connect_to: Option<String>,
    /// Tunnel through this proxy.
    pub proxy: Option<proxy::Proxy>,
    /// Upgrade a plain connection with this protocol's STARTTLS first.
    pub starttls: Option<StartTls>,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            connect_to: None,
            proxy: None,
            starttls: None,
        }
    }
}

/// What one handshake showed.
#[derive(Debug, Clone)]
pub struct Probed {
    /// DER certificates as presented, leaf first (at most [`MAX_CHAIN_LEN`]).
    pub chain: Vec<Vec<u8>>,
    /// How many certificates the server sent (may exceed `chain.len()`).
    pub presented: usize,
    /// Stapled OCSP response (empty when none).
    pub ocsp: Vec<u8>,
    /// Negotiated protocol, e.g. `TLSv1_3`.
    pub protocol: String,
    /// Negotiated cipher suite.
    pub cipher: String,
    /// The address actually connected to (the proxy's, when tunnelling).
    pub peer: Option<SocketAddr>,
}

/// Why a probe failed. Every variant becomes exit code 3 (UNKNOWN).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// Name resolution failed.
    #[error("cannot resolve {host}: {detail}")]
    Resolve {
        /// The name.
        host: String,
        /// The resolver's message.
        detail: String,
    },
    /// TCP connect failed (refused, unreachable, timed out).
    #[error("cannot connect to {addr}: {detail}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        detail: String,
    },
    /// The proxy failed or refused.
    #[error("{0}")]
    Proxy(String),
    /// The handshake timed out.
    #[error("TLS handshake with {addr} timed out after {secs:.1}s")]
    Timeout {
        /// Where.
        addr: String,
        /// Seconds waited.
        secs: f64,
    },
    /// The peer is not speaking TLS, or the handshake failed.
    #[error("TLS handshake with {addr} failed: {detail}")]
    Handshake {
        /// Where.
        addr: String,
        /// rustls's reason.
        detail: String,
    },
    /// The server sent no certificate.
    #[error("{addr} sent no certificate")]
    NoCertificate {
        /// Where.
        addr: String,
    },
    /// The STARTTLS dialogue failed before the handshake: the server does
    /// not offer it, refused, stalled, or said too much.
    #[error("STARTTLS ({protocol}) with {addr} failed: {detail}")]
    StartTls {
        /// Where.
        addr: String,
        /// The protocol's name (`smtp`, `imap`, …).
        protocol: &'static str,
        /// One line: what the server said (sanitised, truncated).
        detail: String,
    },
}

impl ProbeError {
    /// A stable short kind for JSON (`resolve`, `connect`, `timeout`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::Resolve { .. } => "resolve",
            ProbeError::Connect { .. } => "connect",
            ProbeError::Proxy(_) => "proxy",
            ProbeError::Timeout { .. } => "timeout",
            ProbeError::Handshake { .. } => "handshake",
            ProbeError::NoCertificate { .. } => "no_certificate",
            ProbeError::StartTls { .. } => "starttls",
        }
    }
}

/// The ring crypto provider, shared.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static P: std::sync::OnceLock<Arc<rustls::crypto::CryptoProvider>> = std::sync::OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

fn client_config(verifier: Arc<danger::CaptureOnly>) -> Result<Arc<ClientConfig>, String> {
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Connects to `site` and captures its chain.
pub fn probe(site: &Site, cfg: &ProbeConfig) -> Result<Probed, ProbeError> {
    let dial = cfg.connect_to.clone().unwrap_or_else(|| site.authority());
    let (mut tcp, peer) = match &cfg.proxy {
        Some(p) => {
            let (mut s, peer) = dial_tcp(&p.authority, cfg.connect_timeout)?;
            let deadline = Instant::now() + cfg.handshake_timeout;
            set_timeouts(&s, cfg.handshake_timeout);
            proxy::connect_tunnel(&mut s, p, &dial, deadline).map_err(ProbeError::Proxy)?;
            (s, peer)
        }
        None => dial_tcp(&dial, cfg.connect_timeout)?,
    };
    let addr = peer.map(|p| p.to_string()).unwrap_or(dial);
    let mut timeout = cfg.handshake_timeout;
    if let Some(protocol) = cfg.starttls {
        let start = Instant::now();
        starttls::negotiate(&mut tcp, protocol, &site.host, timeout).map_err(|f| {
            ProbeError::StartTls {
                addr: addr.clone(),
                protocol: protocol.name(),
                detail: f.0,
            }
        })?;
        timeout = timeout.saturating_sub(start.elapsed());
    }
    handshake(&mut tcp, site, timeout, &addr).map(|mut p| {
        p.peer = peer;
        p
    })
}

fn set_timeouts(s: &TcpStream, t: Duration) {
    let t = t.max(Duration::from_millis(1));
    let _ = s.set_read_timeout(Some(t));
    let _ = s.set_write_timeout(Some(t));
}

/// Resolves `authority` and connects to the first address that answers.
fn dial_tcp(
    authority: &str,
    timeout: Duration,
) -> Result<(TcpStream, Option<SocketAddr>), ProbeError> {
    let host = authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority)
        .to_string();
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|e| ProbeError::Resolve {
            host: host.clone(),
            detail: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(ProbeError::Resolve {
            host,
            detail: "no addresses".into(),
        });
    }
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok((s, Some(*a)));
            }
            Err(e) => last = Some((a, e)),
        }
    }
    Err(match last {
        Some((a, e)) => ProbeError::Connect {
            addr: a.to_string(),
            detail: e.to_string(),
        },
        None => ProbeError::Resolve {
            host,
            detail: "no addresses".into(),
        },
    })
}

/// Runs the TLS handshake on an established stream.
pub fn handshake<S: Read + Write + TimeoutStream>(
    stream: &mut S,
    site: &Site,
    timeout: Duration,
    addr: &str,
) -> Result<Probed, ProbeError> {
    let verifier = Arc::new(danger::CaptureOnly::new(provider()));
    let config = client_config(verifier.clone()).map_err(|detail| ProbeError::Handshake {
        addr: addr.to_string(),
        detail,
    })?;
    let name = ServerName::try_from(site.host.clone()).map_err(|e| ProbeError::Handshake {
        addr: addr.to_string(),
        detail: format!("invalid server name: {e}"),
    })?;
    let mut conn = ClientConnection::new(config, name).map_err(|e| ProbeError::Handshake {
        addr: addr.to_string(),
        detail: e.to_string(),
    })?;
    let start = Instant::now();
    let deadline = start + timeout;
    let timed_out = || ProbeError::Timeout {
        addr: addr.to_string(),
        secs: timeout.as_secs_f64(),
    };
    let failed = |detail: String| ProbeError::Handshake {
        addr: addr.to_string(),
        detail,
    };
    while conn.is_handshaking() {
        let now = Instant::now();
        if now >= deadline {
            return Err(timed_out());
        }
        stream.set_io_timeout(deadline - now);
        while conn.wants_write() {
            match conn.write_tls(stream) {
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Err(timed_out()),
                Err(e) => return Err(failed(e.to_string())),
            }
        }
        if !conn.is_handshaking() {
            break;
        }
        match conn.read_tls(stream) {
            Ok(0) => return Err(failed("connection closed by peer during handshake".into())),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Err(timed_out()),
            Err(e) => return Err(failed(e.to_string())),
        }
        if let Err(e) = conn.process_new_packets() {
            // Flush the alert; ignore failures, we are failing anyway.
            let _ = conn.write_tls(stream);
            return Err(failed(describe_tls_error(&e)));
        }
    }
    let certs = conn.peer_certificates().unwrap_or_default();
    if certs.is_empty() {
        return Err(ProbeError::NoCertificate {
            addr: addr.to_string(),
        });
    }
    let protocol = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    let chain: Vec<Vec<u8>> = certs
        .iter()
        .take(MAX_CHAIN_LEN)
        .map(|c| c.to_vec())
        .collect();
    let presented = certs.len();
    conn.send_close_notify();
    let _ = conn.write_tls(stream);
    Ok(Probed {
        chain,
        presented,
        ocsp: verifier.ocsp_response(),
        protocol,
        cipher,
        peer: None,
    })
}

fn describe_tls_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidMessage(_) => {
            format!("the peer does not speak TLS ({e})")
        }
        rustls::Error::PeerIncompatible(_) => format!("no common protocol version or cipher ({e})"),
        _ => e.to_string(),
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// A stream whose blocking reads and writes can be bounded.
pub trait TimeoutStream {
    /// Bounds each following read and write by `t`.
    fn set_io_timeout(&mut self, t: Duration);
}

impl TimeoutStream for TcpStream {
    fn set_io_timeout(&mut self, t: Duration) {
        set_timeouts(self, t);
    }
}
