//! The public archive: the web version of every issue a list send has
//! started, an index of them (newest first) and an Atom feed of them with
//! their full content. Drafts never appear: an issue is here only once its
//! list send has recorded what it carried (`state/<issue>/issue.json` and
//! `web.html`), and a preview records nothing.
//!
//! `catchup serve` serves these pages and `catchup archive --out DIR` writes
//! them as static files: both take them from [`Archive::build`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, PreEscaped, html};

use crate::config::Newsletter;
use crate::deliver::sent::{self, SentIssue};
use crate::deliver::state::WEB;
use crate::error::Error;
use crate::fs::{self, CONFIG_LIMIT};
use crate::issue::IssueName;

/// One page of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Every page, by its path under the base URL (`index.html`,
/// `issues/2018-07-27.html`, `feed.xml`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Archive {
    pages: BTreeMap<String, Page>,
}

/// A sent issue with its web version.
struct Published {
    name: IssueName,
    record: SentIssue,
    html: String,
}

const HTML: &str = "text/html; charset=utf-8";
const ATOM: &str = "application/atom+xml; charset=utf-8";

impl Archive {
    /// The archive of everything list-sent so far.
    ///
    /// # Errors
    /// A sent issue's web version cannot be read.
    pub(crate) fn build(newsletter: &Newsletter, state: &Path) -> Result<Archive, Error> {
        let mut published = Vec::new();
        for (name, record) in sent::all(state) {
            let path = state.join(name.as_str()).join(WEB);
            let bytes = fs::read_kept(&path, CONFIG_LIMIT * 4)?.unwrap_or_default();
            let html = String::from_utf8_lossy(&bytes).into_owned();
            published.push(Published { name, record, html });
        }
        published.sort_by(|a, b| (b.record.moment, &b.name).cmp(&(a.record.moment, &a.name)));

        let mut pages = BTreeMap::new();
        let page = |content_type, body: String| Page {
            content_type,
            body: body.into_bytes(),
        };
        pages.insert(
            "index.html".to_string(),
            page(HTML, index(newsletter, &published)),
        );
        pages.insert(
            "feed.xml".to_string(),
            page(ATOM, feed(newsletter, &published)),
        );
        for issue in &published {
            pages.insert(issue_path(&issue.name), page(HTML, issue.html.clone()));
        }
        Ok(Archive { pages })
    }

    /// The page at `path` (`""` and `/` are the index).
    pub(crate) fn page(&self, path: &str) -> Option<&Page> {
        let path = path.trim_start_matches('/');
        let path = if path.is_empty() { "index.html" } else { path };
        self.pages.get(path)
    }

    /// How many issues are published.
    pub(crate) fn issues(&self) -> usize {
        self.pages.len().saturating_sub(2)
    }

    /// Writes every page under `dir`, each atomically. Returns the paths.
    ///
    /// # Errors
    /// A page cannot be written.
    pub(crate) fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        for (path, page) in &self.pages {
            let target = dir.join(path);
            if let Some(parent) = target.parent() {
                fs::create_folder(parent)?;
            }
            fs::write_atomic(&target, &page.body)?;
            written.push(target);
        }
        Ok(written)
    }
}

fn issue_path(name: &IssueName) -> String {
    format!("issues/{name}.html")
}

fn long_date(moment: DateTime<Utc>) -> String {
    moment.format("%-d %B %Y").to_string()
}

/// The index: every published issue, newest first.
fn index(newsletter: &Newsletter, published: &[Published]) -> String {
    let title = format!("{}: archive", newsletter.name);
    html! {
        (DOCTYPE)
        html lang=(newsletter.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="alternate" type="application/atom+xml" title=(newsletter.name) href="feed.xml";
                style { (PreEscaped(INDEX_CSS)) }
            }
            body {
                main {
                    h1 { (title) }
                    p.tagline { (newsletter.tagline) }
                    @if published.is_empty() {
                        p { "No issues have been sent yet." }
                    } @else {
                        ol.issues reversed {
                            @for issue in published {
                                li {
                                    a href=(issue_path(&issue.name)) { (issue.record.subject) }
                                    " "
                                    time datetime=(issue.record.date.to_string()) { (long_date(issue.record.moment)) }
                                    p { (issue.record.preheader) }
                                }
                            }
                        }
                    }
                    p.feed { a href="feed.xml" { "Atom feed" } }
                }
            }
        }
    }
    .into_string()
}

