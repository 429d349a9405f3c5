//! Comparing the chain the browser received with certwatch's own probe.

use crate::ca::CaIdentity;
use crate::trust::TrustKind;

/// Why the browser's chain and the host's probe disagree, if they do.
///
/// - Different CA owners (see [`CaIdentity::same_owner`]): someone between
///   the browser and the site, or between the host and the site, presents
///   another CA.
/// - The browser says its root is not built in while the host's probe
///   validates to the built-in public set: the browser's connection is
///   intercepted by a locally installed root (enterprise proxy, antivirus).
///   Only meaningful when the host uses the built-in Mozilla set
///   (`builtin_public_set`): with `CERTWATCH_ROOTS` "public" means the given
///   roots, which are never built into the browser.
pub fn chain_difference(
    browser: &CaIdentity,
    probe: &CaIdentity,
    is_builtin_root: Option<bool>,
    builtin_public_set: bool,
) -> Option<String> {
    if !browser.same_owner(probe) {
        return Some(format!(
            "the browser got {} but certwatch's connection got {}",
            browser.describe(),
            probe.describe()
        ));
    }
    if builtin_public_set && is_builtin_root == Some(false) && probe.trust == TrustKind::Public {
        return Some(format!(
            "the browser's root {} is not built in, but certwatch's connection validates to the public root {}",
            browser.root, probe.root
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ccadb::disclosure::OperatorSource;

    fn ca(owner: &str, spki: &str, trust: TrustKind) -> CaIdentity {
        CaIdentity {
            owner: owner.into(),
            root: format!("{owner} Root"),
            root_spki: spki.into(),
            issuer_org: Some(owner.into()),
            intermediate: format!("{owner} R1"),
            intermediate_spki: None,
            trust,
            operator: (trust == TrustKind::Public).then(|| owner.to_string()),
            operator_source: OperatorSource::CcadbIntermediate,
            ca_owner: None,
        }
    }

    #[test]
    fn table() {
        use TrustKind::*;
        let le = ca("Let's Encrypt", "k1", Public);
        let le2 = ca("Let's Encrypt", "k2", Public);
        let dc = ca("DigiCert", "k3", Public);
        let proxy = ca("Let's Encrypt", "k9", Local);
        let cases = [
            ("same", &le, &le, None, true, false),
            ("same owner, other root", &le2, &le, Some(true), true, false),
            ("other owner", &dc, &le, None, true, true),
            (
                "forged owner under local root",
                &proxy,
                &le,
                None,
                true,
                true,
            ),
            ("not built in vs public", &le, &le, Some(false), true, true),
            (
                "not built in, test roots",
                &le,
                &le,
                Some(false),
                false,
                false,
            ),
            ("built in", &le, &le, Some(true), true, false),
        ];
        for (name, b, p, builtin, set, want) in cases {
            assert_eq!(
                chain_difference(b, p, builtin, set).is_some(),
                want,
                "{name}"
            );
        }
    }
}
