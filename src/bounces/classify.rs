//! What one returned message says, read with mail-parser: which recipients
//! failed and how (a delivery report, a complaint, a plain-text bounce), or
//! that it is not a bounce (an auto-reply, a success report), or that it
//! cannot be understood. It also gathers what ties the message to catchup's
//! own mail (a Message-ID, a token); it knows nothing of the list.

use mail_parser::{Message, MessageParser, MimeHeaders as _, PartType};

use super::reason::{Meaning, Reading, Reason, Stage};
use crate::diagnostic::floor_char_boundary;

/// What marks catchup's own mail inside a returned message.
#[derive(Debug, Clone)]
pub(crate) struct Ours {
    /// The domain of catchup's Message-IDs (the From domain).
    pub message_id_domain: String,
    /// `bounces+` and `@hsj.example` around a VERP token, lowercased.
    pub verp: Option<(String, String)>,
    /// The unsubscribe URL up to its token, lowercased
    /// (`https://news.hsj.example/u/`).
    pub unsubscribe_prefix: String,
}

/// What a message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Recipients whose delivery failed, or who complained.
    Report(Report),
    /// Mail that is not a bounce; why.
    NotABounce(String),
    /// Mail that cannot be read as anything; why.
    NotUnderstood(String),
}

/// A bounce or complaint, and what ties it to catchup's mail.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub findings: Vec<Finding>,
    pub evidence: Evidence,
    /// The report's `Date`.
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

/// One recipient's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// The address the report names, if it names one (complaints are often
    /// redacted).
    pub recipient: Option<String>,
    pub failure: Failure,
    /// The receiving server that refused, if the report names it
    /// (`mx.nhs.example`).
    pub remote: Option<String>,
}

/// How and why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub reason: Reason,
    /// The enhanced status code (`5.1.1`), if the report gives one.
    pub status: Option<String>,
    /// A `5.x.x` status, or the final words of a report without one.
    pub permanent: bool,
    /// Where in the SMTP conversation it failed, if the report says.
    pub stage: Stage,
    /// The words the reason was read from (a Diagnostic-Code, a line of
    /// a plain-text bounce), untrusted.
    pub text: String,
}

impl Failure {
    /// The reader marked the message as spam.
    pub(crate) fn complaint(text: String) -> Failure {
        Failure {
            reason: Reason::Complaint,
            status: None,
            permanent: true,
            stage: Stage::Unsaid,
            text,
        }
    }

    /// A delivery failure read from its words and status code; where in
    /// the conversation it came from the words, or failing that from
    /// `context` (what the rest of the report says).
    pub(crate) fn read(
        text: &str,
        context: Stage,
        status: Option<String>,
        permanent: bool,
    ) -> Failure {
        Failure::from_reading(text, Reading::of(text), context, status, permanent)
    }

    /// The same, from `text`'s reading made before.
    fn from_reading(
        text: &str,
        reading: Reading,
        context: Stage,
        status: Option<String>,
        permanent: bool,
    ) -> Failure {
        let stage = reading.stage.or(context);
        let reason = reading.reason(status.as_deref()).at(stage);
        // Without a status, words that say it may pass ("try again")
        // make it temporary.
        let permanent = match status.as_deref() {
            Some(status) => status.starts_with('5'),
            None => permanent && !reading.temporary,
        };
        Failure {
            permanent: permanent && reason.final_at(stage, status.as_deref()),
            stage,
            reason,
            status,
            text: one_line(text),
        }
    }

    pub(crate) fn meaning(&self) -> Meaning {
        self.reason.meaning(self.permanent)
    }

    /// The status code, or `-` where there is none.
    pub(crate) fn status_or_dash(&self) -> &str {
        self.status.as_deref().unwrap_or("-")
    }
}

/// Catchup's own marks found in the message, in the order found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    pub message_ids: Vec<OurMessageId>,
    /// Unsubscribe tokens, from a VERP address or an unsubscribe link.
    pub tokens: Vec<String>,
}

/// A Message-ID catchup made: `<issue>.<reader id>@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OurMessageId {
    pub issue: String,
    pub reader: u64,
}

/// Parses one message, once: what is too many parts or too deep to be a
/// report is refused before the parser sees it.
///
/// # Errors
/// The verdict for a message that cannot be read at all.
pub(crate) fn parse(raw: &[u8]) -> Result<Message<'_>, Verdict> {
    // A parsed part costs far more than its bytes: 40 MB of empty parts
    // took 1.5 GB to parse. No report has more than a handful of parts.
    // The parser decodes a base64 or quoted-printable enclosed message and
    // reads the parts inside it, so what is inside encoded text counts too.
    let shape = Shape::of(raw, MAX_DECODED_DEPTH);
    if shape.parts > MAX_PARTS {
        return Err(Verdict::NotUnderstood(format!(
            "it has more than {MAX_PARTS} MIME parts, more than any report has"
        )));
    }
    // Each enclosed message is a level of recursion in the parser: 50,000
    // of them (1.5 MB) overflowed the stack.
    if shape.enclosed > MAX_ENCLOSED {
        return Err(Verdict::NotUnderstood(format!(
            "it encloses more than {MAX_ENCLOSED} messages one inside another, more than any report does"
        )));
    }
    MessageParser::default()
        .parse(raw)
        .filter(|message| !message.headers().is_empty())
        .ok_or_else(|| Verdict::NotUnderstood("it is not a mail message (no headers)".into()))
}

/// Catchup's marks in some text (a notification's copy of the headers).
pub(crate) fn evidence_in(bytes: &[u8], ours: &Ours) -> Evidence {
    let mut evidence = Evidence::default();
    scan(bytes, ours, &mut evidence);
    evidence
}

/// Catchup's marks anywhere in a message.
pub(crate) fn evidence(message: &Message<'_>, ours: &Ours) -> Evidence {
    let mut evidence = Evidence::default();
    gather(message, ours, &mut evidence, 0);
    evidence
}

