//! The subscriber list.
//!
//! Subscribers are a CSV file with a header row: an `email` column, an
//! optional `name` column, and any other columns (ignored). The file is read
//! as a stream of [`Row`]s, each with its line number, so that a bad row is
//! reported where it is and memory stays flat however long the list.
//!
//! One open, one read of the file per pass: the bytes go through a
//! [`Scan`] on their way to the csv reader, which checks the quoting (a
//! quote that never closes would make every row after it one reader's
//! name) and notes where lines end, for true line numbers. A pass that
//! finds the file malformed or changed ends early, and says so through
//! [`Subscribers::failure`]: the rows it gave stand, the rest are not read.

use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::Address;

use crate::fs::{FileError, Identity, StableFile, open_input};
use crate::list::address::{self, AddressError};
use crate::list::reader::{Reader, clean_name};

/// One data row of the subscriber file.
#[derive(Debug)]
pub(crate) struct Row {
    /// The 1-based line the row starts on.
    pub line: u64,
    /// Where the row starts in the file (perhaps at line breaks before
    /// it), for reading it back with [`email_at`].
    pub offset: u64,
    /// The reader, or why the row cannot be used.
    pub reader: Result<Reader, BadRow>,
}

/// Why a row of the list names no reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadRow {
    #[error("the row is longer than {} KB, which no subscriber's row is", LONG_ROW_BYTES / 1024)]
    TooLong,
    #[error("no email address")]
    NoEmail,
    #[error("the row is not valid UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Address(#[from] AddressError),
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
    /// The file changed while a pass read it: run again once it is saved.
    #[error("`{}` changed while it was being read; run again once it is saved", path.display())]
    Changed { path: PathBuf },
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
    path: PathBuf,
    records: csv::StringRecordsIntoIter<Scan>,
    identity: Identity,
    /// Why the stream ended early, if it did: shared, so that whoever
    /// consumed the stream can find out.
    failure: Arc<Mutex<Option<ListError>>>,
    scanned: Arc<Mutex<Scanned>>,
    /// Lines ended before the last record returned.
    lines_before: u64,
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
    /// The file cannot be opened, its header is malformed, or it has no
    /// `email` column.
    pub(crate) fn open(path: &Path) -> Result<Subscribers, ListError> {
        let file = StableFile::open_shared(path)?;
        let identity = file.identity();
        let scanned = Arc::new(Mutex::new(Scanned::default()));
        let scan = Scan {
            file,
            scanned: Arc::clone(&scanned),
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(scan);
        let headers = match reader.headers() {
            Ok(headers) => headers.clone(),
            Err(e) => {
                return Err(ended(path, &scanned, &e).unwrap_or_else(|| ListError::read(path, &e)));
            }
        };
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
            path: path.to_path_buf(),
            records: reader.into_records(),
            identity,
            failure: Arc::default(),
            scanned,
            lines_before: 0,
            email,
            name,
            finished: false,
        })
    }

    /// The 1-based line of the record at `position` (records come in
    /// order). csv's own line count is wrong after CRLF line endings and
    /// skips blank lines (BurntSushi/rust-csv#395); its byte offset is where
    /// the previous record's terminator began, so it may point at line
    /// breaks before the record. Every line end before it counts, and so do
    /// those in the run of breaks from it to the record.
    fn line_of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(target) = position.map(csv::Position::byte) else {
            return 0;
        };
        let mut scanned = lock(&self.scanned);
        while scanned
            .line_ends
            .front()
            .is_some_and(|(at, _)| *at < target)
        {
            scanned.line_ends.pop_front();
            self.lines_before += 1;
        }
        let breaks = scanned
            .line_ends
            .iter()
            .take_while(|(_, content_before)| content_before.is_none_or(|c| c < target))
            .count() as u64;
        self.lines_before + breaks + 1
    }

    /// Records why the stream ends early, once.
    fn end(&mut self, why: ListError) {
        self.finished = true;
        *lock(&self.failure) = Some(why);
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
                // The file malformed or changed under us ends the stream,
                // and is kept for whoever reads it: the rest of the list
                // must not pass for sent. A bad row (say, invalid UTF-8) is
                // skipped and reading goes on.
                if let Some(why) = ended(&self.path, &self.scanned, &e) {
                    self.end(why);
                    return None;
                }
                let line = self.line_of(e.position());
                return Some(Row {
                    line,
                    offset: e.position().map_or(0, csv::Position::byte),
                    reader: Err(bad_row(&e)),
                });
            }
        };
        let line = self.line_of(record.position());
        let email = record.get(self.email).unwrap_or("").trim();
        let reader = if record.as_slice().len() > LONG_ROW_BYTES {
            Err(BadRow::TooLong)
        } else if email.is_empty() {
            Err(BadRow::NoEmail)
        } else {
            address::parse(email)
                .map_err(BadRow::from)
                .map(|address| Reader {
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

/// Why a csv error ends the stream, if it does: the scan found the file
/// malformed, or it changed (an I/O error); `None` for a bad row.
fn ended(path: &Path, scanned: &Mutex<Scanned>, e: &csv::Error) -> Option<ListError> {
    let csv::ErrorKind::Io(io) = e.kind() else {
        return None;
    };
    Some(match lock(scanned).malformed.take() {
        Some((line, why)) => ListError::Malformed {
            path: path.to_path_buf(),
            line,
            why,
        },
        None if io.kind() == std::io::ErrorKind::Other => ListError::Changed {
            path: path.to_path_buf(),
        },
        None => ListError::Read {
            path: path.to_path_buf(),
            why: io.to_string(),
        },
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    pub(crate) fn failure(&self) -> Arc<Mutex<Option<ListError>>> {
        Arc::clone(&self.failure)
    }
}

/// Why a pass over the list ended early, if it did ([`Subscribers::failure`]
/// taken: said once).
pub(crate) fn taken(failure: &Mutex<Option<ListError>>) -> Option<ListError> {
    lock(failure).take()
}

/// Adds readers to the list at `path` under its exclusive lock (waiting,
/// and logging that it waits, for any send reading it): each row written in the file's own columns
/// (the address under `email`, the name under `name`, the rest empty), a
/// new file getting the header `email,name`. An address already on the
/// list is left as it is. Returns the addresses added.
///
/// # Errors
/// The list cannot be read or written, or has no `email` column; nothing
/// was added.
pub(crate) fn add(path: &Path, readers: &[Reader]) -> Result<Vec<String>, ListError> {
    use std::io::{Seek as _, SeekFrom};
    let mut locked = crate::fs::LockedRows::lock_saying(path, || {
        crate::log::event(
            crate::log::Level::Info,
            "list.waiting",
            &[("list", &path.display()), ("for", &"a send reading it")],
        );
    })?;
    let fail = |e| ListError::from(FileError::io(crate::fs::Action::Read, path, e));
    let mut bytes = Vec::new();
    locked.file.seek(SeekFrom::Start(0)).map_err(fail)?;
    (&locked.file).read_to_end(&mut bytes).map_err(fail)?;
    let (width, email, name, mut present) = if bytes.iter().all(u8::is_ascii_whitespace) {
        (2, 0, Some(1), std::collections::HashSet::new())
    } else {
        columns_and_addresses(path, &bytes)?
    };
    let mut rows = csv::WriterBuilder::new().from_writer(Vec::new());
    let mut added = Vec::new();
    for reader in readers {
        if !present.insert(address::identity(reader.email.as_ref())) {
            continue;
        }
        let mut record = vec![String::new(); width];
        record[email] = reader.email.to_string();
        if let (Some(at), Some(n)) = (name, &reader.name) {
            record[at] = crate::list::reader::safe_name(n);
        }
        rows.write_record(&record)
            .map_err(|e| ListError::read(path, &e))?;
        added.push(reader.email.to_string());
    }
    let rows = rows.into_inner().map_err(|e| fail(e.into_error()))?;
    if !rows.is_empty() {
        locked.append(b"email,name\n", &rows)?;
    }
    Ok(added)
}

/// The header's width and columns, and every address on the list.
fn columns_and_addresses(
    path: &Path,
    bytes: &[u8],
) -> Result<
    (
        usize,
        usize,
        Option<usize>,
        std::collections::HashSet<String>,
    ),
    ListError,
> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ListError::read(path, &e))?
        .clone();
    let column = |wanted: &str| {
        headers.iter().position(|h| {
            h.trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(wanted)
        })
    };
    let email = column("email").ok_or_else(|| ListError::NoEmailColumn {
        path: path.to_path_buf(),
        found: headers.iter().collect::<Vec<_>>().join(","),
    })?;
    let present = reader
        .records()
        .flatten()
        .filter_map(|r| r.get(email).map(address::identity))
        .collect();
    Ok((headers.len(), email, column("name"), present))
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

/// A row longer than this is a bad row (skipped, with its line): far
/// above any real subscriber row.
const LONG_ROW_BYTES: usize = 64 * 1024;
/// A row longer than this stops the list being read: far below what would
/// hurt memory, far above any row a person or a program writes.
const MAX_ROW_BYTES: usize = 1024 * 1024;
/// A quoted field may hold a line break (spreadsheets write them), but one
/// spanning more lines than this has swallowed the rows after it.
const MAX_FIELD_LINES: u64 = 3;

/// What a [`Scan`] has seen: where lines end (with where the last byte
/// that is not a line break before each was, or `None`), and the first
/// thing wrong with the file's shape.
#[derive(Debug, Default)]
struct Scanned {
    line_ends: VecDeque<(u64, Option<u64>)>,
    malformed: Option<(u64, String)>,
    shape: Shape,
    offset: u64,
    last_content: Option<u64>,
}

/// The file's bytes on their way to the csv reader, looked at once: the
/// quoting is checked, and the line ends noted.
struct Scan {
    file: StableFile,
    scanned: Arc<Mutex<Scanned>>,
}

impl Read for Scan {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let mut scanned = lock(&self.scanned);
        let scanned = &mut *scanned;
        let found = if n == 0 {
            scanned.shape.end()
        } else {
            buf[..n].iter().try_for_each(|&b| {
                if b == b'\n' {
                    scanned
                        .line_ends
                        .push_back((scanned.offset, scanned.last_content));
                } else if b != b'\r' {
                    scanned.last_content = Some(scanned.offset);
                }
                scanned.offset += 1;
                scanned.shape.feed(b)
            })
        };
        match found {
            Ok(()) => Ok(n),
            Err(malformed) => {
                scanned.malformed = Some(malformed);
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the list is malformed",
                ))
            }
        }
    }
}

/// The file's quoting, byte by byte. A quote that never closes, or closes
/// many lines later, would make the rows after it one reader's name, and
/// that reader would get everyone's addresses in `To:`. The rules are the
/// csv crate's (RFC 4180): a quote opens a field only at its start, and
/// `""` inside quotes is one quote.
#[derive(Debug)]
struct Shape {
    line: u64,
    field_start: bool,
    in_quotes: bool,
    /// A quote seen inside quotes: it ends the field unless another follows.
    quote_pending: bool,
    opened_at: u64,
    row_bytes: usize,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            line: 1,
            field_start: true,
            in_quotes: false,
            quote_pending: false,
            opened_at: 0,
            row_bytes: 0,
        }
    }
}

