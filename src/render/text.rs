//! The plain-text part, from the same model as the HTML (not by stripping
//! it): wrapped at 72 columns, a numbered contents list, each story's
//! "Read more" with its URL inline, and the links inside the text numbered
//! and listed at the end.

use std::fmt::Write as _;

use textwrap::Options;

use super::{UNSUBSCRIBE_PLACEHOLDER, byline, long_date};
use crate::config::Newsletter;
use crate::issue::Issue;
use crate::story::{Block, Text};

/// Lines are wrapped to this many columns. Only a word longer than that (a
/// URL) makes a longer line.
pub(crate) const WIDTH: usize = 72;

pub(crate) fn render(issue: &Issue, newsletter: &Newsletter) -> String {
    let mut out = String::new();
    let mut links = Links::default();
    let rule = |c: &str| c.repeat(WIDTH);

    let _ = writeln!(
        out,
        "View in your browser: {}\n",
        newsletter.web.issue_url(issue.name.as_str())
    );
    let _ = writeln!(out, "{}", newsletter.name.to_uppercase());
    let _ = writeln!(out, "{}", wrap(&newsletter.tagline));
    let _ = writeln!(out, "{}\n", long_date(issue.date));
    for paragraph in &issue.intro {
        let _ = writeln!(out, "{}\n", wrap(paragraph));
    }
    let _ = writeln!(out, "IN THIS ISSUE\n");
    for (n, entry) in issue.entries().enumerate() {
        let _ = writeln!(
            out,
            "{}",
            bullet(&entry.story.headline, &format!("{:>3}. ", n + 1))
        );
    }
    out.push('\n');

    for section in &issue.sections {
        let _ = writeln!(
            out,
            "{}\n{}\n{}\n",
            rule("="),
            section.title.to_uppercase(),
            rule("=")
        );
        for entry in &section.entries {
            story(&mut out, entry, &mut links);
        }
    }

    footer(&mut out, issue, newsletter);
    if !links.0.is_empty() {
        let _ = writeln!(out, "\nLinks:");
        for (n, url) in links.0.iter().enumerate() {
            let _ = writeln!(out, "[{}] {url}", n + 1);
        }
    }
    out
}

pub(super) fn footer(out: &mut String, issue: &Issue, newsletter: &Newsletter) {
    let _ = writeln!(out, "{}", "-".repeat(WIDTH));
    let _ = writeln!(out, "{}\n", wrap(&newsletter.footer.reason));
    let _ = writeln!(out, "{}\n", wrap(&newsletter.footer.address));
    for (label, url) in super::footer_links(issue, newsletter) {
        let _ = writeln!(out, "{label}: <{url}>");
    }
    out.push('\n');
    let _ = writeln!(out, "Unsubscribe:\n{UNSUBSCRIBE_PLACEHOLDER}");
}

pub(super) fn story(out: &mut String, entry: &crate::issue::Entry, links: &mut Links) {
    let story = &entry.story;
    let headline = wrap(&story.headline);
    let underline = headline
        .lines()
        .map(textwrap::core::display_width)
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "{headline}\n{}", "-".repeat(underline));
    if let Some(byline) = byline(story) {
        let _ = writeln!(out, "{}", wrap(&byline));
    }
    out.push('\n');
    for block in &story.blocks {
        match block {
            Block::Paragraph { text } => {
                let _ = writeln!(out, "{}\n", wrap(&plain(text, links)));
            }
            Block::Subhead { text } => {
                let _ = writeln!(out, "{}\n", wrap(&plain(text, links).to_uppercase()));
            }
            Block::Bullets { items, ordered } => {
                for (i, item) in items.iter().enumerate() {
                    let marker = if *ordered {
                        format!("  {}. ", i + 1)
                    } else {
                        "  * ".to_string()
                    };
                    let _ = writeln!(out, "{}", bullet(&plain(item, links), &marker));
                }
                out.push('\n');
            }
        }
    }
    // Inline, where the reader is: a URL in angle brackets, which mail
    // clients make a link (a long one makes a longer line, never broken).
    if let Some(url) = &entry.url {
        let _ = writeln!(out, "Read more: <{url}>\n");
    }
}

fn wrap(text: &str) -> String {
    textwrap::fill(text, Options::new(WIDTH).break_words(false))
}

/// A list item, wrapped under its marker.
fn bullet(text: &str, marker: &str) -> String {
    let indent = " ".repeat(marker.len());
    let options = Options::new(WIDTH)
        .break_words(false)
        .initial_indent(marker)
        .subsequent_indent(&indent);
    textwrap::fill(text, options)
}

/// The links of the text part, numbered in order of first use; a link used
/// twice keeps its number.
#[derive(Debug, Default)]
pub(super) struct Links(Vec<String>);

impl Links {
    fn number(&mut self, url: &str) -> usize {
        match self.0.iter().position(|u| u == url) {
            Some(i) => i + 1,
            None => {
                self.0.push(url.to_string());
                self.0.len()
            }
        }
    }
}

/// Text as words, each link followed by its number (`the report [3]`);
/// a link whose words are the address itself is left as it is.
fn plain(text: &Text, links: &mut Links) -> String {
    let mut out = String::new();
    let spans = text.spans();
    for (i, span) in spans.iter().enumerate() {
        out.push_str(&span.text);
        let Some(url) = &span.link else {
            continue;
        };
        let continues = spans
            .get(i + 1)
            .is_some_and(|next| next.link.as_ref() == Some(url));
        let shows_itself =
            span.text == *url || url.strip_prefix("mailto:") == Some(span.text.as_str());
        if !continues && !shows_itself {
            let _ = write!(out, " [{}]", links.number(url));
        }
    }
    out
}
