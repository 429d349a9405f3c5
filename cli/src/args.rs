//! Command-line definition (clap). No I/O here: [`crate::ctx`] turns the
//! global options into real objects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[path = "args_ct.rs"]
mod ct;
pub use ct::{CtAuthorizeArgs, CtIssuancesArgs, CtTailArgs};
#[path = "args_fleet.rs"]
mod fleet;
pub use fleet::{FleetCommand, FleetOutliersArgs, FleetRoleArgs, FleetSiteArgs};

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
    /// CCADB table (CCADB's CSV report, or `ccadb update`'s compact form) deciding which company operates a CA. Default: the cache from `ccadb update`, else the embedded snapshot.
    #[arg(long, global = true, value_name = "FILE")]
    pub ccadb: Option<PathBuf>,
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
    /// Key pins: declare which keys may vouch for a site.
    #[command(subcommand)]
    Pins(PinsCommand),
    /// Acknowledge a locally installed root as your network's interception proxy.
    AcceptInterceptor(AcceptInterceptorArgs),
    /// The browser companion: host manifests, packages, a permanent Firefox install.
    #[command(subcommand)]
    Extension(ExtensionCommand),
    /// Certificate Transparency log lists: update the cached list, show what is loaded.
    #[command(subcommand)]
    Ct(CtCommand),
    /// CCADB disclosures (who operates each public CA): update the cached table, show the one in use.
    #[command(subcommand)]
    Ccadb(CcadbCommand),
    /// Fleet mode: share sightings with the organisation's machines (PostgreSQL), see their consensus.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Is the daemon running? Version, database size, sites known, open alerts.
    Status(StatusArgs),
    /// Sites the daemon re-checks on a schedule.
    #[command(subcommand)]
    Watch(WatchCommand),
    /// Alerts raised for warning/critical verdicts (open ones by default).
    Alerts(AlertsArgs),
    /// The audit log: sightings with findings, alerts, accepts, pins, config changes.
    Log(LogArgs),
    /// Install, remove or inspect the certwatchd user service (systemd / launchd).
    #[command(subcommand)]
    Service(ServiceCommand),
    /// One step: the daemon as a user service plus the browser manifests (idempotent).
    Setup(SetupArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff); with --out DIR, write certwatch.1 and one page per subcommand.
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Sites as HOST[:PORT] (default port 443), [IPv6]:PORT, https:// URLs, or smtp://, imap://, … (see --starttls).
    #[arg(value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
    /// Read sites from FILE, one per line (`#` comments and blank lines ignored; `-` = stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Connect to ADDR:PORT instead, keeping SNI and the site identity (like curl --connect-to).
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect: Option<String>,
    /// Upgrade a plain connection with this protocol's STARTTLS first (default
    /// port: the protocol's); URLs like smtp://HOST or imap://HOST do the same.
    #[arg(long, value_name = "PROTO", value_parser = ["smtp", "submission", "imap", "pop3", "xmpp", "ldap", "postgres", "ftp"])]
    pub starttls: Option<String>,
    /// Print one JSON object per site (one per line); the same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: human, json (one object per line), nagios (plugin
    /// output: one status line with perfdata, details after), prometheus
    /// (OpenMetrics text, all sites, `# EOF` last).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
    /// Do not record the result in the history database.
    #[arg(long = "no-store")]
    pub no_store: bool,
    /// Concurrent connections for several sites.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub jobs: u16,
    /// Connect timeout in seconds [default: 5; config connect_timeout, $CERTWATCH_CONNECT_TIMEOUT].
    #[arg(long = "connect-timeout", value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// TLS handshake timeout in seconds [default: 10; config timeout, $CERTWATCH_TIMEOUT].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Only print sites that are not OK (human and json; nagios and prometheus print all).
    #[arg(long, short)]
    pub quiet: bool,
    /// Warn (expires_soon) when fewer than N days remain [default: 20% of the
    /// certificate's lifetime, at most 14 days; config warn_days].
    #[arg(long = "warn-days", value_name = "N")]
    pub warn_days: Option<u32>,
    /// Critical (expires_soon) when fewer than N days remain [default: 10% of
    /// the lifetime, at most 7 days; config crit_days].
    #[arg(long = "crit-days", value_name = "N")]
    pub crit_days: Option<u32>,
    #[command(flatten)]
    pub caa: CaaArgs,
}

/// `check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people (the default).
    Human,
    /// One JSON object per site, one per line (`--json`).
    Json,
    /// Nagios/Icinga plugin output (Monitoring Plugins guidelines).
    Nagios,
    /// OpenMetrics / Prometheus text exposition.
    Prometheus,
}

