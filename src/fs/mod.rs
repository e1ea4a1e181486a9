//! The project's files, read and written safely.
//!
//! Inputs (settings, issues, seeds, lists) are read only if they are regular
//! files, and only up to a size that says what it is: a FIFO would hang a
//! read for ever, and `/dev/zero` would fill memory. Outputs are written
//! whole or not at all (a temporary file, then a rename), keeping the mode
//! of the file they replace. The files catchup keeps and appends to (its
//! state: ledgers, logs, locks, the suppression list) are opened through
//! [`open_kept`] alone: never through a symbolic link or a second hard
//! link, never a FIFO or a device, so a planted name cannot make a run
//! write to someone else's file, read a secret into a public one, or wait
//! for ever. Every error names the file and says what went wrong in words
//! (a full disk is not a permission problem).

pub(crate) mod journal;
pub(crate) mod lock;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// Settings and issue files are small; anything larger is a mistake.
pub(crate) const CONFIG_LIMIT: u64 = 1024 * 1024;
/// A seed document: a long digest is a few hundred KB.
pub(crate) const SEED_LIMIT: u64 = 16 * 1024 * 1024;

/// What was being done to a file when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reading an input: settings, an issue, a seed, a list.
    Read,
    /// Writing an output or state file.
    Write,
    /// Creating a folder.
    CreateFolder,
    /// Opening or taking a lock.
    Lock,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::CreateFolder => "create the folder",
            Action::Lock => "lock",
        })
    }
}

/// Why a file could not be used.
#[derive(Debug)]
pub struct FileError {
    pub action: Action,
    pub path: PathBuf,
    pub problem: Problem,
}

#[derive(Debug)]
pub enum Problem {
    Io(io::Error),
    /// A FIFO, a device, a socket or a folder where a file belongs.
    NotRegular(&'static str),
    /// A symbolic link where a lock file belongs.
    Symlink,
    TooLarge {
        limit: u64,
    },
    /// A file that holds a secret, readable by those it should not be.
    Readable {
        mode: u32,
    },
}

impl FileError {
    pub fn io(action: Action, path: &Path, error: io::Error) -> FileError {
        FileError {
            action,
            path: path.to_path_buf(),
            problem: Problem::Io(error),
        }
    }

    /// True for a link, FIFO or device where a file of ours belongs: put
    /// there by someone, and only a person can remove it.
    pub fn is_planted(&self) -> bool {
        matches!(self.problem, Problem::Symlink | Problem::NotRegular(_))
    }

