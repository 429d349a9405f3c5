//! The versioned request/response protocol (see `PROTOCOL.md`).
//!
//! Pure: bytes in → [`Envelope`] or [`ProtoError`]; values in → reply JSON.

use certwatch_engine::check::browser::{decode_cert, Visit};
use certwatch_engine::model::MAX_CHAIN_LEN;
use certwatch_engine::probe::Site;
use serde_json::{json, Value};

/// The protocol version this host speaks.
pub const PROTOCOL_VERSION: u64 = 1;
pub use certwatch_engine::check::browser::MAX_CERT_DER;

/// A request with its correlation id.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Opaque id chosen by the extension, echoed in the reply (`null` if absent).
    pub id: Value,
    /// The request.
    pub request: Request,
}

/// A request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Check a site (probe it; analyse the browser's chain when given).
    Check(CheckRequest),
    /// The site's timeline.
    History(Site),
    /// Accept the site's current CA.
    Accept(Site),
    /// Host and database status.
    Status,
}

impl Request {
    /// The `type` string.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Check(_) => "check",
            Request::History(_) => "history",
            Request::Accept(_) => "accept",
            Request::Status => "status",
        }
    }
}

/// A `check` request: one page load (see [`Visit`]).
pub type CheckRequest = Visit;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProtoError {
    /// Stable kind: `invalid_utf8`, `invalid_json`, `unsupported_version`,
    /// `unknown_type`, `invalid_request`.
    pub kind: &'static str,
    /// One line saying what and where.
    pub message: String,
    /// The request's id, when it could be read.
    pub id: Value,
}

fn bad(kind: &'static str, id: &Value, message: impl Into<String>) -> ProtoError {
    ProtoError {
        kind,
        message: message.into(),
        id: id.clone(),
    }
}

/// Parses one message body.
pub fn parse(bytes: &[u8]) -> Result<Envelope, ProtoError> {
    let none = Value::Null;
    let text = std::str::from_utf8(bytes).map_err(|e| {
        bad(
            "invalid_utf8",
            &none,
            format!("message is not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    if text.trim().is_empty() {
        return Err(bad("invalid_json", &none, "empty message"));
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| bad("invalid_json", &none, format!("message is not JSON: {e}")))?;
    let Value::Object(obj) = &v else {
        return Err(bad("invalid_json", &none, "message must be a JSON object"));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    match obj.get("v") {
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(PROTOCOL_VERSION) => {}
        Some(other) => {
            return Err(bad(
                "unsupported_version",
                &id,
                format!(
                    "protocol version {other} not supported (this host speaks {PROTOCOL_VERSION})"
                ),
            ))
        }
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad("invalid_request", &id, "`type` must be a string")),
        None => return Err(bad("invalid_request", &id, "missing `type`")),
    };
    let request = match kind {
        "status" => Request::Status,
        "history" => Request::History(site_of(obj, &id)?),
        "accept" => Request::Accept(site_of(obj, &id)?),
        "check" => Request::Check(check_of(obj, &id)?),
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(bad(
                "unknown_type",
                &id,
                format!("unknown request type {shown:?} (expected check, history, accept, status)"),
            ));
        }
    };
    Ok(Envelope { id, request })
}

type Obj = serde_json::Map<String, Value>;

fn site_of(obj: &Obj, id: &Value) -> Result<Site, ProtoError> {
    let host = match obj.get("host") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(bad("invalid_request", id, "`host` must be a string")),
        None => return Err(bad("invalid_request", id, "missing `host`")),
    };
    let port = match obj.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|p| u16::try_from(p).ok()) {
            Some(p) if p > 0 => Some(p),
            _ => {
                return Err(bad(
                    "invalid_request",
                    id,
                    format!("`port` {n} out of range 1-65535"),
                ))
            }
        },
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => match s.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(bad("invalid_request", id, "`port` out of range 1-65535")),
        },
        Some(_) => return Err(bad("invalid_request", id, "`port` must be a number")),
    };
    let mut site = Site::parse(host, 443).map_err(|e| {
        bad(
            "invalid_request",
            id,
            certwatch_engine::sanitize::sanitize(&format!("`host`: {e}")),
        )
    })?;
    if let Some(p) = port {
        site.port = p;
    }
    Ok(site)
}

