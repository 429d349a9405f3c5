//! Site identities: `HOST[:PORT]`, `[v6]:PORT`, bare IPv6, and `https://` URLs;
//! check targets: a site plus the STARTTLS protocol its URL scheme or
//! `--starttls` names (`smtp://`, `imap://`, …; `smtps://`, `imaps://`,
//! `pop3s://`, `ldaps://` are plain TLS). The protocol is how to reach the
//! site, not part of its identity: the history key stays host and port.

use std::fmt;

use super::starttls::StartTls;

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

/// A site to check and how to reach its TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The site (host and port: the history key).
    pub site: Site,
    /// Upgrade with this protocol's STARTTLS first; `None` = TLS from the first byte.
    pub starttls: Option<StartTls>,
}

/// Implicit-TLS URL schemes and their ports.
const TLS_SCHEMES: [(&str, u16); 5] = [
    ("https", 443),
    ("smtps", 465),
    ("imaps", 993),
    ("pop3s", 995),
    ("ldaps", 636),
];

impl Target {
    /// Parses what [`Site::parse`] takes, plus the URL schemes of
    /// [`StartTls`] (`smtp://HOST[:PORT]`, `postgres://USER@HOST/DB`, …)
    /// and the implicit-TLS schemes. `flag` is `--starttls`: it sets the
    /// default port of a plain `HOST` and must agree with a URL's scheme.
    /// On a protocol's implicit-TLS port (465, 993, 995, 636) the connection
    /// is plain TLS.
    pub fn parse(input: &str, flag: Option<StartTls>) -> Result<Target, SiteError> {
        let err = |why| SiteError {
            input: input.chars().take(80).collect(),
            why,
        };
        let trimmed = input.trim();
        let (protocol, default_port, authority) = match trimmed.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                let (protocol, port) = if let Some(p) = StartTls::from_name(&scheme) {
                    (Some(p), p.default_port())
                } else if let Some((_, port)) = TLS_SCHEMES.iter().find(|(s, _)| *s == scheme) {
                    (None, *port)
                } else {
                    return Err(err("unknown URL scheme"));
                };
                if flag.is_some() && flag != protocol {
                    return Err(err("the URL scheme contradicts --starttls"));
                }
                let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                let authority = &rest[..end];
                // postgres://user:password@host/db: the user part is not the site.
                let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                (protocol, port, authority)
            }
            None => (flag, flag.map_or(443, StartTls::default_port), trimmed),
        };
        let site = Site::parse(authority, default_port).map_err(|e| err(e.why))?;
        let starttls = protocol.filter(|p| p.implicit_tls_port() != Some(site.port));
        Ok(Target { site, starttls })
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

    #[test]
    fn target_table() {
        use StartTls::*;
        let ok: [(&str, Option<StartTls>, &str, Option<StartTls>); 20] = [
            ("example.com", None, "example.com:443", None),
            ("https://example.com/x", None, "example.com:443", None),
            ("smtp://mx.test", None, "mx.test:25", Some(Smtp)),
            ("SMTP://mx.test:2525", None, "mx.test:2525", Some(Smtp)),
            (
                "submission://mx.test",
                None,
                "mx.test:587",
                Some(Submission),
            ),
            ("imap://mx.test/INBOX", None, "mx.test:143", Some(Imap)),
            ("pop3://mx.test", None, "mx.test:110", Some(Pop3)),
            ("xmpp://chat.test", None, "chat.test:5222", Some(Xmpp)),
            ("ldap://dir.test/dc=test", None, "dir.test:389", Some(Ldap)),
            (
                "postgres://u:p@db.test/app",
                None,
                "db.test:5432",
                Some(Postgres),
            ),
            (
                "postgresql://db.test:6543",
                None,
                "db.test:6543",
                Some(Postgres),
            ),
            ("ftp://[::1]", None, "[::1]:21", Some(Ftp)),
            ("smtps://mx.test", None, "mx.test:465", None),
            ("imaps://mx.test", None, "mx.test:993", None),
            ("pop3s://mx.test", None, "mx.test:995", None),
            ("ldaps://dir.test", None, "dir.test:636", None),
            ("mx.test", Some(Submission), "mx.test:587", Some(Submission)),
            ("mx.test:2525", Some(Smtp), "mx.test:2525", Some(Smtp)),
            ("smtp://mx.test", Some(Smtp), "mx.test:25", Some(Smtp)),
            // An implicit-TLS port is plain TLS, whatever the protocol says.
            ("imap://mx.test:993", None, "mx.test:993", None),
        ];
        for (input, flag, site, starttls) in ok {
            let t = Target::parse(input, flag).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(
                (t.site.to_string().as_str(), t.starttls),
                (site, starttls),
                "{input}"
            );
        }
        assert_eq!(
            Target::parse("mx.test:465", Some(Smtp)).unwrap().starttls,
            None
        );
        for (bad, flag) in [
            ("gopher://x.test", None),
            ("smtp://", None),
            ("smtp://mx.test", Some(Imap)),
            ("smtps://mx.test", Some(Smtp)),
            ("https://x.test", Some(Ftp)),
            ("imap://mx.test:0", None),
        ] {
            assert!(Target::parse(bad, flag).is_err(), "{bad:?} should fail");
        }
    }
}
