//! An editor's Markdown (a story's `body` or `teaser`) → story blocks, read
//! with pulldown-cmark: paragraphs, bullet and numbered lists, subheads,
//! emphasis, bold, code and links. What an email cannot carry well (images,
//! raw HTML, quotes, lists in lists) is an error that says so, and so is a
//! link that is not `http(s)://` or `mailto:`, and a link the editor plainly
//! meant that CommonMark does not read as one (`[site](https://x/a b)`,
//! which would reach readers as its brackets).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::story::{Block, Span, Style, Text};

/// One problem, and where in the Markdown it is (bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub at: Range<usize>,
    pub why: String,
}

/// The blocks of `markdown`, or every problem with it.
///
/// # Errors
/// What cannot go into an email, one problem each, in order.
pub(crate) fn blocks(markdown: &str) -> Result<Vec<Block>, Vec<Problem>> {
    let mut reader = Reader::default();
    let mut read = Vec::new();
    let mut undefined = Vec::new();
    // `[text][name]` with no `[name]: address` anywhere: a link meant.
    let mut broken = |link: pulldown_cmark::BrokenLink<'_>| {
        if matches!(
            link.link_type,
            pulldown_cmark::LinkType::Reference | pulldown_cmark::LinkType::Collapsed
        ) {
            undefined.push(Problem {
                at: link.span.clone(),
                why: format!(
                    "this is not a link, and readers would see its brackets: nothing says where `[{}]` leads; write `[text](https://…)`",
                    link.reference
                ),
            });
        }
        None
    };
    let parser =
        Parser::new_with_broken_link_callback(markdown, Options::empty(), Some(&mut broken));
    for (event, at) in parser.into_offset_iter() {
        if matches!(
            event,
            Event::Start(Tag::Link { .. } | Tag::CodeBlock(_)) | Event::Code(_)
        ) {
            read.push(at.clone());
        }
        reader.at = at;
        reader.event(event);
    }
    reader.problems.extend(undefined);
    reader.problems.extend(unread_links(markdown, &read));
    reader.problems.sort_by_key(|p| p.at.start);
    if reader.problems.is_empty() {
        Ok(reader.blocks)
    } else {
        Err(reader.problems)
    }
}

