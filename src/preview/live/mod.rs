//! `catchup preview --watch`: the issue as a reader sees it, in a local web
//! page that updates as the editor saves. [`notify`] watches the issue's
//! folder, the settings' folder and the seeds; each change recomposes the
//! issue (as `preview` does) and tells open pages to reload over
//! server-sent events. A mistake does not stop it: the page shows the same
//! diagnostics `check` prints until the file is fixed. [`page`] holds the
//! page itself.

mod page;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use tokio::sync::watch;

use crate::compose::{Repeats, Signing, compose};
use crate::error::{Error, Result};
use crate::exit::Exit;

/// Saves come in bursts (an editor writes a temporary file, then renames
/// it); changes this close together are one change...
const SETTLE: Duration = Duration::from_millis(120);
/// ...but a burst that never ends (an editor saving on every keystroke)
/// still shows its latest state this often.
const AT_MOST: Duration = Duration::from_secs(1);

/// What `--watch` was asked to do.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub config: PathBuf,
    pub issue: Option<PathBuf>,
    /// Where to listen [default: a free loopback port].
    pub listen: Option<SocketAddr>,
    /// Open the page in the user's browser.
    pub open: bool,
}

/// The issue as last composed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Shown {
    /// Counts up with every recomposition.
    pub generation: u64,
    pub subject: Option<String>,
    /// The email's HTML and text, as the placeholder reader sees them.
    #[serde(skip)]
    pub html: String,
    #[serde(skip)]
    pub text: String,
    /// What `check` would print, when the issue cannot be composed.
    pub error: Option<String>,
    pub warnings: Vec<String>,
}

/// Runs the live preview until Ctrl-C.
///
/// # Errors
/// No issue to watch, or the address cannot be listened on.
pub(crate) fn run(options: Options) -> Result<Exit> {
    let issue = match &options.issue {
        Some(path) => path.clone(),
        None => crate::issue::newest(&crate::compose::newsletter(&options.config)?.paths.issues)?,
    };
    let first = shown(&options.config, &issue, 1);
    let (tx, rx) = watch::channel(Arc::new(first));
    let folders = folders(&options.config, &issue);
    let _watcher = start_watching(&folders, options.config.clone(), issue.clone(), tx)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve(options, issue, folders, rx))
}

/// Composes the issue as `preview` would; a failure becomes the text
/// `check` prints.
fn shown(config: &Path, issue: &Path, generation: u64) -> Shown {
    match compose(config, Some(issue), Signing::Preview, Repeats::Allow) {
        Ok(composed) => Shown {
            generation,
            subject: Some(composed.issue.subject.clone()),
            html: composed.seen.html,
            text: composed.seen.text,
            error: None,
            warnings: composed.warnings.iter().map(|w| w.render()).collect(),
        },
        Err(err) => Shown {
            generation,
            subject: None,
            html: String::new(),
            text: String::new(),
            error: Some(match err.downcast_ref::<crate::diagnostic::Diagnostics>() {
                Some(diagnostics) => {
                    let mut text: String = diagnostics
                        .0
                        .iter()
                        .map(|d| format!("{}\n\n", d.render()))
                        .collect();
                    let errors = diagnostics.errors().count();
                    text.push_str(&format!(
                        "{errors} error(s), {} warning(s)",
                        diagnostics.0.len() - errors
                    ));
                    text
                }
                None => format!("error: {err}"),
            }),
            warnings: Vec::new(),
        },
    }
}

/// The folders whose changes can change the email: the issue's (other
/// issues take part in its checks), the settings' and the seeds'.
fn folders(config: &Path, issue: &Path) -> Vec<PathBuf> {
    let seeds = crate::compose::newsletter(config)
        .map(|n| n.paths.seeds)
        .unwrap_or_else(|_| PathBuf::from("seeds"));
    let mut folders = vec![
        crate::fs::folder_of(issue).to_path_buf(),
        crate::fs::folder_of(config).to_path_buf(),
        seeds,
    ];
    folders.sort();
    folders.dedup();
    folders
}

