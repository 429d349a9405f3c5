//! STARTTLS: each protocol's plain-text dialogue up to the point where the
//! client starts the TLS handshake on the same connection.
//!
//! The dialogues follow the RFCs strictly and offer nothing more than the
//! upgrade: SMTP/submission (RFC 3207: `EHLO`, `STARTTLS` only when the EHLO
//! reply lists it, `220`), IMAP (RFC 2595/3501: `CAPABILITY` must list
//! `STARTTLS`, then a tagged `OK`), POP3 (RFC 2595: `CAPA` must list `STLS`,
//! `+OK`), XMPP (RFC 6120 §5: stream header `to=` the host, `<starttls/>` in
//! the stream features, `<proceed/>`), LDAP (RFC 4511 §4.14, RFC 4513: the
//! StartTLS ExtendedRequest in BER, resultCode 0), PostgreSQL (SSLRequest,
//! answered by the single byte `S`) and FTP (RFC 4217: `AUTH TLS`, `234`).
//!
//! The server is hostile input: bytes are read one at a time (never past the
//! server's last pre-TLS byte, so nothing meant for rustls is swallowed), a
//! line is at most [`MAX_LINE`] bytes, the whole dialogue at most
//! [`MAX_TOTAL`] bytes, and every read is bounded by the probe's deadline.
//! Failures carry one line saying what the server said, sanitised and
//! truncated. The parsers are pure functions over byte strings.

use std::fmt;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::TimeoutStream;

mod ldap;
mod lines;
mod xmpp;
use crate::sanitize::sanitize;

/// Longest line (or XMPP tag) accepted from the server, in bytes.
pub const MAX_LINE: usize = 4096;
/// Most bytes accepted from the server before the TLS handshake.
pub const MAX_TOTAL: usize = 65536;
/// Longest server text quoted in an error.
const MAX_QUOTE: usize = 160;
/// PostgreSQL's SSLRequest: length 8, code 80877103.
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A protocol that upgrades a plain connection to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartTls {
    /// SMTP relay, RFC 3207 (port 25).
    Smtp,
    /// Mail submission, RFC 6409 + RFC 3207 (port 587).
    Submission,
    /// IMAP, RFC 2595/3501 (port 143).
    Imap,
    /// POP3, RFC 2595 (port 110).
    Pop3,
    /// XMPP client-to-server, RFC 6120 (port 5222).
    Xmpp,
    /// LDAP, RFC 4511/4513 (port 389).
    Ldap,
    /// PostgreSQL's SSLRequest (port 5432).
    Postgres,
    /// FTP, RFC 4217 (port 21).
    Ftp,
}

impl StartTls {
    /// Every protocol, in the order the docs list them.
    pub const ALL: [StartTls; 8] = [
        StartTls::Smtp,
        StartTls::Submission,
        StartTls::Imap,
        StartTls::Pop3,
        StartTls::Xmpp,
        StartTls::Ldap,
        StartTls::Postgres,
        StartTls::Ftp,
    ];

    /// The name `--starttls` and the URL scheme use (as `openssl s_client -starttls`).
    pub fn name(self) -> &'static str {
        match self {
            StartTls::Smtp => "smtp",
            StartTls::Submission => "submission",
            StartTls::Imap => "imap",
            StartTls::Pop3 => "pop3",
            StartTls::Xmpp => "xmpp",
            StartTls::Ldap => "ldap",
            StartTls::Postgres => "postgres",
            StartTls::Ftp => "ftp",
        }
    }

    /// The protocol called `name` (case-insensitive; `postgresql` too).
    pub fn from_name(name: &str) -> Option<StartTls> {
        let n = name.to_ascii_lowercase();
        if n == "postgresql" {
            return Some(StartTls::Postgres);
        }
        StartTls::ALL.into_iter().find(|p| p.name() == n)
    }

    /// The port the protocol uses with STARTTLS.
    pub fn default_port(self) -> u16 {
        match self {
            StartTls::Smtp => 25,
            StartTls::Submission => 587,
            StartTls::Imap => 143,
            StartTls::Pop3 => 110,
            StartTls::Xmpp => 5222,
            StartTls::Ldap => 389,
            StartTls::Postgres => 5432,
            StartTls::Ftp => 21,
        }
    }

    /// The same service's implicit-TLS port (465, 993, 995, 636), where a
    /// connection starts with the TLS handshake.
    pub fn implicit_tls_port(self) -> Option<u16> {
        match self {
            StartTls::Smtp | StartTls::Submission => Some(465),
            StartTls::Imap => Some(993),
            StartTls::Pop3 => Some(995),
            StartTls::Ldap => Some(636),
            StartTls::Xmpp | StartTls::Postgres | StartTls::Ftp => None,
        }
    }
}

impl fmt::Display for StartTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the dialogue did not reach the TLS handshake: one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

pub(super) type Step<T> = Result<T, Failure>;

