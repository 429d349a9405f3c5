//! The corpus's CA world: public CAs shaped like real ones (with their
//! CCADB disclosures), local roots like interception products, and the
//! test CT logs.

use std::collections::HashMap;

use crate::ctlog::{list_json, TestLog};
use crate::{ccadb_csv, Ca, Disclosure, TestEnv};

/// The PKI every scenario draws from: public CAs shaped like real ones, and
/// local roots like interception products.
pub struct World {
    pub(super) cas: HashMap<String, Ca>,
    pub(super) logs: [TestLog; 3],
    /// Roots in the public set.
    pub public: Vec<String>,
    /// Roots in the local set.
    pub local: Vec<String>,
}

impl World {
    /// Builds the world (a dozen ECDSA CAs: milliseconds).
    pub fn new() -> World {
        let mut cas = HashMap::new();
        let add_root = |id: &str, cn: &str, org: &str, cas: &mut HashMap<String, Ca>| {
            cas.insert(id.to_string(), Ca::root(cn, org));
        };
        let roots = [
            ("LE", "ISRG Root X1", "Internet Security Research Group"),
            ("LEX2", "ISRG Root X2", "Internet Security Research Group"),
            ("DC", "DigiCert Global Root G2", "DigiCert Inc"),
            ("GTS", "GTS Root R1", "Google Trust Services LLC"),
            (
                "SEC",
                "USERTrust ECC Certification Authority",
                "The USERTRUST Network",
            ),
            ("ROGUE", "Rogue Root CA", "Rogue Trust Ltd"),
            ("LEY", "ISRG Root YR", "ISRG"),
            ("GS", "GlobalSign Root CA", "GlobalSign nv-sa"),
            ("AMZ", "Amazon Root CA 1", "Amazon"),
            ("CORP", "Zscaler Root CA", "Zscaler Inc."),
            ("AV", "Avast Web/Mail Shield Root", "Avast"),
            ("MITM", "mitmproxy", "mitmproxy"),
            ("FORGE", "ISRG Root X1", "Internet Security Research Group"),
        ];
        for (id, cn, org) in roots {
            add_root(id, cn, org, &mut cas);
        }
        let inters = [
            ("LE/R10", "LE", "R10", "Let's Encrypt"),
            ("LE/R11", "LE", "R11", "Let's Encrypt"),
            ("LEX2/E5", "LEX2", "E5", "Let's Encrypt"),
            ("LEX2/E6", "LEX2", "E6", "Let's Encrypt"),
            (
                "DC/G2",
                "DC",
                "DigiCert Global G2 TLS RSA SHA256 2020 CA1",
                "DigiCert Inc",
            ),
            ("DC/EV", "DC", "DigiCert EV RSA CA G2", "DigiCert Inc"),
            ("GTS/WR2", "GTS", "WR2", "Google Trust Services"),
            ("GTS/WE1", "GTS", "WE1", "Google Trust Services"),
            (
                "SEC/DV",
                "SEC",
                "Sectigo ECC Domain Validation Secure Server CA",
                "Sectigo Limited",
            ),
            ("ROGUE/TLS", "ROGUE", "Rogue TLS CA", "Rogue Trust Ltd"),
            // A public CA copying Let's Encrypt's names: a plausible new CN
            // (disclosed by the rogue CA as its own) and an existing one
            // (not disclosed at all).
            ("ROGUE/R14", "ROGUE", "R14", "Let's Encrypt"),
            ("ROGUE/R11", "ROGUE", "R11", "Let's Encrypt"),
            // Let's Encrypt Gen Y.
            ("LEY/YR1", "LEY", "YR1", "Let's Encrypt"),
            ("LEY/YR2", "LEY", "YR2", "Let's Encrypt"),
            // Externally operated subordinate CAs: Apple's under DigiCert.
            (
                "DC/APPLE1",
                "DC",
                "Apple Public EV Server RSA CA 1 - G1",
                "Apple Inc.",
            ),
            (
                "DC/APPLE2",
                "DC",
                "Apple Public Server RSA CA 12 - G1",
                "Apple Inc.",
            ),
            // A Google root that is not in the public set, cross-signed by
            // GlobalSign: the path ends at GlobalSign's root.
            ("GS/GTSR4", "GS", "GTS Root R4", "Google Trust Services LLC"),
            // Amazon's CAs: M02 run by DigiCert for Amazon, S06 Amazon's own.
            ("AMZ/M02", "AMZ", "Amazon RSA 2048 M02", "Amazon"),
            ("AMZ/S06", "AMZ", "Amazon RSA 2048 S06", "Amazon"),
            (
                "CORP/PROXY",
                "CORP",
                "Zscaler Intermediate Root CA",
                "Zscaler Inc.",
            ),
            // Same names as Let's Encrypt's, different keys, under a look-alike local root.
            ("FORGE/R10", "FORGE", "R10", "Let's Encrypt"),
        ];
        for (id, parent, cn, org) in inters {
            let ca = cas[parent].intermediate(cn, org);
            cas.insert(id.to_string(), ca);
        }
        let wr4 = cas["GS/GTSR4"].intermediate("WR4", "Google Trust Services");
        cas.insert("GS/GTSR4/WR4".to_string(), wr4);
        World {
            cas,
            logs: [TestLog::new(), TestLog::new(), TestLog::new()],
            public: [
                "LE", "LEX2", "DC", "GTS", "SEC", "ROGUE", "LEY", "GS", "AMZ",
            ]
            .map(String::from)
            .to_vec(),
            local: ["CORP", "AV", "MITM", "FORGE"].map(String::from).to_vec(),
        }
    }

