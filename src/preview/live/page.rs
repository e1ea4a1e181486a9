//! The live preview's page: a toolbar (HTML, plain text, a 375px phone),
//! the email in a sandboxed frame, and a small script that reloads it when
//! the server says the issue changed. The page is static; the script
//! fetches `/state.json` and `/email.txt` and points the frame at
//! `/email.html`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, html};

const STYLE: &str = "
body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#e9ecef;color:#1f2933}
header{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:center;padding:10px 16px;background:#1f2933;color:#fff}
header h1{font-size:15px;margin:0 16px 0 0;font-weight:600}
header button{font:inherit;font-size:14px;padding:6px 12px;border:1px solid #52606d;border-radius:4px;background:#323f4b;color:#fff;cursor:pointer}
header button[aria-pressed=true]{background:#fff;color:#1f2933}
#status{margin-left:auto;font-size:13px;color:#cbd2d9}
main{padding:16px 8px;display:flex;flex-direction:column;align-items:center;gap:12px}
#email{width:100%;max-width:760px;height:calc(100vh - 90px);border:0;background:#fff}
#email.phone{box-sizing:border-box;width:399px;max-width:100%;height:691px;border:12px solid #1f2933;border-radius:24px}
#text,#problems,#warnings{width:100%;max-width:760px;margin:0;padding:16px;background:#fff;white-space:pre-wrap;overflow-wrap:anywhere;font:14px/1.45 ui-monospace,Menlo,Consolas,monospace;box-sizing:border-box}
#problems{border-left:6px solid #c0392b}
#warnings{border-left:6px solid #b7791f}
[hidden]{display:none !important}
";

const SCRIPT: &str = r#"'use strict';
const frame = document.getElementById('email');
const text = document.getElementById('text');
const problems = document.getElementById('problems');
const status = document.getElementById('status');
const warnings = document.getElementById('warnings');
let view = 'html';
let broken = false;
let shown = 0;

function show() {
  frame.hidden = broken || view === 'text';
  text.hidden = broken || view !== 'text';
  problems.hidden = !broken;
  frame.classList.toggle('phone', view === 'phone');
  for (const button of document.querySelectorAll('header button')) {
    button.setAttribute('aria-pressed', String(button.dataset.view === view));
  }
}

async function refresh() {
  const state = await (await fetch('/state.json', {cache: 'no-store'})).json();
  // Two refreshes can cross: never go back to an older state.
  if (state.generation <= shown) return;
  shown = state.generation;
  broken = state.error !== null;
  if (broken) {
    problems.textContent = state.error;
    status.textContent = 'the issue has problems (update ' + state.generation + ')';
  } else {
    frame.src = '/email.html?g=' + state.generation;
    text.textContent = await (await fetch('/email.txt', {cache: 'no-store'})).text();
    status.textContent = state.subject + ' (update ' + state.generation + ', ' + state.warnings.length + ' warning(s))';
  }
  // Each warning in full, as `catchup check` prints it.
  warnings.textContent = broken ? '' : state.warnings.join('\n');
  warnings.hidden = broken || state.warnings.length === 0;
  document.body.dataset.generation = String(state.generation);
  show();
}

for (const button of document.querySelectorAll('header button')) {
  button.addEventListener('click', () => { view = button.dataset.view; show(); });
}
const events = new EventSource('/events');
events.addEventListener('reload', () => refresh());
events.onerror = () => { status.textContent = 'the preview stopped; run catchup preview --watch again'; };
"#;

/// The page, loaded once; the script keeps it current.
pub(crate) fn shell() -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "catchup preview" }
                style { (STYLE) }
            }
            body data-generation="0" {
                header {
                    h1 { "catchup preview" }
                    button type="button" data-view="html" aria-pressed="true" { "HTML" }
                    button type="button" data-view="text" aria-pressed="false" { "Plain text" }
                    button type="button" data-view="phone" aria-pressed="false" { "Phone (375px)" }
                    span #status role="status" { "loading…" }
                }
                main {
                    iframe #email title="The email" sandbox="allow-popups allow-popups-to-escape-sandbox" {}
                    pre #text hidden {}
                    pre #problems hidden role="alert" {}
                    pre #warnings hidden aria-label="Warnings" {}
                }
                script src="/watch.js" {}
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; connect-src 'self'; frame-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
            ),
        ],
        page.into_string(),
    )
        .into_response()
}

pub(crate) fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// What the frame shows while the issue cannot be composed.
pub(crate) fn problems(error: &str) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "The issue has problems" } }
            body style="font-family:system-ui,sans-serif;margin:16px" {
                p { strong { "The issue cannot be shown until these are fixed:" } }
                pre style="white-space:pre-wrap;font:14px/1.45 ui-monospace,Menlo,Consolas,monospace" { (error) }
            }
        }
    }
    .into_string()
}
