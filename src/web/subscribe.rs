//! Joining the list: the form (`/subscribe`), the confirmation link
//! (`/confirm/{token}`), and the join itself.
//!
//! - The form's POST answers the same page whatever the address's state,
//!   so it tells no one who is subscribed, and takes at least [`FLOOR`]
//!   whatever it did. A sign-up is recorded (fsynced) before the answer,
//!   and its confirmation message is sent afterwards. Limits per client
//!   address and in all (in memory, the client's first), and per address
//!   (from the file, so a restart does not reset it) stop mail-bombing; a
//!   hidden field catches bots that fill every field; an address already
//!   on the list is left exactly as it is.
//! - A confirmation link's GET only shows a page with one button (mail
//!   scanners open every link, and some run the page); the POST, carrying
//!   the page's form token, confirms. It is recorded (fsynced) and the
//!   reader's own suppression lifted before the answer; the row joins the
//!   list afterwards, once no send is reading it, then the welcome goes.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Utc};

use super::App;
use super::pages::{Page, mask};
use super::unsubscribe::{from_our_page, html, refresh_readers};
use crate::config::Subscribe;
use crate::deliver::relays::Relays;
use crate::fs::FileError;
use crate::list::address;
use crate::list::reader::{Reader, clean_name};
use crate::list::signups::{self, Joining, Locked, Record, View};
use crate::list::suppression::Change;
use crate::list::token::Token;
use crate::log::{self, Level};
use crate::mail::dkim::Signer;

/// The purpose of the confirmation page's form token.
const CONFIRM: &str = "confirm";

/// Clients remembered for the per-client limit, at most: beyond it the
/// oldest are forgotten (a flood from many addresses is held by the limit
/// in all instead).
const CLIENTS_KEPT: usize = 10_000;

/// Every answer to the form takes at least this long, so that how long it
/// took does not tell whether the address was taken (a write and an
/// fsync) or was already subscribed (nothing to write).
const FLOOR: Duration = Duration::from_millis(100);

/// Past this size the file loses its lapsed sign-ups (never confirmed,
/// link expired) before the next is added.
const PRUNE_AT: u64 = 16 * 1024 * 1024;

/// What the sign-up side of the service holds.
pub(super) struct SignUps {
    settings: Subscribe,
    relays: Relays,
    dkim: Option<Arc<Signer>>,
    file: PathBuf,
    /// Each client's sign-ups in the last hour (an IPv6 client by its
    /// /64, which one subscriber line is given).
    clients: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    /// Sign-ups taken in the last hour, by anyone: checked before the file
    /// is read, so a flood from many addresses costs no disk reads.
    taken: Mutex<VecDeque<Instant>>,
    /// The file as last read (only what was appended since is read).
    view: Mutex<View>,
    /// One decision at a time (each reads the file under its lock anyway;
    /// this keeps them off the blocking pool's threads all at once).
    deciding: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SignUps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUps").finish_non_exhaustive()
    }
}

