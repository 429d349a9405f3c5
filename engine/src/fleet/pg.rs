//! The fleet's PostgreSQL edge: tokio-postgres on a current-thread runtime
//! of its own, TLS by rustls (the system's roots, or `fleet_ca`), every call
//! under a deadline. A failed or timed-out call drops the connection; the
//! next call connects again.
//!
//! TLS: a URL without `sslmode` to a host other than loopback is made
//! `sslmode=require` (certificate and name verified by rustls, as libpq's
//! `verify-full`); loopback hosts use `prefer`, Unix sockets no TLS. An
//! explicit `sslmode=disable` is obeyed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use super::schema::{MIGRATIONS, VERSION};
use super::FleetSettings;
use crate::verdict::fleet::{FleetOperator, FleetView};

/// A one-line fleet failure, naming the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fleet {server}: {message}")]
pub struct FleetError {
    /// The redacted URL.
    pub server: String,
    /// What went wrong.
    pub message: String,
}

pub use super::rows::{Outlier, Row, ServerStatus, SiteOperator};

/// A connection (made on first use) to the fleet server.
pub struct Fleet {
    rt: Runtime,
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    client: Option<Client>,
    server: String,
    schema_ok: bool,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("server", &self.server)
            .finish()
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Fleet {
    /// Prepares a connection to `s.url` (no I/O but reading the password
    /// and CA files).
    pub fn new(s: &FleetSettings) -> Result<Fleet, FleetError> {
        let server = super::redacted(&s.url);
        let fail = |message: String| FleetError {
            server: server.clone(),
            message,
        };
        let mut config: tokio_postgres::Config =
            s.url.parse().map_err(|e| fail(format!("fleet_url: {e}")))?;
        if config.get_password().is_none() {
            if let Some(p) = super::password(s).map_err(fail)? {
                config.password(p.0.as_str());
            }
        }
        let tcp: Vec<String> = config
            .get_hosts()
            .iter()
            .filter_map(|h| match h {
                Host::Tcp(t) => Some(t.clone()),
                Host::Unix(_) => None,
            })
            .collect();
        let explicit = s.url.contains("sslmode");
        if !explicit && tcp.iter().any(|h| !is_loopback(h)) {
            config.ssl_mode(SslMode::Require);
        }
        let tls = if tcp.is_empty() || config.get_ssl_mode() == SslMode::Disable {
            None
        } else {
            Some(tls_connector(s.ca.as_deref()).map_err(fail)?)
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("runtime: {e}")))?;
        Ok(Fleet {
            rt,
            config,
            tls,
            client: None,
            server,
            schema_ok: false,
        })
    }

    fn fail(&self, message: impl Into<String>) -> FleetError {
        FleetError {
            server: self.server.clone(),
            message: message.into(),
        }
    }

    /// Runs `f` with a connected client before `end`; any failure drops
    /// the connection.
    fn call<T>(
        &mut self,
        end: Instant,
        f: impl for<'c> FnOnce(
            &'c mut Client,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, String>> + 'c>,
        >,
    ) -> Result<T, FleetError> {
        let within = end.saturating_duration_since(Instant::now());
        if within.is_zero() {
            return Err(self.fail("no time left to ask"));
        }
        let config = self.config.clone();
        let tls = self.tls.clone();
        let mut client = self.client.take();
        let out = self.rt.block_on(async {
            tokio::time::timeout(within, async {
                if client.is_none() {
                    client = Some(connect(&config, tls).await?);
                }
                match client.as_mut() {
                    Some(c) => f(c).await,
                    None => Err("not connected".to_string()),
                }
            })
            .await
        });
        match out {
            Ok(Ok(v)) => {
                self.client = client;
                Ok(v)
            }
            Ok(Err(e)) => Err(self.fail(e)),
            Err(_) => Err(self.fail(format!("no answer within {} ms", within.as_millis().max(1)))),
        }
    }

    /// Connects (if not connected) and checks the schema, within `within`.
    pub fn connect(&mut self, within: Duration) -> Result<(), FleetError> {
        let end = Instant::now() + within;
        self.call(end, |_| Box::pin(async { Ok(()) }))?;
        self.ensure_schema(end)
    }

    /// Brings the schema to [`VERSION`] (as its owner), returning the
    /// version found and the version now.
    pub fn migrate(&mut self, within: Duration) -> Result<(i32, i32), FleetError> {
        self.migrate_by(Instant::now() + within)
    }

