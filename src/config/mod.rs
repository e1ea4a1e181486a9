//! `config/newsletter.toml`: what stays the same from week to week.
//! `[smtp]` is in [`smtp`].
//!
//! [`Newsletter::parse`] takes the text (so tests feed strings);
//! [`Newsletter::load`] reads the file. Every problem is a [`Diagnostic`] that
//! points at the offending value.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use lettre::message::Mailbox;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, Source, read_source};

mod schedule;
pub mod smtp;

pub use smtp::{Security, Smtp};

/// Where the newsletter configuration lives unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "config/newsletter.toml";

/// The validated newsletter settings.
#[derive(Debug, Clone)]
pub struct Newsletter {
    pub name: String,
    pub tagline: String,
    /// The default intro of every issue. When the file gives none, the
    /// standing intro found under the masthead in the seeds is used.
    pub intro: Option<String>,
    /// The `lang` of the email, e.g. `en-GB`.
    pub language: String,
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
    pub footer: Footer,
    pub unsubscribe: Unsubscribe,
    pub colours: Colours,
    pub paths: Paths,
    /// Where to send; absent until configured (`--smtp` can stand in).
    pub smtp: Option<Smtp>,
    /// When weekly sends go out (`send --due`).
    pub schedule: Option<crate::schedule::Schedule>,
    /// The file the settings came from, for diagnostics raised later.
    pub source: Source,
    /// Problems that do not stop a send, such as a colour with poor contrast.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Footer {
    /// Why the reader gets this email.
    pub reason: String,
    /// The sender's postal address (a legal requirement in many places).
    pub address: String,
}

#[derive(Debug, Clone)]
pub struct Unsubscribe {
    /// A URL with `{email}` and/or `{id}` (and optionally `{issue}`) in it.
    pub url: String,
    /// An address for `List-Unsubscribe: <mailto:...>`.
    pub mailto: Option<lettre::Address>,
}

/// Colours as `#rrggbb`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Colours {
    /// The masthead background and link colour.
    pub brand: String,
    /// Body text.
    pub text: String,
    /// Bylines, dates and the footer.
    pub muted: String,
    /// Behind the email's column.
    pub background: String,
}

impl Default for Colours {
    fn default() -> Self {
        Colours {
            brand: "#0b4f6c".into(),
            text: "#1f2933".into(),
            muted: "#52606d".into(),
            background: "#eef1f4".into(),
        }
    }
}

/// Folders and files, relative to the folder catchup runs in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    pub seeds: PathBuf,
    pub issues: PathBuf,
    pub previews: PathBuf,
    pub state: PathBuf,
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            seeds: "seeds".into(),
            issues: "config/issues".into(),
            previews: "previews".into(),
            state: "state".into(),
            subscribers: "config/subscribers.csv".into(),
            suppressed: "config/suppressed.csv".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    tagline: String,
    intro: Option<String>,
    #[serde(default = "default_language")]
    language: String,
    from: Spanned<String>,
    reply_to: Option<Spanned<String>>,
    footer: Footer,
    unsubscribe: UnsubscribeFile,
    #[serde(default = "default_colours")]
    colours: Spanned<Colours>,
    #[serde(default)]
    paths: Paths,
    smtp: Option<smtp::SmtpFile>,
    schedule: Option<schedule::ScheduleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsubscribeFile {
    url: Spanned<String>,
    mailto: Option<Spanned<String>>,
}

fn default_colours() -> Spanned<Colours> {
    Spanned::new(0..0, Colours::default())
}

fn default_language() -> String {
    "en-GB".into()
}

/// Placeholders an unsubscribe URL may hold.
pub const URL_PLACEHOLDERS: &[&str] = &["{email}", "{id}", "{issue}"];

impl Newsletter {
    /// Reads and validates `path`.
    ///
    /// # Errors
    /// The file cannot be read, or [`Newsletter::parse`] finds errors.
    pub fn load(path: &Path) -> anyhow::Result<Newsletter> {
        let source = read_source(path)?;
        Ok(Newsletter::parse(source)?)
    }

