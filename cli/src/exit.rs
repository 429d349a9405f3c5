//! Exit codes, in one place (monitoring-plugin convention): 0 OK, 1
//! WARNING, 2 CRITICAL, 3 UNKNOWN; CRITICAL > UNKNOWN > WARNING > OK for
//! several sites. The type is the engine's
//! [`certwatch_engine::format::State`], so `--format nagios` prints the
//! same state the process exits with.

/// The process outcome.
pub use certwatch_engine::format::State as Status;

#[cfg(test)]
mod tests {
    use super::*;
    use certwatch_engine::verdict::Severity;

    #[test]
    fn worst_table() {
        use Status::*;
        let cases = [
            (Ok, Warning, Warning),
            (Warning, Unknown, Unknown),
            (Unknown, Critical, Critical),
            (Critical, Unknown, Critical),
            (Ok, Ok, Ok),
        ];
        for (a, b, w) in cases {
            assert_eq!(a.worst(b), w);
            assert_eq!(b.worst(a), w);
        }
        assert_eq!(Status::from(Severity::Info).code(), 0);
        assert_eq!(Status::from(Severity::Critical).code(), 2);
    }
}