/// What one parsed message means.
pub(crate) fn classify(message: &Message<'_>, ours: &Ours) -> Verdict {
    let evidence = evidence(message, ours);
    let verdict = match report_type(message).as_deref() {
        Some("delivery-status" | "global-delivery-status") => bounce(message),
        Some("feedback-report") => complaint(message),
        // A report that does not say its type: its parts say.
        Some("") if part_of_type(message, &["feedback-report"]).is_some() => complaint(message),
        Some("") => bounce(message),
        Some("disposition-notification") => Err(Verdict::NotABounce("a read receipt".into())),
        Some(other) => Err(Verdict::NotABounce(format!(
            "a `{}` report, not about a delivery",
            super::printable(other)
        ))),
        None if is_auto_reply(message) && !from_mailer_daemon(message) => Err(Verdict::NotABounce(
            "an automatic reply (out of office)".into(),
        )),
        None if super::notification::is_in_mail(message) => super::notification::in_mail(message),
        None if is_old_hotmail_complaint(message) => Ok(Report {
            findings: vec![Finding {
                recipient: original_recipient(message),
                failure: Failure::complaint("a complaint in Hotmail's old form".into()),
                remote: None,
            }],
            ..Report::default()
        }),
        None if looks_like_bounce(message) => bounce(message),
        // A delivery-status part says it, whatever the message around it
        // (McAfee's gateway sends them in multipart/mixed).
        None if part_of_type(message, &["delivery-status", "global-delivery-status"]).is_some() => {
            bounce(message)
        }
        None if is_auto_reply(message) => Err(Verdict::NotABounce(
            "an automatic message that reports no failure".into(),
        )),
        None => Err(Verdict::NotUnderstood(
            "neither a delivery report, a complaint nor a bounce".into(),
        )),
    };
    match verdict {
        Ok(mut report) => {
            report.evidence = evidence;
            report.date = message
                .date()
                .and_then(|d| chrono::DateTime::from_timestamp(d.to_timestamp(), 0));
            Verdict::Report(report)
        }
        Err(verdict) => verdict,
    }
}

/// The `report-type` of a `multipart/report`.
fn report_type(message: &Message<'_>) -> Option<String> {
    let content_type = message.content_type()?;
    (content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report")))
    .then(|| {
        content_type
            .attribute("report-type")
            .unwrap_or("")
            .to_ascii_lowercase()
    })
}

/// The decoded body of the first part of type `message/<subtype>`.
fn part_of_type<'m>(message: &'m Message<'_>, subtypes: &[&str]) -> Option<&'m [u8]> {
    message.parts.iter().find_map(|part| {
        let content_type = part.content_type()?;
        let wanted = content_type.ctype().eq_ignore_ascii_case("message")
            && content_type
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|w| s.eq_ignore_ascii_case(w)));
        wanted.then(|| part.contents())
    })
}

/// A bounce: read from its RFC 3464 status fields (a status per
/// recipient) where it has them, in a part of their own or in its text,
/// and from its words where it has none or they name no recipient.
fn bounce(message: &Message<'_>) -> Result<Report, Verdict> {
    let inline;
    let status = match part_of_type(message, &["delivery-status", "global-delivery-status"]) {
        Some(part) => part,
        None => match inline_status(message) {
            Some(found) => {
                inline = found;
                inline.as_bytes()
            }
            None => return plain_bounce(message),
        },
    };
    let words = Words::of(message);
    let mut report = Report::default();
    let mut delivered = 0;
    let mut delayed = 0;
    let blocks = field_blocks(status);
    let recipients = Recipients::of(
        &blocks
            .iter()
            .filter_map(block_recipient)
            .collect::<Vec<_>>(),
    );
    for block in blocks {
        let Some(recipient) = block_recipient(&block) else {
            continue; // the per-message block
        };
        let action = field(&block, "Action")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let diagnostic = field(&block, "Diagnostic-Code")
            .map(|d| diagnostic_text(&d))
            .unwrap_or_default();
        let code = field(&block, "Status")
            .and_then(|s| status_code(&s))
            .filter(|c| !c.ends_with(".0.0") || status_in_text(&diagnostic).is_none())
            .or_else(|| status_in_text(&diagnostic));
        match action.as_str() {
            "delivered" | "relayed" | "expanded" => delivered += 1,
            // A warning: the server is still trying, and reports a failure
            // if it gives up.
            "delayed" => delayed += 1,
            _ if code.as_deref().is_some_and(|c| c.starts_with('2')) => delivered += 1,
            _ => {
                // The diagnostic and the status decide; the report's own
                // words about this recipient only where they say nothing.
                let about = words.about(&recipient, &recipients);
                // A vague status (`5.0.0`, as Exim writes) yields to the
                // code the diagnostic or the report's words give.
                let code = sharper(code, about.status.clone());
                let mut failure =
                    Failure::read(&diagnostic, about.reading.stage, code.clone(), true);
                if failure.reason == Reason::Unknown && !about.text.is_empty() {
                    // The text is only shown: its first line is enough.
                    let shown =
                        &about.text[..floor_char_boundary(&about.text, 1024.min(about.text.len()))];
                    let text = format!("{diagnostic} / {shown}");
                    let reading = Reading::of(&diagnostic).or(about.reading);
                    failure = Failure::from_reading(
                        text.trim_start_matches(" / "),
                        reading,
                        about.reading.stage,
                        code,
                        true,
                    );
                }
                let remote = field(&block, "Remote-MTA")
                    .map(|value| diagnostic_text(&value))
                    .or_else(|| remote_host(&failure.text))
                    .or_else(|| about.remote.clone());
                report.findings.push(Finding {
                    recipient: Some(recipient),
                    failure,
                    remote,
                });
            }
        }
    }
    if report.findings.is_empty() {
        return if delayed > 0 {
            Err(Verdict::NotABounce(
                "a delay warning: the server is still trying, and will report if it gives up"
                    .into(),
            ))
        } else if delivered > 0 {
            Err(Verdict::NotABounce(
                "a delivery report that says the mail was delivered".into(),
            ))
        } else {
            plain_bounce(message)
        };
    }
    Ok(report)
}

/// The recipient a block of status fields is about, if it is about one.
fn block_recipient(block: &Message<'_>) -> Option<String> {
    field(block, "Final-Recipient")
        .or_else(|| field(block, "Original-Recipient"))
        .map(|value| recipient_address(&value))
}

/// Status fields written into a report's text, as some mail systems (and
/// reports whose MIME boundaries were lost) have them: from the first line
/// that starts `Reporting-MTA:` or `Final-Recipient:` on.
fn inline_status(message: &Message<'_>) -> Option<String> {
    let text = all_text(message);
    let lower = text.to_ascii_lowercase();
    let start = ["\nreporting-mta:", "\nfinal-recipient:"]
        .iter()
        .filter_map(|field| lower.find(field))
        .min()?;
    Some(text[start + 1..].to_string())
}

/// `smtp; 550 5.1.1 ...` → `550 5.1.1 ...`.
fn diagnostic_text(value: &str) -> String {
    let text = match value.split_once(';') {
        Some((kind, rest)) if !kind.contains(' ') => rest,
        _ => value,
    };
    text.trim().to_string()
}

