//! A minimal, reproducible ZIP writer for the extension packages.
//!
//! Pure: [`write`] turns `(name, bytes)` entries into the bytes of a ZIP
//! archive. Only what the packages need: entries are *stored* (no
//! compression), in the order given, with one fixed DOS timestamp
//! (1980-01-01 00:00:00), fixed Unix attributes (a regular file, 0644) and no
//! extra fields, so the same entries always give the same bytes whatever the
//! files' mtimes, the umask or the locale. ZIP32 only (no ZIP64): an entry
//! or archive over 4 GiB, more than 65,535 entries, or a name that is not a
//! plain relative ASCII path is refused. CRC-32 (IEEE 802.3, the one ZIP
//! uses) is [`crc32`], a table computed at compile time.

/// Local file header signature.
const LOCAL: u32 = 0x0403_4b50;
/// Central directory header signature.
const CENTRAL: u32 = 0x0201_4b50;
/// End of central directory signature.
const END: u32 = 0x0605_4b50;
/// Version needed to extract: 1.0 (stored entries).
const NEEDED: u16 = 10;
/// Version made by: Unix (3) << 8 | 2.0, so the external attributes are
/// Unix modes.
const MADE_BY: u16 = (3 << 8) | 20;
/// DOS date 1980-01-01: (year - 1980) << 9 | month << 5 | day.
const DOS_DATE: u16 = (1 << 5) | 1;
/// DOS time 00:00:00.
const DOS_TIME: u16 = 0;
/// External attributes: `S_IFREG | 0644` in the high 16 bits.
const ATTRS: u32 = 0o100_644 << 16;

/// Why an archive cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    /// The entry or the archive does not fit ZIP32.
    #[error("{0}: too large for a ZIP32 archive")]
    TooLarge(String),
    /// More than 65,535 entries.
    #[error("too many entries for a ZIP32 archive")]
    TooMany,
    /// Empty, absolute, `..`, backslash, duplicate or non-ASCII names.
    #[error("{0:?}: not a plain relative ASCII path, or given twice")]
    BadName(String),
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (reflected, polynomial 0xEDB88320, as in ZIP, gzip and PNG).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.is_ascii()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.bytes().any(|b| b.is_ascii_control())
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

fn u32_of(n: usize, what: &str) -> Result<u32, ZipError> {
    u32::try_from(n).map_err(|_| ZipError::TooLarge(what.to_string()))
}

/// The archive holding `entries` (name, content), in that order.
pub fn write(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, ZipError> {
    let count = u16::try_from(entries.len()).map_err(|_| ZipError::TooMany)?;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (i, (name, data)) in entries.iter().enumerate() {
        if !good_name(name) || entries[..i].iter().any(|(n, _)| n == name) {
            return Err(ZipError::BadName((*name).to_string()));
        }
        let name_len =
            u16::try_from(name.len()).map_err(|_| ZipError::BadName(name.to_string()))?;
        let size = u32_of(data.len(), name)?;
        let offset = u32_of(out.len(), name)?;
        let crc = crc32(data);
        // Local file header.
        put32(&mut out, LOCAL);
        put16(&mut out, NEEDED);
        put16(&mut out, 0); // flags
        put16(&mut out, 0); // method: stored
        put16(&mut out, DOS_TIME);
        put16(&mut out, DOS_DATE);
        put32(&mut out, crc);
        put32(&mut out, size); // compressed
        put32(&mut out, size); // uncompressed
        put16(&mut out, name_len);
        put16(&mut out, 0); // extra
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Its central directory record.
        put32(&mut central, CENTRAL);
        put16(&mut central, MADE_BY);
        put16(&mut central, NEEDED);
        put16(&mut central, 0);
        put16(&mut central, 0);
        put16(&mut central, DOS_TIME);
        put16(&mut central, DOS_DATE);
        put32(&mut central, crc);
        put32(&mut central, size);
        put32(&mut central, size);
        put16(&mut central, name_len);
        put16(&mut central, 0); // extra
        put16(&mut central, 0); // comment
        put16(&mut central, 0); // disk
        put16(&mut central, 0); // internal attributes
        put32(&mut central, ATTRS);
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32_of(out.len(), "archive")?;
    let cd_size = u32_of(central.len(), "archive")?;
    out.extend_from_slice(&central);
    u32_of(out.len(), "archive")?;
    put32(&mut out, END);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk with the central directory
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, cd_size);
    put32(&mut out, cd_offset);
    put16(&mut out, 0); // comment
    Ok(out)
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_vectors() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn layout_of_one_entry() {
        let z = write(&[("a.txt", b"hi")]).unwrap();
        // local header (30) + name (5) + data (2) + central (46) + name (5) + end (22)
        assert_eq!(z.len(), 30 + 5 + 2 + 46 + 5 + 22);
        assert_eq!(&z[..4], b"PK\x03\x04");
        assert_eq!(&z[30..35], b"a.txt");
        assert_eq!(&z[35..37], b"hi");
        assert_eq!(&z[37..41], b"PK\x01\x02");
        assert_eq!(&z[z.len() - 22..z.len() - 18], b"PK\x05\x06");
        assert_eq!(&z[14..18], &crc32(b"hi").to_le_bytes());
        // Same entries, same bytes.
        assert_eq!(write(&[("a.txt", b"hi")]).unwrap(), z);
        assert_eq!(write(&[]).unwrap().len(), 22);
    }

    #[test]
    fn bad_names_refused() {
        for n in [
            "", "/abs", "a/../b", "./a", "a\\b", "a//b", "é", "a\nb", "dir/",
        ] {
            assert!(
                matches!(write(&[(n, b"")]), Err(ZipError::BadName(_))),
                "{n:?}"
            );
        }
        assert!(write(&[("a", b""), ("a", b"")]).is_err());
        assert!(write(&[("icons/a.png", b"")]).is_ok());
    }
}
