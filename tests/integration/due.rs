//! `catchup send --due`, run as cron runs it every 15 minutes around both of
//! London's clock changes, against a real SMTP server: each issue goes out
//! exactly once, at the right local time. (Months of ticks run in-process,
//! in `command::send::due`'s tests.)

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::support::Project;
use crate::support::smtp::SmtpServer;

const READERS: usize = 3;

/// Stories in the fixture's seeds, one per issue.
const STORIES: &[&str] = &[
    "002/leeds-united",
    "000/hunts-integration-ambition",
    "000/workforce-upgrade",
    "002/debt-mountain",
    "002/merger-milestone",
    "002/stp-lead-steps-down",
    "002/leading-by-example",
    "002/nhs-goes-back-to-school",
    "003/following-monitors-footprints",
    "003/the-dh-in-special-measures",
];

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("RFC 3339")
}

/// A project sending Mondays at 07:00 London time, with `issues` as
/// (file name, extra TOML) and a few readers.
fn project(server: &SmtpServer, issues: &[(&str, &str)]) -> Project {
    let project = Project::example();
    let settings = project.read("config/newsletter.toml").replace(
        "weekday = \"Fri\"\ntime = \"07:00\"",
        "weekday = \"Mon\"\ntime = \"07:00\"",
    );
    project.write("config/newsletter.toml", settings);
    project.use_smtp(server.port, "");
    std::fs::remove_file(project.path().join("config/issues/2018-07-27.toml")).expect("rm");
    // Each issue its own story: one whose stories already went out is the
    // same issue again, and is refused (issue 18, item 2).
    for ((name, extra), story) in issues.iter().zip(STORIES.iter().cycle()) {
        let date = &name[..10];
        project.write(
            &format!("config/issues/{name}.toml"),
            format!(
                "date = {date}\nsubject = \"Issue {name}\"\n{extra}\n[[sections]]\ntitle = \"Top\"\nstories = [\"{story}\"]\n"
            ),
        );
    }
    project.subscribers(READERS, "");
    project
}

/// Which issue a delivery belongs to, from its subject.
fn issue_of(server: &SmtpServer, n: u64) -> String {
    let message = crate::support::mime::parse(&server.message(n));
    message.subject.trim_start_matches("Issue ").to_string()
}

/// Per issue, the ticks at which the server received its messages.
type Sent = BTreeMap<String, Vec<DateTime<Utc>>>;
/// Each tick: its moment, exit code and stderr.
type Ticks = Vec<(DateTime<Utc>, i32, String)>;

/// Every 15-minute tick from `start` to `end`.
fn ticks(start: &str, end: &str) -> Vec<DateTime<Utc>> {
    let mut ticks = Vec::new();
    let mut now = utc(start);
    while now < utc(end) {
        ticks.push(now);
        now += Duration::minutes(15);
    }
    ticks
}

/// Runs `send --due` at each tick, as cron would.
fn simulate(project: &Project, server: &SmtpServer, at: &[DateTime<Utc>]) -> (Sent, Ticks) {
    let mut sent = Sent::new();
    let mut ticks = Vec::new();
    let mut seen = 0;
    for &now in at {
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let out = project.expect(&["send", "--due", "--now", &stamp]);
        let deliveries = server.deliveries();
        for d in &deliveries[seen..] {
            sent.entry(issue_of(server, d.n)).or_default().push(now);
        }
        seen = deliveries.len();
        let _ = out.stdout();
        ticks.push((now, out.exit_code(), out.stderr().to_string()));
    }
    (sent, ticks)
}

/// Every issue went to every reader exactly once, all at tick `at`.
fn assert_sent_once_at(sent: &Sent, issue: &str, at: &str) {
    let ticks = sent
        .get(issue)
        .unwrap_or_else(|| panic!("{issue} was never sent; sent: {sent:?}"));
    assert_eq!(ticks.len(), READERS, "{issue}: {ticks:?}");
    assert!(
        ticks.iter().all(|t| *t == utc(at)),
        "{issue} went at {ticks:?}, not {at}"
    );
}