impl SignUps {
    pub(super) fn new(
        settings: Subscribe,
        relays: Relays,
        dkim: Option<Arc<Signer>>,
        state: &std::path::Path,
    ) -> SignUps {
        SignUps {
            settings,
            relays,
            dkim,
            file: signups::path(state),
            clients: Mutex::new(HashMap::new()),
            taken: Mutex::new(VecDeque::new()),
            view: Mutex::new(View::default()),
            deciding: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts a sign-up from `client`; false if it, or the service, is
    /// over its limit for the hour. The client's limit is checked first,
    /// so that one client cannot use up everyone's hour.
    fn admit(&self, client: IpAddr, now: Instant) -> bool {
        let hour = Duration::from_secs(3600);
        let client = network(client);
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if clients.len() >= CLIENTS_KEPT {
            clients.retain(|_, times| times.back().is_some_and(|t| now - *t < hour));
            if clients.len() >= CLIENTS_KEPT {
                clients.clear();
            }
        }
        let times = clients.entry(client).or_default();
        while times.front().is_some_and(|t| now - *t >= hour) {
            times.pop_front();
        }
        if times.len() >= self.settings.per_client as usize {
            return false;
        }
        let mut taken = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while taken.front().is_some_and(|t| now - *t >= hour) {
            taken.pop_front();
        }
        if taken.len() >= self.settings.per_hour as usize {
            return false;
        }
        taken.push_back(now);
        times.push_back(now);
        true
    }

    /// Runs `f` on the file under its lock, with the view brought up to
    /// date first.
    fn with_file<T>(
        &self,
        f: impl FnOnce(&mut Locked, &mut View) -> Result<T, FileError>,
    ) -> Result<T, FileError> {
        let mut locked = Locked::lock(&self.file)?;
        let mut view = self
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locked.refresh(&mut view)?;
        f(&mut locked, &mut view)
    }
}

/// GET `/subscribe`: the form.
pub(super) async fn form(State(app): State<Arc<App>>) -> Response {
    let Some(signups) = &app.signups else {
        return super::nothing_here();
    };
    sign_up_page(&app, &signups.settings, StatusCode::OK, None)
}

fn sign_up_page(
    app: &App,
    settings: &Subscribe,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    html(
        app,
        status,
        Page::SignUp {
            consent: &settings.consent,
            checkbox: settings.checkbox,
            problem,
        },
    )
}

/// What the form sent.
#[derive(Debug, Default)]
struct Form {
    email: String,
    name: String,
    consent: bool,
    trap: bool,
}

impl Form {
    fn parse(body: &[u8]) -> Form {
        let mut form = Form::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            match &*key {
                "email" => form.email = value.trim().to_string(),
                "name" => form.name = clean_name(&value).chars().take(200).collect(),
                "consent" => form.consent = matches!(&*value, "yes" | "on" | "true"),
                "website" => form.trap = !value.trim().is_empty(),
                _ => {}
            }
        }
        form
    }
}

/// POST `/subscribe`.
pub(super) async fn submit(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = tokio::time::Instant::now();
    let response = take(app, peer, &headers, &body).await;
    tokio::time::sleep_until(started + FLOOR).await;
    response
}

/// The form's POST, decided.
async fn take(app: Arc<App>, peer: SocketAddr, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(signups) = &app.signups else {
        return super::nothing_here();
    };
    let settings = &signups.settings;
    let form = Form::parse(body);
    let Ok(email) = address::parse(&form.email) else {
        return sign_up_page(
            &app,
            settings,
            StatusCode::BAD_REQUEST,
            Some("That does not look like an email address. Check it and try again."),
        );
    };
    if !form.consent {
        return sign_up_page(
            &app,
            settings,
            StatusCode::BAD_REQUEST,
            Some("Tick the box to agree, then press Subscribe."),
        );
    }
    let client = client_address(headers, peer, settings.forwarded_for);
    let checked = if form.trap {
        Err("trap")
    } else if !signups.admit(client, Instant::now()) {
        Err("client_limit")
    } else if on_the_list(&app, email.as_ref()).await {
        Err("already_subscribed")
    } else {
        Ok(())
    };
    if let Err(why) = checked {
        log::event(
            Level::Info,
            "signup.not_taken",
            &[("why", &why), ("reader", &mask(email.as_ref()))],
        );
        return html(&app, StatusCode::OK, Page::CheckInbox);
    }
    let reader = Reader {
        email,
        name: Some(form.name).filter(|n| !n.is_empty()),
    };
    let source = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| !super::unsubscribe::same_origin(o, &app.newsletter.web.base_url))
        .map_or_else(|| "form".to_string(), |o| format!("form at {o}"));
    let decided = {
        let _one = signups.deciding.lock().await;
        let asked = asked(signups, &reader, source, client);
        on_file(&app, move |signups| signups.record_if_allowed(asked)).await
    };
    match decided {
        Ok(Some(record)) => {
            let sender = Arc::clone(&app);
            tokio::spawn(async move { send_confirmation(&sender, record).await });
            html(&app, StatusCode::OK, Page::CheckInbox)
        }
        Ok(None) => html(&app, StatusCode::OK, Page::CheckInbox),
        Err(e) => not_recorded(&app, &e),
    }
}

