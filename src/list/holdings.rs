//! Everything catchup holds about one reader, in every file it keeps: the
//! list, the suppression list, and every file under the state folder (the
//! sign-ups and consent records, each issue's ledger, the returned-mail
//! log, the cron log). Found line by line for `readers show` and `export`;
//! taken out of each file for `readers erase`, which leaves only a keyed
//! hash of the address on the suppression list. The operator's own files
//! in the settings folder (issues, settings) are looked through and
//! named, never changed.
//!
//! A line is about the reader when it holds their address as a whole
//! address (in any letter case): `ann@nhs.example` is not found in
//! `joann@nhs.example`.

use std::path::{Path, PathBuf};

use crate::fs::{self, Action, FileError};
use crate::list::address;

/// The files a reader may be found in.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub subscribers: PathBuf,
    pub suppressed: PathBuf,
    pub state: PathBuf,
    /// The settings folder: its other files (issues, settings) are the
    /// operator's own writing, looked through but never changed.
    pub config: PathBuf,
}

/// One line about the reader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Found {
    pub file: PathBuf,
    pub line: u64,
    pub text: String,
}

/// What erasing took out of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub file: PathBuf,
    pub lines: usize,
}

/// The largest file looked through (a ledger of a million readers is
/// well under this).
const LIMIT: u64 = 1024 * 1024 * 1024;

/// True when `line` holds `email` as a whole address, in any letter case.
pub(crate) fn mentions(line: &str, email: &str) -> bool {
    let wanted = address::identity(email);
    if wanted.is_empty() {
        return false;
    }
    let haystack = line.to_ascii_lowercase();
    let part = |c: char| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    let mut from = 0;
    while let Some(at) = haystack[from..].find(&wanted) {
        let start = from + at;
        let end = start + wanted.len();
        let before = haystack[..start].chars().next_back();
        let after = haystack[end..].chars().next();
        // An address ends where a domain cannot go on: not a letter, a
        // digit, a `-`, or a `.` followed by one of those.
        let goes_on = match after {
            Some('.') => haystack[end + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '-'),
            Some(c) => c.is_alphanumeric() || c == '-',
            None => false,
        };
        if !before.is_some_and(part) && !goes_on {
            return true;
        }
        from = start + wanted.chars().next().map_or(1, char::len_utf8);
    }
    false
}

impl Files {
    /// Every file catchup keeps about readers: the list, the suppression
    /// list, and each regular file under the state folder (links are not
    /// followed).
    pub(crate) fn kept(&self) -> Vec<PathBuf> {
        let mut files = vec![self.subscribers.clone(), self.suppressed.clone()];
        files.extend(regular_files_under(&self.state));
        files.retain(|f| f.exists());
        files
    }

    /// The operator's own files in the settings folder (issues, settings),
    /// less secrets and keys, which are never read for this.
    pub(crate) fn operators(&self) -> Vec<PathBuf> {
        let kept = self.kept();
        regular_files_under(&self.config)
            .into_iter()
            .filter(|f| !kept.contains(f))
            .filter(|f| {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                !(name.ends_with(".env") || name.ends_with(".pem") || name.ends_with(".key"))
            })
            .collect()
    }

    /// Every line about `email` in the files catchup keeps, then in the
    /// operator's own.
    ///
    /// # Errors
    /// A file cannot be read.
    pub(crate) fn find(&self, email: &str) -> Result<Vec<Found>, FileError> {
        let mut files = self.kept();
        files.extend(self.operators());
        let mut found = Vec::new();
        for file in files {
            let Some(bytes) = fs::read_kept(&file, LIMIT)? else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            for (n, line) in text.lines().enumerate() {
                if mentions(line, email) {
                    found.push(Found {
                        file: file.clone(),
                        line: n as u64 + 1,
                        text: line.to_string(),
                    });
                }
            }
        }
        Ok(found)
    }

