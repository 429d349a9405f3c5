//! Certificate and chain parsing into the project's model, then trust
//! classification and CA identity: arbitrary bytes must never panic.
#![no_main]

use certwatch_engine::ca::CaIdentity;
use certwatch_engine::model::{parse_cert, parse_chain, split_chain};
use certwatch_engine::trust::{Classifier, LocalRoots};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::new(None, LocalRoots::None).expect("built-in roots"))
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_cert(data);
    if let Ok(ders) = split_chain(data) {
        if let Ok(chain) = parse_chain(&ders) {
            let t = classifier().classify(&chain, "fuzz.test", 1_800_000_000);
            let _ = CaIdentity::of(&chain, &t);
        }
    }
    // Treat the input as a chain of DER blobs split on a marker too.
    let parts: Vec<Vec<u8>> = data.split(|b| *b == 0xff).map(<[u8]>::to_vec).take(8).collect();
    if let Ok(chain) = parse_chain(&parts) {
        let t = classifier().classify(&chain, "fuzz.test", 1_800_000_000);
        let _ = CaIdentity::of(&chain, &t);
    }
});
