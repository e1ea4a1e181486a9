//! `config/newsletter.toml`: what stays the same from week to week.
//!
//! [`Newsletter::parse`] takes the text (so tests feed strings);
//! [`Newsletter::load`] reads the file. The file is read field by field
//! ([`crate::config::fields`]): each section has its own small reader
//! ([`sections`], [`smtp`]), and every problem is a [`Diagnostic`] that
//! points at the offending value, all of them reported in one run.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lettre::message::Mailbox;
use toml::Spanned;

use crate::config::fields::{Problems, Table};
use crate::diagnostic::{Diagnostic, Diagnostics, Source};
use crate::fs::FileError;

pub(crate) mod colour;
pub(crate) mod env;
pub(crate) mod fields;
mod sections;
pub(crate) mod smtp;
mod subscribe;

pub use env::Env;
pub(crate) use sections::Ses;
pub(crate) use sections::{Bounces, Colours, Footer, Paths, SecretSource, Unsubscribe, Web};
pub use sections::{Dkim, DkimAlgorithm, KeySource};
pub(crate) use smtp::{Security, Smtp};
pub(crate) use subscribe::Subscribe;

/// Where the newsletter configuration lives unless `--config` says otherwise.
pub(crate) const DEFAULT_PATH: &str = "config/newsletter.toml";

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
    /// Where `catchup serve` is reached: unsubscribe links and the archive.
    pub web: Web,
    pub colours: Colours,
    pub paths: Paths,
    /// Where to send: one relay or several; absent until configured
    /// (`--smtp` can stand in).
    pub smtp: Option<Vec<Smtp>>,
    /// When weekly sends go out (`send --due`).
    pub schedule: Option<crate::schedule::Schedule>,
    /// DKIM signing, when configured.
    /// Every signing key, each its own signature (`[dkim]`, or `[[dkim]]`
    /// repeated: typically RSA and Ed25519 together); empty: unsigned.
    pub dkim: Vec<Dkim>,
    /// Returned mail: the return path, VERP, the soft-bounce limit.
    pub bounces: Bounces,
    /// The list's identity for `List-Id` (RFC 2919) and `Feedback-ID`:
    /// `list_id`, or the name's slug under the From domain
    /// (`hsj-catch-up.hsj.example`).
    pub list_id: String,
    /// The sign-up form and its limits; `None`: no form.
    pub subscribe: Option<Subscribe>,
    /// Where the variables the settings name are read from.
    pub env: Env,
    /// The file the settings came from, for diagnostics raised later.
    pub source: Source,
    /// Problems that do not stop a send, such as a colour with poor contrast.
    pub warnings: Vec<Diagnostic>,
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "no newsletter settings at `{}`; run catchup in the project folder (or pass -C DIR / --config FILE)",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Invalid(#[from] Diagnostics),
    #[error(transparent)]
    Env(#[from] env::EnvError),
}

impl Newsletter {
    /// Reads and validates `path`, and the environment file it names.
    ///
    /// # Errors
    /// The file is missing or cannot be read, [`Newsletter::parse`] finds
    /// errors, or the environment file is unusable.
    pub fn load(path: &Path) -> Result<Newsletter, LoadError> {
        if !path.exists() {
            return Err(LoadError::Missing {
                path: path.to_path_buf(),
            });
        }
        let mut newsletter = Newsletter::parse(read_source(path)?)?;
        newsletter.env = Env::load(&newsletter.paths.env_file)?;
        for name in newsletter.env.conflicts() {
            newsletter.warnings.push(Diagnostic::warning(format!(
                "`{name}` is set in this environment and in `{}` to different values: this run uses the environment's, and a run from cron or systemd the file's",
                newsletter.paths.env_file.display()
            )));
        }
        Ok(newsletter)
    }

    /// Parses and validates the text of a newsletter file.
    ///
    /// # Errors
    /// Every problem found, each pointing into the file.
    pub fn parse(source: Source) -> Result<Newsletter, Diagnostics> {
        let mut problems = Problems::new();
        let parsed = read(&source, &mut problems);
        match parsed {
            Some(mut newsletter) if !problems.iter().any(Diagnostic::is_error) => {
                newsletter.warnings = problems;
                Ok(newsletter)
            }
            _ => Err(Diagnostics::in_file_order(problems)),
        }
    }
}

/// Reads every field, collecting problems; `None` if a required part is
/// missing or wrong.
fn read(source: &Source, problems: &mut Problems) -> Option<Newsletter> {
    let mut root = Table::parse(source, problems);
    let name = root.required_string("name", problems);
    let tagline = root.required_string("tagline", problems);
    let intro = root.string("intro", problems);
    let language = root.string("language", problems);
    let from = root
        .required_string("from", problems)
        .and_then(|value| mailbox(&root, &value, problems));
    let reply_to = root
        .string("reply_to", problems)
        .map(|value| mailbox(&root, &value, problems));
    let footer = root
        .required_table(
            "footer",
            "[footer]\nreason = \"You subscribed to ...\"\naddress = \"1 Example Street, ...\"",
            problems,
        )
        .and_then(|t| sections::footer(t, problems));
    let bounces = root
        .table("bounces", problems)
        .map(|t| sections::bounces(t, problems))
        .unwrap_or_default();
    let return_path = bounces
        .return_path
        .clone()
        .or_else(|| from.as_ref().map(|f| f.email.clone()));
    let unsubscribe = match root.table("unsubscribe", problems) {
        Some(t) => sections::unsubscribe(t, return_path.as_ref(), problems),
        None => Unsubscribe {
            mailto: None,
            authserv_id: None,
        },
    };
    let web = root
        .required_table(
            "web",
            "[web]\nbase_url = \"https://news.example.com\"   # where `catchup serve` is reached\nsecret_env = \"CATCHUP_SECRET\"",
            problems,
        )
        .and_then(|t| sections::web(t, problems));
    let colours = match root.table("colours", problems) {
        Some(t) => sections::colours(t, problems),
        None => Colours::default(),
    };
    let paths = match root.table("paths", problems) {
        Some(t) => sections::paths(t, problems),
        None => Paths::default(),
    };
    let smtp = root
        .table("smtp", problems)
        .and_then(|t| smtp::read(t, problems));
    let subscribe = root
        .table("subscribe", problems)
        .and_then(|t| subscribe::read(t, problems));
    let schedule = root
        .table("schedule", problems)
        .and_then(|t| sections::schedule(t, problems));
    let from_domain = from
        .as_ref()
        .map(|m: &Mailbox| m.email.domain().to_string());
    let dkim = sections::dkims(
        root.table_or_tables("dkim", problems),
        from_domain.as_deref(),
        problems,
    );
    let list_id = root.string("list_id", problems).and_then(|id| {
        let text = id.get_ref().trim().to_ascii_lowercase();
        let atoms_ok = text.split('.').all(|atom| {
            !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        if atoms_ok && text.contains('.') {
            Some(text)
        } else {
            problems.push(root.error(
                "`list_id` must look like a domain name you control, e.g. \"catchup.hsj.example\"",
                id.span(),
            ));
            None
        }
    });
    root.finish(problems);
    let list_id = list_id.unwrap_or_else(|| {
        let slug = crate::story::slugify(name.as_ref().map_or("", |n| n.get_ref().as_str()));
        format!(
            "{}.{}",
            if slug.is_empty() { "newsletter" } else { &slug },
            from_domain.as_deref().unwrap_or("invalid")
        )
    });

    Some(Newsletter {
        name: name?.into_inner(),
        tagline: tagline?.into_inner(),
        intro: intro.map(Spanned::into_inner),
        language: language.map_or_else(|| "en-GB".into(), Spanned::into_inner),
        from: from?,
        reply_to: reply_to.flatten(),
        footer: footer?,
        unsubscribe,
        web: web?,
        colours,
        paths,
        smtp,
        schedule,
        dkim,
        bounces,
        list_id,
        subscribe,
        env: Env::process(),
        source: source.clone(),
        warnings: Vec::new(),
    })
}

/// Reads a configuration file (settings or an issue) into a [`Source`]:
/// a regular file of sensible size, in UTF-8.
///
/// # Errors
/// The file cannot be read, is not a regular file, is too large, or is not
/// UTF-8; the message names it.
pub(crate) fn read_source(path: &Path) -> Result<Source, FileError> {
    let bytes = crate::fs::read_input(path, crate::fs::CONFIG_LIMIT)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(path, text)),
        Err(e) => {
            let (line, column) =
                crate::diagnostic::utf8_error_position(e.as_bytes(), e.utf8_error().valid_up_to());
            Err(FileError {
                action: crate::fs::Action::Read,
                path: path.to_path_buf(),
                problem: crate::fs::Problem::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {line}, column {column} is not valid UTF-8; save the file as UTF-8"
                    ),
                )),
            })
        }
    }
}

