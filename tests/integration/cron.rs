//! `catchup cron` and `serve --systemd`: what they print works as printed,
//! run the way cron and systemd run it, with no environment but `HOME` and
//! `PATH`. See: issue 18, item 1 (the printed line failed at every tick:
//! it lacked the link secret).

use std::path::Path;

use crate::support::smtp::SmtpServer;
use crate::support::{Project, SECRET, events};

const PASSWORD: &str = "cron pass #1";

/// Now, less a minute, in RFC 3339 (from `date`, so the tests keep to the
/// one clock rule the crate's code follows).
fn a_minute_ago() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", "-1 minute", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// A project whose only issue went due a minute ago, sending through
/// `server` with a login, and signing with a DKIM key held in a variable:
/// every secret a send can need. Returns the project and the key's PEM.
fn due_project(server: &SmtpServer) -> (Project, String) {
    let project = Project::example();
    std::fs::remove_file(project.path().join("config/issues/2018-07-27.toml")).expect("rm");
    project.write(
        "config/issues/due-now.toml",
        format!(
            "date = 2026-12-04\nsend_at = {}\nsubject = \"Due now\"\n\n[[sections]]\ntitle = \"Top\"\nstories = [\"002/leeds-united\"]\n",
            a_minute_ago()
        ),
    );
    project.keygen("cu1", "rsa");
    let pem = project.read("dkim/cu1.pem");
    std::fs::remove_dir_all(project.path().join("dkim")).expect("rm key");
    let settings = project.read("config/newsletter.toml")
        + &format!(
            "\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nusername = \"catchup\"\npassword_env = \"CATCHUP_SMTP_PASSWORD\"\nretry_delay_ms = 20\n\n[dkim]\ndomain = \"hsj.example\"\nselector = \"cu1\"\nprivate_key_env = \"CATCHUP_DKIM_KEY\"\n",
            server.port
        );
    project.write("config/newsletter.toml", settings);
    project.subscribers(3, "");
    (project, pem)
}

