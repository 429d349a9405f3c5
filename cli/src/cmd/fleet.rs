//! `certwatch fleet push|status|site|outliers|migrate|role`: fleet mode's
//! views and chores (engine `fleet`).

use std::time::Duration;

use anyhow::{anyhow, Result};
use certwatch_engine::check::unix_now;
use certwatch_engine::fleet::outbox::Drain;
use certwatch_engine::fleet::pg::Fleet;
use certwatch_engine::fleet::{self, schema, FleetSettings};
use certwatch_engine::probe::target::Site;
use certwatch_engine::report::rfc3339;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::Layer;
use certwatch_engine::store::fleet as outbox;
use serde_json::{json, Value};

use super::out;
use crate::args::{FleetCommand, FleetOutliersArgs, FleetRoleArgs, FleetSiteArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

/// How long a view may take.
const VIEW_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(ctx: &Ctx, c: FleetCommand) -> Result<Status> {
    if let FleetCommand::Role(a) = c {
        return role(a);
    }
    let settings = ctx.settings(Layer::default())?;
    let f = settings.fleet.clone().ok_or_else(|| {
        anyhow!("fleet mode is off: set fleet_url in config.toml or CERTWATCH_FLEET_URL")
    })?;
    match c {
        FleetCommand::Push(a) => push(ctx, &f, a.json),
        FleetCommand::Status(a) => status(ctx, &f, a.json),
        FleetCommand::Site(a) => site(&f, a),
        FleetCommand::Outliers(a) => outliers(ctx, &f, a),
        FleetCommand::Migrate(a) => migrate(&f, a.json),
        FleetCommand::Role(_) => Ok(Status::Ok),
    }
}

fn connect(f: &FleetSettings) -> Result<Fleet> {
    Fleet::new(f).map_err(|e| anyhow!("{e}"))
}

fn push(ctx: &Ctx, f: &FleetSettings, json: bool) -> Result<Status> {
    let mut drain = Drain::new(f).map_err(|e| anyhow!("fleet: {e}"))?;
    let mut store = ctx.store()?;
    let server = fleet::redacted(&f.url);
    let res = drain.drain(&mut store, unix_now());
    let waiting = outbox::status(&store)?.pending;
    let (status, v) = match res {
        Ok(s) => (
            Status::Ok,
            json!({"server": server, "sent": s.sent, "new": s.new, "waiting": waiting, "error": null}),
        ),
        Err(e) => (
            Status::Unknown,
            json!({"server": server, "sent": 0, "new": 0, "waiting": waiting, "error": e.to_string()}),
        ),
    };
    if json {
        out(&v.to_string())?;
    } else if let Some(e) = v["error"].as_str() {
        eprintln!(
            "certwatch: {}; {waiting} sightings stay queued",
            sanitize(e)
        );
    } else {
        out(&format!(
            "sent {} sightings to {} ({} new there); {waiting} waiting",
            v["sent"], server, v["new"]
        ))?;
    }
    Ok(status)
}

fn status(ctx: &Ctx, f: &FleetSettings, json: bool) -> Result<Status> {
    let machine = fleet::machine_id(f, fleet::MACHINE_ID_FILES).map_err(|e| anyhow!(e))?;
    let store = ctx.store()?;
    let ob = outbox::status(&store)?;
    let server = connect(f).and_then(|mut c| c.status(VIEW_TIMEOUT).map_err(|e| anyhow!("{e}")));
    let when = |t: Option<i64>| t.map(rfc3339);
    let v = json!({
        "server": fleet::redacted(&f.url),
        "machine_id": machine,
        "network": f.network,
        "hash_sites": f.hash_sites,
        "outbox": {
            "waiting": ob.pending,
            "oldest": when(ob.oldest),
            "last_push": when(ob.last_push),
            "last_error": ob.last_error,
            "pushed": ob.pushed,
        },
        "fleet": match &server {
            Ok(s) => json!({
                "reachable": true,
                "schema": s.schema,
                "machines": s.machines,
                "sites": s.sites,
                "sightings": s.sightings,
                "last_received": when(s.last_received),
            }),
            Err(e) => json!({"reachable": false, "error": e.to_string()}),
        },
    });
    if json {
        out(&v.to_string())?;
    } else {
        out(&format!(
            "server      {}",
            v["server"].as_str().unwrap_or("")
        ))?;
        out(&format!("machine id  {machine}"))?;
        if !f.network.is_empty() {
            out(&format!("network     {}", sanitize(&f.network)))?;
        }
        out(&format!(
            "site names  {}",
            if f.hash_sites {
                "keyed hashes (fleet_hash_sites)"
            } else {
                "in clear"
            }
        ))?;
        out(&format!(
            "outbox      {} waiting, {} sent in all, last push {}",
            ob.pending,
            ob.pushed,
            when(ob.last_push).unwrap_or_else(|| "never".into())
        ))?;
        if let Some(e) = &ob.last_error {
            out(&format!("last error  {}", sanitize(e)))?;
        }
        match &server {
            Ok(s) => out(&format!(
                "fleet       {} machines, {} sites, {} sightings (schema {})",
                s.machines, s.sites, s.sightings, s.schema
            ))?,
            Err(e) => out(&format!(
                "fleet       unreachable: {}",
                sanitize(&e.to_string())
            ))?,
        }
    }
    Ok(if server.is_ok() {
        Status::Ok
    } else {
        Status::Unknown
    })
}

fn site(f: &FleetSettings, a: FleetSiteArgs) -> Result<Status> {
    let site = Site::parse(&a.site, 443).map_err(|e| anyhow!("{}: {e}", a.site))?;
    let secret = fleet::read_secret(f).map_err(|e| anyhow!(e))?;
    let key = fleet::site_key(&site, secret.as_deref());
    let ops = connect(f)?
        .site(&key, VIEW_TIMEOUT)
        .map_err(|e| anyhow!("{e}"))?;
    if a.json {
        out(&json!({
            "host": site.host,
            "port": site.port,
            "operators": ops.iter().map(|o| json!({
                "operator": o.operator,
                "ca_name": o.ca_name,
                "machines": o.machines,
                "first_seen": rfc3339(o.first_seen),
                "last_seen": rfc3339(o.last_seen),
            })).collect::<Vec<Value>>(),
        })
        .to_string())?;
        return Ok(Status::Ok);
    }
    if ops.is_empty() {
        out(&format!("no machine of the fleet has reported {site}"))?;
    }
    for o in &ops {
        out(&format!(
            "{}  {} machine{}  {} … {}  ({})",
            sanitize(&o.ca_name),
            o.machines,
            if o.machines == 1 { "" } else { "s" },
            &rfc3339(o.first_seen)[..10],
            &rfc3339(o.last_seen)[..10],
            sanitize(&o.operator)
        ))?;
    }
    Ok(Status::Ok)
}

fn outliers(ctx: &Ctx, f: &FleetSettings, a: FleetOutliersArgs) -> Result<Status> {
    let since = unix_now() - i64::from(a.days) * 86_400;
    let list = connect(f)?
        .outliers(since, VIEW_TIMEOUT)
        .map_err(|e| anyhow!("{e}"))?;
    // With hashed names, name the sites this machine knows.
    let secret = fleet::read_secret(f).map_err(|e| anyhow!(e))?;
    let known: std::collections::HashMap<String, String> = match &secret {
        Some(k) => outbox::known_sites(&ctx.store()?)?
            .into_iter()
            .map(|s| (fleet::site_key(&s, Some(k)), s.to_string()))
            .collect(),
        None => Default::default(),
    };
    let name = |key: &str| known.get(key).cloned().unwrap_or_else(|| key.to_string());
    if a.json {
        out(&Value::Array(
            list.iter()
                .map(|o| {
                    json!({
                        "site": name(&o.site),
                        "site_key": o.site,
                        "operator": o.operator,
                        "ca_name": o.ca_name,
                        "machine_id": o.machine_id,
                        "network": o.network,
                        "last_seen": rfc3339(o.last_seen),
                        "others": o.others,
                    })
                })
                .collect(),
        )
        .to_string())?;
    } else if list.is_empty() {
        out(&format!("no outliers in the last {} days", a.days))?;
    } else {
        for o in &list {
            let network = if o.network.is_empty() {
                String::new()
            } else {
                format!(" on network {}", sanitize(&o.network))
            };
            out(&format!(
                "{}: machine {}{network} alone saw {} (last {}), while {} other machines see another CA",
                sanitize(&name(&o.site)),
                sanitize(&o.machine_id),
                sanitize(&o.ca_name),
                rfc3339(o.last_seen),
                o.others
            ))?;
        }
    }
    Ok(if list.is_empty() {
        Status::Ok
    } else {
        Status::Critical
    })
}

fn migrate(f: &FleetSettings, json: bool) -> Result<Status> {
    let (from, to) = connect(f)?
        .migrate(Duration::from_secs(60))
        .map_err(|e| anyhow!("{e}"))?;
    if json {
        out(&json!({"from": from, "to": to}).to_string())?;
    } else if from == to {
        out(&format!(
            "the fleet schema is at version {to}: nothing to do"
        ))?;
    } else {
        out(&format!(
            "the fleet schema went from version {from} to {to}"
        ))?;
    }
    Ok(Status::Ok)
}

fn role(a: FleetRoleArgs) -> Result<Status> {
    if let Some(m) = &a.machine {
        fleet::parse_machine_id("--machine", m).map_err(|e| anyhow!(e))?;
    }
    for line in schema::role_sql(&a.role, a.machine.as_deref()).lines() {
        out(line)?;
    }
    Ok(Status::Ok)
}
