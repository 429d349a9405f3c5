//! Naming the interceptor: which product probably made a non-public root,
//! from its names (data: `engine/data/interceptors.toml`), and whether the
//! user acknowledged that root as their network's proxy
//! (`certwatch accept-interceptor`).
//!
//! Only `local` and `untrusted` chains are looked at: a publicly trusted
//! chain is never "an interceptor" by name. Names are hints (anyone can call
//! a CA "Zscaler"); only an acknowledged root *key* changes a severity.

use serde::Deserialize;

use crate::check::{Analysis, EvidenceSource};
use crate::model::CertInfo;
use crate::pins::path::path_indices;
use crate::probe::{Probed, Site};
use crate::trust::TrustKind;
use crate::verdict::Evidence;

/// The shipped product list.
pub const INTERCEPTORS_TOML: &str = include_str!("../data/interceptors.toml");

/// One known interception product.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Display name.
    pub name: String,
    /// e.g. "antivirus", "corporate proxy".
    pub kind: String,
    /// Substrings of the CN.
    #[serde(default)]
    pub cn: Vec<String>,
    /// Substrings of the O.
    #[serde(default)]
    pub o: Vec<String>,
    /// Substrings of the whole DN (OU patterns are matched here too).
    #[serde(default)]
    pub ou: Vec<String>,
    /// Substrings of the whole DN.
    #[serde(default)]
    pub any: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductFile {
    product: Vec<Product>,
}

/// The names of one CA to match: CN, O and the whole DN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaNames {
    /// Common name.
    pub cn: Option<String>,
    /// Organisation.
    pub o: Option<String>,
    /// Whole distinguished name.
    pub dn: String,
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    !needle.is_empty() && hay.to_lowercase().contains(&needle.to_lowercase())
}

impl Product {
    /// Whether any pattern matches `n`.
    pub fn matches(&self, n: &CaNames) -> bool {
        let cn = n.cn.as_deref().unwrap_or("");
        let o = n.o.as_deref().unwrap_or("");
        self.cn.iter().any(|p| contains_ci(cn, p))
            || self.o.iter().any(|p| contains_ci(o, p))
            || self
                .ou
                .iter()
                .chain(&self.any)
                .any(|p| contains_ci(&n.dn, p))
    }
}

/// Parses a product list.
pub fn parse_products(src: &str) -> Result<Vec<Product>, String> {
    let f: ProductFile = toml::from_str(src).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::pins::line_of(src, s.start))
            .unwrap_or(0);
        format!("line {line}: {}", e.message().trim())
    })?;
    Ok(f.product)
}

/// The shipped products (a broken data file is caught by the tests).
pub fn shipped_products() -> Vec<Product> {
    parse_products(INTERCEPTORS_TOML).unwrap_or_default()
}

/// The first product matching any of `names`.
pub fn identify<'a>(products: &'a [Product], names: &[CaNames]) -> Option<&'a Product> {
    names
        .iter()
        .find_map(|n| products.iter().find(|p| p.matches(n)))
}

/// The CA names worth matching for a chain: the anchor (local), the issuer
/// of the top of the signature-linked path, and the leaf's issuer.
pub fn candidate_names(analysis: &Analysis) -> Vec<CaNames> {
    let mut out = Vec::new();
    if let Some(a) = &analysis.trust.anchor {
        out.push(CaNames {
            cn: Some(a.name.clone()),
            o: a.org.clone(),
            dn: a.subject.clone(),
        });
    }
    let issuer_of = |c: &CertInfo| CaNames {
        cn: c.issuer_cn.clone(),
        o: c.issuer_org.clone(),
        dn: c.issuer.clone(),
    };
    let path = path_indices(&analysis.chain);
    if let Some(top) = path.last().and_then(|&i| analysis.chain.get(i)) {
        out.push(issuer_of(top));
        if top.self_issued {
            out.push(CaNames {
                cn: top.subject_cn.clone(),
                o: top.subject_org.clone(),
                dn: top.subject.clone(),
            });
        }
    }
    if let Some(leaf) = analysis.chain.first() {
        let n = issuer_of(leaf);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Resolves a user's ROOT_SHA256 to the root's SPKI SHA-256 (base64):
/// base64 (optionally `sha256/`) is taken as the SPKI hash itself; 64 hex
/// digits are a certificate SHA-256, looked up in `roots` (DER). Returns the
/// SPKI hash and the root's name when it was found.
pub fn resolve_root(arg: &str, roots: &[Vec<u8>]) -> Result<(String, Option<String>), String> {
    let a = arg.trim();
    let is_hex = a.len() == 64 && a.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        let spki = crate::pins::parse_spki_hash(a)?;
        let name = roots
            .iter()
            .filter_map(|d| crate::model::parse_cert(d).ok())
            .find(|c| c.spki_sha256 == spki)
            .map(|c| c.display_name().to_string());
        return Ok((spki, name));
    }
    let want = a.to_ascii_lowercase();
    roots
        .iter()
        .filter_map(|d| crate::model::parse_cert(d).ok())
        .find(|c| c.sha256 == want)
        .map(|c| (c.spki_sha256.clone(), Some(c.display_name().to_string())))
        .ok_or_else(|| {
            format!("no local root has certificate SHA-256 {want}; give the root's SPKI SHA-256 (base64, shown as ca.root_spki_sha256 by `certwatch check --json`) instead")
        })
}

/// The operating system's root certificates (DER), for [`resolve_root`].
pub fn os_roots() -> Vec<Vec<u8>> {
    rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .map(|c| c.as_ref().to_vec())
        .collect()
}

/// An acknowledged interception root: SPKI SHA-256 (base64) and network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRoot {
    /// SHA-256 (base64) of the root SPKI.
    pub root_spki: String,
    /// Network name.
    pub network: String,
}

