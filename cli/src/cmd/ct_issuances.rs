//! `certwatch ct issuances DOMAIN` and `certwatch ct authorize`: the
//! certificates CT logged for a domain, from a search service, each with
//! its issuing CA's operator (by key and CCADB) and whether it is familiar;
//! and marking a certificate as expected.

use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use certwatch_engine::check::{read_roots, unix_now};
use certwatch_engine::ct::fetch::HttpClient;
use certwatch_engine::ct::watch::familiar::Assessed;
use certwatch_engine::ct::watch::run::Lookup;
use certwatch_engine::ct::watch::{self, Query};
use certwatch_engine::report::{issuance_json, rfc3339};
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::{parse_search_url, Layer, Settings};
use certwatch_engine::store::ct_watch;
use serde_json::json;

use crate::args::{CtAuthorizeArgs, CtIssuancesArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

/// The search service in use: `ct_search_url` (flag > environment >
/// config, the one precedence of [`certwatch_engine::settings`]), else
/// crt.sh.
pub fn search_url(settings: &Settings) -> String {
    settings
        .ct_search_url
        .clone()
        .unwrap_or_else(|| watch::DEFAULT_SEARCH_URL.to_string())
}

pub fn issuances(ctx: &Ctx, a: CtIssuancesArgs) -> Result<Status> {
    let flag = a
        .search_url
        .as_deref()
        .map(|u| parse_search_url("--search-url", u))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let q = Query::new(&a.domain, a.include_subdomains, a.include_expired);
    if q.domain.is_empty() || q.domain.contains(['/', ' ', ':']) {
        return Err(anyhow!("{:?} is not a domain name", a.domain));
    }
    let settings = ctx.settings(Layer {
        ct_search_url: flag,
        ..Layer::default()
    })?;
    let url = search_url(&settings);
    let roots = match &settings.roots {
        Some(r) => read_roots(r)?,
        None => Vec::new(),
    };
    let table = ctx.ccadb()?;
    let mut store = ctx.store()?;
    let mut lookup =
        Lookup::load(&store, &q.domain, &roots, &table)?.with_downloads(&store, &url)?;
    let tls_roots = (!roots.is_empty()).then_some(roots.as_slice());
    let aia = HttpClient::new(tls_roots, Duration::from_secs(10)).ok();
    let mut search = watch::service_for(&url, tls_roots).map_err(|e| anyhow!("{e}"))?;
    let now = unix_now();
    let found = lookup
        .search(search.as_mut(), &q, None, aia.as_ref(), &table, now)
        .map_err(|e| anyhow!("CT search for {} failed: {e}", q.domain))?;
    if let Err(e) = lookup.save(&mut store, now) {
        eprintln!("certwatch: could not keep the downloaded certificates: {e}");
    }
    for n in &lookup.notes {
        eprintln!("certwatch: {}", sanitize(n));
    }
    let unfamiliar = watch::familiar::unfamiliar(&found.issuances).count();
    if a.json {
        super::out(
            &json!({
                "domain": q.domain,
                "include_subdomains": q.include_subdomains,
                "include_expired": q.include_expired,
                "search": search.name(),
                "issuances": found.issuances.iter().map(issuance_json).collect::<Vec<_>>(),
                "unfamiliar": unfamiliar,
                "not_downloaded": found.not_downloaded,
            })
            .to_string(),
        )?;
    } else {
        for x in &found.issuances {
            super::out(&line(x))?;
        }
        super::out(&format!(
            "{} issuances for {} from {}; {unfamiliar} unexpired from an unfamiliar CA",
            found.issuances.len(),
            sanitize(&q.domain),
            sanitize(&search.name()),
        ))?;
        if found.not_downloaded > 0 {
            super::out(&format!(
                "note: {} certificates were not downloaded (limit per search); run again to continue",
                found.not_downloaded
            ))?;
        }
    }
    Ok(if unfamiliar > 0 {
        Status::Warning
    } else {
        Status::Ok
    })
}

fn line(x: &Assessed) -> String {
    let i = &x.issuance;
    let state = match (x.familiar, x.expired) {
        (_, true) => "expired   ".to_string(),
        (Some(f), _) => format!("{:<10}", f.as_str()),
        (None, _) => "UNFAMILIAR".to_string(),
    };
    let who = match &x.ca.operator {
        Some(op) => format!("{} (operated by {op})", x.ca.short()),
        None => x.ca.short().to_string(),
    };
    let sha = i.sha256.as_deref().map(|s| s.get(..16).unwrap_or(s));
    format!(
        "{state}  {}  {}  {}  until {}{}",
        sha.unwrap_or("(not downloaded)"),
        sanitize(&i.names.join(",")),
        sanitize(&who),
        i.not_after.map(rfc3339).unwrap_or_default(),
        if i.precert { "  (precertificate)" } else { "" }
    )
}

pub fn authorize(ctx: &Ctx, a: CtAuthorizeArgs) -> Result<Status> {
    let arg = a.cert.trim();
    let sha = if arg.len() == 64 && arg.chars().all(|c| c.is_ascii_hexdigit()) {
        arg.to_ascii_lowercase()
    } else {
        let path = std::path::Path::new(arg);
        let meta = std::fs::metadata(path).with_context(|| {
            format!("{arg}: neither a SHA-256 (64 hex digits) nor a readable file")
        })?;
        if meta.len() > 1024 * 1024 {
            return Err(anyhow!("{arg}: larger than 1 MiB"));
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {arg}"))?;
        let der = certwatch_engine::model::split_chain(&bytes)
            .map_err(|e| anyhow!("{arg}: {e}"))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("{arg}: no certificate"))?;
        certwatch_engine::model::parse_cert(&der)
            .map_err(|e| anyhow!("{arg}: {e}"))?
            .sha256
    };
    let mut store = ctx.store()?;
    let n = ct_watch::authorize(&mut store, &sha, "ct authorize", unix_now())?;
    super::out(&format!(
        "authorized {sha}{}",
        if n > 0 {
            format!(" ({n} recorded issuance(s) now familiar)")
        } else {
            String::new()
        }
    ))?;
    Ok(Status::Ok)
}
