//! Locks that keep runs apart: an issue's (two sends of one issue), `send
//! --due`'s, `bounces`'s, and the claim a list send holds while it checks
//! that no earlier send carried its issue. An `flock` on a file of ours,
//! released by the OS when the holder ends, even by `kill -9`.

use std::io::Write as _;
use std::path::Path;

use super::{Action, FileError};
use crate::clock;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run is working on {what} ({holder}); wait for it to finish")]
    Held { what: String, holder: String },
    #[error(transparent)]
    File(#[from] FileError),
}

impl From<LockError> for crate::error::Error {
    fn from(error: LockError) -> crate::error::Error {
        match error {
            LockError::File(file) => file.into(),
            held @ LockError::Held { .. } => {
                crate::error::Error::new(crate::error::Kind::Locked, held)
            }
        }
    }
}

/// Takes an exclusive lock on `path` (created if need be) without waiting,
/// and writes who holds it into it. The OS releases the lock when the file
/// is closed or the process dies, even by `kill -9`. A symbolic link or a
/// FIFO where the lock belongs is refused, and nothing is ever truncated
/// but our own lock file, after we hold it.
///
/// # Errors
/// [`LockError::Held`] naming the holder if another process has it.
pub(crate) fn take_lock(path: &Path, what: &str) -> Result<std::fs::File, LockError> {
    if let Some(dir) = path.parent() {
        super::create_folder(dir)?;
    }
    let mut lock = super::open_lock(path)?;
    let fail = |e| FileError::io(Action::Lock, path, e);
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(path)
                .ok()
                .map(|s| crate::log::printable(s.trim()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "holder unknown".into());
            return Err(LockError::Held {
                what: what.to_string(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(fail(e).into()),
    }
    let holder = format!(
        "pid {} since {}",
        std::process::id(),
        clock::wall().format("%Y-%m-%dT%H:%M:%SZ")
    );
    lock.set_len(0).map_err(fail)?;
    lock.write_all(holder.as_bytes()).map_err(fail)?;
    Ok(lock)
}

/// Waits for the exclusive lock on `path` (created if need be): for a
/// short critical section every run must pass through one at a time.
///
/// # Errors
/// The lock file is a link, not a regular file, or cannot be locked.
pub(crate) fn wait_for_lock(path: &Path) -> Result<std::fs::File, LockError> {
    if let Some(dir) = path.parent() {
        super::create_folder(dir)?;
    }
    let lock = super::open_lock(path)?;
    lock.lock()
        .map_err(|e| FileError::io(Action::Lock, path, e))?;
    Ok(lock)
}

/// The lock a list send holds from its check that no earlier send carried
/// the issue until its own record of what it carries is written, so that
/// two copies of one issue started together cannot both pass the check.
pub(crate) const CLAIM_LOCK: &str = "sends.lock";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_locked_out_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x/lock");
        let first = take_lock(&path, "issue `x`").expect("first");
        let err = take_lock(&path, "issue `x`").expect_err("held");
        assert!(
            err.to_string()
                .starts_with("another run is working on issue `x` (pid "),
            "{err}"
        );
        drop(first);
        assert!(take_lock(&path, "issue `x`").is_ok());
    }

    /// See: issue 9, item 6. The lock followed a planted link and truncated
    /// its target.
    #[test]
    fn a_link_planted_where_the_lock_belongs_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("precious.txt");
        std::fs::write(&victim, "keep me").expect("write");
        let lock = dir.path().join("lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let err = take_lock(&lock, "issue `x`").expect_err("link");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep me");
    }
}
