//! The compose pipeline that `check`, `preview` and `send` share:
//! newsletter config → story library → issue → render → message template.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::check::{self, Measurements};
use crate::config::Newsletter;
use crate::diagnostic::Diagnostic;
use crate::issue::{self, Issue};
use crate::message::{Purpose, Reader, Template};
use crate::render::{self, Rendered};
use crate::story::{Library, ParseOptions};

/// An issue composed and measured, ready to preview or send.
#[derive(Debug)]
pub struct Composed {
    pub newsletter: Newsletter,
    pub issue: Issue,
    pub issue_path: PathBuf,
    /// Both parts as the placeholder reader sees them (what `preview` writes).
    pub seen: Rendered,
    pub template: Template,
    /// The message as the placeholder reader gets it (what `preview` writes).
    pub sample: Vec<u8>,
    pub measurements: Measurements,
    /// Warnings from the newsletter file, the issue and the message checks.
    pub warnings: Vec<Diagnostic>,
}

/// Loads the newsletter settings.
///
/// # Errors
/// The file is missing or invalid.
pub fn newsletter(config: &Path) -> anyhow::Result<Newsletter> {
    if !config.exists() {
        anyhow::bail!(
            "no newsletter settings at `{}`; run catchup in the project folder (or pass -C DIR / --config FILE)",
            config.display()
        );
    }
    Newsletter::load(config)
}

/// The story library for a newsletter: its seeds folder, with its name as the
/// masthead to leave out of the stories.
///
/// # Errors
/// The seeds folder or a seed cannot be read.
pub fn library(newsletter: &Newsletter, seeds: Option<&Path>) -> anyhow::Result<Library> {
    let options = ParseOptions {
        mastheads: vec![newsletter.name.clone()],
    };
    Ok(Library::load(
        seeds.unwrap_or(&newsletter.paths.seeds),
        &options,
    )?)
}

/// Composes one issue: `issue` or, if `None`, the newest in the issues folder.
///
/// # Errors
/// Any stage's errors; configuration mistakes come as
/// [`crate::diagnostic::Diagnostics`].
pub fn compose(config: &Path, issue: Option<&Path>) -> anyhow::Result<Composed> {
    let newsletter = newsletter(config)?;
    let library = library(&newsletter, None)?;
    let issue_path = match issue {
        Some(path) => path.to_path_buf(),
        None => issue::newest(&newsletter.paths.issues)?,
    };
    let issue = Issue::load(&issue_path, &library, &newsletter)?;
    let rendered = render::render(&issue, &newsletter)?;
    let template = Template::new(&issue, &newsletter, &rendered);

    let reader = Reader::placeholder();
    let sample = template.message(&reader, Purpose::Preview, preview_date(&issue, &newsletter));
    let url = template.unsubscribe_url(&reader);
    let seen = rendered.personalised(&url);
    let (_, html_encoded) = template.encoded_bodies(&url);
    let (measurements, message_warnings) = check::measure(&seen.html, &html_encoded, &sample);

    let mut warnings = newsletter.warnings.clone();
    warnings.extend(issue.warnings.iter().cloned());
    warnings.extend(message_warnings);
    Ok(Composed {
        newsletter,
        issue,
        issue_path,
        seen,
        template,
        sample,
        measurements,
        warnings,
    })
}

/// The `Date` of a preview: the issue's send moment (midnight UTC on its
/// date without a schedule), so that previews are byte-identical from run to
/// run.
fn preview_date(issue: &Issue, newsletter: &Newsletter) -> DateTime<Utc> {
    match &newsletter.schedule {
        Some(schedule) => schedule.moment(issue.date, issue.send_at),
        None => issue
            .date
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc(),
    }
}
