//! The options of `certwatch ct issuances`, `ct authorize` and `ct tail`
//! (a part of [`super`], the command-line definition, in its own file).

use clap::Args;

/// Follow CT logs yourself for chosen domains (RFC 6962 and static-ct-api logs).
///
/// Every run verifies the log's signature on its tree head (checkpoint or
/// STH), that the new tree extends the one verified before (a consistency
/// proof), and that the entries read hash to the signed root; only then are
/// matches printed and the position saved (in the history database). The
/// first run of a log starts --window entries before its head, or at
/// --start. The whole log is downloaded: the operator learns your IP
/// address, not your domains.
///
/// Exit status: 0 the run succeeded (matches, if any, are printed); 2
/// CRITICAL verification failed: the log misbehaved (a bad signature, a tile
/// or entries that do not hash to the signed root, an inconsistent tree),
/// and the position is not advanced; 3 UNKNOWN the log could not be read
/// (network, HTTP 429/5xx, malformed answers, bad usage).
#[derive(Debug, Args)]
pub struct CtTailArgs {
    /// The log: its description, base64 log id, or URL in the log list in use; repeatable.
    #[arg(long = "log", value_name = "LOG", required = true)]
    pub logs: Vec<String>,
    /// A domain to look for; repeatable.
    #[arg(long = "domain", value_name = "DOMAIN", required = true)]
    pub domains: Vec<String>,
    /// Also match names under each domain (a.example.com for example.com).
    #[arg(long)]
    pub include_subdomains: bool,
    /// Catch up to the log's current head (or the byte budget) and exit, instead of following.
    #[arg(long)]
    pub once: bool,
    /// Seconds between polls when following.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub interval: u64,
    /// Stop reading entries after this many bytes per log and run (the position is saved; the next run goes on).
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_bytes: u64,
    /// First run of a log only: start at this entry index.
    #[arg(long, value_name = "INDEX")]
    pub start: Option<u64>,
    /// First run of a log only (without --start): start this many entries before its head.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub window: u64,
    /// Seconds one HTTP request may take, body included.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Print one JSON object per log and run.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CtIssuancesArgs {
    /// The domain.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// The search service: crt.sh-compatible (default https://crt.sh/) or certspotter's API (a URL
    /// naming /v1/issuances or api.certspotter.com). Default: config `ct_search_url`.
    #[arg(long, value_name = "URL")]
    pub search_url: Option<String>,
    /// Include expired certificates.
    #[arg(long)]
    pub include_expired: bool,
    /// Include certificates for subdomains (of any depth).
    #[arg(long)]
    pub include_subdomains: bool,
}

#[derive(Debug, Args)]
pub struct CtAuthorizeArgs {
    /// The certificate's SHA-256 (hex), or a PEM/DER file of it.
    #[arg(value_name = "SHA256|CERT.pem")]
    pub cert: String,
}
