//! The pin database and the pin file format against hand-written pin files:
//! lookup, matching, expiry, diagnostics with lines, round trips, layering,
//! SPKI hash forms, and the shipped pinsets.

use super::*;

const A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=";
const C: &str = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=";
const D: &str = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=";

const DB: &str = r#"
version = 1

[[pinset]]
name = "corp"
expires = 2030-01-01
pins = [ { label = "Corp Root", spki = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" } ]
backup = [ { label = "Corp Backup", spki = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=" } ]
bad = [ { label = "Corp Old Sub", spki = "sha256/CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCA=" } ]

[[pinset]]
name = "stale"
expires = "2020-06-01"
pins = [ { label = "Old", spki = "sha256/DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=" } ]

[[pinset]]
name = "d"
pins = [ { label = "D", spki = "sha256/DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=" } ]

[[entry]]
host = "example.com"
include_subdomains = true
pinset = "corp"

[[entry]]
host = "exact.example.org"
pinset = "corp"

[[entry]]
host = "old.example.net"
include_subdomains = true
pinset = "stale"

[[entry]]
host = "special.example.com"
pinset = "d"

[[entry]]
host = "nosub.example.com"
include_subdomains = false
pinset = "d"
"#;

fn t(date: &str) -> i64 {
    parse_date_or_time(date).unwrap()
}

fn db() -> PinDb {
    let (db, diags) = parse_toml(DB);
    assert!(diags.is_empty(), "{diags:?}");
    db
}

#[test]
fn lookup_table() {
    let db = db();
    let cases: &[(&str, Option<&str>)] = &[
        ("example.com", Some("example.com")),
        ("EXAMPLE.com.", Some("example.com")),
        ("www.example.com", Some("example.com")),
        ("a.b.example.com", Some("example.com")),
        ("special.example.com", Some("special.example.com")),
        // exact entry without subdomains: its subdomains fall back to the parent
        ("x.special.example.com", Some("example.com")),
        ("x.nosub.example.com", Some("example.com")),
        ("exact.example.org", Some("exact.example.org")),
        ("sub.exact.example.org", None),
        ("example.org", None),
        ("badexample.com", None),
        ("com", None),
        ("127.0.0.1", None),
        ("", None),
    ];
    for (host, want) in cases {
        assert_eq!(
            db.lookup(host).map(|e| e.host.as_str()),
            *want,
            "lookup {host:?}"
        );
    }
}

#[test]
fn check_table() {
    let db = db();
    let now = t("2026-11-22");
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // (host, path spkis, status, matched label / detail fragment)
    let cases: &[(&str, Vec<String>, &str, &str)] = &[
        ("www.example.com", s(&[D, A]), "ok", "Corp Root"),
        ("www.example.com", s(&[B]), "ok", "Corp Backup"),
        (
            "www.example.com",
            s(&[D]),
            "violation",
            "none of the 1 keys",
        ),
        ("www.example.com", s(&[]), "violation", "none of the 0 keys"),
        // a bad hash fails even when a pin matches
        ("www.example.com", s(&[C, A]), "violation", "Corp Old Sub"),
        ("www.example.com", s(&[A, C]), "violation", "Corp Old Sub"),
        // most specific entry wins
        (
            "special.example.com",
            s(&[A]),
            "violation",
            "expected one of: D",
        ),
        ("special.example.com", s(&[D]), "ok", "D"),
        // exact-only entry
        ("exact.example.org", s(&[A]), "ok", "Corp Root"),
        ("sub.exact.example.org", s(&[D]), "not_pinned", ""),
        // expired pinset is not enforced
        ("old.example.net", s(&[A]), "not_pinned", "expired"),
        ("www.old.example.net", s(&[D]), "not_pinned", "expired"),
        ("unrelated.test", s(&[A]), "not_pinned", ""),
    ];
    for (host, spkis, status, frag) in cases {
        let r = db.check(host, spkis, now);
        assert_eq!(r.status(), *status, "{host} {spkis:?}: {r:?}");
        match &r {
            PinCheck::Ok {
                matched, backup, ..
            } => {
                assert_eq!(matched.label, *frag);
                assert_eq!(*backup, *frag == "Corp Backup");
            }
            PinCheck::Violation { detail, .. } => assert!(detail.contains(frag), "{detail}"),
            PinCheck::Expired { .. } => assert_eq!(*frag, "expired"),
            PinCheck::NotPinned => assert_eq!(*frag, ""),
        }
    }
}

#[test]
fn expiry_boundary() {
    let db = db();
    let exp = t("2030-01-01");
    let a = vec![D.to_string()];
    assert_eq!(db.check("example.com", &a, exp - 1).status(), "violation");
    assert!(matches!(
        db.check("example.com", &a, exp),
        PinCheck::Expired { .. }
    ));
}

#[test]
fn diagnostics_table() {
    // (file, expected line, message fragment, pinsets kept, entries kept)
    let cases: &[(&str, usize, &str, usize, usize)] = &[
        ("[[pinset]\nname=1", 1, "", 0, 0),
        ("\n\nversion = 2\n", 3, "unsupported version 2", 0, 0),
        ("[[pinset]]\nname = \"x\"\nfoo = 1\n", 3, "unknown field", 0, 0),
        (
            "[[pinset]]\nname = \"x\"\npins = [\n {label=\"a\", spki=\"sha256/AAAA\"},\n]\n",
            4,
            "decodes to 3 bytes",
            0,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\npins = [{label=\"a\", spki=\"sha1/AAAA\"}]\n",
            3,
            "sha1 pins are not supported",
            0,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\nexpires = \"soon\"\npins = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n",
            3,
            "not a date",
            0,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\npins = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n\n[[entry]]\nhost = \"a.test\"\npinset = \"y\"\n",
            7,
            "no usable pinset named \"y\"",
            1,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\npins = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n\n[[entry]]\nhost = \"*.a.test\"\npinset = \"x\"\n",
            6,
            "no wildcards",
            1,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\npins = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\nbad = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n",
            1,
            "both pinned and bad",
            0,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\nbad = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n",
            1,
            "no usable pins",
            0,
            0,
        ),
        (
            "[[pinset]]\nname = \"x\"\npins = [{label=\"a\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n[[pinset]]\nname = \"x\"\npins = [{label=\"b\", spki=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]\n",
            5,
            "defined twice",
            1,
            0,
        ),
        (
            "[[entry]]\nhost = \"a.test\"\n",
            1,
            "missing field",
            0,
            0,
        ),
    ];
    for (src, line, frag, nsets, nentries) in cases {
        let (db, diags) = parse_toml(src);
        assert!(!diags.is_empty(), "{src:?}: no diagnostic");
        let d = &diags[0];
        assert_eq!(d.line, *line, "{src:?}: {d}");
        assert!(d.message.contains(frag), "{src:?}: {d}");
        assert_eq!(db.pinsets().count(), *nsets, "{src:?}");
        assert_eq!(db.entries().count(), *nentries, "{src:?}");
    }
}

#[test]
fn toml_round_trip() {
    let db = db();
    let text = db.to_toml();
    let (back, diags) = parse_toml(&text);
    assert!(diags.is_empty(), "{diags:?}\n{text}");
    assert_eq!(back, db);
}

#[test]
fn layer_overrides() {
    let mut base = db();
    let (top, d) = parse_toml(
        "[[pinset]]\nname = \"mine\"\npins = [{label=\"D\", spki=\"DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDA=\"}]\n[[entry]]\nhost = \"example.com\"\npinset = \"mine\"\n",
    );
    assert!(d.is_empty());
    base.layer(top);
    let e = base.lookup("example.com").unwrap();
    assert_eq!(e.pinset, "mine");
    // the replacing entry has no include_subdomains
    assert!(base.lookup("www.example.com").is_none());
}

#[test]
fn spki_hash_forms() {
    assert_eq!(parse_spki_hash(&format!("sha256/{A}")).unwrap(), A);
    assert_eq!(parse_spki_hash(A).unwrap(), A);
    assert!(parse_spki_hash("sha256/!!").is_err());
    assert!(parse_spki_hash("").is_err());
}

#[test]
fn shipped_pinsets_parse_clean() {
    let (db, diags) = parse_toml(SHIPPED_TOML);
    assert!(diags.is_empty(), "{diags:?}");
    assert!(db.lookup("accounts.google.com").is_some());
    for set in db.pinsets() {
        assert!(
            set.expires.is_some(),
            "shipped pinset {} must expire",
            set.name
        );
        assert!(
            !set.backup.is_empty(),
            "shipped pinset {} needs backups",
            set.name
        );
    }
}
