//! `certwatch pins …` and `certwatch accept-interceptor`: the user's key pins
//! and acknowledged interception roots (the engine's pin and interceptor
//! evidence sources read them from the store).

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use certwatch_engine::check::{analyze, read_roots, unix_now};
use certwatch_engine::interceptor;
use certwatch_engine::model::{parse_chain, split_chain};
use certwatch_engine::pins::path::path_spkis;
use certwatch_engine::pins::{
    self, chromium, generate, parse_date_or_time, parse_spki_hash, Pin, PinCheck, PinDb, PinEntry,
    Pinset,
};
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::probe::Site;
use certwatch_engine::report::rfc3339;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::Layer;
use certwatch_engine::store::pins as user;
use certwatch_engine::store::Store;
use serde_json::json;

use crate::args::{
    AcceptInterceptorArgs, PinsAddArgs, PinsCheckArgs, PinsCommand, PinsExportArgs,
    PinsGenerateArgs, PinsImportArgs, PinsImportChromiumArgs, PinsListArgs,
};
use crate::ctx::Ctx;
use crate::exit::Status;

const YEAR: i64 = 365 * 86_400;

pub fn run(ctx: &Ctx, cmd: PinsCommand) -> Result<Status> {
    match cmd {
        PinsCommand::List(a) => list(ctx, a),
        PinsCommand::Add(a) => add(ctx, a),
        PinsCommand::Remove(a) => {
            let host = pins::normalize_host(&a.host).map_err(anyhow::Error::msg)?;
            let mut store = ctx.store()?;
            match user::remove(&mut store, &host)? {
                Some(e) => {
                    super::out(&format!(
                        "removed the pin entry for {}",
                        sanitize(&e.describe())
                    ))?;
                    Ok(Status::Ok)
                }
                None => bail!(
                    "{host}: no pin entry of yours (shipped pins cannot be removed; they expire)"
                ),
            }
        }
        PinsCommand::Check(a) => check(ctx, a),
        PinsCommand::Export(a) => export(ctx, a),
        PinsCommand::Import(a) => import(ctx, a),
        PinsCommand::ImportChromium(a) => import_chromium(ctx, a),
        PinsCommand::Generate(a) => generate_cmd(a),
    }
}

/// Opens the store only when it exists (offline commands never create one).
pub fn existing_store(ctx: &Ctx) -> Result<Option<Store>> {
    if ctx.paths.db.exists() {
        Ok(Some(ctx.store()?))
    } else {
        Ok(None)
    }
}

/// Shipped pins with the user's layered on top.
pub fn effective_pins(store: Option<&mut Store>) -> Result<PinDb> {
    Ok(certwatch_engine::pins::source::effective_pins(store)?)
}

