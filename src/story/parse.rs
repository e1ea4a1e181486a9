//! Seed text → stories. Pure: no I/O, no clock.
//!
//! A seed comes in one of two shapes, and the rules below are about structure,
//! never about particular headlines:
//!
//! * a **digest**: a title line, perhaps the newsletter's masthead and its
//!   standing intro, then stories. A headline is a short line with no closing
//!   punctuation that is followed by body text.
//! * a **blog listing**: a title line, then posts. A headline is the line right
//!   above a byline; short unpunctuated lines inside a post are subheads.
//!
//! A document is a listing when at least one headline-like line is followed by
//! a byline.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::byline::{self, When};
use super::text::each_word;
use super::{Block, Story, StoryId, Text, slugify};

/// A headline or subhead has at most this many words...
const MAX_HEADING_WORDS: usize = 12;
/// ...and at most this many characters.
const MAX_HEADING_CHARS: usize = 120;
/// Paragraphs read from one seed: a long digest has a few hundred. Each
/// costs far more memory than its text (a 15 MB seed of one-letter
/// paragraphs took 607 MB), so the rest of a seed past this is left out,
/// with a warning.
pub(crate) const MAX_UNITS: usize = 20_000;

/// What the parser needs to know beyond the text itself.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Names of the newsletter's own masthead ("HSJ Catch Up"). A line right
    /// under the title that equals one of these starts the standing intro,
    /// which is not a story.
    pub mastheads: Vec<String>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            mastheads: vec!["HSJ Catch Up".to_string()],
        }
    }
}

/// A parsed seed document.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    /// The document's first line, e.g. "Posts Tagged ‘Integrated care’".
    pub title: Option<String>,
    /// The standing intro under the masthead, one string per paragraph.
    pub intro: Vec<String>,
    pub stories: Vec<Story>,
    /// Things a person should know about, each with its 1-based line.
    pub warnings: Vec<(usize, String)>,
}

/// Parses one seed. `stem` is the file name without `.txt`
/// (`002_a4ff2a47d7d7a190`); the part before its first `_` prefixes the ids.
pub fn parse(stem: &str, text: &str, options: &ParseOptions) -> Seed {
    let (units, cut_at) = lex(text);
    let mut seed = Seed {
        title: None,
        intro: Vec::new(),
        stories: Vec::new(),
        warnings: Vec::new(),
    };
    if let Some(line) = cut_at {
        seed.warnings.push((
            line,
            format!("the seed has more than {MAX_UNITS} paragraphs; from here on it is left out"),
        ));
    }
    if units.is_empty() {
        seed.warnings.push((1, "the seed is empty".to_string()));
        return seed;
    }
    let shape = Shape::of(&units);
    let mut i = front_matter(&shape, options, &mut seed);
    let prefix = stem.split('_').next().unwrap_or(stem);
    let mut slugs: HashMap<String, usize> = HashMap::new();
    while i < units.len() {
        let id = StoryId::new(prefix, &unique_slug(&units[i].text, &mut slugs));
        i = story(&shape, i, id, stem, &mut seed);
    }
    if seed.stories.is_empty() {
        seed.warnings
            .push((1, "the seed holds no stories".to_string()));
    }
    seed
}

/// How a seed's units read: which are headlines, and whether the seed is a
/// blog listing (headlines over bylines) or a digest.
struct Shape<'u> {
    units: &'u [Unit],
    listing: bool,
}