    fn migrate_by(&mut self, end: Instant) -> Result<(i32, i32), FleetError> {
        let r = self.call(end, |c| {
            Box::pin(async move {
                let tx = c.transaction().await.map_err(pg_err)?;
                tx.batch_execute(
                    "SELECT pg_advisory_xact_lock(727274617463);
                     CREATE SCHEMA IF NOT EXISTS certwatch;
                     CREATE TABLE IF NOT EXISTS certwatch.schema_version (
                         version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
                )
                .await
                .map_err(pg_err)?;
                let found: i32 = tx
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM certwatch.schema_version",
                        &[],
                    )
                    .await
                    .map_err(pg_err)?
                    .get(0);
                if found > VERSION {
                    return Err(format!(
                        "the fleet schema is at version {found}, newer than this certwatch's {VERSION}: upgrade certwatch"
                    ));
                }
                for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
                    tx.batch_execute(sql).await.map_err(pg_err)?;
                    tx.execute(
                        "INSERT INTO certwatch.schema_version (version) VALUES ($1)",
                        &[&(i as i32 + 1)],
                    )
                    .await
                    .map_err(pg_err)?;
                }
                tx.batch_execute("GRANT USAGE ON SCHEMA certwatch TO PUBLIC;
                                  GRANT SELECT ON certwatch.schema_version TO PUBLIC;")
                    .await
                    .map_err(pg_err)?;
                tx.commit().await.map_err(pg_err)?;
                Ok((found, VERSION))
            })
        })?;
        self.schema_ok = true;
        Ok(r)
    }

    /// Checks the schema version once per connection object; an old schema
    /// is migrated when this role may, else it is a clear error.
    fn ensure_schema(&mut self, end: Instant) -> Result<(), FleetError> {
        if self.schema_ok {
            return Ok(());
        }
        let found = self.call(end, |c| {
            Box::pin(async move {
                match c
                    .query_one(
                        "SELECT coalesce(max(version), 0) FROM certwatch.schema_version",
                        &[],
                    )
                    .await
                {
                    Ok(r) => Ok(r.get::<_, i32>(0)),
                    Err(e)
                        if e.code().is_some_and(|c| {
                            *c == tokio_postgres::error::SqlState::UNDEFINED_TABLE
                                || *c == tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME
                        }) =>
                    {
                        Ok(0)
                    }
                    Err(e) => Err(pg_err(e)),
                }
            })
        })?;
        if found == VERSION {
            self.schema_ok = true;
            return Ok(());
        }
        if found > VERSION {
            return Err(self.fail(format!(
                "the fleet schema is at version {found}, newer than this certwatch's {VERSION}: upgrade certwatch"
            )));
        }
        self.migrate_by(end).map(|_| ()).map_err(|e| {
            self.fail(format!(
                "the fleet schema is at version {found}, this certwatch needs {VERSION}, and migrating failed ({}): run `certwatch fleet migrate` as the schema's owner",
                e.message
            ))
        })
    }

    /// Inserts `rows` for `machine` in one transaction; a row already there
    /// (same machine and sighting id) is left alone. Returns how many were
    /// new.
    pub fn push(
        &mut self,
        machine: &str,
        network: &str,
        rows: &[Row],
        within: Duration,
    ) -> Result<u64, FleetError> {
        let end = Instant::now() + within;
        self.ensure_schema(end)?;
        let machine = machine.to_string();
        let network = network.to_string();
        let ids: Vec<String> = rows.iter().map(|r| r.sighting_id.clone()).collect();
        let sites: Vec<String> = rows.iter().map(|r| r.site.clone()).collect();
        let ops: Vec<String> = rows.iter().map(|r| r.operator.clone()).collect();
        let names: Vec<String> = rows.iter().map(|r| r.ca_name.clone()).collect();
        let at: Vec<i64> = rows.iter().map(|r| r.seen_at).collect();
        self.call(end, move |c| {
            Box::pin(async move {
                let tx = c.transaction().await.map_err(pg_err)?;
                let n = tx
                    .execute(
                        "INSERT INTO certwatch.sightings
                             (machine_id, sighting_id, site, operator, ca_name, network, seen_at)
                         SELECT $1, u.id, u.site, u.op, u.name, $2, to_timestamp(u.at::float8)
                           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int8[])
                                AS u(id, site, op, name, at)
                         ON CONFLICT (machine_id, sighting_id) DO NOTHING",
                        &[&machine, &network, &ids, &sites, &ops, &names, &at],
                    )
                    .await
                    .map_err(pg_err)?;
                tx.commit().await.map_err(pg_err)?;
                Ok(n)
            })
        })
    }

    /// The other machines' view of `site` (all machines but `exclude`;
    /// `""` = all), recent meaning since `since`.
    pub fn view(
        &mut self,
        site: &str,
        exclude: &str,
        since: i64,
        within: Duration,
    ) -> Result<FleetView, FleetError> {
        let end = Instant::now() + within;
        self.ensure_schema(end)?;
        let (site, exclude) = (site.to_string(), exclude.to_string());
        self.call(end, move |c| {
            Box::pin(async move {
                // Typed: one round trip (no separate prepare), as a check
                // waits for it.
                let limit = MAX_OPERATORS as i64;
                let rows = c
                    .query_typed(
                        "SELECT operator, ca_name, machines, recent_machines,
                                extract(epoch FROM first_seen)::int8, extract(epoch FROM last_seen)::int8,
                                site_recent
                           FROM certwatch.site_view($1, $2, to_timestamp($3::int8))
                          LIMIT $4",
                        &[
                            (&site, Type::TEXT),
                            (&exclude, Type::TEXT),
                            (&since, Type::INT8),
                            (&limit, Type::INT8),
                        ],
                    )
                    .await
                    .map_err(pg_err)?;
                let mut v = FleetView::default();
                for r in rows {
                    v.recent_machines = count(r.get::<_, i64>(6));
                    v.operators.push(FleetOperator {
                        operator: bounded(r.get(0)),
                        ca_name: bounded(r.get(1)),
                        machines: count(r.get::<_, i64>(2)),
                        recent_machines: count(r.get::<_, i64>(3)),
                        first_seen: r.get(4),
                        last_seen: r.get(5),
                    });
                }
                Ok(v)
            })
        })
    }

    /// Per CA operator: how many machines saw `site`, and when.
    pub fn site(&mut self, site: &str, within: Duration) -> Result<Vec<SiteOperator>, FleetError> {
        let v = self.view(site, "", 0, within)?;
        Ok(v.operators
            .into_iter()
            .map(|o| SiteOperator {
                operator: o.operator,
                ca_name: o.ca_name,
                machines: i64::from(o.machines),
                first_seen: o.first_seen,
                last_seen: o.last_seen,
            })
            .collect())
    }

    /// Sites where one machine alone saw an operator since `since`.
    pub fn outliers(&mut self, since: i64, within: Duration) -> Result<Vec<Outlier>, FleetError> {
        let end = Instant::now() + within;
        self.ensure_schema(end)?;
        self.call(end, move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT site, operator, ca_name, machine_id, network,
                                extract(epoch FROM last_seen)::int8, others
                           FROM certwatch.outliers(to_timestamp($1::int8))
                          LIMIT 1000",
                        &[&since],
                    )
                    .await
                    .map_err(pg_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| Outlier {
                        site: bounded(r.get(0)),
                        operator: bounded(r.get(1)),
                        ca_name: bounded(r.get(2)),
                        machine_id: bounded(r.get(3)),
                        network: bounded(r.get(4)),
                        last_seen: r.get(5),
                        others: r.get(6),
                    })
                    .collect())
            })
        })
    }

    /// The server's totals.
    pub fn status(&mut self, within: Duration) -> Result<ServerStatus, FleetError> {
        let end = Instant::now() + within;
        self.ensure_schema(end)?;
        self.call(end, move |c| {
            Box::pin(async move {
                let r = c
                    .query_one(
                        "SELECT machines, sites, sightings,
                                extract(epoch FROM last_received)::int8
                           FROM certwatch.status()",
                        &[],
                    )
                    .await
                    .map_err(pg_err)?;
                Ok(ServerStatus {
                    schema: VERSION,
                    machines: r.get(0),
                    sites: r.get(1),
                    sightings: r.get(2),
                    last_received: r.get(3),
                })
            })
        })
    }
}

