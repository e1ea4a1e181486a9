//! The HTML part: maud builds it (escaping every piece of seed text), then
//! css-inline moves the stylesheet into `style` attributes.
//!
//! The layout is what email developers use: nested 600px tables with
//! `role="presentation"`, a ghost table for Outlook inside MSO conditional
//! comments, a hidden preheader, and @media rules for phones and dark mode.
//! Nothing outside the message is needed to read it.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{UNSUBSCRIBE_PLACEHOLDER, anchor, byline, long_date, style};
use crate::config::Newsletter;
use crate::issue::{Entry, Issue};
use crate::story::{Block, Span, Text};

pub use css_inline::InlineError;

/// Newlines between blocks keep the HTML's lines short, and put the
/// unsubscribe link on a line of its own, which [`crate::message`] re-encodes
/// per reader.
const NL: PreEscaped<&str> = PreEscaped("\n");

/// Outlook for Windows renders with Word: it ignores `max-width`, so a fixed
/// 600px table wraps the column for it alone.
const MSO_OPEN: PreEscaped<&str> = PreEscaped(
    r#"<!--[if mso]><table role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->"#,
);
const MSO_CLOSE: PreEscaped<&str> = PreEscaped("<!--[if mso]></td></tr></table><![endif]-->");
/// Outlook substitutes Times New Roman for a font stack it does not know.
const MSO_HEAD: PreEscaped<&str> = PreEscaped(
    "<!--[if mso]><noscript><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch></o:OfficeDocumentSettings></xml></noscript><style>td,p,li,h2,h3{font-family:Arial,sans-serif !important}</style><![endif]-->",
);
/// Fills the inbox preview after the preheader, so that clients do not pull
/// in the masthead text.
const PREHEADER_FILLER: &str = "&#847;&zwnj;&nbsp;";

pub fn render(issue: &Issue, newsletter: &Newsletter) -> Result<String, InlineError> {
    let markup = document(issue, newsletter);
    inline(
        &markup.into_string(),
        &style::inline_rules(&newsletter.colours),
    )
}

fn document(issue: &Issue, newsletter: &Newsletter) -> Markup {
    html! {
        (DOCTYPE) (NL)
        html lang=(newsletter.language) xmlns="http://www.w3.org/1999/xhtml" "xmlns:o"="urn:schemas-microsoft-com:office:office" {
            (NL)
            head {
                (NL) meta charset="utf-8";
                (NL) meta name="viewport" content="width=device-width, initial-scale=1";
                (NL) meta http-equiv="X-UA-Compatible" content="IE=edge";
                (NL) meta name="x-apple-disable-message-reformatting";
                (NL) meta name="format-detection" content="telephone=no, date=no, address=no, email=no";
                (NL) meta name="color-scheme" content="light dark";
                (NL) meta name="supported-color-schemes" content="light dark";
                (NL) title { (issue.subject) }
                (NL) (MSO_HEAD)
                (NL) style { (PreEscaped(style::media_rules())) }
                (NL)
            }
            (NL)
            body.body {
                (NL)
                div.preheader style="display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all" {
                    (issue.preheader) " " (PreEscaped(PREHEADER_FILLER.repeat(30)))
                }
                (NL)
                table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                    tr { td.wrapper-cell align="center" {
                        (NL) (MSO_OPEN) (NL)
                        table.container role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" {
                            (NL) (view_online(issue, newsletter))
                            (NL) (masthead(issue, newsletter))
                            (NL) tr { td.content {
                                (NL)
                                @for paragraph in &issue.intro {
                                    p.intro { (paragraph) } (NL)
                                }
                                (contents(issue)) (NL)
                                @for section in &issue.sections {
                                    h2.section-title { (section.title) } (NL)
                                    @for entry in &section.entries {
                                        (story(entry)) (NL)
                                    }
                                }
                            } }
                            (NL) (footer(newsletter))
                            (NL)
                        }
                        (NL) (MSO_CLOSE) (NL)
                    } }
                }
                (NL)
            }
            (NL)
        }
        (NL)
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
        tr { td.masthead {
            (NL) h1.name { (newsletter.name) }
            (NL) p.tagline { (newsletter.tagline) }
            (NL) p.issue-date { time datetime=(issue.date.to_string()) { (long_date(issue.date)) } }
            (NL)
        } }
    }
}

/// "In this issue": every headline, linking to its story. Clients that do
/// not follow links within a message still show the list.
fn contents(issue: &Issue) -> Markup {
    html! {
        div.contents {
            (NL) p.contents-title { "In this issue" }
            (NL) ul.contents-list {
                @for entry in issue.entries() {
                    (NL) li.contents-item { a.contents-link href={ "#" (anchor(&entry.story.id)) } { (entry.story.headline) } }
                }
                (NL)
            }
            (NL)
        }
    }
}

fn story(entry: &Entry) -> Markup {
    let story = &entry.story;
    html! {
        div.story {
            (NL)
            h2.headline id=(anchor(&story.id)) {
                @if let Some(url) = &entry.url {
                    a.headline-link href=(url) { (story.headline) }
                } @else {
                    (story.headline)
                }
            }
            (NL)
            @if let Some(byline) = byline(story) {
                p.byline { (byline) } (NL)
            }
            @for block in &story.blocks {
                @match block {
                    Block::Paragraph { text } => { p { (rich(text)) } }
                    Block::Subhead { text } => { h3 { (rich(text)) } }
                    Block::Bullets { items, ordered: false } => {
                        ul { @for item in items { (NL) li { (rich(item)) } } (NL) }
                    }
                    Block::Bullets { items, ordered: true } => {
                        ol { @for item in items { (NL) li { (rich(item)) } } (NL) }
                    }
                }
                (NL)
            }
            @if let Some(url) = &entry.url {
                p.more { a href=(url) aria-label={ "Read more: " (story.headline) } { "Read more" } } (NL)
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

fn footer(newsletter: &Newsletter) -> Markup {
    html! {
        tr { td.footer {
            (NL) p.footer-text { (newsletter.footer.reason) }
            (NL) p.footer-text { (newsletter.footer.address) }
            (NL) p.footer-text {
                (NL) a href=(UNSUBSCRIBE_PLACEHOLDER) { "Unsubscribe" }
                (NL) " from " (newsletter.name) "."
            }
            (NL)
        } }
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
