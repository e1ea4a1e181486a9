//! The command line: what each subcommand accepts. Parsing only; the work is
//! in [`crate::command`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Compose an HSJ Catch Up-style weekly email from plain-text news, preview it
/// and send it.
#[derive(Debug, Parser)]
#[command(name = "catchup", version, about)]
pub struct Cli {
    /// Run as if started in DIR (where `config/`, `seeds/` and `previews/` live).
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// The newsletter settings file.
    #[arg(long, global = true, value_name = "FILE", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every story parsed from the seeds.
    Stories(StoriesArgs),
    /// Check an issue without writing anything.
    Check(CheckArgs),
    /// Write an issue's HTML, text and .eml previews, and the archive index.
    Preview(PreviewArgs),
}

#[derive(Debug, Args)]
pub struct StoriesArgs {
    /// The folder of seed documents [default: the newsletter's, or `seeds`].
    #[arg(long, value_name = "DIR")]
    pub seeds: Option<PathBuf>,
    /// Print a JSON array of the stories instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The issue file [default: the newest in the issues folder].
    pub issue: Option<PathBuf>,
    /// Exit 1 when there are warnings.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The issue file [default: the newest in the issues folder].
    pub issue: Option<PathBuf>,
    /// Where to write [default: the newsletter's previews folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
