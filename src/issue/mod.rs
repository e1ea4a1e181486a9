//! One issue: `config/issues/<name>.toml` → [`Issue`], with every story id
//! resolved against the library.
//!
//! Reading is in two steps: [`file`] reads and checks each field on its own,
//! then [`Issue::parse`] resolves the picks against the story library. Every
//! mistake is reported at once, each pointing into the file, and an unknown
//! id gets a "did you mean". [`outline`] reads the little that deciding what
//! is due needs, and [`clash`] finds two files that would send one issue
//! twice.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono::NaiveDate;

use crate::config::fields::Problems;
use crate::config::{Newsletter, read_source};
use crate::diagnostic::{Diagnostic, Diagnostics, Source};
use crate::error::Error;
use crate::schedule::SendAt;
use crate::story::{Block, Library, Story, StoryId};

pub(crate) mod clash;
mod file;
mod markdown;
pub(crate) mod outline;
mod pick;

pub(crate) use outline::{Outline, files, newest};
use pick::suggest;

/// An issue's name: its file stem, e.g. `2018-07-27`. It names the previews,
/// the ledger folder and the archive page, so it is checked where it is made:
/// letters, digits, `-`, `_` and `.`, not starting with `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssueName(String);

impl IssueName {
    /// The name of the issue in `path`.
    ///
    /// # Errors
    /// The file stem is not a plain name (it would reach outside the state
    /// folder as `..`, or hide as `.x`).
    pub fn from_path(path: &Path) -> Result<IssueName, Error> {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        IssueName::new(stem).map_err(|why| {
            Error::config(format!(
                "`{}` cannot be an issue file: {why}; rename it, e.g. 2018-07-27.toml",
                path.display()
            ))
        })
    }