fn list(ctx: &Ctx, a: PinsListArgs) -> Result<Status> {
    let mut store = existing_store(ctx)?;
    let mine = match store.as_mut() {
        Some(s) => user::load(s)?,
        None => PinDb::new(),
    };
    let mut rows: Vec<(&'static str, PinDb)> = Vec::new();
    if a.all {
        rows.push(("shipped", pins::shipped()));
    }
    rows.push(("user", mine));
    if a.json {
        for (origin, db) in &rows {
            for e in db.entries() {
                let set = db.pinset(&e.pinset);
                super::out(
                    &json!({
                        "origin": origin,
                        "host": e.host,
                        "include_subdomains": e.include_subdomains,
                        "pinset": e.pinset,
                        "expires": set.and_then(|s| s.expires).map(rfc3339),
                        "pins": set.map(|s| s.pins.iter().map(pin_json).collect::<Vec<_>>()),
                        "backup": set.map(|s| s.backup.iter().map(pin_json).collect::<Vec<_>>()),
                        "bad": set.map(|s| s.bad.iter().map(pin_json).collect::<Vec<_>>()),
                    })
                    .to_string(),
                )?;
            }
        }
        return Ok(Status::Ok);
    }
    let mut any = false;
    for (origin, db) in &rows {
        for e in db.entries() {
            any = true;
            let (n, exp) = db
                .pinset(&e.pinset)
                .map(|s| {
                    (
                        s.pins.len() + s.backup.len(),
                        s.expires
                            .map(|t| format!(", expires {}", &rfc3339(t)[..10]))
                            .unwrap_or_default(),
                    )
                })
                .unwrap_or((0, String::new()));
            super::out(&sanitize(&format!(
                "{:<40} {} ({n} keys{exp}) [{origin}]",
                e.describe(),
                e.pinset
            )))?;
        }
    }
    if !any {
        super::out("no pins of yours; see `certwatch pins add --help` (and `pins list --all` for the shipped ones)")?;
    }
    Ok(Status::Ok)
}

fn pin_json(p: &Pin) -> serde_json::Value {
    json!({"label": p.label, "spki_sha256": p.spki})
}

fn add(ctx: &Ctx, a: PinsAddArgs) -> Result<Status> {
    let host = pins::normalize_host(&a.host).map_err(anyhow::Error::msg)?;
    let now = unix_now();
    let expires = match &a.expires {
        Some(d) => Some(parse_date_or_time(d).map_err(|e| anyhow::anyhow!("--expires: {e}"))?),
        None => None,
    };
    let parse_all = |list: &[String], what: &str| -> Result<Vec<Pin>> {
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                parse_spki_hash(s)
                    .map(|spki| Pin {
                        spki,
                        label: format!("{what} {}", i + 1),
                    })
                    .map_err(|e| anyhow::anyhow!("--{what}: {e}"))
            })
            .collect()
    };
    let mut pins_list = parse_all(&a.spki, "spki")?;
    let backup = parse_all(&a.backup, "backup")?;
    if a.from_current {
        pins_list = current_root_pin(ctx, &host, &a)?;
    } else if pins_list.is_empty() {
        bail!("give --from-current or at least one --spki sha256/…");
    }
    let name = format!("user/{host}");
    let mut db = PinDb::new();
    db.insert_pinset(Pinset {
        name: name.clone(),
        pins: pins_list.clone(),
        backup,
        bad: Vec::new(),
        expires,
        description: Some(format!(
            "added by `certwatch pins add` on {}",
            &rfc3339(now)[..10]
        )),
    });
    let entry = PinEntry {
        host,
        include_subdomains: a.include_subdomains,
        pinset: name,
    };
    db.insert_entry(entry.clone());
    let mut store = ctx.store()?;
    user::save(&mut store, &db, "add", now)?;
    for p in &pins_list {
        super::out(&sanitize(&format!(
            "pinned {} to \"{}\" (sha256/{})",
            entry.describe(),
            p.label,
            p.spki
        )))?;
    }
    Ok(Status::Ok)
}

/// Connects and returns the anchor key (or, for an untrusted chain, the leaf key).
fn current_root_pin(ctx: &Ctx, host: &str, a: &PinsAddArgs) -> Result<Vec<Pin>> {
    let site = Site::parse(&format!("{host}:{}", a.port), 443)?;
    // The same probe settings (timeouts, proxy) and roots as `check`.
    let engine = ctx.engine(&ctx.settings(Layer::default())?, None)?;
    let probed = engine
        .probe(&site, a.connect.as_deref(), &ProcessEnv)
        .with_context(|| format!("cannot connect to {site}"))?;
    let an = analyze(
        &probed.chain,
        &site.host,
        unix_now(),
        &engine.classifier,
        &engine.ccadb,
    )?;
    Ok(match &an.trust.anchor {
        Some(anchor) => vec![Pin {
            spki: anchor.spki_sha256.clone(),
            label: anchor.name.clone(),
        }],
        None => {
            eprintln!(
                "certwatch: {}: the chain does not validate ({}); pinning the server's own key",
                site,
                an.trust
                    .errors
                    .first()
                    .map(String::as_str)
                    .unwrap_or("untrusted")
            );
            vec![Pin {
                spki: an.chain[0].spki_sha256.clone(),
                label: format!("{} (leaf key)", an.chain[0].display_name()),
            }]
        }
    })
}