impl Shape {
    /// One more byte; what is wrong, as (line, why), if it is.
    fn feed(&mut self, b: u8) -> Result<(), (u64, String)> {
        if self.quote_pending {
            self.quote_pending = false;
            if b == b'"' {
                return Ok(());
            }
            self.in_quotes = false;
        }
        self.row_bytes += 1;
        if self.row_bytes > MAX_ROW_BYTES {
            return Err((
                self.line,
                format!("a row longer than {} MB", MAX_ROW_BYTES / (1024 * 1024)),
            ));
        }
        if self.in_quotes {
            match b {
                b'"' => self.quote_pending = true,
                b'\n' => {
                    self.line += 1;
                    if self.line - self.opened_at >= MAX_FIELD_LINES {
                        return Err((
                            self.opened_at,
                            "a quote opens here and is not closed within 3 lines, so it would swallow the rows after it; close the quote".into(),
                        ));
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        match b {
            b'"' if self.field_start => {
                self.in_quotes = true;
                self.opened_at = self.line;
            }
            b',' | b'\r' => self.field_start = true,
            b'\n' => {
                self.line += 1;
                self.field_start = true;
                self.row_bytes = 0;
            }
            _ => self.field_start = false,
        }
        Ok(())
    }

    /// The end of the file: a quote still open never closes.
    fn end(&self) -> Result<(), (u64, String)> {
        if self.in_quotes && !self.quote_pending {
            return Err((
                self.opened_at,
                "a quote opens here and is never closed, so every row after it would be read as one name; close the quote".into(),
            ));
        }
        Ok(())
    }
}

fn bad_row(e: &csv::Error) -> BadRow {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => BadRow::NotUtf8,
        _ => BadRow::Unreadable(e.to_string()),
    }
}

impl From<ListError> for crate::error::Error {
    fn from(error: ListError) -> crate::error::Error {
        use crate::error::{Error, Kind};
        let kind = match error {
            // Nothing wrong with the list: read it again once it is saved.
            ListError::Changed { .. } => Kind::Again,
            _ => Kind::Config,
        };
        Error::new(kind, error)
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
        type Summary = (u64, Result<(String, Option<String>), BadRow>);
        let summary: Vec<Summary> = rows
            .into_iter()
            .map(|r| (r.line, r.reader.map(|r| (r.email.to_string(), r.name))))
            .collect();
        assert_eq!(
            summary[0],
            (2, Ok(("ann@nhs.example".into(), Some("Ann Lee".into()))))
        );
        assert_eq!(summary[1], (3, Ok(("bob@nhs.example".into(), None))));
        assert_eq!(summary[2], (4, Err(BadRow::NoEmail)));
        assert_eq!(
            summary[3],
            (
                5,
                Err(BadRow::Address(AddressError::Invalid {
                    text: "not-an-address".into(),
                    reason: lettre::address::AddressError::MissingParts
                }))
            )
        );
        // A quoted name with a line break: the break never reaches a header.
        assert_eq!(
            summary[4],
            (
                6,
                Ok(("carol@nhs.example".into(), Some("Multi line".into())))
            )
        );
        assert_eq!(summary[5], (8, Err(BadRow::NotUtf8)));
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