    /// Parses and validates the text of a newsletter file.
    ///
    /// # Errors
    /// Every problem found, each pointing into the file.
    pub fn parse(source: Source) -> Result<Newsletter, Diagnostics> {
        let file: File = from_toml(&source).map_err(|d| Diagnostics(vec![d]))?;
        let mut problems = Vec::new();

        let from = mailbox(&source, &file.from, &mut problems);
        let reply_to = file
            .reply_to
            .as_ref()
            .and_then(|r| mailbox(&source, r, &mut problems));
        let url = &file.unsubscribe.url;
        if let Some(problem) = unsubscribe_url_problem(url.get_ref()) {
            problems.push(Diagnostic::error(problem).at(&source, url.span()));
        }
        let mailto =
            file.unsubscribe.mailto.as_ref().and_then(|m| {
                match lettre::Address::from_str(m.get_ref().trim_start_matches("mailto:")) {
                    Ok(address) => Some(address),
                    Err(e) => {
                        problems.push(
                            Diagnostic::error(format!(
                                "`{}` is not an email address: {e}",
                                m.get_ref()
                            ))
                            .at(&source, m.span()),
                        );
                        None
                    }
                }
            });
        check_colours(&source, &file.colours, &mut problems);
        let smtp = file.smtp.map(|s| s.validate(&source, &mut problems));
        let schedule = file
            .schedule
            .and_then(|s| s.validate(&source, &mut problems));

        if problems.iter().any(Diagnostic::is_error) {
            return Err(Diagnostics(problems));
        }
        Ok(Newsletter {
            name: file.name,
            tagline: file.tagline,
            intro: file.intro,
            language: file.language,
            from: from.expect("checked above"),
            reply_to,
            footer: file.footer,
            unsubscribe: Unsubscribe {
                url: file.unsubscribe.url.into_inner(),
                mailto,
            },
            colours: file.colours.into_inner(),
            paths: file.paths,
            smtp,
            schedule,
            source,
            warnings: problems,
        })
    }
}

/// Deserialises TOML, turning a syntax or shape error into a diagnostic that
/// points at the place.
pub(crate) fn from_toml<T: DeserializeOwned>(source: &Source) -> Result<T, Diagnostic> {
    toml::from_str(&source.text).map_err(|e| {
        let message = e.message().trim_end().to_string();
        let diagnostic = Diagnostic::error(message);
        match e.span() {
            Some(span) => diagnostic.at(source, span),
            None => diagnostic,
        }
    })
}

fn mailbox(
    source: &Source,
    value: &Spanned<String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<Mailbox> {
    match parse_mailbox(value.get_ref()) {
        Ok(m) => Some(m),
        Err(message) => {
            problems.push(Diagnostic::error(message).at(source, value.span()));
            None
        }
    }
}

/// Parses `Name <user@host>` or `user@host`, refusing line breaks (which
/// could smuggle in a header).
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if text.contains(['\r', '\n']) {
        return Err(format!("`{}` contains a line break", text.escape_debug()));
    }
    Mailbox::from_str(text).map_err(|e| format!("`{text}` is not an email address: {e}"))
}

fn unsubscribe_url_problem(url: &str) -> Option<String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Some(format!("unsubscribe url `{url}` must start with https://"));
    }
    if !(url.contains("{email}") || url.contains("{id}")) {
        return Some(
            "unsubscribe url needs `{email}` or `{id}` so that each reader's link is their own"
                .to_string(),
        );
    }
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e + 1)?;
        let placeholder = &rest[start..end];
        if !URL_PLACEHOLDERS.contains(&placeholder) {
            return Some(format!(
                "unknown placeholder `{placeholder}` in the unsubscribe url (known: {})",
                URL_PLACEHOLDERS.join(", ")
            ));
        }
        rest = &rest[end..];
    }
    None
}

/// Text smaller than this contrast ratio fails WCAG 2 AA.
const MIN_CONTRAST: f64 = 4.5;

fn check_colours(source: &Source, colours: &Spanned<Colours>, problems: &mut Vec<Diagnostic>) {
    let span: Range<usize> = colours.span();
    let c = colours.get_ref();
    let mut rgb = |name: &str, value: &str| match parse_hex(value) {
        Some(rgb) => Some(rgb),
        None => {
            problems.push(
                Diagnostic::error(format!(
                    "colour `{name}` is `{value}`, not a #rrggbb colour"
                ))
                .at(source, span.clone()),
            );
            None
        }
    };
    let brand = rgb("brand", &c.brand);
    let text = rgb("text", &c.text);
    let muted = rgb("muted", &c.muted);
    let _ = rgb("background", &c.background);
    let white = (255, 255, 255);
    for (name, colour) in [("brand", brand), ("text", text), ("muted", muted)] {
        if let Some(colour) = colour {
            let ratio = contrast(colour, white);
            if ratio < MIN_CONTRAST {
                problems.push(
                    Diagnostic::warning(format!(
                        "colour `{name}` has a contrast of {ratio:.1}:1 against white; low-vision readers need at least {MIN_CONTRAST}:1"
                    ))
                    .at(source, span.clone()),
                );
            }
        }
    }
}

fn parse_hex(value: &str) -> Option<(u8, u8, u8)> {
    let hex = value.strip_prefix('#')?;
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some((byte(0)?, byte(2)?, byte(4)?))
}

/// WCAG 2 contrast ratio between two sRGB colours.
fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    fn luminance((r, g, b): (u8, u8, u8)) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r##"
name = "HSJ Catch Up"
tagline = "Your essential update on health for the week"
from = "HSJ Catch Up <catchup@hsj.example>"

[footer]
reason = "You signed up."
address = "1 Example Street"

