//! `certwatch check`: probe sites (concurrently, bounded), judge, record —
//! the engine's pipeline ([`Engine::prepare`] on workers, [`Engine::finish`]
//! on the main thread).
//!
//! Probing and parsing run on a pool of `--jobs` threads; judging and
//! recording run on the main thread, one store transaction per site, so the
//! history is written by one connection and results print in input order.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use certwatch_engine::check::{self, unix_now, CheckError, Engine, ReadOnly};
use certwatch_engine::format::{nagios, openmetrics, SiteSummary};
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::probe::target::Target;
use certwatch_engine::probe::{Site, StartTls};
use certwatch_engine::report::{checked_json, error_json};
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::{parse_secs, Layer, Source};
use certwatch_engine::store::Store;

use crate::args::{CheckArgs, OutputFormat};
use crate::ctx::Ctx;
use crate::exit::Status;
use crate::render;

/// Most sites one `--file` may list.
const MAX_SITES: usize = 1_000_000;

type Prepared = Result<check::Prepared, CheckError>;

pub fn run(ctx: &Ctx, a: CheckArgs) -> Result<Status> {
    let starttls = a.starttls.as_deref().and_then(StartTls::from_name);
    let (targets, invalid) = collect_sites(&a, starttls)?;
    let sites: Vec<Site> = targets.iter().map(|t| t.site.clone()).collect();
    let protocols: Arc<Vec<Option<StartTls>>> =
        Arc::new(targets.iter().map(|t| t.starttls).collect());
    let mut status = if invalid > 0 {
        Status::Unknown
    } else {
        Status::Ok
    };
    let format = OutputFormat::chosen(a.format, a.json);
    if sites.is_empty() {
        if invalid == 0 {
            bail!("no sites to check: give HOST[:PORT] or --file FILE");
        }
        if format == OutputFormat::Nagios {
            super::out(nagios::render(&[], invalid).0.trim_end())?;
        }
        return Ok(status);
    }
    let settings = ctx.settings(flags_layer(&a)?)?;
    // The database is opened once: the pin sources read the user's pins
    // from the same connection that records the sightings.
    let mut store = if a.no_store { None } else { Some(ctx.store()?) };
    // --no-store still judges against the history when one exists.
    let mut reader = if a.no_store && ctx.paths.db.exists() {
        Store::open(&ctx.paths.db).ok()
    } else {
        None
    };
    let mut engine = ctx.engine(&settings, store.as_mut().or(reader.as_mut()))?;
    engine.probe.connect_to = a.connect.clone();
    let engine = Arc::new(engine);
    let color = render::use_color();
    let progress =
        sites.len() > 1 && std::io::stderr().is_terminal() && format == OutputFormat::Human;
    let total = sites.len();
    // nagios and prometheus print once, for all sites.
    let mut summaries: Vec<SiteSummary> = Vec::new();

    let mut emit = |site: &Site, prepared: Prepared| -> Result<Status> {
        let now = unix_now();
        let result = prepared.and_then(|p| {
            let checked = match store.as_mut() {
                Some(s) => engine.finish(site, p, s, now),
                None => engine.finish(site, p, &mut ReadOnly(reader.as_ref()), now),
            }?;
            for w in &checked.warnings {
                eprintln!("certwatch: {}", sanitize(w));
            }
            Ok(checked)
        });
        let st = match &result {
            Ok(c) => Status::from(c.verdict.severity),
            Err(_) => Status::Unknown,
        };
        let line = match (&result, format) {
            (Ok(c), OutputFormat::Json) => Some(checked_json(c).to_string()),
            (Err(e), OutputFormat::Json) => Some(error_json(site, now, e).to_string()),
            (Ok(c), OutputFormat::Human) => Some(render::checked(c, color).trim_end().to_string()),
            (Err(e), OutputFormat::Human) => Some(render::failed(site, e, color)),
            (Ok(c), _) => {
                summaries.push(SiteSummary::from_checked(c));
                None
            }
            (Err(e), _) => {
                summaries.push(SiteSummary::failed(site, now, e));
                None
            }
        };
        if let Some(line) = line.filter(|_| !(a.quiet && st == Status::Ok)) {
            super::out(&line)?;
        }
        if let Err(CheckError::Store(e)) = &result {
            // The store failing is fatal for the whole run: nothing would be recorded.
            bail!("{e}");
        }
        Ok(st)
    };

    if sites.len() == 1 {
        let site = &sites[0];
        let prepared = prepare(&engine, site, protocols[0]);
        status = status.worst(emit(site, prepared)?);
        return finish(format, &summaries, invalid, status);
    }

    let jobs = (a.jobs as usize).min(sites.len()).max(1);
    let queue = Arc::new(Mutex::new(sites.clone().into_iter().enumerate()));
    let (tx, rx) = mpsc::sync_channel::<(usize, Prepared)>(jobs * 2);
    let mut workers = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let queue = queue.clone();
        let tx = tx.clone();
        let engine = engine.clone();
        let protocols = protocols.clone();
        workers.push(std::thread::spawn(move || loop {
            let next = queue.lock().ok().and_then(|mut q| q.next());
            let Some((i, site)) = next else { break };
            let starttls = protocols.get(i).copied().flatten();
            if tx.send((i, prepare(&engine, &site, starttls))).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    let mut pending: BTreeMap<usize, Prepared> = BTreeMap::new();
    let mut next = 0usize;
    let mut done = 0usize;
    for (i, p) in rx {
        pending.insert(i, p);
        while let Some(p) = pending.remove(&next) {
            status = status.worst(emit(&sites[next], p)?);
            next += 1;
            done += 1;
            if progress && (done % 10 == 0 || done == total) {
                let mut e = std::io::stderr().lock();
                let _ = write!(e, "\rchecked {done}/{total}");
                if done == total {
                    let _ = writeln!(e);
                }
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    finish(format, &summaries, invalid, status)
}

/// Prints the formats that cover all sites at once.
fn finish(
    format: OutputFormat,
    summaries: &[SiteSummary],
    invalid: usize,
    status: Status,
) -> Result<Status> {
    match format {
        OutputFormat::Nagios => {
            let (text, state) = nagios::render(summaries, invalid);
            super::out(text.trim_end())?;
            Ok(state)
        }
        OutputFormat::Prometheus => {
            super::out(openmetrics::render(summaries).trim_end())?;
            Ok(status)
        }
        OutputFormat::Human | OutputFormat::Json => Ok(status),
    }
}

/// The flags of `check` that are settings (see `certwatch_engine::settings`).
fn flags_layer(a: &CheckArgs) -> Result<Layer> {
    let secs = |v: Option<f64>, what: &str| -> Result<Option<Duration>> {
        v.map(|v| parse_secs(&format!("--{what}"), v).map_err(anyhow::Error::msg))
            .transpose()
    };
    Ok(Layer {
        source: Source::Flags,
        connect_timeout: secs(a.connect_timeout, "connect-timeout")?,
        handshake_timeout: secs(a.timeout, "timeout")?,
        caa: a.caa.layer(),
        dns_server: a.caa.dns_server,
        warn_days: a.warn_days,
        crit_days: a.crit_days,
        ..Layer::default()
    })
}

fn prepare(engine: &Engine, site: &Site, starttls: Option<StartTls>) -> Prepared {
    let probed = engine.probe_starttls(site, None, starttls, &ProcessEnv)?;
    engine.prepare(site, &probed.chain, Some(&probed), unix_now())
}

/// Sites from the arguments and `--file` (with `--starttls` or their URL's
/// protocol), and how many entries were bad
/// (reported on stderr; they make the status UNKNOWN).
fn collect_sites(a: &CheckArgs, starttls: Option<StartTls>) -> Result<(Vec<Target>, usize)> {
    let mut sites = Vec::new();
    let mut invalid = 0;
    for h in &a.hosts {
        match Target::parse(h, starttls) {
            Ok(s) => sites.push(s),
            Err(e) => {
                eprintln!("certwatch: {}", sanitize(&e.to_string()));
                invalid += 1;
            }
        }
    }
    if let Some(path) = &a.file {
        let reader: Box<dyn std::io::BufRead> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Box::new(std::io::BufReader::new(f))
        };
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("{}: line {}", path.display(), n + 1))?;
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            if sites.len() >= MAX_SITES {
                bail!("{}: more than {MAX_SITES} sites", path.display());
            }
            match Target::parse(entry, starttls) {
                Ok(s) => sites.push(s),
                Err(e) => {
                    eprintln!(
                        "certwatch: {}:{}: {}",
                        path.display(),
                        n + 1,
                        sanitize(&e.to_string())
                    );
                    invalid += 1;
                }
            }
        }
    }
    Ok((sites, invalid))
}