/// Real ticks around the spring clock change (months of them run
/// in-process, in `command::send::due`): the first Monday in summer time
/// goes out at 07:00 BST, once, and an overdue issue is said once.
#[test]
fn real_ticks_across_the_spring_clock_change() {
    let server = SmtpServer::start(&[]);
    let project = project(
        &server,
        &[
            // Its moment is before the ticks start: overdue, not sent.
            ("2026-03-09", ""),
            // 01:30 does not exist on 29 March (clocks go 01:00 GMT -> 02:00
            // BST): read with the offset before the gap, 01:30 UTC.
            ("2026-03-29-gap", "send_at = 2026-03-29T01:30:00"),
            // The first Monday in summer time: 07:00 BST is 06:00 UTC.
            ("2026-03-30", ""),
        ],
    );
    let mut at = ticks("2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z");
    at.extend(ticks("2026-03-30T05:30:00Z", "2026-03-30T06:30:00Z"));
    let (sent, ticks) = simulate(&project, &server, &at);

    assert_sent_once_at(&sent, "2026-03-29-gap", "2026-03-29T01:30:00Z");
    assert_sent_once_at(&sent, "2026-03-30", "2026-03-30T06:00:00Z");
    assert_eq!(sent.len(), 2, "the overdue issue did not go out late");

    // See: issue 18, item 13. The overdue issue is reported once, at the
    // first tick, whose exit code (6) says so; later ticks neither repeat
    // it nor fail for it.
    let ((first_at, first_code, first_err), later) = ticks.split_first().expect("ticks");
    assert_eq!(*first_code, 6, "at {first_at}: {first_err}");
    assert!(
        first_err.contains("WARN due.overdue issue=2026-03-09 moment=\"2026-03-09 07:00 GMT\""),
        "at {first_at}: {first_err}"
    );
    for (now, code, stderr) in later {
        assert_eq!(*code, 0, "at {now}: {stderr}");
        assert!(!stderr.contains("WARN"), "at {now}: {stderr}");
    }
    let (_, _, quiet) = &later[0];
    assert_eq!(
        crate::support::events(quiet),
        [
            "INFO due.nothing next_issue=2026-03-29-gap next_moment=\"2026-03-29 02:30 BST\" overdue_reported=2026-03-09"
        ]
    );
}

/// Real ticks around the autumn clock change: a time that happens twice
/// goes out the first time, and a quiet tick says one line.
#[test]
fn real_ticks_across_the_autumn_clock_change() {
    let server = SmtpServer::start(&[]);
    let project = project(
        &server,
        &[
            // 01:30 happens twice on 25 October (02:00 BST -> 01:00 GMT):
            // the first time, 01:30 BST, is 00:30 UTC.
            ("2026-10-25-twice", "send_at = 2026-10-25T01:30:00"),
            // The first Monday in winter time: 07:00 GMT is 07:00 UTC.
            ("2026-10-26", ""),
        ],
    );
    let mut at = ticks("2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z");
    at.extend(ticks("2026-10-26T06:30:00Z", "2026-10-26T07:30:00Z"));
    let (sent, ticks) = simulate(&project, &server, &at);

    assert_sent_once_at(&sent, "2026-10-25-twice", "2026-10-25T00:30:00Z");
    assert_sent_once_at(&sent, "2026-10-26", "2026-10-26T07:00:00Z");
    assert_eq!(sent.len(), 2);

    let (now, code, stderr) = &ticks[0];
    assert_eq!(*code, 0, "at {now}");
    assert_eq!(
        crate::support::events(stderr),
        ["INFO due.nothing next_issue=2026-10-25-twice next_moment=\"2026-10-25 01:30 BST\""]
    );
    assert!(ticks.iter().all(|(_, code, _)| *code == 0), "{ticks:?}");
}