fn mailbox(table: &Table<'_>, value: &Spanned<String>, problems: &mut Problems) -> Option<Mailbox> {
    match parse_mailbox(value.get_ref()) {
        Ok(m) => Some(m),
        Err(message) => {
            problems.push(table.error(message, value.span()));
            None
        }
    }
}

/// Parses `Name <user@host>` or `user@host`, refusing line breaks (which
/// could smuggle in a header).
///
/// # Errors
/// Why the text is not an address, in words.
pub(crate) fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    if text.contains(['\r', '\n']) {
        return Err(format!("`{}` contains a line break", text.escape_debug()));
    }
    Mailbox::from_str(text).map_err(|e| format!("`{text}` is not an email address: {e}"))
}

impl From<LoadError> for crate::error::Error {
    fn from(error: LoadError) -> crate::error::Error {
        use crate::error::{Error, Kind};
        match error {
            LoadError::File(file) => Error::from(file),
            LoadError::Invalid(diagnostics) => Error::from(diagnostics),
            other @ (LoadError::Missing { .. } | LoadError::Env(_)) => {
                Error::new(Kind::Config, other)
            }
        }
    }
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

[web]
base_url = "https://news.hsj.example/"
"##;

    fn parse(text: &str) -> Result<Newsletter, Diagnostics> {
        Newsletter::parse(Source::new("newsletter.toml", text))
    }

