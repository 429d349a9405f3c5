//! `certwatch inspect`: the same analysis on a chain file, offline (any
//! `--format`; no expiry rule, so no nagios thresholds).

use anyhow::{Context as _, Result};
use certwatch_engine::check::{unix_now, NoHistory};
use certwatch_engine::format::{nagios, openmetrics, SiteSummary};
use certwatch_engine::model::{parse_cert, split_chain};
use certwatch_engine::probe::Site;
use certwatch_engine::report::checked_json;
use certwatch_engine::settings::Layer;

use crate::args::{InspectArgs, OutputFormat};
use crate::ctx::Ctx;
use crate::exit::Status;
use crate::render;

pub fn run(ctx: &Ctx, a: InspectArgs) -> Result<Status> {
    let bytes =
        std::fs::read(&a.chain).with_context(|| format!("cannot read {}", a.chain.display()))?;
    let ders = split_chain(&bytes).with_context(|| format!("{}", a.chain.display()))?;
    let now = match &a.at {
        Some(t) => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .with_context(|| {
                format!("--at {t:?} is not an RFC 3339 time (e.g. 2024-01-31T12:00:00Z)")
            })?
            .unix_timestamp(),
        None => unix_now(),
    };
    let host = match &a.host {
        Some(h) => h.clone(),
        None => {
            let leaf = parse_cert(&ders[0])
                .with_context(|| format!("{}: certificate #0", a.chain.display()))?;
            leaf.sans
                .first()
                .cloned()
                .or(leaf.subject_cn.clone())
                .unwrap_or_else(|| "unknown.invalid".into())
                .trim_start_matches("*.")
                .to_string()
        }
    };
    let site = Site::parse(&host, 443)?;
    let mut store = super::pins::existing_store(ctx)?;
    let mut engine = ctx.engine(&ctx.settings(Layer::default())?, store.as_mut())?;
    // Offline and historyless: no CAA (it needs a CA change), no expiry rule
    // (as before: `inspect` judges a chain, not a deployment).
    engine.enrichers.clear();
    engine.expiry = None;
    let prepared = engine
        .prepare(&site, &ders, None, now)
        .with_context(|| format!("{}", a.chain.display()))?;
    let checked = engine.finish(&site, prepared, &mut NoHistory, now)?;
    let summary = || SiteSummary::from_checked(&checked);
    // For one chain, the nagios state is the status below.
    let text = match OutputFormat::chosen(a.format, a.json) {
        OutputFormat::Json => checked_json(&checked).to_string(),
        OutputFormat::Human => render::checked(&checked, render::use_color()),
        OutputFormat::Nagios => nagios::render(&[summary()], 0).0,
        OutputFormat::Prometheus => openmetrics::render(&[summary()]),
    };
    super::out(text.trim_end())?;
    Ok(Status::from(checked.verdict.severity))
}
