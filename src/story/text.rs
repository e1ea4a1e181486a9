//! Text with inline formatting: what a story's paragraphs, list items and
//! subheads hold. A seed's stories are plain text; an editor's Markdown adds
//! emphasis, bold, code and links. Both parts of the email render the same
//! spans: the HTML as elements, the plain text as words (links numbered).

use std::fmt;

use serde::{Serialize, Serializer};

/// A run of text, as spans of one style each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(Vec<Span>);

/// Some text in one style.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
    /// Where the text links to: `http(s)://` or `mailto:`.
    pub link: Option<String>,
}

/// How a span looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub emphasis: bool,
    pub strong: bool,
    pub code: bool,
}

impl Text {
    /// Unformatted text.
    pub fn plain(text: impl Into<String>) -> Text {
        let mut out = Text::default();
        out.push(Span {
            text: text.into(),
            ..Span::default()
        });
        out
    }

    pub fn spans(&self) -> &[Span] {
        &self.0
    }

    /// Adds a span, joined to the last one when it looks the same.
    pub fn push(&mut self, span: Span) {
        if span.text.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.style == span.style && last.link == span.link => {
                last.text.push_str(&span.text);
            }
            _ => self.0.push(span),
        }
    }

    /// The words alone, without formatting or links.
    pub fn to_plain(&self) -> String {
        self.0.iter().map(|s| s.text.as_str()).collect()
    }

    /// How many words the text holds, across spans (see [`each_word`]).
    pub fn words(&self) -> usize {
        let joined;
        let text = match self.0.as_slice() {
            [] => return 0,
            [one] => one.text.as_str(),
            _ => {
                joined = self.to_plain();
                joined.as_str()
            }
        };
        let mut words = 0;
        each_word(text, |_| words += 1);
        words
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|s| s.text.trim().is_empty())
    }

    /// True when the text, trimmed, ends with `c`.
    pub fn ends_with(&self, c: char) -> bool {
        self.to_plain().trim_end().ends_with(c)
    }
}

/// What separates words: whitespace (no-break spaces included) and control
/// characters, which no email, page or feed can carry.
fn is_gap(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Calls `word` with each run of characters between gaps ([`is_gap`]),
/// in order. ASCII is classified byte by byte
/// and only other characters are decoded: seed text is mostly ASCII.
pub(crate) fn each_word<'t>(text: &'t str, mut word: impl FnMut(&'t str)) {
    let mut start = None;
    for (i, &byte) in text.as_bytes().iter().enumerate() {
        let gap = if byte.is_ascii() {
            // In ASCII, whitespace and controls are the bytes up to the
            // space, and DEL.
            byte <= b' ' || byte == 0x7f
        } else if byte >= 0xC0 {
            // The first byte of a character: classify the whole character.
            text[i..].chars().next().is_some_and(is_gap)
        } else {
            // Inside a character classified at its first byte.
            continue;
        };
        match start {
            Some(from) if gap => {
                word(&text[from..i]);
                start = None;
            }
            None if !gap => start = Some(i),
            _ => {}
        }
    }
    if let Some(from) = start {
        word(&text[from..]);
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Text {
        Text::plain(text)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Text {
        Text::plain(text)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for span in &self.0 {
            f.write_str(&span.text)?;
        }
        Ok(())
    }
}

/// As its words: `stories --json` shows text, not spans.
impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_plain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_splits_as_str_split_does_for_every_character() {
        // Every character, between words and inside them.
        let every: String = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .flat_map(|c| ['a', c, 'b', ' ', c])
            .collect();
        let mut words = Vec::new();
        each_word(&every, |w| words.push(w));
        let expected: Vec<&str> = every.split(is_gap).filter(|w| !w.is_empty()).collect();
        assert_eq!(words, expected);
    }

    #[test]
    fn words_are_counted_across_spans() {
        let mut text = Text::plain(" Read\u{a0}the ");
        text.push(Span {
            text: "bold".into(),
            style: Style {
                strong: true,
                ..Style::default()
            },
            link: None,
        });
        text.push(Span {
            text: "er news \t".into(),
            ..Span::default()
        });
        assert_eq!(text.words(), text.to_plain().split_whitespace().count());
        assert_eq!(text.words(), 4);
        assert_eq!(Text::default().words(), 0);
    }

    #[test]
    fn spans_of_one_look_join_and_plain_text_drops_the_formatting() {
        let mut text = Text::plain("Read ");
        text.push(Span {
            text: "the ".into(),
            ..Span::default()
        });
        let bold = Style {
            strong: true,
            ..Style::default()
        };
        text.push(Span {
            text: "report".into(),
            style: bold,
            link: Some("https://hsj.example/r".into()),
        });
        text.push(Span::default());
        assert_eq!(text.spans().len(), 2);
        assert_eq!(text.to_plain(), "Read the report");
        assert_eq!(text.words(), 3);
        assert_eq!(
            text.spans()[1].link.as_deref(),
            Some("https://hsj.example/r")
        );
        assert_eq!(
            serde_json::to_string(&text).expect("json"),
            "\"Read the report\""
        );
    }
}
