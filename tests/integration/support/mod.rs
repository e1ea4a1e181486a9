//! Helpers shared by the integration tests: a scratch project and a runner
//! for the real `catchup` binary.

#![allow(dead_code)]

pub mod mime;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root (where `seeds/` and `config/` live).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A throwaway project folder, removed when dropped.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty folder.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A copy of the repository's seeds and config.
    pub fn copy_of_repo() -> Project {
        let project = Project::empty();
        for sub in ["seeds", "config"] {
            copy_dir(&repo().join(sub), &project.path().join(sub));
        }
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `contents` to `relative`, creating folders.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, contents).expect("write");
        path
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative))
            .unwrap_or_else(|e| panic!("read {relative}: {e}"))
    }

    /// Runs `catchup` with `args`, returning (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.catchup().args(args).output().expect("run catchup");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).expect("utf8 stdout"),
            String::from_utf8(out.stderr).expect("utf8 stderr"),
        )
    }

    /// `catchup` started in this project.
    pub fn catchup(&self) -> Command {
        let mut cmd = Command::cargo_bin("catchup").expect("binary");
        cmd.current_dir(self.path());
        cmd.env_remove("CATCHUP_SMTP_URL");
        cmd
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Files under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                for sub in files_under(&path) {
                    out.push(format!("{}/{sub}", entry.file_name().to_string_lossy()));
                }
            } else {
                out.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
