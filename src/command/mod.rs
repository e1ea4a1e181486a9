//! One function per subcommand: each loads what it needs, calls the stages in
//! order, and prints what a person wants to see.

mod check;
pub mod compose;
mod cron;
mod due;
mod preview;
mod send;
mod stories;

use anyhow::Context as _;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Dispatches a parsed command line.
///
/// # Errors
/// Whatever the subcommand reports.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    if let Some(dir) = &cli.dir {
        std::env::set_current_dir(dir)
            .with_context(|| format!("cannot change to directory `{}`", dir.display()))?;
    }
    match cli.command {
        Command::Stories(args) => stories::run(&cli.config, &args),
        Command::Check(args) => check::run(&cli.config, &args),
        Command::Preview(args) => preview::run(&cli.config, &args),
        Command::Send(args) => send::run(&cli.config, &args),
        Command::Cron(args) => cron::run(&cli.config, &args),
    }
}