/// Writes the environment file with `lines`, mode 600.
fn env_file(project: &Project, lines: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = project.write("config/catchup.env", lines);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

fn every_secret(pem: &str) -> String {
    format!(
        "# catchup's secrets\nCATCHUP_SECRET={SECRET}\nCATCHUP_SMTP_PASSWORD='{PASSWORD}'\nCATCHUP_DKIM_KEY=\"{}\"\n",
        pem.trim_end()
    )
}

/// `command` run as cron and systemd run it: `sh -c`, in `dir`, with
/// nothing in the environment but `HOME` and `PATH`.
fn run_unattended(dir: &Path, command: &str) -> i32 {
    std::process::Command::new("env")
        .arg("-i")
        .arg(format!("HOME={}", dir.display()))
        .arg("PATH=/usr/bin:/bin")
        .args(["sh", "-c", command])
        .current_dir(dir)
        .status()
        .expect("sh")
        .code()
        .unwrap_or(-1)
}

fn paths(project: &Project) -> (String, String) {
    let dir = project.path().canonicalize().expect("abs");
    let exe = assert_cmd::cargo::cargo_bin("catchup")
        .canonicalize()
        .expect("abs");
    (dir.display().to_string(), exe.display().to_string())
}

/// Every reader got the issue once, logged in and signed.
fn assert_delivered_logged_in_and_signed(server: &SmtpServer) {
    let deliveries = server.deliveries();
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    for d in &deliveries {
        assert_eq!(d.login.as_deref(), Some("catchup"), "{}", d.rcpt);
        let message = crate::support::mime::parse(&server.message(d.n));
        assert_eq!(message.count("DKIM-Signature"), 1, "{}", d.rcpt);
    }
}

#[test]
fn the_printed_cron_line_delivers_when_cron_runs_it() {
    let server = SmtpServer::start(&[
        "--auth",
        &format!("catchup:{PASSWORD}"),
        "--auth-without-tls",
    ]);
    let (project, pem) = due_project(&server);
    let (dir, exe) = paths(&project);
    let smtp_line = project
        .read("config/newsletter.toml")
        .lines()
        .position(|l| l == "[smtp]")
        .expect("[smtp]")
        + 2;

    // Nothing in the environment file yet: no line is printed, and every
    // missing secret is named, with where to put it. The test's own shell
    // has CATCHUP_SECRET, which cron would not pass on.
    project.expect(&["cron"]).code(2).stdout_is("").stderr_is(&format!(
        "error: an unattended run would fail at every start; it reads its secrets from `{dir}/config/catchup.env` alone:
  - the link secret variable `CATCHUP_SECRET` is not set; generate one with `openssl rand -hex 32` and add `CATCHUP_SECRET=...` to `config/catchup.env` (mode 600)
  - the SMTP password variable `CATCHUP_SMTP_PASSWORD` is not set (the password for [smtp] in config/newsletter.toml:{smtp_line}); add `CATCHUP_SMTP_PASSWORD=...` to `config/catchup.env` (mode 600) before sending
  - the DKIM key variable `CATCHUP_DKIM_KEY` is not set; add `CATCHUP_DKIM_KEY=...` to `config/catchup.env` (mode 600)
  - this shell has CATCHUP_SECRET, but cron and systemd do not pass this shell's environment on
"
    ));

    env_file(&project, &every_secret(&pem));
    let out = project.expect(&["cron"]).code(0).stderr_is("");
    let zone = out
        .stdout()
        .split("system time zone (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("the system's zone")
        .to_string();
    let expected = format!(
        "# catchup: weekly sends of HSJ Catch Up, Fridays at 07:00 Europe/London.
#
# cron runs in the system time zone ({zone}), not the newsletter's
# (Europe/London). That is fine: this line runs every 5 minutes and catchup
# decides in Europe/London whether an issue is due, so daylight-saving changes
# need no edit here. Each run takes a lock, logs one line per event to the
# file below, and never sends a reader the same issue twice.
#
# cron and systemd pass almost no environment, so every run reads
# CATCHUP_DKIM_KEY, CATCHUP_SECRET, CATCHUP_SMTP_PASSWORD from {dir}/config/catchup.env
# (mode 600; checked just now).
*/5 * * * * cd '{dir}' && mkdir -p '{dir}/state' && '{exe}' send --due >> '{dir}/state/cron.log' 2>&1
# Note: this is a debug build. Build with `cargo build --release` and run
# target/release/catchup cron for a faster binary.
"
    );
    assert_eq!(out.stdout(), expected);

    let line = out
        .stdout()
        .lines()
        .find(|l| l.starts_with("*/5 "))
        .expect("the line");
    let code = run_unattended(project.path(), line.trim_start_matches("*/5 * * * * "));
    let log = project.read("state/cron.log");
    assert_eq!(code, 0, "{log}");
    assert_delivered_logged_in_and_signed(&server);
    let log = events(&log);
    assert!(
        log.iter()
            .any(|l| l.starts_with("INFO send.done issue=due-now sent=3 ")),
        "{log:?}"
    );
}

#[test]
fn the_printed_systemd_units_deliver_when_systemd_runs_them() {
    let server = SmtpServer::start(&[
        "--auth",
        &format!("catchup:{PASSWORD}"),
        "--auth-without-tls",
    ]);
    let (project, pem) = due_project(&server);
    env_file(&project, &every_secret(&pem));
    let (dir, exe) = paths(&project);
    let out = project.expect(&["cron", "--systemd"]).code(0).stderr_is("");
    let expected = format!(
        "# ~/.config/systemd/user/catchup.service
[Unit]
Description=catchup: send due issues of HSJ Catch Up (Fridays at 07:00 Europe/London)

# cron and systemd pass almost no environment, so every run reads
# CATCHUP_DKIM_KEY, CATCHUP_SECRET, CATCHUP_SMTP_PASSWORD from {dir}/config/catchup.env
# (mode 600; checked just now).
[Service]
Type=oneshot
WorkingDirectory={dir}
ExecStart=\"{exe}\" send --due

# ~/.config/systemd/user/catchup.timer
[Unit]
Description=Run catchup send --due every 5 minutes

[Timer]
OnCalendar=*:0/5
Persistent=true

[Install]
WantedBy=timers.target

# Then: systemctl --user daemon-reload && systemctl --user enable --now catchup.timer
# Logs: journalctl --user -u catchup.service
# Note: this is a debug build. Build with `cargo build --release` and run
# target/release/catchup cron for a faster binary.
"
    );
    assert_eq!(out.stdout(), expected);
    let exec = out
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let code = run_unattended(Path::new(&dir), exec);
    assert_eq!(code, 0);
    assert_delivered_logged_in_and_signed(&server);
}

/// See: issue 9. `catchup cron` printed a line that would fail with exit 2
/// every five minutes.
#[test]
fn cron_refuses_to_print_a_line_that_would_fail_every_run() {
    let project = Project::example();
    env_file(&project, &format!("CATCHUP_SECRET={SECRET}\n"));
    let (dir, _) = paths(&project);
    project.expect(&["cron"]).code(2).stdout_is("").stderr_is(&format!(
        "error: an unattended run would fail at every start; it reads its secrets from `{dir}/config/catchup.env` alone:
  - nowhere to send: add [smtp] to config/newsletter.toml, pass --smtp URL, or add `CATCHUP_SMTP_URL=...` to `config/catchup.env` (mode 600)
  - cannot read the list `config/subscribers.csv`: it does not exist (os error 2)
"
    ));
    // The server may come from the file, as it may for any run.
    let server = SmtpServer::start(&[]);
    env_file(
        &project,
        &format!(
            "CATCHUP_SECRET={SECRET}\nCATCHUP_SMTP_URL={}\n",
            server.url()
        ),
    );
    project.subscribers(1, "");
    project
        .expect(&["cron"])
        .code(0)
        .stderr_is("")
        .stdout_matches(
            "# catchup: weekly sends of HSJ Catch Up, Fridays at 07:00 Europe/London.\n...\n*/5 * * * * cd [..] send --due >> [..]/state/cron.log' 2>&1\n...\n",
        );
}

/// See: issue 18, item 1. A secrets file others can read is refused by
/// every command, not only by cron.
#[test]
fn an_environment_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let project = Project::example();
    let path = project.write("config/catchup.env", format!("CATCHUP_SECRET={SECRET}\n"));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for args in [&["cron"][..], &["preview"], &["send", "--due"]] {
        project
            .expect(args)
            .code(2)
            .stdout_is("")
            .stderr_is("error: cannot read `config/catchup.env`: it holds a secret, but others can read it (mode 644); run chmod 600 on it\n");
    }
    env_file(&project, "CATCHUP_SECRET=x\nnot a line\n");
    project
        .expect(&["check"])
        .code(2)
        .stderr_is("error: config/catchup.env:2: expected NAME=value\n");
}

/// See: issue 18, item 1 (`serve --systemd` had the same gap).
#[test]
fn serve_refuses_to_print_a_unit_without_its_secret() {
    let project = Project::example();
    let (dir, exe) = paths(&project);
    project
        .expect(&["serve", "--systemd"])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "error: an unattended run would fail at every start; it reads its secrets from `{dir}/config/catchup.env` alone:
  - the link secret variable `CATCHUP_SECRET` is not set; generate one with `openssl rand -hex 32` and add `CATCHUP_SECRET=...` to `config/catchup.env` (mode 600)
  - this shell has CATCHUP_SECRET, but cron and systemd do not pass this shell's environment on
"
        ));
    env_file(&project, &format!("CATCHUP_SECRET={SECRET}\n"));
    let out = project.expect(&["serve", "--systemd"]).code(0);
    assert!(
        out.stdout().contains(&format!(
            "ExecStart=\"{exe}\" --config \"config/newsletter.toml\" serve --listen 127.0.0.1:8080\n# catchup reads its secrets itself, from {dir}/config/catchup.env (chmod 600).\n"
        )),
        "{out}"
    );
}