/// An RFC 5965 feedback report: the reader marked the message as spam.
fn complaint(message: &Message<'_>) -> Result<Report, Verdict> {
    let Some(feedback) = part_of_type(message, &["feedback-report"]) else {
        return Err(Verdict::NotUnderstood(
            "a complaint report without its feedback-report part".into(),
        ));
    };
    let Some(fields) = field_blocks(feedback).into_iter().next() else {
        return Err(Verdict::NotUnderstood(
            "an empty feedback-report part".into(),
        ));
    };
    let kind = field(&fields, "Feedback-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    match kind.as_str() {
        // `opt-out`: the reader asked to be taken off, through their
        // provider.
        "abuse" | "fraud" | "virus" | "other" | "opt-out" => {}
        "not-spam" => {
            return Err(Verdict::NotABounce(
                "a feedback report that says the mail is not spam".into(),
            ));
        }
        "" => {
            return Err(Verdict::NotUnderstood(
                "a feedback report without a Feedback-Type".into(),
            ));
        }
        other => {
            return Err(Verdict::NotABounce(format!(
                "a `{}` feedback report, not a complaint",
                super::printable(other)
            )));
        }
    }
    // A report about a message sent to several readers names each.
    let mut recipients: Vec<Option<String>> = fields
        .header_values("Original-Rcpt-To")
        .filter_map(|v| v.as_text())
        .map(|value| Some(recipient_address(value)))
        .collect();
    if recipients.is_empty() {
        recipients.push(original_recipient(message));
    }
    Ok(Report {
        findings: recipients
            .into_iter()
            .map(|recipient| Finding {
                recipient,
                failure: Failure::complaint(format!("Feedback-Type: {kind}")),
                remote: None,
            })
            .collect(),
        ..Report::default()
    })
}

/// The `To` of the original message a report carries, whole or as its
/// headers alone, if it carries one.
fn original_recipient(message: &Message<'_>) -> Option<String> {
    let first_to = |original: &Message<'_>| {
        original
            .to()
            .and_then(|to| to.first())
            .and_then(|a| a.address())
            .map(str::to_string)
    };
    message.parts.iter().find_map(|part| match &part.body {
        PartType::Message(original) => first_to(original),
        PartType::Text(text) if is_headers_part(part) => MessageParser::default()
            .parse_headers(text.as_bytes())
            .and_then(|headers| first_to(&headers)),
        _ => None,
    })
}

fn is_headers_part(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
    })
}

/// A report's human-readable text (its text parts, up to the copy of the
/// original message they may quote, at most `MAX_WORDS` of it), read once
/// for all its recipients: what it says as a whole, and a lowercase copy to
/// find each recipient's part in.
struct Words {
    text: String,
    lower: String,
    /// What the whole text says, read once (its own text left empty:
    /// [`Words::whole`] lends `text`).
    whole: About<'static>,
}

/// What a report's words say of one recipient: their part of the text,
/// or where that says nothing, the whole.
#[derive(Clone)]
struct About<'w> {
    text: std::borrow::Cow<'w, str>,
    reading: Reading,
    status: Option<String>,
    remote: Option<String>,
}

/// Real reports' words run to a few kilobytes; beyond this they are not
/// read, so that a report's cost grows with its size only once.
const MAX_WORDS: usize = 64 * 1024;

impl Words {
    fn of(message: &Message<'_>) -> Words {
        let all = all_text(message);
        let mut text = before_quoted_original(&all);
        if text.len() > MAX_WORDS {
            text = &text[..floor_char_boundary(text, MAX_WORDS)];
        }
        let text = text.to_string();
        Words {
            lower: text.to_ascii_lowercase(),
            whole: About {
                text: std::borrow::Cow::Borrowed(""),
                ..About::of(std::borrow::Cow::Borrowed(text.as_str()))
            }
            .into_static(),
            text,
        }
    }

    /// What the words say of `recipient`: from the line that names them to
    /// the next blank line after some text, or the next line that starts
    /// with another of the report's `recipients`, or the end; where that
    /// says nothing of why, the whole text.
    fn about(&self, recipient: &str, recipients: &Recipients) -> About<'_> {
        let whole = || self.whole();
        let recipient = recipient.to_ascii_lowercase();
        let Some(at) = memchr::memmem::find(self.lower.as_bytes(), recipient.as_bytes()) else {
            return whole();
        };
        // A recipient's words are a few lines: at most `MAX_ABOUT` bytes
        // of them, from the start of their line (or a little before them
        // on a long one).
        let line_start = self.lower[..at].rfind('\n').map_or(0, |i| i + 1);
        let start = floor_char_boundary(&self.text, line_start.max(at.saturating_sub(256)));
        let limit = floor_char_boundary(&self.text, (start + MAX_ABOUT).min(self.text.len()));
        let mut end = limit;
        let mut seen_text = false;
        let mut offset = start;
        for line in self.lower[start..limit].split_inclusive('\n') {
            let past = offset > at + recipient.len();
            let blank = line.trim().is_empty();
            let another = past && recipients.start(line, &recipient);
            if past && ((blank && seen_text) || another) {
                end = offset;
                break;
            }
            seen_text |= !blank && offset > at;
            offset += line.len();
        }
        let part = &self.text[start..end];
        let mut about = About::of(std::borrow::Cow::Borrowed(part));
        // Where in the conversation: this part says, or where the report
        // is about one recipient alone, its whole text (another
        // recipient's transcript says nothing of this one's).
        if recipients.len() <= 1 {
            about.reading.stage = about.reading.stage.or(self.whole.reading.stage);
        }
        // A line naming the recipient alone says nothing of why.
        if about.reading.says().is_none() && about.status.is_none() {
            whole()
        } else {
            about
        }
    }
}

impl Words {
    /// What the whole text says, with the text.
    fn whole(&self) -> About<'_> {
        About {
            text: std::borrow::Cow::Borrowed(self.text.as_str()),
            ..self.whole.clone()
        }
    }
}

impl About<'_> {
    /// The same, owning nothing borrowed (its text is empty or owned).
    fn into_static(self) -> About<'static> {
        About {
            text: std::borrow::Cow::Owned(self.text.into_owned()),
            reading: self.reading,
            status: self.status,
            remote: self.remote,
        }
    }
}

