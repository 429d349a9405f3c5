//! Table tests of tile paths, widths, spans, data-tile parsing and gzip.

use std::io::Write as _;

use super::*;

#[test]
fn paths_widths_and_spans() {
    for (n, want) in [
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1234067, "x001/x234/067"),
    ] {
        assert_eq!(index_path(n), want);
    }
    assert_eq!(hash_tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
    assert_eq!(hash_tile_path(2, 0, 1), "tile/2/000.p/1");
    assert_eq!(data_tile_path(1000, 112), "tile/data/x001/000.p/112");
    assert_eq!(data_tile_path(3, 256), "tile/data/003");
    // The spec's example: a tree of 70,000 entries.
    assert_eq!(tile_width(0, 272, 70_000), 256);
    assert_eq!(tile_width(0, 273, 70_000), 112);
    assert_eq!(tile_width(0, 274, 70_000), 0);
    assert_eq!(tile_width(1, 0, 70_000), 256);
    assert_eq!(tile_width(1, 1, 70_000), 17);
    assert_eq!(tile_width(2, 0, 70_000), 1);
    assert_eq!(tile_width(3, 0, 70_000), 0);
    assert_eq!(tile_width(1, 0, 256), 1);
    let s = span_of(Subtree {
        level: 0,
        index: 300,
    });
    assert_eq!((s.level, s.tile, s.first, s.count), (0, 1, 44, 1));
    let s = span_of(Subtree {
        level: 10,
        index: 3,
    });
    assert_eq!((s.level, s.tile, s.first, s.count), (1, 0, 12, 4));
    let s = span_of(Subtree {
        level: 8,
        index: 257,
    });
    assert_eq!((s.level, s.tile, s.first, s.count), (1, 1, 1, 1));
}

fn leaf(ts: u64, precert: bool, index: Option<u64>, chain: usize) -> Vec<u8> {
    let mut v = ts.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, u8::from(precert)]);
    if precert {
        v.extend_from_slice(&[0xAA; 32]);
    }
    v.extend_from_slice(&[0, 0, 2, 0x30, 0x00]);
    match index {
        Some(i) => {
            v.extend_from_slice(&[0, 8, 0, 0, 5]);
            v.extend_from_slice(&i.to_be_bytes()[3..]);
        }
        None => v.extend_from_slice(&[0, 0]),
    }
    if precert {
        v.extend_from_slice(&[0, 0, 1, 0x30]);
    }
    v.extend_from_slice(&((chain * 32) as u16).to_be_bytes());
    v.extend(std::iter::repeat_n(7u8, chain * 32));
    v
}

#[test]
fn data_tiles_parse_and_garbage_is_an_error() {
    let mut tile = leaf(5, false, Some(256), 2);
    tile.extend(leaf(6, true, Some(257), 1));
    let got = parse_data_tile(&tile, 256, 2).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].timestamp, got[0].precert, got[0].leaf_index),
        (5, false, Some(256))
    );
    assert_eq!(got[0].chain, vec![[7u8; 32]; 2]);
    assert_eq!(got[1].pre_certificate.as_deref(), Some(&[0x30u8][..]));
    assert_eq!(got[1].issuer_key_hash, Some([0xAA; 32]));
    // The leaf hash covers version, leaf type and the TimestampedEntry only.
    let te_len = 8 + 2 + 32 + 3 + 2 + 2 + 8;
    let mut ml = vec![0u8, 0];
    ml.extend_from_slice(&leaf(6, true, Some(257), 1)[..te_len]);
    assert_eq!(got[1].hash, crate::ct::tail::merkle::leaf_hash(&ml));
    // Wrong counts, wrong leaf_index, truncation, garbage: errors.
    assert!(parse_data_tile(&tile, 256, 1).is_err());
    assert!(parse_data_tile(&tile, 256, 3).is_err());
    assert!(parse_data_tile(&tile, 0, 2).is_err());
    for cut in 0..tile.len() {
        assert!(parse_data_tile(&tile[..cut], 256, 2).is_err(), "{cut}");
    }
    for garbage in [&[0xFFu8; 40][..], &[0; 9], &[1, 2, 3]] {
        assert!(parse_data_tile(garbage, 0, 1).is_err());
    }
    let mut odd = leaf(5, false, None, 0);
    let n = odd.len();
    odd[n - 1] = 5; // a chain of 5 bytes: not fingerprints
    odd.extend([0; 5]);
    assert!(parse_data_tile(&odd, 0, 1).is_err());
    assert!(parse_hash_tile(&[0; 64], 2).is_ok());
    assert!(parse_hash_tile(&[0; 63], 2).is_err());
}

#[test]
fn gzip_is_bounded() {
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let small = gz(b"hello");
    assert!(looks_gzipped(&small));
    assert_eq!(gunzip(&small, 5).unwrap(), b"hello");
    assert!(gunzip(&small, 4).is_err());
    let bomb = gz(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 10_000);
    assert!(gunzip(&bomb, 1 << 16).unwrap_err().contains("more than"));
    assert!(gunzip(b"\x1f\x8bgarbage", 100).is_err());
}