/// Fills [`Evidence::interceptor`] and [`Evidence::interceptor_accepted`].
#[derive(Debug, Clone, Default)]
pub struct InterceptorSource {
    products: Vec<Product>,
    accepted: Vec<AcceptedRoot>,
}

impl InterceptorSource {
    /// A source over `products` and the user's acknowledged roots.
    pub fn new(products: Vec<Product>, accepted: Vec<AcceptedRoot>) -> Self {
        InterceptorSource { products, accepted }
    }
}

impl EvidenceSource for InterceptorSource {
    fn gather(
        &self,
        _site: &Site,
        analysis: &Analysis,
        _probed: Option<&Probed>,
        _now: i64,
        evidence: &mut Evidence,
    ) {
        if analysis.trust.kind == TrustKind::Public {
            return;
        }
        if let Some(p) = identify(&self.products, &candidate_names(analysis)) {
            evidence.interceptor = Some(format!("{} ({})", p.name, p.kind));
        }
        // Only a validated local anchor can be acknowledged: its key is proven.
        if analysis.trust.kind == TrustKind::Local {
            if let Some(a) = &analysis.trust.anchor {
                if let Some(acc) = self.accepted.iter().find(|r| r.root_spki == a.spki_sha256) {
                    evidence.interceptor_accepted = Some(acc.network.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(cn: &str, o: &str, dn: &str) -> CaNames {
        CaNames {
            cn: (!cn.is_empty()).then(|| cn.to_string()),
            o: (!o.is_empty()).then(|| o.to_string()),
            dn: dn.to_string(),
        }
    }

    #[test]
    fn shipped_list_parses() {
        let p = parse_products(INTERCEPTORS_TOML).unwrap();
        assert!(p.len() >= 15);
        for want in [
            "mitmproxy",
            "Fiddler",
            "Charles",
            "Burp",
            "Zscaler",
            "Netskope",
            "Kaspersky",
            "Avast",
            "AVG",
            "ESET",
            "Bitdefender",
            "Sophos",
            "Fortinet",
            "Palo Alto",
            "Cisco Umbrella",
            "Blue Coat",
        ] {
            assert!(p.iter().any(|x| x.name.contains(want)), "{want} missing");
        }
    }

    #[test]
    fn identify_table() {
        let p = shipped_products();
        let cases = [
            (n("mitmproxy", "mitmproxy", "CN=mitmproxy, O=mitmproxy"), Some("mitmproxy")),
            (n("DO_NOT_TRUST_FiddlerRoot", "DO_NOT_TRUST", "CN=DO_NOT_TRUST_FiddlerRoot, O=DO_NOT_TRUST, OU=Created by http://www.fiddler2.com"), Some("Fiddler")),
            (n("Charles Proxy CA (1 Jan 2024, host)", "XK72 Ltd", ""), Some("Charles Proxy")),
            (n("PortSwigger CA", "PortSwigger", ""), Some("Burp Suite")),
            (n("Zscaler Intermediate Root CA (zscaler.net)", "Zscaler Inc.", ""), Some("Zscaler")),
            (n("ca.acme.goskope.com", "Netskope Inc", ""), Some("Netskope")),
            (n("Kaspersky Anti-Virus Personal Root Certificate", "", ""), Some("Kaspersky")),
            (n("Avast Web/Mail Shield Root", "", ""), Some("Avast")),
            (n("AVG Web/Mail Shield Root", "", ""), Some("AVG")),
            (n("ESET SSL Filter CA", "ESET, spol. s r. o.", ""), Some("ESET")),
            (n("Bitdefender Personal CA.Net-Defender", "Bitdefender", ""), Some("Bitdefender")),
            (n("FortiGate CA", "Fortinet", ""), Some("Fortinet FortiGate")),
            (n("Cisco Umbrella Root CA", "Cisco", ""), Some("Cisco Umbrella")),
            (n("Decryption CA", "Palo Alto Networks", ""), Some("Palo Alto Networks")),
            (n("Corp Root CA", "ACME Corp", "CN=Corp Root CA, O=ACME Corp"), None),
            (n("ISRG Root X1", "Internet Security Research Group", ""), None),
            (n("", "", ""), None),
        ];
        for (names, want) in cases {
            assert_eq!(
                identify(&p, std::slice::from_ref(&names)).map(|x| x.name.as_str()),
                want,
                "{names:?}"
            );
        }
    }

    #[test]
    fn bad_product_file() {
        let e = parse_products("[[product]]\nname = \"x\"\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("kind"), "{e}");
    }
}
