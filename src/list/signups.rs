//! Sign-ups and consent, `state/signups.jsonl`: one JSON object a line,
//! appended under the file's lock and fsynced before anything is said
//! about it. A reader's consent record is every line about their address:
//! when they asked, the words they agreed to, when the confirmation went,
//! when they confirmed, when they were put on the list; or the import that
//! added them, with its source and the row as it was.
//!
//! The service, `readers import` and `readers erase` share the file, so
//! every change is decided under its lock from the file as it stands
//! ([`Locked`]); `erase` replaces it without the address, and a writer
//! waiting for the lock moves to the new file.

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::fs::{self, Action, FileError};
use crate::list::address;

/// The file under the state folder.
pub(crate) const FILE: &str = "signups.jsonl";

/// The most the file may grow to before it is refused (a year of a busy
/// form is a few megabytes; a flood held to the hourly limit, with lapsed
/// sign-ups pruned, stays far below it).
const LIMIT: u64 = 1024 * 1024 * 1024;

/// The file for the state folder `state`.
pub(crate) fn path(state: &Path) -> PathBuf {
    state.join(FILE)
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Record {
    /// Someone asked, by the form, for `email` to join: pending until
    /// confirmed, and no longer once `expires` has passed.
    Asked {
        id: String,
        email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
        /// Where the form was: `form`, or the page that posted it.
        source: String,
        /// The consent statement, word for word, and its version.
        wording: String,
        version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// The confirmation message was accepted by a relay.
    Mailed {
        id: String,
        email: String,
        at: DateTime<Utc>,
    },
    /// The reader pressed the confirmation button.
    Confirmed {
        id: String,
        email: String,
        at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// The confirmed reader's row is on the list.
    Joined {
        id: String,
        email: String,
        at: DateTime<Utc>,
    },
    /// `readers import` added the reader: the operator's record of how
    /// they consented (`source`), the file and the row as it was.
    Imported {
        email: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        at: DateTime<Utc>,
        source: String,
        file: String,
        line: u64,
        row: String,
    },
}

impl Record {
    /// The address the record is about.
    pub(crate) fn email(&self) -> &str {
        match self {
            Record::Asked { email, .. }
            | Record::Mailed { email, .. }
            | Record::Confirmed { email, .. }
            | Record::Joined { email, .. }
            | Record::Imported { email, .. } => email,
        }
    }

    /// True when the record is about `email` (compared in its one form).
    pub(crate) fn is_about(&self, email: &str) -> bool {
        address::identity(self.email()) == address::identity(email)
    }

    /// The record as one line, ending in a newline.
    pub(crate) fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// What the file says, read whole.
#[derive(Debug, Default)]
pub(crate) struct Signups {
    pub records: Vec<Record>,
    /// Lines that could not be read, as `file:line: why`.
    pub warnings: Vec<String>,
}

impl Signups {
    fn parse(path: &Path, bytes: &[u8]) -> Signups {
        let mut signups = Signups::default();
        // A last line without its newline was cut short by a crash, before
        // anything was said about it.
        let whole = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => &bytes[..=end],
            None => &[][..],
        };
        for (n, line) in whole.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => signups.records.push(record),
                Err(e) => signups
                    .warnings
                    .push(format!("{}:{}: {e}", path.display(), n + 1)),
            }
        }
        signups
    }

    /// Reads the file; a missing file has no records.
    ///
    /// # Errors
    /// The file cannot be read, is not a regular file, or is too large.
    pub(crate) fn load(path: &Path) -> Result<Signups, FileError> {
        Ok(fs::read_kept(path, LIMIT)?
            .map(|bytes| Signups::parse(path, &bytes))
            .unwrap_or_default())
    }

    /// True when the sign-up `id` was confirmed.
    pub(crate) fn is_confirmed(&self, id: &str) -> bool {
        self.records
            .iter()
            .any(|r| matches!(r, Record::Confirmed { id: c, .. } if c == id))
    }

    /// Confirmed sign-ups not yet on the list.
    pub(crate) fn to_join(&self) -> Vec<Joining> {
        let joined: HashSet<&str> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Joined { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let names: HashMap<&str, &Option<String>> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Asked { id, name, .. } => Some((id.as_str(), name)),
                _ => None,
            })
            .collect();
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Confirmed { id, email, at, .. } if !joined.contains(id.as_str()) => {
                    Some(Joining {
                        id: id.clone(),
                        email: email.clone(),
                        name: names.get(id.as_str()).and_then(|n| (*n).clone()),
                        confirmed: *at,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Sign-ups of `email` since `since` (each was sent a confirmation,
    /// or was meant to be).
    pub(crate) fn asked_since(&self, email: &str, since: DateTime<Utc>) -> usize {
        let wanted = address::identity(email);
        self.records
            .iter()
            .filter(|r| {
                matches!(r, Record::Asked { email, at, .. }
                    if *at >= since && address::identity(email) == wanted)
            })
            .count()
    }

    /// The address the sign-up `id` is for, if there is one.
    pub(crate) fn about_id(&self, id: &str) -> Option<&str> {
        self.records.iter().find_map(|r| match r {
            Record::Asked {
                id: asked, email, ..
            } if asked == id => Some(email.as_str()),
            _ => None,
        })
    }

    /// Every record about `email`, in order.
    pub(crate) fn about<'s>(&'s self, email: &'s str) -> impl Iterator<Item = &'s Record> + 's {
        self.records.iter().filter(move |r| r.is_about(email))
    }
}

/// A confirmed sign-up waiting to be put on the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joining {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub confirmed: DateTime<Utc>,
}

/// The file as last read, kept up to date by reading only what was
/// appended since (the whole file again if it was replaced or cut), so
/// that a busy form does not read a long file for every request.
#[derive(Debug, Default)]
pub(crate) struct View {
    pub signups: Signups,
    file: Option<(u64, u64)>,
    read_to: u64,
}

/// The file held under its exclusive lock: read as it stands, appended to
/// durably, or replaced.
#[derive(Debug)]
pub(crate) struct Locked {
    rows: fs::LockedRows,
    path: PathBuf,
}

impl Locked {
    /// Opens (creating) and locks the file.
    ///
    /// # Errors
    /// See [`fs::LockedRows::lock`].
    pub(crate) fn lock(path: &Path) -> Result<Locked, FileError> {
        Ok(Locked {
            rows: fs::LockedRows::lock(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Brings `view` up to what the file holds now.
    ///
    /// # Errors
    /// The file cannot be read, or is too large.
    pub(crate) fn refresh(&mut self, view: &mut View) -> Result<(), FileError> {
        use std::os::unix::fs::MetadataExt as _;
        let fail = |e| FileError::io(Action::Read, &self.path, e);
        let meta = self.rows.file.metadata().map_err(fail)?;
        if meta.len() > LIMIT {
            return Err(fail(std::io::Error::other(format!(
                "it is over {} MB",
                LIMIT / 1024 / 1024
            ))));
        }
        let same = view.file == Some((meta.dev(), meta.ino())) && meta.len() >= view.read_to;
        if !same {
            *view = View {
                file: Some((meta.dev(), meta.ino())),
                ..View::default()
            };
        }
        let mut bytes = Vec::new();
        let file = &mut self.rows.file;
        file.seek(SeekFrom::Start(view.read_to)).map_err(fail)?;
        file.read_to_end(&mut bytes).map_err(fail)?;
        let whole = bytes
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |end| end + 1);
        let more = Signups::parse(&self.path, &bytes[..whole]);
        view.signups.records.extend(more.records);
        view.signups.warnings.extend(more.warnings);
        view.read_to += whole as u64;
        Ok(())
    }

    /// Appends `records`, fsynced; none of them if that fails.
    ///
    /// # Errors
    /// The write or the fsync failed (a full disk).
    pub(crate) fn append(&mut self, records: &[Record]) -> Result<(), FileError> {
        let bytes: Vec<u8> = records.iter().flat_map(Record::line).collect();
        self.rows.append(b"", &bytes)
    }
}

impl Locked {
    /// Replaces the file with `records` only.
    ///
    /// # Errors
    /// The new file cannot be written; the old one stands.
    pub(crate) fn replace(&mut self, records: &[Record]) -> Result<(), FileError> {
        let bytes: Vec<u8> = records.iter().flat_map(Record::line).collect();
        self.rows.replace(&bytes)
    }

    /// The file's length now.
    ///
    /// # Errors
    /// The file cannot be looked at.
    pub(crate) fn len(&self) -> Result<u64, FileError> {
        self.rows
            .file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| FileError::io(Action::Read, &self.path, e))
    }
}

impl Signups {
    /// The records without the sign-ups that were never confirmed and
    /// whose link has expired: no consent was given, and nothing is kept of
    /// them once their limits no longer count (a flood of sign-ups cannot
    /// grow the file for ever).
    pub(crate) fn without_lapsed(&self, now: DateTime<Utc>) -> Option<Vec<Record>> {
        let confirmed: HashSet<&str> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Confirmed { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let lapsed: HashSet<&str> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Asked { id, expires, .. }
                    if *expires < now && !confirmed.contains(id.as_str()) =>
                {
                    Some(id.as_str())
                }
                _ => None,
            })
            .collect();
        if lapsed.is_empty() {
            return None;
        }
        Some(
            self.records
                .iter()
                .filter(|r| match r {
                    Record::Asked { id, .. } | Record::Mailed { id, .. } => {
                        !lapsed.contains(id.as_str())
                    }
                    _ => true,
                })
                .cloned()
                .collect(),
        )
    }
}

/// A new sign-up's id: 16 random bytes in hex.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut bytes)
        .unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("time")
    }

    fn asked(id: &str, email: &str) -> Record {
        Record::Asked {
            id: id.into(),
            email: email.into(),
            name: None,
            at: at("2026-12-01T10:00:00Z"),
            expires: at("2026-12-08T10:00:00Z"),
            source: "form".into(),
            wording: "Send me the news.".into(),
            version: "abc".into(),
            client: None,
        }
    }

    #[test]
    fn a_sign_up_is_pending_until_confirmed_and_then_waits_to_join() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(FILE);
        let mut locked = Locked::lock(&path).expect("lock");
        locked
            .append(&[asked("a1", "Ann@NHS.example")])
            .expect("append");
        let mut view = View::default();
        locked.refresh(&mut view).expect("read");
        let read = &view.signups;
        assert_eq!(read.about_id("a1"), Some("Ann@NHS.example"));
        assert!(!read.is_confirmed("a1"));
        assert!(read.to_join().is_empty());
        let confirmed = Record::Confirmed {
            id: "a1".into(),
            email: "Ann@NHS.example".into(),
            at: at("2026-12-01T10:05:00Z"),
            client: None,
        };
        locked.append(&[confirmed]).expect("append");
        let mut view = View::default();
        locked.refresh(&mut view).expect("read");
        let read = &view.signups;
        assert!(read.is_confirmed("a1"));
        assert_eq!(
            read.to_join(),
            vec![Joining {
                id: "a1".into(),
                email: "Ann@NHS.example".into(),
                name: None,
                confirmed: at("2026-12-01T10:05:00Z"),
            }]
        );
        // Read as appended: only the new line is read.
        locked
            .append(&[asked("a2", "bob@nhs.example")])
            .expect("append");
        assert_eq!(read.about("ann@nhs.example").count(), 2);
        locked.refresh(&mut view).expect("refresh");
        assert_eq!(view.signups.records.len(), 3);
    }

    #[test]
    fn lapsed_sign_ups_go_and_confirmed_ones_stay() {
        let mailed = |id: &str| Record::Mailed {
            id: id.into(),
            email: "x@nhs.example".into(),
            at: at("2026-12-01T10:00:01Z"),
        };
        let confirmed = Record::Confirmed {
            id: "kept".into(),
            email: "x@nhs.example".into(),
            at: at("2026-12-02T10:00:00Z"),
            client: None,
        };
        let all = Signups {
            records: vec![
                asked("lapsed", "x@nhs.example"),
                mailed("lapsed"),
                asked("kept", "x@nhs.example"),
                mailed("kept"),
                confirmed.clone(),
            ],
            warnings: Vec::new(),
        };
        assert_eq!(
            all.without_lapsed(at("2026-12-09T00:00:00Z")),
            Some(vec![
                asked("kept", "x@nhs.example"),
                mailed("kept"),
                confirmed
            ])
        );
        assert_eq!(
            all.without_lapsed(at("2026-12-02T00:00:00Z")),
            None,
            "not yet expired"
        );
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_a_bad_line_named() {
        let path = Path::new("state/signups.jsonl");
        let mut bytes = asked("a1", "ann@nhs.example").line();
        bytes.extend_from_slice(b"{not json}\n{\"event\":\"asked\",\"id\":\"a2\"");
        let read = Signups::parse(path, &bytes);
        assert_eq!(read.records, vec![asked("a1", "ann@nhs.example")]);
        assert_eq!(read.warnings.len(), 1);
        assert!(
            read.warnings[0].starts_with("state/signups.jsonl:2: "),
            "{:?}",
            read.warnings
        );
    }
}
