//! `catchup dkim keygen` and `catchup dkim check`: a new key and the DNS
//! record to publish for it; or the record the configured key needs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::{DkimCommand, KeyAlgorithm, KeygenArgs};
use crate::compose::newsletter;
use crate::config::DkimAlgorithm;
use crate::diagnostic::Diagnostics;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::mail::dkim::{self, Signer};

pub(crate) fn run(config: &Path, command: &DkimCommand) -> Result<Exit> {
    match command {
        DkimCommand::Keygen(args) => keygen(args),
        DkimCommand::Check => check(config),
    }
}

fn keygen(args: &KeygenArgs) -> Result<Exit> {
    let selector = args.selector.trim();
    // RFC 6376 §3.1: labels of letters, digits and inner hyphens, joined by
    // dots.
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !selector.split('.').all(label_ok) {
        return Err(Error::config(format!(
            "`{selector}` is not a DKIM selector; use letters, digits and inner `-`, in labels joined by `.`"
        )));
    }
    let algorithm = match args.algorithm {
        KeyAlgorithm::Rsa => DkimAlgorithm::Rsa,
        KeyAlgorithm::Ed25519 => DkimAlgorithm::Ed25519,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("dkim/{selector}.pem")));
    let record = dkim::keygen(algorithm, &out).map_err(Error::config)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "wrote {} (mode 600)\n", out.display())?;
    if git_would_commit(&out) {
        eprintln!(
            "warning: `{}` is inside a git work tree and not ignored: add it to .gitignore before you commit, or move it out and set private_key to its new path\n",
            out.display()
        );
    }
    writeln!(
        stdout,
        "Publish this TXT record at {selector}._domainkey.<your domain>:\n"
    )?;
    writeln!(stdout, "{record}\n")?;
    writeln!(
        stdout,
        "Then add to config/newsletter.toml:\n\n[dkim]\ndomain = \"<your From domain>\"\nselector = \"{selector}\"\nalgorithm = \"{}\"\nprivate_key = \"{}\"",
        algorithm.name(),
        out.display()
    )?;
    Ok(Exit::Ok)
}

/// True when `path` is in a git work tree and git does not ignore it, so
/// that a `git add .` would publish a private key. Without git, or outside
/// a work tree, false.
fn git_would_commit(path: &Path) -> bool {
    let dir = crate::fs::folder_of(path);
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let Some(name) = path.file_name() else {
        return false;
    };
    // `check-ignore` exits 1 for a path git would track.
    inside
        && std::process::Command::new("git")
            .args(["check-ignore", "-q", "--"])
            .arg(name)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.code() == Some(1))
}

fn check(config: &Path) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    if newsletter.dkim.is_empty() {
        return Err(Error::config(format!(
            "there is no [dkim] in {}; make a key with `catchup dkim keygen --selector S`",
            newsletter.source.path.display()
        )));
    }
    let (signer, warnings) = Signer::load(&newsletter.dkim, &newsletter.source, &newsletter.env)
        .map_err(|d| Error::from(Diagnostics(vec![d])))?;
    for warning in &warnings {
        eprintln!("{}\n", warning.render());
    }
    let mut stdout = std::io::stdout().lock();
    let records = signer.records();
    for (i, (name, record)) in records.iter().enumerate() {
        if i > 0 {
            writeln!(stdout)?;
        }
        writeln!(
            stdout,
            "The key is usable. DNS must publish this TXT record at {name}:\n\n{record}"
        )?;
    }
    Ok(Exit::Ok)
}
