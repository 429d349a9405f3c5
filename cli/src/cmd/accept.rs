//! `certwatch accept`: the user confirms the site's current CA.

use anyhow::{bail, Result};
use certwatch_engine::check::unix_now;
use certwatch_engine::probe::Site;
use certwatch_engine::sanitize::sanitize;

use crate::args::AcceptArgs;
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(ctx: &Ctx, a: AcceptArgs) -> Result<Status> {
    let site = Site::parse(&a.host, 443)?;
    let mut store = ctx.store()?;
    match store.accept_latest(&site, unix_now())? {
        Some(ca) => {
            super::out(&format!(
                "{}: accepted {} as a CA for this site",
                sanitize(&site.to_string()),
                sanitize(&ca.describe())
            ))?;
            Ok(Status::Ok)
        }
        None => bail!(
            "{}: never checked; run certwatch check {} first",
            site,
            site
        ),
    }
}