impl<'w> About<'w> {
    fn of(text: std::borrow::Cow<'w, str>) -> About<'w> {
        About {
            reading: Reading::of(&text),
            status: status_in_text(&text),
            remote: remote_host(&text),
            text,
        }
    }
}

/// A report's recipients, lowercased, to find where each one's words end.
struct Recipients(std::collections::HashSet<String>);

/// At most this much of a report's words is about one recipient.
const MAX_ABOUT: usize = 2048;

impl Recipients {
    fn of(recipients: &[String]) -> Recipients {
        Recipients(recipients.iter().map(|r| r.to_ascii_lowercase()).collect())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `line` (lowercased) starts with a recipient other than
    /// `recipient`, past quotes and angle brackets.
    fn start(&self, line: &str, recipient: &str) -> bool {
        let line = line.trim_start_matches(|c: char| c.is_whitespace() || c == '<' || c == '"');
        let first: &str = line
            .split(|c: char| c.is_whitespace() || "<>\"(),;:".contains(c))
            .next()
            .unwrap_or("");
        first != recipient && self.0.contains(first)
    }
}

/// A vague status (`5.0.0`, as Exim writes) yields to a sharper one of
/// the same class that the words give.
fn sharper(code: Option<String>, said: Option<String>) -> Option<String> {
    match (code, said) {
        (Some(vague), Some(said))
            if vague.ends_with(".0.0")
                && !said.ends_with(".0.0")
                && said.as_bytes()[0] == vague.as_bytes()[0] =>
        {
            Some(said)
        }
        (code, _) => code,
    }
}

/// Every text part but a copy of the original's headers, joined, with LF
/// line endings.
fn all_text(message: &Message<'_>) -> String {
    let text: String = message
        .parts
        .iter()
        .filter(|part| !is_headers_part(part))
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Hotmail's complaints before it wrote RFC 5965 reports: the original
/// attached to a message from `staff@hotmail.com`.
fn is_old_hotmail_complaint(message: &Message<'_>) -> bool {
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("");
    from.eq_ignore_ascii_case("staff@hotmail.com")
        && message.subject().is_some_and(|s| {
            s.trim()
                .to_ascii_lowercase()
                .starts_with("complaint about message")
        })
}

/// A bounce in words, as many servers still write them: the recipients
/// from `X-Failed-Recipients` or the text, and for each the reason and
/// status its part of the text gives.
fn plain_bounce(message: &Message<'_>) -> Result<Report, Verdict> {
    let words = Words::of(message);
    let text = &words.text;
    let whole = &words.whole;
    if still_trying(text) && whole.status.as_deref().is_none_or(|c| c.starts_with('4')) {
        return Err(Verdict::NotABounce(
            "a delay warning: the server is still trying, and will report if it gives up".into(),
        ));
    }
    let mut recipients = failed_recipients(message);
    if recipients.is_empty() {
        recipients = addresses_in(text, &own_addresses(message));
    }
    if recipients.is_empty()
        && let Some(original) = original_recipient(message)
    {
        recipients.push(original);
    }
    if let Some(code) = whole.status.as_deref().filter(|c| c.starts_with('2')) {
        return Err(Verdict::NotABounce(format!(
            "a notice with status {code}, not a failure"
        )));
    }
    if whole.status.is_none() && whole.reading.says().is_none() && !permanent_in_words(text) {
        return Err(Verdict::NotUnderstood(
            "a bounce whose text gives neither a status code nor a reason".into(),
        ));
    }
    let listed = Recipients::of(&recipients);
    let findings = if recipients.is_empty() {
        vec![Finding {
            recipient: None,
            failure: Failure::from_reading(
                text,
                whole.reading,
                Stage::Unsaid,
                whole.status.clone(),
                true,
            ),
            remote: whole.remote.clone(),
        }]
    } else {
        recipients
            .iter()
            .map(|recipient| {
                let about = words.about(recipient, &listed);
                // The words about this recipient, where they give a
                // reason; else the whole text's.
                let status = about.status.clone().or_else(|| whole.status.clone());
                let remote = about.remote.clone().or_else(|| whole.remote.clone());
                let about = if about.reading.says().is_some() {
                    about
                } else {
                    words.whole()
                };
                Finding {
                    failure: Failure::from_reading(
                        &about.text,
                        about.reading,
                        Stage::Unsaid,
                        status,
                        true,
                    ),
                    remote,
                    recipient: Some(recipient.clone()),
                }
            })
            .collect()
    };
    Ok(Report {
        findings,
        ..Report::default()
    })
}

/// `X-Failed-Recipients`, which Exim and Gmail write.
fn failed_recipients(message: &Message<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for value in message
        .header_values("X-Failed-Recipients")
        .filter_map(|v| v.as_text())
    {
        for address in value.split(',').take(MAX_RECIPIENTS) {
            let address = address.trim().trim_start_matches('<').trim_end_matches('>');
            if address.contains('@') && found.len() < MAX_RECIPIENTS {
                push_new(&mut found, address.to_string());
            }
        }
    }
    found
}

/// A report names a few recipients, a large one dozens; beyond this many
/// `X-Failed-Recipients` it is read no further.
const MAX_RECIPIENTS: usize = 100;

/// The bounce's own From and To, lowercased: addresses that are not a
/// failed recipient, though the text may name them.
fn own_addresses(message: &Message<'_>) -> Vec<String> {
    [
        message.from(),
        message.to(),
        message
            .header_values("Sender")
            .next()
            .and_then(|v| v.as_address()),
    ]
    .into_iter()
    .flatten()
    .flat_map(|a| a.iter())
    .filter_map(|a| a.address())
    .map(str::to_ascii_lowercase)
    .collect()
}

/// Addresses a report's text names, in order, but the mail system's own
/// and `own`; at most 20.
fn addresses_in(text: &str, own: &[String]) -> Vec<String> {
    let local = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for at in memchr::memchr_iter(b'@', bytes) {
        let start = bytes[..at]
            .iter()
            .rposition(|&b| !local(b))
            .map_or(0, |i| i + 1);
        let end = bytes[at + 1..]
            .iter()
            .position(|&b| !domain(b))
            .map_or(bytes.len(), |i| at + 1 + i);
        let user = text[start..at].trim_matches('.');
        let host = text[at + 1..end].trim_end_matches(['.', '-']);
        if user.is_empty() || !host.contains('.') || host.starts_with('.') {
            continue;
        }
        let address = format!("{user}@{host}");
        let lower = address.to_ascii_lowercase();
        let user = user.to_ascii_lowercase();
        if [
            "mailer-daemon",
            "postmaster",
            "mailer_daemon",
            "mail-daemon",
            "maildaemon",
            "double-bounce",
            "root",
            "noreply",
            "no-reply",
        ]
        .contains(&user.as_str())
            || own.contains(&lower)
            || found
                .iter()
                .any(|f: &String| f.eq_ignore_ascii_case(&address))
        {
            continue;
        }
        found.push(address);
        if found.len() >= 20 {
            break;
        }
    }
    found
}

/// The server a report's words say refused: Postfix's `host mx.x[ip]
/// said:`, Exim's `host mx.x [ip]`.
fn remote_host(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("host ").find_map(|(at, _)| {
        let name: String = lower[at + 5..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        let name = name.trim_end_matches('.');
        (name.contains('.') && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
            .then(|| name.to_string())
    })
}

/// Text on one line, at most 200 characters: what a log or a table shows.
fn one_line(text: &str) -> String {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        if line.len() >= 200 * 4 {
            break;
        }
    }
    line.chars().take(200).collect()
}

/// RFC 3834 and the headers mail systems put on vacation replies.
fn is_auto_reply(message: &Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let subject = message.subject().unwrap_or("").trim().to_lowercase();
    header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("X-Auto-Response-Suppress").is_some_and(|v| v.contains("oof") || v == "all")
        || header("Precedence").is_some_and(|v| v == "auto_reply")
        || [
            "out of office",
            "automatic reply",
            "auto:",
            "autoreply",
            "auto-reply",
        ]
        .iter()
        .any(|p| subject.starts_with(p))
}

fn from_mailer_daemon(message: &Message<'_>) -> bool {
    let from = message.from().and_then(|from| from.first());
    // `MAILER-DAEMON <>`: the name says it where the address is empty.
    let from = from
        .and_then(|a| a.address())
        .filter(|a| !a.is_empty())
        .or_else(|| from.and_then(|a| a.name()))
        .unwrap_or("")
        .to_ascii_lowercase();
    let local = from.split('@').next().unwrap_or("").trim();
    [
        "mailer-daemon",
        "mailer_daemon",
        "postmaster",
        "mail-daemon",
        "maildaemon",
    ]
    .contains(&local)
}

/// From a mail system: a mailer-daemon or postmaster sender, or a bounce's
/// subject on a message with the empty return path (`<>`) that mail
/// systems use. A person's reply ("Re: Returned mail policy") is neither.
fn looks_like_bounce(message: &Message<'_>) -> bool {
    if from_mailer_daemon(message) {
        return true;
    }
    let null_sender = message
        .header_raw("Return-Path")
        .is_some_and(|r| r.trim() == "<>");
    let subject = message.subject().unwrap_or("").to_lowercase();
    null_sender
        && [
            "undeliver",
            "delivery status notification",
            "delivery failure",
            "mail delivery failed",
            "returned mail",
            "failure notice",
            "delivery has failed",
            "could not be delivered",
            "non-delivery",
            "nondeliverable",
        ]
        .iter()
        .any(|p| subject.contains(p))
}

/// At most this many blocks of a report are read (real ones name a few
/// recipients); a larger report is read no further.
const MAX_BLOCKS: usize = 1_000;
/// And at most this much of the part.
const MAX_REPORT_BYTES: usize = 1024 * 1024;

/// The field blocks of a `message/delivery-status` or
/// `message/feedback-report` part (the per-message fields, then one block
/// per recipient, RFC 3464 §2), split at blank lines, each read by
/// mail-parser's header parser. Linear in the part's size.
fn field_blocks(bytes: &[u8]) -> Vec<Message<'_>> {
    let bytes = &bytes[..bytes.len().min(MAX_REPORT_BYTES)];
    let parser = MessageParser::default();
    let mut blocks = Vec::new();
    let mut start = 0;
    let mut line_start = 0;
    let mut has_recipient = false;
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &bytes[line_start..i];
        // Some mail systems leave out the blank line between recipients:
        // a second `Final-Recipient` starts a block of its own.
        let names_recipient =
            line.len() >= 16 && line[..16].eq_ignore_ascii_case(b"final-recipient:");
        if names_recipient && has_recipient {
            push_block(&parser, &bytes[start..line_start], &mut blocks);
            start = line_start;
        }
        has_recipient |= names_recipient;
        line_start = i + 1;
        if line.iter().all(|c| c.is_ascii_whitespace()) {
            has_recipient = false;
            push_block(&parser, &bytes[start..line_start], &mut blocks);
            start = line_start;
            if blocks.len() >= MAX_BLOCKS {
                return blocks;
            }
        }
    }
    push_block(&parser, &bytes[start..], &mut blocks);
    blocks
}

fn push_block<'x>(parser: &MessageParser, block: &'x [u8], blocks: &mut Vec<Message<'x>>) {
    if block.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if let Some(fields) = parser.parse_headers(block)
        && !fields.headers().is_empty()
    {
        blocks.push(fields);
    }
}

/// A field's value, unfolded and trimmed.
fn field(block: &Message<'_>, name: &str) -> Option<String> {
    let raw = block.header_raw(name)?;
    let value = raw
        .split(['\r', '\n'])
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// `rfc822; ann@nhs.example` → `ann@nhs.example`.
fn recipient_address(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// An enhanced status code (`5.1.1`) at the start of `text`.
fn status_code(text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let word = word.trim_matches(|c: char| !c.is_ascii_digit());
    is_enhanced_code(word).then(|| word.to_string())
}

fn is_enhanced_code(word: &str) -> bool {
    let mut parts = word.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(class, "2" | "4" | "5")
        && (1..=3).contains(&subject.len())
        && (1..=3).contains(&detail.len())
        && subject
            .bytes()
            .chain(detail.bytes())
            .all(|b| b.is_ascii_digit())
}

/// A status from the text of a reply: an SMTP reply code followed by an
/// enhanced code (`550 5.1.1`, `550-5.1.1`), a qmail code (`#5.1.1`), or an
/// SMTP reply code alone (`550 No such user` → `5.0.0`). A reply code
/// counts only where a reply starts: at the start of a line, or after
/// `said:`, `RCPT TO:<…>:` or `smtp;`. A bare `x.y.z` is not taken: it
/// could be a version number.
fn status_in_text(text: &str) -> Option<String> {
    let codes: Vec<String> = text.lines().filter_map(status_in_line).collect();
    codes
        .iter()
        .find(|c| !c.ends_with(".0.0"))
        .or(codes.first())
        .cloned()
}

fn status_in_line(line: &str) -> Option<String> {
    let line = line.replace(';', "; ");
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, word) in words.iter().enumerate() {
        if let Some(code) = word.strip_prefix('#').map(trim_punctuation)
            && is_enhanced_code(code)
        {
            return Some(code.to_string());
        }
        let starts_reply = i == 0 || words[i - 1].ends_with(':') || words[i - 1].ends_with(';');
        let Some((reply, rest)) = smtp_reply(word).filter(|_| starts_reply) else {
            continue;
        };
        let next = if rest.is_empty() {
            words.get(i + 1).copied()
        } else {
            Some(rest)
        }
        .map(trim_punctuation);
        if let Some(next) = next
            && is_enhanced_code(next)
            && next.as_bytes()[0] == reply.as_bytes()[0]
        {
            return Some(next.to_string());
        }
        return Some(format!("{}.0.0", &reply[..1]));
    }
    None
}

fn trim_punctuation(word: &str) -> &str {
    word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
}

/// The text of a plain-text bounce before the copy of the original message
/// it quotes: the newsletter's own text may hold numbers that read like
/// reply codes.
fn before_quoted_original(text: &str) -> &str {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        let lower = line.trim().to_ascii_lowercase();
        // A marker line: the phrase on a ruled line (`----- ... -----`),
        // a line that says what follows, or a short line of its own; not
        // a sentence that mentions "the attached returned message".
        let marker =
            lower.starts_with(['-', '=', '*', '_']) || lower.contains("follow") || lower.len() < 50;
        let quoting = marker
            && [
                "copy of the message",
                "original message",
                "below this line",
                "message headers follow",
                "headers follow",
                "returned message",
                "unsent message",
                "first lines of the message",
                "lines of the message",
                "message follows",
            ]
            .iter()
            .any(|p| lower.contains(p))
            // A quoted line, but not a transcript's `>>> RCPT TO`.
            || (lower.starts_with('>') && !lower.starts_with(">>>"))
            || ["received:", "return-path:", "message-id:", "content-type:"]
                .iter()
                .any(|h| lower.starts_with(h));
        if quoting {
            break;
        }
        end += line.len();
    }
    &text[..end]
}

/// `550` or `550-…`: a 4xx or 5xx reply code, and what follows a `-`.
fn smtp_reply(word: &str) -> Option<(&str, &str)> {
    let (code, rest) = match word.split_once('-') {
        Some((code, rest)) => (code, rest),
        None => (word, ""),
    };
    (code.len() == 3
        && matches!(code.as_bytes()[0], b'4' | b'5')
        && code.bytes().all(|b| b.is_ascii_digit()))
    .then_some((code, rest))
}

/// The words of a delay warning (Exim's "has not yet been delivered",
/// Postfix's "THIS IS A WARNING ONLY").
fn still_trying(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "not yet been delivered",
        "warning only",
        "will be retried",
        "still trying",
        "will keep trying",
        "delivery is delayed",
        "delivery delayed",
    ]
    .iter()
    .any(|p| text.contains(p))
}

