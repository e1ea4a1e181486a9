//! The state folder of one issue, `state/<issue>/`: where its ledger, lock,
//! `complete` marker and sent record live, and the lock that keeps two runs
//! of one issue (or two `send --due` runs) apart.

use std::path::{Path, PathBuf};

use crate::clock;
use crate::fs::{self, Action, FileError};
use crate::issue::IssueName;

/// The file in an issue's state folder that records what it carried.
pub(crate) const SENT: &str = "issue.json";
/// The issue's web version, written when its list send starts.
pub(crate) const WEB: &str = "web.html";

/// The files of one issue's state.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub dir: PathBuf,
    pub ledger: PathBuf,
    /// Damaged ledger lines, moved aside by a repair.
    pub damaged: PathBuf,
    pub lock: PathBuf,
    /// Written when a list send ends with no reader left to try.
    pub complete: PathBuf,
    /// What the issue carried ([`super::sent`]).
    pub sent: PathBuf,
    /// Its web version, for the public archive.
    pub web: PathBuf,
}

impl Paths {
    pub(crate) fn new(state_dir: &Path, issue: &IssueName) -> Paths {
        let dir = state_dir.join(issue.as_str());
        Paths {
            ledger: dir.join("ledger.jsonl"),
            damaged: dir.join("ledger.damaged"),
            lock: dir.join("lock"),
            complete: dir.join("complete"),
            sent: dir.join(SENT),
            web: dir.join(WEB),
            dir,
        }
    }

    /// Refuses an issue folder that is a symbolic link: every file in it
    /// would be another's. (Files in it are opened without following a
    /// link; this covers the folder.)
    ///
    /// # Errors
    /// The folder is a link.
    pub(crate) fn check_folder(&self) -> Result<(), FileError> {
        match std::fs::symlink_metadata(&self.dir) {
            Ok(meta) if meta.file_type().is_symlink() => Err(FileError {
                action: Action::Read,
                path: self.dir.clone(),
                problem: fs::Problem::Symlink,
            }),
            _ => Ok(()),
        }
    }

    /// True once a list send of the issue has finished with every reader
    /// sent, refused for good or uncertain.
    pub(crate) fn is_complete(&self) -> bool {
        // A FIFO or a folder planted there is no marker.
        std::fs::symlink_metadata(&self.complete).is_ok_and(|m| m.is_file())
    }

    /// Records that the issue is completely sent (`summary` says how).
    ///
    /// # Errors
    /// The marker cannot be written.
    pub(crate) fn mark_complete(&self, summary: &str) -> Result<(), FileError> {
        let line = format!("{} {summary}\n", clock::wall().format("%Y-%m-%dT%H:%M:%SZ"));
        fs::write_atomic(&self.complete, line.as_bytes())
    }
}
