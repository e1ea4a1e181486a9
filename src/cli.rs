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

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every story parsed from the seeds.
    Stories(StoriesArgs),
}

#[derive(Debug, Args)]
pub struct StoriesArgs {
    /// The folder of seed documents.
    #[arg(long, value_name = "DIR", default_value = "seeds")]
    pub seeds: PathBuf,
    /// Print a JSON array of the stories instead of a table.
    #[arg(long)]
    pub json: bool,
}