    /// Takes every line about `email` out of every file, each file
    /// replaced whole (a temporary file, an fsync, a rename) under the lock
    /// its writers take: a file shared with the service under its `flock`;
    /// an issue's ledger under the issue's lock, so never while that issue
    /// is being sent. `tombstone` (the suppression list's `erased` row) is
    /// appended to the suppression list in the same replacement.
    ///
    /// # Errors
    /// A file cannot be read or replaced, or a send of an issue is running:
    /// the files already done stay done (running it again finishes).
    pub(crate) fn erase(&self, email: &str, tombstone: &[u8]) -> Result<Vec<Removed>, FileError> {
        let mut removed = Vec::new();
        for file in self.kept() {
            let is_suppressed = file == self.suppressed;
            let _issue_lock = match issue_lock(&file) {
                Some(lock) => Some(
                    crate::fs::lock::take_lock(&lock, "the issue whose ledger holds the reader")
                        .map_err(|e| {
                            FileError::io(
                                Action::Write,
                                &file,
                                std::io::Error::other(e.to_string()),
                            )
                        })?,
                ),
                None => None,
            };
            let mut locked = fs::LockedRows::lock_saying(&file, || {
                eprintln!(
                    "waiting for `{}`: a send is reading it, or the service writing it",
                    file.display()
                );
            })?;
            let bytes = read_locked(&mut locked, &file)?;
            let (kept, lines) = if file == self.subscribers {
                without_rows(&bytes, email)
            } else {
                without_lines(&bytes, email)
            };
            if lines == 0 && !is_suppressed {
                continue;
            }
            let mut kept = kept;
            if is_suppressed {
                if !kept.is_empty() && !kept.ends_with(b"\n") {
                    kept.push(b'\n');
                }
                if kept.is_empty() {
                    kept.extend_from_slice(crate::list::suppression::HEADER.as_bytes());
                }
                kept.extend_from_slice(tombstone);
            }
            locked.replace(&kept)?;
            if lines > 0 {
                removed.push(Removed { file, lines });
            }
        }
        Ok(removed)
    }
}

/// Every regular file under `folder`, in name order, links not followed.
fn regular_files_under(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut found: Vec<_> = entries.flatten().collect();
        found.sort_by_key(std::fs::DirEntry::file_name);
        for entry in found {
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(entry.path()),
                Ok(t) if t.is_file() => files.push(entry.path()),
                _ => {}
            }
        }
    }
    files
}

/// The lock of the issue whose ledger `file` is, if it is one.
fn issue_lock(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?.to_str()?;
    (name == "ledger.jsonl" || name == "ledger.damaged").then(|| file.with_file_name("lock"))
}

fn read_locked(locked: &mut fs::LockedRows, path: &Path) -> Result<Vec<u8>, FileError> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let fail = |e| FileError::io(Action::Read, path, e);
    if locked.file.metadata().map_err(fail)?.len() > LIMIT {
        return Err(fail(std::io::Error::other("it is over 1 GB")));
    }
    let mut bytes = Vec::new();
    locked.file.seek(SeekFrom::Start(0)).map_err(fail)?;
    locked.file.read_to_end(&mut bytes).map_err(fail)?;
    Ok(bytes)
}

/// `bytes` without the lines about `email`, and how many there were.
fn without_lines(bytes: &[u8], email: &str) -> (Vec<u8>, usize) {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut removed = 0;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if mentions(&String::from_utf8_lossy(line), email) {
            removed += 1;
        } else {
            kept.extend_from_slice(line);
        }
    }
    (kept, removed)
}

/// A CSV without the records about `email`, whole records however many
/// lines each spans (a quoted name may hold a line break), and how many
/// lines went.
fn without_rows(bytes: &[u8], email: &str) -> (Vec<u8>, usize) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut starts = Vec::new();
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = {
        let at = reader.position().byte();
        let more = reader.read_byte_record(&mut record);
        if matches!(more, Ok(true)) {
            starts.push(usize::try_from(at).unwrap_or(usize::MAX));
        }
        more
    } {}
    if starts.is_empty() {
        return without_lines(bytes, email);
    }
    starts.push(bytes.len());
    let mut kept = bytes[..starts[0].min(bytes.len())].to_vec();
    let mut removed = 0;
    for pair in starts.windows(2) {
        let piece = &bytes[pair[0].min(bytes.len())..pair[1].min(bytes.len())];
        if mentions(&String::from_utf8_lossy(piece), email) {
            removed += piece.iter().filter(|&&b| b == b'\n').count().max(1);
        } else {
            kept.extend_from_slice(piece);
        }
    }
    (kept, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_address_is_found_in_any_case_and_no_longer_one_is() {
        for line in [
            "ann@nhs.example,Ann",
            "\"ANN@NHS.example\",x",
            r#"{"email":"Ann@nhs.example"}"#,
            "<ann@nhs.example>.",
        ] {
            assert!(mentions(line, "ann@nhs.example"), "{line}");
        }
        for line in [
            "joann@nhs.example",
            "ann@nhs.example.org",
            "ann@nhs.examples",
            "ann@nhs-example",
            "x.ann@nhs.example",
        ] {
            assert!(!mentions(line, "ann@nhs.example"), "{line}");
        }
    }

    #[test]
    fn a_record_over_two_lines_goes_whole() {
        let csv = b"email,name\nann@nhs.example,\"Ann\nSmith\"\nbob@nhs.example,Bob\n";
        let (kept, removed) = without_rows(csv, "ann@nhs.example");
        assert_eq!(
            String::from_utf8_lossy(&kept),
            "email,name\nbob@nhs.example,Bob\n"
        );
        assert_eq!(removed, 2);
    }
}