/// `[text](address)` written out that CommonMark did not take for a link,
/// outside the links and code it did read: an address with a space, a
/// space between `]` and `(`, or a `(` never closed on its line.
fn unread_links(markdown: &str, read: &[Range<usize>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let not_a_link =
        |why: String| format!("this is not a link, and readers would see its brackets: {why}");
    for close_bracket in memchr::memchr_iter(b']', markdown.as_bytes()) {
        if read.iter().any(|r| r.contains(&close_bracket)) {
            continue;
        }
        let rest = &markdown[close_bracket + 1..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let Some(after) = rest[gap..].strip_prefix('(') else {
            continue;
        };
        let line_start = markdown[..close_bracket].rfind('\n').map_or(0, |i| i + 1);
        let Some(open) = markdown[line_start..close_bracket]
            .rfind('[')
            .map(|i| line_start + i)
        else {
            continue;
        };
        let line = &after[..after.find('\n').unwrap_or(after.len())];
        let address_start = close_bracket + 1 + gap + 1;
        let (why, end) = match line.find(')') {
            None => (
                "the `(` after it is never closed on its line".to_string(),
                address_start + line.len(),
            ),
            Some(close) if gap > 0 => {
                if !looks_like_an_address(line[..close].trim()) {
                    continue;
                }
                (
                    "there is a space between `]` and `(`; write `[text](address)`".to_string(),
                    address_start + close + 1,
                )
            }
            Some(close) => {
                let address = &line[..close];
                let why = match crate::link::check_in_text(address) {
                    Err(why) => why.to_string(),
                    Ok(_) => format!(
                        "`{address}` is not read as a link's address; write `[text](address)` with nothing else in the brackets"
                    ),
                };
                (why, address_start + close + 1)
            }
        };
        problems.push(Problem {
            at: open..end,
            why: not_a_link(why),
        });
    }
    problems
}

/// Text in brackets after `] (` that a person meant as a link's address.
fn looks_like_an_address(text: &str) -> bool {
    ["http://", "https://", "mailto:", "www."]
        .iter()
        .any(|start| {
            text.get(..start.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(start))
        })
}

#[derive(Debug, Default)]
struct Reader {
    blocks: Vec<Block>,
    problems: Vec<Problem>,
    /// Where the event being read is.
    at: Range<usize>,
    /// The text being read: a paragraph, a subhead or a list item.
    text: Text,
    style: Style,
    link: Option<String>,
    /// The list being read: its items, and whether it is numbered.
    list: Option<(Vec<Text>, bool)>,
    /// Lists inside the current one (refused).
    depth: usize,
    /// Inside something refused, whose text is dropped.
    refused: usize,
}

impl Reader {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.push(&text, self.style),
            Event::Code(code) => self.push(
                &code,
                Style {
                    code: true,
                    ..self.style
                },
            ),
            Event::SoftBreak | Event::HardBreak => self.push(" ", self.style),
            Event::Html(_) | Event::InlineHtml(_) => self.refuse(
                "raw HTML is not allowed in an email's text; write Markdown (`*emphasis*`, `[text](https://…)`)",
            ),
            Event::Rule => self.refuse("a horizontal rule (`---`) is not supported; start a new story instead"),
            Event::FootnoteReference(_)
            | Event::TaskListMarker(_)
            | Event::InlineMath(_)
            | Event::DisplayMath(_) => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { .. } if self.list.is_some() => {
                self.refuse("a heading inside a list is not supported; end the list first");
                self.refused += 1;
            }
            Tag::Paragraph | Tag::Heading { .. } | Tag::CodeBlock(_) => {
                if self.list.is_none() {
                    self.text = Text::default();
                }
                if matches!(tag, Tag::CodeBlock(_)) {
                    self.style.code = true;
                }
            }
            Tag::List(first) => {
                if self.list.is_some() {
                    self.depth += 1;
                    if self.depth == 1 {
                        self.refuse("a list inside a list is not supported in email; keep lists one level deep");
                    }
                } else {
                    self.list = Some((Vec::new(), first.is_some()));
                }
            }
            Tag::Item if self.depth == 0 => self.text = Text::default(),
            Tag::Emphasis => self.style.emphasis = true,
            Tag::Strong => self.style.strong = true,
            Tag::Link { dest_url, .. } => match crate::link::check_in_text(&dest_url) {
                Ok(url) => self.link = Some(url.to_string()),
                Err(why) => self.problems.push(Problem {
                    at: self.at.clone(),
                    why: why.to_string(),
                }),
            },
            Tag::Image { .. } => {
                self.refuse("images are not supported: many mail clients block them; link to the image instead");
                self.refused += 1;
            }
            Tag::BlockQuote(_) => {
                self.refuse(
                    "a quote block (`>`) is not supported; put the quote in quotation marks",
                );
                self.refused += 1;
            }
            Tag::HtmlBlock => self.refused += 1,
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::CodeBlock if self.list.is_some() => {
                self.style.code = false;
                self.push(" ", self.style);
            }
            TagEnd::Paragraph | TagEnd::CodeBlock => {
                self.style.code = false;
                let text = self.take_text();
                if !text.is_empty() {
                    self.blocks.push(Block::Paragraph { text });
                }
            }
            TagEnd::Heading(_) if self.list.is_some() => {
                self.refused = self.refused.saturating_sub(1);
            }
            TagEnd::Heading(_) => {
                let text = self.take_text();
                if !text.is_empty() {
                    self.blocks.push(Block::Subhead { text });
                }
            }
            TagEnd::Item if self.depth == 0 => {
                let text = self.take_text();
                if let Some((items, _)) = &mut self.list
                    && !text.is_empty()
                {
                    items.push(text);
                }
            }
            TagEnd::List(_) if self.depth > 0 => self.depth -= 1,
            TagEnd::List(_) => {
                if let Some((items, ordered)) = self.list.take()
                    && !items.is_empty()
                {
                    self.blocks.push(Block::Bullets { items, ordered });
                }
            }
            TagEnd::Emphasis => self.style.emphasis = false,
            TagEnd::Strong => self.style.strong = false,
            TagEnd::Link => self.link = None,
            TagEnd::Image | TagEnd::BlockQuote(_) | TagEnd::HtmlBlock => {
                self.refused = self.refused.saturating_sub(1);
            }
            _ => {}
        }
    }

    fn push(&mut self, text: &str, style: Style) {
        if self.refused > 0 || self.depth > 0 {
            return;
        }
        self.text.push(Span {
            text: text.to_string(),
            style,
            link: self.link.clone(),
        });
    }

    /// The text read so far, with runs of white space made one space.
    fn take_text(&mut self) -> Text {
        let text = std::mem::take(&mut self.text);
        let mut tidy = Text::default();
        let mut last_space = true;
        for span in text.spans() {
            let mut words = String::new();
            for c in span.text.chars() {
                let space = c.is_whitespace();
                if !(space && last_space) {
                    words.push(if space { ' ' } else { c });
                }
                last_space = space;
            }
            tidy.push(Span {
                text: words,
                ..span.clone()
            });
        }
        trim_end(tidy)
    }

    fn refuse(&mut self, why: &str) {
        if !self.problems.iter().any(|p| p.why == why) {
            self.problems.push(Problem {
                at: self.at.clone(),
                why: why.to_string(),
            });
        }
    }
}

