//! `certwatch man` and `certwatch completions`, driven through the shipped
//! binary: every subcommand that `certwatch --help` lists (walked down to
//! the leaves) has its page, is named on its parent's page and appears in
//! the completion script of every shell; the main page has the sections
//! clap does not make (EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO); and,
//! where man-db is installed, every page — the generated ones and the
//! hand-written `packaging/man/*.1` — renders without a warning.

use std::path::Path;
use std::process::Command;

use certwatch_engine::settings::env;
use certwatch_tests::{bin, code, stdout, workspace_root};

const SHELLS: [&str; 5] = ["bash", "zsh", "fish", "elvish", "powershell"];

fn certwatch(args: &[&str]) -> String {
    let out = Command::new(bin("certwatch")).args(args).output().unwrap();
    assert_eq!(code(&out), 0, "certwatch {args:?}: {out:?}");
    stdout(&out)
}

/// The subcommand names under `Commands:` in `certwatch PATH --help`.
fn listed(path: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let help = certwatch(&args);
    let mut names = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            inside = true;
        } else if inside && line.starts_with("  ") && !line.starts_with("   ") {
            let name = line.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                names.push(name);
            }
        } else if inside && !line.starts_with(' ') {
            inside = false;
        }
    }
    names
}

/// Every subcommand path, depth first: `["check"]`, `["pins"]`, `["pins", "add"]`, …
fn all_subcommands() -> Vec<Vec<String>> {
    fn walk(path: Vec<String>, out: &mut Vec<Vec<String>>) {
        for name in listed(&path) {
            let mut p = path.clone();
            p.push(name);
            out.push(p.clone());
            walk(p, out);
        }
    }
    let mut out = Vec::new();
    walk(Vec::new(), &mut out);
    out
}

/// Roff with its escaped hyphens as plain ones.
fn plain(roff: &str) -> String {
    roff.replace("\\-", "-")
}

#[test]
fn every_subcommand_has_a_page_and_the_main_page_has_the_sections() {
    let subs = all_subcommands();
    assert!(subs.len() > 30, "too few subcommands found: {subs:?}");
    for top in [
        "check",
        "pins",
        "extension",
        "service",
        "completions",
        "man",
    ] {
        assert!(subs.contains(&vec![top.to_string()]), "{top} not listed");
    }
    let main = certwatch(&["man"]);
    let text = plain(&main);
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"SEE ALSO\"",
    ] {
        assert!(main.contains(section), "main page lacks {section}");
    }
    for code in ["0", "1", "2", "3"] {
        assert!(
            main.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit {code}"
        );
    }
    for var in [
        "CERTWATCH_HOME",
        env::ROOTS,
        env::LOCAL_ROOTS,
        env::LOG_LIST,
        env::CCADB,
        env::CONNECT_TIMEOUT,
        env::TIMEOUT,
        env::CAA,
        env::DNS_SERVER,
        env::WARN_DAYS,
        env::CRIT_DAYS,
        env::PROBE_CACHE,
        env::CT_SEARCH_URL,
        "NO_COLOR",
        "HTTPS_PROXY",
    ] {
        assert!(text.contains(var), "ENVIRONMENT lacks {var}");
    }
    for file in ["config.toml", "certwatch.db", "certwatchd.sock"] {
        assert!(text.contains(file), "FILES lacks {file}");
    }
    for sub in subs.iter().filter(|p| p.len() == 1) {
        assert!(
            text.contains(&format!("certwatch-{}(1)", sub[0])),
            "main page does not name certwatch-{}(1)",
            sub[0]
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    certwatch(&["man", "--out", out]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("certwatch.1")).unwrap(),
        main
    );
    let mut want: Vec<String> = subs
        .iter()
        .map(|p| format!("certwatch-{}.1", p.join("-")))
        .collect();
    want.push("certwatch.1".into());
    want.sort();
    let mut got: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(got, want, "one page per subcommand, no other");
    for p in &subs {
        let page = plain(
            &std::fs::read_to_string(dir.path().join(format!("certwatch-{}.1", p.join("-"))))
                .unwrap(),
        );
        let title = format!(".TH certwatch-{} 1", p.join("-"));
        assert!(
            page.contains(&title),
            "{title}: {}",
            &page[..80.min(page.len())]
        );
        assert!(
            page.contains(&format!("certwatch {}", p.join(" "))),
            "{p:?}: synopsis"
        );
        assert!(page.contains(".SH \"SEE ALSO\""), "{p:?}: SEE ALSO");
        // Its parent's page names it.
        let parent = match p.len() {
            1 => "certwatch.1".to_string(),
            n => format!("certwatch-{}.1", p[..n - 1].join("-")),
        };
        let parent_page = plain(&std::fs::read_to_string(dir.path().join(&parent)).unwrap());
        assert!(
            parent_page.contains(&format!("certwatch-{}(1)", p.join("-"))),
            "{parent} does not name {p:?}"
        );
    }

    let mut pages: Vec<std::path::PathBuf> = want.iter().map(|n| dir.path().join(n)).collect();
    for hand in ["certwatchd.1", "certwatch-host.1"] {
        pages.push(workspace_root().join("packaging/man").join(hand));
    }
    render_without_warnings(&pages);
}

/// `man --warnings -l PAGE` prints nothing on stderr for every page.
fn render_without_warnings(pages: &[std::path::PathBuf]) {
    let man_db = Command::new("man").arg("--version").output();
    if !man_db.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: rendering the man pages: man-db is not installed (apt-get install man-db groff-base)");
        return;
    }
    for page in pages {
        let out = render(page);
        assert!(out.status.success(), "man -l {}: {out:?}", page.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.trim().is_empty(), "man -l {}: {err}", page.display());
        assert!(
            out.stdout.len() > 200,
            "{}: rendered nearly nothing",
            page.display()
        );
    }
}

fn render(page: &Path) -> std::process::Output {
    Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap()
}

#[test]
fn every_shell_completes_every_subcommand() {
    let subs = all_subcommands();
    for shell in SHELLS {
        let script = certwatch(&["completions", shell]);
        for p in &subs {
            let leaf = p.last().unwrap();
            assert!(
                script.contains(leaf.as_str()),
                "{shell} completion lacks {}",
                p.join(" ")
            );
        }
        // The global options too (fish spells them `-l roots`).
        assert!(script.contains("roots"), "{shell}: --roots");
        assert!(script.contains("local-roots"), "{shell}: --local-roots");
        let checker: &[&str] = match shell {
            "bash" => &["bash", "-n"],
            "zsh" => &["zsh", "-n"],
            "fish" => &["fish", "--no-execute"],
            _ => &[],
        };
        if let Some((prog, args)) = checker.split_first() {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &script).unwrap();
            match Command::new(prog).args(args).arg(file.path()).output() {
                Ok(o) => assert!(o.status.success(), "{shell} -n: {o:?}"),
                Err(_) => eprintln!(
                    "skipped: syntax check of the {shell} script: {prog} is not installed"
                ),
            }
        }
    }
    let bad = Command::new(bin("certwatch"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(code(&bad), 3, "an unknown shell is bad usage");
}
