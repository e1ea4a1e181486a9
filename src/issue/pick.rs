//! One entry of a section's `stories`: an id, or a table that shortens,
//! links, retitles or rewrites a seed story, or an editor's own item in
//! Markdown; and the "did you mean" for an unknown id.

use toml::Spanned;
use toml::de::DeValue;

use super::Entry;
use super::markdown;
use crate::config::fields::{Problems, Table, Value};
use crate::story::{Block, Library, Story, StoryId};

/// One entry of a section's `stories`: an id, or a table with options.
#[derive(Debug, Default)]
pub(super) struct Pick {
    /// The seed story; `None` for an editor's own item.
    pub(super) id: Option<String>,
    paragraphs: Option<usize>,
    url: Option<String>,
    headline: Option<String>,
    /// The editor's text, in place of the seed's (or the whole item).
    body: Option<Vec<Block>>,
    /// A short text shown in place of the body, with "Read more".
    teaser: Option<Vec<Block>>,
    byline: Option<String>,
}

impl Pick {
    /// Reads one item of a `stories` list, collecting problems.
    pub(super) fn read(
        section: &Table<'_>,
        value: Value<'_>,
        problems: &mut Problems,
    ) -> Option<Spanned<Pick>> {
        let span = value.span();
        let mut table = match value.get_ref() {
            DeValue::String(id) => {
                let pick = Pick {
                    id: Some(id.trim().to_string()),
                    ..Pick::default()
                };
                return Some(Spanned::new(span, pick));
            }
            DeValue::Table(_) => {
                section.as_table("a story table".into(), "stories", value, problems)?
            }
            _ => {
                problems.push(section.error(
                    "a story is an id like \"002/debt-mountain\", a table like { id = \"...\", paragraphs = 2 }, or your own { headline = \"...\", body = \"...\" }",
                    span,
                ));
                return None;
            }
        };
        let id = table
            .string("id", problems)
            .map(|id| id.get_ref().trim().to_string());
        let paragraphs = table
            .integer("paragraphs", 1..=10_000, problems)
            .and_then(|n| usize::try_from(*n.get_ref()).ok());
        let url = table.string("url", problems).and_then(|u| {
            crate::link::check(u.get_ref())
                .map(str::to_string)
                .map_err(|why| problems.push(table.error(why, u.span())))
                .ok()
        });
        let headline = one_line(&mut table, "headline", problems);
        let byline = one_line(&mut table, "byline", problems);
        let body = markdown_field(&mut table, "body", problems);
        let teaser = markdown_field(&mut table, "teaser", problems);
        table.finish(problems);
        // A field refused is reported already; what it lacks is not news.
        let (Ok(body), Ok(teaser)) = (body, teaser) else {
            return None;
        };
        let pick = Pick {
            id,
            paragraphs,
            url,
            headline,
            body,
            teaser,
            byline,
        };
        if let Some(why) = pick.conflict() {
            problems.push(section.error(why, span));
            return None;
        }
        Some(Spanned::new(span, pick))
    }

    /// Options that cannot go together, or an own item missing a part.
    fn conflict(&self) -> Option<&'static str> {
        if self.id.is_none()
            && (self.headline.is_none() || (self.body.is_none() && self.teaser.is_none()))
        {
            return Some(
                "a story of your own needs `headline` and `body`; to pick a seed story, give its `id`",
            );
        }
        if self.teaser.is_some() && self.body.is_some() {
            return Some("give `body` or `teaser`, not both: a teaser stands in for the body");
        }
        if self.teaser.is_some() && self.paragraphs.is_some() {
            return Some(
                "give `paragraphs` or `teaser`, not both: a teaser stands in for the body",
            );
        }
        if self.teaser.is_some() && self.url.is_none() {
            return Some("a `teaser` needs a `url`: readers follow \"Read more\" to the rest");
        }
        None
    }

    /// How many paragraphs the editor asked to keep, if any.
    pub(super) fn paragraphs(&self) -> Option<usize> {
        self.paragraphs
    }

    pub(super) fn has_url(&self) -> bool {
        self.url.is_some()
    }

    pub(super) fn headline(&self) -> Option<&str> {
        self.headline.as_deref()
    }

    /// An editor's own item as a story, under `id`.
    pub(super) fn own_story(&self, id: StoryId) -> Story {
        Story {
            id,
            seed: String::new(),
            headline: self.headline.clone().unwrap_or_default(),
            author: None,
            role: None,
            published: None,
            words: 0,
            blocks: Vec::new(),
        }
    }

    /// The story as this issue shows it, and the blocks a shortening cut
    /// (for warnings about where it cut).
    pub(super) fn apply(self, story: &Story) -> (Entry, Vec<Block>) {
        let mut story = story.clone();
        if let Some(headline) = self.headline {
            story.headline = headline;
        }
        if let Some(byline) = self.byline {
            story.author = Some(byline);
            story.role = None;
            story.published = None;
        }
        let mut shortened = false;
        let mut cut = Vec::new();
        if let Some(teaser) = self.teaser {
            story.blocks = teaser;
            shortened = true;
        } else if let Some(body) = self.body {
            story.blocks = body;
        }
        if let Some(limit) = self.paragraphs {
            cut = shorten(&mut story.blocks, limit);
            shortened = !cut.is_empty();
        }
        story.words = story.blocks.iter().map(Block::words).sum();
        let entry = Entry {
            story,
            url: self.url,
            shortened,
        };
        (entry, cut)
    }
}

