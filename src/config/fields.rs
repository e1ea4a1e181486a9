//! TOML read field by field, so that every mistake in a file is reported in
//! one run.
//!
//! serde stops at the first problem; an editor with eight mistakes would need
//! eight runs. Here the file is parsed with toml's error recovery into
//! spanned values, and each field is taken and checked on its own: a wrong
//! type, a missing field, an unknown key (with "did you mean") and a bad
//! value each add a [`Diagnostic`] to one collector and the walk goes on. A
//! syntax error is reported where it is, and the value it spoiled is not
//! reported again.

use std::ops::{Range, RangeInclusive};

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml::value::Datetime;

use crate::diagnostic::{Diagnostic, Source};

/// Every problem found so far, in the order found.
pub(crate) type Problems = Vec<Diagnostic>;

/// The keys of one TOML table, taken one at a time.
#[derive(Debug)]
pub(crate) struct Table<'s> {
    source: &'s Source,
    /// How messages name this table: `the file`, `[smtp]`, `a story table`.
    name: String,
    span: Range<usize>,
    entries: Vec<Entry<'s>>,
    /// Every key the reader asked for, in order: the fields this table
    /// knows, for "did you mean" (so each field is named once, where read).
    asked: Vec<String>,
    /// Where syntax errors were: values there are already reported.
    broken: std::rc::Rc<Vec<Range<usize>>>,
}

#[derive(Debug)]
struct Entry<'s> {
    key: String,
    key_span: Range<usize>,
    /// `None` once taken.
    value: Option<Spanned<DeValue<'s>>>,
}

/// A value taken from a table, with its span.
pub(crate) type Value<'s> = Spanned<DeValue<'s>>;

impl<'s> Table<'s> {
    /// Parses a whole file. Syntax errors become diagnostics; the parser
    /// recovers from them, and the rest of the file is still read.
    pub(crate) fn parse(source: &'s Source, problems: &mut Problems) -> Table<'s> {
        let (root, errors) = DeTable::parse_recoverable(&source.text);
        let mut broken = Vec::new();
        for error in errors {
            let span = error.span().unwrap_or(0..0);
            problems.push(syntax_diagnostic(source, error.message(), span.clone()));
            broken.push(span);
        }
        let span = root.span();
        Table::new(
            source,
            "the file".into(),
            span,
            root.into_inner(),
            std::rc::Rc::new(broken),
        )
    }

    fn new(
        source: &'s Source,
        name: String,
        span: Range<usize>,
        table: DeTable<'s>,
        broken: std::rc::Rc<Vec<Range<usize>>>,
    ) -> Table<'s> {
        let mut entries: Vec<Entry<'s>> = table
            .into_iter()
            .map(|(key, value)| Entry {
                key_span: key.span(),
                key: key.into_inner().into_owned(),
                value: Some(value),
            })
            .collect();
        entries.sort_by_key(|e| e.key_span.start);
        Table {
            source,
            name,
            span,
            entries,
            asked: Vec::new(),
            broken,
        }
    }

