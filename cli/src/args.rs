//! Command-line definition (clap). No I/O here: [`crate::ctx`] turns the
//! global options into real objects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// certwatch: is the CA vouching for this site the one that always did?
///
/// Exit status (monitoring-plugin convention): 0 OK, 1 WARNING, 2 CRITICAL
/// (possible interception), 3 UNKNOWN (could not check, or bad usage).
#[derive(Debug, Parser)]
#[command(name = "certwatch", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// History database file (default: certwatch.db in the data dir, or in $CERTWATCH_HOME).
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// PEM file of public roots, replacing the built-in Mozilla set.
    #[arg(long, global = true, value_name = "PEM")]
    pub roots: Option<PathBuf>,
    /// PEM file of local roots, replacing the operating system's store.
    #[arg(long = "local-roots", global = true, value_name = "PEM")]
    pub local_roots: Option<PathBuf>,
    /// CT log list (Google v3 or Apple v5 JSON); repeatable, merged. Default: the cached list from `ct update`.
    #[arg(long = "log-list", global = true, value_name = "FILE")]
    pub log_list: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check sites now: connect, classify the chain, compare with history, record.
    Check(CheckArgs),
    /// Analyse a PEM/DER chain file offline (no network, no store).
    Inspect(InspectArgs),
    /// Show the timeline of certificates and CAs seen for a site.
    History(HistoryArgs),
    /// Confirm the CA a site uses now, so that it stops warning.
    Accept(AcceptArgs),
    /// Certificate Transparency log lists: update the cached list, show what is loaded.
    #[command(subcommand)]
    Ct(CtCommand),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Sites as HOST[:PORT] (default port 443), [IPv6]:PORT, or https:// URLs.
    #[arg(value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
    /// Read sites from FILE, one per line (`#` comments and blank lines ignored; `-` = stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Connect to ADDR:PORT instead, keeping SNI and the site identity (like curl --connect-to).
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect: Option<String>,
    /// Print one JSON object per site (one per line).
    #[arg(long)]
    pub json: bool,
    /// Do not record the result in the history database.
    #[arg(long = "no-store")]
    pub no_store: bool,
    /// Concurrent connections for several sites.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub jobs: u16,
    /// Connect timeout in seconds.
    #[arg(long = "connect-timeout", default_value_t = 5.0, value_name = "SECS")]
    pub connect_timeout: f64,
    /// TLS handshake timeout in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub timeout: f64,
    /// Only print sites that are not OK.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Chain file, PEM or DER, leaf first.
    #[arg(value_name = "CHAIN")]
    pub chain: PathBuf,
    /// Host name to check the certificate against (default: its first name).
    #[arg(long)]
    pub host: Option<String>,
    /// Judge at this time (RFC 3339), e.g. 2019-06-01T00:00:00Z.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The site.
    #[arg(value_name = "HOST[:PORT]")]
    pub host: String,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The site.
    #[arg(value_name = "HOST[:PORT]")]
    pub host: String,
}

#[derive(Debug, Subcommand)]
pub enum CtCommand {
    /// Download (or take from files) Google's signed log list, verify it, and cache it.
    Update(CtUpdateArgs),
    /// Show the log lists in use and their logs.
    Show(CtShowArgs),
}

#[derive(Debug, Args)]
pub struct CtUpdateArgs {
    /// Install this log_list.json instead of downloading it (needs --sig).
    #[arg(long, value_name = "FILE", requires = "sig")]
    pub from: Option<PathBuf>,
    /// The detached signature of --from (log_list.sig).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub sig: Option<PathBuf>,
    /// Download from this URL instead of Google's (the signature from the same URL with .sig).
    #[arg(long, value_name = "URL", conflicts_with = "from")]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CtShowArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}