const INDEX_CSS: &str = "body{margin:0;background:#eef1f4;font:16px/1.5 Helvetica,Arial,sans-serif;color:#1f2933}main{max-width:640px;margin:0 auto;padding:24px 16px}h1{font-family:Georgia,serif}ol{padding-left:1.5em}li{margin:0 0 20px}time{color:#52606d;white-space:nowrap}p{margin:4px 0}a{color:#0b4f6c}";

/// The Atom feed (RFC 4287), each entry with the issue's full content.
fn feed(newsletter: &Newsletter, published: &[Published]) -> String {
    let base = &newsletter.web.base_url;
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let updated = published
        .iter()
        .map(|p| p.record.moment)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let markup = html! {
        feed xmlns="http://www.w3.org/2005/Atom" "xml:lang"=(newsletter.language) {
            title { (newsletter.name) }
            subtitle { (newsletter.tagline) }
            link href={ (base) "/feed.xml" } rel="self" type="application/atom+xml" {}
            link href={ (base) "/" } rel="alternate" type="text/html" {}
            id { (base) "/" }
            updated { (stamp(updated)) }
            author { name { (newsletter.name) } }
            @for issue in published {
                @let url = newsletter.web.issue_url(issue.name.as_str());
                entry {
                    title { (issue.record.subject) }
                    link href=(url) rel="alternate" type="text/html" {}
                    id { (url) }
                    published { (stamp(issue.record.moment)) }
                    updated { (stamp(issue.record.moment)) }
                    summary { (issue.record.preheader) }
                    content type="html" { (body_of(&issue.html)) }
                }
            }
        }
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{}\n",
        markup.into_string()
    );
    // XML 1.0 allows no control characters but tab and line breaks, even
    // escaped: one in any issue would make the whole feed unreadable.
    xml.chars()
        .filter(|&c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .filter(|&c| !matches!(c, '\u{fffe}' | '\u{ffff}'))
        .collect()
}

/// The issue's own content: inside `<main>` (the web page's, without its
/// way back to the archive), or inside `<body>` for a page recorded before
/// issues had one.
fn body_of(html: &str) -> &str {
    if let Some(start) = html
        .find("<main")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
        && let Some(end) = html.rfind("</main>").filter(|&e| e >= start)
    {
        return &html[start..end];
    }
    let start = html
        .find("<body")
        .and_then(|i| html[i..].find('>').map(|j| i + j + 1))
        .unwrap_or(0);
    let end = html
        .rfind("</body>")
        .filter(|&e| e >= start)
        .unwrap_or(html.len());
    &html[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// See: adversarial run, defect 7. A control character in one issue
    /// made the whole feed invalid XML.
    #[test]
    fn the_feed_carries_no_control_characters() {
        let newsletter = crate::config::Newsletter::parse(crate::diagnostic::Source::new(
            "n.toml",
            "name = \"N\"\ntagline = \"T\"\nfrom = \"a@b.example\"\n[footer]\nreason = \"r\"\naddress = \"a\"\n[web]\nbase_url = \"https://b.example\"\n",
        ))
        .expect("settings");
        let published = [Published {
            name: IssueName::new("x").expect("name"),
            record: SentIssue {
                date: "2018-07-27".parse().expect("date"),
                moment: DateTime::UNIX_EPOCH,
                subject: "bell \u{7} here".into(),
                preheader: "p".into(),
                stories: Vec::new(),
            },
            html: "<body><p>a\u{1b}b</p></body>".into(),
        }];
        let xml = feed(&newsletter, &published);
        assert!(!xml.chars().any(|c| c.is_control() && c != '\n'), "{xml:?}");
        assert!(xml.contains("bell  here"));
    }

    #[test]
    fn the_body_is_cut_out_of_a_document() {
        assert_eq!(
            body_of("<html><body class=\"b\"><p>x</p></body></html>"),
            "<p>x</p>"
        );
        assert_eq!(body_of("<p>no document</p>"), "<p>no document</p>");
        assert_eq!(
            body_of("<body><nav>back</nav><main>\n<p>x</p></main></body>"),
            "\n<p>x</p>"
        );
    }
}
