//! The subscriber list.
//!
//! Subscribers are a CSV file with a header row: an `email` column, an
//! optional `name` column, and any other columns (ignored). The file is read
//! as a stream of [`Row`]s, each with its line number, so that a bad row is
//! reported where it is and memory stays flat however long the list.
//!

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use lettre::Address;

use crate::fs::{FileError, Identity, StableFile, open_input};
use crate::list::address;
use crate::list::reader::{Reader, clean_name};
use std::sync::{Arc, Mutex};

/// One data row of the subscriber file.
#[derive(Debug)]
pub(crate) struct Row {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// Where the row starts in the file (perhaps at line breaks before
    /// it), for reading it back with [`email_at`].
    pub offset: u64,
    /// The reader, or why the row cannot be used.
    pub reader: Result<Reader, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("cannot read the subscriber list `{}`: {why}", path.display())]
    Read { path: PathBuf, why: String },
    /// The message says what is wrong itself, so the file error is not
    /// also a source (which would print the cause twice).
    #[error("cannot {} the list `{}`: {}", .0.action, .0.path.display(), .0.reason())]
    File(FileError),
    #[error("the subscriber list `{}` has no `email` column in its header row (found: {found})", path.display())]
    NoEmailColumn { path: PathBuf, found: String },
    /// A mistake that would make the rows after it wrong (an unclosed
    /// quote swallows every later row into one name): nothing is sent.
    #[error("{}:{line}: {why}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        why: String,
    },
}

impl From<FileError> for ListError {
    fn from(error: FileError) -> ListError {
        ListError::File(error)
    }
}

impl ListError {
    fn read(path: &Path, error: &csv::Error) -> ListError {
        ListError::Read {
            path: path.to_path_buf(),
            why: error.to_string(),
        }
    }
}

/// A stream of rows from a subscriber file.
pub(crate) struct Subscribers {
    records: csv::StringRecordsIntoIter<StableFile>,
    identity: Identity,
    /// Why the stream ended early, if it did: shared, so that whoever
    /// consumed the stream can find out.
    failure: Arc<Mutex<Option<String>>>,
    lines: LineCounter,
    email: usize,
    name: Option<usize>,
    finished: bool,
}

impl std::fmt::Debug for Subscribers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscribers").finish_non_exhaustive()
    }
}

impl Subscribers {
    /// Opens the file and finds its columns.
    ///
    /// # Errors
    /// The file cannot be opened, or its header has no `email` column.
    pub(crate) fn open(path: &Path) -> Result<Subscribers, ListError> {
        check_shape(path)?;
        let file = StableFile::open(path)?;
        let identity = file.identity();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(file);
        let headers = reader
            .headers()
            .map_err(|e| ListError::read(path, &e))?
            .clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
        };
        let email = column("email").ok_or_else(|| ListError::NoEmailColumn {
            path: path.to_path_buf(),
            found: headers.iter().collect::<Vec<_>>().join(","),
        })?;
        let name = column("name");
        Ok(Subscribers {
            records: reader.into_records(),
            identity,
            failure: Arc::default(),
            lines: LineCounter::new(open_input(path)?),
            email,
            name,
            finished: false,
        })
    }
}

impl Iterator for Subscribers {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.finished {
            return None;
        }
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(e) => {
                // An I/O error (the file changed under us) ends the stream,
                // and is kept for whoever reads it: the rest of the list
                // must not pass for sent. A bad row (say, invalid UTF-8) is
                // skipped and reading goes on.
                if let csv::ErrorKind::Io(io) = e.kind() {
                    self.finished = true;
                    *self
                        .failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(io.to_string());
                    return None;
                }
                let line = self.lines.line_of(e.position());
                return Some(Row {
                    line,
                    offset: e.position().map_or(0, csv::Position::byte),
                    reader: Err(row_error_message(&e)),
                });
            }
        };
        let line = self.lines.line_of(record.position());
        let email = record.get(self.email).unwrap_or("").trim();
        let reader = if record.as_slice().len() > LONG_ROW_BYTES {
            Err(format!(
                "the row is longer than {} KB, which no subscriber's row is",
                LONG_ROW_BYTES / 1024
            ))
        } else if email.is_empty() {
            Err("no email address".to_string())
        } else {
            address::parse(email).map(|address| Reader {
                email: address,
                name: self
                    .name
                    .and_then(|i| record.get(i))
                    .map(clean_name)
                    .filter(|n| !n.is_empty()),
            })
        };
        let offset = record.position().map_or(0, csv::Position::byte);
        Some(Row {
            line,
            offset,
            reader,
        })
    }
}

