//! HTTP CONNECT proxies, chosen from the environment as curl does.
//!
//! `https_proxy`, then `HTTPS_PROXY`, then `all_proxy`/`ALL_PROXY`; `no_proxy`/
//! `NO_PROXY` lists hosts (suffix match, `*` = all) that bypass the proxy. Only
//! `http://` proxies are supported; anything else is a clear error rather than
//! a silent direct connection that would observe a different network path.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use base64::Engine as _;

/// An HTTP proxy to tunnel through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `host:port` of the proxy.
    pub authority: String,
    /// `user:password` for Basic auth, if given in the URL.
    pub credentials: Option<String>,
}

/// Proxy configuration errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL in the environment is unusable.
    #[error("{var}={value:?}: {why}")]
    BadUrl {
        /// Variable name.
        var: &'static str,
        /// Its value (credentials removed).
        value: String,
        /// Why.
        why: &'static str,
    },
}

/// Environment lookup, injectable for tests.
pub trait Env {
    /// The value of `name`, if set and non-empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The proxy to use for `host`, or `None` for a direct connection.
pub fn proxy_for(host: &str, env: &dyn Env) -> Result<Option<Proxy>, ProxyError> {
    const VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
    let Some((var, url)) = VARS.iter().find_map(|v| env.var(v).map(|u| (*v, u))) else {
        return Ok(None);
    };
    let no_proxy = env.var("no_proxy").or_else(|| env.var("NO_PROXY"));
    if let Some(list) = no_proxy {
        if bypass(host, &list) {
            return Ok(None);
        }
    }
    parse_proxy_url(var, &url).map(Some)
}

fn bypass(host: &str, list: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let entry = entry.to_ascii_lowercase();
            // Drop a port suffix on names (not on bare IPv6).
            let entry = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => {
                    h.to_string()
                }
                _ => entry,
            };
            let entry = entry.trim_start_matches('.').trim_start_matches("*.");
            host == entry || host.ends_with(&format!(".{entry}"))
        })
}

fn parse_proxy_url(var: &'static str, url: &str) -> Result<Proxy, ProxyError> {
    let redacted = match url.rsplit_once('@') {
        Some((_, h)) => format!("…@{h}"),
        None => url.to_string(),
    };
    let bad = |why| ProxyError::BadUrl {
        var,
        value: redacted.clone(),
        why,
    };
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.contains("://") {
        return Err(bad("only http:// proxies (HTTP CONNECT) are supported"));
    } else {
        url
    };
    let rest = rest.split('/').next().unwrap_or("");
    let (credentials, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(percent_decode(c)), h),
        None => (None, rest),
    };
    if hostport.is_empty() {
        return Err(bad("no proxy host"));
    }
    let has_port = if hostport.starts_with('[') {
        hostport.contains("]:")
    } else {
        hostport.contains(':')
    };
    let authority = if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:1080")
    };
    Ok(Proxy {
        authority,
        credentials,
    })
}

fn percent_decode(s: &str) -> String {
    fn nibble(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (nibble(b[i + 1]), nibble(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Largest proxy response header block we read.
const MAX_PROXY_RESPONSE: usize = 16 * 1024;

/// Sends `CONNECT target` on `stream` and reads the proxy's answer.
///
/// Reads byte by byte up to the blank line, so no TLS byte is consumed.
pub fn connect_tunnel(
    stream: &mut TcpStream,
    proxy: &Proxy,
    target: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(c) = &proxy.credentials {
        let enc = base64::engine::general_purpose::STANDARD.encode(c.as_bytes());
        req.push_str(&format!("Proxy-Authorization: Basic {enc}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .map_err(|e| format!("proxy {}: {e}", proxy.authority))?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if Instant::now() > deadline {
            return Err(format!(
                "proxy {}: timed out waiting for CONNECT reply",
                proxy.authority
            ));
        }
        if head.len() >= MAX_PROXY_RESPONSE {
            return Err(format!(
                "proxy {}: CONNECT reply over 16 KiB",
                proxy.authority
            ));
        }
        match stream.read(&mut byte) {
            Ok(0) => return Err(format!("proxy {}: closed during CONNECT", proxy.authority)),
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("proxy {}: {e}", proxy.authority)),
        }
    }
    let status_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let code = status_line.split_whitespace().nth(1).unwrap_or("");
    if !status_line.starts_with("HTTP/1.") || !code.starts_with('2') {
        let shown: String = status_line.trim().chars().take(100).collect();
        return Err(format!(
            "proxy {} refused CONNECT {target}: {shown:?}",
            proxy.authority
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    #[test]
    fn env_table() {
        let env = |pairs: &[(&'static str, &'static str)]| MapEnv(pairs.iter().copied().collect());
        let p = |a: &str| {
            Some(Proxy {
                authority: a.into(),
                credentials: None,
            })
        };
        assert_eq!(proxy_for("a.com", &env(&[])).unwrap(), None);
        assert_eq!(
            proxy_for("a.com", &env(&[("HTTPS_PROXY", "http://p:3128")])).unwrap(),
            p("p:3128")
        );
        assert_eq!(
            proxy_for(
                "a.com",
                &env(&[("https_proxy", "p:1"), ("HTTPS_PROXY", "q:2")])
            )
            .unwrap(),
            p("p:1")
        );
        assert_eq!(
            proxy_for("a.com", &env(&[("ALL_PROXY", "http://p")])).unwrap(),
            p("p:1080")
        );
        assert_eq!(
            proxy_for(
                "x.a.com",
                &env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "foo, .a.com")])
            )
            .unwrap(),
            None
        );
        assert_eq!(
            proxy_for(
                "a.com",
                &env(&[("HTTPS_PROXY", "p:1"), ("no_proxy", "a.com:443")])
            )
            .unwrap(),
            None
        );
        assert_eq!(
            proxy_for(
                "ba.com",
                &env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "a.com")])
            )
            .unwrap(),
            p("p:1")
        );
        assert_eq!(
            proxy_for("a.com", &env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", "*")])).unwrap(),
            None
        );
        let with_creds = proxy_for("a.com", &env(&[("HTTPS_PROXY", "http://u%40x:pw@p:8")]))
            .unwrap()
            .unwrap();
        assert_eq!(with_creds.credentials.as_deref(), Some("u@x:pw"));
        let err = proxy_for("a.com", &env(&[("ALL_PROXY", "socks5://u:secret@p:1")])).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
