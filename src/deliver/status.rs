//! What went out: for one issue, its readers counted from the ledger (sent,
//! failed, deferred, uncertain) and from the list (pending: not tried yet),
//! and where the issue stands (draft, due, sending, sent, overdue). It only
//! reads: no lock is taken, nothing is written.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ListFiles;
use super::ledger::{History, State, read_history};
use super::plan::{Disposition, Widen};
use super::state::Paths;
use crate::error::Result;
use crate::issue::IssueName;
use crate::list::suppression::Suppressed;
use crate::schedule::{Due, Schedule};

/// One issue's readers, as its ledger and the list stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Status {
    /// Named by whoever shows the status (`status --json` and `issues
    /// --json` each name the issue once).
    #[serde(skip)]
    pub issue: String,
    pub sent: u64,
    pub failed: u64,
    pub deferred: u64,
    pub uncertain: u64,
    /// On the list, not suppressed, and not tried yet (0 once the issue
    /// is completely sent).
    pub pending: u64,
    /// How many list sends ran.
    pub runs: usize,
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    /// A list send has started (it recorded what the issue carries).
    pub started: bool,
    /// A list send finished with no reader left to try.
    pub complete: bool,
}

impl Status {
    /// Reads an issue's ledger and counts its pending readers in the list.
    ///
    /// # Errors
    /// The ledger, the list or the suppression list cannot be read.
    pub(crate) fn read(issue: &IssueName, files: &ListFiles) -> Result<Status> {
        let paths = Paths::new(&files.state, issue);
        let history = Arc::new(read_history(&paths)?);
        let (sent, failed, uncertain, deferred) = history.counts();
        Ok(Status {
            issue: issue.to_string(),
            sent,
            failed,
            deferred,
            uncertain,
            pending: if paths.is_complete() {
                0
            } else {
                pending(files, Arc::clone(&history))?
            },
            runs: history.runs,
            first_at: history.first_at,
            last_at: history.last_at,
            // A run that failed before its first reader leaves a ledger
            // but no record of what it carried.
            started: paths.sent.exists(),
            complete: paths.is_complete(),
        })
    }
}

/// Readers on the list (each once, suppressed ones left out) with no
/// outcome in the ledger: the rows a send would send to, by the send's own
/// rules ([`super::plan::Sorter`]). A missing list has none.
fn pending(files: &ListFiles, history: Arc<History>) -> Result<u64> {
    if !files.subscribers.exists() {
        return Ok(0);
    }
    let suppressed = Suppressed::load(&files.suppressed)?;
    let list = super::ListPass::first(&files.subscribers)?;
    let mut sorter = list.sorter(
        Arc::clone(&history),
        Arc::new(std::sync::Mutex::new(suppressed)),
        Widen::default(),
    );
    let mut pending = 0;
    for row in list.rows()? {
        // A send would send to deferred readers too; they are counted as
        // deferred, not pending.
        if let Disposition::Send(reader) = sorter.sort(row)
            && matches!(history.state(reader.key()), None | Some(State::Unfinished))
        {
            pending += 1;
        }
    }
    Ok(pending)
}

/// Where an issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Standing {
    /// Its moment is still to come, and no send has started.
    Draft,
    /// Its moment has come (within the grace period); not started.
    Due,
    /// A list send started and has readers left (running, or stopped and
    /// waiting to be run again).
    Sending,
    /// A list send finished.
    Sent,
    /// Its moment passed more than the grace period ago; not started.
    Overdue,
}

impl Standing {
    pub(crate) fn of(
        status: &Status,
        moment: DateTime<Utc>,
        schedule: Option<&Schedule>,
        now: DateTime<Utc>,
    ) -> Standing {
        if status.complete {
            return Standing::Sent;
        }
        if status.started {
            return Standing::Sending;
        }
        match schedule.map(|s| s.status(moment, now)) {
            Some(Due::NotYet) => Standing::Draft,
            Some(Due::Now { .. }) => Standing::Due,
            Some(Due::Overdue { .. }) => Standing::Overdue,
            None if now < moment => Standing::Draft,
            None => Standing::Due,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Standing::Draft => "draft",
            Standing::Due => "due",
            Standing::Sending => "sending",
            Standing::Sent => "sent",
            Standing::Overdue => "overdue",
        }
    }
}