/// See: issue 18 (adversarial re-run, N5). In a folder with `%` in its
/// name, cron would have cut the line at the `%`, and systemd refused the
/// unit ("Invalid slot"); a space broke `serve --systemd`'s `ExecStart`.
#[test]
fn the_line_and_units_hold_in_a_folder_with_a_percent_and_a_space() {
    let server = SmtpServer::start(&[
        "--auth",
        &format!("catchup:{PASSWORD}"),
        "--auth-without-tls",
    ]);
    let (outer, pem) = due_project(&server);
    let odd = outer.path().join("p%1 news");
    for entry in ["config", "seeds"] {
        crate::support::copy_dir(&outer.path().join(entry), &odd.join(entry));
    }
    env_file(&outer, &every_secret(&pem));
    std::fs::copy(
        outer.path().join("config/catchup.env"),
        odd.join("config/catchup.env"),
    )
    .expect("env file");
    let dir = odd.to_str().expect("utf8");
    let cron = outer.expect(&["-C", dir, "cron"]).code(0);
    let line = cron
        .stdout()
        .lines()
        .find(|l| l.starts_with("*/5 "))
        .expect("the line")
        .trim_start_matches("*/5 * * * * ");
    assert!(line.contains(r"p\%1 news"), "{line}");
    // cron hands sh the command with each `\%` made `%`.
    let code = run_unattended(&odd, &line.replace(r"\%", "%"));
    assert_eq!(
        code,
        0,
        "{}",
        std::fs::read_to_string(odd.join("state/cron.log")).unwrap_or_default()
    );
    assert_eq!(server.deliveries().len(), 3);

    let units = outer.expect(&["-C", dir, "cron", "--systemd"]).code(0);
    let service: String = units
        .stdout()
        .split("# ~/.config/systemd/user/catchup.timer")
        .next()
        .expect("the service")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    verify_unit(outer.path(), "catchup.service", &service);
    let serve = outer.expect(&["-C", dir, "serve", "--systemd"]).code(0);
    let unit: String = serve
        .stdout()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    verify_unit(outer.path(), "catchup-serve.service", &unit);
}