/// Runs `f` on the blocking pool (each use of the file takes its lock and
/// may wait for a disk); what went wrong, as text.
async fn on_file<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&SignUps) -> Result<T, FileError> + Send + 'static,
) -> Result<T, String> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || match &app.signups {
        Some(signups) => f(signups).map_err(|e| e.to_string()),
        None => Err("sign-ups are off".to_string()),
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The network a client's address stands for: an IPv4 address itself, an
/// IPv6 address its /64 (a client given a /64 has 2^64 addresses).
fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
    }
}

/// The client's address: the connection's, or (when the operator says
/// their proxy sets it) the last `X-Forwarded-For` entry, the one the
/// proxy added.
fn client_address(headers: &HeaderMap, peer: SocketAddr, forwarded_for: bool) -> IpAddr {
    if forwarded_for
        && let Some(last) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
        && let Ok(ip) = last.trim().parse()
    {
        return ip;
    }
    peer.ip()
}

/// True when the address is on the list and nothing suppresses it: its
/// state must not change because someone typed it into the form.
async fn on_the_list(app: &App, email: &str) -> bool {
    refresh_readers(app).await;
    let Some(token) = Token::parse(&app.keys.current.token(email)) else {
        return false;
    };
    let listed = matches!(
        app.readers.read().await.find(&token, &app.keys),
        Ok(Some(_))
    );
    listed && !super::unsubscribe::standing(app, email).is_suppressed()
}

/// The sign-up's record, as it will be kept.
fn asked(signups: &SignUps, reader: &Reader, source: String, client: IpAddr) -> Record {
    let settings = &signups.settings;
    let at = crate::clock::wall();
    Record::Asked {
        id: signups::new_id(),
        email: reader.email.to_string(),
        name: reader.name.clone(),
        at,
        expires: at + chrono::Duration::days(i64::from(settings.confirm_days)),
        source,
        wording: settings.consent.clone(),
        version: settings.wording_version(),
        client: settings.record_client.then(|| client.to_string()),
    }
}

impl SignUps {
    /// Under the file's lock: appends the sign-up (fsynced) unless the
    /// address has had its confirmations for the day. `None`: not taken.
    fn record_if_allowed(&self, asked: Record) -> Result<Option<Record>, FileError> {
        let Record::Asked { email, at, .. } = &asked else {
            return Ok(None);
        };
        self.with_file(|locked, view| {
            let today = view
                .signups
                .asked_since(email, *at - chrono::Duration::days(1));
            if today >= self.settings.per_address as usize {
                log::event(
                    Level::Warn,
                    "signup.limited",
                    &[("reader", &mask(email)), ("today_for_address", &today)],
                );
                return Ok(None);
            }
            if locked.len()? > PRUNE_AT
                && let Some(kept) = view.signups.without_lapsed(*at)
            {
                locked.replace(&kept)?;
                locked.refresh(view)?;
            }
            locked.append(std::slice::from_ref(&asked))?;
            Ok(Some(asked.clone()))
        })
    }
}

