//! Each block of the email, rendered from an in-memory newsletter and issue
//! and compared whole, in both parts: a new block gets a one-line test.
//!
//! The HTML is the template's own markup, before css-inline adds the styles
//! (which `style` owns and the integration tests check in a browser).

use super::{html, style, text};
use crate::config::Newsletter;
use crate::diagnostic::Source;
use crate::issue::{Entry, Issue, IssueName};
use crate::story::Library;

const NEWSLETTER: &str = r##"name = "HSJ Catch Up"
tagline = "Your essential update on health for the week"
from = "HSJ Catch Up <catchup@hsj.example>"
[footer]
reason = "You subscribed to HSJ Catch Up."
address = "HSJ, 1 Example Street, London"
[web]
base_url = "https://news.hsj.example"
"##;

/// One seed: a blog listing, so that stories carry bylines.
const SEED: &str = "Posts Tagged ‘Finance’

Debt mountain

By Mike Broad - 11th November 2014 12:00 pm

Trusts drew down £2.7bn of interim support last year.

Three causes stand out:

• agency staff
• PFI repayments
• demand that outruns the tariff

Regulators said they would act.
";

fn newsletter() -> Newsletter {
    Newsletter::parse(Source::new("newsletter.toml", NEWSLETTER)).expect("newsletter")
}

/// The issue's one story, picked with `pick` (an entry of a `stories`
/// list).
fn entry(pick: &str) -> Entry {
    issue(pick, &newsletter())
        .entries()
        .next()
        .expect("one story")
        .clone()
}

/// An issue of that one story.
fn issue(pick: &str, newsletter: &Newsletter) -> Issue {
    let issue = format!(
        "date = 2018-07-27\nsubject = \"S\"\n[[sections]]\ntitle = \"T\"\nstories = [{pick}]\n"
    );
    Issue::parse(
        IssueName::new("t").expect("name"),
        Source::new("t.toml", issue),
        &Library::of_seed("009_finance", SEED),
        newsletter,
    )
    .expect("issue")
}

/// A block in both parts: the HTML, then the text.
fn both(html: &str, text: &str) -> String {
    format!("{html}\n--- text\n{text}")
}

fn story(pick: &str) -> String {
    let entry = entry(pick);
    let mut plain = String::new();
    text::story(&mut plain, &entry, &mut text::Links::default());
    both(&html::story(&entry).into_string(), &plain)
}

#[test]
fn a_story() {
    insta::assert_snapshot!(story(r#""009/debt-mountain""#));
}

#[test]
fn a_cut_story_ends_with_read_more() {
    insta::assert_snapshot!(story(
        r#"{ id = "009/debt-mountain", paragraphs = 1, url = "https://hsj.example/debt" }"#
    ));
}

#[test]
fn bullets_in_a_cut_story() {
    insta::assert_snapshot!(story(r#"{ id = "009/debt-mountain", paragraphs = 2 }"#));
}

#[test]
fn an_own_item() {
    insta::assert_snapshot!(story(
        r#"{ headline = "Our podcast", byline = "The HSJ team", url = "https://hsj.example/podcast", body = """
The *first* episode is out, with **three** guests: listen at [our site](https://hsj.example/podcast/1).

## In this episode

1. integrated care
2. the `£2.7bn` question
""" }"#
    ));
}

#[test]
fn the_footer() {
    insta::assert_snapshot!(footer(&newsletter()));
}

/// The footer of an issue of one story, in both parts.
fn footer(newsletter: &Newsletter) -> String {
    let issue = issue(r#""009/debt-mountain""#, newsletter);
    let mut plain = String::new();
    text::footer(&mut plain, &issue, newsletter);
    both(&html::footer(&issue, newsletter).into_string(), &plain)
}

/// With a sign-up form and a privacy notice, the footer links both.
#[test]
fn the_footer_with_a_sign_up_form_and_a_privacy_notice() {
    let settings = NEWSLETTER.replace(
        "[web]",
        "privacy_url = \"https://hsj.example/privacy\"\n[subscribe]\nconsent = \"Yes.\"\n[web]",
    );
    let newsletter =
        Newsletter::parse(Source::new("newsletter.toml", settings)).expect("newsletter");
    insta::assert_snapshot!(footer(&newsletter));
}

/// Dark mode lives in the `<style>` block css-inline leaves in place: the
/// rendered email keeps it whole.
#[test]
fn dark_mode() {
    let rendered = super::render(
        &Issue::parse(
            IssueName::new("t").expect("name"),
            Source::new(
                "t.toml",
                "date = 2018-07-27\nsubject = \"S\"\n[[sections]]\ntitle = \"T\"\nstories = [\"009/debt-mountain\"]\n",
            ),
            &Library::of_seed("009_finance", SEED),
            &newsletter(),
        )
        .expect("issue"),
        &newsletter(),
    )
    .expect("render");
    let dark = style::media_rules()
        .lines()
        .find(|rule| rule.starts_with("@media (prefers-color-scheme:dark)"))
        .expect("a dark-mode rule");
    assert!(
        rendered.html.contains(dark),
        "the dark-mode rules reach the email"
    );
    insta::assert_snapshot!(dark.replace('}', "}\n"));
}
