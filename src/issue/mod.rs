//! One issue: `config/issues/<name>.toml` → [`Issue`], with every story id
//! resolved against the library.
//!
//! The simple form is a list of ids per section. A story may instead be a
//! table, `{ id = "...", paragraphs = 2, url = "https://...", headline = "..." }`,
//! to shorten it, link it or retitle it. Every mistake is reported at once,
//! each pointing into the file, and an unknown id gets a "did you mean".

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::config::{Newsletter, from_toml};
use crate::diagnostic::{Diagnostic, Diagnostics, Source, read_source};
use crate::schedule::SendAt;
use crate::story::{Library, Story, StoryId};

mod pick;
mod timing;

use pick::{Pick, suggest};
pub use timing::{Timing, files, newest, read_timing};
use timing::{plain_date, send_at};

/// Subjects longer than this may be cut off, and RFC 5322 recommends lines
/// of at most 78 characters.
pub const SUBJECT_WARN_CHARS: usize = 78;

/// A resolved issue, ready to render.
#[derive(Debug, Clone)]
pub struct Issue {
    /// The file stem, e.g. `2018-07-27`: names the previews and the ledger.
    pub name: String,
    pub date: NaiveDate,
    pub subject: String,
    /// The hidden line that inboxes show after the subject.
    pub preheader: String,
    /// The intro, one string per paragraph.
    pub intro: Vec<String>,
    /// When to send, if not the schedule's time on `date`.
    pub send_at: Option<SendAt>,
    pub sections: Vec<Section>,
    pub source: Source,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub entries: Vec<Entry>,
}

/// A story as it appears in this issue.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The story, with its headline overridden and its blocks shortened as
    /// the issue asks.
    pub story: Story,
    /// Where the full story lives, if the editor linked it.
    pub url: Option<String>,
    /// True when blocks were cut by `paragraphs`.
    pub shortened: bool,
}