impl<'u> Shape<'u> {
    fn of(units: &'u [Unit]) -> Shape<'u> {
        let mut shape = Shape {
            units,
            listing: false,
        };
        shape.listing = (0..units.len()).any(|i| units[i].heading_like && shape.is_byline(i + 1));
        shape
    }

    fn is_byline(&self, i: usize) -> bool {
        self.units.get(i).is_some_and(|u| u.byline.is_some())
    }

    fn is_headline(&self, i: usize) -> bool {
        let unit = &self.units[i];
        if self.listing {
            unit.heading_like && self.is_byline(i + 1)
        } else {
            let next = self.units.get(i + 1);
            unit.heading_like && next.is_some_and(|n| !n.heading_like || n.byline.is_some())
        }
    }

    /// A short line inside a post with more text after it.
    fn is_subhead(&self, i: usize) -> bool {
        self.listing
            && self.units[i].heading_like
            && i + 1 < self.units.len()
            && !self.is_headline(i + 1)
    }
}

/// Reads the title, then perhaps a masthead and its intro, into `seed`.
/// Returns the index of the first headline.
fn front_matter(shape: &Shape<'_>, options: &ParseOptions, seed: &mut Seed) -> usize {
    let units = shape.units;
    let mut i = 0;
    if !(shape.listing && shape.is_headline(0)) {
        seed.title = Some(units[0].text.clone());
        i = 1;
    }
    let masthead_follows = units.get(i).is_some_and(|u| {
        u.heading_like
            && options
                .mastheads
                .iter()
                .any(|m| m.trim().eq_ignore_ascii_case(&u.text))
    });
    if masthead_follows {
        i += 1;
    }
    let intro_start = i;
    while i < units.len() && !shape.is_headline(i) {
        seed.intro.push(units[i].text.clone());
        i += 1;
    }
    if !masthead_follows && !seed.intro.is_empty() {
        seed.warnings.push((
            units[intro_start].line,
            format!(
                "{} paragraph(s) before the first story belong to no story",
                seed.intro.len()
            ),
        ));
    }
    i
}

/// Reads the story whose headline is unit `i` into `seed`. Returns the
/// index of the unit after it.
fn story(shape: &Shape<'_>, mut i: usize, id: StoryId, stem: &str, seed: &mut Seed) -> usize {
    let units = shape.units;
    let headline = &units[i];
    i += 1;
    let mut story = Story {
        id,
        seed: stem.to_string(),
        headline: headline.text.clone(),
        author: None,
        role: None,
        published: None,
        words: 0,
        blocks: Vec::new(),
    };
    if let Some(byline) = units.get(i).and_then(|u| u.byline.clone()) {
        story.author = Some(byline.author);
        story.role = byline.role;
        story.published = published(byline.when, units[i].line, seed);
        i += 1;
    }
    while i < units.len() && !shape.is_headline(i) {
        push_block(&mut story.blocks, &units[i], shape.is_subhead(i));
        story.words += units[i].words;
        i += 1;
    }
    if story.blocks.is_empty() {
        seed.warnings
            .push((headline.line, format!("story `{}` has no body", story.id)));
    }
    seed.stories.push(story);
    i
}

/// The date a byline gives: a time alone means the date of the post above.
fn published(when: When, line: usize, seed: &mut Seed) -> Option<NaiveDate> {
    match when {
        When::Date(date) => Some(date),
        When::Unknown => None,
        When::TimeOnly(_) => {
            let above = seed.stories.last().and_then(|s| s.published);
            if above.is_none() {
                seed.warnings.push((
                    line,
                    "the byline gives a time only and there is no dated post above it".to_string(),
                ));
            }
            above
        }
    }
}

fn push_block(blocks: &mut Vec<Block>, unit: &Unit, is_subhead: bool) {
    let text = unit.text.clone();
    match (unit.kind, blocks.last_mut()) {
        (Kind::Bullet, Some(Block::Bullets { items, .. })) => items.push(Text::plain(text)),
        (Kind::Bullet, _) => blocks.push(Block::Bullets {
            items: vec![Text::plain(text)],
            ordered: false,
        }),
        (Kind::Text, _) if is_subhead => blocks.push(Block::Subhead {
            text: Text::plain(text),
        }),
        (Kind::Text, _) => blocks.push(Block::Paragraph {
            text: Text::plain(text),
        }),
    }
}

/// The slug of `headline`, with `-2`, `-3`... for repeats within one seed.
fn unique_slug(headline: &str, seen: &mut HashMap<String, usize>) -> String {
    let mut base = slugify(headline);
    if base.is_empty() {
        base = "story".to_string();
    }
    let count = seen.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        base
    } else {
        format!("{base}-{count}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bullet,
}

/// A paragraph-sized piece of the document: consecutive text lines joined, or
/// one bullet item, with its shape worked out once.
#[derive(Debug, Clone)]
struct Unit {
    kind: Kind,
    /// Whitespace-normalised text (no-break spaces and runs of spaces become
    /// one space).
    text: String,
    /// 1-based line where the unit starts.
    line: usize,
    /// How many words `text` holds.
    words: usize,
    /// Short, one line, and not ending like a sentence: a headline or subhead.
    heading_like: bool,
    /// The unit read as a byline, if it is one.
    byline: Option<byline::Byline>,
}

impl Unit {
    fn new(kind: Kind, (text, words): (String, usize), line: usize) -> Unit {
        let mut unit = Unit {
            kind,
            text,
            line,
            words,
            heading_like: false,
            byline: None,
        };
        unit.classify(1);
        unit
    }

    /// Works out the shape from the text and the number of source lines.
    fn classify(&mut self, lines: usize) {
        let one_text_line = self.kind == Kind::Text && lines == 1;
        // A bounded count: a long paragraph is rejected without a full scan.
        self.heading_like = one_text_line
            && self.words <= MAX_HEADING_WORDS
            && !ends_like_a_sentence(&self.text)
            && self.text.chars().nth(MAX_HEADING_CHARS).is_none();
        self.byline = if one_text_line && self.words <= byline::MAX_WORDS {
            byline::parse(&self.text)
        } else {
            None
        };
    }
}

/// True when the text ends in sentence punctuation, looking through closing
/// quotes and brackets: `then.”` does, `‘special measures’` does not.
fn ends_like_a_sentence(text: &str) -> bool {
    let trimmed = text.trim_end_matches(['’', '”', '"', '\'', ')', ']', '»']);
    trimmed.ends_with(['.', '!', '?', ':', ';', ',', '…'])
}

const BULLETS: &[char] = &['•', '◦', '▪', '‣', '·', '*', '-', '–'];

/// Splits text into units (at most [`MAX_UNITS`]; the line where it
/// stopped, if it did). Accepts a byte-order mark, CRLF or CR line
/// endings, trailing spaces and no-break spaces.
fn lex(text: &str) -> (Vec<Unit>, Option<usize>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text: std::borrow::Cow<'_, str> = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    };
    let mut units: Vec<Unit> = Vec::new();
    let mut lines_in_last = 0;
    let mut previous: Option<Kind> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        if let Some(item) = bullet_item(raw) {
            if units.len() >= MAX_UNITS {
                return (units, Some(line));
            }
            units.push(Unit::new(Kind::Bullet, normalise(item), line));
            lines_in_last = 1;
            previous = Some(Kind::Bullet);
            continue;
        }
        let (normalised, words) = normalise(raw);
        if normalised.is_empty() {
            previous = None;
            continue;
        }
        // A line straight after text continues its paragraph; straight after
        // a bullet, it continues the item only if indented.
        let continues = match previous {
            Some(Kind::Text) => true,
            Some(Kind::Bullet) => raw.starts_with(char::is_whitespace),
            None => false,
        };
        let full = units.len() >= MAX_UNITS;
        match units.last_mut() {
            Some(last) if continues => {
                last.text.push(' ');
                last.text.push_str(&normalised);
                last.words += words;
                lines_in_last += 1;
                last.classify(lines_in_last);
            }
            _ if full => return (units, Some(line)),
            _ => {
                units.push(Unit::new(Kind::Text, (normalised, words), line));
                lines_in_last = 1;
                previous = Some(Kind::Text);
            }
        }
    }
    (units, None)
}

/// The item text if `line` is a bullet ("  • item", "- item").
fn bullet_item(line: &str) -> Option<&str> {
    let rest = line.trim_start();
    let mut chars = rest.chars();
    let marker = chars.next()?;
    if !BULLETS.contains(&marker) {
        return None;
    }
    let after = chars.as_str();
    if after.starts_with(char::is_whitespace) && !after.trim().is_empty() {
        Some(after)
    } else {
        None
    }
}

/// Collapses every run of whitespace (no-break spaces included) to one space
/// and trims the ends; control characters (a stray escape, a bell) count as
/// spaces, since no email, page or feed can carry them.
/// Returns the text and how many words it holds.
fn normalise(s: &str) -> (String, usize) {
    let mut out = String::with_capacity(s.len());
    let mut words = 0;
    each_word(s, |word| {
        if words > 0 {
            out.push(' ');
        }
        out.push_str(word);
        words += 1;
    });
    (out, words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn parse_str(text: &str) -> Seed {
        parse("009_test", text, &ParseOptions::default())
    }

    fn headlines(seed: &Seed) -> Vec<&str> {
        seed.stories.iter().map(|s| s.headline.as_str()).collect()
    }

    const DIGEST: &str = "The week in review\n\nBeds under pressure\n\nTrusts ran short of beds.\n\nWhy does it matter?\n\nBecause winter is coming.\n\nNew chief named\n\nThe board named a chief.\n  • First point\n  • Second point\n    that wraps\n\nA short closing line\n";

    #[test]
    fn digest_headlines_are_short_lines_followed_by_body() {
        let seed = parse_str(DIGEST);
        assert_eq!(seed.title.as_deref(), Some("The week in review"));
        assert_eq!(headlines(&seed), ["Beds under pressure", "New chief named"]);
        assert_eq!(seed.stories[0].id.as_str(), "009/beds-under-pressure");
        // A question inside a story is a paragraph, not a headline.
        assert_eq!(
            seed.stories[0].blocks[1],
            Block::Paragraph {
                text: "Why does it matter?".into()
            }
        );
        // Bullets straight after a paragraph, an indented continuation, and a
        // short last line that is followed by nothing: a paragraph.
        assert_eq!(
            seed.stories[1].blocks,
            vec![
                Block::Paragraph {
                    text: "The board named a chief.".into()
                },
                Block::Bullets {
                    items: vec!["First point".into(), "Second point that wraps".into()],
                    ordered: false,
                },
                Block::Paragraph {
                    text: "A short closing line".into()
                },
            ]
        );
        assert!(seed.warnings.is_empty(), "{:?}", seed.warnings);
    }

    #[test]
    fn short_line_before_a_headline_is_a_paragraph() {
        let seed = parse_str(
            "Title\n\nFirst story\n\nBody text here.\n\nSigned off\n\nSecond story\n\nMore body.\n",
        );
        assert_eq!(headlines(&seed), ["First story", "Second story"]);
        assert_eq!(
            seed.stories[0].blocks.last(),
            Some(&Block::Paragraph {
                text: "Signed off".into()
            })
        );
    }

    #[test]
    fn masthead_and_intro_are_not_stories() {
        let seed = parse_str(
            "Your weekly update\n\nHSJ Catch Up\n\nThis weekly email gives\u{a0}readers the news.\n\nFirst story\n\nBody.\n",
        );
        assert_eq!(seed.intro, ["This weekly email gives readers the news."]);
        assert_eq!(headlines(&seed), ["First story"]);
    }

    #[test]
    fn masthead_names_come_from_the_options() {
        let options = ParseOptions {
            mastheads: vec!["Weekly Brief".into()],
        };
        let seed = parse(
            "1_x",
            "Title\n\nWeekly Brief\n\nIntro text.\n\nA story\n\nBody.\n",
            &options,
        );
        assert_eq!(seed.intro, ["Intro text."]);
        assert_eq!(headlines(&seed), ["A story"]);
    }

    const LISTING: &str = "Posts Tagged ‘Finance’\n\nDeficits deepen\n\nBy Ann Lee, finance editor - 2nd March 2015 9:00 am\n\nTrusts are short of cash.\n\nWhat the regulator said\n\n- first thing\n\n- second thing\n\nPlans published\n\nBy Bob Ray - 8:15 am\n\nThe plans are out.\n\nDr Jane Doe, chair of the council\n\n“We welcome it.”\n\nOlder post\n\nThe Times - 28th February 2015 5:00 pm\n\nSomething happened.\n";

    #[test]
    fn listing_headlines_sit_above_bylines() {
        let seed = parse_str(LISTING);
        assert_eq!(seed.title.as_deref(), Some("Posts Tagged ‘Finance’"));
        assert_eq!(
            headlines(&seed),
            ["Deficits deepen", "Plans published", "Older post"]
        );
        let [first, second, third] = &seed.stories[..] else {
            panic!("three stories expected");
        };
        assert_eq!(first.author.as_deref(), Some("Ann Lee"));
        assert_eq!(first.role.as_deref(), Some("finance editor"));
        assert_eq!(first.published, NaiveDate::from_ymd_opt(2015, 3, 2));
        // Subhead, then "- " items separated by blank lines make one list.
        assert_eq!(
            first.blocks[1..],
            [
                Block::Subhead {
                    text: "What the regulator said".into()
                },
                Block::Bullets {
                    items: vec!["first thing".into(), "second thing".into()],
                    ordered: false,
                }
            ]
        );
        // A time-only byline: the same day as the post above.
        assert_eq!(second.published, NaiveDate::from_ymd_opt(2015, 3, 2));
        assert_eq!(
            second.blocks[1],
            Block::Subhead {
                text: "Dr Jane Doe, chair of the council".into()
            }
        );
        assert_eq!(third.author.as_deref(), Some("The Times"));
        assert_eq!(third.published, NaiveDate::from_ymd_opt(2015, 2, 28));
    }

    #[test]
    fn time_only_byline_on_the_first_post_is_undated_with_a_warning() {
        let seed = parse_str("Posts\n\nA post\n\nBy Ann Lee - 9:00 am\n\nBody.\n");
        assert_eq!(seed.stories[0].published, None);
        assert_eq!(seed.warnings.len(), 1);
        assert_eq!(seed.warnings[0].0, 5);
    }

    #[test]
    fn a_storys_word_count_is_the_count_of_its_blocks_words() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let mut stories = 0;
        for entry in std::fs::read_dir(seeds).expect("seeds") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
            for story in parse_str(&text).stories {
                let counted: usize = story.blocks.iter().map(Block::words).sum();
                assert_eq!(story.words, counted, "{}", story.id);
                stories += 1;
            }
        }
        assert!(stories > 20, "{stories}");
    }