/// Sends the confirmation for `asked`, and records that it went.
async fn send_confirmation(app: &App, asked: Record) {
    let Some(signups) = &app.signups else {
        return;
    };
    let Record::Asked {
        id,
        email,
        name,
        expires,
        ..
    } = &asked
    else {
        return;
    };
    let Ok(address) = address::parse(email) else {
        return;
    };
    let reader = Reader {
        email: address,
        name: name.clone(),
    };
    let token = app.keys.current.confirm_token(id, expires.timestamp());
    let url = format!("{}/confirm/{token}", app.newsletter.web.base_url);
    let message = match crate::mail::notice::confirmation(
        &app.newsletter,
        signups.dkim.as_deref(),
        &reader.mailbox(),
        id,
        &url,
        *expires,
    ) {
        Ok(message) => message,
        Err(e) => {
            log::event(Level::Error, "signup.not_mailed", &[("error", &e)]);
            return;
        }
    };
    let sent =
        crate::deliver::single::send(&signups.relays, &return_path(app), &reader.email, &message)
            .await;
    match sent {
        Ok(reply) => {
            log::event(
                Level::Info,
                "signup.mailed",
                &[("reader", &mask(email)), ("relay", &reply)],
            );
            let mailed = Record::Mailed {
                id: id.clone(),
                email: email.clone(),
                at: crate::clock::wall(),
            };
            append_later(signups, mailed).await;
        }
        Err(why) => log::event(
            Level::Error,
            "signup.not_mailed",
            &[("reader", &mask(email)), ("error", &why)],
        ),
    }
}

/// The envelope sender for a sign-up's messages.
fn return_path(app: &App) -> String {
    app.newsletter
        .bounces
        .return_path
        .as_ref()
        .unwrap_or(&app.newsletter.from.email)
        .to_string()
}

/// Appends a record nothing waits on (it is logged if it fails).
async fn append_later(signups: &SignUps, record: Record) {
    let file = signups.file.clone();
    let done = tokio::task::spawn_blocking(move || {
        Locked::lock(&file).and_then(|mut l| l.append(std::slice::from_ref(&record)))
    })
    .await;
    if let Ok(Err(e)) = done {
        log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
    }
}

/// A confirmation token's parts, once its MAC checks out under one of the
/// service's keys: the sign-up, and whether its date has passed.
enum Link {
    Pending {
        id: String,
        email: String,
        expired: bool,
    },
    Confirmed {
        email: String,
    },
    NotValid,
}

async fn link(app: &Arc<App>, token: &str) -> Result<Link, Response> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(expires_text), Some(mac)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(Link::NotValid);
    };
    // Only the form catchup writes (`+7`, `07` are not it).
    let Some(expires) = expires_text
        .parse::<i64>()
        .ok()
        .filter(|e| e.to_string() == expires_text)
    else {
        return Ok(Link::NotValid);
    };
    // Checked before any file is read: a flood of made-up links costs an
    // HMAC each.
    if id.len() != 32
        || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        || !app
            .keys
            .all()
            .any(|key| key.verify_confirm(id, expires, mac))
    {
        return Ok(Link::NotValid);
    }
    let wanted = id.to_string();
    let found = on_file(app, move |signups| {
        signups.with_file(|_, view| {
            Ok(view
                .signups
                .about_id(&wanted)
                .map(|email| (email.to_string(), view.signups.is_confirmed(&wanted))))
        })
    })
    .await
    .map_err(|e| unavailable(app, &e))?;
    // Erased since, or lapsed and pruned: no longer anyone's.
    let Some((email, confirmed)) = found else {
        return Ok(Link::NotValid);
    };
    if confirmed {
        return Ok(Link::Confirmed { email });
    }
    let expired = DateTime::<Utc>::from_timestamp(expires, 0)
        .is_none_or(|until| crate::clock::wall() >= until);
    Ok(Link::Pending {
        id: id.to_string(),
        email,
        expired,
    })
}

/// "Please try again", logged.
fn unavailable(app: &App, e: &dyn std::fmt::Display) -> Response {
    log::event(Level::Error, "signup.unreadable", &[("error", &e)]);
    html(app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded)
}