fn check(ctx: &Ctx, a: PinsCheckArgs) -> Result<Status> {
    let host = pins::normalize_host(&a.host).map_err(anyhow::Error::msg)?;
    let bytes =
        std::fs::read(&a.chain).with_context(|| format!("cannot read {}", a.chain.display()))?;
    let ders = split_chain(&bytes).with_context(|| format!("{}", a.chain.display()))?;
    let now = match &a.at {
        Some(t) => parse_date_or_time(t).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        None => unix_now(),
    };
    let classifier = ctx.classifier()?;
    let ccadb = ctx.ccadb()?;
    let an = analyze(&ders, &host, now, &classifier, &ccadb)
        .with_context(|| format!("{}", a.chain.display()))?;
    let mut store = existing_store(ctx)?;
    let db = effective_pins(store.as_mut())?;
    let spkis = path_spkis(&an.chain, &an.trust);
    let r = db.check(&host, &spkis, now);
    let status = match r {
        PinCheck::Violation { .. } => Status::Critical,
        _ => Status::Ok,
    };
    if a.json {
        super::out(&pin_check_json(&r).to_string())?;
        return Ok(status);
    }
    let line = match &r {
        PinCheck::NotPinned => format!("{host}: not pinned"),
        PinCheck::Expired { entry, pinset } => format!(
            "{host}: not pinned (pinset {pinset} of entry {} has expired)",
            entry.describe()
        ),
        PinCheck::Ok {
            entry,
            pinset,
            matched,
            backup,
        } => format!(
            "{host}: OK, pinset {pinset} (entry {}) matches {}\"{}\" (sha256/{})",
            entry.describe(),
            if *backup { "backup key " } else { "" },
            matched.label,
            matched.spki
        ),
        PinCheck::Violation {
            entry,
            pinset,
            detail,
            ..
        } => format!(
            "{host}: PIN VIOLATION, pinset {pinset} (entry {}): {detail}",
            entry.describe()
        ),
    };
    super::out(&sanitize(&line))?;
    Ok(status)
}

/// JSON for a full pin check (`pins check --json`).
fn pin_check_json(r: &PinCheck) -> serde_json::Value {
    match r {
        PinCheck::NotPinned => {
            json!({"status": "not_pinned", "entry": null, "pinset": null, "matched_spki": null})
        }
        PinCheck::Expired { entry, pinset } => {
            json!({"status": "not_pinned", "entry": entry.host, "pinset": pinset, "matched_spki": null, "expired": true})
        }
        PinCheck::Ok {
            entry,
            pinset,
            matched,
            backup,
        } => {
            json!({"status": "ok", "entry": entry.host, "include_subdomains": entry.include_subdomains, "pinset": pinset, "matched_spki": matched.spki, "matched_label": matched.label, "backup": backup})
        }
        PinCheck::Violation {
            entry,
            pinset,
            detail,
            bad,
        } => {
            json!({"status": "violation", "entry": entry.host, "include_subdomains": entry.include_subdomains, "pinset": pinset, "matched_spki": null, "detail": detail, "bad_spki": bad.as_ref().map(|b| b.spki.clone())})
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    certwatch_engine::paths::ensure_private_file(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn export(ctx: &Ctx, a: PinsExportArgs) -> Result<Status> {
    let mut store = existing_store(ctx)?;
    let db = match store.as_mut() {
        Some(s) => user::load(s)?,
        None => PinDb::new(),
    };
    let text = db.to_toml();
    match &a.output {
        Some(p) => write_private(p, &text)?,
        None => {
            use std::io::Write as _;
            let mut o = std::io::stdout().lock();
            match o.write_all(text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
                _ => {}
            }
        }
    }
    Ok(Status::Ok)
}

fn report_diags(file: &Path, diags: &[pins::Diagnostic]) {
    for d in diags {
        let at = if d.line > 0 {
            format!("{}:{}", file.display(), d.line)
        } else {
            file.display().to_string()
        };
        eprintln!("certwatch: {at}: {}", sanitize(&d.message));
    }
}

fn import(ctx: &Ctx, a: PinsImportArgs) -> Result<Status> {
    let src = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let (db, diags) = pins::parse_toml(&src);
    report_diags(&a.file, &diags);
    if db.is_empty() {
        bail!("{}: nothing to import", a.file.display());
    }
    let mut store = ctx.store()?;
    let (s, e) = user::save(&mut store, &db, "import", unix_now())?;
    super::out(&format!(
        "imported {s} pinsets and {e} entries from {}",
        a.file.display()
    ))?;
    Ok(if diags.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    })
}

fn import_chromium(ctx: &Ctx, a: PinsImportChromiumArgs) -> Result<Status> {
    let src = std::fs::read_to_string(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let names = match &a.pins {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            let (names, diags) = chromium::parse_pins_file(&text);
            report_diags(p, &diags);
            Some(names)
        }
        None => None,
    };
    let now = unix_now();
    let expires = match a.expires.as_deref() {
        Some("never") => None,
        Some(d) => Some(parse_date_or_time(d).map_err(|e| anyhow::anyhow!("--expires: {e}"))?),
        None => Some(now + YEAR),
    };
    let (db, diags) = chromium::import(&src, names.as_ref(), expires)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.file.display()))?;
    report_diags(&a.file, &diags);
    if db.is_empty() {
        bail!("{}: no pinsets could be imported", a.file.display());
    }
    let mut store = ctx.store()?;
    let (s, e) = user::save(&mut store, &db, "chromium", now)?;
    super::out(&format!(
        "imported {s} pinsets and {e} entries from {}{}",
        a.file.display(),
        expires
            .map(|t| format!(" (enforced until {})", &rfc3339(t)[..10]))
            .unwrap_or_default()
    ))?;
    Ok(if diags.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    })
}

