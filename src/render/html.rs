//! The HTML part: maud builds it (escaping every piece of seed text), then
//! css-inline moves the stylesheet into `style` attributes.
//!
//! The layout is what email developers use: nested 600px tables with
//! `role="presentation"`, a ghost table for Outlook inside MSO conditional
//! comments, a hidden preheader, and @media rules for phones and dark mode.
//! Outlook on Windows renders with Word, which drops padding and margins on
//! everything but table cells: so every piece of spacing is a cell's
//! padding, and text elements carry none. Headings nest: the newsletter's
//! name `h1`, sections `h2`, stories `h3`, subheads `h4`. Nothing outside
//! the message is needed to read it. The archive's web page is the same
//! column for the web ([`render_web`]): no preheader, no Outlook comments,
//! no "View in your browser", a way back to the archive, a `main` landmark.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{UNSUBSCRIBE_PLACEHOLDER, anchor, byline, long_date, style};
use crate::config::Newsletter;
use crate::issue::{Entry, Issue};
use crate::story::{Block, Span, Text};

pub(crate) use css_inline::InlineError;

/// Newlines between blocks keep the HTML's lines short, and put the
/// unsubscribe link on a line of its own, which [`crate::mail`] re-encodes
/// per reader.
const NL: PreEscaped<&str> = PreEscaped("\n");

/// Outlook for Windows ignores `max-width`, so a fixed 600px table wraps
/// the column for it alone.
const MSO_OPEN: PreEscaped<&str> = PreEscaped(
    r#"<!--[if mso]><table role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->"#,
);
const MSO_CLOSE: PreEscaped<&str> = PreEscaped("<!--[if mso]></td></tr></table><![endif]-->");
/// Outlook's Word engine: 96 dpi, and exact line heights everywhere.
const MSO_HEAD: PreEscaped<&str> = PreEscaped(
    "<!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><style>td,p,li,h1,h2,h3,h4{mso-line-height-rule:exactly}</style><![endif]-->",
);
/// Fills the inbox preview after the preheader, so that clients do not pull
/// in the masthead text.
const PREHEADER_FILLER: &str = "&#847;&zwnj;&nbsp;";

/// Where the HTML is read: in a mail client, or as the archive's web page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Medium {
    Email,
    /// The archive's page (and the feed's content): no preheader, no "View
    /// in your browser", no Outlook conditional comments; a way back to the
    /// archive, and the issue in a `main` landmark.
    Web,
}

pub(crate) fn render(issue: &Issue, newsletter: &Newsletter) -> Result<String, InlineError> {
    render_for(issue, newsletter, Medium::Email)
}

/// The issue as the archive's web page, from the same model.
pub(crate) fn render_web(issue: &Issue, newsletter: &Newsletter) -> Result<String, InlineError> {
    render_for(issue, newsletter, Medium::Web)
}

fn render_for(
    issue: &Issue,
    newsletter: &Newsletter,
    medium: Medium,
) -> Result<String, InlineError> {
    let markup = document(issue, newsletter, medium);
    inline(
        &markup.into_string(),
        &style::inline_rules(&newsletter.colours),
    )
}

fn document(issue: &Issue, newsletter: &Newsletter, medium: Medium) -> Markup {
    let email = medium == Medium::Email;
    let column = html! {
        table.container role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
            @if email {
                (NL) (view_online(issue, newsletter))
            }
            (NL) (masthead(issue, newsletter))
            @for (i, paragraph) in issue.intro.iter().enumerate() {
                (NL) tr { td.(if i == 0 { "intro-cell first" } else { "intro-cell" }) { p.intro { (paragraph) } } }
            }
            (NL) (contents(issue))
            @for section in &issue.sections {
                (NL) tr { td.section-cell { h2.section-title { (section.title) } } }
                @for entry in &section.entries {
                    (NL) tr { td.story-cell { (story(entry)) } }
                }
            }
            (NL) (footer(issue, newsletter))
            (NL)
        }
    };
    let wrapper = html! {
        table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
            tr { td.wrapper-cell align="center" {
                @if email { (NL) (MSO_OPEN) }
                (NL) (column) (NL)
                @if email { (MSO_CLOSE) (NL) }
            } }
        }
    };
    html! {
        (DOCTYPE) (NL)
        @if email {
            html lang=(newsletter.language) xmlns="http://www.w3.org/1999/xhtml" "xmlns:o"="urn:schemas-microsoft-com:office:office" {
                (NL) (head(issue, true)) (NL)
                body.body {
                    (NL)
                    // Webmail strips <html>: the language and the name of the
                    // email go on a wrapper it keeps.
                    div role="article" aria-roledescription="email" lang=(newsletter.language) aria-label=(issue.subject) {
                        (NL)
                        div.preheader style="display:none;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all" {
                            (issue.preheader) " " (PreEscaped(PREHEADER_FILLER.repeat(30)))
                        }
                        (NL) (wrapper) (NL)
                    }
                    (NL)
                }
                (NL)
            }
        } @else {
            html lang=(newsletter.language) {
                (NL) (head(issue, false)) (NL)
                body.body {
                    (NL) nav.archive-nav aria-label="Archive" { a href="../" { "← All issues" } }
                    (NL) main { (NL) (wrapper) (NL) }
                    (NL)
                }
                (NL)
            }
        }
        (NL)
    }
}

