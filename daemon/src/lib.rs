//! certwatchd: the one long-running certwatch process. It re-checks watched
//! sites on a schedule, raises alerts (stored, desktop notification, hook),
//! and answers the CLI and the native host over a Unix socket.
//!
//! The binary (`main.rs`) only sets up logging, resolves paths and config and
//! calls [`server::run`]; the tests call the same `run`.

pub mod alert;
pub mod ccadb_refresh;
pub mod ct_refresh;
pub mod ct_watch;
pub mod fleet;
pub mod hub;
pub mod metrics;
pub mod server;
mod tasks;
