//! Issue → email: HTML built with maud and inlined by css-inline, and a plain
//! text part, both from the same [`Issue`] model. No I/O.
//!
//! Both parts carry [`UNSUBSCRIBE_PLACEHOLDER`] where each reader's own
//! unsubscribe link goes; [`crate::mail`] swaps it per reader, so that the
//! template engine and the inliner run once per issue, not once per reader.

mod html;
mod style;
#[cfg(test)]
mod tests;
mod text;

use chrono::NaiveDate;

use crate::config::Newsletter;
use crate::issue::Issue;
use crate::story::{Story, StoryId};

pub(crate) use html::InlineError;

/// Stands in for a reader's unsubscribe URL until the message is
/// personalised. An `.invalid` host (RFC 2606), so that a placeholder that
/// ever escaped would lead nowhere.
pub(crate) const UNSUBSCRIBE_PLACEHOLDER: &str = "https://unsubscribe.invalid/catchup-reader";

/// The two bodies of an issue, before personalisation.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The email's HTML, CSS inlined, @media rules kept in a `<style>` block.
    pub html: String,
    /// The plain-text part, wrapped at 72 columns.
    pub text: String,
}

/// Which part of the email a piece of text is in; it decides how a value is
/// written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Text,
    Html,
}

/// Puts a reader's unsubscribe URL where the placeholder is in `text`:
/// as it is in the text part, escaped in the HTML. The one place the
/// placeholder is filled, whether in a whole part (previews) or in the few
/// lines [`crate::mail`] re-encodes per reader.
pub(crate) fn personalise(part: Part, text: &str, unsubscribe_url: &str) -> String {
    let value = match part {
        Part::Text => unsubscribe_url.to_string(),
        Part::Html => maud::html! { (unsubscribe_url) }.into_string(),
    };
    text.replace(UNSUBSCRIBE_PLACEHOLDER, &value)
}

/// The issue as the archive's web page, from the same model as the email
/// (no preheader, no "View in your browser", no Outlook comments; a way
/// back to the archive). No reader's link is in it: its unsubscribe link
/// is `unsubscribe_url`, the service's page that says to use the email's.
///
/// # Errors
/// The CSS could not be inlined.
pub(crate) fn web_page(
    issue: &Issue,
    newsletter: &Newsletter,
    unsubscribe_url: &str,
) -> Result<String, InlineError> {
    Ok(personalise(
        Part::Html,
        &html::render_web(issue, newsletter)?,
        unsubscribe_url,
    ))
}

impl Rendered {
    /// Both parts with a reader's unsubscribe URL in place of the placeholder:
    /// what that reader sees.
    pub fn personalised(&self, unsubscribe_url: &str) -> Rendered {
        Rendered {
            html: personalise(Part::Html, &self.html, unsubscribe_url),
            text: personalise(Part::Text, &self.text, unsubscribe_url),
        }
    }
}

/// Renders both parts of an issue.
///
/// # Errors
/// css-inline rejects the stylesheet (a bug in [`style`], not user input).
pub fn render(issue: &Issue, newsletter: &Newsletter) -> Result<Rendered, InlineError> {
    Ok(Rendered {
        html: html::render(issue, newsletter)?,
        text: text::render(issue, newsletter),
    })
}

/// The footer's links before "Unsubscribe", in both parts: the issue's web
/// page to forward to a colleague, the sign-up page when there is one, and
/// the privacy notice when the settings name it.
fn footer_links(issue: &Issue, newsletter: &Newsletter) -> Vec<(&'static str, String)> {
    let mut links = vec![(
        "Forward to a colleague",
        newsletter.web.issue_url(issue.name.as_str()),
    )];
    if newsletter.subscribe.is_some() {
        links.push((
            "Subscribe",
            format!("{}/subscribe", newsletter.web.base_url),
        ));
    }
    if let Some(url) = &newsletter.footer.privacy_url {
        links.push(("Privacy notice", url.clone()));
    }
    links
}

/// "Friday 27 July 2018", for the masthead.
fn long_date(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// "Mike Broad · 24 September 2014", or whichever part the story has.
fn byline(story: &Story) -> Option<String> {
    let who = match (&story.author, &story.role) {
        (Some(author), Some(role)) => Some(format!("{author}, {role}")),
        (Some(author), None) => Some(author.clone()),
        _ => None,
    };
    let when = story.published.map(|d| d.format("%-d %B %Y").to_string());
    match (who, when) {
        (Some(who), Some(when)) => Some(format!("{who} · {when}")),
        (who, when) => who.or(when),
    }
}

/// The in-message anchor of a story, for "In this issue":
/// `story-002-debt-mountain`.
fn anchor(id: &StoryId) -> String {
    format!("story-{}", id.as_str().replace('/', "-"))
}
