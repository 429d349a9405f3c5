//! Invariants of the source tree, kept true by a test (in the manner of
//! rust-analyzer's `tidy.rs`): an ordinary test walks the sources and fails
//! naming file and line wherever one of the rules below is broken.
//!
//! The rules are data: [`FORBIDDEN`] says which words may appear only in
//! which files, [`LENGTH`] how long a file may grow, and every file starts
//! with a `//!` module doc. A self-check feeds each rule a string that
//! breaks it, so no rule can silently stop matching.

use std::path::Path;

/// Where a rule looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Every line of every file, tests included.
    All,
    /// Non-test code only: files under `tests/`, files named `tests.rs` or
    /// `*_tests.rs`, and lines after a `#[cfg(test)]` line are exempt.
    NonTest,
}

/// A word that may appear only in some files.
struct Forbidden {
    /// The invariant, one line.
    rule: &'static str,
    /// The words (matched at identifier boundaries, outside `//` comments).
    patterns: &'static [&'static str],
    /// Where they may appear: files, or folders ending in `/`.
    allowed: &'static [&'static str],
    scope: Scope,
    /// A line that breaks the rule (the self-check).
    sample: &'static str,
}

const FORBIDDEN: &[Forbidden] = &[
    Forbidden {
        rule: "only the store talks to SQLite",
        patterns: &["rusqlite"],
        allowed: &["engine/src/store/"],
        scope: Scope::All,
        sample: "use rusqlite::Connection;",
    },
    Forbidden {
        rule: "only the prober, the CAA resolver and the fetch module touch the network (and the fleet edge, by the rule below)",
        patterns: &[
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "hickory",
            "hickory_resolver",
            "reqwest",
            "to_socket_addrs",
            "lookup_host",
        ],
        allowed: &[
            "engine/src/probe/",
            "engine/src/caa/resolve.rs",
            "engine/src/ct/fetch.rs",
        ],
        scope: Scope::NonTest,
        sample: "let s = std::net::TcpStream::connect(addr)?;",
    },
    Forbidden {
        rule: "only the fleet's edge (engine/src/fleet/pg.rs) talks to PostgreSQL",
        patterns: &["tokio_postgres", "tokio_postgres_rustls"],
        allowed: &["engine/src/fleet/pg.rs", "engine/examples/fleet_load.rs"],
        scope: Scope::NonTest,
        sample: "let (c, conn) = tokio_postgres::connect(url, NoTls).await?;",
    },
    Forbidden {
        rule: "only the IPC client and the daemon's server use Unix sockets",
        patterns: &["UnixStream", "UnixListener", "UnixDatagram"],
        allowed: &["engine/src/client.rs", "daemon/src/server.rs"],
        scope: Scope::NonTest,
        sample: "let l = UnixListener::bind(path)?;",
    },
    Forbidden {
        rule: "only engine/src/paths.rs sets file modes",
        patterns: &[
            ".mode(",
            "from_mode",
            "set_permissions",
            "PermissionsExt",
            "DirBuilderExt",
            "OpenOptionsExt",
        ],
        allowed: &["engine/src/paths.rs"],
        scope: Scope::NonTest,
        sample: "    o.mode(0o644);",
    },
];

/// Most lines a file may have, by where it is (first match wins). Outside
/// `tests/` only the lines before the first `#[cfg(test)]` count, and files
/// that are wholly tests are exempt.
const LENGTH: &[(&str, usize)] = &[("tests/", 1000), ("", 600)];

/// The folders walked, from the workspace root.
const ROOTS: &[&str] = &[
    "engine/src",
    "daemon/src",
    "cli/src",
    "extension-host/src",
    "tests/support",
    "tests/it",
    "fuzz",
];

/// This file names the forbidden words in its table; they are not code here.
const SELF: &str = "tests/it/tidy.rs";

/// One broken rule.
#[derive(Debug)]
struct Violation {
    file: String,
    line: usize,
    what: String,
}

fn wholly_test(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("tests/") || name == "tests.rs" || name.ends_with("_tests.rs")
}

fn is_cfg_test(line: &str) -> bool {
    line.trim_start().starts_with("#[cfg(test)]")
}

fn allowed(path: &str, list: &[&str]) -> bool {
    list.iter().any(|a| {
        if a.ends_with('/') {
            path.starts_with(a)
        } else {
            path == *a
        }
    })
}

fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `line` holds `pat` where `pat`'s identifier ends are not glued
/// to more identifier characters (`rusqlite_free` is not `rusqlite`).
fn contains_word(line: &str, pat: &str) -> bool {
    let (l, p) = (line.as_bytes(), pat.as_bytes());
    line.match_indices(pat).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| l[j]);
        let after = l.get(i + p.len()).copied();
        let glued_before = ident_byte(p[0]) && before.is_some_and(ident_byte);
        let glued_after = ident_byte(p[p.len() - 1]) && after.is_some_and(ident_byte);
        !glued_before && !glued_after
    })
}

