//! Diagnostics: errors and warnings that point into a file.
//!
//! Configuration stages collect these instead of stopping at the first
//! problem, so an editor sees every mistake in one run. Each renders like
//! rustc or just: the message, `--> file:line:column`, the line with a caret,
//! and a `help:` suggestion where there is one.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use annotate_snippets::{AnnotationKind, Element, Group, Level, Renderer, Snippet};

/// A file's text, shared by the diagnostics that point into it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
    /// Where each line starts, found once (a file with thousands of
    /// mistakes must not be scanned from the top for each of them).
    lines: Arc<OnceLock<Vec<usize>>>,
}

/// The longest line shown under a diagnostic; a longer one is named by its
/// position only (a megabyte on one line would be printed once for each
/// mistake on it).
const MAX_SHOWN_LINE: usize = 1000;

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Source {
        Source {
            path: path.into(),
            text: text.into(),
            lines: Arc::default(),
        }
    }

    /// The byte offset where each line starts.
    fn line_starts(&self) -> &[usize] {
        self.lines.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|i| i + 1))
                .collect()
        })
    }

    /// The 0-based line holding a byte offset, and where that line starts.
    fn line_of(&self, offset: usize) -> (usize, usize) {
        let starts = self.line_starts();
        let index = starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        (index, starts[index])
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let (index, start) = self.line_of(offset);
        (index + 1, self.text[start..offset].chars().count() + 1)
    }

    /// The whole lines `span` touches, as (their byte range, the 1-based
    /// number of the first).
    fn lines_around(&self, span: &Range<usize>) -> (Range<usize>, usize) {
        let (index, start) = self.line_of(span.start);
        let end = self.text[span.end..]
            .find('\n')
            .map_or(self.text.len(), |i| span.end + i);
        (start..end, index + 1)
    }
}

/// The largest char boundary of `s` at or before `i` (`i` at most its
/// length).
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One problem, perhaps located in a file.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub location: Option<(Source, Range<usize>)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Points the diagnostic at `span` (bytes) in `source`.
    pub fn at(mut self, source: &Source, span: Range<usize>) -> Diagnostic {
        self.location = Some((source.clone(), span));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `path:line:column`, when the diagnostic has a location.
    pub fn position(&self) -> Option<String> {
        self.location.as_ref().map(|(source, span)| {
            let (line, column) = source.line_column(span.start);
            format!("{}:{line}:{column}", source.path.display())
        })
    }

    /// The diagnostic as text, with the source line and a caret.
    pub fn render(&self) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut elements: Vec<Element<'_>> = Vec::new();
        let path;
        let mut position = None;
        if let Some((source, span)) = &self.location {
            path = source.path.to_string_lossy();
            let span = clamp(span.clone(), &source.text);
            // Only the lines the span is on go to the renderer, so that each
            // diagnostic costs its own lines, not the whole file.
            let (lines, first) = source.lines_around(&span);
            if lines.len() <= MAX_SHOWN_LINE {
                elements.push(
                    Snippet::source(&source.text[lines.clone()])
                        .path(&*path)
                        .line_start(first)
                        .fold(true)
                        .annotation(
                            AnnotationKind::Primary
                                .span(span.start - lines.start..span.end - lines.start),
                        )
                        .into(),
                );
            } else {
                position = self.position();
            }
        }
        if let Some(help) = &self.help {
            elements.push(Level::HELP.message(help.as_str()).into());
        }
        let report: &[Group<'_>] =
            &[Group::with_title(level.primary_title(self.message.as_str())).elements(elements)];
        let rendered = Renderer::plain().render(report);
        match position {
            // The title, where it is, then the help, as the renderer lays
            // them out.
            Some(at) => match rendered.split_once('\n') {
                Some((title, rest)) => format!("{title}\n --> {at}\n{rest}"),
                None => format!("{rendered}\n --> {at}"),
            },
            None => rendered,
        }
    }
}

