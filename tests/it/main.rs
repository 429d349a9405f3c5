//! certwatch integration tests: one binary, one module per area. Every test
//! uses real TLS servers on 127.0.0.1, a real SQLite file in a temp
//! CERTWATCH_HOME, and the real `certwatch` binary.

#![allow(clippy::unwrap_used)]

mod badinput;
mod caa;
mod ccadb;
mod check;
mod concurrency;
mod corpus;
mod crash;
mod ct;
mod ct_builtin;
mod ct_issuances;
mod ct_tail;
mod ct_vectors;
mod ct_watch;
mod ct_watch_daemon;
mod daemon;
mod extension;
mod fleet;
mod formats;
mod host;
mod hostile;
mod hub;
mod interceptor;
mod manpage;
mod package;
mod pins;
mod pipeline;
mod privacy;
mod starttls;
mod tidy;