/// Checks a `fleet_url`: a `postgres://` / `postgresql://` URL or libpq
/// key=value string that tokio-postgres reads.
pub fn parse_url(what: &str, v: &str) -> Result<String, String> {
    let v = v.trim();
    v.parse::<tokio_postgres::Config>()
        .map_err(|e| format!("{what}: not a PostgreSQL connection string: {e}"))?;
    Ok(v.to_string())
}

/// The URL without its password, for people.
pub fn redacted(url: &str) -> String {
    match url.parse::<tokio_postgres::Config>() {
        Ok(c) => {
            let hosts: Vec<String> = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(t) => t.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect();
            format!(
                "postgresql://{}@{}:{}/{}",
                c.get_user().unwrap_or(""),
                hosts.join(","),
                c.get_ports().first().copied().unwrap_or(5432),
                c.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(unreadable fleet_url)".into(),
    }
}

/// What other machines wrote is kept to [`MAX_TEXT`] characters: a
/// member cannot make every check carry a megabyte of CA name.
fn bounded(s: String) -> String {
    if s.chars().count() <= MAX_TEXT {
        s
    } else {
        s.chars().take(MAX_TEXT).chain(['…']).collect()
    }
}

/// The longest text taken from the server.
pub const MAX_TEXT: usize = 256;

/// At most this many CA operators per site are read (the most seen first).
pub const MAX_OPERATORS: usize = 64;

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

async fn connect(
    config: &tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
) -> Result<Client, String> {
    match tls {
        Some(tls) => {
            let (client, conn) = config.connect(tls).await.map_err(pg_err)?;
            tokio::spawn(conn);
            Ok(client)
        }
        None => {
            let (client, conn) = config.connect(NoTls).await.map_err(pg_err)?;
            tokio::spawn(conn);
            Ok(client)
        }
    }
}

/// One line: the server's message (with its SQLSTATE), else the error and
/// its causes.
fn pg_err(e: tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return crate::sanitize::sanitize(&format!("{} ({})", db.message(), db.code().code()));
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    crate::sanitize::sanitize(&s)
}

fn tls_connector(
    ca: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("fleet_ca {}: {e}", path.display()))?;
            let ders = crate::model::split_chain(&pem)
                .map_err(|e| format!("fleet_ca {}: {e}", path.display()))?;
            for der in ders {
                roots
                    .add(rustls::pki_types::CertificateDer::from(der))
                    .map_err(|e| format!("fleet_ca {}: {e}", path.display()))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
