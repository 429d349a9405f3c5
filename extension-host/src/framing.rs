//! Native-messaging framing: a 4-byte length in native byte order, then
//! that many bytes of UTF-8 JSON, in both directions.
//!
//! The length is never trusted: a frame longer than the cap is refused
//! before anything is allocated for it, and a body is read incrementally,
//! so a lying length costs at most what was actually sent.

use std::io::{self, Read, Write};

/// Default cap on a message from the browser: 8 MiB.
pub const DEFAULT_MAX_IN: u32 = 8 * 1024 * 1024;
/// Largest message a browser accepts from a host (inclusive): 1 MiB.
pub const MAX_OUT: usize = 1_048_576;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix was cut short by end of input.
    #[error("truncated length prefix: got {got} of 4 bytes")]
    TruncatedHeader {
        /// Bytes received.
        got: usize,
    },
    /// The body was cut short by end of input.
    #[error("truncated message: length says {expected} bytes, got {got}")]
    TruncatedBody {
        /// Claimed length.
        expected: u32,
        /// Bytes received.
        got: usize,
    },
    /// The claimed length exceeds the cap.
    #[error("message of {len} bytes exceeds the limit of {cap} bytes")]
    TooLarge {
        /// Claimed length.
        len: u32,
        /// The cap.
        cap: u32,
    },
    /// Reading failed.
    #[error("reading stdin: {0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Stable short kind for error replies.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::TruncatedHeader { .. } | FrameError::TruncatedBody { .. } => "truncated",
            FrameError::TooLarge { .. } => "too_large",
            FrameError::Io(_) => "io",
        }
    }
}

/// Reads up to `buf.len()` bytes; returns how many (short only at EOF).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads one frame. `Ok(None)` is a clean end of input (the port closed).
pub fn read_frame<R: Read>(r: &mut R, cap: u32) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    match read_full(r, &mut len)? {
        0 => return Ok(None),
        4 => {}
        got => return Err(FrameError::TruncatedHeader { got }),
    }
    let len = u32::from_ne_bytes(len);
    if len > cap {
        return Err(FrameError::TooLarge { len, cap });
    }
    // Grow with the data actually received, never by the claimed size.
    let mut body = Vec::with_capacity((len as usize).min(64 * 1024));
    let got = r.take(u64::from(len)).read_to_end(&mut body)?;
    if got < len as usize {
        return Err(FrameError::TruncatedBody { expected: len, got });
    }
    Ok(Some(body))
}

/// Frames `payload` (length prefix + bytes); `None` when it exceeds [`MAX_OUT`].
pub fn encode_frame(payload: &[u8]) -> Option<Vec<u8>> {
    if payload.len() > MAX_OUT {
        return None;
    }
    let len = u32::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// Writes one framed message and flushes. The caller guarantees the size
/// (use [`encode_frame`]); an oversized payload is an `InvalidInput` error.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let framed = encode_frame(payload).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("reply of {} bytes exceeds {MAX_OUT}", payload.len()),
        )
    })?;
    w.write_all(&framed)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn reads() {
        type Want = Result<Option<Vec<u8>>, &'static str>;
        let big = u32::MAX.to_ne_bytes().to_vec();
        let mut short = 10u32.to_ne_bytes().to_vec();
        short.extend_from_slice(b"abc");
        let cases: Vec<(&str, Vec<u8>, u32, Want)> = vec![
            ("empty input", vec![], 100, Ok(None)),
            ("one frame", frame(b"{}"), 100, Ok(Some(b"{}".to_vec()))),
            ("zero length", frame(b""), 100, Ok(Some(vec![]))),
            ("at cap", frame(b"12345"), 5, Ok(Some(b"12345".to_vec()))),
            ("over cap", frame(b"123456"), 5, Err("too_large")),
            ("4 GiB claimed", big, DEFAULT_MAX_IN, Err("too_large")),
            ("short header", vec![1, 0], 100, Err("truncated")),
            ("short body", short, 100, Err("truncated")),
        ];
        for (name, input, cap, want) in cases {
            let got = read_frame(&mut input.as_slice(), cap).map_err(|e| e.kind());
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn two_frames_in_a_row() {
        let mut input = frame(b"a");
        input.extend(frame(b"bc"));
        let mut r = input.as_slice();
        assert_eq!(read_frame(&mut r, 10).unwrap(), Some(b"a".to_vec()));
        assert_eq!(read_frame(&mut r, 10).unwrap(), Some(b"bc".to_vec()));
        assert_eq!(read_frame(&mut r, 10).unwrap(), None);
    }

    #[test]
    fn out_cap_is_inclusive() {
        assert!(encode_frame(&vec![b'x'; MAX_OUT]).is_some());
        assert!(encode_frame(&vec![b'x'; MAX_OUT + 1]).is_none());
        let f = encode_frame(b"hi").unwrap();
        assert_eq!(&f[..4], &2u32.to_ne_bytes());
        let mut w = Vec::new();
        assert!(write_frame(&mut w, &vec![0; MAX_OUT + 1]).is_err());
        assert!(w.is_empty());
    }
}