/// Keeps the first `limit` paragraphs and whatever sits between them; a
/// cut never ends on a subhead (it belongs to what follows). Returns what
/// was cut.
fn shorten(blocks: &mut Vec<Block>, limit: usize) -> Vec<Block> {
    let mut seen = 0;
    let mut keep = blocks
        .iter()
        .position(|b| {
            if matches!(b, Block::Paragraph { .. }) {
                seen += 1;
            }
            seen > limit
        })
        .unwrap_or(blocks.len());
    if keep < blocks.len() {
        while keep > 0 && matches!(blocks[keep - 1], Block::Subhead { .. }) {
            keep -= 1;
        }
    }
    blocks.split_off(keep)
}

fn one_line(table: &mut Table<'_>, key: &str, problems: &mut Problems) -> Option<String> {
    let value = table.string(key, problems)?;
    let text = value.get_ref().trim();
    if text.is_empty() || text.contains(['\r', '\n']) {
        problems.push(table.error(format!("`{key}` must be one line of text"), value.span()));
        return None;
    }
    Some(text.to_string())
}

/// A Markdown field as blocks (`None` if absent); each problem points at
/// its place in the field where it can be found, else at the field.
///
/// # Errors
/// The field is there but unusable (its problems are reported).
fn markdown_field(
    table: &mut Table<'_>,
    key: &str,
    problems: &mut Problems,
) -> Result<Option<Vec<Block>>, ()> {
    let Some(value) = table.string(key, problems) else {
        return Ok(None);
    };
    match markdown::blocks(value.get_ref()) {
        Ok(blocks) if blocks.is_empty() => {
            problems.push(table.error(format!("`{key}` is empty"), value.span()));
            Err(())
        }
        Ok(blocks) => Ok(Some(blocks)),
        Err(found) => {
            let field = value.span();
            let written = &table.source().text[field.clone()];
            for problem in found {
                // The problem's own text, found in the file as written (an
                // escape before it would make the offsets differ).
                let text = &value.get_ref()[problem.at];
                let span = written
                    .find(text)
                    .filter(|_| !text.is_empty())
                    .map_or(field.clone(), |i| {
                        field.start + i..field.start + i + text.len()
                    });
                problems.push(table.error(format!("in `{key}`: {}", problem.why), span));
            }
            Err(())
        }
    }
}

/// The known id nearest to a mistyped one, if any is near enough.
pub(super) fn suggest(typed: &str, library: &Library) -> Option<StoryId> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
            id: Some("004/long-post".into()),
            paragraphs,
            url: Some("https://hsj.example/x".into()),
            ..Pick::default()
        }
    }

    #[test]
    fn paragraphs_keeps_the_first_n_and_whatever_sits_between_them() {
        let bullets = Block::Bullets {
            items: vec!["one two".into()],
            ordered: false,
        };
        let (entry, _) = pick(Some(2)).apply(&story(vec![
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
        let (entry, cut) = pick(Some(1)).apply(&story(vec![p("a"), s("Next part"), p("b")]));
        assert_eq!(cut, [s("Next part"), p("b")]);
        assert!(entry.shortened);
        assert_eq!(entry.story.blocks, [p("a")]);
    }

    #[test]
    fn a_limit_beyond_the_story_shortens_nothing() {
        let (entry, cut) = pick(Some(5)).apply(&story(vec![p("a"), s("Next"), p("b")]));
        assert!(!entry.shortened && cut.is_empty());
        assert_eq!(entry.story.blocks.len(), 3);
        assert!(!pick(None).apply(&story(vec![p("a")])).0.shortened);
    }

    #[test]
    fn a_headline_override_replaces_the_headline() {
        let mut with_headline = pick(None);
        with_headline.headline = Some("Shorter".into());
        assert_eq!(
            with_headline.apply(&story(vec![p("a")])).0.story.headline,
            "Shorter"
        );
    }
}
