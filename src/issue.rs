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
use crate::story::{Block, Library, Story, StoryId};

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

/// One entry of a section's `stories`: an id, or a table with options.
#[derive(Debug, Default)]
struct Pick {
    id: String,
    paragraphs: Option<usize>,
    url: Option<String>,
    headline: Option<String>,
}

impl Pick {
    fn from_value(value: &toml::Value) -> Result<Pick, String> {
        let table = match value {
            toml::Value::String(id) => {
                return Ok(Pick {
                    id: id.trim().to_string(),
                    ..Pick::default()
                });
            }
            toml::Value::Table(table) => table,
            other => {
                return Err(format!(
                    "a story is an id like \"002/debt-mountain\" or a table like {{ id = \"...\", paragraphs = 2 }}, not a {}",
                    other.type_str()
                ));
            }
        };
        let mut pick = Pick::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("id", toml::Value::String(s)) => pick.id = s.trim().to_string(),
                ("paragraphs", toml::Value::Integer(n)) if *n >= 1 => {
                    pick.paragraphs = usize::try_from(*n).ok();
                }
                ("paragraphs", _) => {
                    return Err("`paragraphs` must be a whole number, 1 or more".into());
                }
                ("url", toml::Value::String(s)) => {
                    if !(s.starts_with("https://") || s.starts_with("http://")) {
                        return Err(format!("url `{s}` must start with https:// or http://"));
                    }
                    pick.url = Some(s.clone());
                }
                ("headline", toml::Value::String(s)) if !s.trim().is_empty() => {
                    pick.headline = Some(s.trim().to_string());
                }
                ("id" | "url" | "headline", _) => {
                    return Err(format!("`{key}` must be a non-empty string"));
                }
                (other, _) => {
                    return Err(format!(
                        "unknown key `{other}` in a story table (known: id, paragraphs, url, headline)"
                    ));
                }
            }
        }
        if pick.id.is_empty() {
            return Err("this story table has no `id`".into());
        }
        Ok(pick)
    }

    fn apply(self, story: &Story) -> Entry {
        let mut story = story.clone();
        if let Some(headline) = self.headline {
            story.headline = headline;
        }
        let mut shortened = false;
        if let Some(limit) = self.paragraphs {
            let mut seen = 0;
            let keep = story
                .blocks
                .iter()
                .position(|b| {
                    if matches!(b, Block::Paragraph { .. }) {
                        seen += 1;
                    }
                    seen > limit
                })
                .unwrap_or(story.blocks.len());
            shortened = keep < story.blocks.len();
            story.blocks.truncate(keep);
            // A subhead belongs to what follows it; with that cut, it goes too.
            if shortened {
                while matches!(story.blocks.last(), Some(Block::Subhead { .. })) {
                    story.blocks.pop();
                }
            }
            story.words = story.blocks.iter().map(Block::words).sum();
        }
        Entry {
            story,
            url: self.url,
            shortened,
        }
    }
}

/// The known id nearest to a mistyped one, if any is near enough.
fn suggest(typed: &str, library: &Library) -> Option<StoryId> {
    // The slug alone, without its seed prefix.
    if let Some(id) = library.ids().find(|id| {
        id.as_str()
            .split_once('/')
            .is_some_and(|(_, slug)| slug == typed)
    }) {
        return Some(id.clone());
    }
    library
        .ids()
        .map(|id| (strsim::damerau_levenshtein(typed, id.as_str()), id))
        .filter(|(distance, id)| *distance <= id.as_str().len().max(typed.len()) / 3)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, id)| id.clone())
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

/// When an issue goes out, read without resolving its stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub date: NaiveDate,
    pub send_at: Option<SendAt>,
}

/// Reads just `date` and `send_at` from an issue file: cheap, for deciding
/// what is due and which issue is newest.
///
/// # Errors
/// The file cannot be read, or either field is missing or malformed; the
/// message names the file and says to run `catchup check` on it.
pub fn read_timing(path: &Path) -> anyhow::Result<Timing> {
    #[derive(Deserialize)]
    struct TimingOnly {
        date: toml::value::Datetime,
        send_at: Option<toml::value::Datetime>,
    }
    let source = read_source(path)?;
    let bad = || {
        anyhow::anyhow!(
            "cannot tell when `{}` goes out; run `catchup check {}` to see why",
            path.display(),
            path.display()
        )
    };
    let timing: TimingOnly = toml::from_str(&source.text).map_err(|_| bad())?;
    Ok(Timing {
        date: plain_date(&timing.date).ok_or_else(bad)?,
        send_at: timing
            .send_at
            .as_ref()
            .map(send_at)
            .transpose()
            .map_err(|_| bad())?,
    })
}