    /// The I/O error's kind, if the problem was an I/O error.
    pub fn kind(&self) -> Option<io::ErrorKind> {
        match &self.problem {
            Problem::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

impl FileError {
    /// What is wrong, without the file's name.
    pub fn reason(&self) -> String {
        match &self.problem {
            Problem::Io(e) => describe(e),
            Problem::NotRegular(what) => format!("it is {what}, not a regular file"),
            Problem::Symlink => "it is a symbolic link; remove it and run again".into(),
            Problem::TooLarge { limit } => format!(
                "it is larger than {}, more than such a file can sensibly be",
                size(*limit)
            ),
            Problem::Readable { mode } => format!(
                "it holds a secret, but others can read it (mode {mode:o}); run chmod 600 on it"
            ),
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} `{}`: {}",
            self.action,
            self.path.display(),
            self.reason()
        )
    }
}

impl std::error::Error for FileError {}

/// A size limit in words: `64 KB`, `16 MB`.
fn size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", bytes / (1024 * 1024))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// An I/O error in words a person can act on, with the OS's own text after.
pub(crate) fn describe(e: &io::Error) -> String {
    use io::ErrorKind as K;
    let words = match e.kind() {
        K::NotFound => "it does not exist",
        K::PermissionDenied => "permission denied",
        K::StorageFull => "the disk is full",
        K::QuotaExceeded => "the disk quota is exceeded",
        K::ReadOnlyFilesystem => "the file system is read-only",
        K::FileTooLarge => "the file is too large for this file system",
        K::IsADirectory => "it is a folder",
        _ => return e.to_string(),
    };
    match e.raw_os_error() {
        Some(code) => format!("{words} (os error {code})"),
        None => words.to_string(),
    }
}

/// Opens an input for reading, refusing anything but a regular file. The
/// open itself never blocks (a FIFO is refused, not waited on).
///
/// # Errors
/// The file cannot be opened or is not a regular file.
pub(crate) fn open_input(path: &Path) -> Result<File, FileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| FileError::io(Action::Read, path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| FileError::io(Action::Read, path, e))?;
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(FileError {
            action: Action::Read,
            path: path.to_path_buf(),
            problem: Problem::NotRegular(what),
        });
    }
    Ok(file)
}

fn not_regular(kind: &std::fs::FileType) -> Option<&'static str> {
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a folder")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// A file read in a stream that must stay the file it was when opened: each
/// read is checked against the file's identity, length and modification
/// time, after the read, so a buffer read while the file was rewritten is
/// never used. (A subscriber list rewritten in place during a send would
/// otherwise splice old bytes and new into an address on neither list.)
#[derive(Debug)]
pub(crate) struct StableFile {
    file: File,
    path: PathBuf,
    identity: Identity,
}

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt as _;
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

impl StableFile {
    /// Opens an input (see [`open_input`]) and notes which version it is.
    ///
    /// # Errors
    /// See [`open_input`].
    pub(crate) fn open(path: &Path) -> Result<StableFile, FileError> {
        let file = open_input(path)?;
        let meta = file
            .metadata()
            .map_err(|e| FileError::io(Action::Read, path, e))?;
        Ok(StableFile {
            file,
            path: path.to_path_buf(),
            identity: Identity::of(&meta),
        })
    }

    /// Opens an input as [`StableFile::open`] does, holding a shared
    /// `flock` on it while it is read, so that catchup's own appends (a
    /// confirmed sign-up, an import) wait until the read is done instead of
    /// changing the file under it. The version is noted once the lock is
    /// held. People's editors take no lock: the identity check still
    /// catches them.
    ///
    /// # Errors
    /// See [`open_input`]; or the lock cannot be taken.
    pub(crate) fn open_shared(path: &Path) -> Result<StableFile, FileError> {
        let mut file = StableFile::open(path)?;
        let fail = |e| FileError::io(Action::Read, path, e);
        file.file.lock_shared().map_err(fail)?;
        file.identity = Identity::of(&file.file.metadata().map_err(fail)?);
        Ok(file)
    }

    /// The version of the file this reads.
    pub(crate) fn identity(&self) -> Identity {
        self.identity
    }
}

impl std::io::Read for StableFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let now = Identity::of(&self.file.metadata()?);
        if now != self.identity {
            return Err(io::Error::other(format!(
                "`{}` changed while it was being read; run again once it is saved",
                self.path.display()
            )));
        }
        Ok(n)
    }
}

/// Reads a whole input file of at most `limit` bytes.
///
/// # Errors
/// See [`open_input`]; or the file is larger than `limit`.
pub(crate) fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    read_opened(open_input(path)?, path, limit)
}

