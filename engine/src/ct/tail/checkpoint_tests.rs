//! Table tests of checkpoint parsing and signature checks, with a P-256
//! log key made at test time.

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};

use super::*;
use crate::ct::loglist::{b64, LogList};

const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A,
    0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

struct Key(EcdsaKeyPair, Log);

fn key() -> Key {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let k =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(k.public_key().as_ref());
    let id = digest(&SHA256, &spki);
    let json = format!(
        r#"{{"operators":[{{"name":"o","email":[],"tiled_logs":[{{"description":"t","log_id":"{}","key":"{}","submission_url":"https://log.example/2026/","monitoring_url":"https://mon.example/"}}]}}]}}"#,
        b64(id.as_ref()),
        b64(&spki)
    );
    let log = LogList::parse("t", json.as_bytes()).unwrap().logs()[0].clone();
    Key(k, log)
}

/// A signature line by `k` under `name` over (size, root).
fn sig_line(k: &Key, name: &str, size: u64, root: &Hash) -> String {
    let ts = 1_700_000_000_000u64;
    let mut data = vec![0u8, 1];
    data.extend_from_slice(&ts.to_be_bytes());
    data.extend_from_slice(&size.to_be_bytes());
    data.extend_from_slice(root);
    let sig = k.0.sign(&SystemRandom::new(), &data).unwrap();
    let mut v = key_id(name, &k.1.log_id).to_vec();
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&[4, 3]);
    v.extend_from_slice(&(sig.as_ref().len() as u16).to_be_bytes());
    v.extend_from_slice(sig.as_ref());
    format!("\u{2014} {name} {}\n", b64(&v))
}

#[test]
fn checkpoints_verify_only_with_the_logs_signature() {
    let k = key();
    let other = key();
    let origin = origin_of(&k.1.url);
    assert_eq!(origin, "log.example/2026");
    let root = [7u8; 32];
    let body = format!("{origin}\n42\n{}\n", b64(&root));
    let good = sig_line(&k, &origin, 42, &root);
    let witness = sig_line(&other, "witness.example", 42, &root);
    let ok = format!("{body}\n{witness}{good}");
    let c = verify(ok.as_bytes(), &k.1, &origin).unwrap();
    assert_eq!((c.size, c.root, c.timestamp), (42, root, 1_700_000_000_000));
    let unsigned = |t: &str| {
        matches!(
            verify(t.as_bytes(), &k.1, &origin),
            Err(CheckpointError::Unsigned(_))
        )
    };
    let malformed = |t: &str| {
        matches!(
            verify(t.as_bytes(), &k.1, &origin),
            Err(CheckpointError::Malformed(_))
        )
    };
    // Another key under the log's name, a signature over another root or
    // size, or only a witness: not the log's.
    assert!(unsigned(&format!(
        "{body}\n{}",
        sig_line(&other, &origin, 42, &root)
    )));
    assert!(unsigned(&format!(
        "{body}\n{}",
        sig_line(&k, &origin, 42, &[8; 32])
    )));
    assert!(unsigned(&format!(
        "{body}\n{}",
        sig_line(&k, &origin, 43, &root)
    )));
    assert!(unsigned(&format!("{body}\n{witness}")));
    // Another origin (the origin line is not signed).
    let there = format!(
        "evil.example\n42\n{}\n\n{}",
        b64(&root),
        sig_line(&k, "evil.example", 42, &root)
    );
    assert!(unsigned(&there));
    // Not checkpoints.
    for bad in [
        String::new(),
        format!("{body}{good}"),
        format!("{origin}\n042\n{}\n\n{good}", b64(&root)),
        format!("{origin}\n42\n{}\n\n{good}", b64(&[7u8; 31])),
        format!("{origin}\n42\n{}\next\n\n{good}", b64(&root)),
        format!("{body}\n{}", good.trim_end()),
        format!("{body}\n- {origin} AAAA\n"),
        format!("{body}\n\u{2014} {origin} !!!\n"),
        format!("{body}\n\u{2014} {origin} AAA=\n"),
    ] {
        assert!(malformed(&bad), "{bad:?}");
    }
    assert!(malformed("\u{FFFD}\u{0}"));
    assert!(matches!(
        verify(&[0xFF, 0xFE], &k.1, &origin),
        Err(CheckpointError::Malformed(_))
    ));
}

#[test]
fn origins_sizes_and_key_ids() {
    for (url, want) in [
        (
            "https://rome.ct.example.com/2024h1/",
            "rome.ct.example.com/2024h1",
        ),
        ("https://log.example//", "log.example"),
        ("http://127.0.0.1:5/x", "127.0.0.1:5/x"),
    ] {
        assert_eq!(origin_of(url), want);
    }
    for (s, want) in [
        ("0", Some(0)),
        ("17", Some(17)),
        ("017", None),
        ("", None),
        ("-1", None),
        ("1 ", None),
        ("99999999999999999999999", None),
    ] {
        assert_eq!(parse_size(s), want, "{s:?}");
    }
    assert_ne!(key_id("a", &[0; 32]), key_id("b", &[0; 32]));
    assert_ne!(key_id("a", &[0; 32]), key_id("a", &[1; 32]));
}
