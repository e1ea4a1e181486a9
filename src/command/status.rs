//! `catchup status [ISSUE]`: what went out for one issue, from its ledger
//! and the list.

use std::io::Write as _;
use std::path::Path;

use crate::cli::StatusArgs;
use crate::compose::newsletter;
use crate::deliver::status::Status;
use crate::error::Result;
use crate::exit::Exit;
use crate::issue::{self, IssueName};

pub fn run(config: &Path, args: &StatusArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let path = match &args.issue {
        Some(path) => path.clone(),
        None => issue::newest(&newsletter.paths.issues)?,
    };
    let name = IssueName::from_path(&path)?;
    let status = Status::read(&name, &super::list_files(&newsletter))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &status).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    writeln!(
        out,
        "{name}: sent {}, failed {}, deferred {}, uncertain {}, pending {}",
        status.sent, status.failed, status.deferred, status.uncertain, status.pending
    )?;
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    };
    let line = match (status.runs, status.complete) {
        (0, _) => "not sent yet: no list send has run".to_string(),
        (runs, complete) => format!(
            "{runs} list send run(s), from {} to {}; {}",
            when(status.first_at),
            when(status.last_at),
            if complete {
                "finished"
            } else {
                "not finished: run `catchup send <issue> --all` again to go on"
            }
        ),
    };
    writeln!(out, "{line}")?;
    Ok(Exit::Ok)
}
