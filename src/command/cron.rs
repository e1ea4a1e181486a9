//! `catchup cron`: a ready crontab line (or systemd units) for weekly sends
//! of this project, with absolute paths and the environment the run needs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::unattended::{self, Checked, Command, Needs, cron_word, systemd_value};
use crate::cli::CronArgs;
use crate::compose::newsletter;
use crate::config::Newsletter;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// How often cron starts `send --due`: often enough to send within minutes
/// of the moment, and cheap when nothing is due.
const EVERY_MINUTES: u32 = 5;

pub(crate) fn run(config: &Path, args: &CronArgs) -> Result<Exit> {
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
    command: Command,
    state: PathBuf,
    /// The environment file and the variables the run reads from it.
    secrets: Checked,
}

impl Job {
    fn new(config: &Path, newsletter: &Newsletter) -> Result<Job> {
        let Some(schedule) = &newsletter.schedule else {
            return Err(Error::config(format!(
                "there is no [schedule] in {} to run from cron",
                newsletter.source.path.display()
            )));
        };
        let (project, exe) = super::project_and_binary()?;
        let secrets = unattended::check(newsletter, &project, Needs::Send)?;
        let mut words = vec![exe.display().to_string(), "send".into(), "--due".into()];
        if config != Path::new(crate::config::DEFAULT_PATH) {
            words.push("--config".into());
            words.push(project.join(config).display().to_string());
        }
        let command = Command { words };
        let zone = schedule.zone.name().to_string();
        let when = format!(
            "{}s at {} {zone}",
            crate::schedule::weekday_name(schedule.weekday),
            schedule.time.format("%H:%M")
        );
        Ok(Job {
            newsletter: newsletter.name.clone(),
            when,
            zone,
            state: project.join(&newsletter.paths.state),
            project,
            exe,
            command,
            secrets,
        })
    }

    /// Where the run finds its secrets, as comment lines.
    fn secrets_note(&self) -> String {
        let file = self.secrets.env_file.display();
        match &self.secrets.variables[..] {
            [] => format!(
                "# Secrets, if the settings come to name any, go in {file} (chmod 600),\n# which every run reads itself."
            ),
            names => format!(
                "# cron and systemd pass almost no environment, so every run reads\n# {} from {file}\n# (mode 600; checked just now).",
                names.join(", ")
            ),
        }
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
    let _ = writeln!(out, "{}", job.secrets_note());
    let _ = writeln!(
        out,
        "[Service]\nType=oneshot\nWorkingDirectory={}\nExecStart={}",
        systemd_value(&job.project.display().to_string()),
        job.command.for_systemd()
    );
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
        "# cron runs in the system time zone ({system_zone}), not the newsletter's\n# ({zone}). That is fine: this line runs every {EVERY_MINUTES} minutes and catchup\n# decides in {zone} whether an issue is due, so daylight-saving changes\n# need no edit here. Each run takes a lock, logs one line per event to the\n# file below, and never sends a reader the same issue twice.\n#"
    );
    let _ = writeln!(out, "{}", job.secrets_note());
    // The log's folder must exist before the shell opens it, or cron would
    // never start catchup at all.
    let _ = writeln!(
        out,
        "*/{EVERY_MINUTES} * * * * cd {} && mkdir -p {} && {} >> {} 2>&1",
        cron_word(&job.project.display().to_string()),
        cron_word(&job.state.display().to_string()),
        job.command.for_cron(),
        cron_word(&job.state.join("cron.log").display().to_string())
    );
    out
}
