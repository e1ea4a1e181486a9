//! `catchup readers`: the list with where each reader stands; `import` a
//! CSV; `show`, `export` and `erase` everything held about one reader.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;

use crate::cli::{AddressArgs, ImportArgs, ReadersArgs, ReadersCommand};
use crate::compose::newsletter;
use crate::config::Newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::list::holdings::Files;
use crate::list::import::{self, Against};
use crate::list::reader::ReaderKey;
use crate::list::signups::{self, Locked, Record, Signups};
use crate::list::subscribers::Subscribers;
use crate::list::suppression::{self, Standing, Suppressed};
use crate::list::{address, subscribers};
use crate::log::printable;

pub(crate) fn run(config: &Path, args: &ReadersArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    match &args.command {
        None => list(&newsletter, args.json),
        Some(ReadersCommand::Import(import)) => self::import(&newsletter, import),
        Some(ReadersCommand::Show(one)) => show(&newsletter, one, false),
        Some(ReadersCommand::Export(one)) => show(&newsletter, one, true),
        Some(ReadersCommand::Erase(one)) => erase(&newsletter, one),
    }
}

fn files(newsletter: &Newsletter) -> Files {
    Files {
        subscribers: newsletter.paths.subscribers.clone(),
        suppressed: newsletter.paths.suppressed.clone(),
        state: newsletter.paths.state.clone(),
        config: crate::fs::folder_of(&newsletter.source.path).to_path_buf(),
    }
}

/// Where one reader stands, in a word.
fn state(standing: Standing) -> &'static str {
    if standing.unsubscribed {
        "unsubscribed"
    } else if standing.complained {
        "complained"
    } else if standing.other {
        "suppressed"
    } else {
        "subscribed"
    }
}

/// One reader in the listing.
#[derive(Debug, serde::Serialize)]
struct Listed {
    email: String,
    name: Option<String>,
    state: &'static str,
    /// How they joined: `list` (put on it by hand), `form`, or an import's
    /// source.
    source: String,
}

fn list(newsletter: &Newsletter, json: bool) -> Result<Exit> {
    let suppressed = Suppressed::load(&newsletter.paths.suppressed)?;
    let consent = consent_records(newsletter)?;
    let mut listed = Vec::new();
    let mut on_list = HashSet::new();
    if newsletter.paths.subscribers.exists() {
        let rows = Subscribers::open(&newsletter.paths.subscribers)?;
        let failure = rows.failure();
        for row in rows {
            let Ok(reader) = row.reader else { continue };
            let email = reader.email.to_string();
            if !on_list.insert(address::identity(&email)) {
                continue;
            }
            listed.push(Listed {
                source: source(&consent, &email),
                state: state(suppressed.standing(ReaderKey::of(&email))),
                name: reader.name,
                email,
            });
        }
        if let Some(e) = subscribers::taken(&failure) {
            return Err(e.into());
        }
    }
    // Sign-ups still waiting for their confirmation, or to join.
    let now = crate::clock::wall();
    for record in &consent.records {
        if let Record::Asked {
            id,
            email,
            name,
            expires,
            ..
        } = record
            && !on_list.contains(&address::identity(email))
            && *expires > now
        {
            let state = if consent.is_confirmed(id) {
                "joining"
            } else {
                "pending"
            };
            if on_list.insert(address::identity(email)) {
                listed.push(Listed {
                    email: email.clone(),
                    name: name.clone(),
                    state,
                    source: "form".into(),
                });
            }
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &listed).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    let width = listed
        .iter()
        .map(|r| r.email.len())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(out, "{:width$}  {:12}  source", "email", "state")?;
    for reader in &listed {
        writeln!(
            out,
            "{:width$}  {:12}  {}",
            printable(&reader.email),
            reader.state,
            printable(&reader.source)
        )?;
    }
    let subscribed = listed.iter().filter(|r| r.state == "subscribed").count();
    writeln!(out, "{} reader(s), {subscribed} subscribed", listed.len())?;
    Ok(Exit::Ok)
}

/// The sign-ups and consent records; a line that cannot be read is named
/// (`file:line: why`) on stderr, not passed over in silence.
fn consent_records(newsletter: &Newsletter) -> Result<Signups> {
    let consent = Signups::load(&signups::path(&newsletter.paths.state))?;
    for warning in &consent.warnings {
        eprintln!("warning: {}", printable(warning));
    }
    Ok(consent)
}

/// How `email` joined, by their consent record.
fn source(consent: &Signups, email: &str) -> String {
    consent
        .about(email)
        .filter_map(|r| match r {
            Record::Joined { .. } | Record::Confirmed { .. } => Some("form".to_string()),
            Record::Imported { source, .. } => Some(format!("import: {source}")),
            _ => None,
        })
        .last()
        .unwrap_or_else(|| "list".into())
}

fn import(newsletter: &Newsletter, args: &ImportArgs) -> Result<Exit> {
    let keys = newsletter.web.keys(&newsletter.env)?;
    let bytes = crate::fs::read_input(&args.file, crate::fs::CONFIG_LIMIT * 64)?;
    let rows = Subscribers::open(&args.file)?;
    let failure = rows.failure();
    let mut listed = HashSet::new();
    if newsletter.paths.subscribers.exists() {
        let current = Subscribers::open(&newsletter.paths.subscribers)?;
        let current_failure = current.failure();
        listed.extend(
            current
                .filter_map(|row| row.reader.ok())
                .map(|reader| address::identity(reader.email.as_ref())),
        );
        if let Some(e) = subscribers::taken(&current_failure) {
            return Err(e.into());
        }
    }
    let suppressed = Suppressed::load(&newsletter.paths.suppressed)?;
    let erased = suppression::erased(&newsletter.paths.suppressed)?;
    let plan = import::plan(
        rows,
        &bytes,
        &Against {
            listed: &listed,
            suppressed: &suppressed,
            erased: &erased,
            keys: &keys,
        },
    );
    if let Some(e) = subscribers::taken(&failure) {
        return Err(e.into());
    }
    let file = args.file.display().to_string();
    let source = args.source.clone().unwrap_or_else(|| {
        args.file
            .file_name()
            .map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned())
    });
    let mut out = std::io::stdout().lock();
    for (line, email, why) in &plan.skipped {
        if email.is_empty() {
            writeln!(out, "skipped {file}:{line}: {why}")?;
        } else {
            writeln!(out, "skipped {file}:{line}: {}: {why}", printable(email))?;
        }
    }
    let verb = if args.dry_run { "would add" } else { "added" };
    if !args.dry_run && !plan.add.is_empty() {
        let at = crate::clock::wall();
        let records: Vec<Record> = plan
            .add
            .iter()
            .map(|(reader, line, raw)| Record::Imported {
                email: reader.email.to_string(),
                name: reader.name.clone(),
                at,
                source: source.clone(),
                file: file.clone(),
                line: *line,
                row: raw.clone(),
            })
            .collect();
        crate::fs::create_folder(&newsletter.paths.state)?;
        // The consent first: a reader is never on the list without it.
        Locked::lock(&signups::path(&newsletter.paths.state))?.append(&records)?;
        let readers: Vec<_> = plan.add.iter().map(|(r, _, _)| r.clone()).collect();
        subscribers::add(&newsletter.paths.subscribers, &readers)?;
    }
    for (reader, line, _) in &plan.add {
        writeln!(
            out,
            "{verb} {file}:{line}: {}",
            printable(reader.email.as_ref())
        )?;
    }
    writeln!(
        out,
        "{} {} reader(s) to {}, skipped {}{}",
        verb,
        plan.add.len(),
        newsletter.paths.subscribers.display(),
        plan.skipped.len(),
        if args.dry_run {
            "; nothing was changed"
        } else {
            ""
        }
    )?;
    Ok(Exit::Ok)
}

