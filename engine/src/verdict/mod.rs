//! The verdict: pure functions from (observation, trust, history, evidence, now)
//! to one severity and a list of explained reasons. No I/O, no clock.
//!
//! Scoring is a pipeline of small rules, each adding [`Reason`]s with their own
//! severity; the verdict's severity is the worst reason's. Later evidence (CT,
//! pins, CAA, the browser's chain, accepted interceptors) arrives as fields of
//! [`Evidence`] and is read by its own rule, plus one place where evidence may
//! raise or lower a CA change ([`ca_change_severity`]). Adding a kind of
//! evidence never rewrites the other rules.

mod evidence;
mod expiry;
pub mod fleet;
mod rules;
mod vocab;

pub use expiry::ExpiryPolicy;
pub use rules::{ca_change_severity, judge};
pub use vocab::*;

#[cfg(test)]
mod tests;
