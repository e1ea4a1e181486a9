//! catchup turns plain-text news documents into an "HSJ Catch Up"-style
//! weekly email, then previews it or sends it.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`story`]: seeds folder → [`story::Library`] of stories with stable ids.
//! 2. [`config`] and [`issue`]: TOML → [`config::Newsletter`] and a resolved
//!    [`issue::Issue`], every mistake a [`diagnostic::Diagnostic`].
//! 3. [`render`]: issue → HTML (maud + css-inline) and plain text.
//! 4. [`message`]: rendered issue → one MIME message per reader;
//!    [`check`] measures it against what mail clients tolerate.
//! 5. [`preview`]: the files a person opens to look at an issue.
//! 6. [`deliver`]: test sends, and list sends to [`subscribers`] with a
//!    durable ledger, through SMTP; [`schedule`] says when an issue is due.
//!
//! [`command`] wires the stages together for each subcommand; `main.rs` only
//! parses arguments and maps the outcome to an exit code ([`exit`]).

pub mod check;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod deliver;
pub mod diagnostic;
pub mod exit;
pub mod issue;
pub mod log;
pub mod message;
pub mod preview;
pub mod render;
pub mod schedule;
pub mod story;
pub mod subscribers;

pub use cli::Cli;
pub use exit::Exit;

/// Runs one command line.
///
/// # Errors
/// Whatever the command reports; [`exit::code_for`] picks the exit code.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    command::run(cli)
}