/// Every broken rule in the file at `path` (workspace-relative, `/`) with `text`.
fn check_file(path: &str, text: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut v = |line: usize, what: String| {
        out.push(Violation {
            file: path.to_string(),
            line,
            what,
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let test_from = lines.iter().position(|l| is_cfg_test(l));
    let test_file = wholly_test(path);

    if !lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with("//!"))
    {
        v(1, "no leading `//!` module doc".into());
    }

    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let in_test = test_file || test_from.is_some_and(|t| i >= t);
        for r in FORBIDDEN {
            if (r.scope == Scope::NonTest && in_test) || allowed(path, r.allowed) || path == SELF {
                continue;
            }
            if let Some(p) = r.patterns.iter().find(|p| contains_word(line, p)) {
                v(i + 1, format!("`{p}`: {}", r.rule));
            }
        }
    }

    let (limit, counted) = match LENGTH.iter().find(|(prefix, _)| path.starts_with(prefix)) {
        Some(("", limit)) => (
            *limit,
            (!test_file).then(|| test_from.unwrap_or(lines.len())),
        ),
        Some((_, limit)) => (*limit, Some(lines.len())),
        None => (usize::MAX, None),
    };
    if let Some(n) = counted.filter(|n| *n > limit) {
        v(limit + 1, format!("{n} lines, more than {limit}"));
    }
    out
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, files);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn tidy() {
    let root = certwatch_tests::workspace_root();
    let mut files = Vec::new();
    for r in ROOTS {
        walk(&root, &root.join(r), &mut files);
    }
    assert!(files.len() > 50, "walked only {} files", files.len());
    let found: Vec<Violation> = files.iter().flat_map(|(p, t)| check_file(p, t)).collect();
    let report: Vec<String> = found
        .iter()
        .map(|v| format!("{}:{}: {}", v.file, v.line, v.what))
        .collect();
    assert!(
        report.is_empty(),
        "{} tidy violations:\n{}",
        report.len(),
        report.join("\n")
    );
}

/// Each rule fires on a string made to break it, and keeps quiet where it
/// allows or exempts: the test above can fail.
#[test]
fn tidy_rules_can_fail() {
    let doc = "//! A module.\n";
    for r in FORBIDDEN {
        let bad = format!("{doc}{}\n", r.sample);
        let found = check_file("cli/src/x.rs", &bad);
        assert!(
            found.iter().any(|v| v.line == 2 && v.what.contains(r.rule)),
            "{}: {found:?}",
            r.rule
        );
        let path = r.allowed[0].trim_end_matches('/');
        let path = if r.allowed[0].ends_with('/') {
            format!("{path}/x.rs")
        } else {
            path.to_string()
        };
        assert!(check_file(&path, &bad).is_empty(), "{} in {path}", r.rule);
        let in_test = format!("{doc}#[cfg(test)]\nmod tests {{\n{}\n}}\n", r.sample);
        let test_hits = check_file("cli/src/x.rs", &in_test);
        assert_eq!(
            test_hits.is_empty(),
            r.scope == Scope::NonTest,
            "{}",
            r.rule
        );
        assert_eq!(
            check_file("tests/it/x.rs", &bad).is_empty(),
            r.scope == Scope::NonTest,
            "{}",
            r.rule
        );
        // A comment mentioning the word is not code.
        assert!(check_file("cli/src/x.rs", &format!("{doc}// {}\n", r.sample)).is_empty());
    }
    assert!(
        check_file("tests/it/x.rs", "fn rusqlite_free() {}\n//! late\n")
            .iter()
            .any(|v| v.what.contains("module doc"))
    );
    assert!(check_file("tests/it/x.rs", "//! Doc.\nfn rusqlite_free() {}\n").is_empty());
    for (prefix, limit) in LENGTH {
        let path = format!("{prefix}x.rs");
        let long = format!("{doc}{}", "fn f() {}\n".repeat(*limit));
        assert!(
            check_file(&path, &long)
                .iter()
                .any(|v| v.what.contains(&format!("more than {limit}"))),
            "{path}"
        );
        let fits = format!("{doc}{}", "fn f() {}\n".repeat(limit - 1));
        assert!(check_file(&path, &fits).is_empty(), "{path}");
    }
    // Outside tests/ a file's tests do not count towards its length.
    let with_tests = format!("{doc}#[cfg(test)]\n{}", "fn f() {}\n".repeat(700));
    assert!(check_file("engine/src/x.rs", &with_tests).is_empty());
    assert!(check_file(
        "engine/src/x_tests.rs",
        &format!("{doc}{}", "\n".repeat(700))
    )
    .is_empty());
}
