//! `catchup serve`: the newsletter's web side, an HTTP service behind the
//! operator's reverse proxy (which does TLS).
//!
//! - `/u/{token}`: RFC 8058 one-click unsubscribe. A POST with the body
//!   `List-Unsubscribe=One-Click` unsubscribes at once (durable before the
//!   answer); a GET only shows a page with one button, because mail
//!   scanners and link previewers fetch every link. `/u/{token}/resubscribe`
//!   undoes it.
//! - `/hooks/ses`, `/hooks/postmark`: providers' reports of bounces and
//!   complaints, when `[bounces.ses]` or `[bounces.postmark]` is set.
//! - `/subscribe`, `/confirm/{token}`: joining, when `[subscribe]` is set
//!   ([`subscribe`]).
//! - `/`, `/issues/{name}.html`, `/feed.xml`: the public archive
//!   ([`crate::web::archive`]).
//!
//! | file | owns |
//! |---|---|
//! | `connections.rs` | how many connections, from whom, for how long |
//! | `unsubscribe.rs` | the unsubscribe and resubscribe requests |
//! | `subscribe.rs` | the sign-up form, its limits, the confirmation, the join |
//! | `pages.rs` | the pages a reader sees |
//! | `webhooks.rs` | SES (through SNS) and Postmark reports of bounces and complaints |

pub(crate) mod archive;
mod connections;
mod pages;
mod subscribe;
mod unsubscribe;
mod webhooks;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::list::suppression::{self, Suppressed};
use crate::list::token::Keys;
use crate::log::{self, Level};
use crate::web::archive::Archive;

use crate::list::index::{By, Readers};
use connections::Limits;

/// A one-click body is 26 bytes; anything much larger is not one.
pub(crate) const BODY_LIMIT: usize = 4 * 1024;

/// Everything the handlers share.
struct App {
    newsletter: Newsletter,
    keys: Keys,
    readers: tokio::sync::RwLock<Readers>,
    /// One rebuild of the index at a time.
    rebuilding: tokio::sync::Mutex<()>,
    suppressed: Mutex<Suppressed>,
    writer: suppression::Writer,
    archive: Mutex<(Vec<String>, Archive)>,
    /// The sign-up side, when `[subscribe]` is set.
    signups: Option<subscribe::SignUps>,
}

/// Runs the service until SIGINT or SIGTERM.
///
/// # Errors
/// No secret, an unreadable list, or the address cannot be listened on.
pub(crate) fn serve(newsletter: Newsletter, listen: SocketAddr) -> Result<Exit> {
    let keys = newsletter.web.keys(&newsletter.env)?;
    let paths = &newsletter.paths;
    let readers = Readers::build(&paths.subscribers, &keys, By::Token)?;
    let writer = suppression::Writer::open(&paths.suppressed)?;
    let suppressed = Suppressed::load(&paths.suppressed)?;
    let archive = Archive::build(&newsletter, &paths.state)?;
    let signups = sign_ups(&newsletter)?;
    let app = Arc::new(App {
        readers: tokio::sync::RwLock::new(readers),
        rebuilding: tokio::sync::Mutex::new(()),
        suppressed: Mutex::new(suppressed),
        writer,
        archive: Mutex::new((stamp(&paths.state), archive)),
        signups,
        keys,
        newsletter,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(app, listen))
}

/// The sign-up side: its relays and DKIM keys, checked now, so that a
/// service that cannot send a confirmation does not start.
fn sign_ups(newsletter: &Newsletter) -> Result<Option<subscribe::SignUps>> {
    let Some(settings) = &newsletter.subscribe else {
        return Ok(None);
    };
    let Some(smtp) = &newsletter.smtp else {
        return Err(Error::config(format!(
            "{}: [subscribe] sends each sign-up a confirmation message, so it needs [smtp]",
            newsletter.source.path.display()
        )));
    };
    let relays =
        crate::deliver::relays::Relays::new(smtp, newsletter.from.email.domain(), &newsletter.env)?;
    let dkim = if newsletter.dkim.is_empty() {
        None
    } else {
        let (signer, _) =
            crate::mail::dkim::Signer::load(&newsletter.dkim, &newsletter.source, &newsletter.env)
                .map_err(|d| Error::from(crate::diagnostic::Diagnostics(vec![d])))?;
        Some(Arc::new(signer))
    };
    crate::fs::create_folder(&newsletter.paths.state)?;
    Ok(Some(subscribe::SignUps::new(
        settings.clone(),
        relays,
        dkim,
        &newsletter.paths.state,
    )))
}

/// Connections the kernel may queue before the service accepts them. A
/// send's unsubscribes come in bursts; tokio's default of 128 made some
/// wait a second for a SYN retransmit under 200 at once (measured).
const BACKLOG: u32 = 4096;

async fn run(app: Arc<App>, listen: SocketAddr) -> Result<Exit> {
    let listener =
        bind(listen).map_err(|e| Error::config(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot tell the address listened on: {e}")))?;
    {
        use std::io::Write as _;
        let readers = app.readers.read().await.len();
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "catchup serve: listening on http://{local} for {} ({} index entries)",
            app.newsletter.web.base_url, readers
        )?;
        out.flush()?;
    }
    log::event(
        Level::Info,
        "serve.start",
        &[
            ("listen", &local),
            ("base_url", &app.newsletter.web.base_url),
        ],
    );
    // A confirmation acknowledged just before the service stopped joins now.
    let joining = Arc::clone(&app);
    tokio::spawn(async move { subscribe::join_waiting(&joining).await });
    connections::serve(listener, router(app), Limits::default(), stopped()).await;
    log::event(Level::Info, "serve.stop", &[]);
    Ok(Exit::Ok)
}

/// A whole request, body included, must be answered within this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Answers 408 to a request that takes too long (a body sent slowly).
async fn time_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The request took too long\n",
        )
            .into_response(),
    }
}