    pub(crate) fn source(&self) -> &'s Source {
        self.source
    }

    /// Where the table is, for problems about it as a whole.
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// An error pointing at `span` in this table's file.
    pub(crate) fn error(&self, message: impl std::fmt::Display, span: Range<usize>) -> Diagnostic {
        Diagnostic::error(message.to_string()).at(self.source, span)
    }

    /// A warning pointing at `span` in this table's file.
    pub(crate) fn warning(
        &self,
        message: impl std::fmt::Display,
        span: Range<usize>,
    ) -> Diagnostic {
        Diagnostic::warning(message.to_string()).at(self.source, span)
    }

    /// True if a syntax error spoiled `span` (already reported).
    fn is_broken(&self, span: &Range<usize>) -> bool {
        self.broken
            .iter()
            .any(|b| b.start < span.end.max(span.start + 1) && span.start < b.end.max(b.start + 1))
    }

    /// Takes a value of any type; `None` if absent (or spoiled by a syntax
    /// error, which is already reported). The key becomes one this table
    /// knows.
    pub(crate) fn take(&mut self, key: &str) -> Option<Value<'s>> {
        self.ask(key);
        self.remove(key)
    }

    /// Takes a key this table no longer accepts, so that the caller can say
    /// what replaced it; "did you mean" never suggests it.
    pub(crate) fn retired(&mut self, key: &str) -> Option<Value<'s>> {
        self.remove(key)
    }

    fn ask(&mut self, key: &str) {
        if !self.asked.iter().any(|k| k == key) {
            self.asked.push(key.to_string());
        }
    }

    fn remove(&mut self, key: &str) -> Option<Value<'s>> {
        let entry = self.entries.iter_mut().find(|e| e.key == key)?;
        let value = entry.value.take()?;
        (!self.is_broken(&value.span())).then_some(value)
    }

    /// True if the file gives the key (taken or not yet taken).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// Takes a value that must be there.
    pub(crate) fn require(&mut self, key: &str, problems: &mut Problems) -> Option<Value<'s>> {
        self.ask(key);
        if !self.has(key) {
            problems.push(self.error(
                format!("missing field `{key}` in {}", self.name),
                self.span.start..self.span.start,
            ));
            return None;
        }
        self.take(key)
    }

    /// A string, or a problem saying the value is something else.
    pub(crate) fn string(&mut self, key: &str, problems: &mut Problems) -> Option<Spanned<String>> {
        let value = self.take(key)?;
        self.as_string(key, value, problems)
    }

    /// A string that must be there.
    pub(crate) fn required_string(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<String>> {
        let value = self.require(key, problems)?;
        self.as_string(key, value, problems)
    }

    fn as_string(
        &self,
        key: &str,
        value: Value<'s>,
        problems: &mut Problems,
    ) -> Option<Spanned<String>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::String(s) => Some(Spanned::new(span, s.into_owned())),
            other => {
                problems.push(self.wrong_type(key, "a string in quotes", &other, span));
                None
            }
        }
    }

    /// A whole number within `range`.
    pub(crate) fn integer(
        &mut self,
        key: &str,
        range: RangeInclusive<i64>,
        problems: &mut Problems,
    ) -> Option<Spanned<i64>> {
        let value = self.take(key)?;
        let span = value.span();
        let number = match value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                .ok()
                .filter(|n| range.contains(n)),
            other => {
                problems.push(self.wrong_type(key, "a whole number", other, span));
                return None;
            }
        };
        if number.is_none() {
            problems.push(self.error(
                format!(
                    "`{key}` must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
                span.clone(),
            ));
        }
        number.map(|n| Spanned::new(span, n))
    }

    /// A number (whole or not) above zero.
    pub(crate) fn positive_number(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<f64>> {
        let value = self.take(key)?;
        let span = value.span();
        let number = match value.get_ref() {
            DeValue::Integer(i) => i.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            other => {
                problems.push(self.wrong_type(key, "a number", other, span));
                return None;
            }
        };
        match number {
            Some(n) if n.is_finite() && n > 0.0 => Some(Spanned::new(span, n)),
            _ => {
                problems.push(self.error(format!("`{key}` must be a number above 0"), span));
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, key: &str, problems: &mut Problems) -> Option<bool> {
        let value = self.take(key)?;
        let span = value.span();
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                problems.push(self.wrong_type(key, "true or false", other, span));
                None
            }
        }
    }

    /// A TOML date or date-time. A date written as a string (`"2018-08-03"`
    /// or `"03/08/2018"`) is a problem with a hint of the right form.
    pub(crate) fn datetime(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<Datetime>> {
        let value = self.take(key)?;
        self.as_datetime(key, value, problems)
    }

    pub(crate) fn required_datetime(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<Datetime>> {
        let value = self.require(key, problems)?;
        self.as_datetime(key, value, problems)
    }

    fn as_datetime(
        &self,
        key: &str,
        value: Value<'s>,
        problems: &mut Problems,
    ) -> Option<Spanned<Datetime>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Datetime(d) => Some(Spanned::new(span, d)),
            DeValue::String(text) => {
                let mut d = self.error(format!("`{key}` is the text \"{text}\", not a date"), span);
                d = d.help(date_hint(key, &text));
                problems.push(d);
                None
            }
            other => {
                problems.push(self.wrong_type(key, "a date such as 2018-07-27", &other, span));
                None
            }
        }
    }

    /// A sub-table (`[smtp]`, or an inline `{ ... }`).
    pub(crate) fn table(&mut self, key: &str, problems: &mut Problems) -> Option<Table<'s>> {
        let value = self.take(key)?;
        self.as_table(format!("[{key}]"), key, value, problems)
    }

    /// A section that must be there; `example` shows how to write it.
    pub(crate) fn required_table(
        &mut self,
        key: &str,
        example: &str,
        problems: &mut Problems,
    ) -> Option<Table<'s>> {
        self.ask(key);
        if !self.has(key) {
            problems.push(
                self.error(
                    format!("missing section [{key}]"),
                    self.span.start..self.span.start,
                )
                .help(format!("add:\n{example}")),
            );
            return None;
        }
        self.table(key, problems)
    }

    /// Reads `value` as a table named `name` in messages.
    pub(crate) fn as_table(
        &self,
        name: String,
        key: &str,
        value: Value<'s>,
        problems: &mut Problems,
    ) -> Option<Table<'s>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(table) => Some(Table::new(
                self.source,
                name,
                span,
                table,
                std::rc::Rc::clone(&self.broken),
            )),
            other => {
                problems.push(self.wrong_type(key, "a table", &other, span));
                None
            }
        }
    }

    /// An array; its items are checked by the caller.
    pub(crate) fn array(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<Vec<Value<'s>>>> {
        let value = self.take(key)?;
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => Some(Spanned::new(span, items.to_vec())),
            other => {
                problems.push(self.wrong_type(key, "an array [ ... ]", &other, span));
                None
            }
        }
    }

    /// One table (`[section]`) or an array of them (`[[section]]`).
    pub(crate) fn table_or_tables(&mut self, key: &str, problems: &mut Problems) -> Vec<Table<'s>> {
        let Some(value) = self.take(key) else {
            return Vec::new();
        };
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items
                .iter()
                .cloned()
                .filter_map(|item| self.as_table(format!("[[{key}]]"), key, item, problems))
                .collect(),
            other => {
                let value = Spanned::new(span, other);
                self.as_table(format!("[{key}]"), key, value, problems)
                    .into_iter()
                    .collect()
            }
        }
    }

    /// An array of tables (`[[sections]]`).
    pub(crate) fn tables(
        &mut self,
        key: &str,
        problems: &mut Problems,
    ) -> Option<Spanned<Vec<Table<'s>>>> {
        let array = self.array(key, problems)?;
        let span = array.span();
        let tables = array
            .into_inner()
            .into_iter()
            .filter_map(|item| self.as_table(format!("[[{key}]]"), key, item, problems))
            .collect();
        Some(Spanned::new(span, tables))
    }

    /// Reports every key not taken as unknown, with the nearest key this
    /// table asked for suggested.
    pub(crate) fn finish(self, problems: &mut Problems) {
        let known: Vec<&str> = self.asked.iter().map(String::as_str).collect();
        for entry in self.entries.iter().filter(|e| e.value.is_some()) {
            if self.is_broken(&entry.key_span) {
                continue;
            }
            let mut d = self.error(
                format!("unknown field `{}` in {}", entry.key, self.name),
                entry.key_span.clone(),
            );
            d = match nearest(&entry.key, &known) {
                Some(near) => d.help(format!("did you mean `{near}`?")),
                None => d.help(format!("known fields: {}", known.join(", "))),
            };
            problems.push(d);
        }
    }

    fn wrong_type(
        &self,
        key: &str,
        expected: &str,
        found: &DeValue<'_>,
        span: Range<usize>,
    ) -> Diagnostic {
        self.error(
            format!("`{key}` must be {expected}, not {}", describe(found)),
            span,
        )
    }
}

