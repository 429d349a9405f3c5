//! Exit codes, in one place (monitoring-plugin convention).

use certwatch_engine::verdict::Severity;

/// The process outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: ok or info.
    Ok,
    /// 1: warning.
    Warning,
    /// 2: critical — possible interception.
    Critical,
    /// 3: could not check (network, bad input, usage).
    Unknown,
}

impl Status {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// Aggregation rank for several sites: CRITICAL > UNKNOWN > WARNING > OK.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Status {
        match s {
            Severity::Ok | Severity::Info => Status::Ok,
            Severity::Warning => Status::Warning,
            Severity::Critical => Status::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