/// `systemd-analyze verify` of a unit (it resolves specifiers, splits
/// `ExecStart` and checks the program is there).
fn verify_unit(dir: &Path, name: &str, unit: &str) {
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        return crate::support::skip(
            "cron::verify_unit",
            "systemd-analyze is not installed (apt-get install systemd)",
        );
    }
    let path = dir.join(name);
    std::fs::write(&path, unit).expect("unit");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&out.stderr);
    let about_it: Vec<&str> = said.lines().filter(|l| l.contains(name)).collect();
    assert!(
        out.status.success() && about_it.is_empty(),
        "{unit}\n{said}"
    );
}

/// See: issue 18 (adversarial re-run, N8). A secret exported in the shell
/// silently won over the environment file, so links a manual send made
/// were refused by a service started by systemd.
#[test]
fn a_secret_that_differs_between_the_shell_and_the_file_is_named() {
    let project = Project::example();
    env_file(
        &project,
        "CATCHUP_SECRET=another secret, quite long enough: 0123456789\n",
    );
    let warning = "warning: `CATCHUP_SECRET` is set in this environment and in `config/catchup.env` to different values: this run uses the environment's, and a run from cron or systemd the file's\n\n";
    project
        .expect(&["check"])
        .code(0)
        .stdout_matches("config/issues/2018-07-27.toml: [..]; 1 warning(s)\n")
        .stderr_is(warning);
    env_file(&project, &format!("CATCHUP_SECRET={SECRET}\n"));
    project
        .expect(&["check"])
        .checked("config/issues/2018-07-27.toml");
}

/// With `[subscribe]` the service mails confirmations, so its unit is only
/// printed once a relay and its password load from the environment file
/// alone. See: issue 22.
#[test]
fn serve_with_sign_ups_refuses_a_unit_without_the_relay_password() {
    let project = Project::example();
    let (dir, _) = paths(&project);
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(
        "\n[subscribe]\nconsent = \"Send me the news.\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nusername = \"catchup\"\npassword_env = \"CATCHUP_SMTP_PASSWORD\"\n",
    );
    project.write("config/newsletter.toml", settings);
    env_file(&project, &format!("CATCHUP_SECRET={SECRET}\n"));
    project
        .expect(&["serve", "--systemd"])
        .code(2)
        .stdout_is("")
        .stderr_has(&format!(
            "it reads its secrets from `{dir}/config/catchup.env` alone:\n"
        ))
        .stderr_has("CATCHUP_SMTP_PASSWORD");
    env_file(
        &project,
        &format!("CATCHUP_SECRET={SECRET}\nCATCHUP_SMTP_PASSWORD=p\n"),
    );
    project
        .expect(&["serve", "--systemd"])
        .code(0)
        .stdout_has("ExecStart=");
}