/// The address as given, checked.
fn address_of(args: &AddressArgs) -> Result<String> {
    address::parse(&args.address)
        .map(|a| a.to_string())
        .map_err(|why| Error::config(format!("`{}`: {why}", printable(&args.address))))
}

fn show(newsletter: &Newsletter, args: &AddressArgs, json: bool) -> Result<Exit> {
    let email = address_of(args)?;
    let found = files(newsletter).find(&email)?;
    let suppressed = Suppressed::load(&newsletter.paths.suppressed)?;
    let standing = state(suppressed.standing(ReaderKey::of(&email)));
    let consent = consent_records(newsletter)?;
    let records: Vec<&Record> = consent.about(&email).collect();
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "email": email,
            "state": if found.is_empty() { "not held" } else { standing },
            "consent": records,
            "held": found,
        });
        serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(Exit::Ok);
    }
    if found.is_empty() {
        writeln!(out, "catchup holds nothing about {}", printable(&email))?;
        return Ok(Exit::Ok);
    }
    writeln!(out, "{}: {standing}", printable(&email))?;
    let mut file = None;
    for line in &found {
        if file != Some(&line.file) {
            writeln!(out, "\n{}", line.file.display())?;
            file = Some(&line.file);
        }
        writeln!(out, "  {:>6}  {}", line.line, printable(&line.text))?;
    }
    Ok(Exit::Ok)
}

fn erase(newsletter: &Newsletter, args: &AddressArgs) -> Result<Exit> {
    let email = address_of(args)?;
    let keys = newsletter.web.keys(&newsletter.env)?;
    let tombstone = suppression::erased_row(&keys.current.erased(&email), crate::clock::wall());
    let files = files(newsletter);
    let removed = files.erase(&email, &tombstone)?;
    let mut out = std::io::stdout().lock();
    for one in &removed {
        writeln!(
            out,
            "removed {} line(s) from {}",
            one.lines,
            one.file.display()
        )?;
    }
    let operators = files.operators();
    for found in files.find(&email)? {
        if operators.contains(&found.file) {
            writeln!(
                out,
                "left {}:{}: your own file; edit it yourself if the address should go",
                found.file.display(),
                found.line
            )?;
        }
    }
    if removed.is_empty() {
        writeln!(out, "catchup held nothing about {}", printable(&email))?;
    }
    writeln!(
        out,
        "erased {}; {} keeps a keyed hash of the address, so no import brings it back (a sign-up the reader confirms still can)",
        printable(&email),
        newsletter.paths.suppressed.display()
    )?;
    Ok(Exit::Ok)
}
