//! The messages a sign-up sends, one reader at a time: the confirmation
//! (its link is the only way on to the list) and the welcome. Plain text,
//! from the newsletter's own address, DKIM-signed like every issue.

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};

use super::MessageError;
use super::dkim::Signer;
use crate::config::Newsletter;

/// The confirmation message for a sign-up of `to`, whose link is `url`.
///
/// # Errors
/// The message cannot be built (an address lettre refuses).
pub(crate) fn confirmation(
    newsletter: &Newsletter,
    dkim: Option<&Signer>,
    to: &Mailbox,
    id: &str,
    url: &str,
    expires: DateTime<Utc>,
) -> Result<Vec<u8>, MessageError> {
    let name = &newsletter.name;
    let body = format!(
        "Someone, probably you, asked for {address} to be sent {name}: {tagline}.\n\n\
         To confirm, open this link and press the button on the page:\n\n{url}\n\n\
         The link works until {until}. If you did not ask, ignore this message: \
         you will not be subscribed, and nothing more will be sent.\n",
        address = to.email,
        tagline = newsletter.tagline,
        until = expires.format("%-d %B %Y"),
    );
    let subject = format!("Confirm your subscription to {name}");
    build(
        newsletter,
        dkim,
        to,
        &format!("signup.{id}"),
        &subject,
        &body,
        None,
    )
}

/// The welcome message, once `to` is on the list; `text` is the
/// operator's, `unsubscribe` the reader's own link.
///
/// # Errors
/// The message cannot be built.
pub(crate) fn welcome(
    newsletter: &Newsletter,
    dkim: Option<&Signer>,
    to: &Mailbox,
    id: &str,
    text: &str,
    unsubscribe: &str,
) -> Result<Vec<u8>, MessageError> {
    let body = format!(
        "{text}\n\n--\nTo stop {name} emails, open {unsubscribe}\n",
        name = newsletter.name
    );
    let subject = format!("Welcome to {}", newsletter.name);
    build(
        newsletter,
        dkim,
        to,
        &format!("welcome.{id}"),
        &subject,
        &body,
        Some(unsubscribe),
    )
}

fn build(
    newsletter: &Newsletter,
    dkim: Option<&Signer>,
    to: &Mailbox,
    id: &str,
    subject: &str,
    body: &str,
    unsubscribe: Option<&str>,
) -> Result<Vec<u8>, MessageError> {
    let fail = |e: &dyn std::fmt::Display| MessageError {
        to: to.email.to_string(),
        why: e.to_string(),
    };
    let now = crate::clock::wall();
    let mut builder = Message::builder()
        .from(newsletter.from.clone())
        .to(to.clone())
        .subject(subject)
        .date(std::time::SystemTime::from(now))
        .message_id(Some(format!("<{id}@{}>", newsletter.from.email.domain())));
    if let Some(url) = unsubscribe {
        builder = builder
            .raw_header(lettre::message::header::HeaderValue::new(
                super::LIST_UNSUBSCRIBE,
                format!("<{url}>"),
            ))
            .raw_header(lettre::message::header::HeaderValue::new(
                super::LIST_UNSUBSCRIBE_POST,
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(body.replace('\n', "\r\n"))
        .map_err(|e| fail(&e))?
        .formatted();
    Ok(match dkim {
        Some(signer) => signer.sign(&message, now),
        None => message,
    })
}
