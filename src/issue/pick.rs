//! One entry of a section's `stories`: an id, or a table that shortens,
//! links or retitles the story; and the "did you mean" for an unknown id.

use toml::Spanned;
use toml::de::DeValue;

use super::Entry;
use crate::fields::{Problems, Table, Value};
use crate::story::{Block, Library, Story, StoryId};

/// One entry of a section's `stories`: an id, or a table with options.
#[derive(Debug, Default)]
pub(super) struct Pick {
    pub(super) id: String,
    paragraphs: Option<usize>,
    url: Option<String>,
    headline: Option<String>,
}

const KNOWN: &[&str] = &["id", "paragraphs", "url", "headline"];

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
                    id: id.trim().to_string(),
                    ..Pick::default()
                };
                return Some(Spanned::new(span, pick));
            }
            DeValue::Table(_) => {
                section.as_table("a story table".into(), "stories", value, problems)?
            }
            _ => {
                problems.push(section.error(
                    "a story is an id like \"002/debt-mountain\" or a table like { id = \"...\", paragraphs = 2 }",
                    span,
                ));
                return None;
            }
        };
        let id = table.required_string("id", problems);
        let paragraphs = table
            .integer("paragraphs", 1..=10_000, problems)
            .and_then(|n| usize::try_from(*n.get_ref()).ok());
        let url = table.string("url", problems).and_then(|u| {
            crate::link::check(u.get_ref())
                .map(str::to_string)
                .map_err(|why| problems.push(table.error(why, u.span())))
                .ok()
        });
        let headline = table.string("headline", problems).and_then(|h| {
            let text = h.get_ref().trim();
            if text.is_empty() || text.contains(['\r', '\n']) {
                problems.push(table.error("`headline` must be one line of text", h.span()));
                return None;
            }
            Some(text.to_string())
        });
        table.finish(KNOWN, problems);
        let pick = Pick {
            id: id?.get_ref().trim().to_string(),
            paragraphs,
            url,
            headline,
        };
        Some(Spanned::new(span, pick))
    }

    /// How many paragraphs the editor asked to keep, if any.
    pub(super) fn paragraphs(&self) -> Option<usize> {
        self.paragraphs
    }

    pub(super) fn has_url(&self) -> bool {
        self.url.is_some()
    }

    pub(super) fn apply(self, story: &Story) -> Entry {
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
}
