//! A blocking client of the daemon's socket (no async runtime): used by the
//! CLI and the native host. A missing socket costs one failed `connect(2)`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::paths::Paths;

/// The socket's file name.
pub const SOCKET_NAME: &str = "certwatchd.sock";
/// The protocol version spoken.
pub const PROTOCOL_VERSION: u64 = 1;
/// Longest request or reply line.
pub const MAX_LINE: usize = 1024 * 1024;

/// Where the daemon listens.
pub fn socket_path(paths: &Paths) -> PathBuf {
    paths.runtime_dir.join(SOCKET_NAME)
}

/// A connection to a running daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects, or `None` when no daemon answers.
    pub fn connect(paths: &Paths) -> Option<Client> {
        Self::connect_to(&socket_path(paths))
    }

    /// Connects to a socket path.
    pub fn connect_to(path: &Path) -> Option<Client> {
        let stream = UnixStream::connect(path).ok()?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let reader = BufReader::new(stream.try_clone().ok()?);
        Some(Client { stream, reader })
    }

    /// Sends one request (`v` is added) and reads one reply.
    pub fn request(&mut self, mut req: Value) -> Result<Value, String> {
        if let Value::Object(m) = &mut req {
            m.insert("v".into(), Value::from(PROTOCOL_VERSION));
        }
        let mut line = req.to_string();
        line.push('\n');
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| format!("daemon socket: {e}"))?;
        let mut reply = String::new();
        let n = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_line(&mut reply)
            .map_err(|e| format!("daemon socket: {e}"))?;
        if n == 0 {
            return Err("daemon closed the connection".into());
        }
        serde_json::from_str(&reply).map_err(|e| format!("daemon reply is not JSON: {e}"))
    }
}
