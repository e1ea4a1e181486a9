//! The suppression list, `config/suppressed.csv`: who is never sent to, and
//! why.
//!
//! It is an append-only CSV, `email,reason,at,issue`, one event per row: an
//! unsubscribe, a hard bounce, a complaint suppresses the address; a row
//! whose reason is `resubscribed` or `removed` lifts it again. Older files,
//! a plain list of addresses or a CSV with an `email` column, are read as
//! they are.
//!
//! Several processes share the file (`catchup serve` appending unsubscribes,
//! a list send reading it), so every append holds an exclusive `flock` and
//! every read a shared one: a reader sees whole rows only. A send re-reads
//! the rows appended since it started every few seconds, so an unsubscribe
//! reaches a running send within seconds.

use std::collections::HashSet;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::address;
use crate::files::{self, Action, FileError};
use crate::journal::{Batcher, WriteError};
use crate::message::ReaderKey;
use crate::subscribers::ListError;

/// The header of a suppression list catchup creates.
pub const HEADER: &str = "email,reason,at,issue\n";

/// Reasons that lift a suppression instead of adding one.
pub const LIFTING: &[&str] = &["resubscribed", "removed"];

/// One event: `email` suppressed (or lifted) for `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub email: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The issue it came from, if any.
    pub issue: Option<String>,
}

impl Event {
    /// The event as one CSV row, quoted where needed, ending in a newline.
    pub fn row(&self) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        let at = self.at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let _ = writer.write_record([
            self.email.as_str(),
            self.reason.as_str(),
            at.as_str(),
            self.issue.as_deref().unwrap_or(""),
        ]);
        writer.into_inner().unwrap_or_default()
    }

    /// True for an event that lifts a suppression.
    pub fn lifts(&self) -> bool {
        LIFTING
            .iter()
            .any(|r| r.eq_ignore_ascii_case(self.reason.trim()))
    }

    /// True for the reader's own choice (an unsubscribe, a complaint), which
    /// only they should undo.
    pub fn is_readers_own(&self) -> bool {
        let reason = self.reason.trim().to_ascii_lowercase();
        reason.starts_with("unsubscribe") || reason == "complaint"
    }
}

/// Which column holds what; from the header row, if there is one.
#[derive(Debug, Clone, Copy)]
struct Columns {
    email: usize,
    reason: Option<usize>,
    at: Option<usize>,
    issue: Option<usize>,
}

impl Columns {
    /// The rows catchup writes.
    const EVENT: Columns = Columns {
        email: 0,
        reason: Some(1),
        at: Some(2),
        issue: Some(3),
    };

    /// A plain list: the address is the first field.
    const PLAIN: Columns = Columns {
        email: 0,
        reason: None,
        at: None,
        issue: None,
    };

    fn from_header(record: &csv::StringRecord) -> Option<Columns> {
        let find = |name: &str| {
            record.iter().position(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .eq_ignore_ascii_case(name)
            })
        };
        Some(Columns {
            email: find("email")?,
            reason: find("reason"),
            at: find("at"),
            issue: find("issue"),
        })
    }
}

/// Turns rows into events, remembering the columns a header named.
#[derive(Debug)]
struct Rows {
    columns: Columns,
    /// Lines read so far, for warnings.
    lines: usize,
}

impl Rows {
    fn new() -> Rows {
        Rows {
            columns: Columns::PLAIN,
            lines: 0,
        }
    }

    /// Every event in `chunk` (whole rows), warnings for rows that are not
    /// addresses as `file:line: why`.
    fn read(&mut self, path: &Path, chunk: &[u8], warnings: &mut Vec<String>) -> Vec<Event> {
        let mut events = Vec::new();
        for line in chunk.split_inclusive(|&b| b == b'\n') {
            self.lines += 1;
            match self.parse(line) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => {}
                Err(why) => warnings.push(format!("{}:{}: {why}", path.display(), self.lines)),
            }
        }
        events
    }

    /// One row as an event; `None` for a header, a blank or a comment.
    fn parse(&mut self, line: &[u8]) -> Result<Option<Event>, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(line);
        let Some(record) = reader.records().next() else {
            return Ok(None);
        };
        let record = record.map_err(|_| "the row is not valid UTF-8".to_string())?;
        if self.lines == 1
            && let Some(columns) = Columns::from_header(&record)
        {
            self.columns = columns;
            return Ok(None);
        }
        // Rows catchup appends are always `email,reason,at,issue`, whatever
        // header (or none) an older list began with.
        let columns = if record.len() == 4 && record[2].trim().parse::<DateTime<Utc>>().is_ok() {
            Columns::EVENT
        } else {
            self.columns
        };
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let email = field(Some(columns.email));
        if email.is_empty() {
            return Ok(None);
        }
        let email = match address::parse(email) {
            Ok(email) => email,
            // `#` starts a comment, unless it starts an address
            // (`#news@nhs.example` is one).
            Err(_) if email.starts_with('#') => return Ok(None),
            Err(why) => return Err(format!("{why}; it cannot match anyone")),
        };
        let reason = field(columns.reason);
        Ok(Some(Event {
            email: email.to_string(),
            reason: if reason.is_empty() {
                "suppressed".into()
            } else {
                reason.into()
            },
            at: field(columns.at).parse().unwrap_or(DateTime::UNIX_EPOCH),
            issue: Some(field(columns.issue).to_string()).filter(|i| !i.is_empty()),
        }))
    }
}