fn plain_date(value: &toml::value::Datetime) -> Option<NaiveDate> {
    match value {
        toml::value::Datetime {
            date: Some(d),
            time: None,
            offset: None,
        } => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day)),
        _ => None,
    }
}

/// `send_at` as an instant (with an offset) or a local time (without).
fn send_at(value: &toml::value::Datetime) -> Result<SendAt, String> {
    let text = value.to_string();
    let problem = || {
        format!(
            "`send_at` is `{text}`; write a date and time, e.g. 2018-07-30T07:00:00 (local) or 2018-07-30T06:00:00Z"
        )
    };
    match (value.date, value.time, value.offset) {
        (Some(_), Some(_), Some(_)) => chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| SendAt::Instant(t.with_timezone(&chrono::Utc)))
            .map_err(|_| problem()),
        (Some(_), Some(_), None) => {
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
                .map(SendAt::Local)
                .map_err(|_| problem())
        }
        _ => Err(problem()),
    }
}

/// The `.toml` issue files in `dir`, in name order.
///
/// # Errors
/// The folder cannot be read.
pub fn files(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use anyhow::Context as _;
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the issues folder `{}`", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the issues folder `{}`", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The issue file in `dir` with the latest `date` (ties: the last name).
///
/// # Errors
/// The folder cannot be read, holds no `.toml` files, or a file's `date`
/// cannot be read (so "newest" would be a guess).
pub fn newest(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let mut best: Option<(NaiveDate, std::path::PathBuf)> = None;
    for path in files(dir)? {
        let key = (read_timing(&path)?.date, path);
        if best.as_ref().is_none_or(|b| key > *b) {
            best = Some(key);
        }
    }
    best.map(|(_, path)| path).ok_or_else(|| {
        anyhow::anyhow!(
            "no issue files (*.toml) in `{}`; name one on the command line",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::story::StoryId;

    fn story(blocks: Vec<Block>) -> Story {
        Story {
            id: StoryId::new("004", "long-post"),
            seed: "004_x".into(),
            headline: "A long post".into(),
            author: None,
            role: None,
            published: None,
            words: 0,
            blocks,
        }
    }

    fn p(text: &str) -> Block {
        Block::Paragraph { text: text.into() }
    }

    fn s(text: &str) -> Block {
        Block::Subhead { text: text.into() }
    }

    fn pick(paragraphs: Option<usize>) -> Pick {
        Pick {
            id: "004/long-post".into(),
            paragraphs,
            url: Some("https://hsj.example/x".into()),
            headline: None,
        }
    }

    #[test]
    fn paragraphs_keeps_the_first_n_and_whatever_sits_between_them() {
        let bullets = Block::Bullets {
            items: vec!["one two".into()],
        };
        let entry = pick(Some(2)).apply(&story(vec![
            s("Intro"),
            p("a b"),
            bullets.clone(),
            p("c"),
            p("d"),
        ]));
        assert!(entry.shortened);
        assert_eq!(entry.story.blocks, [s("Intro"), p("a b"), bullets, p("c")]);
        assert_eq!(entry.story.words, 6, "subheads count as words");
    }

    #[test]
    fn a_cut_never_ends_on_a_subhead() {
        let entry = pick(Some(1)).apply(&story(vec![p("a"), s("Next part"), p("b")]));
        assert!(entry.shortened);
        assert_eq!(entry.story.blocks, [p("a")]);
    }

    #[test]
    fn a_limit_beyond_the_story_shortens_nothing() {
        let entry = pick(Some(5)).apply(&story(vec![p("a"), s("Next"), p("b")]));
        assert!(!entry.shortened);
        assert_eq!(entry.story.blocks.len(), 3);
        assert!(!pick(None).apply(&story(vec![p("a")])).shortened);
    }

    #[test]
    fn a_headline_override_replaces_the_headline() {
        let mut with_headline = pick(None);
        with_headline.headline = Some("Shorter".into());
        assert_eq!(
            with_headline.apply(&story(vec![p("a")])).story.headline,
            "Shorter"
        );
    }

    #[test]
    fn intro_text_splits_into_paragraphs_on_blank_lines() {
        assert_eq!(
            paragraphs("One line\nwrapped.\n\n\nTwo.\r\n\r\nThree."),
            ["One line wrapped.", "Two.", "Three."]
        );
    }
}
