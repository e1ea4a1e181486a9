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

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::fs::journal::{Batcher, WriteError};
use crate::fs::{self, Action, FileError};
use crate::list::address;
use crate::list::reader::ReaderKey;
use crate::list::subscribers::ListError;

/// The header of a suppression list catchup creates.
pub(crate) const HEADER: &str = "email,reason,at,issue\n";

/// Reasons that lift a suppression instead of adding one.
/// `joined`: the reader confirmed a new sign-up, which is new consent
/// whatever took them off before.
pub(crate) const LIFTING: &[&str] = &["resubscribed", "removed", "joined"];

/// How an erased reader's row begins: `erased:<keyed hash>,erased,<at>,`.
/// It suppresses no address by itself; imports and sign-ups look for it.
const ERASED_PREFIX: &str = "erased:";

/// The row an erased reader leaves: the keyed hash of their address.
pub(crate) fn erased_row(hash: &str, at: DateTime<Utc>) -> Vec<u8> {
    format!(
        "{ERASED_PREFIX}{hash},erased,{},\n",
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
    .into_bytes()
}

/// The keyed hashes of every erased reader on the list at `path`.
///
/// # Errors
/// The file exists but cannot be read.
pub(crate) fn erased(path: &Path) -> Result<std::collections::HashSet<String>, ListError> {
    let Some(bytes) = read_since(path, 0)? else {
        return Ok(std::collections::HashSet::new());
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|line| line.trim().strip_prefix(ERASED_PREFIX))
        .filter_map(|rest| rest.split(',').next())
        .map(str::to_string)
        .collect())
}

/// One event: `email` suppressed (or lifted) for `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub email: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The issue it came from, if any.
    pub issue: Option<String>,
}