/// A link already used: the reader is subscribed, unless something took
/// them off since (then the page says so, and cannot undo it).
fn used_link(app: &App, email: &str) -> Response {
    if super::unsubscribe::standing(app, email).is_suppressed() {
        return html(
            app,
            StatusCode::OK,
            Page::AlreadyOff {
                masked: &mask(email),
                resubscribe: None,
            },
        );
    }
    joined_page(app, email)
}

/// GET `/confirm/{token}`: the page with the button. Confirms nobody.
pub(super) async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    if app.signups.is_none() {
        return super::nothing_here();
    }
    match link(&app, &token).await {
        Err(response) => response,
        Ok(Link::NotValid) => html(&app, StatusCode::NOT_FOUND, Page::NotValid),
        Ok(Link::Pending { expired: true, .. }) => html(&app, StatusCode::GONE, Page::Expired),
        Ok(Link::Confirmed { email }) => used_link(&app, &email),
        Ok(Link::Pending { email, .. }) => {
            let form = app.keys.current.form_token(CONFIRM, &token);
            let action = format!("{}/confirm/{token}", app.newsletter.web.base_url);
            html(
                &app,
                StatusCode::OK,
                Page::ConfirmSignUp {
                    masked: &mask(&email),
                    action: &action,
                    form: &form,
                },
            )
        }
    }
}

/// POST `/confirm/{token}` from the page's button: confirms. The answer
/// comes once the confirmation is on disk and the reader's old
/// suppression lifted; the list row follows ([`join_waiting`]).
pub(super) async fn confirm(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(signups) = &app.signups else {
        return super::nothing_here();
    };
    if !from_our_page(&app, CONFIRM, &token, &headers, &body) {
        return html(
            &app,
            StatusCode::FORBIDDEN,
            Page::BadRequest("Confirming works from the button on this service's own page."),
        );
    }
    let (id, email) = match link(&app, &token).await {
        Err(response) => return response,
        Ok(Link::NotValid) => return html(&app, StatusCode::NOT_FOUND, Page::NotValid),
        Ok(Link::Confirmed { email }) => return used_link(&app, &email),
        Ok(Link::Pending { expired: true, .. }) => {
            return html(&app, StatusCode::GONE, Page::Expired);
        }
        Ok(Link::Pending { id, email, .. }) => (id, email),
    };
    let client = client_address(&headers, peer, signups.settings.forwarded_for);
    let at = crate::clock::wall();
    let confirmed = Record::Confirmed {
        id: id.clone(),
        email: email.clone(),
        at,
        client: signups.settings.record_client.then(|| client.to_string()),
    };
    let written = on_file(&app, move |signups| {
        signups.with_file(|locked, view| {
            if !view.signups.is_confirmed(&id) {
                locked.append(std::slice::from_ref(&confirmed))?;
            }
            Ok(())
        })
    })
    .await;
    if let Err(e) = written {
        return not_recorded(&app, &e);
    }
    if let Err(e) = lift(&app, &email, at).await {
        return not_recorded(&app, &e);
    }
    log::event(
        Level::Info,
        "signup.confirmed",
        &[("reader", &mask(&email))],
    );
    let joining = Arc::clone(&app);
    tokio::spawn(async move { join_waiting(&joining).await });
    joined_page(&app, &email)
}

fn not_recorded(app: &App, e: &dyn std::fmt::Display) -> Response {
    log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
    html(app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded)
}

/// New consent, given at `confirmed`, lifts what took the address off
/// before then (durably; nothing if nothing did).
async fn lift(
    app: &App,
    email: &str,
    confirmed: DateTime<Utc>,
) -> Result<(), crate::fs::journal::WriteError> {
    app.writer
        .record(Change::Join {
            email: email.to_string(),
            confirmed,
        })
        .await
        .map(drop)
}

