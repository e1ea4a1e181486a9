//! Will the composed message survive real mail clients? Measures it and warns
//! where it would not: Gmail's clip, Gmail's `<style>` limit, and SMTP's line
//! limit.

use std::fmt;

use crate::diagnostic::Diagnostic;

/// Gmail clips a message whose HTML exceeds about 102 KB as received, that
/// is, quoted-printable escapes included.
pub(crate) const GMAIL_CLIP_BYTES: usize = 102 * 1024;
/// Warn well before the clip: content grows, and forwarding adds more.
pub(crate) const HTML_WARN_BYTES: usize = 80 * 1024;
/// Gmail ignores a `<style>` block larger than this.
pub(crate) const GMAIL_STYLE_BYTES: usize = 16 * 1024;
/// RFC 5321 §4.5.3.1.6: a line of text is at most 998 octets plus CRLF.
pub(crate) const MAX_LINE_OCTETS: usize = 998;

/// Sizes of a composed message, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Measurements {
    /// The HTML as a browser sees it.
    pub html: usize,
    /// The HTML part as sent (quoted-printable): what Gmail's clip counts.
    pub html_encoded: usize,
    /// The `<style>` block left after inlining (the @media rules).
    pub style: usize,
    /// The whole MIME message.
    pub message: usize,
    /// The longest line of the MIME message, without its CRLF.
    pub longest_line: usize,
}

/// Measures a message and returns the warnings it earns.
pub(crate) fn measure(
    html: &str,
    html_encoded: &[u8],
    message: &[u8],
) -> (Measurements, Vec<Diagnostic>) {
    let m = Measurements {
        html: html.len(),
        html_encoded: html_encoded.len(),
        style: style_bytes(html),
        message: message.len(),
        longest_line: message
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line).len())
            .max()
            .unwrap_or(0),
    };
    let mut warnings = Vec::new();
    if m.html_encoded > GMAIL_CLIP_BYTES {
        warnings.push(Diagnostic::warning(format!(
            "the HTML part is {} as sent; Gmail clips messages over {} and hides the rest, footer and unsubscribe link included",
            kb(m.html_encoded),
            kb(GMAIL_CLIP_BYTES)
        )).help("shorten long stories with `paragraphs = N` and a `url`"));
    } else if m.html_encoded > HTML_WARN_BYTES {
        warnings.push(
            Diagnostic::warning(format!(
                "the HTML part is {} as sent, above the {} comfort limit (Gmail clips at {})",
                kb(m.html_encoded),
                kb(HTML_WARN_BYTES),
                kb(GMAIL_CLIP_BYTES)
            ))
            .help("shorten long stories with `paragraphs = N` and a `url`"),
        );
    }
    if m.style > GMAIL_STYLE_BYTES {
        warnings.push(Diagnostic::warning(format!(
            "the <style> block is {}; Gmail ignores one over {}",
            kb(m.style),
            kb(GMAIL_STYLE_BYTES)
        )));
    }
    if m.longest_line > MAX_LINE_OCTETS {
        warnings.push(Diagnostic::warning(format!(
            "the message has a line of {} octets; SMTP allows {MAX_LINE_OCTETS}",
            m.longest_line
        )));
    }
    (m, warnings)
}

/// Bytes inside `<style>` elements.
fn style_bytes(html: &str) -> usize {
    let mut total = 0;
    let mut rest = html;
    while let Some(open) = rest.find("<style") {
        let Some(body) = rest[open..].find('>').map(|i| open + i + 1) else {
            break;
        };
        let close = rest[body..]
            .find("</style>")
            .map_or(rest.len(), |i| body + i);
        total += close - body;
        rest = &rest[close..];
    }
    total
}

/// A byte count in KB with one decimal: `41.3 KB`.
pub(crate) fn kb(bytes: usize) -> Kb {
    Kb(bytes)
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Kb(usize);

impl fmt::Display for Kb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[allow(clippy::cast_precision_loss)]
        let kb = self.0 as f64 / 1024.0;
        write!(f, "{kb:.1} KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_message_earns_no_warnings() {
        let (m, w) = measure(
            "<style>a{}</style><p>x</p>",
            b"<p>x</p>",
            b"To: a\r\n\r\nbody\r\n",
        );
        assert!(w.is_empty());
        assert_eq!(m.style, 3);
        assert_eq!(m.longest_line, 5);
    }

    #[test]
    fn each_limit_warns() {
        let big = vec![b'x'; GMAIL_CLIP_BYTES + 1];
        let (_, w) = measure("", &big, b"");
        assert!(w[0].message.contains("Gmail clips"), "{}", w[0].message);

        let comfortable = vec![b'x'; HTML_WARN_BYTES + 1];
        let (_, w) = measure("", &comfortable, b"");
        assert!(w[0].message.contains("comfort limit"), "{}", w[0].message);

        let style = format!("<style>{}</style>", "a".repeat(GMAIL_STYLE_BYTES + 1));
        let (_, w) = measure(&style, b"", b"");
        assert!(w[0].message.contains("<style> block"), "{}", w[0].message);

        let long_line = format!("Subject: {}\r\n", "a".repeat(MAX_LINE_OCTETS));
        let (m, w) = measure("", b"", long_line.as_bytes());
        assert_eq!(m.longest_line, MAX_LINE_OCTETS + 9);
        assert!(
            w[0].message.contains("line of 1007 octets"),
            "{}",
            w[0].message
        );
    }
}
