//! Installing certwatch's pieces into the user's environment.
//!
//! [`browser`]: native-messaging host manifests for the browser companion;
//! [`service`]: the daemon as a systemd user unit / launchd agent.

pub mod browser;
pub mod service;
