//! `catchup cron`: a ready crontab line (or systemd units) for weekly sends
//! of this project, with absolute paths and the environment the run needs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::CronArgs;
use crate::compose::newsletter;
use crate::config::Newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::subscribers::Subscribers;

/// How often cron starts `send --due`: often enough to send within minutes
/// of the moment, and cheap when nothing is due.
const EVERY_MINUTES: u32 = 5;

pub fn run(config: &Path, args: &CronArgs) -> Result<Exit> {
    let newsletter = newsletter(config)?;
    let job = Job::new(config, &newsletter)?;
    let mut out = if args.systemd {
        systemd_units(&job)
    } else {
        crontab(&job)
    };
    if job.exe.components().any(|c| c.as_os_str() == "debug") {
        let _ = writeln!(
            out,
            "# Note: this is a debug build. Build with `cargo build --release` and run\n# target/release/catchup cron for a faster binary."
        );
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())?;
    Ok(Exit::Ok)
}

/// What the scheduled run is: the command, where it runs, and what it needs.
struct Job {
    newsletter: String,
    /// `Fridays at 07:00 Europe/London`.
    when: String,
    zone: String,
    project: PathBuf,
    exe: PathBuf,
    command: String,
    state: PathBuf,
    /// `CATCHUP_SMTP_URL`, when the server comes from it.
    smtp_url: Option<String>,
    /// The environment variables that hold SMTP passwords.
    passwords: Vec<String>,
}

impl Job {
    fn new(config: &Path, newsletter: &Newsletter) -> Result<Job> {
        let Some(schedule) = &newsletter.schedule else {
            return Err(Error::config(format!(
                "there is no [schedule] in {} to run from cron",
                newsletter.source.path.display()
            )));
        };
        let smtp_url = could_send(newsletter)?;
        let (project, exe) = super::project_and_binary()?;
        let mut command = format!("{} send --due", quote(&exe));
        if config != Path::new(crate::config::DEFAULT_PATH) {
            let _ = write!(command, " --config {}", quote(&project.join(config)));
        }
        let zone = schedule.zone.name().to_string();
        let when = format!(
            "{}s at {} {zone}",
            crate::schedule::weekday_name(schedule.weekday),
            schedule.time.format("%H:%M")
        );
        let mut passwords: Vec<String> = newsletter
            .smtp
            .iter()
            .flatten()
            .filter(|s| s.username.is_some())
            .map(|s| s.password_env.clone())
            .collect();
        passwords.sort();
        passwords.dedup();
        Ok(Job {
            newsletter: newsletter.name.clone(),
            when,
            zone,
            state: project.join(&newsletter.paths.state),
            project,
            exe,
            command,
            smtp_url,
            passwords,
        })
    }
}

/// A user service and a timer that runs it every few minutes.
fn systemd_units(job: &Job) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ~/.config/systemd/user/catchup.service");
    let _ = writeln!(
        out,
        "[Unit]\nDescription=catchup: send due issues of {} ({})\n",
        job.newsletter, job.when
    );
    let _ = writeln!(
        out,
        "[Service]\nType=oneshot\nWorkingDirectory={}\nExecStart={}",
        job.project.display(),
        job.command
    );
    if let Some(url) = &job.smtp_url {
        let _ = writeln!(out, "Environment=CATCHUP_SMTP_URL={url}");
    }
    if !job.passwords.is_empty() {
        let _ = writeln!(
            out,
            "# {}=... goes in this file, readable by you alone (chmod 600):\nEnvironmentFile=%h/.config/catchup/env",
            job.passwords.join("=..., ")
        );
    }
    let _ = writeln!(out, "\n# ~/.config/systemd/user/catchup.timer");
    let _ = writeln!(
        out,
        "[Unit]\nDescription=Run catchup send --due every {EVERY_MINUTES} minutes\n\n[Timer]\nOnCalendar=*:0/{EVERY_MINUTES}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    );
    let _ = writeln!(
        out,
        "# Then: systemctl --user daemon-reload && systemctl --user enable --now catchup.timer\n# Logs: journalctl --user -u catchup.service"
    );
    out
}

/// A commented crontab line that runs every few minutes.
fn crontab(job: &Job) -> String {
    let system_zone = iana_time_zone::get_timezone().unwrap_or_else(|_| "unknown".into());
    let zone = &job.zone;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# catchup: weekly sends of {}, {}.",
        job.newsletter, job.when
    );
    let _ = writeln!(out, "#");
    let _ = writeln!(
        out,
        "# cron runs in the system time zone ({system_zone}), not the newsletter's\n# ({zone}). That is fine: this line runs every {EVERY_MINUTES} minutes and catchup\n# decides in {zone} whether an issue is due, so daylight-saving changes\n# need no edit here. Each run takes a lock, logs one line per event to the\n# file below, and never sends a reader the same issue twice."
    );
    if let Some(url) = &job.smtp_url {
        let _ = writeln!(
            out,
            "#\n# The server comes from CATCHUP_SMTP_URL, as in this shell:\nCATCHUP_SMTP_URL={url}"
        );
    }
    for var in &job.passwords {
        let _ = writeln!(
            out,
            "#\n# The run needs the SMTP password in {var}, and cron passes almost no\n# environment: uncomment the next line and put the password in it, in a\n# crontab only you can read (crontab -e).\n# {var}=your-smtp-password"
        );
    }
    // The log's folder must exist before the shell opens it, or cron would
    // never start catchup at all.
    let _ = writeln!(
        out,
        "*/{EVERY_MINUTES} * * * * cd {} && mkdir -p {} && {} >> {} 2>&1",
        quote(&job.project),
        quote(&job.state),
        job.command,
        quote(&job.state.join("cron.log"))
    );
    out
}

/// Checks, before printing a line that cron would run every few minutes,
/// that a send could work: a server (`[smtp]`, or `CATCHUP_SMTP_URL`, which
/// is returned so the line can carry it) and a subscriber list that opens.
fn could_send(newsletter: &Newsletter) -> Result<Option<String>> {
    let url = std::env::var("CATCHUP_SMTP_URL")
        .ok()
        .filter(|u| !u.is_empty());
    match (&newsletter.smtp, &url) {
        (Some(_), _) => {}
        (None, Some(url)) => {
            crate::config::Smtp::from_url(url, None, false)?;
        }
        (None, None) => {
            return Err(Error::config(format!(
                "cron would fail every run: there is nowhere to send. Add [smtp] to {} (or set CATCHUP_SMTP_URL), then run catchup cron again",
                newsletter.source.path.display()
            )));
        }
    }
    Subscribers::open(&newsletter.paths.subscribers)
        .map_err(|e| Error::from(e).context("cron would fail every run"))?;
    Ok(url.filter(|_| newsletter.smtp.is_none()))
}

/// A path in single quotes for sh, with any `'` escaped.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    format!("'{}'", text.replace('\'', r"'\''"))
}
