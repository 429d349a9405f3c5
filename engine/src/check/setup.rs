//! [`Engine::from_settings`]: the one place that assembles a check's trust
//! roots, probe settings, evidence sources and enrichers from [`Settings`].
//! Front ends resolve their settings (defaults < config.toml < environment <
//! flags) and call it; none of them builds an evidence source itself.

use std::path::Path;
use std::sync::Arc;

use super::{Engine, Enricher, EvidenceSource};
use crate::caa::{CaaConfig, CaaEnricher};
use crate::ct::{cache, CtEvidenceSource};
use crate::model::split_chain;
use crate::probe::ProbeConfig;
use crate::settings::{Settings, Source};
use crate::store::Store;
use crate::trust::{Classifier, LocalRoots};

/// Why an engine could not be built (a bad setting: exit code 3).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Reads a PEM/DER file of root certificates. An empty file is an empty set
/// (`--local-roots /dev/null` disables the OS store).
pub fn read_roots(path: &Path) -> Result<Vec<Vec<u8>>, SetupError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SetupError(format!("cannot read {}: {e}", path.display())))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    split_chain(&bytes).map_err(|e| SetupError(format!("{}: {e}", path.display())))
}

/// [`read_roots`] for a setting, its error naming where it was set
/// (`CERTWATCH_ROOTS=/x.pem: …`).
fn read_setting(path: &Path, from: Source, key: &str) -> Result<Vec<Vec<u8>>, SetupError> {
    read_roots(path).map_err(|e| SetupError(format!("{}: {e}", from.name(key))))
}

/// The trust classifier of `s` (its public and local roots).
pub fn classifier(s: &Settings) -> Result<Classifier, SetupError> {
    let public = s
        .roots
        .as_deref()
        .map(|p| read_setting(p, s.origins.roots, "roots"))
        .transpose()?;
    let local = match &s.local_roots {
        Some(p) => LocalRoots::Given(read_setting(p, s.origins.local_roots, "local_roots")?),
        None => LocalRoots::Os,
    };
    Classifier::new(public.as_deref(), local).map_err(|e| match &s.roots {
        Some(p) => SetupError(format!(
            "{} {}: {e}",
            s.origins.roots.name("roots"),
            p.display()
        )),
        None => SetupError(format!("built-in roots: {e}")),
    })
}

/// Whether the built-in CT log list may judge: only with the built-in
/// public roots. It lists the logs Chrome trusts for the public web PKI;
/// when `roots` replaces those roots (a private or test PKI), CT evidence
/// comes from `log_lists` or a cached list (`certwatch ct update`) only.
pub fn builtin_ct_list(s: &Settings) -> bool {
    s.roots.is_none()
}

impl Engine {
    /// Builds the engine of a run from its settings. `store` supplies the
    /// user's pins and acknowledged interceptors (none: shipped data only);
    /// `data_dir` holds the cached CT log list.
    ///
    /// CT: the configured `log_lists`, else the newer of the cached list
    /// and the built-in one (see [`builtin_ct_list`]). An explicitly
    /// configured log list that cannot be used is an error; a bad cached
    /// list is a warning (returned, for the front end to show) and the
    /// built-in list is used instead.
    pub fn from_settings(
        s: &Settings,
        store: Option<&mut Store>,
        data_dir: &Path,
    ) -> Result<(Engine, Vec<String>), SetupError> {
        let mut warnings = Vec::new();
        let classifier = classifier(s)?;
        let mut evidence: Vec<Arc<dyn EvidenceSource>> = Vec::new();
        let mut ct = None;
        match cache::load(&s.log_lists, data_dir, builtin_ct_list(s)) {
            Ok(in_use) => {
                if let Some(w) = in_use.warning {
                    warnings.push(format!("{w} (run `certwatch ct update`)"));
                }
                if let Some(list) = in_use.list {
                    let source = Arc::new(CtEvidenceSource::new(Arc::new(list)));
                    evidence.push(source.clone());
                    ct = Some(source);
                }
            }
            Err(e) => {
                return Err(SetupError(format!(
                    "{}: {e}",
                    s.origins.log_lists.name("log_lists")
                )))
            }
        }
        let (ccadb, _, ccadb_warnings) = crate::ccadb::source::in_use(s.ccadb.as_deref(), data_dir)
            .map_err(|e| SetupError(format!("{}: {e}", s.origins.ccadb.name("ccadb"))))?;
        warnings.extend(ccadb_warnings);
        let mut enrichers: Vec<Arc<dyn Enricher>> = Vec::new();
        if s.caa {
            enrichers.push(Arc::new(CaaEnricher::new(CaaConfig {
                dns_server: s.dns_server,
                ..CaaConfig::default()
            })));
        }
        let mut store = store;
        if let Some(f) = &s.fleet {
            let fleet = crate::fleet::enrich::FleetEnricher::new(f)
                .map_err(|e| SetupError(format!("fleet: {e}")))?;
            enrichers.push(Arc::new(fleet));
        }
        // The outbox follows the settings (also off again after a reload
        // without `fleet_url`).
        if let Some(st) = store.as_deref_mut() {
            st.set_fleet_outbox(s.fleet.is_some());
        }
        let mut engine = Engine {
            classifier: Arc::new(classifier),
            ccadb,
            probe: ProbeConfig {
                connect_timeout: s.connect_timeout,
                handshake_timeout: s.handshake_timeout,
                connect_to: None,
                proxy: None,
                starttls: None,
            },
            user_evidence: Vec::new(),
            evidence,
            ct,
            enrichers,
            expiry: Some(s.expiry),
        };
        engine
            .reload_user(store)
            .map_err(|e| SetupError(e.to_string()))?;
        Ok((engine, warnings))
    }
}