/// Every event in the list, in order, and a warning for each row that is
/// not an address; a missing file has none.
///
/// # Errors
/// The file exists but cannot be read.
pub fn events(path: &Path) -> Result<(Vec<Event>, Vec<String>), ListError> {
    let mut warnings = Vec::new();
    let Some(chunk) = read_since(path, 0)? else {
        return Ok((Vec::new(), warnings));
    };
    let events = Rows::new().read(path, &chunk, &mut warnings);
    Ok((events, warnings))
}

/// Who is suppressed now, and by which event: for each address still
/// suppressed, the event that last suppressed it, in the order of those
/// events.
pub fn current(events: &[Event]) -> Vec<&Event> {
    let mut latest: std::collections::HashMap<ReaderKey, usize> = std::collections::HashMap::new();
    for (i, event) in events.iter().enumerate() {
        let key = ReaderKey::of(&event.email);
        if event.lifts() {
            latest.remove(&key);
        } else {
            latest.insert(key, i);
        }
    }
    let mut now: Vec<usize> = latest.into_values().collect();
    now.sort_unstable();
    now.into_iter().map(|i| &events[i]).collect()
}

/// The events about `key` since its suppression was last lifted (all of
/// them if it never was), in order.
pub fn since_last_lift(events: &[Event], key: ReaderKey) -> Vec<&Event> {
    let about: Vec<&Event> = events
        .iter()
        .filter(|e| ReaderKey::of(&e.email) == key)
        .collect();
    let start = about.iter().rposition(|e| e.lifts()).map_or(0, |i| i + 1);
    about[start..].to_vec()
}

/// Addresses never to send to, as the list stands.
#[derive(Debug)]
pub struct Suppressed {
    path: PathBuf,
    keys: HashSet<ReaderKey>,
    /// How far the file has been read (whole rows only).
    read_to: u64,
    rows: Rows,
    /// Rows that are not addresses, as `file:line: why`.
    pub warnings: Vec<String>,
}

