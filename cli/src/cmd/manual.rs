//! `certwatch completions SHELL` and `certwatch man [--out DIR]`: shell
//! completion scripts (clap_complete) and roff man pages (clap_mangen)
//! generated from the parser's own definition, `Cli::command()`, so they
//! cannot drift from it. The pages add what clap does not know: EXIT
//! STATUS (`exit.rs`), ENVIRONMENT (`settings::env`), FILES (`paths.rs`)
//! and SEE ALSO. `tests/it/manpage.rs` checks every subcommand is in them.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use certwatch_engine::settings::env;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionsArgs, ManArgs};
use crate::exit::Status;

/// The program name the scripts and pages are for.
const BIN: &str = "certwatch";

/// `certwatch completions SHELL`: the script on stdout.
pub fn completions(a: CompletionsArgs) -> Result<Status> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, BIN, &mut buf);
    stdout(&buf)
}

/// `certwatch man`: the main page on stdout, or every page into `--out`.
pub fn man(a: ManArgs) -> Result<Status> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Gives subcommands their display names (certwatch-pins-add) and bin
    // names (certwatch pins add), and propagates the global options.
    cmd.build();
    let cmd = cmd
        .about("is the CA vouching for this site the one that always did?")
        .long_about(DESCRIPTION);
    let Some(dir) = a.out else {
        return stdout(&page(&cmd, true)?);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut pages = vec![(format!("{BIN}.1"), page(&cmd, true)?)];
    for sub in visible(&cmd) {
        subpages(sub, &mut pages)?;
    }
    for (name, text) in pages {
        let path = dir.join(&name);
        write(&path, &text)?;
        super::out(&format!("wrote {}", path.display()))?;
    }
    Ok(Status::Ok)
}

/// The subcommands a user sees (no hidden ones, no `help`).
fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// `sub`'s page and those of its own subcommands, depth first.
fn subpages(sub: &clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    pages.push((format!("{}.1", page_name(sub)), page(sub, false)?));
    for s in visible(sub) {
        subpages(s, pages)?;
    }
    Ok(())
}

/// `certwatch-pins-add` for `certwatch pins add`.
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_string()
}

/// One page. The main page (`main`) also has EXIT STATUS, ENVIRONMENT and
/// FILES; every page has SEE ALSO.
fn page(cmd: &clap::Command, main: bool) -> Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name(cmd))
        .source(format!("certwatch {}", certwatch_engine::VERSION))
        .manual("certwatch manual");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if visible(cmd).next().is_some() {
        man.render_subcommands_section(&mut out)?;
    }
    if main {
        out.extend_from_slice(EXIT_STATUS.as_bytes());
        out.extend_from_slice(environment().as_bytes());
        out.extend_from_slice(FILES.as_bytes());
    }
    out.extend_from_slice(see_also(cmd, main).as_bytes());
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

/// The main page's DESCRIPTION (the README's opening, shortened).
const DESCRIPTION: &str = "certwatch records which certificate authority (CA) vouches for each \
site you check, and tells you, with reasons, when a different CA suddenly does: a rogue or \
coerced CA, a corporate TLS-interception box or malware that planted a local root. It \
connects, captures the chain as presented, classifies it (public, local or untrusted root), \
compares it with the site's history in an SQLite file, and records it. Evidence beyond the \
history: Certificate Transparency, CCADB operator disclosures, key pins, acknowledged \
interception roots and, on a CA change, CAA records.

The daemon certwatchd(1) re-checks watched sites on a schedule and raises alerts; the \
browser companion (a WebExtension and certwatch-host(1)) checks the sites you visit.";

const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
The monitoring\-plugin convention; with several sites the worst status wins
(CRITICAL > UNKNOWN > WARNING > OK).
.TP
\fB0\fR
OK: every site is fine (or the command did what was asked).
.TP
\fB1\fR
WARNING: at least one site needs a look (e.g. a CA change that is probably benign, an expiry soon).
.TP
\fB2\fR
CRITICAL: possible interception (e.g. a locally installed root where a public CA vouched before, a pin violation).
.TP
\fB3\fR
UNKNOWN: could not check (network error, bad input, bad usage).
"#;