impl Issue {
    /// The stories in reading order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.sections.iter().flat_map(|s| s.entries.iter())
    }

    /// Reads and resolves an issue file.
    ///
    /// # Errors
    /// The file cannot be read, or [`Issue::parse`] finds errors.
    pub fn load(path: &Path, library: &Library, newsletter: &Newsletter) -> anyhow::Result<Issue> {
        let source = read_source(path)?;
        Ok(Issue::parse(source, library, newsletter)?)
    }

    /// Parses an issue and resolves its stories.
    ///
    /// # Errors
    /// Every problem found: malformed TOML, a missing or unknown field, a bad
    /// date, an empty section, an unknown story or one picked twice.
    pub fn parse(
        source: Source,
        library: &Library,
        newsletter: &Newsletter,
    ) -> Result<Issue, Diagnostics> {
        let file: File = from_toml(&source).map_err(|d| Diagnostics(vec![d]))?;
        let mut problems = Vec::new();
        let error =
            |message: String, span: Range<usize>| Diagnostic::error(message).at(&source, span);

        let date = plain_date(file.date.get_ref());
        if date.is_none() {
            problems.push(
                error(
                    format!("`date` is `{}`, not a date", file.date.get_ref()),
                    file.date.span(),
                )
                .help("write a plain date, e.g. `date = 2018-07-27`"),
            );
        }

        let send_at = file.send_at.as_ref().and_then(|spanned| {
            send_at(spanned.get_ref())
                .map_err(|message| problems.push(error(message, spanned.span())))
                .ok()
        });
        if let (Some(date), None, Some(schedule)) = (date, send_at, &newsletter.schedule)
            && chrono::Datelike::weekday(&date) != schedule.weekday
        {
            problems.push(
                Diagnostic::warning(format!(
                    "the issue is dated a {} but the newsletter goes out on {}s; it will go out on its date unless you set send_at",
                    crate::schedule::weekday_name(chrono::Datelike::weekday(&date)),
                    crate::schedule::weekday_name(schedule.weekday)
                ))
                .at(&source, file.date.span()),
            );
        }

        let subject = file.subject.get_ref().trim().to_string();
        if subject.is_empty() {
            problems.push(error("the subject is empty".into(), file.subject.span()));
        } else if subject.contains(['\r', '\n']) {
            problems.push(error(
                "the subject contains a line break".into(),
                file.subject.span(),
            ));
        } else if subject.chars().count() > SUBJECT_WARN_CHARS {
            problems.push(
                Diagnostic::warning(format!(
                    "the subject is {} characters; inboxes cut it off and RFC 5322 advises at most {SUBJECT_WARN_CHARS}",
                    subject.chars().count()
                ))
                .at(&source, file.subject.span()),
            );
        }

        if file.sections.get_ref().is_empty() {
            problems.push(
                error("the issue has no sections".into(), file.sections.span()).help(
                    "add one:\n[[sections]]\ntitle = \"Top stories\"\nstories = [\"002/debt-mountain\"]",
                ),
            );
        }

        let mut picked: HashMap<StoryId, (String, Range<usize>)> = HashMap::new();
        let mut sections = Vec::new();
        for section in file.sections.get_ref() {
            let title = section.title.get_ref().trim().to_string();
            if section.stories.get_ref().is_empty() {
                problems.push(error(
                    format!("section `{title}` picks no stories"),
                    section.stories.span(),
                ));
            }
            let mut entries = Vec::new();
            for value in section.stories.get_ref() {
                let span = value.span();
                let pick = match Pick::from_value(value.get_ref()) {
                    Ok(pick) => pick,
                    Err(message) => {
                        problems.push(error(message, span));
                        continue;
                    }
                };
                let Some(story) = library.get(&pick.id) else {
                    let mut d = error(format!("unknown story `{}`", pick.id), span.clone());
                    if let Some(near) = suggest(&pick.id, library) {
                        d = d.help(format!("did you mean `{near}`?"));
                    } else {
                        d = d.help("`catchup stories` lists every story id");
                    }
                    problems.push(d);
                    continue;
                };
                if let Some((first_section, first_span)) = picked.get(&story.id) {
                    let (line, _) = source.line_column(first_span.start);
                    problems.push(
                        error(
                            format!("story `{}` is picked twice", story.id),
                            span.clone(),
                        )
                        .help(format!(
                            "it is already in section `{first_section}`, line {line}"
                        )),
                    );
                    continue;
                }
                picked.insert(story.id.clone(), (title.clone(), span.clone()));
                let entry = pick.apply(story);
                if entry.shortened && entry.url.is_none() {
                    problems.push(
                        Diagnostic::warning(format!(
                            "story `{}` is shortened but has no `url`: readers cannot read the rest",
                            story.id
                        ))
                        .at(&source, span),
                    );
                }
                entries.push(entry);
            }
            sections.push(Section { title, entries });
        }

        if problems.iter().any(Diagnostic::is_error) {
            return Err(Diagnostics(problems));
        }
        let intro = file
            .intro
            .clone()
            .or_else(|| newsletter.intro.clone())
            .or_else(|| library.intro().map(str::to_string))
            .unwrap_or_default();
        Ok(Issue {
            name: source
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "issue".into()),
            date: date.expect("checked above"),
            subject,
            preheader: file
                .preheader
                .clone()
                .unwrap_or_else(|| newsletter.tagline.clone()),
            intro: paragraphs(&intro),
            send_at,
            sections,
            source,
            warnings: problems,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    date: Spanned<toml::value::Datetime>,
    subject: Spanned<String>,
    preheader: Option<String>,
    intro: Option<String>,
    send_at: Option<Spanned<toml::value::Datetime>>,
    #[serde(default = "no_sections")]
    sections: Spanned<Vec<SectionFile>>,
}

fn no_sections() -> Spanned<Vec<SectionFile>> {
    Spanned::new(0..0, Vec::new())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    title: Spanned<String>,
    stories: Spanned<Vec<Spanned<toml::Value>>>,
}

/// Splits text on blank lines into paragraphs, joining wrapped lines.
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().chain([""]) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.extend(line.split_whitespace());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intro_text_splits_into_paragraphs_on_blank_lines() {
        assert_eq!(
            paragraphs("One line\nwrapped.\n\n\nTwo.\r\n\r\nThree."),
            ["One line wrapped.", "Two.", "Three."]
        );
    }
}