impl OutputFormat {
    /// The output format: `--format`, else `--json`, else human.
    pub fn chosen(format: Option<OutputFormat>, json: bool) -> OutputFormat {
        match (format, json) {
            (Some(f), _) => f,
            (None, true) => OutputFormat::Json,
            (None, false) => OutputFormat::Human,
        }
    }
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
    /// JSON output; the same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: human, json, nagios, prometheus (as for `check`).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
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

/// CAA look-ups on a CA change.
#[derive(Debug, Args, Clone, Default)]
pub struct CaaArgs {
    /// Look up the site's CAA records when its CA changed (default; tells your DNS resolver which site changed).
    #[arg(long, overrides_with = "no_caa")]
    pub caa: bool,
    /// Never look up CAA records.
    #[arg(long = "no-caa", overrides_with = "caa")]
    pub no_caa: bool,
    /// DNS server for CAA look-ups, IP:PORT (UDP), instead of the system's.
    #[arg(long = "dns-server", value_name = "IP:PORT")]
    pub dns_server: Option<std::net::SocketAddr>,
}

impl CaaArgs {
    /// `--caa` / `--no-caa` as a setting (`None`: not given).
    pub fn layer(&self) -> Option<bool> {
        match (self.caa, self.no_caa) {
            (true, _) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// List pins (yours; with --all also the shipped ones).
    List(PinsListArgs),
    /// Pin a site: to the root of its current chain, or to given keys.
    Add(PinsAddArgs),
    /// Remove the pin entry for a host.
    Remove(PinsRemoveArgs),
    /// Evaluate a chain file against the pins, offline.
    Check(PinsCheckArgs),
    /// Write your pins as a TOML pin file (stdout, or --output FILE).
    Export(PinsExportArgs),
    /// Merge a TOML pin file into your pins.
    Import(PinsImportArgs),
    /// Import Chromium's transport_security_state_static_pins.json.
    ImportChromium(PinsImportChromiumArgs),
    /// Generate a pin file from a spec naming roots and a PEM bundle of roots.
    Generate(PinsGenerateArgs),
}

#[derive(Debug, Args)]
pub struct PinsListArgs {
    /// Include the pins shipped with certwatch.
    #[arg(long)]
    pub all: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PinsAddArgs {
    /// The host to pin.
    #[arg(value_name = "HOST")]
    pub host: String,
    /// Pin the root key of the chain the site presents now (connects to it).
    #[arg(long = "from-current", conflicts_with = "spki")]
    pub from_current: bool,
    /// A key to pin: sha256/BASE64 of its SPKI (repeatable).
    #[arg(long, value_name = "sha256/…")]
    pub spki: Vec<String>,
    /// A backup key (repeatable).
    #[arg(long, value_name = "sha256/…")]
    pub backup: Vec<String>,
    /// Apply to subdomains too.
    #[arg(long = "include-subdomains")]
    pub include_subdomains: bool,
    /// Stop enforcing after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    /// Port for --from-current.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// With --from-current: connect to ADDR:PORT instead, keeping SNI.
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect: Option<String>,
}

#[derive(Debug, Args)]
pub struct PinsRemoveArgs {
    /// The host whose entry to remove.
    #[arg(value_name = "HOST")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct PinsCheckArgs {
    /// The host the chain is for.
    #[arg(value_name = "HOST")]
    pub host: String,
    /// Chain file, PEM or DER, leaf first.
    #[arg(long, value_name = "FILE")]
    pub chain: PathBuf,
    /// Evaluate at this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PinsExportArgs {
    /// Write here (mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PinsImportArgs {
    /// A TOML pin file (see pinsets/README.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct PinsImportChromiumArgs {
    /// transport_security_state_static_pins.json (or an already resolved JSON).
    #[arg(value_name = "FILE.json")]
    pub file: PathBuf,
    /// The .pins file defining the key names.
    #[arg(long, value_name = "FILE.pins")]
    pub pins: Option<PathBuf>,
    /// Stop enforcing after this date (default: one year from now; `never` for no expiry).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct PinsGenerateArgs {
    /// Spec naming the roots of each pinset (e.g. pinsets/shipped.spec.toml).
    #[arg(long, value_name = "SPEC")]
    pub spec: PathBuf,
    /// PEM bundle holding those roots.
    #[arg(long = "from-roots", value_name = "PEM")]
    pub from_roots: PathBuf,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AcceptInterceptorArgs {
    /// The root: SHA-256 of its SPKI (base64, `sha256/` optional; shown as
    /// ca.root_spki_sha256 by `check --json`) or of the certificate (64 hex digits).
    #[arg(value_name = "ROOT_SHA256", required_unless_present_any = ["list", "forget"])]
    pub root: Option<String>,
    /// A name for the network whose proxy this is.
    #[arg(long, value_name = "NAME", required_unless_present_any = ["list", "forget"])]
    pub network: Option<String>,
    /// List acknowledged roots.
    #[arg(long, conflicts_with_all = ["root", "forget"])]
    pub list: bool,
    /// Forget an acknowledged root (SPKI SHA-256).
    #[arg(long, value_name = "ROOT_SHA256")]
    pub forget: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ExtensionCommand {
    /// Write the host manifests so the certwatch extension can reach certwatch-host.
    Install(ExtensionArgs),
    /// Remove the host manifests (and, with --permanent, the Firefox add-on).
    Uninstall(ExtensionArgs),
    /// Write certwatch-VERSION.xpi (Firefox) and certwatch-VERSION-chromium.zip, reproducibly.
    Package(PackageArgs),
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Where to write the packages (default: the current directory; created 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExtensionArgs {
    /// Which browser(s): firefox, chrome, chromium, brave, edge or all (repeatable, comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "all",
        value_name = "BROWSER"
    )]
    pub browser: Vec<String>,
    /// The host binary (default: certwatch-host next to this certwatch executable).
    #[arg(long = "host-path", value_name = "FILE")]
    pub host_path: Option<PathBuf>,
    /// Print the manifests and where they would go, without writing anything.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Firefox only: also install the add-on into a profile so it survives restarts
    /// (ESR, Developer Edition, Nightly: unsigned add-ons allowed).
    #[arg(long)]
    pub permanent: bool,
    /// The Firefox profile directory for --permanent (default: the default profile in profiles.ini).
    #[arg(long, value_name = "DIR", requires = "permanent")]
    pub profile: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CtCommand {
    /// Download (or take from files) Google's signed log list, verify it, and cache it.
    Update(CtUpdateArgs),
    /// Show the log lists in use and their logs.
    Show(CtShowArgs),
    /// Certificates CT logged for a domain, from a search service, each with its CA operator and
    /// whether it is familiar. Exit 1 when an unexpired one is not, 3 when the search failed.
    Issuances(CtIssuancesArgs),
    /// Mark a certificate as expected (by SHA-256, or a PEM/DER file): CT watches stop warning about it.
    Authorize(CtAuthorizeArgs),
    Tail(CtTailArgs),
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

#[derive(Debug, Subcommand)]
pub enum CcadbCommand {
    /// Download CCADB's all-certificate-records report (or read --from FILE), compact it, and cache it in the data dir.
    Update(CcadbUpdateArgs),
    /// Show the CCADB table in use: origin, date, counts.
    Show(CtShowArgs),
}

#[derive(Debug, Args)]
pub struct CcadbUpdateArgs {
    /// Read this CCADB CSV report (or compact table) instead of downloading.
    #[arg(long, value_name = "FILE")]
    pub from: Option<std::path::PathBuf>,
    /// Download from this URL instead of CCADB's AllCertificateRecordsCSVFormatv4.
    #[arg(long, value_name = "URL", conflicts_with = "from")]
    pub url: Option<String>,
    /// The date the data speaks for (YYYY-MM-DD). Default: today for a download, else the newest date in the file.
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Write the compact table to FILE instead of the data dir's cache.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CtShowArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum WatchCommand {
    /// Watch a site: the daemon re-checks it every interval (with jitter).
    Add(WatchAddArgs),
    /// List watched sites.
    List(WatchListArgs),
    /// Stop watching a site.
    Remove(WatchRemoveArgs),
}

#[derive(Debug, Args)]
pub struct WatchAddArgs {
    /// The site.
    #[arg(value_name = "HOST[:PORT]")]
    pub host: String,
    /// Interval: 30m, 6h, 1d… (default: config `default_every`, 6h).
    #[arg(long, value_name = "INTERVAL")]
    pub every: Option<String>,
    /// Connect to ADDR:PORT instead, keeping SNI and the site identity.
    #[arg(long, value_name = "ADDR:PORT")]
    pub connect: Option<String>,
    /// Also watch Certificate Transparency for the domain: the daemon asks the search service
    /// (config `ct_search_url`) every `ct_watch_every` which certificates were issued for it.
    #[arg(long)]
    pub ct: bool,
    /// With --ct: its subdomains too.
    #[arg(long, requires = "ct")]
    pub include_subdomains: bool,
}

#[derive(Debug, Args)]
pub struct WatchListArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WatchRemoveArgs {
    /// The site.
    #[arg(value_name = "HOST[:PORT]")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// `ack ID` acknowledges an alert.
    #[arg(value_name = "ack ID", num_args = 0..=2)]
    pub action: Vec<String>,
    /// Include acknowledged alerts.
    #[arg(long)]
    pub all: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// JSON output (one object per line).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write (and with systemd, enable and start) the user service.
    Install(ServiceArgs),
    /// Stop, disable and remove the user service.
    Uninstall(ServiceArgs),
    /// Where the service file is and whether the daemon answers.
    Status(ServiceArgs),
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The daemon binary (default: certwatchd next to this certwatch executable).
    #[arg(long = "daemon-path", value_name = "FILE")]
    pub daemon_path: Option<PathBuf>,
    /// Print what would be written; change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Write the file only; do not call systemctl/launchctl.
    #[arg(long = "no-enable")]
    pub no_enable: bool,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub service: ServiceArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write certwatch.1 and certwatch-SUBCOMMAND.1 pages into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
