//! `certwatch ct tail`: follow chosen CT logs for chosen domains. Picks the
//! logs from the log list in use, runs [`certwatch_engine::ct::tail::follow`]
//! over each (tiled or RFC 6962), saves the position in the store, and
//! prints the matches (sanitised) and a summary per log and run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use certwatch_engine::check::{read_roots, unix_now};
use certwatch_engine::ct::loglist::{b64, Log};
use certwatch_engine::ct::tail::http::Fetcher;
use certwatch_engine::ct::tail::rfc::Rfc6962Source;
use certwatch_engine::ct::tail::tiled::TiledSource;
use certwatch_engine::ct::tail::{follow, LogSource, Options, Outcome, TailError};
use certwatch_engine::ct::watch::familiar::Assessed;
use certwatch_engine::ct::watch::run::Lookup;
use certwatch_engine::report::rfc3339;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::Layer;
use certwatch_engine::store::{ct_tail, Store};
use serde_json::json;

use crate::args::CtTailArgs;
use crate::ctx::Ctx;
use crate::exit::Status;

fn same_url(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// The logs `wanted` names: by description (any case), base64 log id, or URL.
fn select(list: &[Log], wanted: &[String]) -> Result<Vec<Log>> {
    let mut out: Vec<Log> = Vec::new();
    for w in wanted {
        let found = list.iter().find(|l| {
            l.description.eq_ignore_ascii_case(w.trim())
                || l.log_id_b64() == w.trim()
                || same_url(&l.url, w)
                || l.monitoring_url.as_deref().is_some_and(|m| same_url(m, w))
        });
        match found {
            Some(l) if !out.iter().any(|o| o.log_id == l.log_id) => out.push(l.clone()),
            Some(_) => {}
            None => {
                return Err(anyhow!(
                    "no log {:?} in the log list in use (see `certwatch ct show`)",
                    sanitize(w)
                ))
            }
        }
    }
    Ok(out)
}

struct Setup {
    roots: Option<Vec<Vec<u8>>>,
    table: std::sync::Arc<certwatch_engine::ccadb::Table>,
    timeout: Duration,
    issuer_dir: PathBuf,
}

fn source(log: &Log, s: &Setup) -> Result<Box<dyn LogSource>, TailError> {
    if log.rfc6962 {
        let http = Fetcher::new(&log.url, s.roots.as_deref(), s.timeout)?;
        return Ok(Box::new(Rfc6962Source::new(log.clone(), http)));
    }
    let base = log
        .monitoring_url
        .as_deref()
        .ok_or_else(|| TailError::Bad {
            what: log.description.clone(),
            detail: "a tiled log without a monitoring_url in the log list".into(),
        })?;
    let http = Fetcher::new(base, s.roots.as_deref(), s.timeout)?;
    Ok(Box::new(TiledSource::new(
        log.clone(),
        http,
        Some(s.issuer_dir.clone()),
    )))
}

fn print(log: &Log, o: &Outcome, judged: &[Assessed], a: &CtTailArgs) -> Result<()> {
    let name = sanitize(&log.description);
    if a.json {
        let matches: Vec<_> = o
            .matches
            .iter()
            .zip(judged)
            .map(|(m, j)| {
                json!({
                    "index": m.cert.index,
                    "timestamp": rfc3339((m.cert.timestamp_ms / 1000) as i64),
                    "precert": m.cert.precert,
                    "sha256": m.sha256,
                    "names": m.names,
                    "not_before": m.not_before.map(rfc3339),
                    "not_after": m.not_after.map(rfc3339),
                    "issuer": m.issuer,
                    "issuer_spki_sha256": m.issuer_spki_sha256,
                    "issuer_key": j.issuance.issuer_key.as_str(),
                    "operator": j.ca.operator,
                    "familiar": j.familiar.is_some(),
                    "familiar_by": j.familiar.map(|f| f.as_str()),
                })
            })
            .collect();
        return super::out(
            &json!({
                "log": log.description,
                "log_id": log.log_id_b64(),
                "verified_size": o.state.size,
                "root_hash": b64(&o.state.root),
                "next_index": o.state.next,
                "entries_read": o.entries_read,
                "bytes": o.bytes,
                "budget_hit": o.budget_hit,
                "matches": matches,
            })
            .to_string(),
        );
    }
    for (m, j) in o.matches.iter().zip(judged) {
        let names: Vec<String> = m.names.iter().map(|n| sanitize(n)).collect();
        let familiar = match (j.familiar, j.expired) {
            (_, true) => "expired".to_string(),
            (Some(f), _) => f.as_str().to_string(),
            (None, _) => "UNFAMILIAR".to_string(),
        };
        super::out(&format!(
            "{name} #{} {} {} {familiar} sha256={} names={} issuer=\"{}\" issuer_spki_sha256={}",
            m.cert.index,
            rfc3339((m.cert.timestamp_ms / 1000) as i64),
            if m.cert.precert { "precert" } else { "cert" },
            m.sha256,
            names.join(","),
            sanitize(&m.issuer),
            m.issuer_spki_sha256.as_deref().unwrap_or("-"),
        ))?;
    }
    let budget = if o.budget_hit {
        format!(
            "; stopped at the byte budget (--max-bytes {}), the next run goes on",
            a.max_bytes
        )
    } else {
        String::new()
    };
    super::out(&format!(
        "{name}: {} entries read, {} bytes, verified tree size {}, next index {}, {} matches{budget}",
        o.entries_read,
        o.bytes,
        o.state.size,
        o.state.next,
        o.matches.len()
    ))
}

/// One run over one log: follow, save, print; the outcome and, after HTTP
/// 429/5xx, the seconds the log asked to wait.
fn run_log(
    store: &mut Store,
    log: &Log,
    s: &Setup,
    a: &CtTailArgs,
) -> Result<(Status, Option<u64>)> {
    let lookup = judge_with(store, s, &a.domains)?;
    let id = log.log_id_b64();
    let prev = ct_tail::load(store, &id)?;
    let opts = Options {
        log: log.description.clone(),
        domains: a.domains.clone(),
        include_subdomains: a.include_subdomains,
        start: a.start,
        window: a.window,
        max_bytes: a.max_bytes,
    };
    let result = source(log, s).and_then(|mut src| follow(src.as_mut(), prev.as_ref(), &opts));
    match result {
        Ok(o) => {
            ct_tail::save(store, &id, &o.state, certwatch_engine::check::unix_now())?;
            for w in &o.warnings {
                eprintln!(
                    "certwatch: ct tail: {}: {}",
                    sanitize(&log.description),
                    sanitize(w)
                );
            }
            let judged = lookup.judge_logged(&o.matches, &s.table, unix_now());
            print(log, &o, &judged, a)?;
            Ok((Status::Ok, None))
        }
        Err(e) => {
            eprintln!(
                "certwatch: ct tail: {}: {}",
                sanitize(&log.description),
                sanitize(&e.to_string())
            );
            let retry = match e {
                TailError::Status { retry_in_secs, .. } => retry_in_secs,
                _ => None,
            };
            let status = if e.is_failure() {
                Status::Critical
            } else {
                Status::Unknown
            };
            Ok((status, retry))
        }
    }
}

/// What the matches are judged against (as `ct issuances` does): the
/// history under every `--domain`, their CT seeds, the authorized
/// certificates, the CA certificates certwatch knows.
fn judge_with(store: &Store, s: &Setup, domains: &[String]) -> Result<Lookup> {
    let roots = s.roots.clone().unwrap_or_default();
    let mut all = Lookup::default();
    for d in domains {
        let l = Lookup::load(
            store,
            &d.trim().trim_end_matches('.').to_ascii_lowercase(),
            &roots,
            &s.table,
        )?;
        all.history.extend(l.history);
        all.seed.extend(l.seed);
        all.authorized = l.authorized;
        all.candidates = l.candidates;
    }
    Ok(all)
}

pub fn run(ctx: &Ctx, a: CtTailArgs) -> Result<Status> {
    let list = super::ct::lists(ctx)?.ok_or_else(|| {
        anyhow!("no CT log list: run `certwatch ct update` or pass --log-list FILE")
    })?;
    let logs = select(list.logs(), &a.logs)?;
    let settings = ctx.settings(Layer::default())?;
    let roots = match &settings.roots {
        Some(r) => Some(read_roots(r)?),
        None => None,
    };
    let setup = Setup {
        roots,
        table: ctx.ccadb()?,
        timeout: Duration::from_secs(a.timeout.max(1)),
        issuer_dir: ctx.paths.data_dir.join("ct").join("issuers"),
    };
    let mut store = ctx.store()?;
    loop {
        let mut status = Status::Ok;
        let mut wait = a.interval.max(1);
        for log in &logs {
            let (s, retry) = run_log(&mut store, log, &setup, &a)?;
            status = status.worst(s);
            wait = wait.max(retry.unwrap_or(0).min(6 * 3600));
        }
        // Following: a misbehaving log ends it; a log that could not be
        // read is tried again after the interval (or the wait it asked for).
        if a.once || status == Status::Critical {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_secs(wait));
    }
}
