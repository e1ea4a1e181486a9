//! Rendered issue → one MIME message per reader.
//!
//! [`Template::new`] does the per-issue work once: it quoted-printable
//! encodes both bodies. Quoted-printable is line-local, so only the lines
//! holding [`UNSUBSCRIBE_PLACEHOLDER`] are kept raw. [`Template::message`]
//! then personalises a copy cheaply: it encodes those few lines for the
//! reader, sets the headers, and lets lettre lay out the message. The
//! template engine and the CSS inliner never run per reader.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the template and the per-reader message |
//! | `measure.rs` | the message against what mail clients tolerate |
//! | `dkim.rs` | DKIM keys, their DNS record, `dkim keygen` |
//! | `notice.rs` | a sign-up's confirmation and welcome messages |

pub(crate) mod dkim;
pub(crate) mod measure;
pub(crate) mod notice;

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::message::header::{
    ContentTransferEncoding, ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0,
};
use lettre::message::{Body, Mailbox, Message, MultiPart, SinglePart};

use crate::config::{Newsletter, Web};
use crate::issue::Issue;
use crate::list::reader::Reader;
use crate::list::token::Key;
use crate::mail::dkim::Signer;
use crate::render::{Part, Rendered, UNSUBSCRIBE_PLACEHOLDER, personalise};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// Why a message could not be built for a reader.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot build the message for `{to}`: {why}")]
pub struct MessageError {
    pub to: String,
    pub why: String,
}

/// What signs a message: the key for the readers' links, and DKIM.
#[derive(Debug, Clone)]
pub struct Signers {
    pub links: Key,
    pub dkim: Option<Arc<Signer>>,
}

/// What a message is for; it decides the subject prefix and Message-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A preview file: the issue as a placeholder reader would get it.
    Preview,
    /// A test send to the editor: `[TEST]` subject, and a Message-ID unique to
    /// this send so that it never collides with the real one.
    Test,
    /// The list send: the Message-ID is derived from issue and reader only,
    /// so a repeated delivery is recognisably the same message.
    List,
}

/// Everything about an issue's message that is the same for every reader.
#[derive(Debug, Clone)]
pub struct Template {
    issue: String,
    subject: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The domain of `from`, for Message-IDs.
    domain: String,
    web: Web,
    /// Makes each reader's unsubscribe token and Message-ID id.
    key: Key,
    /// Signs each message, when `[dkim]` is set.
    dkim: Option<Arc<Signer>>,
    /// The envelope sender: `[bounces] return_path`, or From.
    return_path: Address,
    /// Per-reader return paths (VERP).
    verp: bool,
    unsubscribe_mailto: Option<Address>,
    /// `"HSJ Catch Up" <hsj-catch-up.hsj.example>`.
    list_id: String,
    /// The list id's first label, for `Feedback-ID`.
    list_slug: String,
    boundary: String,
    text: EncodedBody,
    html: EncodedBody,
}

