//! What a sending provider says in JSON about the mail it relayed: Amazon
//! SES notifications (delivered by SNS, to `catchup serve` or by mail) and
//! Postmark's bounce and spam-complaint webhooks, read into the same
//! findings as a returned message. Whether a notification is genuine is
//! for its carrier to check (`web/webhooks.rs`); this reads what it says.

use mail_parser::{Message, PartType};
use serde::Deserialize;

use super::classify::{Failure, Finding, Report, Verdict};
use super::reason::{Reason, Stage};

/// An SES notification's fields that matter here (`notificationType` for
/// identity notifications, `eventType` for a configuration set's events).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ses {
    notification_type: Option<String>,
    event_type: Option<String>,
    bounce: Option<SesBounce>,
    complaint: Option<SesComplaint>,
    mail: Option<SesMail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    #[serde(default)]
    bounced_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesRecipient {
    email_address: String,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesComplaint {
    #[serde(default)]
    complained_recipients: Vec<SesRecipient>,
    complaint_feedback_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesMail {
    #[serde(default)]
    headers: Vec<SesHeader>,
}

#[derive(Debug, Deserialize)]
struct SesHeader {
    name: String,
    value: String,
}

/// What an SES notification says, and the headers of the mail it is
/// about (where catchup's marks are).
///
/// # Errors
/// The verdict for a notification that is not JSON of SES's shape, or is
/// about neither a bounce nor a complaint.
pub(crate) fn ses(json: &str) -> Result<(Report, String), Verdict> {
    let notification: Ses = serde_json::from_str(json).map_err(|e| {
        Verdict::NotUnderstood(format!(
            "not an SES notification: {}",
            super::printable(&e.to_string())
        ))
    })?;
    let kind = notification
        .notification_type
        .or(notification.event_type)
        .unwrap_or_default();
    let findings = match (kind.as_str(), notification.bounce, notification.complaint) {
        ("Bounce", Some(bounce), _) => ses_bounce(&bounce),
        ("Complaint", _, Some(complaint)) => complaint
            .complained_recipients
            .into_iter()
            .map(|r| Finding {
                recipient: Some(r.email_address),
                failure: Failure::complaint(format!(
                    "SES complaint ({})",
                    complaint
                        .complaint_feedback_type
                        .as_deref()
                        .unwrap_or("abuse")
                )),
                remote: None,
            })
            .collect(),
        ("Delivery" | "Send" | "Open" | "Click" | "DeliveryDelay", _, _) => {
            return Err(Verdict::NotABounce(format!(
                "an SES `{}` notification",
                super::printable(&kind)
            )));
        }
        _ => {
            return Err(Verdict::NotUnderstood(format!(
                "an SES notification of type `{}`",
                super::printable(&kind)
            )));
        }
    };
    let headers = notification
        .mail
        .map(|m| {
            m.headers
                .iter()
                .map(|h| format!("{}: {}\n", h.name, h.value))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        Report {
            findings,
            ..Report::default()
        },
        headers,
    ))
}

/// SES's bounce types: `Permanent` is final, `Transient` may pass; the
/// sub-type names the reason where the diagnostic gives none.
fn ses_bounce(bounce: &SesBounce) -> Vec<Finding> {
    let permanent = bounce.bounce_type == "Permanent";
    let by_type = match bounce.bounce_sub_type.as_str() {
        "NoEmail" => Some(Reason::UserUnknown),
        // SES's own list of addresses that bounced hard before.
        "Suppressed" | "OnAccountSuppressionList" => Some(Reason::UserUnknown),
        "MailboxFull" => Some(Reason::MailboxFull),
        "MessageTooLarge" => Some(Reason::TooBig),
        "ContentRejected" | "AttachmentRejected" => Some(Reason::Policy),
        _ => None,
    };
    bounce
        .bounced_recipients
        .iter()
        .map(|r| {
            let text = r.diagnostic_code.clone().unwrap_or_else(|| {
                format!(
                    "SES {} bounce ({})",
                    bounce.bounce_type, bounce.bounce_sub_type
                )
            });
            let mut failure = Failure::read(&text, Stage::Unsaid, r.status.clone(), permanent);
            if let Some(reason) = by_type.filter(|_| failure.reason == Reason::Unknown) {
                failure.reason = reason;
            }
            failure.permanent &= permanent;
            Finding {
                remote: None,
                recipient: Some(r.email_address.clone()),
                failure,
            }
        })
        .collect()
}

/// A Postmark bounce or spam-complaint webhook's fields that matter.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Postmark {
    record_type: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    email: String,
    description: Option<String>,
    details: Option<String>,
    #[serde(rename = "MessageID")]
    message_id: Option<String>,
    content: Option<String>,
}

/// A Postmark record's own id (`ID`), a whole number written as a number
/// or a string: a retry of the webhook has the same one.
pub(crate) fn postmark_id(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    // One ID, one key: `1000`, `1000.0` and `"1000"` are the same.
    let text = match &value["ID"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    if let Ok(whole) = text.parse::<u64>() {
        return Some(whole.to_string());
    }
    let number = text.parse::<f64>().ok()?;
    // Beyond 2^53 a float no longer names one integer.
    (number.fract() == 0.0 && (0.0..9.0e15).contains(&number)).then(|| format!("{number:.0}"))
}

/// What a Postmark webhook says, and what stands in for the headers of the
/// mail it is about (its full content where Postmark sends it).
///
/// # Errors
/// The verdict for JSON that is not Postmark's bounce or complaint.
pub(crate) fn postmark(json: &str) -> Result<(Report, String), Verdict> {
    let hook: Postmark = serde_json::from_str(json).map_err(|e| {
        Verdict::NotUnderstood(format!(
            "not a Postmark webhook: {}",
            super::printable(&e.to_string())
        ))
    })?;
    let kind = hook.kind.clone().unwrap_or_default();
    let text = [hook.description.as_deref(), hook.details.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
    let failure = match (hook.record_type.as_deref(), kind.as_str()) {
        (_, "SpamComplaint") | (Some("SpamComplaint"), _) => {
            Failure::complaint("Postmark spam complaint".into())
        }
        (_, "HardBounce" | "BadEmailAddress") => {
            let mut failure = Failure::read(&text, Stage::Unsaid, None, true);
            if failure.reason == Reason::Unknown {
                failure.reason = Reason::UserUnknown;
            }
            failure
        }
        (_, "DnsError") => Failure {
            reason: Reason::HostUnknown,
            status: None,
            permanent: false,
            stage: super::reason::Stage::Unsaid,
            text: text.clone(),
        },
        (_, "Blocked" | "DMARCPolicy" | "SpamNotification" | "VirusNotification") => {
            let mut failure = Failure::read(&text, Stage::Unsaid, None, true);
            if failure.meaning() != super::reason::Meaning::NotTheReader {
                failure.reason = if kind == "DMARCPolicy" {
                    Reason::Authentication
                } else {
                    Reason::Blocked
                };
            }
            failure
        }
        (_, "Transient" | "SoftBounce" | "Unknown" | "ManuallyDeactivated") => {
            Failure::read(&text, Stage::Unsaid, None, false)
        }
        (_, "AutoResponder" | "Subscribe" | "OpenRelayTest" | "ChallengeVerification") => {
            return Err(Verdict::NotABounce(format!(
                "a Postmark `{}` notice",
                super::printable(&kind)
            )));
        }
        _ => {
            return Err(Verdict::NotUnderstood(format!(
                "a Postmark record of type `{}`",
                super::printable(&kind)
            )));
        }
    };
    let headers = hook.content.unwrap_or_else(|| {
        hook.message_id
            .map(|id| format!("X-PM-Message-Id: {id}\n"))
            .unwrap_or_default()
    });
    Ok((
        Report {
            findings: vec![Finding {
                recipient: Some(hook.email),
                failure,
                remote: None,
            }],
            ..Report::default()
        },
        headers,
    ))
}

/// An SES notification sent by mail (an SNS e-mail subscription): from
/// Amazon, with the JSON as the body.
pub(crate) fn is_in_mail(message: &Message<'_>) -> bool {
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    (from.ends_with("amazonaws.com") || from.ends_with("amazonses.com"))
        && json_body(message).is_some()
}

/// What an SES notification sent by mail says.
pub(crate) fn in_mail(message: &Message<'_>) -> Result<Report, Verdict> {
    let Some(json) = json_body(message) else {
        return Err(Verdict::NotUnderstood(
            "an SES notification without its JSON".into(),
        ));
    };
    ses(&json).map(|(report, _)| report)
}

/// The JSON object a notification's text starts with, up to its last `}`.
fn json_body(message: &Message<'_>) -> Option<String> {
    message.parts.iter().find_map(|part| match &part.body {
        PartType::Text(text) => {
            let text = text.trim_start();
            let end = text.rfind('}')?;
            // A mailed notification is wrapped into lines, inside its
            // strings too; JSON needs none of its line breaks.
            (text.starts_with("{\"")).then(|| text[..=end].replace(['\r', '\n'], ""))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: issue 20 (adversarial run, finding 7): `1000.0` was another
    /// key than `1000`, so a webhook could be replayed as new.
    #[test]
    fn a_postmark_id_has_one_key_however_it_is_written() {
        let id = |json: &str| postmark_id(json);
        assert_eq!(id(r#"{"ID": 1000}"#), Some("1000".into()));
        assert_eq!(id(r#"{"ID": 1000.0}"#), Some("1000".into()));
        assert_eq!(id(r#"{"ID": 1e3}"#), Some("1000".into()));
        assert_eq!(id(r#"{"ID": " 1000 "}"#), Some("1000".into()));
        assert_eq!(
            id(r#"{"ID": 4323372036854775807}"#),
            Some("4323372036854775807".into())
        );
        assert_eq!(id(r#"{"ID": 1000.5}"#), None);
        assert_eq!(id(r#"{"ID": "abc"}"#), None);
        assert_eq!(id(r#"{"ID": -1}"#), None);
    }
}
