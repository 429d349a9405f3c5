//! Turns the global options into real objects: paths, roots, store.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use certwatch_engine::model::split_chain;
use certwatch_engine::paths::Paths;
use certwatch_engine::probe::proxy::ProcessEnv;
use certwatch_engine::store::Store;
use certwatch_engine::trust::{Classifier, LocalRoots};

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

    /// Builds the trust classifier from `--roots` / `--local-roots`.
    pub fn classifier(&self) -> Result<Arc<Classifier>> {
        let public = match &self.global.roots {
            Some(p) => Some(read_roots(p)?),
            None => None,
        };
        let local = match &self.global.local_roots {
            Some(p) => LocalRoots::Given(read_roots(p)?),
            None => LocalRoots::Os,
        };
        let c = Classifier::new(public.as_deref(), local)?;
        Ok(Arc::new(c))
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

/// Reads a PEM/DER file of root certificates. An empty file is an empty set
/// (`--local-roots /dev/null` disables the OS store).
pub fn read_roots(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    split_chain(&bytes).with_context(|| format!("{}", path.display()))
}
