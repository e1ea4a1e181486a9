//! Event lines on stderr: one line per event, a timestamp first, then the
//! event name and `key=value` fields, so that cron logs are easy to grep:
//!
//! ```text
//! 2026-11-23T07:00:02Z catchup[4242] INFO send.done issue=2018-07-27 sent=300 failed=1
//! ```

use std::fmt::{self, Display, Write as _};

use crate::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        })
    }
}

/// Formats one event line (without the newline).
pub fn line(level: Level, event: &str, fields: &[(&str, &dyn Display)]) -> String {
    let mut out = format!(
        "{} catchup[{}] {level} {event}",
        clock::wall().format("%Y-%m-%dT%H:%M:%SZ"),
        std::process::id()
    );
    for (key, value) in fields {
        let value = value.to_string();
        // Quote values with spaces or quotes so that each line stays one
        // record of key=value pairs.
        let needs_quotes = value.is_empty()
            || value
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=');
        if needs_quotes {
            let _ = write!(out, " {key}={value:?}");
        } else {
            let _ = write!(out, " {key}={value}");
        }
    }
    out
}

/// Writes one event line to stderr.
pub fn event(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    eprintln!("{}", line(level, event, fields));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_greppable_line_with_quoted_values() {
        let line = line(
            Level::Warn,
            "send.failed",
            &[
                ("reader", &"a@b.example"),
                ("reply", &"550 no such user"),
                ("n", &3),
            ],
        );
        let (stamp, rest) = line.split_once(' ').expect("timestamp");
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
        assert!(rest.starts_with("catchup["), "{rest}");
        assert!(
            rest.ends_with("] WARN send.failed reader=a@b.example reply=\"550 no such user\" n=3"),
            "{rest}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn line_breaks_in_values_cannot_split_the_line() {
        let line = line(
            Level::Error,
            "x",
            &[("reply", &"421 bye\r\nfake line"), ("name", &"a\nb")],
        );
        assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
    }
}
