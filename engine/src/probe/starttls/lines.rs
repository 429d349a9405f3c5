//! The line-based dialogues: SMTP and submission (RFC 3207), FTP (RFC 4217),
//! IMAP (RFC 2595/3501) and POP3 (RFC 2595).

use std::io::{Read, Write};

use super::{fail, quote, Step, Wire};
use crate::probe::TimeoutStream;

/// The name the client gives in `EHLO` (RFC 2606 reserves `.invalid`).
const EHLO_NAME: &str = "certwatch.invalid";

/// A reply: its code and the text of each line.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<Vec<u8>>,
}

impl Reply {
    /// Fails with `what: CODE "text"` unless the reply is `code`.
    fn expect(&self, code: u16, what: &str) -> Step<()> {
        if self.code == code {
            return Ok(());
        }
        fail(format!("{what}: {} {}", self.code, self.quoted()))
    }

    fn quoted(&self) -> String {
        let mut all = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                all.extend_from_slice(b" | ");
            }
            all.extend_from_slice(l);
        }
        quote(&all)
    }
}

/// One line of a reply: `(code, more lines follow, text)` (RFC 5321 §4.2.1).
fn reply_line(line: &[u8]) -> Option<(u16, bool, &[u8])> {
    let code = line.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Some((n, false, b"")),
        Some(b' ') => Some((n, false, &line[4..])),
        Some(b'-') => Some((n, true, &line[4..])),
        Some(_) => None,
    }
}

/// Reads a whole reply. SMTP numbers every line alike; FTP (RFC 959 §4.2)
/// allows free text between `ddd-` and the closing `ddd `.
fn reply<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>, ftp: bool) -> Step<Reply> {
    let first = w.line()?;
    let Some((code, mut more, text)) = reply_line(&first) else {
        return fail(format!("not a reply line: {}", quote(&first)));
    };
    let mut lines = vec![text.to_vec()];
    while more {
        let l = w.line()?;
        match reply_line(&l) {
            Some((c, m, text)) if c == code => {
                more = m;
                lines.push(text.to_vec());
            }
            _ if ftp => lines.push(l),
            _ => return fail(format!("malformed multi-line reply: {}", quote(&l))),
        }
    }
    Ok(Reply { code, lines })
}

/// Whether an EHLO reply advertises `STARTTLS` (RFC 3207 §4; the first line is the greeting).
fn ehlo_offers_starttls(r: &Reply) -> bool {
    r.lines.iter().skip(1).any(|l| {
        l.split(|b| *b == b' ')
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(b"STARTTLS"))
    })
}

pub(super) fn smtp<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    let greeting = reply(w, false)?;
    greeting.expect(220, "the server refused the session")?;
    w.send(format!("EHLO {EHLO_NAME}\r\n").as_bytes())?;
    w.waiting = "the EHLO reply";
    let ehlo = reply(w, false)?;
    ehlo.expect(250, "EHLO refused")?;
    if !ehlo_offers_starttls(&ehlo) {
        return fail(format!(
            "the server does not offer STARTTLS (EHLO reply: {})",
            ehlo.quoted()
        ));
    }
    w.send(b"STARTTLS\r\n")?;
    w.waiting = "the STARTTLS reply";
    reply(w, false)?.expect(220, "STARTTLS refused")
}

pub(super) fn ftp<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    let greeting = reply(w, true)?;
    greeting.expect(220, "the server refused the session")?;
    w.send(b"AUTH TLS\r\n")?;
    w.waiting = "the AUTH TLS reply";
    let r = reply(w, true)?;
    match r.code {
        234 => Ok(()),
        500 | 502 | 504 => fail(format!(
            "the server does not offer TLS (AUTH TLS: {} {})",
            r.code,
            r.quoted()
        )),
        c => fail(format!("AUTH TLS refused: {c} {}", r.quoted())),
    }
}

// --------------------------------------------------------------- IMAP, POP3

