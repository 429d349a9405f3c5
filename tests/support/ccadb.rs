//! CCADB disclosures for the PKI made at test time: a CSV in the column
//! layout of CCADB's "All Certificate Records" report, read by the real
//! binary through `CERTWATCH_CCADB`.

use super::*;

/// One disclosure row.
pub struct Disclosure<'a> {
    /// The disclosed CA.
    pub ca: &'a Ca,
    /// Root (`true`) or intermediate record.
    pub root: bool,
    /// "CA Owner".
    pub owner: &'a str,
    /// "Subordinate CA Owner" (externally operated intermediates).
    pub subordinate_owner: Option<&'a str>,
}

impl<'a> Disclosure<'a> {
    /// A root record of `owner`.
    pub fn root(ca: &'a Ca, owner: &'a str) -> Self {
        Disclosure {
            ca,
            root: true,
            owner,
            subordinate_owner: None,
        }
    }

    /// An intermediate record of `owner`.
    pub fn intermediate(ca: &'a Ca, owner: &'a str) -> Self {
        Disclosure {
            ca,
            root: false,
            owner,
            subordinate_owner: None,
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The CSV (header plus one row per disclosure), dated `as_of`
/// (`YYYY-MM-DD`).
pub fn ccadb_csv(rows: &[Disclosure<'_>], as_of: &str) -> String {
    let mut out = String::from(
        "SHA-256 Fingerprint,Certificate Record Type,CA Owner,Subordinate CA Owner,Certificate Name,Revocation Status,status_asof,X.509 Certificate (PEM)\n",
    );
    for r in rows {
        let sha = ring::digest::digest(&ring::digest::SHA256, &r.ca.der);
        let hex: String = sha.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        out.push_str(&format!(
            "{hex},{},{},{},{},Not Revoked,{as_of},{}\n",
            if r.root {
                "Root Certificate"
            } else {
                "Intermediate Certificate"
            },
            quote(r.owner),
            quote(r.subordinate_owner.unwrap_or("")),
            quote("test CA"),
            quote(&r.ca.pem()),
        ));
    }
    out
}

impl TestEnv {
    /// Writes `csv` beside the home and returns its path (pass it as
    /// `CERTWATCH_CCADB` or `--ccadb`).
    pub fn ccadb(&self, csv: &str) -> PathBuf {
        self.write("ccadb.csv", csv)
    }
}