/// Reads a whole file already opened with [`open_input`] (so that what was
/// checked about it, its mode say, is what is read), at most `limit` bytes.
///
/// # Errors
/// The file is larger than `limit`, or cannot be read.
pub(crate) fn read_opened(file: File, path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let too_large = || FileError {
        action: Action::Read,
        path: path.to_path_buf(),
        problem: Problem::TooLarge { limit },
    };
    let size = file
        .metadata()
        .map_err(|e| FileError::io(Action::Read, path, e))?
        .len();
    if size > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow while it is read; never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::io(Action::Read, path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads a file that holds a secret (a key, a password): as
/// [`read_input`], refusing it if any bit of `forbidden` is set in its
/// mode (`0o077`: only its owner may read it). The mode checked is that of
/// the file read.
///
/// # Errors
/// As [`read_input`], or the mode allows too much.
pub(crate) fn read_secret(path: &Path, limit: u64, forbidden: u32) -> Result<Vec<u8>, FileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let file = open_input(path)?;
    let mode = file
        .metadata()
        .map_err(|e| FileError::io(Action::Read, path, e))?
        .permissions()
        .mode()
        & 0o777;
    if mode & forbidden != 0 {
        return Err(FileError {
            action: Action::Read,
            path: path.to_path_buf(),
            problem: Problem::Readable { mode },
        });
    }
    read_opened(file, path, limit)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, an
/// fsync and a rename, so readers see the old file or the new one, never a
/// mix, and a crash never leaves half a file.
///
/// # Errors
/// The folder is not writable or the disk is full; the message names `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_via_temporary(path, bytes, true)
}

/// Like [`write_atomic`], without the fsyncs: for files any run makes
/// again (previews), where a crash may lose the new file but never leaves
/// half of one, and the wait for the disk is not worth it.
///
/// # Errors
/// The folder is not writable or the disk is full; the message names `path`.
pub(crate) fn write_replaceable(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_via_temporary(path, bytes, false)
}

fn write_via_temporary(path: &Path, bytes: &[u8], durable: bool) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = folder_of(path);
    let fail = |e| FileError::io(Action::Write, path, e);
    // The mode of the file replaced (a private ledger stays private), or
    // 0o666 less the umask, like any other file the user creates. A link
    // in the way is replaced by the rename, not followed.
    let replaced = std::fs::symlink_metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|meta| meta.permissions().mode() & 0o777);
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(replaced.unwrap_or(0o666)))
        .tempfile_in(dir)
        .map_err(fail)?;
    if let Some(mode) = replaced {
        // `permissions` is less the umask; the replaced file's mode is not.
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    file.write_all(bytes).map_err(fail)?;
    if durable {
        file.as_file().sync_all().map_err(fail)?;
    }
    file.persist(path).map_err(|e| fail(e.error))?;
    if durable {
        sync_folder(dir).map_err(fail)?;
    }
    Ok(())
}

/// Writes a new file with `mode` (less the umask), never over an existing
/// one or through a link planted where it goes (`create_new`), then fsyncs
/// it and its folder. Creates the folder if need be.
///
/// # Errors
/// The file exists already (`kind()` is `AlreadyExists`), or cannot be
/// written.
pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let fail = |e| FileError::io(Action::Write, path, e);
    let dir = folder_of(path);
    create_folder(dir)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_folder(dir))
        .map_err(fail)
}

/// The folder a file is in (`.` for a bare name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// How to open a file catchup keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept {
    /// Read only; a missing file is an error (`NotFound`).
    Read,
    /// Read and append, creating it if need be.
    Append,
    /// Read and write in place (a lock, a file cut back), creating it if
    /// need be, never truncated on open.
    Write,
}

/// Opens a file of catchup's own (a ledger, a log, a lock, the suppression
/// list): never through a symbolic link (refused, not followed), never a
/// FIFO, device or folder (refused without waiting), never a file with
/// other names (a hard link would make ours someone else's).
///
/// # Errors
/// The file is one of those, or cannot be opened.
pub(crate) fn open_kept(path: &Path, how: Kept) -> Result<File, FileError> {
    let action = match how {
        Kept::Read => Action::Read,
        Kept::Append | Kept::Write => Action::Write,
    };
    let fail = |problem| FileError {
        action,
        path: path.to_path_buf(),
        problem,
    };
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    match how {
        Kept::Read => {}
        Kept::Append => {
            options.append(true).create(true);
        }
        Kept::Write => {
            options.write(true).create(true).truncate(false);
        }
    }
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            fail(Problem::Symlink)
        } else {
            fail(Problem::Io(e))
        }
    })?;
    let meta = file.metadata().map_err(|e| fail(Problem::Io(e)))?;
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(fail(Problem::NotRegular(what)));
    }
    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
        return Err(fail(Problem::NotRegular(
            "a file with other names (hard links)",
        )));
    }
    Ok(file)
}

