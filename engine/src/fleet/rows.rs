//! What the fleet server returns and takes, as plain data (the edge,
//! `pg.rs`, fills and reads them).

/// One sighting as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Unique per sighting (random, made when it was recorded).
    pub sighting_id: String,
    /// The site key (`fleet::site_key`).
    pub site: String,
    /// `verdict::fleet::operator_key`.
    pub operator: String,
    /// For people.
    pub ca_name: String,
    /// Unix seconds.
    pub seen_at: i64,
}

/// One CA operator of `fleet site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOperator {
    /// The operator key.
    pub operator: String,
    /// For people.
    pub ca_name: String,
    /// Distinct machines that saw it.
    pub machines: i64,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
}

/// One line of `fleet outliers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlier {
    /// The site key.
    pub site: String,
    /// The operator only `machine_id` saw.
    pub operator: String,
    /// For people.
    pub ca_name: String,
    /// The machine.
    pub machine_id: String,
    /// Its network label.
    pub network: String,
    /// Unix seconds.
    pub last_seen: i64,
    /// Other machines that recently saw another operator.
    pub others: i64,
}

/// The server's totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStatus {
    /// Schema version.
    pub schema: i32,
    /// Distinct machines.
    pub machines: i64,
    /// Distinct sites.
    pub sites: i64,
    /// Rows.
    pub sightings: i64,
    /// Unix seconds of the newest row received.
    pub last_received: Option<i64>,
}
