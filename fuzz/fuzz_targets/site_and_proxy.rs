//! Site strings (`HOST[:PORT]`, URLs, IPv6) and text sanitising.
#![no_main]

use certwatch_engine::probe::Site;
use certwatch_engine::sanitize::sanitize;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(site) = Site::parse(s, 443) {
            // Display must round-trip through the parser.
            let again = Site::parse(&site.to_string(), 443).expect("display re-parses");
            assert_eq!(again, site);
        }
        let clean = sanitize(s);
        assert!(!clean.chars().any(|c| c.is_control()));
    }
});