#[test]
fn an_overdue_issue_goes_out_with_late_ok() {
    let server = SmtpServer::start(&[]);
    let project = project(&server, &[("2026-03-09", "")]);
    let (code, _, stderr) = project.run(&["send", "--due", "--now", "2026-03-11T09:00:00Z"]);
    assert_eq!(code, 6);
    assert!(stderr.contains("late_by=50h00m"), "{stderr}");
    assert!(server.deliveries().is_empty());

    let (code, _, stderr) = project.run(&[
        "send",
        "--due",
        "--late-ok",
        "--now",
        "2026-03-11T09:00:00Z",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("INFO due.sending issue=2026-03-09"),
        "{stderr}"
    );
    assert_eq!(server.deliveries().len(), READERS);
}

/// See: issue 18, item 13. A week with no issue written went by without a
/// word.
#[test]
fn a_missing_issue_is_warned_of_once_a_day_before_its_slot() {
    let server = SmtpServer::start(&[]);
    let project = project(&server, &[("2026-03-16", "")]);
    let tick = |now: &str| {
        let (code, _, stderr) = project.run(&["send", "--due", "--now", now]);
        (code, crate::support::events(&stderr))
    };
    let (code, _) = tick("2026-03-16T07:00:00Z");
    assert_eq!(code, 0);
    assert_eq!(server.deliveries().len(), READERS);
    // 25 hours before Monday 23 March, 07:00 GMT: not yet worth a word.
    assert_eq!(
        tick("2026-03-22T06:00:00Z"),
        (
            0,
            vec!["INFO due.nothing next_issue=none next_moment=none".to_string()]
        )
    );
    assert_eq!(
        tick("2026-03-22T08:00:00Z"),
        (
            0,
            vec![
                "WARN due.missing slot=\"2026-03-23 07:00 GMT\" in=23h00m hint=\"no issue file goes out that day; catchup new writes one\"".to_string(),
                "INFO due.nothing next_issue=none next_moment=none".to_string(),
            ]
        )
    );
    assert_eq!(
        tick("2026-03-22T08:05:00Z"),
        (
            0,
            vec!["INFO due.nothing next_issue=none next_moment=none".to_string()]
        ),
        "said once"
    );
}

#[test]
fn an_interrupted_due_send_resumes_on_the_next_tick() {
    // The server stops after one message; the next tick (server back) sends
    // the rest, and nobody gets two copies.
    let server = SmtpServer::start(&["--vanish-after", "1"]);
    let project = project(&server, &[("2026-03-16", "")]);
    let settings = project.read("config/newsletter.toml").replace(
        "retry_delay_ms = 20",
        "retry_delay_ms = 20\nretries = 1\nconnections = 1",
    );
    project.write("config/newsletter.toml", settings);
    let (code, _, stderr) = project.run(&["send", "--due", "--now", "2026-03-16T07:00:00Z"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(!project.path().join("state/2026-03-16/complete").exists());

    let server = SmtpServer::restart(server, &[]);
    let (code, _, stderr) = project.run(&[
        "send",
        "--due",
        "--now",
        "2026-03-16T07:15:00Z",
        "--smtp",
        &server.url(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let mut rcpts: Vec<String> = server.deliveries().into_iter().map(|d| d.rcpt).collect();
    rcpts.sort();
    let unique = rcpts.len();
    rcpts.dedup();
    assert_eq!(unique, rcpts.len(), "nobody twice");
    assert_eq!(rcpts.len(), READERS);
    assert!(project.path().join("state/2026-03-16/complete").exists());
}

#[test]
fn two_due_runs_started_together_deliver_each_reader_once() {
    let server = SmtpServer::start(&["--delay", "0.05"]);
    let project = project(&server, &[("2026-03-16", "")]);
    project.subscribers(40, "");
    let now = "2026-03-16T07:00:00Z";
    let mut first = project.spawn(&["send", "--due", "--now", now]);
    let mut second = project.spawn(&["send", "--due", "--now", now]);
    let codes = [
        first.wait().expect("first").code(),
        second.wait().expect("second").code(),
    ];
    // One sends; the other finds the lock held (5) or, if it started after
    // the first finished, nothing left to do (0).
    assert!(codes.contains(&Some(0)), "{codes:?}");
    assert!(codes.iter().all(|c| matches!(c, Some(0 | 5))), "{codes:?}");
    let mut rcpts: Vec<String> = server.deliveries().into_iter().map(|d| d.rcpt).collect();
    assert_eq!(rcpts.len(), 40);
    rcpts.sort();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 40, "each reader once");
}

#[test]
fn a_second_due_run_while_one_holds_the_lock_leaves_at_once() {
    let server = SmtpServer::start(&["--delay", "0.2"]);
    let project = project(&server, &[("2026-03-16", "")]);
    project.subscribers(20, "");
    let mut first = project.spawn(&["send", "--due", "--now", "2026-03-16T07:00:00Z"]);
    server.wait_for(1, std::time::Duration::from_secs(20));
    let start = std::time::Instant::now();
    let (code, _, stderr) = project.run(&["send", "--due", "--now", "2026-03-16T07:00:00Z"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.starts_with("error: another run is working on due issues (send --due) (pid "),
        "{stderr}"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "it waited"
    );
    assert!(first.wait().expect("first").success());
}

#[test]
fn a_malformed_schedule_is_a_configuration_error() {
    let project = Project::example();
    let settings = project.read("config/newsletter.toml").replace(
        "timezone = \"Europe/London\"",
        "timezone = \"Europe/Londn\"",
    );
    project.write("config/newsletter.toml", settings);
    let (code, _, stderr) = project.run(&["send", "--due"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown time zone `Europe/Londn`"),
        "{stderr}"
    );
    assert!(stderr.contains("--> config/newsletter.toml:"), "{stderr}");
    assert!(stderr.contains("did you mean `Europe/London`?"), "{stderr}");

    for (find, replace, message) in [
        (
            "weekday = \"Fri\"",
            "weekday = \"Friyay\"",
            "unknown weekday `Friyay`",
        ),
        ("time = \"07:00\"", "time = \"7am\"", "`7am` is not a time"),
        (
            "time = \"07:00\"",
            "time = \"24:30\"",
            "`24:30` is not a time",
        ),
    ] {
        let project = Project::example();
        let settings = project
            .read("config/newsletter.toml")
            .replace(find, replace);
        project.write("config/newsletter.toml", settings);
        let (code, _, stderr) = project.run(&["send", "--due"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn no_schedule_is_explained() {
    let project = Project::example();
    let settings = project.read("config/newsletter.toml");
    let cut = settings.find("[schedule]").expect("schedule");
    let end =
        settings[cut..].find("grace_hours = 24\n").expect("end") + cut + "grace_hours = 24\n".len();
    project.write(
        "config/newsletter.toml",
        format!("{}{}", &settings[..cut], &settings[end..]),
    );
    let (code, _, stderr) = project.run(&["send", "--due"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("send --due needs a schedule: add to config/newsletter.toml"),
        "{stderr}"
    );
}

/// See: issue 9. A copied issue file with its date unchanged made
/// `send --due` send both, so every reader got two copies.
#[test]
fn issue_files_that_clash_are_both_refused_by_send_due() {
    let server = SmtpServer::start(&[]);
    let project = project(&server, &[("2026-03-16", ""), ("2026-03-16-copy", "")]);
    let out = project
        .expect(&["send", "--due", "--now", "2026-03-16T07:05:00Z"])
        .code(2);
    for name in ["2026-03-16", "2026-03-16-copy"] {
        assert!(
            out.stderr()
                .contains(&format!("ERROR due.failed issue={name} error=")),
            "{out}"
        );
    }
    assert!(
        out.stderr()
            .contains("both go out at 2026-03-16 07:00 GMT; every reader would get two issues"),
        "{out}"
    );
    assert!(server.deliveries().is_empty(), "nothing was sent");
}