/// Words that say a failure may pass.
/// The words Exim and qmail use for a permanent failure with no code.
fn permanent_in_words(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "permanent error",
        "permanent failure",
        "failed permanently",
        "permanently",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// Collects catchup's marks from every header and part, nested messages
/// included.
fn gather(message: &Message<'_>, ours: &Ours, evidence: &mut Evidence, depth: usize) {
    if depth > 8 {
        return;
    }
    let raw = message.raw_message();
    let header_end = (message.root_part().offset_body as usize).min(raw.len());
    scan(&raw[..header_end], ours, evidence);
    for part in &message.parts {
        match &part.body {
            PartType::Text(text) | PartType::Html(text) => scan(text.as_bytes(), ours, evidence),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                scan(bytes, ours, evidence);
            }
            PartType::Message(nested) => gather(nested, ours, evidence, depth + 1),
            PartType::Multipart(_) => {}
        }
    }
}

/// Finds catchup's Message-IDs and tokens in `bytes`.
fn scan(bytes: &[u8], ours: &Ours, evidence: &mut Evidence) {
    let lower = bytes.to_ascii_lowercase();
    let at_domain = format!("@{}>", ours.message_id_domain.to_ascii_lowercase());
    for end in memchr::memmem::find_iter(&lower, at_domain.as_bytes()) {
        if let Some(id) = message_id_before(&bytes[..end]) {
            push_new(&mut evidence.message_ids, id);
        }
    }
    // A token: 22 characters of base64url (links, and VERP paths before
    // they were hex), or 32 hex digits (VERP, in whatever case a mail
    // system gave the local part back).
    let mut token_after = |prefix: &str, suffix: &str, forms: &[usize]| {
        for start in memchr::memmem::find_iter(&lower, prefix.as_bytes()) {
            let from = start + prefix.len();
            for &len in forms {
                let Some(token) = bytes.get(from..from + len) else {
                    continue;
                };
                let closed = lower
                    .get(from + len..)
                    .is_some_and(|after| after.starts_with(suffix.as_bytes()));
                let alphabet = |b: &u8| match len {
                    32 => b.is_ascii_hexdigit(),
                    _ => b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_',
                };
                if closed && token.iter().all(alphabet) {
                    push_new(
                        &mut evidence.tokens,
                        String::from_utf8_lossy(token).into_owned(),
                    );
                }
            }
        }
    };
    if let Some((user, domain)) = &ours.verp {
        token_after(&format!("{user}+"), &format!("@{domain}"), &[32, 22]);
    }
    token_after(&ours.unsubscribe_prefix, "", &[22]);
}

