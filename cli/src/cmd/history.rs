//! `certwatch history`: a site's timeline.

use anyhow::Result;
use certwatch_engine::probe::Site;
use certwatch_engine::report::{ca_json, rfc3339};
use certwatch_engine::sanitize::sanitize;
use serde_json::json;

use crate::args::HistoryArgs;
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(ctx: &Ctx, a: HistoryArgs) -> Result<Status> {
    let site = Site::parse(&a.host, 443)?;
    let store = ctx.store()?;
    let timeline = store.timeline(&site)?;
    if a.json {
        let entries: Vec<_> = timeline
            .iter()
            .map(|e| {
                json!({
                    "first_seen": rfc3339(e.sighting.first_seen),
                    "last_seen": rfc3339(e.sighting.last_seen),
                    "count": e.count,
                    "leaf_sha256": e.sighting.leaf_sha256,
                    "leaf_spki_sha256": e.sighting.leaf_spki,
                    "leaf_subject": e.leaf_subject,
                    "leaf_not_before": rfc3339(e.leaf_not_before),
                    "leaf_not_after": rfc3339(e.sighting.leaf_not_after),
                    "ca": ca_json(&e.sighting.ca),
                    "severity": e.severity.as_str(),
                    "reasons": serde_json::from_str::<serde_json::Value>(&e.reasons_json).unwrap_or_default(),
                })
            })
            .collect();
        super::out(
            &json!({"host": site.host, "port": site.port, "sightings": entries}).to_string(),
        )?;
        return Ok(Status::Ok);
    }
    if timeline.is_empty() {
        super::out(&format!("{}: never checked", sanitize(&site.to_string())))?;
        return Ok(Status::Ok);
    }
    super::out(&format!(
        "{}: {} distinct certificate(s)",
        sanitize(&site.to_string()),
        timeline.len()
    ))?;
    for e in &timeline {
        super::out(&format!(
            "  {} → {}  ×{:<5} {:<8} {}  leaf {}… (expires {})",
            &rfc3339(e.sighting.first_seen)[..10],
            &rfc3339(e.sighting.last_seen)[..10],
            e.count,
            e.severity.as_str(),
            sanitize(&e.sighting.ca.describe()),
            &e.sighting.leaf_sha256[..12],
            &rfc3339(e.sighting.leaf_not_after)[..10],
        ))?;
    }
    Ok(Status::Ok)
}
