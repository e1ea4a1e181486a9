//! One function per subcommand: each loads what it needs, calls the stages in
//! order, and prints what a person wants to see.

mod archive;
mod bounces;
mod check;
mod cron;
mod dkim;
mod doctor;
mod issues;
mod new;
mod preview;
mod readers;
mod send;
mod serve;
mod status;
mod stories;
mod suppressed;
mod unattended;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::exit::Exit;

/// Dispatches a parsed command line.
///
/// # Errors
/// Whatever the subcommand reports.
pub(crate) fn run(cli: Cli) -> Result<Exit> {
    if let Some(dir) = &cli.dir {
        std::env::set_current_dir(dir).map_err(|e| {
            Error::config(format!(
                "cannot change to directory `{}`: {}",
                dir.display(),
                crate::fs::describe(&e)
            ))
        })?;
    }
    match cli.command {
        Command::Stories(args) => stories::run(&cli.config, &args),
        Command::New(args) => new::run(&cli.config, &args),
        Command::Issues(args) => issues::run(&cli.config, &args),
        Command::Status(args) => status::run(&cli.config, &args),
        Command::Check(args) => check::run(&cli.config, &args),
        Command::Preview(args) => preview::run(&cli.config, &args),
        Command::Send(args) => send::run(&cli.config, &args),
        Command::Cron(args) => cron::run(&cli.config, &args),
        Command::Serve(args) => serve::run(&cli.config, &args),
        Command::Archive(args) => archive::run(&cli.config, &args),
        Command::Dkim(command) => dkim::run(&cli.config, &command),
        Command::Doctor(args) => doctor::run(&cli.config, &args),
        Command::Bounces(args) => bounces::run(&cli.config, &args),
        Command::Suppressed(args) => suppressed::run(&cli.config, &args),
        Command::Readers(args) => readers::run(&cli.config, &args),
    }
}

/// The ids of every story an issue file picks or a list send carried.
fn used_stories(newsletter: &crate::config::Newsletter) -> std::collections::HashSet<String> {
    let mut used: std::collections::HashSet<String> = crate::issue::files(&newsletter.paths.issues)
        .unwrap_or_default()
        .iter()
        .filter_map(|path| crate::issue::Outline::read(path).ok())
        .flat_map(|outline| outline.stories)
        .collect();
    for (_, sent) in crate::deliver::sent::all(&newsletter.paths.state) {
        used.extend(sent.stories);
    }
    used
}

/// The list files a command reads: the newsletter's.
fn list_files(newsletter: &crate::config::Newsletter) -> crate::deliver::ListFiles {
    crate::deliver::ListFiles {
        subscribers: newsletter.paths.subscribers.clone(),
        suppressed: newsletter.paths.suppressed.clone(),
        state: newsletter.paths.state.clone(),
    }
}

/// The project folder and this binary, as absolute paths: what a crontab
/// line or a systemd unit must name.
fn project_and_binary() -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let project = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Error::failure(format!("cannot tell the project folder: {e}")))?;
    let exe = std::env::current_exe()
        .and_then(|e| e.canonicalize())
        .map_err(|e| Error::failure(format!("cannot tell where the catchup binary is: {e}")))?;
    Ok((project, exe))
}