impl Template {
    /// `signers.links` signs the readers' links: the newsletter's secret for
    /// a send, [`Key::preview`] for previews; `signers.dkim` signs messages.
    pub fn new(
        issue: &Issue,
        newsletter: &Newsletter,
        rendered: &Rendered,
        signers: Signers,
    ) -> Template {
        let boundary_seed = format!("{}\n{}", issue.name, issue.subject);
        let boundary: String = Sha256::digest(boundary_seed.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Template {
            issue: issue.name.to_string(),
            subject: issue.subject.clone(),
            from: newsletter.from.clone(),
            reply_to: newsletter.reply_to.clone(),
            domain: newsletter.from.email.domain().to_string(),
            web: newsletter.web.clone(),
            key: signers.links,
            dkim: signers.dkim,
            return_path: newsletter
                .bounces
                .return_path
                .clone()
                .unwrap_or_else(|| newsletter.from.email.clone()),
            verp: newsletter.bounces.verp,
            unsubscribe_mailto: newsletter.unsubscribe.mailto.clone(),
            list_id: format!(
                "\"{}\" <{}>",
                newsletter.name.replace(['"', '\\'], ""),
                newsletter.list_id
            ),
            list_slug: newsletter
                .list_id
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string(),
            boundary: format!("catchup-{boundary}"),
            text: EncodedBody::new(Part::Text, &rendered.text),
            html: EncodedBody::new(Part::Html, &rendered.html),
        }
    }

    /// The reader's own unsubscribe URL, under `[web] base_url`.
    pub fn unsubscribe_url(&self, reader: &Reader) -> String {
        self.web
            .unsubscribe_url_from(&self.key.token(reader.email.as_ref()), &self.issue)
    }

    /// The Message-ID for `reader`, without angle brackets.
    pub fn message_id(&self, reader: &Reader, purpose: Purpose, date: DateTime<Utc>) -> String {
        match purpose {
            Purpose::List | Purpose::Preview => format!(
                "{}.{}@{}",
                self.issue,
                self.key.message_id(reader.email.as_ref()),
                self.domain
            ),
            Purpose::Test => format!(
                "{}.test-{}.{}@{}",
                self.issue,
                date.timestamp(),
                self.key.message_id(reader.email.as_ref()),
                self.domain
            ),
        }
    }

    /// The envelope sender (`MAIL FROM`) for `reader`: the return path, with
    /// the reader's token after a `+` when VERP is on
    /// (`bounces+<token>@hsj.example`), so that returned mail names them.
    pub fn envelope_from(&self, reader: &Reader) -> String {
        if self.verp {
            format!(
                "{}+{}@{}",
                self.return_path.user(),
                self.key.verp_token(reader.email.as_ref()),
                self.return_path.domain()
            )
        } else {
            self.return_path.to_string()
        }
    }

    /// True when each message is DKIM-signed.
    pub fn signs(&self) -> bool {
        self.dkim.is_some()
    }

    /// The sending domain, for EHLO.
    pub fn sending_domain(&self) -> &str {
        self.from.email.domain()
    }

    /// The issue's name, e.g. `2018-07-27`.
    pub fn issue(&self) -> &str {
        &self.issue
    }

    /// The quoted-printable text and HTML bodies for one unsubscribe URL:
    /// what travels on the wire, and what Gmail's clip is measured on.
    pub fn encoded_bodies(&self, unsubscribe_url: &str) -> (Vec<u8>, Vec<u8>) {
        (
            self.text.personalise(unsubscribe_url),
            self.html.personalise(unsubscribe_url),
        )
    }

    /// The whole message for `reader`.
    ///
    /// # Errors
    /// lettre cannot lay out a message for this reader (an address form
    /// [`crate::list::address`] should have refused; never a panic).
    pub fn message(
        &self,
        reader: &Reader,
        purpose: Purpose,
        date: DateTime<Utc>,
    ) -> Result<Vec<u8>, MessageError> {
        let url = self.unsubscribe_url(reader);
        let subject = match purpose {
            Purpose::Test => format!("[TEST] {}", self.subject),
            Purpose::List | Purpose::Preview => self.subject.clone(),
        };
        let mut list_unsubscribe = format!("<{url}>");
        if let Some(mailto) = &self.unsubscribe_mailto {
            // The reader's token after a `+`, in hex as a mail system may
            // give a local part back in any case.
            list_unsubscribe.push_str(&format!(
                ", <mailto:{}+{}@{}?subject=unsubscribe>",
                mailto.user(),
                self.key.verp_token(reader.email.as_ref()),
                mailto.domain()
            ));
        }

        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(reader.mailbox())
            .subject(subject)
            .date(SystemTime::from(date))
            .message_id(Some(format!(
                "<{}>",
                self.message_id(reader, purpose, date)
            )))
            .raw_header(HeaderValue::new(LIST_UNSUBSCRIBE, list_unsubscribe))
            // RFC 8058: one click in the mail client unsubscribes.
            .raw_header(HeaderValue::new(
                LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".into(),
            ))
            .raw_header(HeaderValue::new(LIST_ID, self.list_id.clone()));
        // Gmail's feedback loop reports complaints per Feedback-ID (issue,
        // list, kind, sender); a test send is no campaign.
        if purpose != Purpose::Test {
            builder = builder.raw_header(HeaderValue::new(
                FEEDBACK_ID,
                format!(
                    "{}:{}:newsletter:{}",
                    self.issue, self.list_slug, self.domain
                ),
            ));
        }
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let part = |content_type: ContentType, body: Vec<u8>| {
            SinglePart::builder()
                .header(content_type)
                .body(Body::dangerous_pre_encoded(
                    body,
                    ContentTransferEncoding::QuotedPrintable,
                ))
        };
        let (text, html) = self.encoded_bodies(&url);
        let parts = MultiPart::alternative()
            .boundary(self.boundary.clone())
            .singlepart(part(ContentType::TEXT_PLAIN, text))
            .singlepart(part(ContentType::TEXT_HTML, html))
            .formatted();
        // lettre writes a multipart's Content-Type as part of its body, where
        // its DKIM signer cannot see it. So the parts go in as the body, and
        // the Content-Type goes up among the message's own headers, signed.
        let body = parts
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&parts[..], |at| &parts[at + 4..]);
        let fail = |e: &dyn std::fmt::Display| MessageError {
            to: reader.email.to_string(),
            why: e.to_string(),
        };
        let content_type = ContentType::parse(&format!(
            "multipart/alternative; boundary=\"{}\"",
            self.boundary
        ))
        .map_err(|e| fail(&e))?;
        let message = builder
            .header(content_type)
            .header(MIME_VERSION_1_0)
            .body(Body::dangerous_pre_encoded(
                body.to_vec(),
                ContentTransferEncoding::SevenBit,
            ))
            .map_err(|e| fail(&e))?;
        let message = message.formatted();
        Ok(match &self.dkim {
            Some(dkim) => dkim.sign(&message, crate::clock::wall()),
            None => message,
        })
    }
}