/// ENVIRONMENT: the settings' variables by their names in `settings::env`.
fn environment() -> String {
    let vars: [(&str, &str); 20] = [
        (env::ROOTS, "PEM file of public roots replacing the built\\-in Mozilla set (as \\fB\\-\\-roots\\fR)."),
        (env::LOCAL_ROOTS, "PEM file of local roots replacing the operating system's store (as \\fB\\-\\-local\\-roots\\fR)."),
        (env::LOG_LIST, "CT log\\-list files, separated by \\fB:\\fR (as \\fB\\-\\-log\\-list\\fR)."),
        (env::CCADB, "CCADB table replacing the cache and the embedded snapshot (as \\fB\\-\\-ccadb\\fR)."),
        (env::CONNECT_TIMEOUT, "Connect timeout, seconds (default 5)."),
        (env::TIMEOUT, "TLS handshake timeout, seconds (default 10)."),
        (env::CAA, "\\fB0\\fR or \\fB1\\fR: CAA look\\-ups when a site's CA changed (default 1)."),
        (env::NO_CAA, "Older spelling: \\fB1\\fR means \\fBCERTWATCH_CAA=0\\fR."),
        (env::DNS_SERVER, "DNS server for CAA look\\-ups, IP:PORT."),
        (env::WARN_DAYS, "\\fBexpires_soon\\fR warning threshold, days."),
        (env::CRIT_DAYS, "\\fBexpires_soon\\fR critical threshold, days."),
        (env::PROBE_CACHE, "Seconds a probe answers for repeat browser visits (host and daemon; 0 = off)."),
        (
            env::CT_SEARCH_URL,
            "The CT search service of ct issuances and CT watches (crt.sh-compatible or certspotter's API).",
        ),
        (env::FLEET_URL, "Fleet mode: the organisation's PostgreSQL (\\fBpostgresql://\\fR...); off when unset."),
        (env::FLEET_CA, "PEM roots for the fleet server's TLS (default: the system's roots)."),
        (env::FLEET_PASSWORD, "The fleet server's password (never needed in config.toml)."),
        (env::FLEET_PASSWORD_FILE, "A file whose first line is the fleet server's password."),
        (env::FLEET_NETWORK, "This machine's network label in the fleet."),
        (env::FLEET_SECRET_FILE, "The organisation's secret for \\fBfleet_hash_sites\\fR."),
        (env::MACHINE_ID, "This machine's fleet id, replacing the hashed operating-system machine id."),
    ];
    let mut s = String::from(
        ".SH ENVIRONMENT\n\
         Settings are resolved once, in this order: built\\-in defaults < config.toml < \
         environment < command\\-line flags.\n\
         .TP\n\\fBCERTWATCH_HOME\\fR\n\
         Keep config.toml, the database, the caches and the daemon's socket all in this directory.\n",
    );
    for (name, what) in vars {
        s.push_str(&format!(".TP\n\\fB{name}\\fR\n{what}\n"));
    }
    s.push_str(
        ".TP\n\\fBhttps_proxy\\fR, \\fBHTTPS_PROXY\\fR, \\fBall_proxy\\fR, \\fBALL_PROXY\\fR\n\
         HTTP CONNECT proxy for probes and downloads (in that order).\n\
         .TP\n\\fBno_proxy\\fR, \\fBNO_PROXY\\fR\n\
         Hosts that bypass the proxy (suffix match; \\fB*\\fR = all).\n\
         .TP\n\\fBNO_COLOR\\fR\n\
         When set and not empty, no colour (colour is used only on a terminal anyway).\n\
         .TP\n\\fBXDG_DATA_HOME\\fR, \\fBXDG_CONFIG_HOME\\fR, \\fBXDG_RUNTIME_DIR\\fR\n\
         Move the directories under FILES.\n",
    );
    s
}

const FILES: &str = r#".SH FILES
Without \fBCERTWATCH_HOME\fR (which puts them all in one directory):
.TP
\fI~/.config/certwatch/config.toml\fR
Settings (the same names as the environment, in lower case without the prefix).
.TP
\fI~/.local/share/certwatch/certwatch.db\fR
The history (SQLite): sites, certificates, sightings, accepted CAs, pins, watch list, alerts, audit log. \fB\-\-db\fR names another file.
.TP
\fI~/.local/share/certwatch/ct/log_list.json\fR, \fIlog_list.sig\fR
The CT log list cached by \fBcertwatch ct update\fR.
.TP
\fI~/.local/share/certwatch/ccadb.txt\fR
The CCADB table cached by \fBcertwatch ccadb update\fR.
.TP
\fI$XDG_RUNTIME_DIR/certwatch/certwatchd.sock\fR
The daemon's socket (the CLI and the browser host ask the daemon there).
.TP
\fI~/.config/systemd/user/certwatchd.service\fR, \fI/usr/lib/systemd/user/certwatchd.service\fR
The daemon's user unit: written by \fBcertwatch service install\fR, or shipped by the package.
.TP
\fI~/.mozilla/native\-messaging\-hosts/org.certwatch.host.json\fR
The browser host manifest for Firefox, written by \fBcertwatch extension install\fR
(Chromium: \fI~/.config/chromium/NativeMessagingHosts/\fR).
.TP
\fI/usr/lib/mozilla/native\-messaging\-hosts/\fR, \fI/etc/chromium/native\-messaging\-hosts/\fR
The same manifests system\-wide, shipped by the package.
.PP
Directories certwatch creates are mode 0700, its files 0600.
"#;

/// SEE ALSO: the main page lists the subcommand pages and the other
/// programs; a subcommand's page points back to its parent.
fn see_also(cmd: &clap::Command, main: bool) -> String {
    let mut refs: Vec<String> = Vec::new();
    if main {
        refs.extend(visible(cmd).map(|s| format!("{}(1)", page_name(s))));
        refs.extend(
            [
                "certwatchd(1)",
                "certwatch-host(1)",
                "openssl-s_client(1)",
                "systemctl(1)",
            ]
            .map(String::from),
        );
    } else {
        refs.push(format!("{BIN}(1)"));
        refs.extend(visible(cmd).map(|s| format!("{}(1)", page_name(s))));
    }
    let refs: Vec<String> = refs
        .iter()
        .map(|r| {
            let (name, sect) = r.split_once('(').unwrap_or((r, ""));
            format!("\\fB{}\\fR({sect}", name.replace('-', "\\-"))
        })
        .collect();
    format!(".SH \"SEE ALSO\"\n.nh\n{}\n.hy\n", refs.join(",\n"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

/// Raw bytes to stdout; a closed pipe (`| head`) is not an error.
fn stdout(bytes: &[u8]) -> Result<Status> {
    let mut o = std::io::stdout().lock();
    match o.write_all(bytes).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(Status::Ok),
    }
}