fn clamp(span: Range<usize>, text: &str) -> Range<usize> {
    let start = floor_char_boundary(text, span.start.min(text.len()));
    let end = floor_char_boundary(text, span.end.min(text.len())).max(start);
    start..end
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A set of diagnostics that includes at least one error: the error type of
/// the configuration stages.
#[derive(Debug)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Puts the problems of each file in reading order (problems without a
    /// place first), so an editor can fix them top to bottom.
    pub fn in_file_order(mut problems: Vec<Diagnostic>) -> Diagnostics {
        problems.sort_by_key(|d| d.location.as_ref().map(|(_, span)| span.start));
        Diagnostics(problems)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&Diagnostic> = self.errors().collect();
        match errors.as_slice() {
            [] => write!(f, "no errors"),
            [only] => write!(f, "{}", only.render().trim_start_matches("error: ")),
            many => {
                write!(f, "{} errors", many.len())?;
                for d in many {
                    write!(f, "\n\n{}", d.render())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Diagnostics {}

/// The 1-based line and column (in characters) of the first byte that is
/// not UTF-8, for "save the file as UTF-8" messages.
pub(crate) fn utf8_error_position(bytes: &[u8], valid_up_to: usize) -> (usize, usize) {
    let valid = &bytes[..valid_up_to.min(bytes.len())];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

impl From<Diagnostics> for crate::error::Error {
    fn from(error: Diagnostics) -> crate::error::Error {
        crate::error::Error::new(crate::error::Kind::Config, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let source = Source::new("x.toml", "a = 1\nb = “é” + 2\n");
        assert_eq!(source.line_column(0), (1, 1));
        assert_eq!(source.line_column(6), (2, 1));
        // The `+` is the 9th character, after two 3-byte quotes and a 2-byte é.
        let plus = source.text.find('+').expect("plus");
        assert_eq!(source.line_column(plus), (2, 9));
    }

    #[test]
    fn render_shows_path_line_caret_and_help() {
        let source = Source::new(
            "config/issues/a.toml",
            "date = 2018-07-27\nstories = [\"002/debt-mountian\"]\n",
        );
        let start = source.text.find("\"002").expect("id");
        let d = Diagnostic::error("unknown story `002/debt-mountian`")
            .at(&source, start..start + 19)
            .help("did you mean `002/debt-mountain`?");
        let text = d.render();
        assert!(
            text.starts_with("error: unknown story `002/debt-mountian`\n"),
            "{text}"
        );
        assert!(text.contains("--> config/issues/a.toml:2:12"), "{text}");
        assert!(text.contains("stories = [\"002/debt-mountian\"]"), "{text}");
        assert!(text.contains("^^^^^^^^^^^^^^^^^^^"), "{text}");
        assert!(
            text.contains("help: did you mean `002/debt-mountain`?"),
            "{text}"
        );
        assert_eq!(d.position().as_deref(), Some("config/issues/a.toml:2:12"));
    }

    /// See: issue 18, item 12. Each diagnostic was rendered from the whole
    /// file, so a file with thousands of mistakes took minutes.
    #[test]
    fn a_diagnostic_renders_from_its_own_lines_numbered_as_in_the_file() {
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("key_{i} = 1\n"));
        }
        let source = Source::new("big.toml", text.as_str());
        let start = text.find("key_4321").expect("key");
        let d = Diagnostic::error("unknown field `key_4321`").at(&source, start..start + 8);
        assert_eq!(
            d.render(),
            "error: unknown field `key_4321`\n    --> big.toml:4322:1\n     |\n4322 | key_4321 = 1\n     | ^^^^^^^^"
        );
        assert_eq!(source.lines_around(&(start..start + 8)).1, 4322);

        let long = format!("x = \"{}\"\n", "y".repeat(5000));
        let source = Source::new("long.toml", long.as_str());
        let d = Diagnostic::error("too long")
            .at(&source, 4..5006)
            .help("shorten it");
        assert_eq!(
            d.render(),
            "error: too long\n --> long.toml:1:5\n |\n = help: shorten it"
        );
    }
}
