//! Exit codes: one per kind of outcome, so that scripts and cron can tell
//! them apart. The README's table lists the same codes, and a test reaches
//! each of them. A failure's code comes from its [`crate::error::Error`].

use std::process::ExitCode;

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
    /// `bounces`: a provider refused the sender for several readers (a
    /// block); nobody was suppressed or counted for it.
    ProviderBlock = 7,
    /// `doctor`: receivers would put the mail in spam (SPF, DKIM or DMARC
    /// missing or broken).
    WouldBeJunked = 8,
    /// `doctor`: receivers would refuse the mail (DMARC `p=reject` fails,
    /// or the return path's domain takes no mail).
    WouldBeRefused = 9,
}

impl Exit {
    /// How much an outcome matters when one run has several (`send --due`):
    /// the exit code reports the one that matters most.
    fn weight(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Overdue | Exit::ProviderBlock | Exit::WouldBeJunked | Exit::WouldBeRefused => 1,
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