[unsubscribe]
url = "https://hsj.example/u?e={email}"
"##;

    fn parse(text: &str) -> Result<Newsletter, Diagnostics> {
        Newsletter::parse(Source::new("newsletter.toml", text))
    }

    #[test]
    fn a_minimal_file_gets_defaults() {
        let n = parse(MINIMAL).expect("valid");
        assert_eq!(n.from.email.to_string(), "catchup@hsj.example");
        assert_eq!(n.paths.seeds, PathBuf::from("seeds"));
        assert_eq!(n.colours.brand, "#0b4f6c");
        assert_eq!(n.language, "en-GB");
    }

    #[test]
    fn a_bad_address_points_at_its_line() {
        let text = MINIMAL.replace("catchup@hsj.example", "catchup at hsj");
        let err = parse(&text).expect_err("bad address");
        let d = &err.0[0];
        assert!(
            d.message
                .contains("`HSJ Catch Up <catchup at hsj>` is not an email address"),
            "{}",
            d.message
        );
        assert_eq!(d.position().as_deref(), Some("newsletter.toml:4:8"));
    }

    #[test]
    fn an_unsubscribe_url_must_be_personal() {
        let text = MINIMAL.replace("?e={email}", "");
        let err = parse(&text).expect_err("not personal");
        assert!(err.0[0].message.contains("needs `{email}` or `{id}`"));
        let text = MINIMAL.replace("{email}", "{email}&x={reader}");
        let err = parse(&text).expect_err("unknown placeholder");
        assert!(
            err.0[0].message.contains("unknown placeholder `{reader}`"),
            "{}",
            err.0[0].message
        );
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let text = format!("{MINIMAL}\n[colours]\nbrnad = \"#000000\"\n");
        let err = parse(&text).expect_err("typo");
        assert!(
            err.0[0].message.contains("unknown field `brnad`"),
            "{}",
            err.0[0].message
        );
        assert!(
            err.0[0]
                .position()
                .expect("position")
                .starts_with("newsletter.toml:14:")
        );
    }

    #[test]
    fn smtp_settings_are_validated_where_they_are_written() {
        let text = format!(
            "{MINIMAL}\n[smtp]\nhost = \"mail.example.com\"\nsecurity = \"none\"\nconnections = 0\n"
        );
        let err = parse(&text).expect_err("two problems");
        let messages: Vec<&str> = err.0.iter().map(|d| d.message.as_str()).collect();
        assert!(messages[0].contains("not a loopback host"), "{messages:?}");
        assert_eq!(
            err.0[0].position().as_deref(),
            Some("newsletter.toml:15:12")
        );
        assert!(
            messages[1].contains("connections must be 1 to 64"),
            "{messages:?}"
        );

        let ok =
            format!("{MINIMAL}\n[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\n");
        let smtp = parse(&ok).expect("valid").smtp.expect("smtp");
        assert_eq!(smtp.describe(), "127.0.0.1:2525 (none)");
        assert_eq!(smtp.connections, 4);
        assert_eq!(smtp.origin, "[smtp] in newsletter.toml:14");
    }

    #[test]
    fn a_malformed_schedule_names_each_mistake() {
        let text = format!(
            "{MINIMAL}\n[schedule]\nweekday = \"Moon\"\ntime = \"7am\"\ntimezone = \"Europe/Londn\"\n"
        );
        let err = parse(&text).expect_err("three problems");
        let got: Vec<(String, Option<String>, Option<String>)> = err
            .0
            .iter()
            .map(|d| (d.message.clone(), d.position(), d.help.clone()))
            .collect();
        assert_eq!(got[0].0, "unknown weekday `Moon`");
        assert_eq!(got[0].1.as_deref(), Some("newsletter.toml:14:11"));
        assert_eq!(got[1].0, "`7am` is not a time");
        assert_eq!(got[2].0, "unknown time zone `Europe/Londn`");
        assert_eq!(
            got[2].2.as_deref(),
            Some("did you mean `Europe/London`? (an IANA name, e.g. Europe/London)")
        );

        let good = format!(
            "{MINIMAL}\n[schedule]\nweekday = \"Mon\"\ntime = \"07:00\"\ntimezone = \"Europe/London\"\n"
        );
        let schedule = parse(&good).expect("valid").schedule.expect("schedule");
        assert_eq!(schedule.zone, chrono_tz::Europe::London);
        assert_eq!(schedule.grace, chrono::Duration::hours(24));
    }

    #[test]
    fn colours_are_checked_for_format_and_contrast() {
        let bad = format!("{MINIMAL}\n[colours]\nbrand = \"blue\"\n");
        assert!(
            parse(&bad).expect_err("format").0[0]
                .message
                .contains("not a #rrggbb colour")
        );
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 0.01);
        assert!(contrast((0x77, 0x77, 0x77), (255, 255, 255)) < MIN_CONTRAST);
    }
}