const LIST_UNSUBSCRIBE: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe");
const LIST_ID: HeaderName = HeaderName::new_from_ascii_str("List-Id");
const FEEDBACK_ID: HeaderName = HeaderName::new_from_ascii_str("Feedback-ID");
const LIST_UNSUBSCRIBE_POST: HeaderName = HeaderName::new_from_ascii_str("List-Unsubscribe-Post");

/// A body, quoted-printable encoded once, with the lines that carry the
/// placeholder kept raw for per-reader encoding.
#[derive(Debug, Clone)]
struct EncodedBody {
    part: Part,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    /// Encoded bytes, the same for every reader.
    Fixed(Vec<u8>),
    /// One raw line holding the placeholder.
    Personal(String),
}

impl EncodedBody {
    /// Line breaks become CRLF first (canonical for MIME text, and what makes
    /// quoted-printable line-local: the encoder carries no state across a
    /// CRLF, whereas a bare LF is encoded as `=0A` within one long line).
    fn new(part: Part, body: &str) -> EncodedBody {
        let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
        let mut pieces = Vec::new();
        let mut fixed = String::new();
        for line in body.split_inclusive('\n') {
            if line.contains(UNSUBSCRIBE_PLACEHOLDER) {
                if !fixed.is_empty() {
                    pieces.push(Piece::Fixed(quoted_printable::encode(&fixed)));
                    fixed.clear();
                }
                pieces.push(Piece::Personal(line.to_string()));
            } else {
                fixed.push_str(line);
            }
        }
        if !fixed.is_empty() {
            pieces.push(Piece::Fixed(quoted_printable::encode(&fixed)));
        }
        EncodedBody { part, pieces }
    }

    /// The encoded body with a reader's unsubscribe URL in place of the
    /// placeholder.
    fn personalise(&self, value: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.pieces
                .iter()
                .map(|p| match p {
                    Piece::Fixed(bytes) => bytes.len(),
                    Piece::Personal(line) => line.len() * 2,
                })
                .sum(),
        );
        for piece in &self.pieces {
            match piece {
                Piece::Fixed(bytes) => out.extend_from_slice(bytes),
                Piece::Personal(line) => out.extend_from_slice(&quoted_printable::encode(
                    personalise(self.part, line, value),
                )),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personalising_pieces_equals_encoding_the_whole_body() {
        let long = "é".repeat(60);
        let body = format!(
            "<p style=\"a:b\">{long}</p>\ntrailing space \n<a href=\"{UNSUBSCRIBE_PLACEHOLDER}\">x</a>\nlast line {long}\n{UNSUBSCRIBE_PLACEHOLDER}"
        );
        let value = "https://hsj.example/u?e=a%40b.example&i=2018";
        let encoded = EncodedBody::new(Part::Html, &body);
        assert_eq!(encoded.pieces.len(), 4, "{:?}", encoded.pieces);
        let whole = personalise(Part::Html, &body.replace('\n', "\r\n"), value);
        assert_eq!(
            String::from_utf8(encoded.personalise(value)).expect("ascii"),
            String::from_utf8(quoted_printable::encode(whole)).expect("ascii")
        );
    }
}
