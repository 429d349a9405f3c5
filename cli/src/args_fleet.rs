//! The options of `certwatch fleet …` (a part of [`super`], the
//! command-line definition, in its own file).

use clap::{Args, Subcommand};

/// Fleet mode: this organisation's machines share sightings in PostgreSQL
/// (config `fleet_url`; README "Fleet").
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Send the outbox of sightings to the fleet server now (the daemon does it in the background).
    /// Exit 0 when everything was sent, 3 when the server failed (the rows stay queued).
    Push(FleetJsonArgs),
    /// This machine's fleet id, the outbox, and the server's totals. Exit 3 when the server cannot be reached.
    Status(FleetJsonArgs),
    /// Per CA operator: how many machines of the fleet saw a site, first and last.
    Site(FleetSiteArgs),
    /// Sites where one machine alone sees a CA operator that others do not. Exit 2 when there are any.
    Outliers(FleetOutliersArgs),
    /// Create or bring the server's schema up to date (run as the schema's owner).
    Migrate(FleetJsonArgs),
    /// Print the SQL that creates a least-privilege role for one machine (or an organisation).
    Role(FleetRoleArgs),
}

#[derive(Debug, Args)]
pub struct FleetJsonArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FleetSiteArgs {
    /// HOST[:PORT] (default port 443).
    #[arg(value_name = "HOST[:PORT]")]
    pub site: String,
    /// JSON output: {host, port, operators: [{operator, machines, first_seen, last_seen}]}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FleetOutliersArgs {
    /// What "recently" means, in days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub days: u32,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FleetRoleArgs {
    /// The PostgreSQL role to create.
    #[arg(value_name = "ROLE")]
    pub role: String,
    /// The machine id the role may write for (see `certwatch fleet status`); without it, any machine (an organisation role).
    #[arg(long, value_name = "ID")]
    pub machine: Option<String>,
}