fn bind(listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(BACKLOG)
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/u/{token}",
            get(unsubscribe::show).post(unsubscribe::one_click),
        )
        .route("/u/{token}/resubscribe", post(unsubscribe::resubscribe))
        .route("/u/", get(unsubscribe::use_your_link))
        .route("/subscribe", get(subscribe::form).post(subscribe::submit))
        .route(
            "/confirm/{token}",
            get(subscribe::show).post(subscribe::confirm),
        )
        .route(
            "/hooks/ses",
            post(webhooks::ses).layer(DefaultBodyLimit::max(webhooks::BODY_LIMIT)),
        )
        .route(
            "/hooks/postmark",
            post(webhooks::postmark).layer(DefaultBodyLimit::max(webhooks::BODY_LIMIT)),
        )
        .route("/", get(archive_page))
        .route("/index.html", get(archive_page))
        .route("/feed.xml", get(archive_page))
        .route("/issues/{page}", get(archive_page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::map_response(secure))
        .with_state(app)
}

/// Headers on every answer: no framing (the unsubscribe button cannot be
/// clickjacked), no referrer to other sites (the token in the URL goes
/// nowhere else), no
/// scripts, forms only to this service.
async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |value: &'static str| HeaderValue::from_static(value);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        set("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    // `same-origin`: the token in the URL goes to no other site, and a
    // browser still says which origin a form's POST comes from (under
    // `no-referrer` Chromium sends `Origin: null`, found by the sign-up's
    // browser test).
    headers.insert(header::REFERRER_POLICY, set("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, set("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, set("DENY"));
    response
}

async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// The archive as it stands, rebuilt first if a list send has recorded a
/// new issue since it was built.
fn current_archive(app: &App) -> std::sync::MutexGuard<'_, (Vec<String>, Archive)> {
    let state = &app.newsletter.paths.state;
    let fresh = stamp(state);
    let mut cached = app
        .archive
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if cached.0 != fresh {
        match Archive::build(&app.newsletter, state) {
            Ok(archive) => *cached = (fresh, archive),
            Err(e) => {
                log::event(Level::Error, "serve.archive_failed", &[("error", &e)]);
            }
        }
    }
    cached
}

/// The archive's pages.
async fn archive_page(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let cached = current_archive(&app);
    match cached.1.page(uri.path()) {
        Some(page) => (
            [(header::CONTENT_TYPE, page.content_type)],
            page.body.clone(),
        )
            .into_response(),
        None => nothing_here(),
    }
}

/// The newest sent issue's web version, as the archive serves it.
fn latest_issue_page(app: &App) -> Option<Vec<u8>> {
    let (name, _) = crate::deliver::sent::all(&app.newsletter.paths.state)
        .into_iter()
        .max_by(|a, b| (a.1.moment, &a.0).cmp(&(b.1.moment, &b.0)))?;
    let cached = current_archive(app);
    cached
        .1
        .page(&format!("issues/{}.html", name.as_str()))
        .map(|page| page.body.clone())
}

/// What the archive depends on: each sent issue's record, by name and
/// modification time.
fn stamp(state: &Path) -> Vec<String> {
    let mut stamps: Vec<String> = std::fs::read_dir(state)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let meta = std::fs::metadata(entry.path().join(crate::deliver::state::SENT)).ok()?;
            Some(format!(
                "{}:{:?}",
                entry.file_name().to_string_lossy(),
                meta.modified().ok()?
            ))
        })
        .collect();
    stamps.sort();
    stamps
}

async fn not_found() -> Response {
    nothing_here()
}

fn nothing_here() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Not found\n",
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "This address takes GET, or POST from its own form\n",
    )
        .into_response()
}
