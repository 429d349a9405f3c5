//! Each dialogue fed a byte script: what the client sends, and the one-line
//! error for every way a server can refuse, stall or flood.

use std::io::{self, Read, Write};
use std::time::Duration;

use super::*;

/// A server played from a script: reads return `input` then EOF (or, with
/// `stall`, a timeout); writes are recorded.
struct Script {
    input: io::Cursor<Vec<u8>>,
    sent: Vec<u8>,
    stall: bool,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        if n == 0 && self.stall {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "stalled"));
        }
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TimeoutStream for Script {
    fn set_io_timeout(&mut self, _t: Duration) {}
}

fn script(input: &[u8], stall: bool) -> Script {
    Script {
        input: io::Cursor::new(input.to_vec()),
        sent: Vec::new(),
        stall,
    }
}

/// Runs `p` against `input`; returns the result and what the client sent.
fn run(p: StartTls, input: &[u8]) -> (Result<(), String>, String) {
    let mut s = script(input, false);
    let r = negotiate(&mut s, p, "mx.test", Duration::from_secs(1)).map_err(|f| f.0);
    (r, String::from_utf8_lossy(&s.sent).into_owned())
}

fn ok(p: StartTls, input: &[u8], sent: &str) {
    let (r, got) = run(p, input);
    assert_eq!(r, Ok(()), "{p}: {}", String::from_utf8_lossy(input));
    assert_eq!(got, sent, "{p}");
}

fn err(p: StartTls, input: &[u8], want: &str) {
    let (r, _) = run(p, input);
    let e = r.expect_err(&format!(
        "{p} should fail on {:?}",
        String::from_utf8_lossy(input)
    ));
    assert!(e.contains(want), "{p}: {e:?} lacks {want:?}");
    assert!(
        !e.contains('\n') && !e.contains('\r'),
        "{p}: not one line: {e:?}"
    );
}

#[test]
fn names_ports_and_parsing() {
    for p in StartTls::ALL {
        assert_eq!(StartTls::from_name(p.name()), Some(p));
        assert_eq!(StartTls::from_name(&p.name().to_uppercase()), Some(p));
    }
    assert_eq!(StartTls::from_name("postgresql"), Some(StartTls::Postgres));
    assert_eq!(StartTls::from_name("smtps"), None);
    let ports: Vec<u16> = StartTls::ALL.iter().map(|p| p.default_port()).collect();
    assert_eq!(ports, [25, 587, 143, 110, 5222, 389, 5432, 21]);
    assert_eq!(StartTls::Imap.implicit_tls_port(), Some(993));
}

#[test]
fn smtp_dialogue() {
    let good = b"220 mx.test ESMTP\r\n250-mx.test\r\n250-PIPELINING\r\n250-starttls\r\n250 8BITMIME\r\n220 go ahead\r\n";
    let sent = "EHLO certwatch.invalid\r\nSTARTTLS\r\n";
    ok(StartTls::Smtp, good, sent);
    ok(StartTls::Submission, good, sent);
    // A multi-line greeting; a bare-LF server.
    ok(
        StartTls::Smtp,
        b"220-mx.test ESMTP\r\n220 hello\r\n250-mx\r\n250 STARTTLS\r\n220 ok\r\n",
        sent,
    );
    ok(
        StartTls::Smtp,
        b"220 x\n250-x\n250 STARTTLS\n220 ok\n",
        sent,
    );
    err(
        StartTls::Smtp,
        b"220 mx\r\n250-mx.test\r\n250 8BITMIME\r\n",
        "the server does not offer STARTTLS (EHLO reply: \"mx.test | 8BITMIME\")",
    );
    // STARTTLS in the greeting line's text is not an extension.
    err(
        StartTls::Smtp,
        b"220 mx\r\n250 mx.test STARTTLS\r\n",
        "does not offer STARTTLS",
    );
    err(
        StartTls::Smtp,
        b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n454 TLS not available\r\n",
        "STARTTLS refused: 454 \"TLS not available\"",
    );
    err(
        StartTls::Smtp,
        b"554 no service\r\n",
        "refused the session: 554",
    );
    err(
        StartTls::Smtp,
        b"220 mx\r\n500 what\r\n",
        "EHLO refused: 500",
    );
    err(StartTls::Smtp, b"HTTP/1.1 400\r\n", "not a reply line");
    err(
        StartTls::Smtp,
        b"220-mx\r\n221 bye\r\n",
        "malformed multi-line reply",
    );
    err(
        StartTls::Smtp,
        b"220 mx\r\n",
        "closed the connection (waiting for the EHLO reply)",
    );
}

