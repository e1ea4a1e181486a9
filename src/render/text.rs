//! The plain-text part, from the same model as the HTML (not by stripping
//! it): wrapped at 72 columns, with links numbered in the text and listed at
//! the end.

use std::fmt::Write as _;

use textwrap::Options;

use super::{UNSUBSCRIBE_PLACEHOLDER, byline, long_date};
use crate::config::Newsletter;
use crate::issue::Issue;
use crate::story::Block;

/// Lines are wrapped to this many columns. Only a word longer than that (a
/// URL) makes a longer line.
pub const WIDTH: usize = 72;

pub fn render(issue: &Issue, newsletter: &Newsletter) -> String {
    let mut out = String::new();
    let mut links: Vec<&str> = Vec::new();
    let wrap = |text: &str| textwrap::fill(text, Options::new(WIDTH).break_words(false));
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

    for section in &issue.sections {
        let _ = writeln!(
            out,
            "{}\n{}\n{}\n",
            rule("="),
            section.title.to_uppercase(),
            rule("=")
        );
        for entry in &section.entries {
            let story = &entry.story;
            let mut headline = story.headline.clone();
            if let Some(url) = &entry.url {
                links.push(url);
                let _ = write!(headline, " [{}]", links.len());
            }
            let headline = wrap(&headline);
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
                        let _ = writeln!(out, "{}\n", wrap(text));
                    }
                    Block::Subhead { text } => {
                        let _ = writeln!(out, "{}\n", wrap(&text.to_uppercase()));
                    }
                    Block::Bullets { items } => {
                        for item in items {
                            let options = Options::new(WIDTH)
                                .break_words(false)
                                .initial_indent("  * ")
                                .subsequent_indent("    ");
                            let _ = writeln!(out, "{}", textwrap::fill(item, options));
                        }
                        out.push('\n');
                    }
                }
            }
            if entry.shortened && entry.url.is_some() {
                let _ = writeln!(out, "Read more: [{}]\n", links.len());
            }
        }
    }

    let _ = writeln!(out, "{}", rule("-"));
    let _ = writeln!(out, "{}\n", wrap(&newsletter.footer.reason));
    let _ = writeln!(out, "{}\n", wrap(&newsletter.footer.address));
    let _ = writeln!(out, "Unsubscribe:\n{UNSUBSCRIBE_PLACEHOLDER}");
    if !links.is_empty() {
        let _ = writeln!(out, "\nLinks:");
        for (n, url) in links.iter().enumerate() {
            let _ = writeln!(out, "[{}] {url}", n + 1);
        }
    }
    out
}