/// More MIME parts than this, and a message is not read at all.
const MAX_PARTS: usize = 1000;
/// More enclosed messages than this (`message/rfc822`, `message/global`,
/// a `multipart/digest`'s parts; counted from every Content-Type that
/// names one, however it is written), and a message is not read at all: a report encloses one, a forwarded
/// report two or three.
const MAX_ENCLOSED: usize = 20;

/// How many parts say they are a message (`message/rfc822` or
/// `message/global`, in any case); at most `MAX_ENCLOSED + 1` are looked
/// for.
/// What a message holds, counted without parsing it: its MIME parts and
/// its enclosed messages, in its bytes and, as the parser decodes them, in
/// its base64 and quoted-printable text, `depth` levels down.
#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    parts: usize,
    enclosed: usize,
}

/// The parser decodes an enclosed message at most this deep (mail-parser's
/// `MAX_NESTED_ENCODED`).
const MAX_DECODED_DEPTH: usize = 3;

impl Shape {
    fn of(raw: &[u8], depth: usize) -> Shape {
        let mut shape = Shape {
            parts: part_boundaries(raw),
            enclosed: enclosed_messages(raw),
        };
        if depth == 0 || shape.too_much() {
            return shape;
        }
        for decoded in encoded_runs(raw) {
            let inner = Shape::of(&decoded, depth - 1);
            shape.parts += inner.parts;
            shape.enclosed += inner.enclosed;
            if shape.too_much() {
                break;
            }
        }
        shape
    }

