//! certwatch native-messaging host: the browser companion's link to the
//! engine and the history database.
//!
//! - [`framing`]: length-prefixed frames, never trusting the length (pure);
//! - [`messages`]: the versioned JSON protocol (pure; see `PROTOCOL.md`);
//! - [`caller`]: only our extension may start the host (pure);
//! - [`backend`]: answering requests ([`backend::DirectBackend`]: engine +
//!   database in-process, with a short per-site cache of its own probes);
//! - [`relay`]: the daemon as the hub ([`relay::Router`]: over certwatchd's
//!   socket when it runs, else direct);
//! - [`serve`]: the loop tying them to stdin/stdout.
//!
//! The browser keeps one host process for its whole session (one
//! `connectNative` port), so requests are answered on [`WORKERS`] threads:
//! a slow or unreachable site never holds up the verdicts of other tabs.
//! Replies carry the request's `id` and may come out of order.

pub mod backend;
pub mod caller;
pub mod framing;
pub mod messages;
pub mod relay;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
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

/// Requests answered at once.
pub const WORKERS: usize = 4;

type MadeBackend = Result<Box<dyn Backend>, Failure>;

/// Serves one browser connection: checks the caller, then answers frames
/// until stdin closes. `make_backend` runs at the first request that needs
/// it. Frames are read on the calling thread and answered on [`WORKERS`]
/// threads, each writing its reply (one frame at a time); a fatal framing
/// error is answered after the requests before it.
pub fn serve<R, W, F>(args: &[String], cap: u32, input: R, mut output: W, make_backend: F) -> i32
where
    R: Read,
    W: Write + Send,
    F: FnOnce() -> MadeBackend + Send,
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
    let make = Mutex::new(Some(make_backend));
    let backend: OnceLock<MadeBackend> = OnceLock::new();
    let get = || {
        backend.get_or_init(|| {
            let f = make.lock().ok().and_then(|mut m| m.take());
            f.map(|f| f()).unwrap_or_else(|| {
                Err(Failure {
                    kind: "config".into(),
                    message: "no backend".into(),
                    result: None,
                })
            })
        })
    };
    let (jobs_tx, jobs_rx) = mpsc::sync_channel::<Vec<u8>>(WORKERS);
    let jobs_rx = Mutex::new(jobs_rx);
    let output = Mutex::new(output);
    // The first write error: the browser went away (then stop writing).
    let broken: Mutex<Option<std::io::ErrorKind>> = Mutex::new(None);
    let write = |reply: &[u8]| {
        let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
        let mut failed = broken.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_none() {
            if let Err(e) = write_frame(&mut *out, reply) {
                log(&format!("writing stdout: {e}"));
                *failed = Some(e.kind());
            }
        }
    };
    let (code, last) = std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            let (jobs, get, write) = (&jobs_rx, &get, &write);
            // Each worker writes its own reply: no hand-off to another thread.
            scope.spawn(move || loop {
                let next = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(body) = next else {
                    return; // the reader is done
                };
                write(&encode_reply(&answer(&body, get)));
            });
        }
        read_loop(input, cap, jobs_tx)
    });
    // Every worker is done: the replies before a fatal error are out.
    match broken.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(std::io::ErrorKind::BrokenPipe) => return EXIT_OK,
        Some(_) => return EXIT_ERROR,
        None => {}
    }
    if let Some(last) = last {
        let mut out = output.into_inner().unwrap_or_else(|p| p.into_inner());
        let _ = write_frame(&mut out, &last);
    }
    code
}

/// Reads frames into `jobs` until EOF (exit 0) or a framing error (exit 1,
/// with the error's reply, written after the replies before it).
fn read_loop<R: Read>(
    mut input: R,
    cap: u32,
    jobs: mpsc::SyncSender<Vec<u8>>,
) -> (i32, Option<Vec<u8>>) {
    loop {
        match read_frame(&mut input, cap) {
            Ok(Some(b)) => {
                if jobs.send(b).is_err() {
                    return (EXIT_ERROR, None);
                }
            }
            Ok(None) => return (EXIT_OK, None),
            Err(e) => {
                log(&e.to_string());
                let reply = (!matches!(e, FrameError::Io(_))).then(|| {
                    encode_reply(&error_reply(
                        &Value::Null,
                        None,
                        e.kind(),
                        &e.to_string(),
                        None,
                    ))
                });
                return (EXIT_ERROR, reply);
            }
        }
    }
}

/// One frame's reply.
fn answer<'a>(body: &[u8], get: &impl Fn() -> &'a MadeBackend) -> Value {
    let started = Instant::now();
    let env = match parse(body) {
        Err(e) => {
            log(&e.message);
            return error_reply(&e.id, None, e.kind, &e.message, None);
        }
        Ok(env) => env,
    };
    let kind = env.request.kind();
    let result = match get() {
        Ok(b) => dispatch(b.as_ref(), &env.request),
        Err(f) => Err(f.clone()),
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

fn target(r: &Request) -> String {
    match r {
        Request::Check(c) => format!(" {}", c.site),
        Request::History(s) | Request::Accept(s) => format!(" {s}"),
        Request::Status => String::new(),
    }
}

fn dispatch(b: &dyn Backend, r: &Request) -> Result<Value, Failure> {
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
