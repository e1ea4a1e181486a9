//! Who gets the issue: every subscriber row sorted against the row's own
//! validity, the suppression list, earlier rows (duplicates) and the ledger.
//!
//! The same [`Sorter`] runs twice over the streamed list: once to count and
//! report, once to feed the senders. So the rules live in one place, and
//! memory holds keys, not readers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ledger::{History, State};
use crate::message::{Reader, ReaderKey};
use crate::subscribers::Row;
use crate::suppression::Suppressed;

/// What to do with one subscriber row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
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
    Invalid(String),
}

/// Flags that widen who is sent to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Widen {
    /// Send again to readers whose delivery is uncertain.
    pub resend_uncertain: bool,
    /// Send again to readers refused for good by an earlier run.
    pub retry_failed: bool,
}

/// How often a long send re-reads the suppression list, so that an
/// unsubscribe made while it runs reaches it.
pub const SUPPRESSION_REFRESH: Duration = Duration::from_secs(2);

/// Sorts rows, remembering which addresses it has seen.
#[derive(Debug)]
pub struct Sorter {
    history: Arc<History>,
    suppressed: Suppressed,
    refreshed: Instant,
    widen: Widen,
    /// Each address seen, with the line it was first seen on.
    seen: HashMap<ReaderKey, u32>,
}

impl Sorter {
    pub fn new(history: Arc<History>, suppressed: Suppressed, widen: Widen) -> Sorter {
        Sorter {
            history,
            suppressed,
            refreshed: Instant::now(),
            widen,
            seen: HashMap::new(),
        }
    }

    /// Reads what was appended to the suppression list since it was last
    /// read, if that was a while ago. A list that cannot be re-read keeps
    /// what it had: nobody on it is sent to either way.
    fn refresh_suppressed(&mut self) {
        if self.refreshed.elapsed() >= SUPPRESSION_REFRESH {
            self.refreshed = Instant::now();
            let _ = self.suppressed.refresh();
        }
    }

    pub fn sort(&mut self, row: Row) -> Disposition {
        self.refresh_suppressed();
        let reader = match row.reader {
            Ok(reader) => reader,
            Err(why) => return Disposition::Invalid(why),
        };
        let key = reader.key();
        if let Some(&first_line) = self.seen.get(&key) {
            return Disposition::Duplicate {
                first_line: u64::from(first_line),
            };
        }
        self.seen
            .insert(key, u32::try_from(row.line).unwrap_or(u32::MAX));
        if self.suppressed.contains(key) {
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
pub struct Counts {
    pub to_send: u64,
    pub already_sent: u64,
    pub already_failed: u64,
    pub uncertain: u64,
    pub suppressed: u64,
    pub duplicates: u64,
    pub invalid: u64,
}

impl Counts {
    pub fn add(&mut self, disposition: &Disposition) {
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
                .map_err(|_| "bad".to_string()),
        }
    }

    #[test]
    fn duplicates_suppression_and_validity() {
        let none =
            Suppressed::load(std::path::Path::new("/nonexistent/suppressed.csv")).expect("empty");
        let mut sorter = Sorter::new(Arc::default(), none, Widen::default());
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
            Disposition::Invalid("bad".into())
        );
    }
}