    fn problems(text: &str) -> Vec<(String, Option<String>)> {
        parse(text)
            .expect_err("problems")
            .0
            .iter()
            .map(|d| (d.message.clone(), d.position()))
            .collect()
    }

    #[test]
    fn a_minimal_file_gets_defaults() {
        let n = parse(MINIMAL).expect("valid");
        assert_eq!(n.from.email.to_string(), "catchup@hsj.example");
        assert_eq!(n.paths.seeds, PathBuf::from("seeds"));
        assert_eq!(n.colours.brand, "#0b4f6c");
        assert_eq!(n.language, "en-GB");
        assert_eq!(n.web.base_url, "https://news.hsj.example");
        assert_eq!(n.web.secret, SecretSource::Env("CATCHUP_SECRET".into()));
        assert!(n.warnings.is_empty());
    }

    #[test]
    fn a_bad_address_points_at_its_value() {
        let text = MINIMAL.replace("catchup@hsj.example", "catchup at hsj");
        assert_eq!(
            problems(&text),
            [(
                "`HSJ Catch Up <catchup at hsj>` is not an email address: Invalid input"
                    .to_string(),
                Some("newsletter.toml:4:8".to_string())
            )]
        );
    }

    #[test]
    fn every_mistake_in_the_settings_is_reported_in_one_run() {
        let text = format!(
            "{}\n[colours]\nbrnad = \"#000000\"\ntext = \"black\"\n[smtp]\nhost = \"mail.example.com\"\nsecurity = \"none\"\nconnections = 0\n[schedule]\nweekday = \"Moon\"\ntime = \"7am\"\ntimezone = \"Europe/Londn\"\n",
            MINIMAL
                .replace("tagline = ", "tagline = 3 #")
                .replace("https://news.hsj.example/", "news.hsj.example")
        );
        let got = problems(&text);
        let messages: Vec<&str> = got.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`tagline` must be a string in quotes, not a whole number",
                "`news.hsj.example` is not a link: relative URL without a base",
                "unknown field `brnad` in [colours]",
                "colour `text` is `black`, not a #rrggbb colour",
                "security = \"none\" would send unencrypted to `mail.example.com`, which is not a loopback host",
                "`connections` must be a whole number from 1 to 64",
                "unknown weekday `Moon`",
                "`7am` is not a time",
                "unknown time zone `Europe/Londn`",
            ]
        );
    }

    #[test]
    fn smtp_settings_are_validated_where_they_are_written() {
        let ok =
            format!("{MINIMAL}\n[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\n");
        let relays = parse(&ok).expect("valid").smtp.expect("smtp");
        let smtp = &relays[0];
        assert_eq!(relays.len(), 1);
        assert_eq!(smtp.describe(), "127.0.0.1:2525 (none)");
        assert_eq!(smtp.connections, 4);
        assert_eq!(smtp.origin, "[smtp] in newsletter.toml:14");
        assert_eq!(smtp.data_timeout, std::time::Duration::from_secs(600));
    }

    #[test]
    fn several_relays_share_the_smtp_settings_and_keep_their_own() {
        let text = format!(
            "{MINIMAL}\n[smtp]\nretries = 2\ntimeout_secs = 7\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nconnections = 2\n\n[[smtp.relays]]\nhost = \"relay2.example\"\nusername = \"u\"\nrate = 5\n"
        );
        let relays = parse(&text).expect("valid").smtp.expect("smtp");
        assert_eq!(relays.len(), 2);
        assert_eq!(relays[0].describe(), "127.0.0.1:2525 (none)");
        assert_eq!((relays[0].connections, relays[0].retries), (2, 2));
        assert_eq!(relays[1].describe(), "relay2.example:587 (starttls)");
        assert_eq!(relays[1].rate, Some(5.0));
        assert_eq!(relays[1].timeout, std::time::Duration::from_secs(7));
        assert_eq!(relays[1].origin, "[[smtp.relays]] in newsletter.toml:24");

        let both = format!(
            "{MINIMAL}\n[smtp]\nhost = \"a.example\"\n[[smtp.relays]]\nhost = \"b.example\"\n"
        );
        let err = parse(&both).expect_err("host and relays");
        assert!(
            err.to_string()
                .contains("give `host` here or [[smtp.relays]], not both"),
            "{err}"
        );
        let misplaced =
            format!("{MINIMAL}\n[smtp]\n[[smtp.relays]]\nhost = \"b.example\"\nretries = 3\n");
        let err = parse(&misplaced).expect_err("a shared key in a relay");
        assert!(err.to_string().contains("retries"), "{err}");
    }

    #[test]
    fn a_good_schedule_is_read() {
        let good = format!(
            "{MINIMAL}\n[schedule]\nweekday = \"Mon\"\ntime = \"07:00\"\ntimezone = \"Europe/London\"\n"
        );
        let schedule = parse(&good).expect("valid").schedule.expect("schedule");
        assert_eq!(schedule.zone.name(), "Europe/London");
        assert_eq!(schedule.grace, chrono::Duration::hours(24));
    }

    #[test]
    fn a_low_contrast_colour_is_a_warning() {
        let text = format!("{MINIMAL}\n[colours]\nmuted = \"#999999\"\n");
        let n = parse(&text).expect("a warning only");
        assert_eq!(n.warnings.len(), 1);
        assert!(
            n.warnings[0]
                .message
                .starts_with("colour `muted` has a contrast of 2.8:1"),
            "{}",
            n.warnings[0].message
        );
        assert_eq!(
            n.warnings[0].position().as_deref(),
            Some("newsletter.toml:14:9")
        );
    }
}