impl Suppressed {
    /// Reads the suppression list; a missing file is an empty list.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn load(path: &Path) -> Result<Suppressed, ListError> {
        let mut suppressed = Suppressed {
            path: path.to_path_buf(),
            keys: HashSet::new(),
            read_to: 0,
            rows: Rows::new(),
            warnings: Vec::new(),
        };
        suppressed.refresh()?;
        Ok(suppressed)
    }

    /// Applies the rows appended since the last read.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn refresh(&mut self) -> Result<(), ListError> {
        let Some(chunk) = read_since(&self.path, self.read_to)? else {
            return Ok(());
        };
        self.read_to += chunk.len() as u64;
        for event in self.rows.read(&self.path, &chunk, &mut self.warnings) {
            let key = ReaderKey::of(&event.email);
            if event.lifts() {
                self.keys.remove(&key);
            } else {
                self.keys.insert(key);
            }
        }
        Ok(())
    }

    pub fn contains(&self, key: ReaderKey) -> bool {
        self.keys.contains(&key)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The bytes from `offset` up to the last whole row, read under a shared
/// lock; `None` if the file does not exist. A final row without a newline
/// (a list written by hand) counts as whole: appends hold the exclusive
/// lock, so a reader never sees one half-written.
fn read_since(path: &Path, offset: u64) -> Result<Option<Vec<u8>>, ListError> {
    let read_error = |e: std::io::Error| ListError::from(FileError::io(Action::Read, path, e));
    let mut file = match files::open_kept(path, files::Kept::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == Some(std::io::ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    file.lock_shared().map_err(read_error)?;
    file.seek(SeekFrom::Start(offset)).map_err(read_error)?;
    let mut chunk = Vec::new();
    file.read_to_end(&mut chunk).map_err(read_error)?;
    Ok(Some(chunk))
}

/// Appends events durably (see [`files::append_rows`]), creating the list
/// with its header if there is none.
///
/// # Errors
/// The list cannot be written, or is not a regular file; nothing was
/// recorded.
pub fn append(path: &Path, events: &[Event]) -> Result<(), FileError> {
    let rows: Vec<u8> = events.iter().flat_map(Event::row).collect();
    files::append_rows(path, HEADER.as_bytes(), &rows)
}

/// Appends events for a service: requests that arrive together share one
/// [`append`] (one write, one fsync), and each is durable before
/// [`Writer::record`] returns.
#[derive(Debug)]
pub struct Writer {
    batcher: Batcher<Event>,
}

impl Writer {
    /// Checks the list can be written (creating it with its header), and
    /// starts the writer.
    ///
    /// # Errors
    /// The list cannot be written, or is not a regular file.
    pub fn open(path: &Path) -> Result<Writer, FileError> {
        append(path, &[])?;
        let target = path.to_path_buf();
        let batcher = Batcher::start("suppression", move |events: &[Event]| {
            append(&target, events).map_err(|e| WriteError(e.to_string()))
        })
        .map_err(|e| FileError::io(Action::Write, path, e))?;
        Ok(Writer { batcher })
    }

    /// Records one event, durably.
    ///
    /// # Errors
    /// The write or fsync failed: the event is not recorded.
    pub async fn record(&self, event: Event) -> Result<(), WriteError> {
        self.batcher.submit(event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(email: &str, reason: &str) -> Event {
        Event {
            email: email.into(),
            reason: reason.into(),
            at: "2026-11-25T09:00:00Z".parse().expect("time"),
            issue: Some("2018-07-27".into()),
        }
    }

    #[test]
    fn events_suppress_and_lift_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suppressed.csv");
        append(&path, &[event("ann@nhs.example", "unsubscribe")]).expect("append");
        append(
            &path,
            &[
                event("bob@nhs.example", "hard-bounce 5.1.1"),
                event("ann@nhs.example", "resubscribed"),
            ],
        )
        .expect("append");
        let list = Suppressed::load(&path).expect("load");
        assert!(!list.contains(ReaderKey::of("ann@nhs.example")), "lifted");
        assert!(
            list.contains(ReaderKey::of("BOB@nhs.example")),
            "case-insensitive"
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "email,reason,at,issue\nann@nhs.example,unsubscribe,2026-11-25T09:00:00Z,2018-07-27\nbob@nhs.example,hard-bounce 5.1.1,2026-11-25T09:00:00Z,2018-07-27\nann@nhs.example,resubscribed,2026-11-25T09:00:00Z,2018-07-27\n"
        );
    }

    #[test]
    fn older_lists_are_still_read_and_bad_rows_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let csv = dir.path().join("s.csv");
        std::fs::write(
            &csv,
            "reason,email\nbounced,Ann@NHS.example\nunsubscribed,bob@nhs.example\n",
        )
        .expect("write");
        let list = Suppressed::load(&csv).expect("csv");
        assert!(list.contains(ReaderKey::of("ann@nhs.example")));
        assert_eq!(list.len(), 2);

        let plain = dir.path().join("p.txt");
        std::fs::write(
            &plain,
            "carol@nhs.example\n# a comment\n\nnot an address\ndave@nhs.example",
        )
        .expect("write");
        let list = Suppressed::load(&plain).expect("plain");
        assert!(list.contains(ReaderKey::of("carol@nhs.example")));
        assert!(
            list.contains(ReaderKey::of("dave@nhs.example")),
            "a last row without a newline"
        );
        assert_eq!(list.len(), 2);
        assert_eq!(list.warnings.len(), 1);
        assert!(
            list.warnings[0].contains("p.txt:4: `not an address` is not an email address"),
            "{:?}",
            list.warnings
        );

        // Appending after a hand-written last row adds the missing newline,
        // and catchup's rows keep their meaning in a list without a header.
        append(&plain, &[event("erin@nhs.example", "unsubscribe")]).expect("append");
        append(&plain, &[event("carol@nhs.example", "resubscribed")]).expect("append");
        let list = Suppressed::load(&plain).expect("again");
        assert!(list.contains(ReaderKey::of("dave@nhs.example")));
        assert!(list.contains(ReaderKey::of("erin@nhs.example")));
        assert!(!list.contains(ReaderKey::of("carol@nhs.example")), "lifted");

        // See: adversarial run, defect 1. `#` may start an address.
        let hash = dir.path().join("h.csv");
        append(&hash, &[event("#news@nhs.example", "unsubscribe")]).expect("append");
        assert!(
            Suppressed::load(&hash)
                .expect("hash")
                .contains(ReaderKey::of("#news@nhs.example"))
        );

        // See: adversarial run, defect 10. A FIFO is refused, not written to.
        let fifo = dir.path().join("fifo.csv");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .expect("mkfifo")
                .success()
        );
        let err = append(&fifo, &[]).expect_err("fifo");
        assert!(err.to_string().contains("it is a FIFO"), "{err}");

        assert!(
            Suppressed::load(&dir.path().join("missing.csv"))
                .expect("missing")
                .is_empty()
        );
    }

    #[test]
    fn a_refresh_sees_rows_appended_since() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suppressed.csv");
        let mut list = Suppressed::load(&path).expect("none yet");
        append(&path, &[event("ann@nhs.example", "unsubscribe")]).expect("append");
        assert!(!list.contains(ReaderKey::of("ann@nhs.example")));
        list.refresh().expect("refresh");
        assert!(list.contains(ReaderKey::of("ann@nhs.example")));
    }
}
