//! `certwatch status | watch | alerts | log`: the daemon's data. They work
//! on the database directly when no daemon runs, and tell a running daemon
//! when the watch list changed so it re-plans its schedule.

use anyhow::{bail, Context as _, Result};
use certwatch_engine::check::unix_now;
use certwatch_engine::client::{Body, Client, Request};
use certwatch_engine::probe::Site;
use certwatch_engine::report::rfc3339;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::schedule::parse_every;
use certwatch_engine::settings::Layer;
use certwatch_engine::store::{ct_watch, watch};
use serde_json::json;

use crate::args::{AlertsArgs, LogArgs, StatusArgs, WatchCommand};
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn status(ctx: &Ctx, a: StatusArgs) -> Result<Status> {
    let daemon = Client::connect(&ctx.paths)
        .and_then(|mut c| c.call(&Request::Status).ok())
        .and_then(|r| match r.body {
            Body::Status(d) => Some(*d),
            _ => None,
        });
    let db_bytes = std::fs::metadata(&ctx.paths.db)
        .map(|m| m.len())
        .unwrap_or(0);
    let (sites, open, watched) = if ctx.paths.db.exists() {
        let s = ctx.store()?;
        (
            s.site_count()?,
            watch::open_alerts(&s)?,
            watch::list(&s)?.len(),
        )
    } else {
        (0, 0, 0)
    };
    let v = json!({
        "daemon": daemon.as_ref().map(|d| json!({"running": true, "version": d.version, "pid": d.pid, "started": d.started, "config_error": d.config_error})).unwrap_or(json!({"running": false})),
        "version": certwatch_engine::VERSION,
        "db": ctx.paths.db.display().to_string(),
        "db_bytes": db_bytes,
        "sites": sites,
        "watched": watched,
        "open_alerts": open,
    });
    if a.json {
        super::out(&v.to_string())?;
    } else {
        match &daemon {
            Some(d) => super::out(&format!(
                "certwatchd: running (version {}, pid {}, since {})",
                sanitize(&d.version),
                d.pid,
                sanitize(&d.started)
            ))?,
            None => super::out("certwatchd: not running (checks open the database directly)")?,
        }
        if let Some(e) = daemon.as_ref().and_then(|d| d.config_error.as_deref()) {
            super::out(&format!(
                "config: {} (the daemon keeps its previous config)",
                sanitize(e)
            ))?;
        }
        super::out(&format!(
            "database: {} ({} bytes)",
            ctx.paths.db.display(),
            db_bytes
        ))?;
        super::out(&format!(
            "sites known: {sites}; watched: {watched}; open alerts: {open}"
        ))?;
    }
    Ok(if open > 0 {
        Status::Warning
    } else {
        Status::Ok
    })
}

fn poke(ctx: &Ctx) {
    if let Some(mut c) = Client::connect(&ctx.paths) {
        let _ = c.call(&Request::WatchChanged);
    }
}

