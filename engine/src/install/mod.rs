//! Installing certwatch's pieces into the user's environment.
//!
//! [`browser`]: native-messaging host manifests for the browser companion;
//! [`package`]: the extension's Firefox and Chromium packages (embedded
//! files, written by [`zip`]); [`firefox`]: the add-on installed
//! permanently into a Firefox profile; [`service`]: the daemon as a
//! systemd user unit / launchd agent.

pub mod browser;
pub mod firefox;
pub mod package;
pub mod service;
pub mod zip;
