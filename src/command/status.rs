//! `catchup status [ISSUE]`: what went out for one issue, from its ledger
//! and the list.

use std::io::Write as _;
use std::path::Path;

use crate::bounces::cost::{self, Cost, Costs};
use crate::bounces::seen;
use crate::cli::StatusArgs;
use crate::compose::newsletter;
use crate::deliver::status::Status;
use crate::error::Result;
use crate::exit::Exit;
use crate::issue::{self, IssueName};

pub(crate) fn run(config: &Path, args: &StatusArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let path = match &args.issue {
        Some(path) => path.clone(),
        None => issue::newest(&newsletter.paths.issues)?,
    };
    let name = IssueName::from_path(&path)?;
    let mut files = super::list_files(&newsletter);
    if let Some(state) = &args.state {
        if !state.is_dir() {
            return Err(crate::error::Error::config(format!(
                "--state `{}` is not a folder; give the folder `send --state` was given",
                state.display()
            )));
        }
        files.state.clone_from(state);
    }
    if let Some(email) = &args.reader {
        return reader(&files.state, &name, email, args.json);
    }
    let status = Status::read(&name, &files)?;
    let cost = Costs::read(&files.state.join(seen::FILE), &files.suppressed)?.of(name.as_str());
    let mut out = std::io::stdout().lock();
    if args.json {
        let named = Named {
            issue: &status.issue,
            status: &status,
            cost: CostJson::new(&cost, status.sent),
        };
        serde_json::to_writer_pretty(&mut out, &named).map_err(std::io::Error::from)?;
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
    if status.runs > 0 {
        writeln!(out, "{}", cost.line(status.sent))?;
    }
    Ok(Exit::Ok)
}

/// One reader's records: when, what, where, and the relay's reply.
fn reader(state: &Path, issue: &IssueName, email: &str, json: bool) -> Result<Exit> {
    let paths = crate::deliver::state::Paths::new(state, issue);
    let records = crate::deliver::ledger::reader_records(&paths, email.trim())?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &records).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    if records.is_empty() {
        writeln!(out, "{issue}: nothing recorded for {email}")?;
        return Ok(Exit::Ok);
    }
    for record in &records {
        let event = serde_json::to_value(record.event)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut line = format!("{} {event:9}", record.at.format("%Y-%m-%d %H:%M:%S UTC"));
        if let Some(relay) = &record.relay {
            line.push_str(&format!(" via {relay}"));
        }
        if let Some(reply) = &record.reply {
            line.push_str(&format!(": {}", crate::log::printable(reply)));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(Exit::Ok)
}

/// A status with its issue's name first, and what it cost the list.
#[derive(Debug, serde::Serialize)]
struct Named<'a> {
    issue: &'a str,
    #[serde(flatten)]
    status: &'a crate::deliver::status::Status,
    cost: CostJson<'a>,
}

/// An issue's cost with its rates and the limits they are held to.
#[derive(Debug, serde::Serialize)]
pub(crate) struct CostJson<'a> {
    #[serde(flatten)]
    cost: &'a Cost,
    hard_bounce_rate: f64,
    hard_bounce_limit: f64,
    complaint_rate: f64,
    complaint_limit: f64,
}

impl<'a> CostJson<'a> {
    pub(crate) fn new(cost: &'a Cost, sent: u64) -> CostJson<'a> {
        let (hard_bounce_rate, complaint_rate) = cost.rates(sent);
        CostJson {
            cost,
            hard_bounce_rate,
            hard_bounce_limit: cost::BOUNCE_LIMIT,
            complaint_rate,
            complaint_limit: cost::COMPLAINT_LIMIT,
        }
    }
}