    /// Checks a name.
    ///
    /// # Errors
    /// Why the name is not allowed.
    pub fn new(name: &str) -> Result<IssueName, String> {
        if name.is_empty() {
            return Err("its name is empty".into());
        }
        if name.starts_with('.') {
            return Err(format!("its name `{name}` starts with `.`"));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
        {
            return Err(format!(
                "its name `{name}` holds `{}`; use letters, digits, `-`, `_` and `.`",
                c.escape_debug()
            ));
        }
        Ok(IssueName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IssueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resolved issue, ready to render.
#[derive(Debug, Clone)]
pub struct Issue {
    pub name: IssueName,
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
    /// Where each story was picked, for problems found later (a story
    /// already sent in another issue).
    pub picked_at: HashMap<StoryId, Range<usize>>,
    /// Where `date` and `subject` are in the file.
    pub date_span: Range<usize>,
    pub subject_span: Range<usize>,
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

    /// The ids of the stories, in reading order.
    pub fn story_ids(&self) -> Vec<StoryId> {
        self.entries().map(|e| e.story.id.clone()).collect()
    }

    /// Reads and resolves an issue file.
    ///
    /// # Errors
    /// The file cannot be read or is badly named, or [`Issue::parse`] finds
    /// errors.
    pub fn load(path: &Path, library: &Library, newsletter: &Newsletter) -> Result<Issue, Error> {
        let name = IssueName::from_path(path)?;
        let source = read_source(path)?;
        Ok(Issue::parse(name, source, library, newsletter)?)
    }

    /// Parses an issue and resolves its stories.
    ///
    /// # Errors
    /// Every problem found: malformed TOML, a missing, unknown or mistyped
    /// field, a bad date or link, an empty section, an unknown story or one
    /// picked twice.
    pub fn parse(
        name: IssueName,
        source: Source,
        library: &Library,
        newsletter: &Newsletter,
    ) -> Result<Issue, Diagnostics> {
        let mut problems = Problems::new();
        let file = file::read(&source, &mut problems);
        if let (Some(date), None, Some(schedule)) = (&file.date, file.send_at, &newsletter.schedule)
        {
            weekday_warning(&source, date, schedule, &mut problems);
        }
        let mut picked_at = HashMap::new();
        let sections = resolve(
            &source,
            file.sections,
            library,
            &mut picked_at,
            &mut problems,
        );
        let (Some(date), Some(subject)) = (file.date, file.subject) else {
            return Err(Diagnostics::in_file_order(problems));
        };
        if problems.iter().any(Diagnostic::is_error) {
            return Err(Diagnostics::in_file_order(problems));
        }
        let intro = file
            .intro
            .or_else(|| newsletter.intro.clone())
            .or_else(|| library.intro().map(str::to_string))
            .unwrap_or_default();
        Ok(Issue {
            name,
            date_span: date.span(),
            subject_span: subject.span(),
            date: date.into_inner(),
            subject: subject.into_inner(),
            preheader: file.preheader.unwrap_or_else(|| newsletter.tagline.clone()),
            intro: paragraphs(&intro),
            send_at: file.send_at,
            sections,
            source,
            picked_at,
            warnings: problems,
        })
    }
}

fn weekday_warning(
    source: &Source,
    date: &toml::Spanned<NaiveDate>,
    schedule: &crate::schedule::Schedule,
    problems: &mut Problems,
) {
    let day = chrono::Datelike::weekday(date.get_ref());
    if day != schedule.weekday {
        problems.push(
            Diagnostic::warning(format!(
                "the issue is dated a {} but the newsletter goes out on {}s; it will go out on its date unless you set send_at",
                crate::schedule::weekday_name(day),
                crate::schedule::weekday_name(schedule.weekday)
            ))
            .at(source, date.span()),
        );
    }
}

/// Looks up every pick in the library: unknown ids (with a suggestion),
/// stories picked twice, and shortenings that cut nothing, lose the rest or
/// cut badly. An editor's own items get ids of their own (`item/<slug>`).
fn resolve(
    source: &Source,
    sections: Vec<file::SectionFile>,
    library: &Library,
    picked_at: &mut HashMap<StoryId, Range<usize>>,
    problems: &mut Problems,
) -> Vec<Section> {
    let mut first_section: HashMap<StoryId, String> = HashMap::new();
    let mut resolved = Vec::new();
    for section in sections {
        let mut entries = Vec::new();
        for pick in section.picks {
            let span = pick.span();
            let pick = pick.into_inner();
            let story = match &pick.id {
                Some(id) => match library.get(id) {
                    Some(story) => story.clone(),
                    None => {
                        let help = match suggest(id, library) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "`catchup stories` lists every story id".into(),
                        };
                        problems.push(
                            Diagnostic::error(format!("unknown story `{id}`"))
                                .at(source, span)
                                .help(help),
                        );
                        continue;
                    }
                },
                None => pick.own_story(own_id(&pick, picked_at)),
            };
            if let Some(first) = first_section.get(&story.id) {
                let (line, _) = source.line_column(picked_at[&story.id].start);
                problems.push(
                    Diagnostic::error(format!("story `{}` is picked twice", story.id))
                        .at(source, span)
                        .help(format!("it is already in section `{first}`, line {line}")),
                );
                continue;
            }
            first_section.insert(story.id.clone(), section.title.clone());
            picked_at.insert(story.id.clone(), span.clone());
            let (limit, has_url) = (pick.paragraphs(), pick.has_url());
            let (entry, dropped) = pick.apply(&story);
            if let Some(limit) = limit {
                let cut = Cut {
                    limit,
                    has_url,
                    dropped: &dropped,
                };
                shortening_warnings(source, span, &entry, &cut, problems);
            }
            entries.push(entry);
        }
        resolved.push(Section {
            title: section.title,
            entries,
        });
    }
    resolved
}

/// `item/<slug of the headline>`, made unique within the issue.
fn own_id(pick: &pick::Pick, picked_at: &HashMap<StoryId, Range<usize>>) -> StoryId {
    let slug = crate::story::slugify(pick.headline().unwrap_or_default());
    let base = if slug.is_empty() {
        "untitled".to_string()
    } else {
        slug
    };
    let mut id = StoryId::own(&base);
    let mut n = 2;
    while picked_at.contains_key(&id) {
        id = StoryId::own(&format!("{base}-{n}"));
        n += 1;
    }
    id
}

/// What `paragraphs = N` did to a story.
struct Cut<'a> {
    limit: usize,
    has_url: bool,
    /// The blocks it left out.
    dropped: &'a [Block],
}

fn shortening_warnings(
    source: &Source,
    span: Range<usize>,
    entry: &Entry,
    cut: &Cut<'_>,
    problems: &mut Problems,
) {
    let (id, limit) = (&entry.story.id, cut.limit);
    let warn = |message: String| Diagnostic::warning(message).at(source, span.clone());
    if cut.dropped.is_empty() {
        let have = entry
            .story
            .blocks
            .iter()
            .filter(|b| matches!(b, Block::Paragraph { .. }))
            .count();
        problems.push(
            warn(format!(
                "story `{id}` has {have} paragraph(s), so `paragraphs = {limit}` cuts nothing"
            ))
            .help("remove `paragraphs`, or give a number below the story's length"),
        );
        return;
    }
    if !cut.has_url {
        problems.push(warn(format!(
            "story `{id}` is shortened but has no `url`: readers cannot read the rest"
        )));
    }
    let last = entry.story.blocks.last();
    let ends_on_colon = match last {
        Some(Block::Paragraph { text }) => text.ends_with(':'),
        Some(Block::Bullets { items, .. }) => items.last().is_some_and(|t| t.ends_with(':')),
        _ => false,
    };
    let list_goes_on = matches!(last, Some(Block::Bullets { .. }))
        && cut
            .dropped
            .iter()
            .take(2)
            .any(|b| matches!(b, Block::Bullets { .. }));
    if ends_on_colon {
        problems.push(
            warn(format!(
                "story `{id}` is cut after a colon: what it introduces is left out"
            ))
            .help(format!(
                "keep one more paragraph (`paragraphs = {}`), or one fewer",
                limit + 1
            )),
        );
    } else if list_goes_on {
        problems.push(
            warn(format!("story `{id}` is cut in the middle of a list")).help(format!(
                "keep one more paragraph (`paragraphs = {}`), or one fewer",
                limit + 1
            )),
        );
    }
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

    /// See: issue 9, item 7. A file named `...toml` would have put its state
    /// in the parent of the state folder.
    #[test]
    fn an_issue_name_is_a_plain_file_stem() {
        assert!(IssueName::new("2018-07-27").is_ok());
        assert!(IssueName::new("2026-03-29-gap_special.v2").is_ok());
        for bad in ["..", ".", ".hidden", "", "a/b", "a b", "naïve"] {
            assert!(IssueName::new(bad).is_err(), "{bad:?} accepted");
        }
        let err = IssueName::from_path(Path::new("config/issues/...toml")).expect_err("..");
        assert!(err.to_string().contains("starts with `.`"), "{err}");
    }
}