fn check_of(obj: &Obj, id: &Value) -> Result<CheckRequest, ProtoError> {
    let site = site_of(obj, id)?;
    let chain = match obj.get("chain") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(bad("invalid_request", id, "`chain` is empty"));
            }
            if items.len() > MAX_CHAIN_LEN {
                return Err(bad(
                    "invalid_request",
                    id,
                    format!(
                        "`chain` has {} certificates (at most {MAX_CHAIN_LEN})",
                        items.len()
                    ),
                ));
            }
            let mut ders = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::String(b64) = item else {
                    return Err(bad(
                        "invalid_request",
                        id,
                        format!("`chain[{i}]` must be a base64 string"),
                    ));
                };
                let der = decode_cert(i, b64).map_err(|m| bad("invalid_request", id, m))?;
                ders.push(der);
            }
            Some(ders)
        }
        Some(_) => {
            return Err(bad(
                "invalid_request",
                id,
                "`chain` must be an array of base64 strings",
            ))
        }
    };
    let tls_state = match obj.get("tls_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= 32 => Some(s.clone()),
        Some(_) => {
            return Err(bad(
                "invalid_request",
                id,
                "`tls_state` must be a short string",
            ))
        }
    };
    let is_builtin_root = match obj.get("is_builtin_root") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(bad(
                "invalid_request",
                id,
                "`is_builtin_root` must be a boolean",
            ))
        }
    };
    let ip = match obj.get("ip") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .map_err(|_| bad("invalid_request", id, "`ip` must be an IP address"))?,
        ),
        Some(_) => return Err(bad("invalid_request", id, "`ip` must be a string")),
    };
    Ok(CheckRequest {
        site,
        chain,
        tls_state,
        is_builtin_root,
        ip,
    })
}

/// A successful reply.
pub fn ok_reply(id: &Value, kind: &str, result: Value) -> Value {
    json!({"v": PROTOCOL_VERSION, "id": id, "type": kind, "ok": true, "result": result})
}

/// An error reply; `result` carries a partial result when there is one.
pub fn error_reply(
    id: &Value,
    kind: Option<&str>,
    error_kind: &str,
    message: &str,
    result: Option<Value>,
) -> Value {
    let mut v = json!({
        "v": PROTOCOL_VERSION,
        "id": id,
        "type": kind,
        "ok": false,
        "error": {"kind": error_kind, "message": certwatch_engine::sanitize::sanitize(message)},
    });
    if let Some(r) = result {
        v["result"] = r;
    }
    v
}