pub(super) fn fail<T>(msg: impl Into<String>) -> Step<T> {
    Err(Failure(msg.into()))
}

/// What the server said, fit for a one-line error.
pub(super) fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut q: String = one_line.chars().take(MAX_QUOTE).collect();
    if one_line.chars().count() > MAX_QUOTE {
        q.push('…');
    }
    format!("{:?}", sanitize(&q))
}

/// The server's side of the dialogue: bounded, byte-at-a-time reads.
pub(super) struct Wire<'a, S> {
    stream: &'a mut S,
    deadline: Instant,
    timeout: Duration,
    read: usize,
    /// What the client is waiting for, for the error messages.
    pub(super) waiting: &'static str,
}

impl<S: Read + Write + TimeoutStream> Wire<'_, S> {
    pub(super) fn arm(&mut self) -> Step<()> {
        let now = Instant::now();
        if now >= self.deadline {
            return self.timed_out();
        }
        self.stream.set_io_timeout(self.deadline - now);
        Ok(())
    }

    pub(super) fn timed_out<T>(&self) -> Step<T> {
        fail(format!(
            "no answer within {:.1}s (waiting for {})",
            self.timeout.as_secs_f64(),
            self.waiting
        ))
    }

    pub(super) fn io_error<T>(&self, e: &std::io::Error) -> Step<T> {
        if super::is_timeout(e) {
            self.timed_out()
        } else {
            fail(format!("{e} (waiting for {})", self.waiting))
        }
    }

    pub(super) fn send(&mut self, bytes: &[u8]) -> Step<()> {
        self.arm()?;
        match self
            .stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
        {
            Ok(()) => Ok(()),
            Err(e) => self.io_error(&e),
        }
    }

    pub(super) fn byte(&mut self) -> Step<u8> {
        if self.read >= MAX_TOTAL {
            return fail(format!(
                "the server sent more than {MAX_TOTAL} bytes before TLS (waiting for {})",
                self.waiting
            ));
        }
        self.arm()?;
        let mut b = [0u8; 1];
        loop {
            match self.stream.read(&mut b) {
                Ok(0) => {
                    return fail(format!(
                        "the server closed the connection (waiting for {})",
                        self.waiting
                    ))
                }
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return self.io_error(&e),
            }
        }
        self.read += 1;
        Ok(b[0])
    }

    pub(super) fn exact(&mut self, n: usize) -> Step<Vec<u8>> {
        let mut v = Vec::with_capacity(n.min(MAX_LINE));
        for _ in 0..n {
            v.push(self.byte()?);
        }
        Ok(v)
    }

    /// One line without its CRLF (a bare LF is accepted as the end).
    pub(super) fn line(&mut self) -> Step<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let b = self.byte()?;
            if b == b'\n' {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            // MAX_LINE bytes of text, then CRLF.
            if line.len() >= MAX_LINE && !(line.len() == MAX_LINE && b == b'\r') {
                return fail(format!(
                    "the server sent a line longer than {MAX_LINE} bytes (waiting for {})",
                    self.waiting
                ));
            }
            line.push(b);
        }
    }
}

/// Runs `protocol`'s dialogue on `stream`; on `Ok` the next bytes on the
/// stream are the TLS handshake. `host` is the site's name (XMPP's `to=`).
pub fn negotiate<S: Read + Write + TimeoutStream>(
    stream: &mut S,
    protocol: StartTls,
    host: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let mut w = Wire {
        stream,
        deadline: Instant::now() + timeout,
        timeout,
        read: 0,
        waiting: "the greeting",
    };
    match protocol {
        StartTls::Smtp | StartTls::Submission => lines::smtp(&mut w),
        StartTls::Imap => lines::imap(&mut w),
        StartTls::Pop3 => lines::pop3(&mut w),
        StartTls::Xmpp => xmpp::xmpp(&mut w, host),
        StartTls::Ldap => ldap::ldap(&mut w),
        StartTls::Postgres => postgres(&mut w),
        StartTls::Ftp => lines::ftp(&mut w),
    }
}

// ----------------------------------------------------------------- Postgres

fn postgres<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    w.send(&PG_SSL_REQUEST)?;
    w.waiting = "the SSLRequest answer";
    match w.byte()? {
        b'S' => Ok(()),
        b'N' => fail("the server does not offer TLS (SSLRequest answered N: ssl is off)"),
        b'E' => {
            // An ErrorResponse (a refusal): skip its length, quote its fields.
            w.exact(4)?;
            let mut text = Vec::new();
            while text.len() < MAX_QUOTE {
                match w.byte() {
                    Ok(b) => text.push(if b == 0 { b' ' } else { b }),
                    Err(_) => break,
                }
            }
            fail(format!(
                "the server answered the SSLRequest with an error: {}",
                quote(&text)
            ))
        }
        b => fail(format!("unexpected answer to the SSLRequest: 0x{b:02x}")),
    }
}

#[cfg(test)]
mod tests;
