//! `certwatch history`: a site's timeline.

use anyhow::Result;
use certwatch_engine::probe::Site;
use certwatch_engine::report::{rfc3339, timeline_json};
use certwatch_engine::sanitize::sanitize;

use crate::args::HistoryArgs;
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(ctx: &Ctx, a: HistoryArgs) -> Result<Status> {
    let site = Site::parse(&a.host, 443)?;
    let store = ctx.store()?;
    let timeline = store.timeline(&site)?;
    if a.json {
        super::out(&timeline_json(&site, &timeline).to_string())?;
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