fn head(issue: &Issue, email: bool) -> Markup {
    html! {
        head {
            (NL) meta charset="utf-8";
            (NL) meta name="viewport" content="width=device-width, initial-scale=1";
            @if email {
                (NL) meta http-equiv="X-UA-Compatible" content="IE=edge";
                (NL) meta name="x-apple-disable-message-reformatting";
                (NL) meta name="format-detection" content="telephone=no, date=no, address=no, email=no";
            }
            (NL) meta name="color-scheme" content="light dark";
            (NL) meta name="supported-color-schemes" content="light dark";
            (NL) title { (issue.subject) }
            @if email { (NL) (MSO_HEAD) }
            (NL) style { (PreEscaped(style::media_rules())) }
            (NL)
        }
    }
}

/// "View in your browser": the issue's page in the public archive.
fn view_online(issue: &Issue, newsletter: &Newsletter) -> Markup {
    html! {
        tr { td.view-online {
            a.view-online-link href=(newsletter.web.issue_url(issue.name.as_str())) { "View in your browser" }
        } }
    }
}

fn masthead(issue: &Issue, newsletter: &Newsletter) -> Markup {
    html! {
        tr { td.masthead-name { h1.name { (newsletter.name) } } }
        (NL) tr { td.masthead-tagline { p.tagline { (newsletter.tagline) } } }
        (NL) tr { td.masthead-date { p.issue-date { time datetime=(issue.date.to_string()) { (long_date(issue.date)) } } } }
    }
}

/// "In this issue": every headline, linking to its story. Clients that do
/// not follow links within a message still show the list.
fn contents(issue: &Issue) -> Markup {
    html! {
        tr { td.contents-outer {
            table.contents role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                tr { td.contents-head { h2.contents-title { "In this issue" } } }
                (NL) tr { td.contents-body {
                    ul.contents-list {
                        @for entry in issue.entries() {
                            (NL) li.contents-item { a.contents-link href={ "#" (anchor(&entry.story.id)) } { (entry.story.headline) } }
                        }
                        (NL)
                    }
                } }
            }
        } }
    }
}

/// One story: a table whose cells space its headline, byline and blocks.
pub(super) fn story(entry: &Entry) -> Markup {
    let story = &entry.story;
    html! {
        table.story role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
            tr { td.headline-cell {
                // Outlook for Windows (Word) and Gmail on the web jump to a
                // `name` anchor, not to an `id`; the others to either.
                a name=(anchor(&story.id)) {}
                h3.headline id=(anchor(&story.id)) {
                    @if let Some(url) = &entry.url {
                        a.headline-link href=(url) { (story.headline) }
                    } @else {
                        (story.headline)
                    }
                }
            } }
            @if let Some(byline) = byline(story) {
                (NL) tr { td.byline-cell { p.byline { (byline) } } }
            }
            @for block in &story.blocks {
                (NL) (block_row(block))
            }
            @if let Some(url) = &entry.url {
                (NL) tr { td.block-cell { p.more { a href=(url) aria-label={ "Read more: " (story.headline) } { "Read more" } } } }
            }
        }
    }
}

fn block_row(block: &Block) -> Markup {
    html! {
        @match block {
            Block::Paragraph { text } => { tr { td.block-cell { p { (rich(text)) } } } }
            Block::Subhead { text } => { tr { td.subhead-cell { h4.subhead { (rich(text)) } } } }
            Block::Bullets { items, ordered: false } => {
                tr { td.list-cell { ul { @for item in items { (NL) li { (rich(item)) } } (NL) } } }
            }
            Block::Bullets { items, ordered: true } => {
                tr { td.list-cell { ol { @for item in items { (NL) li { (rich(item)) } } (NL) } } }
            }
        }
    }
}

/// Text with its emphasis, bold, code and links as elements.
fn rich(text: &Text) -> Markup {
    html! { @for span in text.spans() { (span_markup(span)) } }
}

fn span_markup(span: &Span) -> Markup {
    let mut inner = if span.style.code {
        html! { code { (span.text) } }
    } else {
        html! { (span.text) }
    };
    if span.style.strong {
        inner = html! { strong { (inner) } };
    }
    if span.style.emphasis {
        inner = html! { em { (inner) } };
    }
    match &span.link {
        Some(url) => html! { a href=(url) { (inner) } },
        None => inner,
    }
}

pub(super) fn footer(issue: &Issue, newsletter: &Newsletter) -> Markup {
    let links = super::footer_links(issue, newsletter);
    html! {
        tr { td.footer-first { p.footer-text { (newsletter.footer.reason) } } }
        (NL) tr { td.footer-cell { p.footer-text { (newsletter.footer.address) } } }
        (NL) tr { td.footer-cell { p.footer-text {
            @for (i, (label, url)) in links.iter().enumerate() {
                @if i > 0 { " · " }
                a href=(url) { (label) }
            }
        } } }
        (NL) tr { td.footer-last { p.footer-text {
            (NL) a href=(UNSUBSCRIBE_PLACEHOLDER) { "Unsubscribe" }
            (NL) " from " (newsletter.name) "."
        } } }
    }
}

/// Moves `rules` into `style` attributes and adds `width` attributes for
/// Outlook. The document's own `<style>` block (the @media rules) is left
/// where it is, untouched. Never fetches anything: remote stylesheets are off.
fn inline(html: &str, rules: &str) -> Result<String, InlineError> {
    css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .inline_style_tags(false)
        .keep_style_tags(true)
        .extra_css(Some(rules.into()))
        .minify_css(true)
        .apply_width_attributes(true)
        .build()
        .inline(html)
}
