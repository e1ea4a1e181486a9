//! The compose pipeline that `check`, `preview` and `send` share:
//! newsletter settings → story library → issue → render → message template,
//! with every check on the way: the issue's own, clashes with other issue
//! files, stories already sent, and the message's measurements.

use std::path::{Path, PathBuf};

use crate::config::Newsletter;
use crate::deliver::Outgoing;
use crate::deliver::sent::{self, SentIssue};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::error::Error;
use crate::issue::{self, Issue, Outline};
use crate::list::reader::Reader;
use crate::list::token::Key;
use crate::mail::dkim::Signer;
use crate::mail::measure::{self, Measurements};
use crate::mail::{Purpose, Signers, Template};
use crate::render::{self, Rendered};
use crate::schedule::send_moment;
use crate::story::{Library, ParseOptions};

/// Whose key signs the readers' links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// `check` and `preview`: a fixed key whose links work nowhere, so that
    /// no secret is needed.
    Preview,
    /// A send: the newsletter's secret (`[web]`), which must be set.
    Live,
}

/// What to do with an issue that an earlier list send already carried
/// (see [`crate::deliver::sent::repeat_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeats {
    /// An error: `check`, and sends without `--force`.
    Refuse,
    /// A warning: previews, and `--force`.
    Allow,
}

/// An issue composed and measured, ready to preview or send.
#[derive(Debug)]
pub(crate) struct Composed {
    pub newsletter: Newsletter,
    pub issue: Issue,
    pub issue_path: PathBuf,
    /// Both parts as the placeholder reader sees them (what `preview` writes).
    pub seen: Rendered,
    pub template: Template,
    /// The message as the placeholder reader gets it (what `preview` writes).
    pub sample: Vec<u8>,
    pub measurements: Measurements,
    /// Warnings from the settings, the seeds, the issue and the message.
    pub warnings: Vec<Diagnostic>,
}

