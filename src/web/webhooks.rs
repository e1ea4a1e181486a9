//! Providers' reports by HTTPS. `/hooks/ses`: Amazon SES notifications
//! through SNS, each checked against its RSA signature with a signing
//! certificate the operator keeps (`[bounces.ses] certificates`; catchup
//! fetches nothing), its topic and its age. `/hooks/postmark`: Postmark's
//! bounce and spam-complaint webhooks, with the HTTP Basic credentials set
//! in the URL given to Postmark. A notification that passes is recorded
//! like returned mail, once (a retry or replay has been seen); one that
//! does not gets a 4xx and changes nothing.

use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::App;
use crate::bounces::{self, NotificationError, notification};
use crate::config::Ses;
use crate::log::{self, Level};

/// SNS messages are at most 256 KB; Postmark's, with the message's
/// content, less.
pub(super) const BODY_LIMIT: usize = 256 * 1024;

/// A notification older than this is a replay, whatever its signature.
fn max_age() -> Duration {
    Duration::hours(1)
}

/// An SNS message's envelope (its HTTP body).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Sns {
    #[serde(rename = "Type")]
    kind: String,
    message_id: String,
    topic_arn: String,
    subject: Option<String>,
    message: String,
    timestamp: String,
    signature_version: String,
    signature: String,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: String,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    token: Option<String>,
}

/// POST `/hooks/ses`.
pub(super) async fn ses(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(settings) = app.newsletter.bounces.ses.clone() else {
        return answer(StatusCode::NOT_FOUND, "No such page");
    };
    let envelope: Sns = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(_) => return refuse("ses", "not an SNS message"),
    };
    if let Err(why) = verify(&envelope, &settings, crate::clock::wall()) {
        return refuse("ses", &why);
    }
    match envelope.kind.as_str() {
        "Notification" => {}
        "SubscriptionConfirmation" => {
            // catchup fetches nothing: the operator confirms by hand.
            let url = envelope.subscribe_url.as_deref().unwrap_or("");
            log::event(
                Level::Warn,
                "hooks.ses.subscribe",
                &[
                    ("topic", &envelope.topic_arn),
                    ("confirm_by_visiting", &url),
                ],
            );
            return answer(
                StatusCode::OK,
                "Confirm the subscription by visiting its SubscribeURL (in the log)",
            );
        }
        _ => return answer(StatusCode::OK, "Nothing to do"),
    }
    let (report, headers) = match notification::ses(&envelope.message) {
        Ok(read) => read,
        Err(verdict) => {
            log::event(
                Level::Info,
                "hooks.ses.ignored",
                &[
                    ("id", &envelope.message_id),
                    ("why", &format!("{verdict:?}")),
                ],
            );
            return answer(StatusCode::OK, "Nothing to do");
        }
    };
    record(app, "ses", envelope.message_id, report, headers).await
}

/// POST `/hooks/postmark`.
pub(super) async fn postmark(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(settings) = app.newsletter.bounces.postmark.clone() else {
        return answer(StatusCode::NOT_FOUND, "No such page");
    };
    let password = match settings.password.text(
        &app.newsletter.env,
        "the Postmark webhook password",
        "set the password you put in the webhook URL given to Postmark",
    ) {
        Ok(password) => password,
        Err(e) => {
            log::event(Level::Error, "hooks.postmark.unset", &[("why", &e)]);
            return answer(StatusCode::SERVICE_UNAVAILABLE, "Not configured");
        }
    };
    if !credentials_match(&headers, &settings.user, &password) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"catchup\"")],
            "Unauthorized\n",
        )
            .into_response();
    }
    let text = String::from_utf8_lossy(&body);
    let Some(id) = notification::postmark_id(&text) else {
        return refuse("postmark", "a webhook without its ID");
    };
    let (report, copy) = match notification::postmark(&text) {
        Ok(read) => read,
        Err(verdict) => {
            log::event(
                Level::Info,
                "hooks.postmark.ignored",
                &[("id", &id), ("why", &format!("{verdict:?}"))],
            );
            return answer(StatusCode::OK, "Nothing to do");
        }
    };
    record(app, "postmark", id, report, copy).await
}

/// Records a notification off the async threads; 503 while `catchup
/// bounces` holds the lock, so that the provider sends it again.
async fn record(
    app: Arc<App>,
    provider: &'static str,
    id: String,
    report: crate::bounces::classify::Report,
    headers: String,
) -> Response {
    let keys = app.keys.clone();
    let done = tokio::task::spawn_blocking(move || {
        bounces::record_notification(&app.newsletter, keys, provider, &id, report, &headers)
            .map(|actions| (id, actions))
    })
    .await;
    match done {
        Ok(Ok((id, actions))) => {
            for action in &actions {
                log::event(
                    Level::Info,
                    &format!("hooks.{provider}.recorded"),
                    &[
                        ("id", &id),
                        (
                            "action",
                            &action
                                .describe()
                                .unwrap_or_else(|| "received before".into()),
                        ),
                    ],
                );
            }
            answer(StatusCode::OK, "Recorded")
        }
        Ok(Err(NotificationError::Busy(_))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "60")],
            "Busy: send it again\n",
        )
            .into_response(),
        Ok(Err(e)) => {
            log::event(
                Level::Error,
                &format!("hooks.{provider}.failed"),
                &[("why", &e)],
            );
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "Not recorded: send it again",
            )
        }
        Err(_) => answer(StatusCode::INTERNAL_SERVER_ERROR, "Not recorded"),
    }
}

