//! Reading messages back with mail-parser, a MIME parser we did not write.

use mail_parser::{HeaderValue, MessageParser, MimeHeaders as _, PartType};

/// What the tests want to know about one message.
#[derive(Debug)]
pub struct Parsed {
    /// Every header as (name, raw value), in order.
    pub headers: Vec<(String, String)>,
    pub subject: String,
    pub to_name: Option<String>,
    pub to_address: String,
    pub from_address: String,
    pub message_id: String,
    pub date: Option<String>,
    /// The content types of the root's parts, in order.
    pub part_types: Vec<String>,
    pub root_type: String,
    pub text: String,
    pub html: String,
}

impl Parsed {
    /// The raw value of the only header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> &str {
        let found: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected one `{name}` header, got {found:?}"
        );
        found[0]
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

pub fn parse(bytes: &[u8]) -> Parsed {
    let message = MessageParser::default()
        .parse(bytes)
        .expect("a MIME message");
    let root = message.root_part();
    let content_type = |part: &mail_parser::MessagePart<'_>| {
        part.content_type()
            .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
            .unwrap_or_default()
    };
    let part_types = match &root.body {
        PartType::Multipart(ids) => ids
            .iter()
            .map(|&id| content_type(&message.parts[id as usize]))
            .collect(),
        _ => Vec::new(),
    };
    let to = message.to().and_then(|a| a.first()).expect("a To address");
    let date = match message.header("Date") {
        Some(HeaderValue::DateTime(d)) => Some(d.to_rfc3339()),
        _ => None,
    };
    Parsed {
        // Unfolded (RFC 5322 §2.2.3): a line break before white space goes.
        headers: message
            .headers_raw()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    v.replace("\r\n ", " ").replace("\r\n\t", "\t"),
                )
            })
            .collect(),
        subject: message.subject().unwrap_or_default().to_string(),
        to_name: to.name().map(str::to_string),
        to_address: to.address().unwrap_or_default().to_string(),
        from_address: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string(),
        message_id: message.message_id().unwrap_or_default().to_string(),
        date,
        part_types,
        root_type: content_type(root),
        text: message.body_text(0).unwrap_or_default().into_owned(),
        html: message.body_html(0).unwrap_or_default().into_owned(),
    }
}

/// The longest line of a raw message, in octets, without CRLF.
pub fn longest_line(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).len())
        .max()
        .unwrap_or(0)
}