pub fn watch(ctx: &Ctx, c: WatchCommand) -> Result<Status> {
    let mut store = ctx.store()?;
    match c {
        WatchCommand::Add(a) => {
            let site = Site::parse(&a.host, 443)?;
            if a.ct && site.host.parse::<std::net::IpAddr>().is_ok() {
                bail!(
                    "--ct: {} is an IP address; CT is searched by domain name",
                    site.host
                );
            }
            let every = a.every.unwrap_or_else(|| {
                certwatch_engine::config::load(&ctx.paths.config_file())
                    .map(|c| c.default_every)
                    .unwrap_or_else(|_| "6h".into())
            });
            let secs = parse_every(&every).map_err(anyhow::Error::msg)?;
            watch::add(&mut store, &site, a.connect.as_deref(), secs, unix_now())?;
            super::out(&format!(
                "watching {} every {every}",
                sanitize(&site.to_string())
            ))?;
            if a.ct {
                if site.host.parse::<std::net::IpAddr>().is_ok() {
                    bail!(
                        "--ct: {} is an IP address; CT is searched by domain name",
                        site.host
                    );
                }
                let config = certwatch_engine::config::load(&ctx.paths.config_file())
                    .map_err(anyhow::Error::msg)?;
                let every = config.ct_watch_every.unwrap_or_else(|| "1h".into());
                let ct_secs =
                    certwatch_engine::schedule::parse_delay(&every).map_err(anyhow::Error::msg)?;
                let url = super::ct_issuances::search_url(&ctx.settings(Layer::default())?);
                ct_watch::add(
                    &mut store,
                    &site.host,
                    a.include_subdomains,
                    ct_secs,
                    unix_now(),
                )?;
                super::out(&format!(
                    "watching CT for {}{} every {every} at {} (it learns that you watch this domain)",
                    sanitize(&site.host),
                    if a.include_subdomains {
                        " and its subdomains"
                    } else {
                        ""
                    },
                    sanitize(&url)
                ))?;
            }
        }
        WatchCommand::Remove(a) => {
            let site = Site::parse(&a.host, 443)?;
            let tls = watch::remove(&mut store, &site, unix_now())?;
            let ct = ct_watch::remove(&mut store, &site.host, unix_now())?;
            if !tls && !ct {
                bail!("{site} is not watched");
            }
            super::out(&format!("no longer watching {site}"))?;
        }
        WatchCommand::List(a) => {
            let list = watch::list(&store)?;
            for w in &list {
                if a.json {
                    super::out(&json!({
                        "host": w.site.host, "port": w.site.port, "connect": w.connect, "every_secs": w.every_secs,
                        "next_due": rfc3339(w.next_due), "failures": w.failures, "last_error": w.last_error,
                        "last_check": w.last_check.map(rfc3339),
                    }).to_string())?;
                } else {
                    super::out(&watch_line(
                        &w.site.to_string(),
                        w.every_secs,
                        w.next_due,
                        w.last_error.as_deref(),
                    ))?;
                }
            }
            let cts = ct_watch::list(&store)?;
            for w in &cts {
                if a.json {
                    super::out(
                        &json!({
                            "ct_domain": w.domain, "include_subdomains": w.include_subdomains,
                            "every_secs": w.every_secs, "next_due": rfc3339(w.next_due),
                            "position": w.position, "polls": w.polls, "failures": w.failures,
                            "last_error": w.last_error, "last_poll": w.last_poll.map(rfc3339),
                        })
                        .to_string(),
                    )?;
                } else {
                    let subs = if w.include_subdomains {
                        " (+subdomains)"
                    } else {
                        ""
                    };
                    super::out(&watch_line(
                        &format!("CT {}{subs}", w.domain),
                        w.every_secs,
                        w.next_due,
                        w.last_error.as_deref(),
                    ))?;
                }
            }
            if list.is_empty() && cts.is_empty() && !a.json {
                super::out("no watched sites (certwatch watch add HOST)")?;
            }
            return Ok(Status::Ok);
        }
    }
    poke(ctx);
    Ok(Status::Ok)
}

/// One line of `watch list` (sanitised).
fn watch_line(what: &str, every_secs: i64, next_due: i64, last_error: Option<&str>) -> String {
    format!(
        "{}  every {every_secs}s  next {}{}",
        sanitize(what),
        rfc3339(next_due),
        last_error
            .map(|e| format!("  last error: {}", sanitize(e)))
            .unwrap_or_default()
    )
}

pub fn alerts(ctx: &Ctx, a: AlertsArgs) -> Result<Status> {
    let mut store = ctx.store()?;
    match a.action.as_slice() {
        [] => {}
        [verb, id] if verb == "ack" => {
            let id: i64 = id
                .parse()
                .with_context(|| format!("alert id {id:?} is not a number"))?;
            if !watch::ack(&mut store, id, unix_now())? {
                bail!("no open alert {id}");
            }
            super::out(&format!("alert {id} acknowledged"))?;
            return Ok(Status::Ok);
        }
        _ => bail!("usage: certwatch alerts [--all] [--json] | certwatch alerts ack ID"),
    }
    let list = watch::alerts(&store, a.all)?;
    for al in &list {
        if a.json {
            let verdict: serde_json::Value = serde_json::from_str(&al.json).unwrap_or_default();
            super::out(&json!({
                "id": al.id, "at": rfc3339(al.at), "site": al.site, "severity": al.severity,
                "title": al.title, "body": al.body, "acked_at": al.acked_at.map(rfc3339), "verdict": verdict,
            }).to_string())?;
        } else {
            super::out(&format!(
                "#{}  {}  {:<8} {}{}",
                al.id,
                rfc3339(al.at),
                al.severity,
                sanitize(&al.title),
                if al.acked_at.is_some() {
                    "  (acknowledged)"
                } else {
                    ""
                }
            ))?;
            for line in al.body.lines() {
                super::out(&format!("      {}", sanitize(line)))?;
            }
        }
    }
    if list.is_empty() && !a.json {
        super::out("no open alerts")?;
    }
    Ok(Status::Ok)
}

pub fn log(ctx: &Ctx, a: LogArgs) -> Result<Status> {
    let since = match &a.since {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("--since {t:?} is not an RFC 3339 time"))?
            .unix_timestamp(),
        None => 0,
    };
    let store = ctx.store()?;
    for e in watch::events(&store, since)? {
        if a.json {
            super::out(
                &json!({"at": rfc3339(e.at), "kind": e.kind, "site": e.site, "detail": e.detail})
                    .to_string(),
            )?;
        } else {
            super::out(&format!(
                "{}  {:<12} {}  {}",
                rfc3339(e.at),
                e.kind,
                sanitize(e.site.as_deref().unwrap_or("-")),
                sanitize(&e.detail.chars().take(200).collect::<String>())
            ))?;
        }
    }
    Ok(Status::Ok)
}
