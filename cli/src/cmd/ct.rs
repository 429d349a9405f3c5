//! `certwatch ct`: the CT log lists (update the cache, show what is loaded).

use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use certwatch_engine::check::read_roots;
use certwatch_engine::ct::{cache, LogList};
use certwatch_engine::report::{ct_list_notice, rfc3339};
use certwatch_engine::settings::Layer;
use serde_json::json;

use crate::args::{CtCommand, CtShowArgs, CtUpdateArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

/// The log lists in use: `--log-list` files (an unreadable one is an error),
/// else the newer of the cached list and the built-in one (the built-in one
/// only with the built-in roots), else none (then checks carry no CT
/// evidence).
pub fn lists(ctx: &Ctx) -> Result<Option<LogList>> {
    let settings = ctx.settings(Layer::default())?;
    let builtin = certwatch_engine::check::builtin_ct_list(&settings);
    let in_use = cache::load(&settings.log_lists, &ctx.paths.data_dir, builtin)
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(w) = in_use.warning {
        eprintln!("certwatch: {w} (run `certwatch ct update`)");
    }
    Ok(in_use.list)
}

pub fn run(ctx: &Ctx, c: CtCommand) -> Result<Status> {
    match c {
        CtCommand::Update(a) => update(ctx, a),
        CtCommand::Show(a) => show(ctx, a),
        CtCommand::Issuances(a) => super::ct_issuances::issuances(ctx, a),
        CtCommand::Authorize(a) => super::ct_issuances::authorize(ctx, a),
        CtCommand::Tail(a) => super::ct_tail::run(ctx, a),
    }
}

fn read_bounded(p: &Path, max: u64) -> Result<Vec<u8>> {
    let len = std::fs::metadata(p)
        .with_context(|| format!("cannot read {}", p.display()))?
        .len();
    if len > max {
        return Err(anyhow!("{}: larger than {max} bytes", p.display()));
    }
    std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))
}

fn update(ctx: &Ctx, a: CtUpdateArgs) -> Result<Status> {
    let (json, sig, origin) = match (&a.from, &a.sig) {
        (Some(f), Some(s)) => (
            read_bounded(f, certwatch_engine::ct::loglist::MAX_LIST_BYTES as u64)?,
            read_bounded(s, 64 * 1024)?,
            f.display().to_string(),
        ),
        _ => download(ctx, a.url.as_deref())?,
    };
    let dest = cache::cache_path(&ctx.paths.data_dir);
    let list = cache::install(&ctx.paths.data_dir, &json, &sig).map_err(|e| {
        let kept = if dest.exists() {
            "the cached list stays in use"
        } else {
            "nothing was installed"
        };
        anyhow!("refused the log list from {origin}: {e}; {kept}")
    })?;
    super::out(&format!(
        "installed CT log list from {origin}: {} logs, signature verified; cached in {}",
        list.len(),
        dest.display()
    ))?;
    Ok(Status::Ok)
}

fn download(ctx: &Ctx, url: Option<&str>) -> Result<(Vec<u8>, Vec<u8>, String)> {
    use certwatch_engine::ct::fetch::{fetch_signed, FetchConfig};
    let mut cfg = url.map(FetchConfig::for_url).unwrap_or_default();
    if let Some(r) = ctx.settings(Layer::default())?.roots {
        cfg.roots = Some(read_roots(&r)?);
    }
    let (json, sig) = fetch_signed(&cfg).map_err(|e| anyhow!("{e}"))?;
    Ok((json, sig, cfg.json_url))
}

fn show(ctx: &Ctx, a: CtShowArgs) -> Result<Status> {
    let Some(list) = lists(ctx)? else {
        super::out("no CT log list: run `certwatch ct update` or pass --log-list FILE (the built-in list judges only with the built-in roots)")?;
        return Ok(Status::Ok);
    };
    let now = certwatch_engine::check::unix_now();
    let fresh = list.freshness(now);
    if a.json {
        let logs: Vec<_> = list
            .logs()
            .iter()
            .map(|l| {
                json!({
                    "log_id": l.log_id_b64(),
                    "description": l.description,
                    "operator": l.operator,
                    "state": l.state.as_str(),
                    "api": if l.rfc6962 { "rfc6962" } else { "static-ct" },
                    "url": l.url,
                })
            })
            .collect();
        super::out(
            &json!({
                "sources": list.sources,
                "date": fresh.date.map(rfc3339),
                "age_days": fresh.date.map(|_| fresh.age_days),
                "stale": fresh.stale,
                "logs": logs,
            })
            .to_string(),
        )?;
    } else {
        let date = match fresh.date {
            Some(d) => format!(
                ", dated {} ({} days old)",
                &rfc3339(d)[..10],
                fresh.age_days
            ),
            None => ", undated".to_string(),
        };
        super::out(&format!(
            "{} logs from {}{date}",
            list.len(),
            list.sources.join(", ")
        ))?;
        if let Some(n) = ct_list_notice(fresh.date, now) {
            super::out(&format!("note: {n}"))?;
        }
        for l in list.logs() {
            super::out(&format!(
                "  {:<10} {:<9} {} ({})",
                l.state.as_str(),
                if l.rfc6962 { "rfc6962" } else { "static-ct" },
                certwatch_engine::sanitize::sanitize(&l.description),
                certwatch_engine::sanitize::sanitize(&l.operator)
            ))?;
        }
    }
    Ok(Status::Ok)
}
