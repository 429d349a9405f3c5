//! One module per subcommand.

pub mod accept;
pub mod ccadb;
pub mod check;
pub mod ct;
pub mod ct_issuances;
pub mod ct_tail;
pub mod daemon;
pub mod extension;
pub mod fleet;
pub mod history;
pub mod inspect;
pub mod manual;
pub mod pins;
pub mod service;

/// Writes a line to stdout; a closed pipe (`| head`) is not an error.
pub fn out(line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut o = std::io::stdout().lock();
    match writeln!(o, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(Into::into),
    }
}