/// The capabilities an IMAP `* CAPABILITY …` line (or `[CAPABILITY …]`) lists.
fn imap_capabilities(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let rest = line.strip_prefix(b"* ")?;
    let (word, rest) = split_word(rest);
    if !word.eq_ignore_ascii_case(b"CAPABILITY") {
        return None;
    }
    Some(
        rest.split(|b| *b == b' ')
            .filter(|w| !w.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|b| *b == b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, b""),
    }
}

/// An IMAP command's response: untagged lines, the tagged status word
/// (uppercased), the tagged line.
struct Tagged {
    untagged: Vec<Vec<u8>>,
    status: Vec<u8>,
    last: Vec<u8>,
}

/// Reads untagged lines until the line tagged `tag`.
fn imap_tagged<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>, tag: &[u8]) -> Step<Tagged> {
    let mut untagged = Vec::new();
    loop {
        let line = w.line()?;
        if line.starts_with(b"* ") {
            untagged.push(line);
            continue;
        }
        let (t, rest) = split_word(&line);
        if t != tag {
            return fail(format!("unexpected IMAP line: {}", quote(&line)));
        }
        let status = split_word(rest).0.to_ascii_uppercase();
        return Ok(Tagged {
            untagged,
            status,
            last: line,
        });
    }
}

/// Fails with `what: "line"` unless `seen` starts with `prefix`.
fn expect(seen: &[u8], prefix: &[u8], what: &str, line: &[u8]) -> Step<()> {
    if seen.starts_with(prefix) {
        return Ok(());
    }
    fail(format!("{what}: {}", quote(line)))
}

pub(super) fn imap<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    let greeting = w.line()?;
    let upper = greeting.to_ascii_uppercase();
    if upper.starts_with(b"* PREAUTH") {
        return fail(format!(
            "the server pre-authenticated the session, so STARTTLS is not allowed (RFC 3501): {}",
            quote(&greeting)
        ));
    }
    expect(&upper, b"* OK", "the server refused the session", &greeting)?;
    w.send(b"a001 CAPABILITY\r\n")?;
    w.waiting = "the CAPABILITY reply";
    let Tagged {
        untagged,
        status,
        last,
    } = imap_tagged(w, b"a001")?;
    if status != b"OK" {
        return fail(format!("CAPABILITY refused: {}", quote(&last)));
    }
    let caps: Vec<Vec<u8>> = untagged
        .iter()
        .filter_map(|l| imap_capabilities(l))
        .flatten()
        .collect();
    if !caps.iter().any(|c| c.eq_ignore_ascii_case(b"STARTTLS")) {
        return fail(format!(
            "the server does not offer STARTTLS (capabilities: {})",
            quote(&caps.join(&b' '))
        ));
    }
    w.send(b"a002 STARTTLS\r\n")?;
    w.waiting = "the STARTTLS reply";
    let Tagged { status, last, .. } = imap_tagged(w, b"a002")?;
    if status != b"OK" {
        return fail(format!("STARTTLS refused: {}", quote(&last)));
    }
    Ok(())
}

pub(super) fn pop3<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    let greeting = w.line()?;
    expect(
        &greeting,
        b"+OK",
        "the server refused the session",
        &greeting,
    )?;
    w.send(b"CAPA\r\n")?;
    w.waiting = "the CAPA reply";
    let status = w.line()?;
    expect(
        &status,
        b"+OK",
        "the server does not offer STLS; CAPA",
        &status,
    )?;
    let mut caps = Vec::new();
    loop {
        let l = w.line()?;
        if l == b"." {
            break;
        }
        caps.push(l);
    }
    let offered = caps
        .iter()
        .any(|c| split_word(c).0.eq_ignore_ascii_case(b"STLS"));
    if !offered {
        return fail(format!(
            "the server does not offer STLS (capabilities: {})",
            quote(&caps.join(&b' '))
        ));
    }
    w.send(b"STLS\r\n")?;
    w.waiting = "the STLS reply";
    let go = w.line()?;
    expect(&go, b"+OK", "STLS refused", &go)
}
