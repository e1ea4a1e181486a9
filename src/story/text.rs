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

    /// Words as `split_whitespace` counts them, across spans, in one pass
    /// and without joining the spans.
    pub fn words(&self) -> usize {
        let mut words = 0;
        let mut in_word = false;
        for c in self.0.iter().flat_map(|s| s.text.chars()) {
            let space = c.is_whitespace();
            words += usize::from(!space && !in_word);
            in_word = !space;
        }
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
    fn words_are_counted_across_spans_as_split_whitespace_counts_them() {
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
