//! Who started the host: only our extension may talk to it.
//!
//! Chromium-family browsers start the host as `[host, "chrome-extension://<id>/"]`
//! (plus `--parent-window=…` on Windows); Firefox as `[host, <manifest path>,
//! <add-on id>]`. The browser enforces the manifest's allow-list too; this is
//! the second lock, against anyone else running the binary or a manifest
//! edited to allow another extension.

use certwatch_engine::install::browser::{chromium_origin, GECKO_ID};

/// The caller, as told by the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A Chromium-family extension origin.
    Chromium(String),
    /// A Firefox add-on id.
    Firefox(String),
    /// Anything else (no arguments, a terminal, another program).
    Unknown,
}

impl Caller {
    /// Identifies the caller from the arguments after the program name.
    pub fn from_args(args: &[String]) -> Caller {
        match args {
            [first, ..] if first.starts_with("chrome-extension://") => {
                Caller::Chromium(first.clone())
            }
            [_manifest, id, ..] => Caller::Firefox(id.clone()),
            _ => Caller::Unknown,
        }
    }

    /// Whether this is our extension.
    pub fn is_ours(&self) -> bool {
        match self {
            Caller::Chromium(origin) => *origin == chromium_origin(),
            Caller::Firefox(id) => id == GECKO_ID,
            Caller::Unknown => false,
        }
    }

    /// Short printable description for error messages.
    pub fn describe(&self) -> String {
        let s = match self {
            Caller::Chromium(o) => format!("extension origin {o}"),
            Caller::Firefox(id) => format!("add-on {id}"),
            Caller::Unknown => {
                "unknown caller (no extension origin or add-on id in the arguments)".to_string()
            }
        };
        certwatch_engine::sanitize::sanitize(&s.chars().take(120).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table() {
        let ours = chromium_origin();
        let cases: Vec<(Vec<String>, bool)> = vec![
            (args(&[&ours]), true),
            (args(&[&ours, "--parent-window=0"]), true),
            (
                args(&["/home/u/.mozilla/native-messaging-hosts/x.json", GECKO_ID]),
                true,
            ),
            (
                args(&["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]),
                false,
            ),
            (args(&[ours.trim_end_matches('/')]), false),
            (args(&["/m.json", "evil@example.org"]), false),
            (args(&["/m.json"]), false),
            (args(&[]), false),
            (args(&["status"]), false),
        ];
        for (a, want) in cases {
            assert_eq!(Caller::from_args(&a).is_ours(), want, "{a:?}");
        }
    }
}