impl Event {
    /// The event as one CSV row, quoted where needed, ending in a newline.
    pub(crate) fn row(&self) -> Vec<u8> {
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
    pub(crate) fn lifts(&self) -> bool {
        LIFTING
            .iter()
            .any(|r| r.eq_ignore_ascii_case(self.reason.trim()))
    }

    /// True for the reader's own choice (an unsubscribe, a complaint), which
    /// only they should undo.
    /// The reader's own unsubscribe (by the link, the page or mail).
    pub(crate) fn is_unsubscribe(&self) -> bool {
        self.reason
            .trim()
            .to_ascii_lowercase()
            .starts_with("unsubscribe")
    }

    pub(crate) fn is_readers_own(&self) -> bool {
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
        if email.is_empty() || email.starts_with(ERASED_PREFIX) {
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
pub(crate) fn events(path: &Path) -> Result<(Vec<Event>, Vec<String>), ListError> {
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
pub(crate) fn current(events: &[Event]) -> Vec<&Event> {
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
pub(crate) fn since_last_lift(events: &[Event], key: ReaderKey) -> Vec<&Event> {
    let about: Vec<&Event> = events
        .iter()
        .filter(|e| ReaderKey::of(&e.email) == key)
        .collect();
    let start = about.iter().rposition(|e| e.lifts()).map_or(0, |i| i + 1);
    about[start..].to_vec()
}

/// Where one address stands: what suppresses it since it was last lifted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Their own unsubscribe (a link, the page, mailto).
    pub unsubscribed: bool,
    /// Their complaint (a feedback loop).
    pub complained: bool,
    /// Anything else: a bounce, an operator's entry.
    pub other: bool,
    /// When the latest event that suppresses it was recorded.
    pub since: Option<DateTime<Utc>>,
}

impl Standing {
    pub(crate) fn is_suppressed(self) -> bool {
        self.unsubscribed || self.complained || self.other
    }

    /// Takes in one more event about the address.
    fn apply(&mut self, event: &Event) {
        if event.lifts() {
            *self = Standing::default();
            return;
        }
        self.since = Some(self.since.map_or(event.at, |since| since.max(event.at)));
        let reason = event.reason.trim().to_ascii_lowercase();
        if reason.starts_with("unsubscribe") {
            self.unsubscribed = true;
        } else if reason == "complaint" {
            self.complained = true;
        } else {
            self.other = true;
        }
    }
}

/// What identifies one file at a path: a compaction or a hand edit that
/// replaces it gives another.
type FileId = (u64, u64);

/// How much of the start and of the end of what was read is kept, to tell
/// a file appended to from one rewritten in place.
const EDGE: usize = 64 * 1024;

/// The suppression list as it stands, kept up to date cheaply: each
/// [`Suppressed::refresh`] looks at the file's identity, length and
/// modification time (one `stat`). If they changed, what was read before
/// is checked against the copy kept of its first and last 64 KB (a file
/// is read once; the check reads those again): unchanged, only the rows appended
/// since are read; replaced (compacted, restored), cut shorter or
/// rewritten in place (`cp` over it, an editor), the file is read again
/// whole.
#[derive(Debug)]
pub(crate) struct Suppressed {
    path: PathBuf,
    standings: HashMap<ReaderKey, Standing>,
    /// The file read, how far (whole rows only), its modification time
    /// then, and the first and last [`EDGE`] bytes of what was read.
    file: Option<FileId>,
    read_to: u64,
    modified: Option<std::time::SystemTime>,
    head: Vec<u8>,
    tail: Vec<u8>,
    rows: Rows,
    /// Rows read since the file was last read whole.
    pub row_count: usize,
    /// Rows that are not addresses, as `file:line: why`.
    pub warnings: Vec<String>,
}

impl Suppressed {
    /// Reads the suppression list; a missing file is an empty list.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub(crate) fn load(path: &Path) -> Result<Suppressed, ListError> {
        let mut suppressed = Suppressed {
            path: path.to_path_buf(),
            standings: HashMap::new(),
            file: None,
            read_to: 0,
            modified: None,
            head: Vec::new(),
            tail: Vec::new(),
            rows: Rows::new(),
            row_count: 0,
            warnings: Vec::new(),
        };
        suppressed.refresh()?;
        Ok(suppressed)
    }

    /// Brings the list up to date: nothing to read (one `stat`) if the
    /// file is as it was; the rows appended since; or the whole file if it
    /// was replaced or cut shorter.
    ///
    /// # Errors
    /// The file cannot be read.
    pub(crate) fn refresh(&mut self) -> Result<(), ListError> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(None);
                return Ok(());
            }
            Err(e) => return Err(FileError::io(Action::Read, &self.path, e).into()),
        };
        if self.file == Some((meta.dev(), meta.ino()))
            && meta.len() == self.read_to
            && meta.modified().ok() == self.modified
        {
            return Ok(());
        }
        let mut file = match fs::open_kept(&self.path, fs::Kept::Read) {
            Ok(file) => file,
            Err(e) if e.kind() == Some(std::io::ErrorKind::NotFound) => {
                self.forget(None);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let read_error = |e| ListError::from(FileError::io(Action::Read, &self.path, e));
        file.lock_shared().map_err(read_error)?;
        self.read_from(&mut file)
    }

    /// Brings the list up to date from `file`, the list opened and locked
    /// by the caller.
    fn read_from(&mut self, file: &mut File) -> Result<(), ListError> {
        use std::os::unix::fs::MetadataExt as _;
        let path = self.path.clone();
        let read_error = |e| ListError::from(FileError::io(Action::Read, &path, e));
        let meta = file.metadata().map_err(read_error)?;
        let id = (meta.dev(), meta.ino());
        let rewritten = self.file != Some(id)
            || meta.len() < self.read_to
            || !self.edges_unchanged(file).map_err(read_error)?;
        if rewritten {
            self.forget(Some(id));
        }
        file.seek(SeekFrom::Start(self.read_to))
            .map_err(read_error)?;
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk).map_err(read_error)?;
        self.read_to += chunk.len() as u64;
        self.modified = meta.modified().ok();
        self.keep_edges(&chunk);
        let events = self.rows.read(&self.path, &chunk, &mut self.warnings);
        self.row_count += events.len();
        for event in &events {
            self.standings
                .entry(ReaderKey::of(&event.email))
                .or_default()
                .apply(event);
        }
        self.standings.retain(|_, s| s.is_suppressed());
        Ok(())
    }

    /// Starts again from nothing, as for a new file.
    fn forget(&mut self, file: Option<FileId>) {
        self.standings.clear();
        self.file = file;
        self.read_to = 0;
        self.modified = None;
        self.head.clear();
        self.tail.clear();
        self.rows = Rows::new();
        self.row_count = 0;
        self.warnings.clear();
    }

    /// True when the first and last bytes read before are still in the
    /// file as they were (an append leaves them; `cp` over the file, or an
    /// editor's rewrite, moves them).
    fn edges_unchanged(&self, file: &File) -> std::io::Result<bool> {
        use std::os::unix::fs::FileExt as _;
        let mut head = vec![0; self.head.len()];
        file.read_exact_at(&mut head, 0)?;
        let mut tail = vec![0; self.tail.len()];
        file.read_exact_at(&mut tail, self.read_to - self.tail.len() as u64)?;
        Ok(head == self.head && tail == self.tail)
    }

    /// Keeps the first and last [`EDGE`] bytes read, with `chunk` just read.
    fn keep_edges(&mut self, chunk: &[u8]) {
        let room = EDGE.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
        self.tail.extend_from_slice(chunk);
        let excess = self.tail.len().saturating_sub(EDGE);
        self.tail.drain(..excess);
    }

    pub(crate) fn contains(&self, key: ReaderKey) -> bool {
        self.standings.contains_key(&key)
    }

    /// Where `key` stands (not suppressed if the list does not name it).
    pub(crate) fn standing(&self, key: ReaderKey) -> Standing {
        self.standings.get(&key).copied().unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.standings.len()
    }
}

/// The bytes from `offset` up to the end, read under a shared lock; `None`
/// if the file does not exist. A final row without a newline (a list
/// written by hand) counts as whole: appends hold the exclusive lock, so a
/// reader never sees one half-written.
fn read_since(path: &Path, offset: u64) -> Result<Option<Vec<u8>>, ListError> {
    let read_error = |e: std::io::Error| ListError::from(FileError::io(Action::Read, path, e));
    let mut file = match fs::open_kept(path, fs::Kept::Read) {
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

/// Appends events durably (see [`fs::LockedRows::append`]), creating
/// the list with its header if there is none.
///
/// # Errors
/// The list cannot be written, or is not a regular file; nothing was
/// recorded.
pub(crate) fn append(path: &Path, events: &[Event]) -> Result<(), FileError> {
    let rows: Vec<u8> = events.iter().flat_map(Event::row).collect();
    fs::append_rows(path, HEADER.as_bytes(), &rows)
}

/// A change a reader asks for through the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Their own unsubscribe (`reason` says how: `unsubscribe`), from the
    /// issue whose link they followed, if the link says.
    Unsubscribe {
        email: String,
        reason: String,
        issue: Option<String>,
    },
    /// Undoing their own unsubscribe.
    Resubscribe { email: String },
    /// A sign-up confirmed at `confirmed`: new consent, which lifts
    /// whatever suppressed the address before then (not what came after:
    /// an unsubscribe since stands).
    Join {
        email: String,
        confirmed: DateTime<Utc>,
    },
}

/// What became of a [`Change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Recorded, durably.
    Recorded,
    /// Already so: nothing was written (a repeated request changes
    /// nothing, and grows nothing).
    Unchanged,
    /// Not theirs to undo: a complaint or a bounce suppresses them, which
    /// a click cannot lift.
    Refused,
}

/// When a list holds more rows than this many per suppressed address
/// (plus [`COMPACT_SLACK`]), the service compacts it.
const COMPACT_RATIO: usize = 2;
const COMPACT_SLACK: usize = 1000;

/// Records readers' changes for a service: requests that arrive together
/// share one locked append (one write, one fsync), each decided from the
/// list as it stands under the lock, and each durable before
/// [`Writer::record`] returns. The list is compacted when repeated changes
/// have grown it past [`COMPACT_RATIO`] rows an address.
#[derive(Debug)]
pub(crate) struct Writer {
    batcher: Batcher<Change, Outcome>,
}

impl Writer {
    /// Checks the list can be written (creating it with its header), and
    /// starts the writer.
    ///
    /// # Errors
    /// The list cannot be written, or is not a regular file.
    pub(crate) fn open(path: &Path) -> Result<Writer, ListError> {
        append(path, &[])?;
        let mut view = Suppressed::load(path)?;
        let target = path.to_path_buf();
        let batcher = Batcher::start("suppression", move |changes: &[Change]| {
            commit(&target, &mut view, changes).map_err(|e| WriteError(e.to_string()))
        })
        .map_err(|e| FileError::io(Action::Write, path, e))?;
        Ok(Writer { batcher })
    }

    /// Records one change, durably.
    ///
    /// # Errors
    /// The write or fsync failed: the change is not recorded.
    pub(crate) async fn record(&self, change: Change) -> Result<Outcome, WriteError> {
        self.batcher.submit(change).await
    }
}

/// One batch of changes, under the list's lock.
fn commit(
    path: &Path,
    view: &mut Suppressed,
    changes: &[Change],
) -> Result<Vec<Outcome>, ListError> {
    let mut locked = fs::LockedRows::lock(path)?;
    view.read_from(&mut locked.file)?;
    let now = crate::clock::wall();
    let mut events = Vec::new();
    let mut outcomes = Vec::new();
    let mut standings: HashMap<ReaderKey, Standing> = HashMap::new();
    for change in changes {
        let (email, reason, issue) = match change {
            Change::Unsubscribe {
                email,
                reason,
                issue,
            } => (email, reason.as_str(), issue.clone()),
            Change::Resubscribe { email } => (email, "resubscribed", None),
            Change::Join { email, .. } => (email, "joined", None),
        };
        let key = ReaderKey::of(email);
        let standing = standings.entry(key).or_insert_with(|| view.standing(key));
        let outcome = match change {
            Change::Unsubscribe { .. } if standing.unsubscribed => Outcome::Unchanged,
            Change::Unsubscribe { .. } => Outcome::Recorded,
            Change::Resubscribe { .. } if !standing.is_suppressed() => Outcome::Unchanged,
            Change::Resubscribe { .. } if standing.complained || standing.other => Outcome::Refused,
            Change::Resubscribe { .. } => Outcome::Recorded,
            Change::Join { confirmed, .. }
                if standing.is_suppressed()
                    && standing.since.is_none_or(|since| since <= *confirmed) =>
            {
                Outcome::Recorded
            }
            Change::Join { .. } => Outcome::Unchanged,
        };
        if outcome == Outcome::Recorded {
            let event = Event {
                email: email.clone(),
                reason: reason.to_string(),
                at: now,
                issue,
            };
            standing.apply(&event);
            events.push(event);
        }
        outcomes.push(outcome);
    }
    if !events.is_empty() {
        let rows: Vec<u8> = events.iter().flat_map(Event::row).collect();
        locked.append(HEADER.as_bytes(), &rows)?;
        view.read_from(&mut locked.file)?;
    }
    if view.row_count > COMPACT_RATIO * view.len() + COMPACT_SLACK {
        compact(&mut locked, view)?;
    }
    Ok(outcomes)
}

/// Rewrites the list (held under its lock) with only what still matters
/// about each address: its last lift and what suppressed it since, once
/// per reason, in their order. Who is suppressed, and why, is unchanged.
///
/// # Errors
/// The list cannot be read or rewritten; it stands as it was.
pub(crate) fn compact(locked: &mut fs::LockedRows, view: &mut Suppressed) -> Result<(), ListError> {
    let read_error = |e| ListError::from(FileError::io(Action::Read, &view.path, e));
    let mut whole = Vec::new();
    locked.file.seek(SeekFrom::Start(0)).map_err(read_error)?;
    locked.file.read_to_end(&mut whole).map_err(read_error)?;
    let events = Rows::new().read(&view.path, &whole, &mut Vec::new());
    let bytes = compacted(&events);
    locked.replace(&bytes)?;
    view.forget(None);
    view.read_from(&mut locked.file)?;
    Ok(())
}

/// The rows [`compact`] keeps, as the file's bytes.
fn compacted(events: &[Event]) -> Vec<u8> {
    let mut keep = vec![false; events.len()];
    let mut seen: HashMap<ReaderKey, Vec<String>> = HashMap::new();
    // From the last event back: each reason once until the last lift,
    // which is kept too (it dates the lift).
    let mut lifted: std::collections::HashSet<ReaderKey> = std::collections::HashSet::new();
    for (i, event) in events.iter().enumerate().rev() {
        let key = ReaderKey::of(&event.email);
        if lifted.contains(&key) {
            continue;
        }
        if event.lifts() {
            lifted.insert(key);
            keep[i] = true;
            continue;
        }
        let reason = event.reason.trim().to_ascii_lowercase();
        let reasons = seen.entry(key).or_default();
        if !reasons.contains(&reason) {
            reasons.push(reason);
            keep[i] = true;
        }
    }
    let mut bytes = HEADER.as_bytes().to_vec();
    for (event, kept) in events.iter().zip(keep) {
        if kept {
            bytes.extend(event.row());
        }
    }
    bytes
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
        crate::fs::mkfifo(&fifo);
        let err = append(&fifo, &[]).expect_err("fifo");
        assert!(err.to_string().contains("it is a FIFO"), "{err}");

        assert!(
            Suppressed::load(&dir.path().join("missing.csv"))
                .expect("missing")
                .len()
                == 0
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

    fn unsubscribe(email: &str) -> Change {
        Change::Unsubscribe {
            email: email.into(),
            reason: "unsubscribe".into(),
            issue: Some("2018-07-27".into()),
        }
    }

    fn resubscribe(email: &str) -> Change {
        Change::Resubscribe {
            email: email.into(),
        }
    }

    /// See: issue 18, items 7 and 8. Each repeated unsubscribe or
    /// resubscribe appended a row; a resubscribe lifted a complaint or a
    /// bounce.
    #[test]
    fn a_repeat_writes_nothing_and_a_click_lifts_only_an_unsubscribe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suppressed.csv");
        append(
            &path,
            &[
                event("cat@nhs.example", "complaint"),
                event("dan@nhs.example", "hard-bounce 5.1.1"),
            ],
        )
        .expect("append");
        let mut view = Suppressed::load(&path).expect("load");
        let outcomes = commit(
            &path,
            &mut view,
            &[
                unsubscribe("ann@nhs.example"),
                unsubscribe("ANN@nhs.example"),
                resubscribe("bob@nhs.example"),
                resubscribe("cat@nhs.example"),
                resubscribe("dan@nhs.example"),
            ],
        )
        .expect("commit");
        assert_eq!(
            outcomes,
            [
                Outcome::Recorded,
                Outcome::Unchanged,
                Outcome::Unchanged,
                Outcome::Refused,
                Outcome::Refused
            ]
        );
        let rows = || {
            std::fs::read_to_string(&path)
                .expect("read")
                .lines()
                .count()
        };
        assert_eq!(rows(), 4, "header, two, and ann's one unsubscribe");
        for _ in 0..3 {
            let again =
                commit(&path, &mut view, &[unsubscribe("ann@nhs.example")]).expect("commit");
            assert_eq!(again, [Outcome::Unchanged]);
        }
        assert_eq!(rows(), 4);
        let back = commit(&path, &mut view, &[resubscribe("ann@nhs.example")]).expect("commit");
        assert_eq!(back, [Outcome::Recorded]);
        let list = Suppressed::load(&path).expect("load");
        assert!(!list.contains(ReaderKey::of("ann@nhs.example")));
        assert!(list.contains(ReaderKey::of("cat@nhs.example")));
        assert!(list.contains(ReaderKey::of("dan@nhs.example")));
    }

    /// See: issue 18, item 7. 20,000 rows from one link in 4.2 s; at 5
    /// million, `send --dry-run` took 216 s and `serve` 129 s to start.
    #[test]
    fn toggling_keeps_the_list_the_size_of_its_readers_and_their_standing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suppressed.csv");
        append(
            &path,
            &[
                event("cat@nhs.example", "complaint"),
                event("cat@nhs.example", "resubscribed"),
                event("cat@nhs.example", "hard-bounce 5.1.1"),
            ],
        )
        .expect("append");
        let mut view = Suppressed::load(&path).expect("load");
        for _ in 0..1200 {
            commit(&path, &mut view, &[unsubscribe("ann@nhs.example")]).expect("off");
            commit(&path, &mut view, &[resubscribe("ann@nhs.example")]).expect("on");
        }
        commit(&path, &mut view, &[unsubscribe("ann@nhs.example")]).expect("off");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.lines().count() < COMPACT_SLACK + 10,
            "{} rows",
            text.lines().count()
        );
        let list = Suppressed::load(&path).expect("load");
        let ann = list.standing(ReaderKey::of("ann@nhs.example"));
        assert!(ann.unsubscribed && !ann.complained && !ann.other);
        let cat = list.standing(ReaderKey::of("cat@nhs.example"));
        assert!(cat.other && !cat.unsubscribed && !cat.complained);
        // Compacted whole: one lift and what followed it, per address.
        let (events, _) = events(&path).expect("events");
        let whole = String::from_utf8(compacted(&events)).expect("utf8");
        let cat: Vec<&str> = whole.lines().filter(|l| l.starts_with("cat@")).collect();
        assert_eq!(cat.len(), 2, "{cat:?}");
        assert!(
            cat[0].starts_with("cat@nhs.example,resubscribed,"),
            "{cat:?}"
        );
        assert!(
            cat[1].starts_with("cat@nhs.example,hard-bounce 5.1.1,"),
            "{cat:?}"
        );
    }

