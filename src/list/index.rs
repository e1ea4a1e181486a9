//! Finding a reader from what catchup put in their message (their
//! unsubscribe token, or the id in their Message-ID), without the list in
//! memory as strings: an index of (first 8 bytes, row offset) pairs, 16
//! bytes a reader per accepted key, sorted. A match is read back from the
//! list at its offset and checked in full (a token in constant time). The
//! web service rebuilds its index when the list file changes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::list::subscribers::{ListError, Subscribers, email_at};
use crate::list::token::{Key, Keys, Token};

/// What the index is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// The unsubscribe token (links, VERP return paths).
    Token,
    /// The reader id in Message-IDs (returned mail that quotes one).
    MessageId,
}

impl By {
    fn number(self, key: &Key, email: &str) -> u64 {
        match self {
            By::Token => key.token_prefix(email),
            By::MessageId => key.message_id_number(email),
        }
    }
}

/// The index over one subscriber list.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    by: By,
    /// Which file, its length and modification time, when indexed.
    stamp: Option<Stamp>,
    column: usize,
    /// (first 8 bytes of a token, offset of its row), sorted.
    entries: Vec<(u64, u64)>,
    /// Why the list could not be indexed, if it could not: no reader can
    /// be told their link is bad until it can.
    unusable: Option<String>,
}

type Stamp = (u64, u64, u64, SystemTime);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino(), meta.len(), meta.modified().ok()?))
}

impl Readers {
    /// Indexes `path` under every key in `keys`. A missing list is an
    /// empty index.
    ///
    /// # Errors
    /// The list exists but cannot be read, or is malformed.
    pub(crate) fn build(path: &Path, keys: &Keys, by: By) -> Result<Readers, ListError> {
        let [built] = Readers::build_many(path, keys, [by], |_| {})?;
        Ok(built)
    }

    /// One index per `bys`, from one pass over the list, which also hands
    /// every usable reader to `also` (for an index of the caller's own).
    ///
    /// # Errors
    /// The list exists but cannot be read, or is malformed.
    pub(crate) fn build_many<const N: usize>(
        path: &Path,
        keys: &Keys,
        bys: [By; N],
        mut also: impl FnMut(&crate::list::reader::Reader),
    ) -> Result<[Readers; N], ListError> {
        let stamp = stamp(path);
        let empty = |by: By, column: usize| Readers {
            path: path.to_path_buf(),
            by,
            stamp,
            column,
            entries: Vec::new(),
            unusable: None,
        };
        if stamp.is_none() {
            return Ok(bys.map(|by| empty(by, 0)));
        }
        let rows = Subscribers::open(path)?;
        let column = rows.email_column();
        let failure = rows.failure();
        let mut built = bys.map(|by| empty(by, column));
        for row in rows {
            let Ok(reader) = row.reader else {
                continue;
            };
            also(&reader);
            for index in &mut built {
                for key in keys.all() {
                    let number = index.by.number(key, reader.email.as_ref());
                    index.entries.push((number, row.offset));
                }
            }
        }
        if let Some(why) = crate::list::subscribers::taken(&failure) {
            return Err(why);
        }
        for index in &mut built {
            index.entries.sort_unstable();
            index.entries.shrink_to_fit();
        }
        Ok(built)
    }

    /// An index that says the list cannot be used now, until it changes.
    pub(crate) fn unusable(path: &Path, by: By, why: String) -> Readers {
        Readers {
            path: path.to_path_buf(),
            by,
            stamp: stamp(path),
            column: 0,
            entries: Vec::new(),
            unusable: Some(why),
        }
    }

    /// True when the list has changed since it was indexed.
    pub(crate) fn is_stale(&self) -> bool {
        stamp(&self.path) != self.stamp
    }

    /// How many entries the index holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The address whose token this is under one of `keys`, if any.
    ///
    /// # Errors
    /// The list cannot be read back.
    pub(crate) fn find(&self, token: &Token, keys: &Keys) -> Result<Option<String>, ListError> {
        debug_assert_eq!(self.by, By::Token);
        self.find_by(token.prefix(), |email| {
            keys.all().any(|key| key.verify(email, token))
        })
    }

    /// The address whose Message-ID id this is under one of `keys`, if any.
    ///
    /// # Errors
    /// The list cannot be read back.
    pub(crate) fn find_message_id(
        &self,
        id: u64,
        keys: &Keys,
    ) -> Result<Option<String>, ListError> {
        debug_assert_eq!(self.by, By::MessageId);
        self.find_by(id, |email| {
            keys.all().any(|key| key.message_id_number(email) == id)
        })
    }

    fn find_by(
        &self,
        number: u64,
        matches: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, ListError> {
        if let Some(why) = &self.unusable {
            return Err(ListError::Read {
                path: self.path.clone(),
                why: why.clone(),
            });
        }
        let start = self.entries.partition_point(|(p, _)| *p < number);
        for &(p, offset) in &self.entries[start..] {
            if p != number {
                break;
            }
            let Some(email) = email_at(&self.path, offset, self.column)? else {
                continue;
            };
            if matches(email.as_ref()) {
                return Ok(Some(email.to_string()));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::token::Key;

    #[test]
    fn a_reader_is_found_from_their_token_under_either_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.csv");
        std::fs::write(
            &path,
            "name,email\r\nAnn,ann@nhs.example\r\n\r\nBob,bob@nhs.example\r\n",
        )
        .expect("write");
        let old = Key::new("the previous secret, thirty-two bytes").expect("key");
        let keys = Keys {
            current: Key::new("the current secret, thirty-two bytes!").expect("key"),
            previous: Some(old.clone()),
        };
        let readers = Readers::build(&path, &keys, By::Token).expect("index");
        assert_eq!(readers.len(), 4, "two readers, two keys");
        for email in ["ann@nhs.example", "bob@nhs.example"] {
            for key in keys.all() {
                let token = Token::parse(&key.token(email)).expect("token");
                assert_eq!(
                    readers.find(&token, &keys).expect("find").as_deref(),
                    Some(email)
                );
            }
        }
        let stranger = Token::parse(&keys.current.token("eve@nhs.example")).expect("token");
        assert_eq!(readers.find(&stranger, &keys).expect("find"), None);
        let without_old = Keys {
            current: keys.current.clone(),
            previous: None,
        };
        let old_link = Token::parse(&old.token("ann@nhs.example")).expect("token");
        assert_eq!(
            readers.find(&old_link, &without_old).expect("find"),
            None,
            "rotated out"
        );
        assert!(!readers.is_stale());

        let by_id = Readers::build(&path, &keys, By::MessageId).expect("index");
        let id = keys.current.message_id_number("bob@nhs.example");
        assert_eq!(
            by_id.find_message_id(id, &keys).expect("find").as_deref(),
            Some("bob@nhs.example")
        );
        assert_eq!(by_id.find_message_id(id ^ 1, &keys).expect("find"), None);
    }
}
