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
//!    [`measure`] checks it against what mail clients tolerate.
//! 5. [`proof`]: the files an editor opens to check an issue.
//! 6. [`deliver`]: test sends, and list sends to [`subscribers`] with a
//!    durable ledger, through SMTP; [`schedule`] says when an issue is due.
//! 7. [`web`]: one-click unsubscribes into the [`suppression`] list, and the
//!    public [`archive`]; [`bounces`]: returned mail into the same list.
//!
//! [`compose`] runs stages 1 to 4 for the commands that need an issue;
//! [`command`] wires the stages together for each subcommand. `main.rs` only
//! parses arguments, and maps an [`error::Error`] to its exit code.

#![forbid(unsafe_code)]

mod bounces;
mod cli;
mod clock;
mod command;
mod compose;
mod config;
mod deliver;
mod diagnostic;
mod doctor;
mod error;
mod exit;
mod fs;
mod issue;
mod link;
mod list;
mod log;
mod mail;
mod preview;
mod render;
mod schedule;
mod story;
mod web;

pub use cli::Cli;
pub use error::Error;
pub use exit::Exit;

/// What the benchmarks in `benches/` measure, by name: the stages of the
/// compose pipeline and the link key. Nothing else is public.
#[doc(hidden)]
pub mod bench {
    pub use crate::config::{Dkim, DkimAlgorithm, Env, KeySource, Newsletter};
    pub use crate::diagnostic::Source;
    pub use crate::issue::{Issue, IssueName};
    pub use crate::list::reader::Reader;
    pub use crate::list::token::Key;
    pub use crate::mail::dkim::{Signer, keygen};
    pub use crate::mail::{Purpose, Signers, Template};
    pub use crate::render::render;
    pub use crate::story::{Library, ParseOptions, parse};
}

/// Runs one command line.
///
/// # Errors
/// Whatever the command reports; [`error::Error::code`] is its exit code.
pub fn run(cli: Cli) -> error::Result<Exit> {
    command::run(cli)
}
