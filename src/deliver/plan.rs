//! Who gets the issue: every subscriber row sorted against the row's own
//! validity, the suppression list, earlier rows (duplicates) and the ledger.
//!
//! The same [`Sorter`] runs twice over the streamed list: once to count and
//! report, once to feed the senders. So the rules live in one place, and
//! memory holds keys, not readers. Before both, [`Duplicates`] finds the
//! repeated addresses by sorting every row's key once (20 bytes a row, freed
//! at once), so that nothing the size of the list is kept while sending.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::ledger::{History, State};
use crate::list::reader::{Reader, ReaderKey};
use crate::list::subscribers::{BadRow, Row};
use crate::list::suppression::Suppressed;

/// What to do with one subscriber row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    Send(Reader),
    AlreadySent,
    /// Refused for good (5xx) by an earlier run.
    AlreadyFailed,
    /// An earlier run may or may not have delivered it.
    Uncertain,
    Suppressed,
    /// The same address (ignoring case) on an earlier line.
    Duplicate {
        first_line: u64,
    },
    Invalid(BadRow),
}

/// Flags that widen who is sent to.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Widen {
    /// Send again to readers whose delivery is uncertain.
    pub resend_uncertain: bool,
    /// Send again to readers refused for good by an earlier run.
    pub retry_failed: bool,
}

/// The suppression list one send shares between its passes and its
/// workers, brought up to date before each reader (one `stat` when it has
/// not changed), so that an unsubscribe made while the send runs is
/// honoured from the next reader on, retries included.
pub(crate) type SharedSuppressed = Arc<Mutex<Suppressed>>;

/// True if `key` is suppressed as the list stands now. A list that cannot
/// be re-read keeps what it had: nobody on it is sent to either way.
pub(crate) fn suppressed_now(suppressed: &SharedSuppressed, key: ReaderKey) -> bool {
    let mut list = suppressed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = list.refresh();
    list.contains(key)
}

/// The rows whose address (ignoring case) an earlier row has: each such
/// line, and the first line with the address.
#[derive(Debug, Default)]
pub(crate) struct Duplicates(HashMap<u64, u64>);

impl Duplicates {
    /// Finds the repeats among `rows`. `rows_hint` sizes the key list so
    /// that it is allocated once (space reserved and never used costs no
    /// memory).
    pub(crate) fn find(rows: impl Iterator<Item = Row>, rows_hint: usize) -> Duplicates {
        let mut keys: Vec<(ReaderKey, u32)> = Vec::with_capacity(rows_hint);
        for row in rows {
            if let Ok(reader) = &row.reader {
                keys.push((reader.key(), u32::try_from(row.line).unwrap_or(u32::MAX)));
            }
        }
        keys.sort_unstable();
        let mut repeats = HashMap::new();
        for group in keys.chunk_by(|a, b| a.0 == b.0) {
            let first = u64::from(group[0].1);
            for &(_, line) in &group[1..] {
                repeats.insert(u64::from(line), first);
            }
        }
        Duplicates(repeats)
    }

    /// The first line with the address on `line`, if `line` repeats it.
    pub(crate) fn first_line(&self, line: u64) -> Option<u64> {
        self.0.get(&line).copied()
    }
}

/// Sorts rows against the ledger, the suppression list and the repeats.
#[derive(Debug)]
pub(crate) struct Sorter {
    history: Arc<History>,
    suppressed: SharedSuppressed,
    widen: Widen,
    duplicates: Arc<Duplicates>,
}

impl Sorter {
    pub(crate) fn new(
        history: Arc<History>,
        suppressed: SharedSuppressed,
        widen: Widen,
        duplicates: Arc<Duplicates>,
    ) -> Sorter {
        Sorter {
            history,
            suppressed,
            widen,
            duplicates,
        }
    }

    pub(crate) fn sort(&mut self, row: Row) -> Disposition {
        let reader = match row.reader {
            Ok(reader) => reader,
            Err(why) => return Disposition::Invalid(why),
        };
        if let Some(first_line) = self.duplicates.first_line(row.line) {
            return Disposition::Duplicate { first_line };
        }
        let key = reader.key();
        if suppressed_now(&self.suppressed, key) {
            return Disposition::Suppressed;
        }
        match self.history.state(key) {
            Some(State::Sent) => Disposition::AlreadySent,
            Some(State::Failed) if !self.widen.retry_failed => Disposition::AlreadyFailed,
            Some(State::Uncertain) if !self.widen.resend_uncertain => Disposition::Uncertain,
            // Deferred, unfinished (killed before the final dot in this
            // boot), or widened.
            _ => Disposition::Send(reader),
        }
    }
}

/// How many rows went each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub to_send: u64,
    pub already_sent: u64,
    pub already_failed: u64,
    pub uncertain: u64,
    pub suppressed: u64,
    pub duplicates: u64,
    pub invalid: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, disposition: &Disposition) {
        let count = match disposition {
            Disposition::Send(_) => &mut self.to_send,
            Disposition::AlreadySent => &mut self.already_sent,
            Disposition::AlreadyFailed => &mut self.already_failed,
            Disposition::Uncertain => &mut self.uncertain,
            Disposition::Suppressed => &mut self.suppressed,
            Disposition::Duplicate { .. } => &mut self.duplicates,
            Disposition::Invalid(_) => &mut self.invalid,
        };
        *count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, email: &str) -> Row {
        Row {
            line,
            offset: 0,
            reader: email
                .parse()
                .map(|email| Reader { email, name: None })
                .map_err(|_| BadRow::NoEmail),
        }
    }

    #[test]
    fn duplicates_suppression_and_validity() {
        let none =
            Suppressed::load(std::path::Path::new("/nonexistent/suppressed.csv")).expect("empty");
        let rows = || {
            vec![
                row(2, "ann@nhs.example"),
                row(3, "ANN@nhs.example"),
                row(4, "nope"),
                row(5, "bob@nhs.example"),
                row(6, "ann@NHS.example"),
            ]
            .into_iter()
        };
        let duplicates = Arc::new(Duplicates::find(rows(), 0));
        let none = Arc::new(Mutex::new(none));
        let mut sorter = Sorter::new(Arc::default(), none, Widen::default(), duplicates);
        assert!(matches!(
            sorter.sort(row(2, "ann@nhs.example")),
            Disposition::Send(_)
        ));
        assert_eq!(
            sorter.sort(row(3, "ANN@nhs.example")),
            Disposition::Duplicate { first_line: 2 }
        );
        assert_eq!(
            sorter.sort(row(4, "nope")),
            Disposition::Invalid(BadRow::NoEmail)
        );
        assert!(matches!(
            sorter.sort(row(5, "bob@nhs.example")),
            Disposition::Send(_)
        ));
        assert_eq!(
            sorter.sort(row(6, "ann@NHS.example")),
            Disposition::Duplicate { first_line: 2 }
        );
    }
}
