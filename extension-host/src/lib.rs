//! certwatch native-messaging host: the browser companion's link to the
//! engine and the history database.
//!
//! - [`framing`]: length-prefixed frames, never trusting the length (pure);
//! - [`messages`]: the versioned JSON protocol (pure; see `PROTOCOL.md`);
//! - [`caller`]: only our extension may start the host (pure);
//! - [`compare`]: browser chain vs the host's own probe (pure);
//! - [`backend`]: answering requests ([`backend::DirectBackend`]: engine +
//!   database in-process; the seam for routing to the daemon);
//! - [`serve`]: the loop tying them to stdin/stdout.

pub mod backend;
pub mod caller;
pub mod compare;
pub mod framing;
pub mod messages;

use std::io::{Read, Write};
use std::time::Instant;

use serde_json::Value;

use crate::backend::{Backend, Failure};
use crate::caller::Caller;
use crate::framing::{read_frame, write_frame, FrameError, DEFAULT_MAX_IN};
use crate::messages::{encode_reply, error_reply, ok_reply, parse, Request};

/// Exit status: the port closed normally.
pub const EXIT_OK: i32 = 0;
/// Exit status: a protocol violation, a refused caller or an I/O error.
pub const EXIT_ERROR: i32 = 1;

fn log(line: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "certwatch-host: {}",
        certwatch_engine::sanitize::sanitize(line)
    );
}

/// The input cap from `CERTWATCH_HOST_MAX_IN` (bytes), else the default.
pub fn max_in(value: Option<&str>) -> Result<u32, String> {
    match value {
        None => Ok(DEFAULT_MAX_IN),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!(
                    "{}={v:?}: expected a byte count from 1 to 4294967295",
                    backend::env::MAX_IN
                )
            }),
    }
}

/// Serves one browser connection: checks the caller, then answers frames
/// until stdin closes. `make_backend` runs at the first request that needs it.
pub fn serve<R, W, F>(
    args: &[String],
    cap: u32,
    mut input: R,
    mut output: W,
    make_backend: F,
) -> i32
where
    R: Read,
    W: Write,
    F: FnOnce() -> Result<Box<dyn Backend>, Failure>,
{
    let caller = Caller::from_args(args);
    if !caller.is_ours() {
        let msg = format!(
            "refusing caller: {} is not the certwatch extension",
            caller.describe()
        );
        log(&msg);
        let reply = error_reply(&Value::Null, None, "forbidden_caller", &msg, None);
        let _ = write_frame(&mut output, &encode_reply(&reply));
        return EXIT_ERROR;
    }
    let mut make = Some(make_backend);
    let mut backend: Option<Result<Box<dyn Backend>, Failure>> = None;
    loop {
        let body = match read_frame(&mut input, cap) {
            Ok(Some(b)) => b,
            Ok(None) => return EXIT_OK,
            Err(e) => {
                log(&e.to_string());
                if !matches!(e, FrameError::Io(_)) {
                    let reply = error_reply(&Value::Null, None, e.kind(), &e.to_string(), None);
                    let _ = write_frame(&mut output, &encode_reply(&reply));
                }
                return EXIT_ERROR;
            }
        };
        let started = Instant::now();
        let reply = match parse(&body) {
            Err(e) => {
                log(&e.message);
                error_reply(&e.id, None, e.kind, &e.message, None)
            }
            Ok(env) => {
                let kind = env.request.kind();
                if backend.is_none() {
                    backend = make.take().map(|f| f());
                }
                let result = match backend.as_mut() {
                    Some(Ok(b)) => dispatch(b.as_mut(), &env.request),
                    Some(Err(f)) => Err(f.clone()),
                    None => Err(Failure {
                        kind: "config".into(),
                        message: "no backend".into(),
                        result: None,
                    }),
                };
                let ms = started.elapsed().as_millis();
                match result {
                    Ok(v) => {
                        let sev = v.get("severity").and_then(Value::as_str).unwrap_or("ok");
                        log(&format!("{kind}{} → {sev} ({ms} ms)", target(&env.request)));
                        ok_reply(&env.id, kind, v)
                    }
                    Err(f) => {
                        log(&format!(
                            "{kind}{} failed: {} ({ms} ms)",
                            target(&env.request),
                            f.message
                        ));
                        error_reply(&env.id, Some(kind), &f.kind, &f.message, f.result)
                    }
                }
            }
        };
        if let Err(e) = write_frame(&mut output, &encode_reply(&reply)) {
            log(&format!("writing stdout: {e}"));
            return if e.kind() == std::io::ErrorKind::BrokenPipe {
                EXIT_OK
            } else {
                EXIT_ERROR
            };
        }
    }
}

fn target(r: &Request) -> String {
    match r {
        Request::Check(c) => format!(" {}", c.site),
        Request::History(s) | Request::Accept(s) => format!(" {s}"),
        Request::Status => String::new(),
    }
}

fn dispatch(b: &mut dyn Backend, r: &Request) -> Result<Value, Failure> {
    match r {
        Request::Check(c) => b.check(c),
        Request::History(s) => b.history(s),
        Request::Accept(s) => b.accept(s),
        Request::Status => b.status(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_in_table() {
        assert_eq!(max_in(None), Ok(DEFAULT_MAX_IN));
        assert_eq!(max_in(Some("1024")), Ok(1024));
        assert!(max_in(Some("0")).is_err());
        assert!(max_in(Some("-1")).is_err());
        assert!(max_in(Some("9999999999")).is_err());
        assert!(max_in(Some("lots")).is_err());
    }
}
