//! Everything catchup holds about one reader, in every file it keeps: the
//! list, the suppression list, and every file under the state folder (the
//! sign-ups and consent records, each issue's ledger, the returned-mail
//! log, the cron log). Found line by line for `readers show` and `export`;
//! taken out of each file for `readers erase`, which leaves only a keyed
//! hash of the address on the suppression list. The operator's own files
//! in the settings folder (issues, settings) are looked through and
//! named, never changed.
//!
//! What is about the reader is read by the file's shape: in a CSV (the
//! list, the suppression list, the returned-mail log) a row whose `email`
//! field is their address; in a JSON-lines file (sign-ups, ledgers) a line
//! whose `email` is; in any other file (a log) a line that holds the
//! address whole, in any letter case (`ann@nhs.example` is not found in
//! `joann@nhs.example`). So another reader's row that names them (a name
//! typed into the form) is that reader's, and is neither shown nor erased.

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
    /// list, and each regular file under the state folder.
    ///
    /// # Errors
    /// One of them is a symbolic link, a FIFO or another thing that is not
    /// a regular file: it is refused, not followed or skipped, since what
    /// it holds would be left behind.
    pub(crate) fn kept(&self) -> Result<Vec<PathBuf>, FileError> {
        let mut files = Vec::new();
        for path in [&self.subscribers, &self.suppressed] {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_file() => files.push(path.clone()),
                Ok(meta) => return Err(not_regular(path, &meta.file_type())),
                Err(_) => {}
            }
        }
        files.extend(regular_files_under(&self.state, true)?);
        Ok(files)
    }

    /// The operator's own files in the settings folder (issues, settings),
    /// less secrets and keys, which are never read for this.
    pub(crate) fn operators(&self) -> Vec<PathBuf> {
        let kept = self.kept().unwrap_or_default();
        regular_files_under(&self.config, false)
            .unwrap_or_default()
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
        let mut files = self.kept()?;
        files.extend(self.operators());
        let mut found = Vec::new();
        for file in files {
            let Some(bytes) = fs::read_kept(&file, LIMIT)? else {
                continue;
            };
            for piece in pieces(&file, &bytes, email) {
                if piece.about {
                    found.push(Found {
                        file: file.clone(),
                        line: piece.line,
                        text: String::from_utf8_lossy(&bytes[piece.range])
                            .trim_end_matches(['\r', '\n'])
                            .to_string(),
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
        for file in self.kept()? {
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
            let (kept, lines) = without(&file, &bytes, email);
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

/// Every regular file under `folder`, in name order, links not
/// followed; with `strict`, a link, FIFO or the like is an error instead of
/// being passed over.
fn regular_files_under(folder: &Path, strict: bool) -> Result<Vec<PathBuf>, FileError> {
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
                Ok(t) if strict => return Err(not_regular(&entry.path(), &t)),
                _ => {}
            }
        }
    }
    Ok(files)
}

fn not_regular(path: &Path, kind: &std::fs::FileType) -> FileError {
    use std::os::unix::fs::FileTypeExt as _;
    FileError {
        action: Action::Read,
        path: path.to_path_buf(),
        problem: if kind.is_symlink() {
            fs::Problem::Symlink
        } else if kind.is_fifo() {
            fs::Problem::NotRegular("a FIFO")
        } else {
            fs::Problem::NotRegular("not a regular file")
        },
    }
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

/// One row or line of a file, and whether it is about the reader.
struct Piece {
    line: u64,
    range: std::ops::Range<usize>,
    about: bool,
}

/// How a file is read for what is about a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Rows; the reader's are those whose `email` field (the first field
    /// if no header names one) is their address.
    Csv,
    /// JSON objects, one a line; the reader's have their `email`.
    JsonLines,
    /// Anything else: a line that holds the address.
    Text,
}

fn shape(file: &Path) -> Shape {
    match file.extension().and_then(|e| e.to_str()) {
        Some("csv") => Shape::Csv,
        Some("jsonl") => Shape::JsonLines,
        _ => Shape::Text,
    }
}

/// The file's rows or lines, each marked whether it is about `email`.
fn pieces(file: &Path, bytes: &[u8], email: &str) -> Vec<Piece> {
    let wanted = address::identity(email);
    let is = |value: &str| address::identity(value) == wanted;
    match shape(file) {
        Shape::Csv => csv_rows(bytes, email, &is),
        Shape::JsonLines => lines(bytes, |line| {
            match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(value) => value.get("email").and_then(|e| e.as_str()).is_some_and(is),
                // A damaged line: whatever of theirs it holds.
                Err(_) => mentions(&String::from_utf8_lossy(line), email),
            }
        }),
        Shape::Text => lines(bytes, |line| {
            mentions(&String::from_utf8_lossy(line), email)
        }),
    }
}

fn lines(bytes: &[u8], about: impl Fn(&[u8]) -> bool) -> Vec<Piece> {
    let mut start = 0;
    let mut pieces = Vec::new();
    for (n, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        pieces.push(Piece {
            line: n as u64 + 1,
            range: start..start + line.len(),
            about: about(line),
        });
        start += line.len();
    }
    pieces
}

/// A CSV's records, whole however many lines each spans (a quoted name may
/// hold a line break); the header is about no one.
fn csv_rows(bytes: &[u8], email: &str, is: &dyn Fn(&str) -> bool) -> Vec<Piece> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let at = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        match reader.read_record(&mut record) {
            Ok(true) => records.push((at, record.clone())),
            // Not CSV (a hand-written list gone wrong): read it as lines.
            Err(_) => return lines(bytes, |l| mentions(&String::from_utf8_lossy(l), email)),
            Ok(false) => break,
        }
    }
    let column = records.first().and_then(|(_, header)| {
        header.iter().position(|h| {
            h.trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case("email")
        })
    });
    let mut pieces = Vec::new();
    for (i, (at, record)) in records.iter().enumerate() {
        let end = records.get(i + 1).map_or(bytes.len(), |(next, _)| *next);
        let start = (*at).min(bytes.len());
        let is_header = i == 0 && column.is_some();
        let field = record.get(column.unwrap_or(0)).unwrap_or("");
        pieces.push(Piece {
            line: bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64 + 1,
            range: start..end.clamp(start, bytes.len()),
            about: !is_header && !field.is_empty() && is(field),
        });
    }
    pieces
}

/// `bytes` without what is about `email`, and how many lines that was.
fn without(file: &Path, bytes: &[u8], email: &str) -> (Vec<u8>, usize) {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut removed = 0;
    let pieces = pieces(file, bytes, email);
    let first = pieces.first().map_or(bytes.len(), |p| p.range.start);
    kept.extend_from_slice(&bytes[..first]);
    for piece in pieces {
        let text = &bytes[piece.range];
        if piece.about {
            removed += text.iter().filter(|&&b| b == b'\n').count().max(1);
        } else {
            kept.extend_from_slice(text);
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
    fn a_record_over_two_lines_goes_whole_and_one_that_names_them_stays() {
        let csv = b"email,name\nann@nhs.example,\"Ann\nSmith\"\nbob@nhs.example,Bob\nzed@nhs.example,cc ANN@nhs.example\n";
        let (kept, removed) = without(Path::new("subscribers.csv"), csv, "ann@nhs.example");
        assert_eq!(
            String::from_utf8_lossy(&kept),
            "email,name\nbob@nhs.example,Bob\nzed@nhs.example,cc ANN@nhs.example\n"
        );
        assert_eq!(removed, 2);
    }

    #[test]
    fn a_json_line_is_theirs_by_its_email_alone() {
        let jsonl = b"{\"event\":\"asked\",\"email\":\"Ann@nhs.example\"}\n{\"event\":\"asked\",\"email\":\"yan@nhs.example\",\"name\":\"friend of ann@nhs.example\"}\n";
        let (kept, removed) = without(Path::new("signups.jsonl"), jsonl, "ann@nhs.example");
        assert_eq!(removed, 1);
        assert!(
            String::from_utf8_lossy(&kept).starts_with("{\"event\":\"asked\",\"email\":\"yan@")
        );
    }
}