/// Whether an SNS message is genuine and fresh: from the configured
/// topic, signed (version 1, SHA1withRSA, or 2, SHA256withRSA) by the
/// certificate its URL names, which the operator keeps, and not older
/// than [`max_age`].
fn verify(envelope: &Sns, settings: &Ses, now: DateTime<Utc>) -> Result<(), String> {
    if envelope.topic_arn != settings.topic_arn {
        return Err(format!(
            "topic `{}` is not [bounces.ses] topic_arn",
            log::printable(&envelope.topic_arn)
        ));
    }
    let at: DateTime<Utc> = envelope
        .timestamp
        .parse()
        .map_err(|_| "its Timestamp is not a time".to_string())?;
    if at < now - max_age() || at > now + Duration::minutes(5) {
        return Err(format!(
            "its Timestamp {at} is not within an hour of now: a replay"
        ));
    }
    let key = certificate(&envelope.signing_cert_url, &settings.certificates)?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(envelope.signature.trim())
        .map_err(|_| "its Signature is not base64".to_string())?;
    let text = string_to_sign(envelope)?;
    use rsa::signature::Verifier as _;
    let signature = rsa::pkcs1v15::Signature::try_from(signature.as_slice())
        .map_err(|_| "its Signature is not an RSA signature".to_string())?;
    let verified = match envelope.signature_version.as_str() {
        "1" => {
            rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key).verify(text.as_bytes(), &signature)
        }
        "2" => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
            .verify(text.as_bytes(), &signature),
        other => {
            return Err(format!(
                "SignatureVersion `{}` is not 1 or 2",
                log::printable(other)
            ));
        }
    };
    verified.map_err(|_| "its signature does not verify".to_string())
}

/// What SNS signs: each field's name and value on lines of their own, in
/// this order, those a message of its type has.
fn string_to_sign(envelope: &Sns) -> Result<String, String> {
    // A line break in a field but the message would let one field's value
    // pass for the next field's name: a signed notification replayed under
    // another MessageId.
    let fields = [
        Some(&envelope.message_id),
        envelope.subject.as_ref(),
        Some(&envelope.timestamp),
        envelope.subscribe_url.as_ref(),
        envelope.token.as_ref(),
        Some(&envelope.topic_arn),
        Some(&envelope.kind),
    ];
    if fields.iter().flatten().any(|v| v.contains(['\n', '\r'])) {
        return Err("a field but Message has a line break, which SNS never writes".into());
    }
    let mut text = String::new();
    let mut add = |name: &str, value: Option<&str>| {
        if let Some(value) = value {
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
    };
    add("Message", Some(&envelope.message));
    add("MessageId", Some(&envelope.message_id));
    match envelope.kind.as_str() {
        "Notification" => {
            add("Subject", envelope.subject.as_deref());
            add("Timestamp", Some(&envelope.timestamp));
        }
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
            add("SubscribeURL", envelope.subscribe_url.as_deref());
            add("Timestamp", Some(&envelope.timestamp));
            add("Token", envelope.token.as_deref());
        }
        other => return Err(format!("Type `{}` is not SNS's", log::printable(other))),
    }
    add("TopicArn", Some(&envelope.topic_arn));
    add("Type", Some(&envelope.kind));
    Ok(text)
}

/// The public key of the certificate a `SigningCertURL` names, from the
/// operator's folder: the URL must be SNS's own (`https://sns.<region>.
/// amazonaws.com/<name>.pem`), and only its last part is used.
fn certificate(url: &str, folder: &Path) -> Result<rsa::RsaPublicKey, String> {
    let parsed = url::Url::parse(url).map_err(|_| "its SigningCertURL is not a URL".to_string())?;
    let host = parsed.host_str().unwrap_or("");
    let sns = parsed.scheme() == "https"
        && host.starts_with("sns.")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"));
    let name = parsed.path().rsplit('/').next().unwrap_or("");
    let plain = name.ends_with(".pem")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if !sns || !plain {
        return Err(format!(
            "its SigningCertURL `{}` is not SNS's",
            log::printable(url)
        ));
    }
    let path = folder.join(name);
    let pem = crate::fs::read_input(&path, 64 * 1024).map_err(|e| {
        format!(
            "{e}; download {} into {} if it is SNS's current certificate",
            log::printable(url),
            folder.display()
        )
    })?;
    let pem = String::from_utf8(pem).map_err(|_| format!("`{}` is not PEM", path.display()))?;
    use x509_cert::der::{DecodePem as _, Encode as _};
    let cert = x509_cert::Certificate::from_pem(pem.as_bytes())
        .map_err(|e| format!("`{}` is not a certificate: {e}", path.display()))?;
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    use rsa::pkcs8::DecodePublicKey as _;
    rsa::RsaPublicKey::from_public_key_der(&der)
        .map_err(|e| format!("`{}` does not hold an RSA key: {e}", path.display()))
}

/// `Authorization: Basic` with exactly these credentials, compared in
/// constant time.
fn credentials_match(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme in any case (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, credentials)| credentials)
        .and_then(|v| {
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
        })
    else {
        return false;
    };
    let expected = format!("{user}:{password}");
    let given = given.as_slice();
    let expected = expected.as_bytes();
    let mut differ = given.len() ^ expected.len();
    for (i, &b) in expected.iter().enumerate() {
        differ |= usize::from(b ^ given.get(i).copied().unwrap_or(0));
    }
    differ == 0
}

fn refuse(provider: &str, why: &str) -> Response {
    log::event(
        Level::Warn,
        &format!("hooks.{provider}.refused"),
        &[("why", &why)],
    );
    answer(StatusCode::FORBIDDEN, "Refused: nothing was changed")
}

fn answer(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{text}\n"),
    )
        .into_response()
}
