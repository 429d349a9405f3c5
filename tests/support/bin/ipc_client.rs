//! `ipc-client SOCKET JSON`: sends one line to a Unix socket and prints the
//! reply line (tests run it as another uid).

use std::io::{BufRead, BufReader, Write};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(line)) = (args.next(), args.next()) else {
        eprintln!("usage: ipc-client SOCKET JSON");
        std::process::exit(2);
    };
    let mut s = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) => {
            println!("connect failed: {e}");
            return;
        }
    };
    let _ = s.write_all(format!("{line}\n").as_bytes());
    let mut reply = String::new();
    let _ = BufReader::new(s).read_line(&mut reply);
    print!("{reply}");
}
