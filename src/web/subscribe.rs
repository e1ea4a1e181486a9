//! Joining the list: the form (`/subscribe`), the confirmation link
//! (`/confirm/{token}`), and the join itself.
//!
//! - The form's POST answers the same page whatever the address's state,
//!   so it tells no one who is subscribed. A sign-up is recorded (fsynced)
//!   before the answer, and its confirmation message is sent afterwards.
//!   Limits per client address (in memory), per address and in all (from
//!   the file, so a restart does not reset them) stop mail-bombing; a
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
use crate::list::address;
use crate::list::reader::{Reader, clean_name};
use crate::list::signups::{self, Locked, Record};
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
            deciding: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts a sign-up from `client`; false if it, or the service, is
    /// over its limit for the hour.
    fn admit(&self, client: IpAddr, now: Instant) -> bool {
        let hour = Duration::from_secs(3600);
        {
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
        }
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
        times.push_back(now);
        true
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
    let Some(signups) = &app.signups else {
        return super::nothing_here();
    };
    let settings = &signups.settings;
    let form = Form::parse(&body);
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
    let client = client_address(&headers, peer, settings.forwarded_for);
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
        let file = signups.file.clone();
        let limits = settings_limits(settings);
        tokio::task::spawn_blocking(move || record_if_allowed(&file, asked, limits)).await
    };
    match decided {
        Ok(Ok(Some(record))) => {
            let sender = Arc::clone(&app);
            tokio::spawn(async move { send_confirmation(&sender, record).await });
            html(&app, StatusCode::OK, Page::CheckInbox)
        }
        Ok(Ok(None)) => html(&app, StatusCode::OK, Page::CheckInbox),
        Ok(Err(e)) => {
            log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
            html(&app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded)
        }
        Err(e) => {
            log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
            html(&app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded)
        }
    }
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

/// The limits a sign-up is held to, from the file.
#[derive(Debug, Clone, Copy)]
struct Limits {
    per_address: usize,
    per_hour: usize,
}

fn settings_limits(settings: &Subscribe) -> Limits {
    Limits {
        per_address: settings.per_address as usize,
        per_hour: settings.per_hour as usize,
    }
}