#[test]
fn ftp_dialogue() {
    ok(
        StartTls::Ftp,
        b"220 ftp\r\n234 AUTH TLS ok\r\n",
        "AUTH TLS\r\n",
    );
    // RFC 959 multi-line text between 220- and 220.
    ok(
        StartTls::Ftp,
        b"220-Welcome\r\n free text\r\n220 ready\r\n234 ok\r\n",
        "AUTH TLS\r\n",
    );
    err(
        StartTls::Ftp,
        b"220 ftp\r\n502 not implemented\r\n",
        "the server does not offer TLS (AUTH TLS: 502",
    );
    err(
        StartTls::Ftp,
        b"220 ftp\r\n431 unavailable\r\n",
        "AUTH TLS refused: 431",
    );
    err(
        StartTls::Ftp,
        b"421 too many\r\n",
        "refused the session: 421",
    );
}

#[test]
fn imap_dialogue() {
    let sent = "a001 CAPABILITY\r\na002 STARTTLS\r\n";
    ok(
        StartTls::Imap,
        b"* OK IMAP4rev1 ready\r\n* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na001 OK done\r\na002 OK Begin TLS\r\n",
        sent,
    );
    err(
        StartTls::Imap,
        b"* OK ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na001 OK done\r\n",
        "the server does not offer STARTTLS (capabilities: \"IMAP4rev1 AUTH=PLAIN\")",
    );
    err(
        StartTls::Imap,
        b"* OK ready\r\n* CAPABILITY STARTTLS\r\na001 OK\r\na002 BAD no\r\n",
        "STARTTLS refused: \"a002 BAD no\"",
    );
    err(StartTls::Imap, b"* PREAUTH hi\r\n", "pre-authenticated");
    err(StartTls::Imap, b"* BYE busy\r\n", "refused the session");
    err(
        StartTls::Imap,
        b"* OK ready\r\nzzz OK\r\n",
        "unexpected IMAP line",
    );
}

#[test]
fn pop3_dialogue() {
    let sent = "CAPA\r\nSTLS\r\n";
    ok(
        StartTls::Pop3,
        b"+OK POP3 ready\r\n+OK list\r\nUSER\r\nSTLS\r\n.\r\n+OK begin TLS\r\n",
        sent,
    );
    err(
        StartTls::Pop3,
        b"+OK ready\r\n+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
        "the server does not offer STLS (capabilities: \"USER SASL PLAIN\")",
    );
    err(
        StartTls::Pop3,
        b"+OK ready\r\n-ERR unknown command\r\n",
        "does not offer STLS; CAPA: \"-ERR unknown command\"",
    );
    err(
        StartTls::Pop3,
        b"+OK\r\n+OK\r\nSTLS\r\n.\r\n-ERR not now\r\n",
        "STLS refused",
    );
}

#[test]
fn xmpp_dialogue() {
    let header = "<?xml version='1.0'?><stream:stream to='mx.test' version='1.0' xml:lang='en' \
                  xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    let sent = format!("{header}<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    let server = b"<?xml version='1.0'?><stream:stream from='mx.test' id='x' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\
<stream:features><starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"><required/></starttls>\
<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>\
<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    ok(StartTls::Xmpp, server, &sent);
    err(
        StartTls::Xmpp,
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:features><mechanisms xmlns='x'><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
        "the server does not offer STARTTLS (stream features: \"mechanisms\")",
    );
    // A starttls element in another namespace is not the offer.
    err(
        StartTls::Xmpp,
        b"<stream:stream><stream:features><starttls xmlns='other'/></stream:features>",
        "does not offer STARTTLS",
    );
    err(
        StartTls::Xmpp,
        b"<stream:stream><stream:features/>",
        "does not offer STARTTLS",
    );
    err(
        StartTls::Xmpp,
        b"<stream:stream><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features><failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        "STARTTLS refused: <failure/>",
    );
    err(
        StartTls::Xmpp,
        b"<stream:stream><stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        "stream error: host-unknown",
    );
    err(StartTls::Xmpp, b"<html>", "not an XMPP stream header");
    let mut long = b"<stream:stream a='".to_vec();
    long.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
    err(StartTls::Xmpp, &long, "XML tag longer than 4096 bytes");
}

/// An LDAPResult ExtendedResponse: messageID `id`, `code`, diagnostic `diag`.
fn ldap_reply(id: u8, code: u8, diag: &[u8], name: Option<&[u8]>) -> Vec<u8> {
    let mut op = vec![0x0a, 0x01, code, 0x04, 0x00, 0x04, diag.len() as u8];
    op.extend_from_slice(diag);
    if let Some(n) = name {
        op.extend([0x8a, n.len() as u8]);
        op.extend_from_slice(n);
    }
    let mut body = vec![0x02, 0x01, id, 0x78, op.len() as u8];
    body.extend(op);
    let mut msg = vec![0x30, body.len() as u8];
    msg.extend(body);
    msg
}