    pub(super) fn ca(&self, id: &str) -> Option<&Ca> {
        self.cas.get(id)
    }

    pub(super) fn env(&self) -> (TestEnv, std::path::PathBuf) {
        let public: Vec<&Ca> = self.public.iter().map(|id| &self.cas[id]).collect();
        let local: Vec<&Ca> = self.local.iter().map(|id| &self.cas[id]).collect();
        let env = TestEnv::new().public_roots(&public).local(&local);
        env.ccadb(&ccadb_csv(&self.disclosures(), "2026-08-22"));
        let list = env.dir.path().join("log_list.json");
        let json = list_json(&[
            (&self.logs[0], "Operator A"),
            (&self.logs[1], "Operator B"),
            (&self.logs[2], "Operator A"),
        ]);
        std::fs::write(&list, json).unwrap();
        (env, list)
    }

    /// What CCADB discloses about the public CAs: every one of them but
    /// `ROGUE/R11`, with the owners real CCADB names (Apple's CAs under
    /// DigiCert are Apple's; the GlobalSign cross-sign is Google's).
    fn disclosures(&self) -> Vec<Disclosure<'_>> {
        let isrg = "Internet Security Research Group";
        let gts = "Google Trust Services LLC";
        let roots = [
            ("LE", isrg),
            ("LEX2", isrg),
            ("LEY", isrg),
            ("DC", "DigiCert"),
            ("GTS", gts),
            ("SEC", "Sectigo"),
            ("ROGUE", "Rogue State CA"),
            ("GS", "GlobalSign nv-sa"),
            ("AMZ", "Amazon Trust Services"),
        ];
        let mut out: Vec<Disclosure<'_>> = roots
            .iter()
            .map(|(id, owner)| Disclosure::root(&self.cas[*id], owner))
            .collect();
        let inters = [
            ("LE/R10", isrg, None),
            ("LE/R11", isrg, None),
            ("LEX2/E5", isrg, None),
            ("LEX2/E6", isrg, None),
            ("LEY/YR1", isrg, None),
            ("LEY/YR2", isrg, None),
            ("DC/G2", "DigiCert", None),
            ("DC/EV", "DigiCert", None),
            ("DC/APPLE1", "DigiCert", Some("Apple Inc.")),
            ("DC/APPLE2", "DigiCert", Some("Apple Inc.")),
            ("GTS/WR2", gts, None),
            ("GTS/WE1", gts, None),
            ("GS/GTSR4", "GlobalSign nv-sa", Some(gts)),
            ("GS/GTSR4/WR4", gts, None),
            ("SEC/DV", "Sectigo", None),
            ("AMZ/M02", "Amazon Trust Services", Some("DigiCert")),
            ("AMZ/S06", "Amazon Trust Services", None),
            ("ROGUE/TLS", "Rogue State CA", None),
            ("ROGUE/R14", "Rogue State CA", None),
        ];
        for (id, owner, sub) in inters {
            let mut d = Disclosure::intermediate(&self.cas[id], owner);
            d.subordinate_owner = sub;
            out.push(d);
        }
        out
    }

    pub(super) fn is_public(&self, issuer: &str) -> bool {
        let root = issuer.split('/').next().unwrap_or(issuer);
        self.public.iter().any(|p| p == root)
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}
