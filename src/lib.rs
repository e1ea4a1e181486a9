//! catchup turns plain-text news documents into an "HSJ Catch Up"-style
//! weekly email, then previews it or sends it.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`story`]: seeds folder → [`story::Library`] of stories with stable ids.
//!
//! [`command`] wires the stages together for each subcommand; `main.rs` only
//! parses arguments and maps the outcome to an exit code ([`exit`]).

pub mod cli;
pub mod command;
pub mod exit;
pub mod story;

pub use cli::Cli;
pub use exit::Exit;

/// Runs one command line.
///
/// # Errors
/// Whatever the command reports; [`exit::code_for`] picks the exit code.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    command::run(cli)
}
