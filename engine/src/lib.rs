//! certwatch engine: observe a site's TLS chain, classify its trust, identify
//! its CA, judge it against the site's history, and record it.
//!
//! Layout (see ARCHITECTURE.md for the map and its invariants):
//! - pure: [`model`] (certificate view), [`ca`] (CA identity), [`verdict`]
//!   (the judge), [`sanitize`]; [`trust`] is pure but for lazily reading the OS
//!   root store;
//! - edges: [`probe`] (sockets; the accept-any verifier lives in
//!   [`probe::danger`]), [`store`] (SQLite), [`paths`] (files and modes);
//! - wiring: [`check`] (one check end to end), [`report`] (the JSON shape).

pub mod ca;
pub mod caa;
pub mod ccadb;
pub mod check;
pub mod client;
pub mod config;
pub mod ct;
pub mod fleet;
pub mod format;
pub mod install;
pub mod interceptor;
pub mod model;
pub mod paths;
pub mod pins;
pub mod probe;
pub mod report;
pub mod sanitize;
pub mod schedule;
pub mod settings;
pub mod store;
pub mod trust;
pub mod verdict;

/// The certwatch version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
