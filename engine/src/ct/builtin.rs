//! The CT log list that ships inside the engine (Google's all-logs list,
//! `engine/data/ct/`, provenance in `PROVENANCE.md` there), so that a fresh
//! install judges SCTs without `certwatch ct update`. [`super::cache`]
//! chooses between it and a cached list by date.

use super::loglist::{ListError, LogList};

/// The file under `engine/data/ct/`.
pub const LIST_FILE: &str = "google_all_logs_list_2026-08-21.json";

/// The list's bytes, verbatim.
pub const LIST_JSON: &[u8] = include_bytes!("../../data/ct/google_all_logs_list_2026-08-21.json");

/// The list's date. The copy carries no `log_list_timestamp` (its mirror
/// strips it), so the date of the snapshot is recorded here.
pub const LIST_DATE: &str = "2026-08-21T00:00:00Z";

/// SHA-256 of [`LIST_JSON`], as recorded in `PROVENANCE.md`.
pub const LIST_SHA256: &str = "5e4b2cd43956e3fe6eb06749addf9ce7d7638160329c2d6f7d68d20fb47a5a18";

/// The name `ct show` and `sources` give it.
pub fn source_name() -> String {
    format!("built-in {}", LIST_FILE)
}

/// [`LIST_DATE`] as Unix seconds.
pub fn list_date() -> i64 {
    time::OffsetDateTime::parse(LIST_DATE, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

/// The built-in list, parsed, dated [`LIST_DATE`].
pub fn list() -> Result<LogList, ListError> {
    let mut l = LogList::parse(&source_name(), LIST_JSON)?;
    l.timestamp = Some(l.timestamp.unwrap_or_else(list_date));
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::loglist::LogState;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn embedded_bytes_match_the_provenance() {
        let got = ring::digest::digest(&ring::digest::SHA256, LIST_JSON);
        assert_eq!(hex(got.as_ref()), LIST_SHA256);
        let prov = include_str!("../../data/ct/PROVENANCE.md");
        assert!(
            prov.contains(LIST_SHA256),
            "PROVENANCE.md names another hash"
        );
        assert!(prov.contains(LIST_FILE));
        assert!(prov.contains(&LIST_DATE[..10]));
        // The shared copy it came from, when present, is byte-identical.
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/ct_log_lists")
            .join(LIST_FILE);
        match std::fs::read(&shared) {
            Ok(b) => assert_eq!(b, LIST_JSON, "{} differs", shared.display()),
            Err(_) => eprintln!(
                "skipped the shared-copy comparison: {} absent",
                shared.display()
            ),
        }
    }

    #[test]
    fn parses_with_states_and_date() {
        let l = list().unwrap();
        assert_eq!(l.len(), 117);
        assert_eq!(l.timestamp, Some(list_date()));
        assert_eq!(&crate::report::rfc3339(list_date())[..10], "2026-08-21");
        let tiled = l.logs().iter().filter(|l| !l.rfc6962).count();
        assert_eq!(tiled, 75);
        // Test logs (no state, `log_type: test`) are outside the policy.
        let testtube = l
            .logs()
            .iter()
            .find(|l| l.description.contains("Testtube"))
            .unwrap();
        assert_eq!(testtube.state, LogState::NotInPolicy);
        assert!(!testtube.usable_for_sct_at(list_date()));
        assert!(l.logs().iter().all(|l| l.state != LogState::Unknown));
    }
}
