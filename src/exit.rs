//! Exit codes: one per kind of outcome, so that scripts and cron can tell
//! them apart. The README's table lists the same codes.

use std::process::ExitCode;

use crate::diagnostic::Diagnostics;
use crate::story::LoadError;

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
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The exit code for an error, from the first cause in its chain that has one.
pub fn code_for(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.is::<LoadError>() || cause.is::<Diagnostics>() {
            return Exit::Config;
        }
    }
    Exit::Failure
}