fn generate_cmd(a: PinsGenerateArgs) -> Result<Status> {
    let spec = std::fs::read_to_string(&a.spec)
        .with_context(|| format!("cannot read {}", a.spec.display()))?;
    let pem = std::fs::read_to_string(&a.from_roots)
        .with_context(|| format!("cannot read {}", a.from_roots.display()))?;
    let (ders, errs) = generate::pem_bundle(&pem);
    if let Some(e) = errs.first() {
        bail!("{}: {e}", a.from_roots.display());
    }
    let roots = parse_chain(&ders)
        .map_err(|(i, e)| anyhow::anyhow!("{}: certificate #{i}: {e}", a.from_roots.display()))?;
    let db = generate::generate(&spec, &roots)
        .map_err(|errs| anyhow::anyhow!("{}: {}", a.spec.display(), errs.join("; ")))?;
    let roots_name = a
        .from_roots
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec_name = a
        .spec
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = format!(
        "# GENERATED by `certwatch pins generate --spec {spec_name} --from-roots {roots_name}`.\n# Do not edit: change the spec and regenerate (see pinsets/README.md).\n# roots file SHA-256: {}\n{}",
        certwatch_engine::model::sha256_hex(&std::fs::read(&a.from_roots)?),
        db.to_toml().trim_start_matches("# certwatch pin file (see pinsets/README.md)\n")
    );
    match &a.output {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => {
            use std::io::Write as _;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(Status::Ok)
}

pub fn accept_interceptor(ctx: &Ctx, a: AcceptInterceptorArgs) -> Result<Status> {
    let mut store = ctx.store()?;
    if a.list {
        let all = user::accepted_interceptors(&store)?;
        if all.is_empty() {
            super::out("no acknowledged interception roots")?;
        }
        for r in all {
            super::out(&sanitize(&format!(
                "sha256/{}  network \"{}\"{}  since {}",
                r.root_spki,
                r.network,
                r.label
                    .map(|l| format!("  root \"{l}\""))
                    .unwrap_or_default(),
                &rfc3339(r.at)[..10]
            )))?;
        }
        return Ok(Status::Ok);
    }
    if let Some(f) = &a.forget {
        let spki = parse_spki_hash(f).map_err(anyhow::Error::msg)?;
        if user::forget_interceptor(&mut store, &spki)? {
            super::out(&format!("forgot sha256/{spki}"))?;
            return Ok(Status::Ok);
        }
        bail!("sha256/{spki} was not acknowledged");
    }
    let (Some(root), Some(network)) = (&a.root, &a.network) else {
        bail!("give ROOT_SHA256 and --network NAME");
    };
    let network = network.trim();
    if network.is_empty() || network.len() > 100 || network.chars().any(char::is_control) {
        bail!("--network must be 1–100 printable characters");
    }
    let roots = match ctx.settings(Layer::default())?.local_roots {
        Some(p) => read_roots(&p)?,
        None => interceptor::os_roots(),
    };
    let (spki, label) = interceptor::resolve_root(root, &roots).map_err(anyhow::Error::msg)?;
    user::accept_interceptor(&mut store, &spki, network, label.as_deref(), unix_now())?;
    super::out(&sanitize(&format!(
        "acknowledged root {}sha256/{spki} as the interception proxy of network \"{network}\": chains through it are reported as info; any other local root still alerts",
        label.map(|l| format!("\"{l}\" ")).unwrap_or_default()
    )))?;
    Ok(Status::Ok)
}