/// Without trailing white space.
fn trim_end(text: Text) -> Text {
    let mut spans: Vec<Span> = text.spans().to_vec();
    while let Some(last) = spans.last_mut() {
        let trimmed = last.text.trim_end().len();
        last.text.truncate(trimmed);
        if last.text.is_empty() {
            spans.pop();
        } else {
            break;
        }
    }
    let mut out = Text::default();
    for span in spans {
        out.push(span);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(block: &Block) -> String {
        match block {
            Block::Paragraph { text } | Block::Subhead { text } => text.to_plain(),
            Block::Bullets { items, ordered } => format!(
                "{}{}",
                if *ordered { "1. " } else { "* " },
                items
                    .iter()
                    .map(Text::to_plain)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        }
    }

    #[test]
    fn paragraphs_lists_subheads_and_inline_styles_are_read() {
        let md = "A *new* board,\nwith **three** members: see [the report](https://hsj.example/r).\n\n## What next\n\n- one\n- `two`\n\n1. first\n2. second\n\nWrite to <mailto:ed@hsj.example>.";
        let blocks = blocks(md).expect("valid");
        let shown: Vec<String> = blocks.iter().map(plain).collect();
        assert_eq!(
            shown,
            [
                "A new board, with three members: see the report.",
                "What next",
                "* one | two",
                "1. first | second",
                "Write to mailto:ed@hsj.example.",
            ]
        );
        let Block::Paragraph { text } = &blocks[0] else {
            panic!("a paragraph");
        };
        let styled: Vec<(&str, bool, bool, Option<&str>)> = text
            .spans()
            .iter()
            .map(|s| {
                (
                    s.text.as_str(),
                    s.style.emphasis,
                    s.style.strong,
                    s.link.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            styled,
            [
                ("A ", false, false, None),
                ("new", true, false, None),
                (" board, with ", false, false, None),
                ("three", false, true, None),
                (" members: see ", false, false, None),
                ("the report", false, false, Some("https://hsj.example/r")),
                (".", false, false, None),
            ]
        );
    }

    #[test]
    fn what_an_email_cannot_carry_is_refused_with_a_reason() {
        let err = |md: &str| {
            blocks(md)
                .expect_err(md)
                .into_iter()
                .map(|p| p.why)
                .collect::<Vec<_>>()
                .join("; ")
        };
        assert!(err("See [this](javascript:alert(1))").contains("must start with https://"));
        assert!(err("See [this](<https://hsj.example/a b>)").contains("contains a space"));
        assert!(err("![chart](https://hsj.example/c.png)").contains("images are not supported"));
        assert!(err("Hello <b>there</b>").contains("raw HTML"));
        assert!(err("> quoted").contains("quote block"));
        assert!(err("- a\n  - b").contains("a list inside a list"));
        assert!(err("- a\n\n  ## b").contains("a heading inside a list"));
        assert!(
            blocks("Plain [link](http://hsj.example/x) and [mail](mailto:ed@hsj.example)").is_ok()
        );
    }

    /// See: issue 18, item 16. A link CommonMark does not read reached the
    /// email as literal brackets.
    #[test]
    fn a_link_meant_but_not_read_is_refused_where_it_is() {
        let md = "Listen to\n[our site](htps://hsj.example/podcast 1) now.\n\nAnd `[code](x y)` and [fine](https://hsj.example/).";
        let problems = blocks(md).expect_err("not a link");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let at = problems[0].at.clone();
        assert_eq!(&md[at], "[our site](htps://hsj.example/podcast 1)");
        assert_eq!(
            problems[0].why,
            "this is not a link, and readers would see its brackets: the link `htps://hsj.example/podcast 1` contains a space; write spaces as %20, or check it was pasted whole"
        );
        assert!(
            blocks("[a] (b) and [c]: d").is_ok(),
            "brackets that are not a link"
        );
        // See: issue 18 (adversarial re-run, N7): near misses.
        let why = |md: &str| {
            blocks(md)
                .expect_err(md)
                .into_iter()
                .map(|p| (md[p.at].to_string(), p.why))
                .collect::<Vec<_>>()
        };
        let prefix = "this is not a link, and readers would see its brackets: ";
        assert_eq!(
            why("See [our site] (https://hsj.example/) now."),
            [(
                "[our site] (https://hsj.example/)".to_string(),
                format!("{prefix}there is a space between `]` and `(`; write `[text](address)`")
            )]
        );
        assert_eq!(
            why("See [our site][site] now."),
            [(
                "[our site][site]".to_string(),
                format!("{prefix}nothing says where `[site]` leads; write `[text](https://…)`")
            )]
        );
        assert_eq!(
            why("See [our site](https://hsj.example/ now"),
            [(
                "[our site](https://hsj.example/ now".to_string(),
                format!("{prefix}the `(` after it is never closed on its line")
            )]
        );
        assert!(blocks("See [our site]( https://hsj.example/ ) now.").is_ok());
        assert!(blocks("A [sic] here, and [1], and [see] (below).").is_ok());
    }
}