impl Subscribers {
    /// The index of the `email` column.
    pub(crate) fn email_column(&self) -> usize {
        self.email
    }

    /// The version of the list this reads.
    pub(crate) fn identity(&self) -> Identity {
        self.identity
    }

    /// Where the reason the stream ended early is kept (`None` inside if it
    /// ran to the end).
    pub(crate) fn failure(&self) -> Arc<Mutex<Option<String>>> {
        Arc::clone(&self.failure)
    }
}

/// The address on the row of `path` that starts at `offset` (a
/// [`Row::offset`]), read in `column`; `None` if there is no usable address
/// there (the list changed).
///
/// # Errors
/// The file cannot be read.
pub(crate) fn email_at(
    path: &Path,
    offset: u64,
    column: usize,
) -> Result<Option<Address>, ListError> {
    use std::io::{Seek as _, SeekFrom};
    let mut file = open_input(path)?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| ListError::from(FileError::io(crate::fs::Action::Read, path, e)))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(BufReader::with_capacity(4096, file));
    let Some(Ok(record)) = reader.records().next() else {
        return Ok(None);
    };
    Ok(record
        .get(column)
        .and_then(|email| address::parse(email).ok()))
}

/// Line numbers for csv records, counted from their byte offsets.
///
/// csv's own `Position::line` is wrong after CRLF line endings and skips
/// blank lines (see: BurntSushi/rust-csv#395). Its byte offset is where the
/// previous record's terminator began to be read, so it may point at line
/// breaks and blank lines before the record. A second reader over the same
/// file counts newlines up to the offset and through those breaks (a record
/// never starts with a raw CR or LF), so the count stays exact and streaming.
struct LineCounter {
    reader: BufReader<File>,
    byte: u64,
    newlines: u64,
}

impl LineCounter {
    fn new(file: File) -> LineCounter {
        LineCounter {
            reader: BufReader::new(file),
            byte: 0,
            newlines: 0,
        }
    }

    /// The 1-based line at a record's position (records come in order).
    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(target) = position.map(csv::Position::byte) else {
            return 0;
        };
        while self.byte < target {
            let Ok(buffer) = self.reader.fill_buf() else {
                break;
            };
            if buffer.is_empty() {
                break;
            }
            let take = usize::try_from(target - self.byte)
                .unwrap_or(usize::MAX)
                .min(buffer.len());
            self.newlines += buffer[..take].iter().filter(|&&b| b == b'\n').count() as u64;
            self.reader.consume(take);
            self.byte += take as u64;
        }
        // Line breaks and blank lines before the record itself.
        loop {
            let (breaks, newlines, whole_buffer) = match self.reader.fill_buf() {
                Ok(buffer) if !buffer.is_empty() => {
                    let breaks = buffer
                        .iter()
                        .take_while(|&&b| b == b'\r' || b == b'\n')
                        .count();
                    let newlines = buffer[..breaks].iter().filter(|&&b| b == b'\n').count();
                    (breaks, newlines as u64, breaks == buffer.len())
                }
                _ => break,
            };
            self.reader.consume(breaks);
            self.byte += breaks as u64;
            self.newlines += newlines;
            if !whole_buffer {
                break;
            }
        }
        self.newlines + 1
    }
}

/// A row longer than this is a bad row (skipped, with its line): far
/// above any real subscriber row.
const LONG_ROW_BYTES: usize = 64 * 1024;
/// A row longer than this stops the list being read: far below what would
/// hurt memory, far above any row a person or a program writes.
const MAX_ROW_BYTES: usize = 1024 * 1024;
/// A quoted field may hold a line break (spreadsheets write them), but one
/// spanning more lines than this has swallowed the rows after it.
const MAX_FIELD_LINES: u64 = 3;