/// "a string", "an integer"... for messages.
fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true or false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The known name nearest to a mistyped one, if near enough to be a typo.
pub(crate) fn nearest<'a>(typed: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(typed, k), *k))
        .filter(|(distance, k)| *distance <= (k.len().max(typed.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

/// A TOML syntax error, with a hint when the cause is a common slip.
fn syntax_diagnostic(source: &Source, message: &str, span: Range<usize>) -> Diagnostic {
    let message = message.trim_end();
    let typed = source.text.get(span.clone()).unwrap_or("").trim();
    let mut d = Diagnostic::error(format!("malformed TOML: {message}")).at(source, span);
    if let Some(date) = day_first_date(typed) {
        d = d.help(format!(
            "dates are written year-month-day without quotes: `{date}`"
        ));
    } else if message.contains("must be quoted") {
        d = d.help(format!("put text in double quotes: \"{typed}\""));
    }
    d
}

/// `03/08/2018` (day first, as in Britain) as `2018-08-03`.
fn day_first_date(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(['/', '.', '-']).collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || day.len() > 2 || month.len() > 2 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        year.parse().ok()?,
        month.parse().ok()?,
        day.parse().ok()?,
    )?;
    Some(date.format("%Y-%m-%d").to_string())
}

fn date_hint(key: &str, text: &str) -> String {
    let example = day_first_date(text.trim())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .map(|d| d.to_string())
        })
        .unwrap_or_else(|| "2018-07-27".into());
    format!("write the date without quotes, year-month-day: `{key} = {example}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source::new("x.toml", text)
    }

    #[test]
    fn every_problem_in_a_file_is_collected() {
        let s = source(
            "name = 3\nsubjct = \"x\"\ndate = \"03/08/2018\"\n[smtp]\nport = 99999\nrate = -1\n",
        );
        let mut problems = Problems::new();
        let mut root = Table::parse(&s, &mut problems);
        assert!(root.string("name", &mut problems).is_none());
        assert!(root.required_string("subject", &mut problems).is_none());
        assert!(root.datetime("date", &mut problems).is_none());
        let mut smtp = root.table("smtp", &mut problems).expect("table");
        assert!(smtp.integer("port", 1..=65_535, &mut problems).is_none());
        assert!(smtp.positive_number("rate", &mut problems).is_none());
        smtp.finish(&mut problems);
        root.finish(&mut problems);
        let got: Vec<(String, Option<String>)> = problems
            .iter()
            .map(|d| (d.message.clone(), d.position()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "`name` must be a string in quotes, not a whole number".into(),
                    Some("x.toml:1:8".into())
                ),
                (
                    "missing field `subject` in the file".into(),
                    Some("x.toml:1:1".into())
                ),
                (
                    "`date` is the text \"03/08/2018\", not a date".into(),
                    Some("x.toml:3:8".into())
                ),
                (
                    "`port` must be a whole number from 1 to 65535".into(),
                    Some("x.toml:5:8".into())
                ),
                (
                    "`rate` must be a number above 0".into(),
                    Some("x.toml:6:8".into())
                ),
                (
                    "unknown field `subjct` in the file".into(),
                    Some("x.toml:2:1".into())
                ),
            ]
        );
        assert_eq!(
            problems[2].help.as_deref(),
            Some("write the date without quotes, year-month-day: `date = 2018-08-03`")
        );
        assert_eq!(problems[5].help.as_deref(), Some("did you mean `subject`?"));
    }

    /// A value spoiled by a syntax error is reported once, as a syntax error
    /// with a hint, and the rest of the file is still checked.
    #[test]
    fn an_unquoted_day_first_date_gets_the_right_form() {
        let s = source("date = 03/08/2018\nbogus = 1\n");
        let mut problems = Problems::new();
        let mut root = Table::parse(&s, &mut problems);
        assert!(root.required_datetime("date", &mut problems).is_none());
        root.finish(&mut problems);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].message.starts_with("malformed TOML: "),
            "{}",
            problems[0].message
        );
        assert_eq!(
            problems[0].help.as_deref(),
            Some("dates are written year-month-day without quotes: `2018-08-03`")
        );
        assert_eq!(problems[1].message, "unknown field `bogus` in the file");
    }

    /// The fields a table knows are the ones its reader asks for; a retired
    /// key is never suggested, and a key taken with the wrong type is still
    /// one the file gives.
    #[test]
    fn the_known_fields_are_the_ones_read() {
        let s = source("url = \"x\"\nmailtoo = \"a@b\"\nzzz = 1\nlist = 3\n");
        let mut problems = Problems::new();
        let mut root = Table::parse(&s, &mut problems);
        assert!(root.retired("url").is_some());
        assert!(root.string("mailto", &mut problems).is_none());
        assert!(root.array("list", &mut problems).is_none());
        assert!(root.has("list"));
        root.finish(&mut problems);
        let got: Vec<(&str, Option<&str>)> = problems
            .iter()
            .map(|d| (d.message.as_str(), d.help.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("`list` must be an array [ ... ], not a whole number", None),
                (
                    "unknown field `mailtoo` in the file",
                    Some("did you mean `mailto`?")
                ),
                (
                    "unknown field `zzz` in the file",
                    Some("known fields: mailto, list")
                ),
            ]
        );
    }
}