/// Serialises `reply`, replacing it with an error reply when it would
/// exceed the browser's 1 MiB limit.
pub fn encode_reply(reply: &Value) -> Vec<u8> {
    let bytes = serde_json::to_vec(reply).unwrap_or_default();
    if bytes.len() <= crate::framing::MAX_OUT {
        return bytes;
    }
    let id = reply.get("id").cloned().unwrap_or(Value::Null);
    let kind = reply.get("type").and_then(Value::as_str);
    serde_json::to_vec(&error_reply(
        &id,
        kind,
        "reply_too_large",
        &format!(
            "reply of {} bytes exceeds the 1 MiB native-messaging limit",
            bytes.len()
        ),
        None,
    ))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(s: &str) -> Result<&'static str, &'static str> {
        parse(s.as_bytes())
            .map(|e| e.request.kind())
            .map_err(|e| e.kind)
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            (r#"{"type":"status"}"#, Ok("status")),
            (r#"{"v":1,"id":7,"type":"status"}"#, Ok("status")),
            (r#"{"v":2,"type":"status"}"#, Err("unsupported_version")),
            (r#"{"v":"1","type":"status"}"#, Err("unsupported_version")),
            (r#"{"type":"nope"}"#, Err("unknown_type")),
            (r#"{"type":5}"#, Err("invalid_request")),
            (r#"{}"#, Err("invalid_request")),
            (r#"[]"#, Err("invalid_json")),
            (r#"{"type":"#, Err("invalid_json")),
            ("", Err("invalid_json")),
            (r#"{"type":"history","host":"example.org"}"#, Ok("history")),
            (r#"{"type":"history"}"#, Err("invalid_request")),
            (
                r#"{"type":"history","host":"bad host"}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"accept","host":"example.org","port":8443}"#,
                Ok("accept"),
            ),
            (
                r#"{"type":"accept","host":"example.org","port":0}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"accept","host":"example.org","port":70000}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"check","host":"example.org","port":"8443"}"#,
                Ok("check"),
            ),
            (
                r#"{"type":"check","host":"example.org","chain":["AAEC"]}"#,
                Ok("check"),
            ),
            (
                r#"{"type":"check","host":"example.org","chain":[]}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"check","host":"example.org","chain":["!!"]}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"check","host":"example.org","chain":[1]}"#,
                Err("invalid_request"),
            ),
            (
                r#"{"type":"check","host":"example.org","is_builtin_root":"no"}"#,
                Err("invalid_request"),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(kind_of(input), *want, "{input}");
        }
        assert_eq!(parse(b"\xff\xfe").unwrap_err().kind, "invalid_utf8");
    }

    #[test]
    fn check_fields() {
        let e = parse(br#"{"id":"x","type":"check","host":"Example.ORG","port":8443,"chain":["AAEC","AwQ="],"tls_state":"secure","is_builtin_root":false}"#).unwrap();
        assert_eq!(e.id, json!("x"));
        let Request::Check(c) = e.request else {
            panic!()
        };
        assert_eq!(c.site.host, "example.org");
        assert_eq!(c.site.port, 8443);
        assert_eq!(c.chain, Some(vec![vec![0, 1, 2], vec![3, 4]]));
        assert_eq!(c.tls_state.as_deref(), Some("secure"));
        assert_eq!(c.is_builtin_root, Some(false));
    }

    #[test]
    fn garbage_never_panics() {
        // Deterministic pseudo-random bytes and JSON-ish fragments.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pieces: [&[u8]; 12] = [
            b"{",
            b"}",
            b"\"type\"",
            b":",
            b"\"check\"",
            b",",
            b"\"host\"",
            b"\"chain\"",
            b"[",
            b"]",
            b"\"\xc3\"",
            b"1e999",
        ];
        for _ in 0..20_000 {
            let n = (next() % 24) as usize;
            let mut buf = Vec::new();
            for _ in 0..n {
                if next() % 3 == 0 {
                    buf.push(next() as u8);
                } else {
                    buf.extend_from_slice(pieces[(next() % 12) as usize]);
                }
            }
            let _ = parse(&buf);
        }
    }

    #[test]
    fn id_survives_errors() {
        assert_eq!(parse(br#"{"id":3,"type":"zzz"}"#).unwrap_err().id, json!(3));
    }

    #[test]
    fn oversize_reply_replaced() {
        let big = ok_reply(
            &json!(1),
            "history",
            json!("x".repeat(crate::framing::MAX_OUT)),
        );
        let out: Value = serde_json::from_slice(&encode_reply(&big)).unwrap();
        assert_eq!(out["ok"], false);
        assert_eq!(out["error"]["kind"], "reply_too_large");
        assert_eq!(out["id"], 1);
        let small = ok_reply(&json!(1), "status", json!({}));
        assert_eq!(encode_reply(&small), serde_json::to_vec(&small).unwrap());
    }
}