/// Watches `folders`; on each settled burst of changes, recomposes and
/// publishes. The watcher stops when the returned value is dropped.
fn start_watching(
    folders: &[PathBuf],
    config: PathBuf,
    issue: PathBuf,
    tx: watch::Sender<Arc<Shown>>,
) -> Result<notify::RecommendedWatcher> {
    use notify::Watcher as _;
    let (events, changes) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = events.send(());
        }
    })
    .map_err(|e| Error::failure(format!("cannot watch for changes: {e}")))?;
    for folder in folders {
        watcher
            .watch(folder, notify::RecursiveMode::NonRecursive)
            .map_err(|e| Error::config(format!("cannot watch `{}`: {e}", folder.display())))?;
    }
    std::thread::spawn(move || {
        let mut generation = 1;
        while changes.recv().is_ok() {
            let burst = std::time::Instant::now();
            while burst.elapsed() < AT_MOST && changes.recv_timeout(SETTLE).is_ok() {}
            generation += 1;
            let next = shown(&config, &issue, generation);
            report(&issue, &next);
            if tx.send(Arc::new(next)).is_err() {
                break;
            }
        }
    });
    Ok(watcher)
}

/// One line on stderr per recomposition.
fn report(issue: &Path, shown: &Shown) {
    let now = crate::clock::wall().format("%H:%M:%S");
    match &shown.error {
        None => eprintln!(
            "{now} updated {} ({} warning(s))",
            issue.display(),
            shown.warnings.len()
        ),
        Some(error) => eprintln!(
            "{now} {} has problems; the page shows them:\n{error}\n",
            issue.display()
        ),
    }
}

#[derive(Debug, Clone)]
struct App {
    shown: watch::Receiver<Arc<Shown>>,
    /// The `Host` headers answered: the address listened on, by number or
    /// as `localhost`, so that no other site can read the preview through a
    /// name that points here (DNS rebinding).
    hosts: Vec<String>,
}

async fn serve(
    options: Options,
    issue: PathBuf,
    folders: Vec<PathBuf>,
    shown: watch::Receiver<Arc<Shown>>,
) -> Result<Exit> {
    let listen = options
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    // A draft is nobody else's business: loopback only.
    if !listen.ip().is_loopback() {
        return Err(Error::config(format!(
            "the live preview listens on loopback only, not {listen}; use 127.0.0.1:PORT"
        )));
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::config(format!("cannot listen on {listen}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot tell the address listened on: {e}")))?;
    let url = format!("http://{local}/");
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")?;
        let watched: Vec<String> = folders
            .iter()
            .map(|f| format!("{}/", f.display()))
            .collect();
        writeln!(
            out,
            "previewing {} live; watching {}. Ctrl-C to stop.",
            issue.display(),
            watched.join(", ")
        )?;
        out.flush()?;
    }
    if options.open {
        open_in_browser(&url);
    }
    let port = local.port();
    let app = App {
        shown,
        hosts: vec![
            format!("{local}"),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ],
    };
    let server = axum::serve(listener, router(app));
    tokio::select! {
        result = server => result.map_err(|e| Error::failure(format!("the preview server stopped: {e}")))?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(Exit::Ok)
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(|| async { page::shell() }))
        .route("/watch.js", get(|| async { page::script() }))
        .route("/email.html", get(email_html))
        .route("/email.txt", get(email_text))
        .route("/state.json", get(state))
        .route("/events", get(events))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            only_local_hosts,
        ))
        .with_state(app)
}

async fn only_local_hosts(
    State(app): State<App>,
    headers: HeaderMap,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return (
            StatusCode::FORBIDDEN,
            "This preview answers only on the address it printed.\n",
        )
            .into_response();
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn email_html(State(app): State<App>) -> Response {
    let shown = app.shown.borrow().clone();
    let body = match &shown.error {
        None => shown.html.clone(),
        Some(error) => page::problems(error),
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "script-src 'none'"),
        ],
        body,
    )
        .into_response()
}

async fn email_text(State(app): State<App>) -> Response {
    let shown = app.shown.borrow().clone();
    let body = shown.error.clone().unwrap_or_else(|| shown.text.clone());
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn state(State(app): State<App>) -> Response {
    let shown = app.shown.borrow().clone();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&*shown).unwrap_or_default(),
    )
        .into_response()
}

/// Server-sent events: `reload` with the generation, now and after every
/// change.
async fn events(State(app): State<App>) -> impl IntoResponse {
    let mut shown = app.shown.clone();
    shown.mark_changed();
    let stream = futures_util::stream::unfold(shown, |mut shown| async move {
        shown.changed().await.ok()?;
        let generation = shown.borrow_and_update().generation;
        let event = Event::default()
            .event("reload")
            .data(generation.to_string());
        Some((Ok::<_, std::convert::Infallible>(event), shown))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Asks the desktop to open `url`; a failure is a warning.
fn open_in_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        eprintln!("warning: cannot open a browser with `{opener}` ({e}); open {url} yourself");
    }
}
