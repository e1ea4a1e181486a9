//! `readers import`: which rows of a CSV join the list, and why the rest do
//! not. Nobody who unsubscribed, complained, bounced or was erased comes
//! back this way, and nobody already on the list is touched.

use std::collections::{HashMap, HashSet};

use crate::list::address;
use crate::list::reader::{Reader, ReaderKey};
use crate::list::subscribers::Row;
use crate::list::suppression::Suppressed;
use crate::list::token::Keys;

/// What an import does.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Each reader to add, with its line and the row as it was.
    pub add: Vec<(Reader, u64, String)>,
    /// Each row left out: its line, the address (as written; empty for a
    /// row that has none), and why.
    pub skipped: Vec<(u64, String, String)>,
}

/// What the import is checked against.
pub(crate) struct Against<'a> {
    /// Every address on the list, in its one form.
    pub listed: &'a HashSet<String>,
    pub suppressed: &'a Suppressed,
    /// The keyed hashes erased readers left.
    pub erased: &'a HashSet<String>,
    pub keys: &'a Keys,
}

/// Sorts the rows of the file (`bytes` its contents, for each row as it
/// was).
pub(crate) fn plan(rows: impl Iterator<Item = Row>, bytes: &[u8], against: &Against<'_>) -> Plan {
    let rows: Vec<Row> = rows.collect();
    let mut ends: Vec<u64> = rows.iter().map(|r| r.offset).collect();
    ends.push(bytes.len() as u64);
    let mut plan = Plan::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, row) in rows.into_iter().enumerate() {
        let raw = raw_row(bytes, row.offset, ends[i + 1]);
        let reader = match row.reader {
            Ok(reader) => reader,
            Err(why) => {
                plan.skipped
                    .push((row.line, String::new(), why.to_string()));
                continue;
            }
        };
        let email = reader.email.to_string();
        let identity = address::identity(&email);
        let why = if let Some(first) = seen.get(&identity) {
            Some(format!("repeats line {first}"))
        } else if against.listed.contains(&identity) {
            Some("already on the list".into())
        } else if against
            .keys
            .all()
            .any(|key| against.erased.contains(&key.erased(&email)))
        {
            Some("erased at their request; only a sign-up they confirm brings them back".into())
        } else {
            left(against.suppressed, &email)
        };
        seen.entry(identity).or_insert(row.line);
        match why {
            Some(why) => plan.skipped.push((row.line, email, why)),
            None => plan.add.push((reader, row.line, raw)),
        }
    }
    plan
}

/// Why a suppressed address may not be imported, if it is suppressed.
fn left(suppressed: &Suppressed, email: &str) -> Option<String> {
    let standing = suppressed.standing(ReaderKey::of(email));
    if standing.unsubscribed {
        Some("unsubscribed; only a sign-up they confirm brings them back".into())
    } else if standing.complained {
        Some("reported the newsletter as spam".into())
    } else if standing.other {
        Some("on the suppression list (returned mail, or the operator's entry)".into())
    } else {
        None
    }
}

/// The row's text from its start to the next row's, without line breaks
/// at either end.
fn raw_row(bytes: &[u8], start: u64, end: u64) -> String {
    let len = bytes.len();
    let start = usize::try_from(start).unwrap_or(len).min(len);
    let end = usize::try_from(end).unwrap_or(len).clamp(start, len);
    String::from_utf8_lossy(&bytes[start..end])
        .trim_matches(['\r', '\n'])
        .to_string()
}