/// Checks the file's quoting before any row is used: a quote that never
/// closes, or closes many lines later, would make the rows after it one
/// reader's name, and that reader would get everyone's addresses in `To:`.
/// The rules are the csv crate's (RFC 4180): a quote opens a field only at
/// its start, and `""` inside quotes is one quote.
fn check_shape(path: &Path) -> Result<(), ListError> {
    let malformed = |line: u64, why: String| ListError::Malformed {
        path: path.to_path_buf(),
        line,
        why,
    };
    let mut reader = BufReader::with_capacity(64 * 1024, open_input(path)?);
    let mut line: u64 = 1;
    let mut field_start = true;
    let mut in_quotes = false;
    // A quote seen inside quotes: it ends the field unless another follows.
    let mut quote_pending = false;
    let mut opened_at: u64 = 0;
    let mut row_bytes = 0usize;
    loop {
        let buffer = reader.fill_buf().map_err(|e| ListError::Read {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        if buffer.is_empty() {
            break;
        }
        for &b in buffer {
            if quote_pending {
                quote_pending = false;
                if b == b'"' {
                    continue;
                }
                in_quotes = false;
            }
            row_bytes += 1;
            if row_bytes > MAX_ROW_BYTES {
                return Err(malformed(
                    line,
                    format!("a row longer than {} MB", MAX_ROW_BYTES / (1024 * 1024)),
                ));
            }
            if in_quotes {
                match b {
                    b'"' => quote_pending = true,
                    b'\n' => {
                        line += 1;
                        if line - opened_at >= MAX_FIELD_LINES {
                            return Err(malformed(
                                opened_at,
                                "a quote opens here and is not closed within 3 lines, so it would swallow the rows after it; close the quote".into(),
                            ));
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' if field_start => {
                    in_quotes = true;
                    opened_at = line;
                }
                b',' | b'\r' => field_start = true,
                b'\n' => {
                    line += 1;
                    field_start = true;
                    row_bytes = 0;
                }
                _ => field_start = false,
            }
        }
        let used = buffer.len();
        reader.consume(used);
    }
    if in_quotes && !quote_pending {
        return Err(malformed(
            opened_at,
            "a quote opens here and is never closed, so every row after it would be read as one name; close the quote".into(),
        ));
    }
    Ok(())
}

fn row_error_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
        _ => e.to_string(),
    }
}

impl From<ListError> for crate::error::Error {
    fn from(error: ListError) -> crate::error::Error {
        crate::error::Error::new(crate::error::Kind::Config, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn rows_carry_their_line_and_bad_rows_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "s.csv",
            b"name,email,team\nAnn Lee,ann@nhs.example,finance\n,bob@nhs.example\nNo Email,,x\nBad,not-an-address\n\"Multi\nline\",carol@nhs.example\nBytes,\xff@x\n",
        );
        let rows: Vec<Row> = Subscribers::open(&path).expect("open").collect();
        for row in &rows {
            if let Ok(reader) = &row.reader {
                let back = email_at(&path, row.offset, 1).expect("read back");
                assert_eq!(
                    back.as_ref(),
                    Some(&reader.email),
                    "row at line {}",
                    row.line
                );
            }
        }
        type Summary = (u64, Result<(String, Option<String>), String>);
        let summary: Vec<Summary> = rows
            .into_iter()
            .map(|r| (r.line, r.reader.map(|r| (r.email.to_string(), r.name))))
            .collect();
        assert_eq!(
            summary[0],
            (2, Ok(("ann@nhs.example".into(), Some("Ann Lee".into()))))
        );
        assert_eq!(summary[1], (3, Ok(("bob@nhs.example".into(), None))));
        assert_eq!(summary[2], (4, Err("no email address".into())));
        assert_eq!(summary[3].0, 5);
        assert!(
            summary[3]
                .1
                .as_ref()
                .expect_err("bad")
                .starts_with("`not-an-address` is not an email address")
        );
        // A quoted name with a line break: the break never reaches a header.
        assert_eq!(
            summary[4],
            (
                6,
                Ok(("carol@nhs.example".into(), Some("Multi line".into())))
            )
        );
        assert_eq!(summary[5], (8, Err("the row is not valid UTF-8".into())));
        assert_eq!(summary.len(), 6);
    }

    /// See: BurntSushi/rust-csv#395, csv's own line numbers are wrong here.
    #[test]
    fn line_numbers_are_right_after_crlf_and_blank_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            &dir,
            "s.csv",
            b"email,name\r\na@nhs.example,A\r\n\r\n\r\nbad,B\r\n\"c@nhs.example\",\"two\r\nlines\"\r\nworse,D\r\n",
        );
        let lines: Vec<u64> = Subscribers::open(&path)
            .expect("open")
            .map(|r| r.line)
            .collect();
        assert_eq!(lines, [2, 5, 6, 8]);
    }

    #[test]
    fn a_list_without_an_email_column_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(&dir, "s.csv", b"name,address\nAnn,ann@nhs.example\n");
        let err = Subscribers::open(&path).expect_err("no email column");
        assert!(
            err.to_string()
                .contains("has no `email` column in its header row (found: name,address)"),
            "{err}"
        );
    }
}