#[test]
fn ldap_dialogue() {
    // RFC 4511 §4.14.1, byte for byte.
    let mut want = vec![0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16];
    want.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
    let mut s = script(
        &ldap_reply(1, 0, b"", Some(b"1.3.6.1.4.1.1466.20037")),
        false,
    );
    negotiate(&mut s, StartTls::Ldap, "h", Duration::from_secs(1)).unwrap();
    assert_eq!(s.sent, want);
    // Long-form length, no responseName.
    let mut long = ldap_reply(1, 0, b"", None);
    long.splice(1..2, [0x81, long[1]]);
    assert_eq!(run(StartTls::Ldap, &long).0, Ok(()));
    // Active Directory's four-byte length form.
    let mut ad = ldap_reply(1, 0, b"", None);
    ad.splice(1..2, [0x84, 0, 0, 0, ad[1]]);
    assert_eq!(run(StartTls::Ldap, &ad).0, Ok(()));
    err(
        StartTls::Ldap,
        &ldap_reply(1, 2, b"unsupported extended operation", None),
        "the server does not offer StartTLS (resultCode 2 protocolError: \"unsupported extended operation\")",
    );
    err(
        StartTls::Ldap,
        &ldap_reply(1, 52, b"busy", None),
        "StartTLS refused (resultCode 52 unavailable",
    );
    err(
        StartTls::Ldap,
        &ldap_reply(0, 52, b"bye", Some(b"1.3.6.1.4.1.1466.20036")),
        "Notice of Disconnection",
    );
    err(
        StartTls::Ldap,
        &ldap_reply(7, 0, b"", None),
        "message 7, not 1",
    );
    err(
        StartTls::Ldap,
        b"\x30\x85\x00\x00\x00\x00\x10",
        "unsupported BER length",
    );
    err(
        StartTls::Ldap,
        b"\x30\x84\x7f\xff\xff\xff",
        "announced a 2147483647-byte",
    );
    err(StartTls::Ldap, b"HTTP/1.1", "not an LDAP message");
    err(
        StartTls::Ldap,
        b"\x30\x03\x02\x01\x01",
        "not an LDAP ExtendedResponse",
    );
}

#[test]
fn postgres_dialogue() {
    let mut s = script(b"S", false);
    negotiate(&mut s, StartTls::Postgres, "h", Duration::from_secs(1)).unwrap();
    assert_eq!(s.sent, [0, 0, 0, 8, 4, 210, 22, 47]);
    err(StartTls::Postgres, b"N", "the server does not offer TLS");
    err(
        StartTls::Postgres,
        b"E\0\0\0\x20SFATAL\0Mno pg_hba.conf entry\0\0",
        "error: \"SFATAL Mno pg_hba.conf entry",
    );
    err(
        StartTls::Postgres,
        b"R",
        "unexpected answer to the SSLRequest: 0x52",
    );
}

#[test]
fn bounds_and_stalls() {
    // A line of exactly MAX_LINE bytes is fine; one more is not.
    let mut at = b"220 ".to_vec();
    at.extend(std::iter::repeat_n(b'x', MAX_LINE - 4));
    at.extend_from_slice(b"\r\n");
    let (r, _) = run(StartTls::Smtp, &at);
    assert!(r
        .unwrap_err()
        .contains("closed the connection (waiting for the EHLO reply)"));
    let mut over = b"220 ".to_vec();
    over.extend(std::iter::repeat_n(b'x', MAX_LINE - 3));
    over.extend_from_slice(b"\r\n");
    err(
        StartTls::Smtp,
        &over,
        "a line longer than 4096 bytes (waiting for the greeting)",
    );
    // Endless continuation lines stop at MAX_TOTAL.
    let mut endless = b"220 mx\r\n".to_vec();
    while endless.len() < MAX_TOTAL + 100 {
        endless.extend_from_slice(b"250-PIPELINING\r\n");
    }
    err(
        StartTls::Smtp,
        &endless,
        "more than 65536 bytes before TLS (waiting for the EHLO reply)",
    );
    // A stalled server: a timeout naming the step.
    let mut s = script(b"220 mx\r\n", true);
    let e = negotiate(&mut s, StartTls::Smtp, "h", Duration::from_millis(200)).unwrap_err();
    assert_eq!(e.0, "no answer within 0.2s (waiting for the EHLO reply)");
    // Control characters from the server are escaped, long text truncated.
    let mut evil = b"554 \x1b[31mred\x07 ".to_vec();
    evil.extend(std::iter::repeat_n(b'y', 400));
    evil.extend_from_slice(b"\r\n");
    let (r, _) = run(StartTls::Smtp, &evil);
    let e = r.unwrap_err();
    assert!(!e.contains('\x1b') && !e.contains('\x07'), "{e:?}");
    assert!(e.len() < 300 && e.contains('…'), "{e:?}");
}
