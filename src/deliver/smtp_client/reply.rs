//! SMTP replies (RFC 5321 §4.2): a three-digit code, perhaps an enhanced
//! status (`5.1.1`), and text over one or more lines. A reply comes from a
//! server we do not control, so its size is bounded and its text is never
//! printed raw: control characters are escaped, so a hostile reply cannot
//! move the cursor or fake lines in a terminal or a log.

use std::fmt;

/// The longest reply line accepted (RFC 5321 allows 512 octets; servers are
/// generous with text, so this is too).
pub const MAX_LINE: usize = 4096;
/// The most lines a reply may have (an EHLO lists each extension on one).
pub const MAX_LINES: usize = 128;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx and 3xx.
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: refused for good.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for Reply {
    /// `250 2.0.0 Ok: queued as 4XyZ`, on one line, control characters
    /// escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for line in &self.lines {
            let line = line.trim();
            if !line.is_empty() {
                write!(f, " {}", printable(line))?;
            }
        }
        Ok(())
    }
}

pub use crate::log::printable;

/// How parsing a line went.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// `250-...`: more lines follow.
    More(u16, String),
    /// `250 ...` or `250`: the last line.
    Last(u16, String),
}

/// Parses one reply line (without its CRLF).
///
/// # Errors
/// The line does not start with a three-digit code and a separator.
pub fn parse_line(raw: &[u8]) -> Result<Line, String> {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches(['\r', '\n']);
    let bad = || {
        format!(
            "the server sent a malformed reply line: `{}`",
            printable(text)
        )
    };
    let code = text.get(..3).ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&code.as_bytes()[0]) {
        return Err(bad());
    }
    let code: u16 = code.parse().map_err(|_| bad())?;
    match text.as_bytes().get(3) {
        None => Ok(Line::Last(code, String::new())),
        Some(b' ') => Ok(Line::Last(code, text[4..].to_string())),
        Some(b'-') => Ok(Line::More(code, text[4..].to_string())),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_replies_print_on_one_line() {
        assert_eq!(
            parse_line(b"250-smtp.test\r\n"),
            Ok(Line::More(250, "smtp.test".into()))
        );
        assert_eq!(
            parse_line(b"250 2.0.0 Ok\r\n"),
            Ok(Line::Last(250, "2.0.0 Ok".into()))
        );
        assert_eq!(parse_line(b"354"), Ok(Line::Last(354, String::new())));
        assert!(parse_line(b"hello").is_err());
        assert!(parse_line(b"999 what").is_err());
        let reply = Reply {
            code: 550,
            lines: vec!["5.1.1 No such".into(), " user here ".into()],
        };
        assert_eq!(reply.to_string(), "550 5.1.1 No such user here");
        assert!(reply.is_permanent() && !reply.is_transient());
    }

    /// See: issue 9, item 9. A reply's escape sequences reached the terminal.
    #[test]
    fn control_characters_in_a_reply_are_escaped() {
        let reply = Reply {
            code: 550,
            lines: vec!["\u{1b}[2J\u{1b}[31mgotcha\rfake".into()],
        };
        let shown = reply.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "550 \\u{1b}[2J\\u{1b}[31mgotcha\\rfake");
    }
}