/// Under the file's lock: appends the sign-up (fsynced) unless the address
/// has had its confirmations for the day, or the service its for the
/// hour. `None`: not taken.
fn record_if_allowed(
    file: &std::path::Path,
    asked: Record,
    limits: Limits,
) -> Result<Option<Record>, crate::fs::FileError> {
    let Record::Asked { email, at, .. } = &asked else {
        return Ok(None);
    };
    let mut locked = Locked::lock(file)?;
    let now = locked.read()?;
    let day = now.asked_since(email, *at - chrono::Duration::days(1));
    let hour = now.all_asked_since(*at - chrono::Duration::hours(1));
    if day >= limits.per_address || hour >= limits.per_hour {
        log::event(
            Level::Warn,
            "signup.limited",
            &[
                ("reader", &mask(email)),
                ("today_for_address", &day),
                ("this_hour", &hour),
            ],
        );
        return Ok(None);
    }
    if locked.len()? > PRUNE_AT {
        locked.replace(&now.without_lapsed(*at))?;
    }
    locked.append(std::slice::from_ref(&asked))?;
    Ok(Some(asked))
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

async fn link(app: &App, signups: &SignUps, token: &str) -> Result<Link, Response> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(expires), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(Link::NotValid);
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return Ok(Link::NotValid);
    };
    // Checked before any file is read: a flood of made-up links costs an
    // HMAC each.
    if id.len() != 32
        || !id.bytes().all(|b| b.is_ascii_hexdigit())
        || !app
            .keys
            .all()
            .any(|key| key.verify_confirm(id, expires, mac))
    {
        return Ok(Link::NotValid);
    }
    let file = signups.file.clone();
    let read = tokio::task::spawn_blocking(move || signups::Signups::load(&file)).await;
    let now = match read {
        Ok(Ok(now)) => now,
        Ok(Err(e)) => {
            log::event(Level::Error, "signup.unreadable", &[("error", &e)]);
            return Err(html(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                Page::NotRecorded,
            ));
        }
        Err(e) => {
            log::event(Level::Error, "signup.unreadable", &[("error", &e)]);
            return Err(html(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                Page::NotRecorded,
            ));
        }
    };
    // Erased since, or lapsed and pruned: no longer anyone's.
    let Some(email) = now.about_id(id).map(str::to_string) else {
        return Ok(Link::NotValid);
    };
    if now.is_confirmed(id) {
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

/// GET `/confirm/{token}`: the page with the button. Confirms nobody.
pub(super) async fn show(State(app): State<Arc<App>>, Path(token): Path<String>) -> Response {
    let Some(signups) = &app.signups else {
        return super::nothing_here();
    };
    match link(&app, signups, &token).await {
        Err(response) => response,
        Ok(Link::NotValid) => html(&app, StatusCode::NOT_FOUND, Page::NotValid),
        Ok(Link::Pending { expired: true, .. }) => html(&app, StatusCode::GONE, Page::Expired),
        Ok(Link::Confirmed { email }) => joined_page(&app, &email),
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

/// POST `/confirm/{token}` from the page's button: confirms.
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
    let (id, email) = match link(&app, signups, &token).await {
        Err(response) => return response,
        Ok(Link::NotValid) => return html(&app, StatusCode::NOT_FOUND, Page::NotValid),
        Ok(Link::Confirmed { email }) => return joined_page(&app, &email),
        Ok(Link::Pending { expired: true, .. }) => {
            return html(&app, StatusCode::GONE, Page::Expired);
        }
        Ok(Link::Pending { id, email, .. }) => (id, email),
    };
    let client = client_address(&headers, peer, signups.settings.forwarded_for);
    let confirmed = Record::Confirmed {
        id: id.clone(),
        email: email.clone(),
        at: crate::clock::wall(),
        client: signups.settings.record_client.then(|| client.to_string()),
    };
    let file = signups.file.clone();
    let written = tokio::task::spawn_blocking(move || {
        let mut locked = Locked::lock(&file)?;
        if locked.read()?.is_confirmed(&id) {
            return Ok(false);
        }
        locked
            .append(std::slice::from_ref(&confirmed))
            .map(|()| true)
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
            return html(&app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded);
        }
        Err(e) => {
            log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
            return html(&app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded);
        }
    }
    // New consent lifts what took the address off before.
    if let Err(e) = app
        .writer
        .record(Change::Join {
            email: email.clone(),
        })
        .await
    {
        log::event(Level::Error, "signup.not_recorded", &[("error", &e)]);
        return html(&app, StatusCode::SERVICE_UNAVAILABLE, Page::NotRecorded);
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

/// Puts every confirmed sign-up not yet on the list on it (waiting for
/// any send that is reading the list), records that, and sends each its
/// welcome. Run after each confirmation, and when the service starts (a
/// confirmation acknowledged just before a crash still joins).
pub(super) async fn join_waiting(app: &App) {
    let Some(signups) = &app.signups else {
        return;
    };
    let _one = signups.deciding.lock().await;
    let file = signups.file.clone();
    let list = app.newsletter.paths.subscribers.clone();
    let joined = tokio::task::spawn_blocking(move || -> Result<Vec<Record>, String> {
        let waiting = signups::Signups::load(&file)
            .map_err(|e| e.to_string())?
            .to_join();
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let readers: Vec<Reader> = waiting
            .iter()
            .filter_map(|(_, email, name)| {
                Some(Reader {
                    email: address::parse(email).ok()?,
                    name: name.clone(),
                })
            })
            .collect();
        crate::list::subscribers::add(&list, &readers).map_err(|e| e.to_string())?;
        let at = crate::clock::wall();
        let records: Vec<Record> = waiting
            .into_iter()
            .map(|(id, email, _)| Record::Joined { id, email, at })
            .collect();
        Locked::lock(&file)
            .and_then(|mut l| l.append(&records))
            .map_err(|e| e.to_string())?;
        Ok(records)
    })
    .await;
    let records = match joined {
        Ok(Ok(records)) => records,
        Ok(Err(e)) => {
            log::event(Level::Error, "signup.not_joined", &[("error", &e)]);
            return;
        }
        Err(e) => {
            log::event(Level::Error, "signup.not_joined", &[("error", &e)]);
            return;
        }
    };
    for record in records {
        if let Record::Joined { id, email, .. } = record {
            log::event(Level::Info, "signup.joined", &[("reader", &mask(&email))]);
            if let Some(text) = &signups.settings.welcome {
                welcome(app, signups, &id, &email, text).await;
            }
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
