//! The one place that reads the wall clock (clippy forbids it elsewhere), so
//! that schedules and `Date` headers can be pinned with `--now` in tests and
//! by users asking "what would happen at...?".

use chrono::{DateTime, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    /// The system clock.
    System,
    /// A fixed moment, from `--now`.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current moment by this clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => wall(),
            Clock::Fixed(moment) => *moment,
        }
    }
}

/// The real time, whatever `--now` says: for log timestamps, which record
/// when something actually happened.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall() -> DateTime<Utc> {
    Utc::now()
}
