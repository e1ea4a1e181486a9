//! The story library: every story in a seeds folder, read from disk.
//!
//! This is the I/O edge of the story stage. Each error names the file, and the
//! line and byte where that applies.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::{ParseOptions, Story, StoryId, parse};
use crate::diagnostic::utf8_error_position;
use crate::fs::{FileError, SEED_LIMIT, read_input};

/// Why a seeds folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("seeds folder `{}` does not exist", path.display())]
    MissingFolder { path: PathBuf },
    #[error("cannot read seeds folder `{}`", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    ReadFile(#[from] FileError),
    #[error(
        "{}:{line}:{column}: not valid UTF-8 (byte {byte}); save the file as UTF-8",
        path.display()
    )]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
        byte: usize,
    },
    #[error(
        "seeds `{}` and `{}` share the id prefix `{prefix}`; rename one so the part before `_` differs",
        first.display(),
        second.display()
    )]
    PrefixClash {
        prefix: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "seed `{}` has the id prefix `item`, which an editor's own items use; rename it so the part before `_` differs",
        path.display()
    )]
    ReservedPrefix { path: PathBuf },
}

/// A warning about one seed: the file, the 1-based line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedWarning {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SeedWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

/// Every story from a seeds folder, in file order then reading order.
#[derive(Debug, Clone, Default)]
pub struct Library {
    stories: Vec<Story>,
    /// The standing intro under the first masthead found, if any.
    intro: Option<String>,
    warnings: Vec<SeedWarning>,
}

impl Library {
    /// Reads every `*.txt` file in `dir` (not recursing, hidden files
    /// skipped), in name order.
    ///
    /// # Errors
    /// A missing or unreadable folder or file, a file that is not UTF-8, or
    /// two files whose ids would share a prefix. Empty seeds and seeds
    /// without stories are warnings, not errors.
    pub fn load(dir: &Path, options: &ParseOptions) -> Result<Library, LoadError> {
        if !dir.exists() {
            return Err(LoadError::MissingFolder {
                path: dir.to_path_buf(),
            });
        }
        let read_folder = |source| LoadError::ReadFolder {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_folder)? {
            let path = entry.map_err(read_folder)?.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            // Not filtered by `is_file`: a `.txt` entry that cannot be read
            // (a dangling link, say) is an error, not silently skipped.
            if !hidden && path.extension().is_some_and(|e| e == "txt") {
                paths.push(path);
            }
        }
        paths.sort();

        let mut library = Library::default();
        let mut prefixes: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let prefix = stem.split('_').next().unwrap_or(&stem).to_string();
            if StoryId::new(&prefix, "x").is_own() {
                return Err(LoadError::ReservedPrefix { path });
            }
            if let Some(first) = prefixes.get(&prefix) {
                return Err(LoadError::PrefixClash {
                    prefix,
                    first: first.clone(),
                    second: path,
                });
            }
            prefixes.insert(prefix, path.clone());

            let text = read_utf8(&path)?;
            library.add(&path, &stem, &text, options);
        }
        if library.stories.is_empty() {
            library.warnings.push(SeedWarning {
                path: dir.to_path_buf(),
                line: 0,
                message: "no stories found".to_string(),
            });
        }
        Ok(library)
    }

    /// Adds the stories of one seed, `stem` being its file name without
    /// `.txt`.
    fn add(&mut self, path: &Path, stem: &str, text: &str, options: &ParseOptions) {
        let seed = parse(stem, text, options);
        self.warnings.extend(
            seed.warnings
                .into_iter()
                .map(|(line, message)| SeedWarning {
                    path: path.to_path_buf(),
                    line,
                    message,
                }),
        );
        if self.intro.is_none() && !seed.intro.is_empty() {
            self.intro = Some(seed.intro.join("\n\n"));
        }
        self.stories.extend(seed.stories);
    }

    /// A library of one seed's text, for tests that need no files.
    #[cfg(test)]
    pub(crate) fn of_seed(stem: &str, text: &str) -> Library {
        let mut library = Library::default();
        library.add(Path::new(stem), stem, text, &ParseOptions::default());
        library
    }

    pub fn stories(&self) -> &[Story] {
        &self.stories
    }

    pub fn get(&self, id: &str) -> Option<&Story> {
        self.stories.iter().find(|s| s.id.as_str() == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &StoryId> {
        self.stories.iter().map(|s| &s.id)
    }

    /// The newsletter's standing intro, as found under a masthead in a seed.
    pub fn intro(&self) -> Option<&str> {
        self.intro.as_deref()
    }

    pub fn warnings(&self) -> &[SeedWarning] {
        &self.warnings
    }
}

fn read_utf8(path: &Path) -> Result<String, LoadError> {
    let bytes = read_input(path, SEED_LIMIT)?;
    String::from_utf8(bytes).map_err(|err| {
        let byte = err.utf8_error().valid_up_to();
        let (line, column) = utf8_error_position(err.as_bytes(), byte);
        LoadError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            column,
            byte,
        }
    })
}

impl From<LoadError> for crate::error::Error {
    fn from(error: LoadError) -> crate::error::Error {
        crate::error::Error::new(crate::error::Kind::Config, error)
    }
}
