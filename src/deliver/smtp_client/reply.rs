//! SMTP replies (RFC 5321 §4.2): a three-digit code, perhaps an enhanced
//! status (`5.1.1`), and text over one or more lines. A reply comes from a
//! server we do not control, so its size is bounded and its text is never
//! printed raw: control characters are escaped, so a hostile reply cannot
//! move the cursor or fake lines in a terminal or a log.

use std::fmt;

/// The longest reply line accepted (RFC 5321 allows 512 octets; servers are
/// generous with text, so this is too).
pub(crate) const MAX_LINE: usize = 4096;
/// The most lines a reply may have (an EHLO lists each extension on one).
pub(crate) const MAX_LINES: usize = 128;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub code: u16,
    /// The text of each line, without the code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx and 3xx.
    pub(crate) fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub(crate) fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: refused for good.
    pub(crate) fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// True for a refusal about the relay (or the sender), not the reader:
    /// the relay will not take mail from us (relaying or access denied),
    /// wants a login we did not give, or will not have our envelope
    /// sender. Every reader would be refused the same way, so none of them
    /// has failed.
    pub(crate) fn is_about_the_relay(&self) -> bool {
        // 530: authentication required (RFC 4954); 5.7.0 and 5.7.8:
        // authentication; 5.7.57: Office 365's "client not authenticated".
        if self.code == 530 {
            return true;
        }
        let text = self.lines.join(" ").to_ascii_lowercase();
        let status = text.split_whitespace().next().unwrap_or("");
        if matches!(status, "5.7.0" | "5.7.8" | "5.7.57" | "4.7.0" | "5.7.14")
            && text.contains("auth")
        {
            return true;
        }
        const ABOUT_THE_RELAY: &[&str] = &[
            "relay access denied",
            "relaying denied",
            "relay denied",
            "relay not permitted",
            "not permitted to relay",
            "relaying not allowed",
            "relaying not permitted",
            "unable to relay",
            "we do not relay",
            "relay not allowed",
            "authentication required",
            "must authenticate",
            "not authenticated",
            "client host rejected",
            "access denied",
            // Our address on a blocklist the relay consults.
            "blocked using",
        ];
        ABOUT_THE_RELAY.iter().any(|phrase| text.contains(phrase))
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

use crate::log::printable;

/// How parsing a line went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// `250-...`: more lines follow.
    More(u16, String),
    /// `250 ...` or `250`: the last line.
    Last(u16, String),
}

/// Parses one reply line (without its CRLF).
///
/// # Errors
/// The line does not start with a three-digit code and a separator.
pub(crate) fn parse_line(raw: &[u8]) -> Result<Line, String> {
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

    /// See: issue 18, item 4. A relay's refusal of relaying was taken for
    /// the reader's, and 819 of 1,000 readers were failed for good.
    #[test]
    fn refusals_about_the_relay_are_told_from_refusals_about_the_reader() {
        let reply = |code, text: &str| Reply {
            code,
            lines: vec![text.to_string()],
        };
        for (code, text) in [
            (554, "5.7.1 <ann@nhs.example>: Relay access denied"),
            (550, "5.7.1 Relaying denied"),
            (530, "5.7.0 Authentication required"),
            (550, "5.7.57 Client not authenticated to send mail"),
            (
                553,
                "5.7.1 <catchup@hsj.example>: Sender address rejected: Access denied",
            ),
            (554, "5.7.1 Client host rejected: Access denied"),
            (
                554,
                "5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org",
            ),
        ] {
            assert!(reply(code, text).is_about_the_relay(), "{code} {text}");
        }
        for (code, text) in [
            (
                550,
                "5.1.1 <ann@nhs.example>: Recipient address rejected: User unknown",
            ),
            (552, "5.2.2 Mailbox full"),
            (550, "5.7.1 Message rejected as spam"),
        ] {
            assert!(!reply(code, text).is_about_the_relay(), "{code} {text}");
        }
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
