//! The issue file as written: each field read and checked on its own, before
//! any story is looked up. Every mistake becomes a diagnostic in one
//! collector, so an editor sees them all in one run.

use chrono::NaiveDate;
use toml::Spanned;

use super::pick::Pick;
use crate::config::fields::{Problems, Table};
use crate::diagnostic::Source;
use crate::schedule::SendAt;

/// Subjects longer than this may be cut off, and RFC 5322 recommends lines
/// of at most 78 characters.
pub(crate) const SUBJECT_WARN_CHARS: usize = 78;

/// What the file says, each field already checked on its own. A field that
/// is missing or wrong is `None` (its problem is already reported).
#[derive(Debug)]
pub(super) struct IssueFile {
    pub(super) date: Option<Spanned<NaiveDate>>,
    pub(super) subject: Option<Spanned<String>>,
    pub(super) preheader: Option<String>,
    pub(super) intro: Option<String>,
    pub(super) send_at: Option<SendAt>,
    pub(super) sections: Vec<SectionFile>,
}

#[derive(Debug)]
pub(super) struct SectionFile {
    pub(super) title: String,
    pub(super) picks: Vec<Spanned<Pick>>,
}

/// Reads every field of an issue file, collecting problems.
pub(super) fn read(source: &Source, problems: &mut Problems) -> IssueFile {
    let mut root = Table::parse(source, problems);
    let date = root
        .required_datetime("date", problems)
        .and_then(|d| plain_date_field(&root, &d, problems));
    let subject = root
        .required_string("subject", problems)
        .and_then(|s| subject(&root, &s, problems).map(|text| Spanned::new(s.span(), text)));
    let preheader = root
        .string("preheader", problems)
        .and_then(|p| single_line(&root, "preheader", &p, problems));
    let intro = root.string("intro", problems).map(Spanned::into_inner);
    let send_at = root.datetime("send_at", problems).and_then(|d| {
        send_at(d.get_ref())
            .map_err(|message| problems.push(root.error(message, d.span())))
            .ok()
    });
    let sections = sections(&mut root, problems);
    root.finish(problems);
    IssueFile {
        date,
        subject,
        preheader,
        intro,
        send_at,
        sections,
    }
}

fn plain_date_field(
    table: &Table<'_>,
    value: &Spanned<toml::value::Datetime>,
    problems: &mut Problems,
) -> Option<Spanned<NaiveDate>> {
    let date = plain_date(value.get_ref());
    if date.is_none() {
        problems.push(
            table
                .error(
                    format!("`date` is `{}`, not a date", value.get_ref()),
                    value.span(),
                )
                .help("write a plain date, e.g. `date = 2018-07-27`"),
        );
    }
    date.map(|d| Spanned::new(value.span(), d))
}

fn subject(table: &Table<'_>, value: &Spanned<String>, problems: &mut Problems) -> Option<String> {
    let subject = single_line(table, "subject", value, problems)?;
    if subject.is_empty() {
        problems.push(table.error("the subject is empty", value.span()));
        return None;
    }
    let chars = subject.chars().count();
    if chars > SUBJECT_WARN_CHARS {
        problems.push(table.warning(
            format!(
                "the subject is {chars} characters; inboxes cut it off and RFC 5322 advises at most {SUBJECT_WARN_CHARS}"
            ),
            value.span(),
        ));
    }
    Some(subject)
}

/// A header-bound value: trimmed, and refused if it holds a line break or
/// another control character (which no header, page or feed can carry).
fn single_line(
    table: &Table<'_>,
    key: &str,
    value: &Spanned<String>,
    problems: &mut Problems,
) -> Option<String> {
    if value.get_ref().contains(['\r', '\n']) {
        problems.push(table.error(format!("the {key} contains a line break"), value.span()));
        return None;
    }
    if let Some(c) = value.get_ref().chars().find(|c| c.is_control()) {
        problems.push(table.error(
            format!(
                "the {key} contains the control character U+{:04X}",
                u32::from(c)
            ),
            value.span(),
        ));
        return None;
    }
    Some(value.get_ref().trim().to_string())
}

fn sections(root: &mut Table<'_>, problems: &mut Problems) -> Vec<SectionFile> {
    let example =
        "add one:\n[[sections]]\ntitle = \"Top stories\"\nstories = [\"002/debt-mountain\"]";
    let Some(tables) = root.tables("sections", problems) else {
        if !root.has("sections") {
            problems.push(
                root.error(
                    "the issue has no sections",
                    root.span().start..root.span().start,
                )
                .help(example),
            );
        }
        return Vec::new();
    };
    if tables.get_ref().is_empty() {
        problems.push(
            root.error("the issue has no sections", tables.span())
                .help(example),
        );
    }
    tables
        .into_inner()
        .into_iter()
        .map(|t| section(t, problems))
        .collect()
}

fn section(mut t: Table<'_>, problems: &mut Problems) -> SectionFile {
    let title = t.required_string("title", problems);
    let title_text = title
        .as_ref()
        .map(|s| s.get_ref().trim().to_string())
        .unwrap_or_default();
    if let Some(title) = &title
        && title_text.is_empty()
    {
        problems.push(
            t.error("the section title is empty", title.span())
                .help("every section needs a heading, e.g. title = \"Top stories\""),
        );
    }
    let mut picks = Vec::new();
    if let Some(stories) = t.array("stories", problems) {
        if stories.get_ref().is_empty() {
            problems.push(t.error(
                format!("section `{title_text}` picks no stories"),
                stories.span(),
            ));
        }
        for value in stories.into_inner() {
            if let Some(pick) = Pick::read(&t, value, problems) {
                picks.push(pick);
            }
        }
    } else if !t.has("stories") {
        problems.push(t.error(
            format!("section `{title_text}` has no `stories` list"),
            t.span(),
        ));
    }
    t.finish(problems);
    SectionFile {
        title: title_text,
        picks,
    }
}

/// A TOML date with no time and no offset.
pub(super) fn plain_date(value: &toml::value::Datetime) -> Option<NaiveDate> {
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
pub(super) fn send_at(value: &toml::value::Datetime) -> Result<SendAt, String> {
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
