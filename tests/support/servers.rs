//! Real servers on 127.0.0.1 for the tests: a TLS server whose certificate
//! can be swapped, a STARTTLS server (a plain-text dialogue, then TLS), a raw
//! TCP server for hostile peers, and an HTTP CONNECT proxy that records what
//! it was asked for.

use super::*;

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

fn server_config(leaf: &Leaf) -> Arc<rustls::ServerConfig> {
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            leaf.chain
                .iter()
                .map(|d| CertificateDer::from(d.clone()))
                .collect(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone())),
        )
        .unwrap(),
    )
}

/// A STARTTLS server on 127.0.0.1: per connection, `dialogue` speaks the
/// plain-text part; when it returns true the same socket runs a TLS
/// handshake serving `leaf`. `dialogue` must not read past the client's
/// upgrade command (the next bytes are the ClientHello).
pub fn starttls_server(
    leaf: &Leaf,
    dialogue: impl Fn(&mut TcpStream) -> bool + Send + Sync + 'static,
) -> SocketAddr {
    let config = server_config(leaf);
    raw_server(move |mut tcp| {
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        if !dialogue(&mut tcp) {
            return;
        }
        let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else {
            return;
        };
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return;
            }
        }
        let _ = conn.complete_io(&mut tcp);
    })
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

/// A TCP forwarder to `upstream` that holds every chunk for `delay` before
/// passing it on, both ways: a slow network on loopback.
pub fn delay_proxy(upstream: SocketAddr, delay: std::time::Duration) -> SocketAddr {
    fn forward(mut from: TcpStream, mut to: TcpStream, delay: std::time::Duration) {
        let mut buf = [0u8; 16384];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    return;
                }
                Ok(n) => {
                    std::thread::sleep(delay);
                    if to.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    }
    raw_server(move |client| {
        let Ok(server) = TcpStream::connect(upstream) else {
            return;
        };
        let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        let t = std::thread::spawn(move || forward(c2, s2, delay));
        forward(server, client, delay);
        let _ = t.join();
    })
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

/// A request handler: target → (status, headers, body).
pub type Handler = dyn Fn(&str) -> (u16, Vec<(String, String)>, Vec<u8>) + Send + Sync;

/// A plain HTTP/1.1 server on 127.0.0.1; counts requests.
pub fn http_server(handler: Arc<Handler>) -> (String, Arc<AtomicUsize>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().flatten() {
            let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut reader = BufReader::new(tcp.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                match reader.read_line(&mut h) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if h == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, headers, body) = handler(&target);
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = tcp.write_all(head.as_bytes());
            let _ = tcp.write_all(&body);
        }
    });
    (format!("http://{addr}/"), hits)
}
