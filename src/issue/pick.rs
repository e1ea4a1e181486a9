//! One entry of a section's `stories`: an id, or a table that shortens,
//! links or retitles the story; and the "did you mean" for an unknown id.

use crate::story::{Block, Library, Story, StoryId};

use super::Entry;

/// One entry of a section's `stories`: an id, or a table with options.
#[derive(Debug, Default)]
pub(super) struct Pick {
    pub(super) id: String,
    paragraphs: Option<usize>,
    url: Option<String>,
    headline: Option<String>,
}

impl Pick {
    pub(super) fn from_value(value: &toml::Value) -> Result<Pick, String> {
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
