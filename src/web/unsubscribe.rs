//! The unsubscribe and resubscribe requests. A token is looked up in the
//! index and checked in full; anything else (a forged or mistyped token, a
//! body that is not the one-click form) gets a 4xx and changes nothing. An
//! answer of 200 to a POST means the change is on disk, or that it was so
//! already (a repeat writes nothing).
//!
//! Resubscribing undoes only the reader's own unsubscribe, and only from
//! the service's own page: the POST must carry the page's form token (and
//! an `Origin`, if the browser sends one, must be the service's). A
//! complaint or a bounce is never lifted by a click.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::App;
use super::pages::{self, Page, Resubscribe, mask};
use crate::list::index::{By, Readers};
use crate::list::reader::ReaderKey;
use crate::list::suppression::{Change, Outcome, Standing};
use crate::list::token::Token;
use crate::log::{self, Level};

/// The issue a link came from (`?i=2018-07-27`): only counted against,
/// so one that is not an issue's name is left out, not refused.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Origin {
    i: Option<String>,
    /// `page`: the button on this service's page, not a mail client's
    /// one-click POST.
    via: Option<String>,
}

impl Origin {
    fn issue(&self) -> Option<String> {
        let name = crate::issue::IssueName::new(self.i.as_deref()?).ok()?;
        Some(name.as_str().to_string())
    }

    /// How the reader unsubscribed, as the suppression list records it.
    fn reason(&self) -> &'static str {
        match self.via.as_deref() {
            Some("page") => "unsubscribe-page",
            _ => "unsubscribe",
        }
    }
}

/// Where the page's button posts: the one-click URL, with the issue the
/// link came from, marked as the page's.
fn action(app: &App, token: &str, from: &Origin) -> String {
    match from.issue() {
        Some(issue) => format!(
            "{}&via=page",
            app.newsletter.web.unsubscribe_url_from(token, &issue)
        ),
        None => format!("{}?via=page", app.newsletter.web.unsubscribe_url(token)),
    }
}

/// GET: a page with one button. Never unsubscribes by itself.
pub(super) async fn show(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    Query(from): Query<Origin>,
) -> Response {
    let email = match reader(&app, &token).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    let masked = mask(&email);
    let action = action(&app, &token, &from);
    let (resubscribe, form) = resubscribe_form(&app, &token);
    let standing = standing(&app, &email);
    let page = if standing.is_suppressed() {
        Page::AlreadyOff {
            masked: &masked,
            resubscribe: theirs_to_undo(standing).then_some(Resubscribe {
                action: &resubscribe,
                form: &form,
            }),
        }
    } else {
        Page::Confirm {
            masked: &masked,
            action: &action,
        }
    };
    html(&app, StatusCode::OK, page)
}

/// POST: RFC 8058 one-click, or the page's button (the same form field).
pub(super) async fn one_click(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    Query(from): Query<Origin>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let email = match reader(&app, &token).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    if !is_one_click(&headers, &body) {
        return html(
            &app,
            StatusCode::BAD_REQUEST,
            Page::BadRequest("An unsubscribe request carries List-Unsubscribe=One-Click."),
        );
    }
    let change = Change::Unsubscribe {
        email: email.clone(),
        reason: from.reason().into(),
        issue: from.issue(),
    };
    if let Err(response) = record(&app, &email, change).await {
        return response;
    }
    let masked = mask(&email);
    let (resubscribe, form) = resubscribe_form(&app, &token);
    html(
        &app,
        StatusCode::OK,
        Page::Unsubscribed {
            masked: &masked,
            resubscribe: Resubscribe {
                action: &resubscribe,
                form: &form,
            },
        },
    )
}

/// POST from the service's own page: undoes the reader's own unsubscribe.
pub(super) async fn resubscribe(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let email = match reader(&app, &token).await {
        Ok(email) => email,
        Err(response) => return response,
    };
    if !from_our_page(&app, RESUBSCRIBE, &token, &headers, &body) {
        return html(
            &app,
            StatusCode::FORBIDDEN,
            Page::BadRequest("Resubscribing works from the button on this service's own page."),
        );
    }
    let masked = mask(&email);
    let change = Change::Resubscribe {
        email: email.clone(),
    };
    match record(&app, &email, change).await {
        Err(response) => response,
        Ok(Outcome::Refused) => html(
            &app,
            StatusCode::CONFLICT,
            Page::NotResubscribed { masked: &masked },
        ),
        Ok(Outcome::Recorded | Outcome::Unchanged) => {
            let action = app.newsletter.web.unsubscribe_url(&token);
            html(
                &app,
                StatusCode::OK,
                Page::Resubscribed {
                    masked: &masked,
                    action: &action,
                },
            )
        }
    }
}

/// The purpose a resubscribe form token is made for.
const RESUBSCRIBE: &str = "resubscribe";

/// The resubscribe button's action and its form token.
fn resubscribe_form(app: &App, token: &str) -> (String, String) {
    (
        format!("{}/resubscribe", app.newsletter.web.unsubscribe_url(token)),
        app.keys.current.form_token(RESUBSCRIBE, token),
    )
}

/// True when a POST came from the service's own page: its form token for
/// `purpose` and `token` is in the body, and its `Origin`, if any, is the
/// service's.
pub(super) fn from_our_page(
    app: &App,
    purpose: &str,
    token: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let origin_ok = match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => true,
        Some(Ok(origin)) => same_origin(origin, &app.newsletter.web.base_url),
        Some(Err(_)) => false,
    };
    let form = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "form")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    origin_ok
        && app
            .keys
            .all()
            .any(|key| key.verify_form(purpose, token, &form))
}

