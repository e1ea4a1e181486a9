//! Event lines on stderr: one line per event, a timestamp first, then the
//! event name and `key=value` fields, so that cron logs are easy to grep:
//!
//! ```text
//! 2026-11-23T07:00:02Z catchup[4242] INFO send.done issue=2018-07-27 sent=300 failed=1
//! ```

use std::fmt::{self, Display, Write as _};

use crate::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
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

/// Text from outside (a server's reply, a returned message, a hand-edited
/// list), made safe for one line of a terminal or a log: control
/// characters (escape sequences, CR, LF, tabs) and the bidirectional
/// controls that reorder what is shown are escaped.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let hidden = c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            let escaped: Vec<char> = if hidden {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Formats one event line (without the newline).
pub(crate) fn line(level: Level, event: &str, fields: &[(&str, &dyn Display)]) -> String {
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
pub(crate) fn event(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    eprintln!("{}", line(level, event, fields));
}

#[cfg(test)]
mod tests {
    #[test]
    fn outside_text_cannot_drive_the_terminal() {
        assert_eq!(super::printable("ok\x1b[31m\r\n"), "ok\\u{1b}[31m\\r\\n");
        assert_eq!(super::printable("abc\u{202e}def"), "abc\\u{202e}def");
        assert_eq!(super::printable("Zoë"), "Zoë");
    }

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
