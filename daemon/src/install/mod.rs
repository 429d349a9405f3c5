//! Installing certwatch's pieces into the user's environment.
//!
//! [`browser`]: native-messaging host manifests for the browser companion.

pub mod browser;