    #[test]
    fn normalise_collapses_every_kind_of_space_and_control_to_one_space() {
        let text = |s| normalise(s).0;
        assert_eq!(normalise(""), (String::new(), 0));
        assert_eq!(normalise(" \t\u{a0} "), (String::new(), 0));
        assert_eq!(normalise("one"), ("one".into(), 1));
        assert_eq!(
            normalise("\u{a0} Beds\u{2003}under\t\u{1b}pressure é \u{85}"),
            ("Beds under pressure é".into(), 4)
        );
        assert_eq!(text("a\u{7f}b  c"), "a b c");
    }

    #[test]
    fn crlf_bom_trailing_and_no_break_spaces_give_the_same_stories() {
        let clean = parse_str(DIGEST);
        let messy: String = format!(
            "\u{feff}{}",
            DIGEST
                .replace('\n', "  \r\n")
                .replace("Trusts ran", "Trusts\u{a0}\u{a0}ran")
        );
        assert_eq!(parse_str(&messy).stories, clean.stories);
        let old_mac = DIGEST.replace('\n', "\r");
        assert_eq!(parse_str(&old_mac).stories, clean.stories);
    }

    #[test]
    fn repeated_headlines_get_numbered_ids() {
        let seed = parse_str(
            "T\n\nSame thing\n\nOne.\n\nSame thing\n\nTwo.\n\nSame  thing!\n\nnot a headline.\n\nSame Thing\n\nThree.\n",
        );
        let ids: Vec<&str> = seed.stories.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["009/same-thing", "009/same-thing-2", "009/same-thing-3"]
        );
    }

    #[test]
    fn paragraphs_wrapped_over_lines_are_joined() {
        let seed =
            parse_str("T\n\nA story\n\nThis paragraph was\nwrapped by hand\nover three lines.\n");
        assert_eq!(
            seed.stories[0].blocks,
            [Block::Paragraph {
                text: "This paragraph was wrapped by hand over three lines.".into()
            }]
        );
        assert_eq!(seed.stories[0].words, 9);
    }

    #[test]
    fn empty_and_storyless_seeds_warn() {
        let empty = parse_str("");
        assert!(empty.stories.is_empty());
        assert_eq!(empty.warnings, [(1, "the seed is empty".to_string())]);
        let blank = parse_str("\u{feff}\r\n  \r\n");
        assert_eq!(blank.warnings, [(1, "the seed is empty".to_string())]);
        let title_only = parse_str("Just a title\n");
        assert_eq!(
            title_only.warnings,
            [(1, "the seed holds no stories".to_string())]
        );
    }
}