    fn too_much(&self) -> bool {
        self.parts > MAX_PARTS || self.enclosed > MAX_ENCLOSED
    }
}

/// What the parser could decode: each run of base64 lines, and the whole
/// text read as quoted-printable where it has soft line breaks or escapes.
fn encoded_runs(raw: &[u8]) -> Vec<Vec<u8>> {
    let is_base64_line = |line: &[u8]| {
        line.len() >= 8
            && line
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    };
    let mut runs = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if is_base64_line(line) {
            run.extend_from_slice(line);
        } else if !run.is_empty() {
            runs.extend(decode_base64(&run));
            run.clear();
        }
    }
    runs.extend(decode_base64(&run));
    let quoted = memchr::memmem::find(raw, b"=\n").is_some()
        || memchr::memmem::find(raw, b"=\r\n").is_some()
        || memchr::memmem::find(raw, b"=3").is_some();
    if quoted
        && let Ok(decoded) = quoted_printable::decode(raw, quoted_printable::ParseMode::Robust)
        && decoded != raw
    {
        runs.push(decoded);
    }
    runs
}

/// A run of base64 lines, decoded as far as it decodes; a short one is
/// not worth it.
fn decode_base64(run: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    if run.len() < 64 {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let clean: Vec<u8> = run.iter().copied().filter(|&b| b != b'=').collect();
    engine.decode(&clean[..clean.len() - clean.len() % 4]).ok()
}

fn enclosed_messages(raw: &[u8]) -> usize {
    let mut found = 0;
    let mut in_content_type = false;
    for line in raw.split(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if !folded {
            in_content_type = is_content_type(line);
        }
        if in_content_type && encloses(line) {
            found += 1;
            if found > MAX_ENCLOSED {
                break;
            }
        }
    }
    found
}

/// Whether `line` starts a Content-Type header as the parser reads header
/// names: in any case, white space anywhere in the name or before its
/// colon left out (`Con tent-Type :`, a form feed before it).
fn is_content_type(line: &[u8]) -> bool {
    const NAME: &[u8] = b"content-type";
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let mut name = line[..colon]
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && **b != 0x0b);
    NAME.iter()
        .all(|want| name.next().is_some_and(|b| b.eq_ignore_ascii_case(want)))
        && name.next().is_none()
}