/// After confirming: the latest issue's web version with a line on top
/// that says they are subscribed; a page saying so if nothing was sent yet.
fn joined_page(app: &App, email: &str) -> Response {
    let masked = mask(email);
    let Some(issue) = super::latest_issue_page(app) else {
        return html(app, StatusCode::OK, Page::Joined { masked: &masked });
    };
    let banner = super::pages::joined_banner(&app.newsletter.name, &masked);
    let text = String::from_utf8_lossy(&issue);
    let at = text
        .find("<body")
        .and_then(|start| text[start..].find('>').map(|end| start + end + 1))
        .unwrap_or(0);
    let page = format!("{}{banner}{}", &text[..at], &text[at..]);
    (
        StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        page,
    )
        .into_response()
}

/// Puts every confirmed sign-up not yet on the list on it: its old
/// suppression lifted (again, if that was done: it changes nothing then),
/// its row added (waiting for any send that is reading the list), a
/// `joined` record, and its welcome unless something took it off since.
/// Run after each confirmation, and when the service starts (a
/// confirmation recorded just before a crash still joins, whole).
pub(super) async fn join_waiting(app: &Arc<App>) {
    let Some(signups) = &app.signups else {
        return;
    };
    let _one = signups.deciding.lock().await;
    let waiting: Vec<Joining> = match on_file(app, |signups| {
        signups.with_file(|_, view| Ok(view.signups.to_join()))
    })
    .await
    {
        Ok(waiting) => waiting,
        Err(e) => return log::event(Level::Error, "signup.not_joined", &[("error", &e)]),
    };
    if waiting.is_empty() {
        return;
    }
    for one in &waiting {
        if let Err(e) = lift(app, &one.email, one.confirmed).await {
            return log::event(Level::Error, "signup.not_joined", &[("error", &e)]);
        }
    }
    let adding = Arc::clone(app);
    let joining = waiting.clone();
    let added = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let waiting = joining;
        let Some(signups) = &adding.signups else {
            return Ok(());
        };
        let readers: Vec<Reader> = waiting
            .iter()
            .filter_map(|one| {
                Some(Reader {
                    email: address::parse(&one.email).ok()?,
                    name: one.name.clone(),
                })
            })
            .collect();
        crate::list::subscribers::add(&adding.newsletter.paths.subscribers, &readers)
            .map_err(|e| e.to_string())?;
        let at = crate::clock::wall();
        let records: Vec<Record> = waiting
            .iter()
            .map(|one| Record::Joined {
                id: one.id.clone(),
                email: one.email.clone(),
                at,
            })
            .collect();
        signups
            .with_file(|locked, _| locked.append(&records))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
    .await;
    match added {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return log::event(Level::Error, "signup.not_joined", &[("error", &e)]),
        Err(e) => return log::event(Level::Error, "signup.not_joined", &[("error", &e)]),
    }
    for one in &waiting {
        log::event(
            Level::Info,
            "signup.joined",
            &[("reader", &mask(&one.email))],
        );
        let off = super::unsubscribe::standing(app, &one.email).is_suppressed();
        if let (Some(text), false) = (&signups.settings.welcome, off) {
            welcome(app, signups, &one.id, &one.email, text).await;
        }
    }
}

async fn welcome(app: &App, signups: &SignUps, id: &str, email: &str, text: &str) {
    let Ok(address) = address::parse(email) else {
        return;
    };
    let reader = Reader {
        email: address,
        name: None,
    };
    let unsubscribe = app
        .newsletter
        .web
        .unsubscribe_url(&app.keys.current.token(email));
    let sent = match crate::mail::notice::welcome(
        &app.newsletter,
        signups.dkim.as_deref(),
        &reader.mailbox(),
        id,
        text,
        &unsubscribe,
    ) {
        Ok(message) => {
            crate::deliver::single::send(
                &signups.relays,
                &return_path(app),
                &reader.email,
                &message,
            )
            .await
        }
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = sent {
        log::event(
            Level::Error,
            "signup.welcome_not_sent",
            &[("reader", &mask(email)), ("error", &why)],
        );
    }
}
