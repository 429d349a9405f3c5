//! Turns the global options into real objects: paths, settings, engine, store.
//!
//! Settings are resolved with the one precedence of [`certwatch_engine::settings`]:
//! built-in defaults < `config.toml` < `CERTWATCH_*` environment < flags.

use std::sync::Arc;

use anyhow::Result;
use certwatch_engine::check::Engine;
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::sanitize::sanitize;
use certwatch_engine::settings::{Layer, Settings, Source};
use certwatch_engine::store::Store;
use certwatch_engine::trust::Classifier;

use crate::args::Global;

/// Resolved global context.
pub struct Ctx {
    /// The global options as given.
    pub global: Global,
    /// Where files live.
    pub paths: Paths,
}

impl Ctx {
    /// Resolves paths.
    pub fn new(global: Global) -> Result<Ctx> {
        let paths = Paths::resolve(&ProcessEnv, global.db.clone())?;
        Ok(Ctx { global, paths })
    }

    /// The global flags as a settings layer.
    fn global_layer(&self) -> Layer {
        Layer {
            source: Source::Flags,
            roots: self.global.roots.clone(),
            local_roots: self.global.local_roots.clone(),
            log_lists: (!self.global.log_list.is_empty()).then(|| self.global.log_list.clone()),
            ccadb: self.global.ccadb.clone(),
            ..Layer::default()
        }
    }

    /// The settings: config.toml < environment < global flags < `flags`
    /// (the subcommand's own).
    pub fn settings(&self, flags: Layer) -> Result<Settings> {
        let config = certwatch_engine::config::load(&self.paths.config_file())
            .map_err(anyhow::Error::msg)?;
        let env = Layer::from_env(&ProcessEnv).map_err(anyhow::Error::msg)?;
        Ok(Settings::resolve(&[
            Layer::from_config(&config),
            env,
            self.global_layer(),
            flags,
        ]))
    }

    /// The engine for `settings`; setup warnings go to stderr.
    pub fn engine(&self, settings: &Settings, store: Option<&mut Store>) -> Result<Engine> {
        let (engine, warnings) = Engine::from_settings(settings, store, &self.paths.data_dir)?;
        for w in warnings {
            eprintln!("certwatch: {}", sanitize(&w));
        }
        Ok(engine)
    }

    /// The trust classifier of the resolved settings (roots).
    pub fn classifier(&self) -> Result<Arc<Classifier>> {
        let s = self.settings(Layer::default())?;
        Ok(Arc::new(certwatch_engine::check::classifier(&s)?))
    }

    /// The CCADB table of the resolved settings; warnings go to stderr.
    pub fn ccadb(&self) -> Result<Arc<certwatch_engine::ccadb::Table>> {
        let s = self.settings(Layer::default())?;
        let (table, _, warnings) =
            certwatch_engine::ccadb::source::in_use(s.ccadb.as_deref(), &self.paths.data_dir)
                .map_err(|e| anyhow::anyhow!("{}: {e}", s.origins.ccadb.name("ccadb")))?;
        for w in warnings {
            eprintln!("certwatch: {}", sanitize(&w));
        }
        Ok(table)
    }

    /// Opens the history store; reports a corrupt file that was moved aside.
    pub fn store(&self) -> Result<Store> {
        let s = Store::open(&self.paths.db)?;
        if let Some(aside) = &s.moved_aside {
            eprintln!(
                "certwatch: {} was not a valid database; moved it to {} and started a new history",
                self.paths.db.display(),
                aside.display()
            );
        }
        Ok(s)
    }
}