/// Whether a line of a Content-Type names a type that mail-parser reads
/// as a message inside the message, however the type is spelt between
/// its words (`message / (a comment) RFC822`): its words alone count.
fn encloses(line: &[u8]) -> bool {
    line.split(|b| !b.is_ascii_alphanumeric()).any(|word| {
        [&b"rfc822"[..], b"global", b"digest"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
    })
}

/// Lines that could be MIME boundaries (they start with `--`), counted
/// without parsing; at most `MAX_PARTS + 1` are looked for.
fn part_boundaries(raw: &[u8]) -> usize {
    let starts = usize::from(raw.starts_with(b"--"));
    starts
        + memchr::memmem::find_iter(raw, b"\n--")
            .take(MAX_PARTS + 1)
            .count()
}

/// The Message-ID whose `@` is at the end of `before`: `<issue>.<16 hex>`
/// or `<issue>.test-<time>.<16 hex>`.
fn message_id_before(before: &[u8]) -> Option<OurMessageId> {
    let start = before
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'))?;
    if before[start] != b'<' || before.len() - start > 120 {
        return None;
    }
    let local = std::str::from_utf8(&before[start + 1..]).ok()?;
    let (rest, reader) = local.rsplit_once('.')?;
    if reader.len() != 16 {
        return None;
    }
    let reader = u64::from_str_radix(reader, 16).ok()?;
    let issue = rest.split_once(".test-").map_or(rest, |(issue, _)| issue);
    Some(OurMessageId {
        issue: issue.to_string(),
        reader,
    })
}

fn push_new<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if items.len() < 100 && !items.contains(&item) {
        items.push(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_read_from_reply_text_but_not_from_version_numbers() {
        assert_eq!(
            status_in_text("host said: 550 5.1.1 <ann@x>: user unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            status_in_text("550-5.1.1 The email account does not exist").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            status_in_text("Sorry, no mailbox here by that name. (#5.1.1)").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(status_in_text("452 Mailbox full").as_deref(), Some("4.0.0"));
        assert_eq!(
            status_in_text("smtp; 421 4.7.0 try again later").as_deref(),
            Some("4.7.0")
        );
        assert_eq!(status_in_text("Postfix 3.7.2 on port 25"), None);
        assert_eq!(status_in_text("sent 2 messages at 10:50"), None);
        assert_eq!(
            status_in_text("The trust saved 550 beds"),
            None,
            "not where a reply starts"
        );
        assert_eq!(
            status_in_text("SMTP error from remote mail server after RCPT TO:<ann@x>:\n    550 Unrouteable address").as_deref(),
            Some("5.0.0")
        );
        assert_eq!(
            status_code("5.1.1 (bad destination mailbox)").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(status_code("not a code"), None);
    }

    #[test]
    fn a_code_alone_is_hard_only_where_it_says_the_address_is_bad() {
        let meaning = |code: &str| {
            Failure::read("delivery failed", Stage::Unsaid, Some(code.into()), true).meaning()
        };
        for hard in ["5.1.1", "5.1.10", "5.4.4", "5.1.2"] {
            assert_eq!(meaning(hard), Meaning::Hard, "{hard}");
        }
        for soft in [
            "5.0.0", "5.2.1", "5.2.2", "5.3.4", "4.2.2", "4.4.1", "4.1.1",
        ] {
            assert_eq!(meaning(soft), Meaning::Soft, "{soft}");
        }
        for sender in ["5.7.1", "5.7.26", "5.1.8"] {
            assert_eq!(meaning(sender), Meaning::NotTheReader, "{sender}");
        }
    }

    #[test]
    fn the_words_and_the_stage_decide_what_a_refusal_means() {
        let read = |text: &str| {
            let status = status_in_text(text);
            let failure = Failure::read(text, Stage::Unsaid, status, true);
            (failure.reason, failure.meaning())
        };
        let cases = [
            (
                "550 5.0.0 Mail from your server is blocked",
                Reason::Blocked,
                Meaning::NotTheReader,
            ),
            (
                "550 5.1.1 <ann@x>: Recipient address rejected: User unknown",
                Reason::UserUnknown,
                Meaning::Hard,
            ),
            ("550 No such user here", Reason::UserUnknown, Meaning::Hard),
            // Before any recipient was named: the sender was refused.
            (
                "SMTP error from remote mail server after MAIL FROM:<b@hsj.example>:\n553 5.1.0 does not exist",
                Reason::Blocked,
                Meaning::NotTheReader,
            ),
            // After the message: a content filter may say "user unknown".
            (
                "550 Unknown user ann@x (in reply to end of DATA command)",
                Reason::UserUnknown,
                Meaning::Soft,
            ),
            (
                ">>> DATA\n<<< 550 Unknown user ann@x",
                Reason::UserUnknown,
                Meaning::Soft,
            ),
            (
                "Host not found, try again",
                Reason::HostUnknown,
                Meaning::Soft,
            ),
            ("452 4.2.2 Mailbox full", Reason::MailboxFull, Meaning::Soft),
            // "User unknown" under a code that says the mailbox exists, or
            // that the refusal is of policy: a filter's answer.
            ("550 5.2.0 User unknown", Reason::UserUnknown, Meaning::Soft),
            (
                "550 5.7.1 <ann@x>: Recipient address rejected: User unknown",
                Reason::UserUnknown,
                Meaning::Soft,
            ),
            // Unless it came at RCPT TO.
            (
                "550 5.7.1 User unknown (in reply to RCPT TO command)",
                Reason::UserUnknown,
                Meaning::Hard,
            ),
            // m-FILTER's way of saying after the message.
            (
                "-------server message\n550 unknown user <ann@x>\n\n-------SMTP command\nDATA",
                Reason::UserUnknown,
                Meaning::Soft,
            ),
            // The answer to QUIT says nothing of the delivery.
            (
                "550 Host unknown\n>>> QUIT\n<<< 421 closing",
                Reason::HostUnknown,
                Meaning::Hard,
            ),
        ];
        for (text, reason, meaning) in cases {
            assert_eq!(read(text), (reason, meaning), "{text}");
        }
    }

    #[test]
    fn each_recipients_words_end_where_the_next_recipients_begin() {
        // GMX writes no blank line between recipients.
        let raw = "From: MAILER-DAEMON@gmx.example\nSubject: Mail delivery failed\n\n\
            \"ann@x.example\":\nSMTP error from remote server after RCPT command:\n\
            5.1.1 <ann@x.example>... User Unknown\n\
            \"bob@x.example\":\nSMTP error from remote server after RCPT command:\n\
            5.2.2 <bob@x.example>... Mailbox Full\n";
        let message = parse(raw.as_bytes()).unwrap();
        let words = Words::of(&message);
        let recipients =
            Recipients::of(&["ann@x.example".to_string(), "bob@x.example".to_string()]);
        assert_eq!(
            words.about("ann@x.example", &recipients).text,
            "\"ann@x.example\":\nSMTP error from remote server after RCPT command:\n5.1.1 <ann@x.example>... User Unknown\n"
        );
        assert_eq!(
            words.about("BOB@x.example", &recipients).text,
            "\"bob@x.example\":\nSMTP error from remote server after RCPT command:\n5.2.2 <bob@x.example>... Mailbox Full\n"
        );
    }

    #[test]
    fn addresses_in_a_report_leave_out_the_mail_systems_own() {
        let text = "This is the mail system at host mx.example.\n\n\
            <ann@nhs.example>: host mx.nhs.example said: 550 5.1.1 unknown\n\
            Contact <postmaster@mx.example> or MAILER-DAEMON@mx.example.\n\
            bob@trust.example\n";
        assert_eq!(
            addresses_in(text, &["bounces@hsj.example".into()]),
            ["ann@nhs.example", "bob@trust.example"]
        );
        assert_eq!(
            addresses_in(
                "sent by bounces@hsj.example.",
                &["bounces@hsj.example".into()]
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_report_of_many_blocks_is_read_only_so_far() {
        let mut report = String::from("Reporting-MTA: dns; x\n\n");
        for i in 0..50_000 {
            report.push_str(&format!(
                "Final-Recipient: rfc822; r{i}@x.example\nAction: failed\n\n"
            ));
        }
        let blocks = field_blocks(report.as_bytes());
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(
            field(&blocks[1], "Final-Recipient").as_deref(),
            Some("rfc822; r0@x.example")
        );
    }

    #[test]
    fn message_ids_are_recognised_only_in_catchups_shape() {
        let ours = Ours {
            message_id_domain: "hsj.example".into(),
            verp: Some(("bounces".into(), "hsj.example".into())),
            unsubscribe_prefix: "https://news.hsj.example/u/".into(),
        };
        let mut evidence = Evidence::default();
        let text = b"Message-ID: <2018-07-27.00ff00ff00ff00ff@HSJ.example>\n\
            References: <other@hsj.example> <2018-07-27.test-1700000000.0000000000000001@hsj.example>\n\
            <x.00ff00ff00ff00ff@elsewhere.example>\n\
            Return-Path: <bounces+AAAAAAAAAAAAAAAAAAAAAA@hsj.example>\n\
            List-Unsubscribe: <https://news.hsj.example/u/BBBBBBBBBBBBBBBBBBBBBB>\n";
        scan(text, &ours, &mut evidence);
        assert_eq!(
            evidence.message_ids,
            vec![
                OurMessageId {
                    issue: "2018-07-27".into(),
                    reader: 0x00ff_00ff_00ff_00ff
                },
                OurMessageId {
                    issue: "2018-07-27".into(),
                    reader: 1
                },
            ]
        );
        assert_eq!(
            evidence.tokens,
            vec!["AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB"]
        );
    }

    #[test]
    fn garbage_is_not_understood_and_never_panics() {
        let ours = Ours {
            message_id_domain: "hsj.example".into(),
            verp: None,
            unsubscribe_prefix: "https://news.hsj.example/u/".into(),
        };
        for raw in [
            &b""[..],
            b"\xff\xfe\x00",
            b"just a line of text",
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n",
            b"Content-Type: multipart/report; report-type=feedback-report\r\n\r\n",
        ] {
            match parse(raw).map_or_else(|v| v, |m| classify(&m, &ours)) {
                Verdict::NotUnderstood(_) | Verdict::NotABounce(_) => {}
                other => panic!("{raw:?} read as {other:?}"),
            }
        }
    }
}
