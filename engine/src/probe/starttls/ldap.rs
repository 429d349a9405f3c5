//! LDAP StartTLS (RFC 4511 §4.14, RFC 4513 §3): the ExtendedRequest in
//! BER, an ExtendedResponse with resultCode 0. Definite lengths only.

use std::io::{Read, Write};

use super::{fail, quote, Step, Wire, MAX_TOTAL};
use crate::probe::TimeoutStream;

/// RFC 4511 §4.14.1: the StartTLS extended operation.
const LDAP_STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
/// RFC 4511 §4.4.1: the Notice of Disconnection.
const LDAP_DISCONNECT_OID: &[u8] = b"1.3.6.1.4.1.1466.20036";

/// The StartTLS ExtendedRequest, messageID 1 (RFC 4511 §4.12, §4.14.1).
fn ldap_request() -> Vec<u8> {
    let mut name = vec![0x80, LDAP_STARTTLS_OID.len() as u8];
    name.extend_from_slice(LDAP_STARTTLS_OID);
    let mut op = vec![0x77, name.len() as u8];
    op.extend(name);
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend(op);
    let mut msg = vec![0x30, body.len() as u8];
    msg.extend(body);
    msg
}

/// Reads one BER element tagged `want` (definite length ≤ [`MAX_TOTAL`]);
/// returns its contents.
fn ber_read<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>, want: u8) -> Step<Vec<u8>> {
    let tag = w.byte()?;
    if tag != want {
        return fail(format!("not an LDAP message (tag 0x{tag:02x})"));
    }
    let first = w.byte()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return fail(format!("unsupported BER length form 0x{first:02x}"));
        }
        let mut len = 0usize;
        for _ in 0..n {
            len = (len << 8) | usize::from(w.byte()?);
        }
        len
    };
    if len > MAX_TOTAL {
        return fail(format!("the server announced a {len}-byte LDAP message"));
    }
    w.exact(len)
}

/// Splits BER contents into (tag, contents) elements.
fn ber_elements(mut s: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let tag = *s.first()?;
        let first = *s.get(1)?;
        let (len, head) = if first < 0x80 {
            (usize::from(first), 2)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let bytes = s.get(2..2 + n)?;
            (
                bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
                2 + n,
            )
        };
        let body = s.get(head..head.checked_add(len)?)?;
        out.push((tag, body));
        s = &s[head + len..];
    }
    Some(out)
}

/// The result of an LDAP ExtendedResponse message's contents:
/// (messageID, resultCode, diagnosticMessage, responseName).
fn ldap_response(msg: &[u8]) -> Option<(u32, u32, Vec<u8>, Vec<u8>)> {
    let parts = ber_elements(msg)?;
    let (id_tag, id) = parts.first()?;
    let (op_tag, op) = parts.get(1)?;
    if *id_tag != 0x02 || *op_tag != 0x78 || id.len() > 4 {
        return None;
    }
    let id = id.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
    let fields = ber_elements(op)?;
    let (code_tag, code) = fields.first()?;
    if *code_tag != 0x0a || code.len() > 4 {
        return None;
    }
    let code = code.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b));
    let diag = fields
        .get(2)
        .filter(|(t, _)| *t == 0x04)
        .map(|(_, d)| d.to_vec())
        .unwrap_or_default();
    let name = fields
        .iter()
        .find(|(t, _)| *t == 0x8a)
        .map(|(_, n)| n.to_vec())
        .unwrap_or_default();
    Some((id, code, diag, name))
}

fn ldap_result_name(code: u32) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        12 => "unavailableCriticalExtension",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "error",
    }
}

pub(super) fn ldap<S: Read + Write + TimeoutStream>(w: &mut Wire<'_, S>) -> Step<()> {
    w.send(&ldap_request())?;
    w.waiting = "the StartTLS ExtendedResponse";
    let msg = ber_read(w, 0x30)?;
    let Some((id, code, diag, name)) = ldap_response(&msg) else {
        return fail("not an LDAP ExtendedResponse");
    };
    if id == 0 && name == LDAP_DISCONNECT_OID {
        return fail(format!(
            "the server sent a Notice of Disconnection: {}",
            quote(&diag)
        ));
    }
    if id != 1 {
        return fail(format!("LDAP response to message {id}, not 1"));
    }
    match code {
        0 => Ok(()),
        2 | 12 => fail(format!(
            "the server does not offer StartTLS (resultCode {code} {}: {})",
            ldap_result_name(code),
            quote(&diag)
        )),
        c => fail(format!(
            "StartTLS refused (resultCode {c} {}: {})",
            ldap_result_name(c),
            quote(&diag)
        )),
    }
}
