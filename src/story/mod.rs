//! Stories: the news items parsed out of the plain-text seed documents.
//!
//! This stage owns the story model ([`Story`], [`Block`], [`StoryId`]) and the
//! rules that turn a seed's text into it. [`parse`] is pure (text in, stories
//! out); [`library`] is the I/O edge that reads a seeds folder and names the
//! file in every error.

mod byline;
pub(crate) mod library;
mod parse;
mod slug;
pub(crate) mod text;

use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

pub use library::Library;
pub use parse::{ParseOptions, parse};
pub(crate) use slug::slugify;
pub(crate) use text::{Span, Style, Text};

/// What an editor types into an issue to pick a story: `<seed prefix>/<slug>`,
/// e.g. `002/debt-mountain`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StoryId(String);

impl StoryId {
    /// Builds the id of a story from its seed's prefix and its headline's slug.
    pub fn new(prefix: &str, slug: &str) -> Self {
        StoryId(format!("{prefix}/{slug}"))
    }

    /// The id of an editor's own item in an issue: `item/<slug>`. A seed
    /// whose prefix is `item` is refused, so these never clash.
    pub fn own(slug: &str) -> Self {
        StoryId::new(OWN_PREFIX, slug)
    }

    /// True for an editor's own item, which is in no seed.
    pub fn is_own(&self) -> bool {
        is_own(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const OWN_PREFIX: &str = "item";

/// True for the id of an editor's own item (`item/<slug>`), as recorded
/// in text.
pub(crate) fn is_own(id: &str) -> bool {
    id.starts_with(OWN_PREFIX) && id[OWN_PREFIX.len()..].starts_with('/')
}

impl fmt::Display for StoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One news item: a headline, who wrote it and when, and its body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Story {
    pub id: StoryId,
    /// The stem of the seed file the story came from, e.g. `002_a4ff2a47d7d7a190`.
    pub seed: String,
    pub headline: String,
    /// The byline's name ("Mike Broad") or source ("The Guardian").
    pub author: Option<String>,
    /// What the byline says after the name, e.g. "director of policy, NHS Confederation".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub published: Option<NaiveDate>,
    /// Words in the body (paragraphs, bullet items and subheads; not the headline).
    pub words: usize,
    pub blocks: Vec<Block>,
}

/// A piece of a story's body, in reading order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: Text,
    },
    Bullets {
        items: Vec<Text>,
        /// Numbered (an editor's `1.` list); seeds only have bullets.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        ordered: bool,
    },
    Subhead {
        text: Text,
    },
}

impl Block {
    /// The number of words the block holds.
    pub fn words(&self) -> usize {
        match self {
            Block::Paragraph { text } | Block::Subhead { text } => text.words(),
            Block::Bullets { items, .. } => items.iter().map(Text::words).sum(),
        }
    }
}
