//! What a send did: how many readers went each way, the ones a person must
//! hear about by name, and why the run stopped early if it did.

use crate::exit::Exit;

/// Why a run stopped before every reader was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// No connection could be made or kept: run again to resume.
    Unavailable(String),
    /// Retrying cannot help: a refused login, a certificate that does not
    /// verify. The operator must fix the settings.
    Refused(String),
    /// The ledger could not be written (a full disk): nothing more may be
    /// sent until it can.
    Ledger(String),
    /// SIGINT or SIGTERM: the messages on the wire were finished, no new
    /// reader was taken.
    Interrupted,
    /// The subscriber list changed while the send read it: the rest of it
    /// waits for the next run.
    ListChanged(String),
    /// A bug: a worker failed.
    Internal(String),
}

impl Stop {
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Stop::Unavailable(_) | Stop::Interrupted | Stop::ListChanged(_) => Exit::Unavailable,
            Stop::Refused(_) => Exit::Config,
            Stop::Ledger(_) | Stop::Internal(_) => Exit::Failure,
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Unavailable(why) => write!(f, "server unavailable: {why}"),
            Stop::Refused(why) => write!(f, "{why}"),
            Stop::Ledger(why) => write!(f, "{why}"),
            Stop::Interrupted => f.write_str("interrupted"),
            Stop::ListChanged(why) => write!(f, "{why}"),
            Stop::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub sent: u64,
    pub failed: u64,
    pub uncertain: u64,
    /// Not delivered in this run for a passing reason (4xx, dropped
    /// connection); the next run tries again.
    pub deferred: u64,
    /// Readers never tried because the run stopped early.
    pub not_tried: u64,
    /// Readers taken off the list (an unsubscribe, a bounce) while they
    /// waited their turn in this run: not sent.
    pub suppressed: u64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<Stop>,
    /// (address, reply) of each reader refused for good.
    pub failures: Vec<(String, String)>,
    /// (address, why) of each reader whose delivery is uncertain.
    pub uncertain_readers: Vec<(String, String)>,
    /// (address, last reply) of each reader deferred.
    pub deferred_readers: Vec<(String, String)>,
    /// Readers the server accepted whose `sent` could not be recorded (the
    /// ledger failed): delivered, but the next run will list them as
    /// uncertain.
    pub unrecorded: Vec<String>,
}

impl Tally {
    /// Readers settled one way or another.
    pub(crate) fn done(&self) -> u64 {
        self.sent + self.failed + self.uncertain + self.deferred
    }

    /// Readers left for another run.
    pub(crate) fn left(&self) -> u64 {
        self.deferred + self.not_tried
    }

    /// The exit code: a stop's own; readers left for another run: 4;
    /// readers refused or uncertain: 3.
    pub(crate) fn exit(&self) -> Exit {
        if let Some(stop) = &self.stopped {
            stop.exit()
        } else if self.left() > 0 {
            Exit::Unavailable
        } else if self.failed > 0 || self.uncertain > 0 {
            Exit::ReadersFailed
        } else {
            Exit::Ok
        }
    }

    /// Records the first reason to stop; later ones do not replace it.
    pub(crate) fn stop(&mut self, why: Stop) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(sent: u64, failed: u64, uncertain: u64, deferred: u64, not_tried: u64) -> Tally {
        Tally {
            sent,
            failed,
            uncertain,
            deferred,
            not_tried,
            ..Tally::default()
        }
    }

    /// The README's exit codes, from what a run did: readers left for
    /// another run outrank readers refused, and a stop outranks both.
    #[test]
    fn the_exit_code_says_what_needs_doing_first() {
        let cases = [
            (tally(3, 0, 0, 0, 0), Exit::Ok),
            (tally(2, 1, 0, 0, 0), Exit::ReadersFailed),
            (tally(2, 0, 1, 0, 0), Exit::ReadersFailed),
            (tally(1, 1, 0, 1, 0), Exit::Unavailable),
            (tally(1, 0, 0, 0, 2), Exit::Unavailable),
        ];
        for (t, exit) in cases {
            assert_eq!(t.exit(), exit, "{t:?}");
        }
        let mut stopped = tally(1, 1, 0, 0, 5);
        stopped.stop(Stop::Refused("535 bad login".into()));
        assert_eq!(stopped.exit(), Exit::Config);
        stopped.stop(Stop::Interrupted);
        assert_eq!(
            stopped.stopped,
            Some(Stop::Refused("535 bad login".into())),
            "the first stop is kept"
        );
    }

    #[test]
    fn done_and_left_count_each_reader_once() {
        let t = tally(5, 1, 2, 3, 4);
        assert_eq!((t.done(), t.left()), (11, 7));
    }
}
