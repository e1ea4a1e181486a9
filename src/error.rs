//! The one error type at the command boundary.
//!
//! Each stage has its own typed errors, with the file and position in them,
//! and owns their conversion into an [`Error`] (beside the type, in the
//! stage): the conversion decides the [`Kind`] from the type (and variant):
//! a bad issue file is a configuration error, a held lock is "locked", a
//! disk that fills while a ledger is written is a failure. So the exit code
//! is part of the error from where it is made, and `main` only prints the
//! chain and asks [`Error::code`]. This module knows no stage: imports run
//! from the stages to it, never back.

use std::fmt;

use crate::exit::Exit;

/// What kind of failure an error is; each kind has one exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad input or configuration: fix it and run again (exit 2).
    Config,
    /// Another run holds the lock (exit 5).
    Locked,
    /// Nothing is wrong with the input, but it must be done again later (a
    /// list that changed while it was read): exit 4.
    Again,
    /// Anything else: an unwritable file, a full disk (exit 1).
    Failure,
}

/// A failure, with its kind and the chain of causes a person reads.
pub struct Error {
    kind: Kind,
    inner: anyhow::Error,
}

impl Error {
    pub fn new(kind: Kind, error: impl Into<anyhow::Error>) -> Error {
        Error {
            kind,
            inner: error.into(),
        }
    }

    /// A configuration mistake found outside a configuration file: a bad
    /// `--to` address, no `[smtp]` at all.
    pub fn config(message: impl fmt::Display) -> Error {
        Error::new(Kind::Config, anyhow::anyhow!("{message}"))
    }

    /// A failure with no code of its own.
    pub fn failure(message: impl fmt::Display) -> Error {
        Error::new(Kind::Failure, anyhow::anyhow!("{message}"))
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The exit code for this error.
    pub fn code(&self) -> Exit {
        match self.kind {
            Kind::Config => Exit::Config,
            Kind::Locked => Exit::Locked,
            Kind::Again => Exit::Unavailable,
            Kind::Failure => Exit::Failure,
        }
    }

    /// Adds what was being done, keeping the kind.
    #[must_use]
    pub fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Error {
        Error {
            kind: self.kind,
            inner: self.inner.context(context),
        }
    }

    /// The stage error behind this one, if it is a `T` (the diagnostics of
    /// a configuration error, say, which `check` prints in full).
    pub fn downcast_ref<T: fmt::Display + fmt::Debug + Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref()
    }

    /// True when the cause is a closed stdout (`catchup stories | head -1`),
    /// which ends a command quietly, as it does `ls` and `rg`.
    pub fn is_broken_pipe(&self) -> bool {
        self.inner.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.inner)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.kind, self.inner)
    }
}

/// A result at the command boundary.
pub(crate) type Result<T> = std::result::Result<T, Error>;

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Error {
        Error::new(Kind::Failure, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_is_recognised_through_context() {
        let e = Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("cannot print the stories");
        assert!(e.is_broken_pipe());
        assert!(!Error::config("x").is_broken_pipe());
    }

    /// See: issue 9, item 12. Error causes were printed twice.
    #[test]
    fn a_cause_is_printed_once() {
        let missing = || {
            crate::fs::FileError::io(
                crate::fs::Action::Read,
                std::path::Path::new("config/subscribers.csv"),
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )
        };
        for error in [
            Error::from(crate::list::subscribers::ListError::from(missing())),
            Error::from(missing()),
            Error::from(crate::story::library::LoadError::from(missing())),
        ] {
            let text = error.to_string();
            assert_eq!(text.matches("it does not exist").count(), 1, "{text}");
        }
    }

    #[test]
    fn kinds_map_to_the_readmes_exit_codes() {
        assert_eq!(Error::config("x").code(), Exit::Config);
        assert_eq!(Error::failure("x").code(), Exit::Failure);
        let read = crate::fs::FileError::io(
            crate::fs::Action::Read,
            std::path::Path::new("config/newsletter.toml"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(Error::from(read).code(), Exit::Config);
    }
}