    /// See: issue 18, item 10. A hand-edited or replaced list was missed by
    /// a running send and by `serve` (4 of 4 later unsubscribes).
    #[test]
    fn a_replaced_list_is_read_again_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("suppressed.csv");
        append(&path, &[event("ann@nhs.example", "unsubscribe")]).expect("append");
        let mut list = Suppressed::load(&path).expect("load");
        let replacement = dir.path().join("new.csv");
        std::fs::write(&replacement, "email\nbob@nhs.example\n").expect("write");
        std::fs::rename(&replacement, &path).expect("replace");
        list.refresh().expect("refresh");
        assert!(!list.contains(ReaderKey::of("ann@nhs.example")));
        assert!(list.contains(ReaderKey::of("bob@nhs.example")));
        std::fs::write(&path, "email\n").expect("cut shorter in place");
        list.refresh().expect("refresh");
        assert_eq!(list.len(), 0);
        // See: issue 18 (adversarial re-run, N4). Rewritten in place and
        // longer (`cp` over it): only the bytes past the old end were read.
        std::fs::write(&path, "email\nann@nhs.example\n").expect("write");
        list.refresh().expect("refresh");
        std::fs::write(&path, "email\ncat@nhs.example\ndan@nhs.example\n").expect("cp over it");
        list.refresh().expect("refresh");
        assert!(!list.contains(ReaderKey::of("ann@nhs.example")));
        assert!(list.contains(ReaderKey::of("cat@nhs.example")));
        assert!(list.contains(ReaderKey::of("dan@nhs.example")));
        // The same length, edited in place.
        std::fs::write(&path, "email\nCAT@nhs.example\neve@nhs.example\n").expect("same length");
        list.refresh().expect("refresh");
        assert!(!list.contains(ReaderKey::of("dan@nhs.example")));
        assert!(list.contains(ReaderKey::of("eve@nhs.example")));
    }
}
