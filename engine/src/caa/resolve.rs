//! The CAA resolver: the DNS edge of [`super`]. Looks up the relevant CAA
//! record set (RFC 8659 climbing) with hickory-resolver, one per-call
//! current-thread runtime, a per-query timeout, no cache.

use super::{issuer_domains, judge_set, relevant_set, worth_looking_up, CaaConfig, CaaError};
use crate::ca::CaIdentity;
use crate::verdict::CaaEvidence;

/// Looks up `host`'s relevant CAA set and judges `ca` against it.
pub fn evaluate(
    host: &str,
    ca: &CaIdentity,
    wildcard: bool,
    cfg: &CaaConfig,
) -> Result<CaaEvidence, CaaError> {
    if !worth_looking_up(host, cfg.dns_server.is_some()) {
        return Err(CaaError::Skipped(host.to_string()));
    }
    let Some(domains) = issuer_domains(&cfg.ca_domains, ca) else {
        return Err(CaaError::UnknownCa(ca.short().to_string()));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CaaError::Dns {
            name: host.to_string(),
            detail: e.to_string(),
        })?;
    let resolver = dns::resolver(cfg).map_err(|detail| CaaError::Dns {
        name: host.to_string(),
        detail,
    })?;
    let set = relevant_set(host, |name| {
        rt.block_on(async {
            match tokio::time::timeout(cfg.timeout, dns::caa_at(&resolver, name)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {:?}", cfg.timeout)),
            }
        })
        .map_err(|detail| CaaError::Dns {
            name: name.to_string(),
            detail,
        })
    })?;
    Ok(match set {
        None => CaaEvidence::None,
        Some((domain, records)) => judge_set(&domain, &records, &domains, wildcard),
    })
}

mod dns {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::{RData, RecordType};
    use hickory_resolver::{Resolver, TokioResolver};

    use super::super::{CaaConfig, CaaRecord};

    pub(super) fn resolver(cfg: &CaaConfig) -> Result<TokioResolver, String> {
        let mut b = match cfg.dns_server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp(addr.ip());
                for c in ns.connections.iter_mut() {
                    c.port = addr.port();
                }
                let rc = ResolverConfig::from_parts(None, vec![], vec![ns]);
                Resolver::builder_with_config(rc, TokioRuntimeProvider::default())
            }
            None => TokioResolver::builder_tokio().map_err(|e| e.to_string())?,
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = cfg.timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        *b.options_mut() = opts;
        b.build().map_err(|e| e.to_string())
    }

    pub(super) async fn caa_at(r: &TokioResolver, name: &str) -> Result<Vec<CaaRecord>, String> {
        let fqdn = format!("{name}.");
        match r.lookup(fqdn.as_str(), RecordType::CAA).await {
            Ok(l) => Ok(l
                .answers()
                .iter()
                .filter_map(|rec| match &rec.data {
                    RData::CAA(c) => Some(CaaRecord {
                        flags: c.flags(),
                        tag: c.tag.to_ascii_lowercase(),
                        value: String::from_utf8_lossy(&c.value).into_owned(),
                    }),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}
