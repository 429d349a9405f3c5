//! XMPP (RFC 6120 §5): stream header, `<starttls/>` among the stream
//! features, `<proceed/>`. A tag scanner, not an XML parser: it reads tags
//! one by one (each at most `MAX_LINE` bytes), compares local names (the
//! prefix dropped) and the `xmlns` of `<starttls>`.

use std::io::{Read, Write};

use super::{fail, quote, Failure, Step, Wire, MAX_LINE};
use crate::probe::TimeoutStream;

const XMPP_TLS_NS: &str = "urn:ietf:params:xml:ns:xmpp-tls";

/// One XML tag: its local name (prefix dropped), whether it closes (`</x>`)
/// or is empty (`<x/>`), and its raw text.
#[derive(Debug, PartialEq, Eq)]
struct Tag {
    local: String,
    closing: bool,
    empty: bool,
    raw: Vec<u8>,
}

impl Tag {
    /// The value of attribute `name` (single or double quotes).
    fn attr(&self, name: &str) -> Option<String> {
        let raw = String::from_utf8_lossy(&self.raw);
        for q in ['\'', '"'] {
            let pat = format!(" {name}={q}");
            if let Some(i) = raw.find(&pat) {
                let rest = &raw[i + pat.len()..];
                return rest.find(q).map(|j| rest[..j].to_string());
            }
        }
        None
    }
}

/// Parses the text between `<` and `>`.
fn parse_tag(raw: &[u8]) -> Tag {
    let closing = raw.first() == Some(&b'/');
    let body = if closing { &raw[1..] } else { raw };
    let name_end = body
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(body.len());
    let name = String::from_utf8_lossy(&body[..name_end]);
    let local = name.rsplit(':').next().unwrap_or("").to_string();
    Tag {
        local,
        closing,
        empty: raw.last() == Some(&b'/') || raw.last() == Some(&b'?'),
        raw: raw.to_vec(),
    }
}

/// Reads the next tag, skipping character data (counted against [`super::MAX_TOTAL`]).
fn next_tag<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<Tag> {
    while w.byte()? != b'<' {}
    let mut raw = Vec::new();
    let mut quote_char = None;
    loop {
        let b = w.byte()?;
        match (quote_char, b) {
            (None, b'>') => break,
            (None, b'\'' | b'"') => quote_char = Some(b),
            (Some(q), _) if b == q => quote_char = None,
            _ => {}
        }
        if raw.len() >= MAX_LINE {
            return fail(format!(
                "the server sent an XML tag longer than {MAX_LINE} bytes (waiting for {})",
                w.waiting
            ));
        }
        raw.push(b);
    }
    Ok(parse_tag(&raw))
}

/// The first element inside a `<stream:error>`: the condition.
fn xmpp_stream_error<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Failure {
    match next_tag(w) {
        Ok(t) => Failure(format!("the server sent a stream error: {}", t.local)),
        Err(e) => e,
    }
}

pub(super) fn xmpp<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>, host: &str) -> Step<()> {
    let header = format!(
        "<?xml version='1.0'?><stream:stream to='{host}' version='1.0' xml:lang='en' \
         xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    );
    w.send(header.as_bytes())?;
    w.waiting = "the stream header";
    let mut tag = next_tag(w)?;
    if tag.raw.first() == Some(&b'?') {
        tag = next_tag(w)?;
    }
    if tag.local == "error" {
        return Err(xmpp_stream_error(w));
    }
    if tag.local != "stream" || tag.closing {
        return fail(format!("not an XMPP stream header: {}", quote(&tag.raw)));
    }
    w.waiting = "the stream features";
    let features = next_tag(w)?;
    if features.local == "error" {
        return Err(xmpp_stream_error(w));
    }
    if features.local != "features" || features.closing {
        return fail(format!(
            "expected the stream features, got: {}",
            quote(&features.raw)
        ));
    }
    let mut offered = false;
    let mut seen = Vec::new();
    let mut depth = 0usize;
    if !features.empty {
        loop {
            let t = next_tag(w)?;
            if t.closing {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                continue;
            }
            if depth == 0 {
                if t.local == "starttls" && t.attr("xmlns").as_deref() == Some(XMPP_TLS_NS) {
                    offered = true;
                }
                seen.push(t.local.clone());
            }
            if !t.empty {
                depth += 1;
            }
        }
    }
    if !offered {
        return fail(format!(
            "the server does not offer STARTTLS (stream features: {})",
            quote(seen.join(" ").as_bytes())
        ));
    }
    w.send(format!("<starttls xmlns='{XMPP_TLS_NS}'/>").as_bytes())?;
    w.waiting = "<proceed/>";
    let answer = next_tag(w)?;
    if answer.local == "proceed" && !answer.closing {
        return Ok(());
    }
    if answer.local == "failure" {
        return fail("STARTTLS refused: <failure/>");
    }
    fail(format!("expected <proceed/>, got: {}", quote(&answer.raw)))
}
