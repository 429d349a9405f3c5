//! Site identities: `HOST[:PORT]`, `[v6]:PORT`, bare IPv6, and `https://` URLs.

use std::fmt;

/// A site: the host name (or IP literal, without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site {
    /// Lowercase host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a site string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid site {input:?}: {why}")]
pub struct SiteError {
    /// The input (truncated).
    pub input: String,
    /// Why.
    pub why: &'static str,
}

/// Longest DNS name (RFC 1035).
const MAX_HOST: usize = 253;

impl Site {
    /// Parses `HOST`, `HOST:PORT`, `[V6]:PORT`, `V6`, or an `https://HOST[:PORT]/…` URL.
    pub fn parse(input: &str, default_port: u16) -> Result<Site, SiteError> {
        let err = |why| SiteError {
            input: input.chars().take(80).collect(),
            why,
        };
        let mut s = input.trim();
        if let Some(rest) = s.strip_prefix("https://") {
            s = rest;
        }
        if let Some(i) = s.find(['/', '?', '#']) {
            s = &s[..i];
        }
        if s.is_empty() {
            return Err(err("empty host"));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| err("unclosed '['"))?;
            let host = &rest[..end];
            let after = &rest[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p).ok_or_else(|| err("bad port"))?,
                None if after.is_empty() => default_port,
                None => return Err(err("junk after ']'")),
            };
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err("not an IPv6 address inside brackets"));
            }
            (host.to_string(), port)
        } else if s.matches(':').count() > 1 {
            if s.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err("not a host name or IP address"));
            }
            (s.to_string(), default_port)
        } else if let Some((h, p)) = s.split_once(':') {
            (h.to_string(), parse_port(p).ok_or_else(|| err("bad port"))?)
        } else {
            (s.to_string(), default_port)
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(err("empty host"));
        }
        if host.len() > MAX_HOST {
            return Err(err("host name longer than 253 characters"));
        }
        if !host.contains(':')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(err("host name has characters outside [a-z0-9.-_]"));
        }
        Ok(Site { host, port })
    }

    /// `host:port` for connecting (IPv6 bracketed).
    pub fn authority(&self) -> String {
        self.to_string()
    }
}

fn parse_port(p: &str) -> Option<u16> {
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let ok = [
            ("example.com", "example.com", 443),
            ("Example.COM.", "example.com", 443),
            ("example.com:8443", "example.com", 8443),
            ("https://example.com/path?q", "example.com", 443),
            ("https://example.com:444/", "example.com", 444),
            ("[::1]:8443", "::1", 8443),
            ("[::1]", "::1", 443),
            ("::1", "::1", 443),
            ("127.0.0.1:1", "127.0.0.1", 1),
        ];
        for (input, host, port) in ok {
            let s = Site::parse(input, 443).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((s.host.as_str(), s.port), (host, port), "{input}");
        }
        for bad in [
            "",
            ":443",
            "example.com:0",
            "example.com:99999",
            "ex ample.com",
            "[::1",
            "[zz]:1",
            "a\u{202e}b.com",
            "x:y:z",
        ] {
            assert!(Site::parse(bad, 443).is_err(), "{bad:?} should fail");
        }
        assert_eq!(Site::parse("[::1]:8", 443).unwrap().to_string(), "[::1]:8");
    }
}
