//! `certwatch ccadb`: the CCADB table that says which company operates each
//! public CA (update the cache, show the table in use).

use anyhow::{anyhow, Result};
use certwatch_engine::ccadb::source::{self, Origin};
use certwatch_engine::ccadb::{compact, parse_date, Table};
use certwatch_engine::check::read_roots;
use certwatch_engine::ct::fetch::HttpClient;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::Layer;
use serde_json::json;

use crate::args::{CcadbCommand, CcadbUpdateArgs, CtShowArgs};
use crate::ctx::Ctx;
use crate::exit::Status;

pub fn run(ctx: &Ctx, c: CcadbCommand) -> Result<Status> {
    match c {
        CcadbCommand::Update(a) => update(ctx, a),
        CcadbCommand::Show(a) => show(ctx, a),
    }
}

fn update(ctx: &Ctx, a: CcadbUpdateArgs) -> Result<Status> {
    let date = match a.date.as_deref() {
        Some(d) => Some(parse_date(d).ok_or_else(|| anyhow!("--date {d:?}: expected YYYY-MM-DD"))?),
        None => None,
    };
    let built = match &a.from {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
            let snapshot = Table::snapshot().ok();
            let mut b = source::build(&path.display().to_string(), &bytes, date, snapshot.as_ref())
                .map_err(anyhow::Error::msg)?;
            // The file's name, not where it lies: the same input gives the same table.
            if let Some(name) = path.file_name() {
                if !compact::is_compact(&String::from_utf8_lossy(&bytes[..bytes.len().min(64)])) {
                    b.table.source = name.to_string_lossy().into_owned();
                }
            }
            b
        }
        None => {
            let url = a.url.as_deref().unwrap_or(source::DEFAULT_URL);
            let roots = match ctx.settings(Layer::default())?.roots {
                Some(r) => Some(read_roots(&r)?),
                None => None,
            };
            let http = HttpClient::new(roots.as_deref(), std::time::Duration::from_secs(120))
                .map_err(|e| anyhow!("{e}"))?;
            let mut b = source::download(url, &http, certwatch_engine::check::unix_now())
                .map_err(anyhow::Error::msg)?;
            if let Some(d) = date {
                b.table.date = d;
            }
            b
        }
    };
    for s in &built.skipped {
        eprintln!("certwatch: {}", sanitize(s));
    }
    let t = &built.table;
    let dest = match &a.out {
        Some(out) => {
            certwatch_engine::paths::write_private_atomic(out, compact::write(t).as_bytes())
                .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
            out.clone()
        }
        None => source::install(&ctx.paths.data_dir, t).map_err(anyhow::Error::msg)?,
    };
    let (roots, inter, ops) = t.counts();
    super::out(&format!(
        "CCADB table from {}: {} records ({roots} roots, {inter} intermediates, {ops} operators, {} with keys), dated {}, {} rows skipped; written to {}",
        sanitize(&t.source),
        t.len(),
        t.keyed(),
        t.date_str(),
        built.skipped.len(),
        dest.display()
    ))?;
    Ok(Status::Ok)
}

fn show(ctx: &Ctx, a: CtShowArgs) -> Result<Status> {
    let settings = ctx.settings(Layer::default())?;
    let (table, origin, warnings) = source::in_use(settings.ccadb.as_deref(), &ctx.paths.data_dir)
        .map_err(|e| anyhow!("{}: {e}", settings.origins.ccadb.name("ccadb")))?;
    for w in warnings {
        eprintln!("certwatch: {}", sanitize(&w));
    }
    let (roots, inter, ops) = table.counts();
    let origin_name = match &origin {
        Origin::Embedded => "embedded",
        Origin::Cache(_) => "cache",
        Origin::File(_) => "file",
    };
    if a.json {
        super::out(
            &json!({
                "origin": origin_name,
                "path": match &origin { Origin::Cache(p) | Origin::File(p) => Some(p.display().to_string()), Origin::Embedded => None },
                "source": table.source,
                "date": table.date_str(),
                "input_sha256": table.input_sha256,
                "records": table.len(),
                "roots": roots,
                "intermediates": inter,
                "operators": ops,
                "keyed": table.keyed(),
            })
            .to_string(),
        )?;
    } else {
        super::out(&format!(
            "CCADB table: {} ({}), dated {}: {} records ({roots} roots, {inter} intermediates), {ops} operators",
            origin.describe(),
            sanitize(&table.source),
            table.date_str(),
            table.len()
        ))?;
    }
    Ok(Status::Ok)
}