/// True when `origin` (`https://news.hsj.example`) is `base_url`'s.
pub(super) fn same_origin(origin: &str, base_url: &str) -> bool {
    match (url::Url::parse(origin), url::Url::parse(base_url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// True when what suppresses a reader is their own unsubscribe alone,
/// which they may undo.
fn theirs_to_undo(standing: Standing) -> bool {
    standing.unsubscribed && !standing.complained && !standing.other
}

/// `/u/` with no token: from an archived issue's footer.
pub(super) async fn use_your_link(State(app): State<Arc<App>>) -> Response {
    html(&app, StatusCode::OK, Page::UseYourLink)
}

pub(super) fn html(app: &App, status: StatusCode, page: Page<'_>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        pages::render(
            pages::Site {
                name: &app.newsletter.name,
                language: &app.newsletter.language,
            },
            page,
        ),
    )
        .into_response()
}

/// The reader a token belongs to, or the answer for one that belongs to
/// nobody (the same for a forged token and a reader who has left the list,
/// so the service tells a stranger nothing).
async fn reader(app: &App, token: &str) -> Result<String, Response> {
    let not_valid = || html(app, StatusCode::NOT_FOUND, Page::NotValid);
    let Some(token) = Token::parse(token) else {
        return Err(not_valid());
    };
    refresh_readers(app).await;
    let found = app.readers.read().await.find(&token, &app.keys);
    match found {
        Ok(Some(email)) => Ok(email),
        Ok(None) => Err(not_valid()),
        Err(e) => {
            log::event(Level::Error, "serve.list_unreadable", &[("error", &e)]);
            Err(html(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                Page::NotRecorded,
            ))
        }
    }
}

/// Rebuilds the index if the subscriber list has changed, one rebuild at a
/// time, off the request threads.
pub(super) async fn refresh_readers(app: &App) {
    if !app.readers.read().await.is_stale() {
        return;
    }
    let _one = app.rebuilding.lock().await;
    if !app.readers.read().await.is_stale() {
        return;
    }
    let path = app.newsletter.paths.subscribers.clone();
    let keys = app.keys.clone();
    let built = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Readers::build(&path, &keys, By::Token)
    })
    .await;
    let readers = match built {
        Ok(Ok(readers)) => readers,
        Ok(Err(e)) => {
            log::event(Level::Error, "serve.list_unreadable", &[("error", &e)]);
            Readers::unusable(&path, By::Token, e.to_string())
        }
        Err(e) => {
            log::event(Level::Error, "serve.index_failed", &[("error", &e)]);
            Readers::unusable(&path, By::Token, e.to_string())
        }
    };
    *app.readers.write().await = readers;
}

/// Where a reader stands on the suppression list as it is now (a list
/// replaced or edited since is read again).
pub(super) fn standing(app: &App, email: &str) -> Standing {
    let mut suppressed = app
        .suppressed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = suppressed.refresh();
    suppressed.standing(ReaderKey::of(email))
}

/// Records a change durably; the error is the answer to give.
async fn record(app: &App, email: &str, change: Change) -> Result<Outcome, Response> {
    let what = match &change {
        Change::Unsubscribe { .. } => "unsubscribe",
        Change::Resubscribe { .. } => "resubscribe",
        Change::Join { .. } => "join",
    };
    match app.writer.record(change).await {
        Ok(outcome) => {
            log::event(
                Level::Info,
                "serve.recorded",
                &[
                    ("reader", &mask(email)),
                    ("change", &what),
                    ("outcome", &format!("{outcome:?}").to_ascii_lowercase()),
                ],
            );
            Ok(outcome)
        }
        Err(e) => {
            log::event(Level::Error, "serve.not_recorded", &[("error", &e)]);
            Err(html(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                Page::NotRecorded,
            ))
        }
    }
}

/// True for the RFC 8058 body, `List-Unsubscribe=One-Click`, sent as
/// `application/x-www-form-urlencoded` or `multipart/form-data`.
fn is_one_click(headers: &HeaderMap, body: &[u8]) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let text = String::from_utf8_lossy(body);
        return text
            .split("Content-Disposition:")
            .chain(text.split("content-disposition:"))
            .any(|part| {
                part.contains("name=\"List-Unsubscribe\"")
                    && part
                        .split_once("\r\n\r\n")
                        .is_some_and(|(_, value)| value.trim_start().starts_with("One-Click"))
            });
    }
    url::form_urlencoded::parse(body).any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, content_type.parse().expect("header"));
        h
    }

    #[test]
    fn the_one_click_body_is_recognised_in_both_encodings_and_nothing_else() {
        let form = headers("application/x-www-form-urlencoded");
        assert!(is_one_click(&form, b"List-Unsubscribe=One-Click"));
        assert!(!is_one_click(&form, b"List-Unsubscribe=Yes"));
        assert!(!is_one_click(&form, b""));
        assert!(!is_one_click(&form, b"\xff\xfe"));
        let multipart = headers("multipart/form-data; boundary=x");
        assert!(is_one_click(
            &multipart,
            b"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--x--\r\n"
        ));
        assert!(!is_one_click(
            &multipart,
            b"--x\r\n\r\nOne-Click\r\n--x--\r\n"
        ));
    }
}
