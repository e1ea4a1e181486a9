//! Exit codes: one per kind of outcome, so that scripts and cron can tell
//! them apart. The README's table lists the same codes.

use std::process::ExitCode;

use crate::deliver::ledger::LedgerError;
use crate::deliver::smtp::ConnectError;
use crate::diagnostic::Diagnostics;
use crate::story::LoadError;
use crate::subscribers::ListError;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Done, nothing to report.
    Ok = 0,
    /// Something went wrong that has no code of its own (an unwritable file,
    /// say), or `check --strict` found warnings.
    Failure = 1,
    /// The input or configuration is wrong: fix it and run again.
    Config = 2,
    /// The send finished, but some readers were refused (5xx) or their
    /// delivery is uncertain. Each is named in the output.
    ReadersFailed = 3,
    /// The send stopped before every reader was tried, or some were only
    /// deferred (4xx): the server was unavailable. Run again to resume.
    Unavailable = 4,
    /// Another run holds the lock (or the `send --due` lock).
    Locked = 5,
    /// `send --due`: an issue's moment passed more than the grace period ago
    /// and it was not sent (`--late-ok` sends it).
    Overdue = 6,
}

impl Exit {
    /// How much an outcome matters when one run has several (`send --due`):
    /// the exit code reports the one that matters most.
    fn weight(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Overdue => 1,
            Exit::ReadersFailed => 2,
            Exit::Unavailable => 3,
            Exit::Locked => 4,
            Exit::Failure => 5,
            Exit::Config => 6,
        }
    }

    /// The outcome that matters more.
    #[must_use]
    pub fn worst(self, other: Exit) -> Exit {
        if other.weight() > self.weight() {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code for an error, from the first cause in its chain that has one.
pub fn code_for(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(LedgerError::Locked { .. }) = cause.downcast_ref::<LedgerError>() {
            return Exit::Locked;
        }
        if cause.is::<LoadError>()
            || cause.is::<Diagnostics>()
            || cause.is::<ListError>()
            || cause.is::<ConnectError>()
            || cause.is::<ConfigError>()
        {
            return Exit::Config;
        }
    }
    Exit::Failure
}

/// A configuration mistake found outside a configuration file (a bad
/// `--to` address, no `[smtp]` at all): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