impl Composed {
    /// What a send takes: the template, the record of what the issue
    /// carries, and its web version (rendered here, once, since only a
    /// send needs it: no reader's link or address in it).
    ///
    /// # Errors
    /// The web version's CSS could not be inlined.
    pub(crate) fn outgoing(self) -> Result<Outgoing, Error> {
        let web_html = render::web_page(
            &self.issue,
            &self.newsletter,
            &self.newsletter.web.unsubscribe_url(""),
        )
        .map_err(Error::failure)?;
        let record = SentIssue {
            date: self.issue.date,
            moment: send_moment(
                self.newsletter.schedule.as_ref(),
                self.issue.date,
                self.issue.send_at,
            ),
            subject: self.issue.subject.clone(),
            preheader: self.issue.preheader.clone(),
            stories: self
                .issue
                .story_ids()
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        Ok(Outgoing {
            template: std::sync::Arc::new(self.template),
            record,
            web_html,
        })
    }
}

/// Loads the newsletter settings.
///
/// # Errors
/// The file is missing, unreadable or invalid.
pub(crate) fn newsletter(config: &Path) -> Result<Newsletter, Error> {
    Ok(Newsletter::load(config)?)
}

/// The story library for a newsletter: its seeds folder, with its name as the
/// masthead to leave out of the stories.
///
/// # Errors
/// The seeds folder or a seed cannot be read.
pub(crate) fn library(newsletter: &Newsletter, seeds: Option<&Path>) -> Result<Library, Error> {
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
/// Any stage's errors; configuration mistakes come as a configuration
/// [`Error`] holding every diagnostic.
pub(crate) fn compose(
    config: &Path,
    issue: Option<&Path>,
    signing: Signing,
    repeats: Repeats,
) -> Result<Composed, Error> {
    let newsletter = newsletter(config)?;
    let links = match signing {
        Signing::Preview => Key::preview(),
        Signing::Live => newsletter.web.keys(&newsletter.env)?.current,
    };
    let library = library(&newsletter, None)?;
    let issue_path = match issue {
        Some(path) => path.to_path_buf(),
        None => issue::newest(&newsletter.paths.issues)?,
    };
    let issue = Issue::load(&issue_path, &library, &newsletter)?;
    let mut warnings = newsletter.warnings.clone();
    let dkim = if newsletter.dkim.is_empty() {
        None
    } else {
        let (signer, dkim_warnings) =
            Signer::load(&newsletter.dkim, &newsletter.source, &newsletter.env)
                .map_err(|d| Error::from(Diagnostics(vec![d])))?;
        warnings.extend(dkim_warnings);
        Some(std::sync::Arc::new(signer))
    };
    warnings.extend(
        library
            .warnings()
            .iter()
            .map(|w| Diagnostic::warning(w.to_string())),
    );
    warnings.extend(issue.warnings.iter().cloned());
    // The issue holds its own stories: the rest of the library can go
    // before the render needs the memory.
    drop(library);
    guard_against_sending_twice(&issue, &newsletter, repeats, &mut warnings)?;

    let rendered = render::render(&issue, &newsletter).map_err(Error::failure)?;
    let template = Template::new(&issue, &newsletter, &rendered, Signers { links, dkim });
    let reader = Reader::placeholder();
    let date = send_moment(newsletter.schedule.as_ref(), issue.date, issue.send_at);
    let sample = template
        .message(&reader, Purpose::Preview, date)
        .map_err(Error::failure)?;
    let url = template.unsubscribe_url(&reader);
    let seen = rendered.personalised(&url);
    let (_, html_encoded) = template.encoded_bodies(&url);
    let (measurements, message_warnings) = measure::measure(&seen.html, &html_encoded, &sample);
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

/// Another issue file with the same moment or content is an error, and so
/// (unless `repeats` allows it) is an issue an earlier list send carried;
/// a story that an issue already sent carried is a warning.
fn guard_against_sending_twice(
    issue: &Issue,
    newsletter: &Newsletter,
    repeats: Repeats,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Error> {
    // The issue itself was read already; the others are outlined.
    let others: Vec<Outline> = issue::files(&newsletter.paths.issues)
        .unwrap_or_default()
        .iter()
        .filter(|path| !same_file(path, &issue.source.path))
        .filter_map(|path| Outline::read(path).ok())
        .collect();
    let mut errors = issue::clash::diagnostics(issue, &others, newsletter.schedule.as_ref());
    let stories: Vec<String> = issue.story_ids().iter().map(ToString::to_string).collect();
    let record = SentIssue {
        subject: issue.subject.clone(),
        stories,
        ..SentIssue::default()
    };
    let sent = sent::all(&newsletter.paths.state);
    let repeat = sent::repeat_of(&sent, &issue.name, &record);
    if let Some(repeat) = &repeat {
        let message = format!("this issue went out already: {repeat}");
        let diagnostic = match repeats {
            Repeats::Refuse => Diagnostic::error(format!("{message}; every reader would get it twice"))
                .help("pick new stories, or move this file out of the issues folder; `send --force` sends it anyway"),
            Repeats::Allow => Diagnostic::warning(message),
        };
        let diagnostic = diagnostic.at(&issue.source, issue.subject_span.clone());
        match repeats {
            Repeats::Refuse => errors.push(diagnostic),
            Repeats::Allow => warnings.push(diagnostic),
        }
    }
    for (name, earlier) in &sent {
        // A repeat is one finding, not one per story.
        if *name == issue.name || repeat.as_ref().is_some_and(|r| r.issue == *name) {
            continue;
        }
        for id in &earlier.stories {
            // An editor's own item is new each time, whatever its headline.
            let picked = issue
                .picked_at
                .iter()
                .find(|(s, _)| !s.is_own() && s.as_str() == id);
            if let Some((story, span)) = picked {
                warnings.push(
                    Diagnostic::warning(format!(
                        "story `{story}` already went out in issue `{name}` ({})",
                        earlier.date
                    ))
                    .at(&issue.source, span.clone()),
                );
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    errors.append(warnings);
    Err(Diagnostics(errors).into())
}

/// True when two paths name one file (an issue given as `./x.toml` or by
/// an absolute path is still the one in the issues folder).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => a == b,
    }
}