/// Reads a whole file of catchup's own (see [`open_kept`]) of at most
/// `limit` bytes; `None` if it does not exist.
///
/// # Errors
/// See [`open_kept`]; or the file is larger than `limit`.
pub(crate) fn read_kept(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
    match open_kept(path, Kept::Read) {
        Ok(file) => read_opened(file, path, limit).map(Some),
        Err(e) if e.kind() == Some(io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens a file of catchup's own to append to (see [`open_kept`]);
/// returns it and whether this created it.
///
/// # Errors
/// See [`open_kept`].
pub(crate) fn open_append(path: &Path) -> Result<(File, bool), FileError> {
    let created = std::fs::symlink_metadata(path).is_err();
    Ok((open_kept(path, Kept::Append)?, created))
}

/// A shared file of rows, held under an exclusive `flock`: the file now at
/// its path (one replaced while we waited for the lock, by a compaction or
/// by hand, is let go and the new one locked instead).
#[derive(Debug)]
pub(crate) struct LockedRows {
    pub file: File,
    path: PathBuf,
    created: bool,
}

impl LockedRows {
    /// Opens (creating if need be) and locks the file at `path`.
    ///
    /// # Errors
    /// See [`open_kept`]; or the lock cannot be taken.
    pub(crate) fn lock(path: &Path) -> Result<LockedRows, FileError> {
        LockedRows::lock_saying(path, || {})
    }

    /// [`LockedRows::lock`], calling `waiting` first if the lock is held
    /// by someone else (a send reading the list), so that the person who
    /// ran the command knows why it waits.
    ///
    /// # Errors
    /// See [`LockedRows::lock`].
    pub(crate) fn lock_saying(
        path: &Path,
        mut waiting: impl FnMut(),
    ) -> Result<LockedRows, FileError> {
        use std::os::unix::fs::MetadataExt as _;
        let fail = |e| FileError::io(Action::Write, path, e);
        loop {
            let (file, created) = open_append(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    waiting();
                    file.lock().map_err(fail)?;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            }
            let held = file.metadata().map_err(fail)?;
            let now = std::fs::symlink_metadata(path).ok();
            if now.is_some_and(|now| now.dev() == held.dev() && now.ino() == held.ino()) {
                return Ok(LockedRows {
                    file,
                    path: path.to_path_buf(),
                    created,
                });
            }
        }
    }

    /// Appends whole rows durably: one write, then an fsync. A new or
    /// empty file gets `header` first; a hand-written last row without its
    /// newline is ended first. If the write or the fsync fails (a full
    /// disk), the file is cut back to what it was, so no torn row is left
    /// and nothing of the failed rows counts.
    ///
    /// # Errors
    /// The rows could not be made durable; none of them is in the file.
    pub(crate) fn append(&mut self, header: &[u8], rows: &[u8]) -> Result<(), FileError> {
        let path = self.path.clone();
        let fail = |e| FileError::io(Action::Write, &path, e);
        let before = self.file.metadata().map_err(fail)?.len();
        let mut bytes = row_prefix(&mut self.file, header).map_err(fail)?;
        bytes.extend_from_slice(rows);
        if let Err(e) = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
        {
            let _ = self
                .file
                .set_len(before)
                .and_then(|()| self.file.sync_data());
            return Err(fail(e));
        }
        if std::mem::take(&mut self.created) {
            sync_folder(folder_of(&path)).map_err(fail)?;
        }
        Ok(())
    }

    /// Replaces the file with `bytes` (through a temporary file and a
    /// rename, keeping its mode), still under the lock; writers waiting for
    /// the lock on the old file move to the new one.
    ///
    /// # Errors
    /// The new file cannot be written; the old one stands.
    pub(crate) fn replace(&mut self, bytes: &[u8]) -> Result<(), FileError> {
        write_atomic(&self.path, bytes)?;
        let fresh = LockedRows::lock(&self.path)?;
        *self = fresh;
        Ok(())
    }
}

/// Appends whole CSV rows durably to the file at `path`, under its lock
/// (see [`LockedRows::append`]).
///
/// # Errors
/// The file cannot be written, or is not a regular file; nothing was
/// recorded.
pub(crate) fn append_rows(path: &Path, header: &[u8], rows: &[u8]) -> Result<(), FileError> {
    LockedRows::lock(path)?.append(header, rows)
}

/// What must come before new rows: the header for an empty file, a newline
/// after a hand-written last row that has none.
fn row_prefix(file: &mut File, header: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::{Seek as _, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(header.to_vec());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(if last[0] == b'\n' {
        Vec::new()
    } else {
        b"\n".to_vec()
    })
}

/// Makes a folder's entries (a new or renamed file) durable.
///
/// # Errors
/// The folder cannot be opened or synced.
pub(crate) fn sync_folder(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates a folder and its parents.
///
/// # Errors
/// The folder cannot be created; the message names it.
pub(crate) fn create_folder(dir: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(dir).map_err(|e| FileError::io(Action::CreateFolder, dir, e))
}

/// Opens (creating if need be) a lock file, without truncating it: see
/// [`open_kept`].
///
/// # Errors
/// See [`open_kept`].
pub(crate) fn open_lock(path: &Path) -> Result<File, FileError> {
    open_kept(path, Kept::Write).map_err(|e| FileError {
        action: Action::Lock,
        ..e
    })
}

impl From<FileError> for crate::error::Error {
    fn from(error: FileError) -> crate::error::Error {
        use crate::error::{Error, Kind};
        let kind = match error.action {
            // An input that cannot be read is bad input: fix it, run again.
            Action::Read => Kind::Config,
            _ if error.is_planted() => Kind::Config,
            _ => Kind::Failure,
        };
        Error::new(kind, error)
    }
}

/// Makes a FIFO at `path`, for tests that plant one where a file belongs.
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("seed.txt");
        mkfifo(&fifo);
        let err = read_input(&fifo, CONFIG_LIMIT).expect_err("fifo");
        assert!(
            err.to_string()
                .ends_with("it is a FIFO (named pipe), not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn a_device_and_an_oversized_file_are_refused() {
        let err = read_input(Path::new("/dev/zero"), CONFIG_LIMIT).expect_err("device");
        assert_eq!(
            err.to_string(),
            "cannot read `/dev/zero`: it is a device, not a regular file"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).expect("write");
        let err = read_input(&big, 1024).expect_err("too large");
        assert!(matches!(err.problem, Problem::TooLarge { limit: 1024 }));
        // See: issue 18, item 17: a 64 KB limit read "larger than 0 MB".
        assert_eq!(
            err.reason(),
            "it is larger than 1 KB, more than such a file can sensibly be"
        );
        assert_eq!(read_input(&big, 4096).expect("fits").len(), 2048);
    }

    #[test]
    fn a_lock_never_follows_a_link_or_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let lock = dir.path().join("lock");
        std::os::unix::fs::symlink(&victim, &lock).expect("symlink");
        let err = open_lock(&lock).expect_err("link");
        assert!(matches!(err.problem, Problem::Symlink), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");

        let plain = dir.path().join("plain");
        std::fs::write(&plain, "holder").expect("write");
        drop(open_lock(&plain).expect("regular"));
        assert_eq!(std::fs::read_to_string(&plain).expect("read"), "holder");
    }

    /// See: issue 18, item 5.
    #[test]
    fn kept_files_refuse_links_and_fifos_and_replacements_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        let link = dir.path().join("ledger.jsonl");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        for how in [Kept::Read, Kept::Append, Kept::Write] {
            let err = open_kept(&link, how).expect_err("link");
            assert!(matches!(err.problem, Problem::Symlink), "{err}");
        }
        let hard = dir.path().join("hard");
        std::fs::hard_link(&victim, &hard).expect("hard link");
        assert!(open_kept(&hard, Kept::Append).is_err());
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let err = open_kept(&fifo, Kept::Read).expect_err("fifo");
        assert!(matches!(err.problem, Problem::NotRegular(_)), "{err}");
        assert_eq!(
            read_kept(&dir.path().join("none"), 10).expect("missing"),
            None
        );

        let private = dir.path().join("private");
        std::fs::write(&private, "old").expect("write");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        write_atomic(&private, b"new").expect("replace");
        let mode = std::fs::metadata(&private)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    #[test]
    fn io_errors_say_what_kind_of_problem_it_is() {
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(describe(&full), "the disk is full (os error 28)");
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(describe(&denied), "permission denied (os error 13)");
    }
}
