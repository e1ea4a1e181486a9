//! `catchup stories`: the story library as a table or as JSON.

use std::io::Write as _;
use std::path::Path;

use crate::cli::StoriesArgs;
use crate::compose;
use crate::error::Result;
use crate::exit::Exit;
use crate::story::{Library, ParseOptions, Story};

/// Without a newsletter file, stories can still be listed: the default
/// masthead and `seeds/` are used.
/// `--unused` needs the settings, to find the issues.
pub(crate) fn run(config: &Path, args: &StoriesArgs) -> Result<Exit> {
    let newsletter = if config.exists() || args.unused {
        Some(compose::newsletter(config)?)
    } else {
        None
    };
    let library = match &newsletter {
        Some(newsletter) => compose::library(newsletter, args.seeds.as_deref())?,
        None => {
            let seeds = args.seeds.clone().unwrap_or_else(|| "seeds".into());
            Library::load(&seeds, &ParseOptions::default())?
        }
    };
    for warning in library.warnings() {
        eprintln!("warning: {warning}");
    }
    let used = match (&newsletter, args.unused) {
        (Some(newsletter), true) => super::used_stories(newsletter),
        _ => std::collections::HashSet::new(),
    };
    let stories: Vec<&Story> = library
        .stories()
        .iter()
        .filter(|s| !used.contains(s.id.as_str()))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &stories).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &stories)?;
    }
    Ok(Exit::Ok)
}

/// Headlines longer than this are cut with an ellipsis in the table.
const HEADLINE_WIDTH: usize = 48;

fn write_table(out: &mut impl std::io::Write, stories: &[&Story]) -> std::io::Result<()> {
    let id_width = stories
        .iter()
        .map(|s| s.id.as_str().len())
        .max()
        .unwrap_or(2);
    let author_width = stories
        .iter()
        .filter_map(|s| s.author.as_ref())
        .map(|a| a.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    writeln!(
        out,
        "{:id_width$}  {:HEADLINE_WIDTH$}  {:author_width$}  {:10}  {:>5}",
        "ID", "HEADLINE", "AUTHOR", "DATE", "WORDS"
    )?;
    for story in stories {
        let date = story.published.map(|d| d.to_string()).unwrap_or_default();
        writeln!(
            out,
            "{:id_width$}  {:HEADLINE_WIDTH$}  {:author_width$}  {:10}  {:>5}",
            story.id.as_str(),
            truncate(&story.headline, HEADLINE_WIDTH),
            story.author.as_deref().unwrap_or(""),
            date,
            story.words
        )?;
    }
    Ok(())
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}
