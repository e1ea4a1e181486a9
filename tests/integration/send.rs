//! `catchup send` against a real SMTP server (aiosmtpd) on loopback: each
//! reader exactly once, the right headers, and every fault survived.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::smtp::SmtpServer;
use crate::support::{Project, files_under, mime, unsubscribe_url};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// How many times the server accepted a message for each recipient.
fn counts(server: &SmtpServer) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for d in server.deliveries() {
        assert_eq!(
            d.rcpts,
            std::slice::from_ref(&d.rcpt),
            "one recipient per message"
        );
        *counts.entry(d.rcpt).or_insert(0) += 1;
    }
    counts
}

fn set(emails: &[String]) -> BTreeSet<String> {
    emails.iter().cloned().collect()
}

#[test]
fn a_test_send_goes_to_the_given_addresses_only_and_records_nothing() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(5, "");
    let (code, stdout, stderr) =
        project.run(&["send", ISSUE, "--to", "ed@hsj.example,sub@hsj.example"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "test send: 2 sent, 0 failed, 0 uncertain\n");

    let deliveries = server.deliveries();
    let rcpts: Vec<&str> = deliveries.iter().map(|d| d.rcpt.as_str()).collect();
    assert_eq!(rcpts, ["ed@hsj.example", "sub@hsj.example"]);
    for d in &deliveries {
        let message = mime::parse(&server.message(d.n));
        assert_eq!(
            message.subject,
            "[TEST] Bold ambition for mental health, and the debt mountain"
        );
        assert!(
            message.message_id.contains(".test-"),
            "{}",
            message.message_id
        );
        assert_eq!(d.mail_from, "catchup@hsj.example");
    }
    assert!(
        !project.path().join("state").exists(),
        "a test send records nothing"
    );
}

#[test]
fn a_list_send_reaches_each_reader_exactly_once_with_their_own_headers() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    let readers = project.subscribers(300, "");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("2018-07-27: sent 300, failed 0, deferred 0, uncertain 0, not tried 0;"),
        "{stdout}"
    );
    assert!(
        stderr.contains(" INFO send.done issue=2018-07-27 sent=300 failed=0"),
        "{stderr}"
    );

    let counts = counts(&server);
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        set(&readers)
    );
    assert!(counts.values().all(|&n| n == 1), "a reader got two copies");

    let mut message_ids = BTreeSet::new();
    for d in server.deliveries() {
        let raw = server.message(d.n);
        let m = mime::parse(&raw);
        let i: usize = d
            .rcpt
            .trim_start_matches("reader")
            .trim_end_matches("@nhs.example")
            .parse()
            .expect("number");
        assert_eq!(m.to_address, d.rcpt);
        assert_eq!(m.to_name.as_deref(), Some(format!("Reader {i}").as_str()));
        assert_eq!(
            m.subject,
            "Bold ambition for mental health, and the debt mountain"
        );
        let url = unsubscribe_url(&d.rcpt);
        assert_eq!(
            m.header("List-Unsubscribe"),
            format!(
                "<{url}>, <mailto:{}?subject=unsubscribe>",
                crate::support::unsubscribe_mailto(&d.rcpt)
            )
        );
        assert_eq!(
            m.header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(m.count("Date"), 1);
        assert!(m.message_id.starts_with("2018-07-27.") && m.message_id.ends_with("@hsj.example"));
        assert!(
            message_ids.insert(m.message_id.clone()),
            "Message-IDs are per reader"
        );
        assert_eq!(m.part_types, ["text/plain", "text/html"]);
        // The personal link in both parts, and nobody else's.
        assert!(
            m.html.contains(&url.replace('&', "&amp;")),
            "html has the reader's link"
        );
        assert!(m.text.contains(&url), "text has the reader's link");
        assert!(!m.html.contains("unsubscribe.invalid") && !m.text.contains("unsubscribe.invalid"));
        assert!(mime::longest_line(&raw) <= 998);
    }

    // A second run sends nothing and says so.
    let (code, stdout, _) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("2018-07-27: already complete, nothing to send (300 sent earlier"),
        "{stdout}"
    );
    assert_eq!(server.deliveries().len(), 300);
}

#[test]
fn the_message_id_is_the_same_for_a_reader_across_runs() {
    let server = SmtpServer::start(&["--rcpt-451", "reader2@*"]);
    let project = Project::example();
    project.use_smtp(server.port, "retries = 1\n");
    project.subscribers(2, "");
    let (code, _, _) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 4, "reader2 deferred");
    // The Message-ID depends only on issue and reader (and the secret).
    let first = mime::parse(&server.message(1)).message_id;
    let id = crate::support::reader_id(crate::support::SECRET, "reader1@nhs.example");
    assert_eq!(first, format!("2018-07-27.{id}@hsj.example"));
    // See: issue 10. It is not a plain hash of the address, which would let
    // anyone who sees it confirm a guessed address.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(b"reader1@nhs.example");
    let plain: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!first.contains(&plain));
}

#[test]
fn temporary_and_permanent_refusals_are_handled_per_reader() {
    // reader3 is greylisted twice, reader7 always refused for now, reader9
    // refused for good.
    let server = SmtpServer::start(&[
        "--rcpt-451",
        "reader3@*:2",
        "--rcpt-451",
        "reader7@*",
        "--rcpt-550",
        "reader9@*",
    ]);
    let project = Project::example();
    project.use_smtp(server.port, "retries = 3\n");
    let readers = project.subscribers(20, "");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(
        code, 4,
        "a deferred reader means: run again\n{stdout}{stderr}"
    );
    assert!(
        stdout.contains("sent 18, failed 1, deferred 1, uncertain 0, not tried 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  failed reader9@nhs.example: 550 5.1.1 No such user here\n  deferred reader7@nhs.example: 451 4.7.1 Try again later\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 reader(s) deferred after repeated temporary failures"),
        "{stdout}"
    );
    assert!(
        stderr.contains("WARN send.deferred reader=reader7@nhs.example attempts=4"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("send.retry reader=reader3@nhs.example")
            .count(),
        2,
        "{stderr}"
    );

    let expected: BTreeSet<String> = readers
        .iter()
        .filter(|r| !r.starts_with("reader7@") && !r.starts_with("reader9@"))
        .cloned()
        .collect();
    assert_eq!(
        counts(&server).keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );

    // The server stops refusing reader7: the next run sends to reader7 only,
    // and never to reader9 (refused for good).
    let server = SmtpServer::restart(server, &["--rcpt-550", "reader9@*"]);
    let (code, stdout, _) = project.run(&["send", ISSUE, "--all", "--smtp", &server.url()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("2018-07-27: sent 1, failed 0"),
        "{stdout}"
    );
    let counts = counts(&server);
    assert_eq!(counts.get("reader7@nhs.example"), Some(&1));
    assert_eq!(counts.get("reader9@nhs.example"), None);
    assert!(counts.values().all(|&n| n == 1));
}

#[test]
fn a_server_that_goes_away_ends_the_run_and_the_next_run_finishes() {
    let server = SmtpServer::start(&["--vanish-after", "50"]);
    let project = Project::example();
    project.use_smtp(server.port, "retries = 2\n");
    let readers = project.subscribers(200, "");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stdout.contains("stopped early: server unavailable: cannot connect to 127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("run the same command again to resume"),
        "{stdout}"
    );
    assert!(stderr.contains("ERROR smtp.gave_up"), "{stderr}");
    // Connections already past MAIL when it went may have got theirs in.
    let before = server.deliveries().len();
    assert!((50..50 + 4).contains(&before), "{before}");

    let server = SmtpServer::restart(server, &[]);
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all", "--smtp", &server.url()]);
    // A message in the middle of its body when the server died may be
    // uncertain; those are reported and not sent again.
    let uncertain = uncertain_in(&stdout);
    assert!(
        code == 0 || (code == 3 && !uncertain.is_empty()),
        "{stdout}{stderr}"
    );
    let counts = counts(&server);
    assert!(counts.values().all(|&n| n == 1), "nobody twice: {counts:?}");
    let delivered: BTreeSet<String> = counts.keys().cloned().collect();
    let expected: BTreeSet<String> = set(&readers).difference(&uncertain).cloned().collect();
    assert_eq!(delivered, expected);
}

#[test]
fn a_run_killed_mid_send_resumes_without_sending_anyone_twice() {
    // reader5's reply hangs: the run is killed while the server holds
    // reader5's message without having answered.
    let server = SmtpServer::start(&["--delay", "0.02", "--data-hang", "reader5@*:30"]);
    let project = Project::example();
    project.use_smtp(server.port, "timeout_secs = 60\n");
    let readers = project.subscribers(200, "");
    let mut child = project.spawn(&["send", ISSUE, "--all"]);
    let start = Instant::now();
    loop {
        let seen = server.deliveries();
        if seen.len() >= 60 && seen.iter().any(|d| d.rcpt == "reader5@nhs.example") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the send made no progress"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let before = server.deliveries().len();
    assert!(before < 200, "killed mid-run");

    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(
        code, 3,
        "uncertain readers from the killed run\n{stdout}{stderr}"
    );
    // reader5 was held by the server, unanswered, when the run died; any
    // other reader marked in flight at that moment is uncertain too.
    let uncertain = uncertain_in(&stdout);
    assert!(uncertain.contains("reader5@nhs.example"), "{stdout}");
    assert!(
        uncertain.len() <= 4,
        "at most one per connection: {uncertain:?}"
    );
    let counts = counts(&server);
    assert!(
        counts.values().all(|&n| n == 1),
        "someone got two copies: {counts:?}"
    );
    assert_eq!(counts.get("reader5@nhs.example"), Some(&1));
    let delivered: BTreeSet<String> = counts.keys().cloned().collect();
    let missing: BTreeSet<String> = set(&readers).difference(&delivered).cloned().collect();
    assert!(
        missing.is_subset(&uncertain),
        "lost readers {missing:?}, uncertain {uncertain:?}"
    );
}

/// The addresses listed under "uncertain (...)" in a send's output.
pub fn uncertain_in(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("uncertain ("))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.trim().split(' ').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn no_reply_after_the_body_is_uncertain_and_not_resent_unless_asked() {
    let server = SmtpServer::start(&["--data-hang", "reader2@*:4"]);
    let project = Project::example();
    project.use_smtp(server.port, "data_timeout_secs = 1\n");
    project.subscribers(3, "");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(
        stdout.contains("sent 2, failed 0, deferred 0, uncertain 1"),
        "{stdout}"
    );
    assert!(stdout.contains("uncertain (the server may have accepted these; not sent again without --resend-uncertain):\n  reader2@nhs.example (after the end of the message: no reply within 1 s)\n"), "{stdout}");
    assert!(
        stderr.contains("WARN send.uncertain reader=reader2@nhs.example"),
        "{stderr}"
    );

    // See: issue 9, item 5. A re-run that lists uncertain readers exits 3,
    // so that monitoring sees them.
    let (code, stdout, _) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.starts_with("2018-07-27: already complete, nothing to send (2 sent earlier, 0 failed earlier, 1 uncertain"), "{stdout}");
    assert!(
        stdout.contains("  reader2@nhs.example (an earlier run)\n"),
        "{stdout}"
    );
    assert_eq!(counts(&server).get("reader2@nhs.example"), Some(&1));

    // Asked for explicitly, it goes again.
    let server = SmtpServer::restart(server, &[]);
    let (code, stdout, _) = project.run(&[
        "send",
        ISSUE,
        "--all",
        "--resend-uncertain",
        "--smtp",
        &server.url(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("2018-07-27: sent 1,"), "{stdout}");
    assert!(
        !stdout.contains("uncertain (the server"),
        "a resent reader is not listed as uncertain any more: {stdout}"
    );
    assert_eq!(counts(&server).get("reader2@nhs.example"), Some(&2));
}

#[test]
fn two_runs_of_one_issue_never_send_together() {
    let server = SmtpServer::start(&["--delay", "0.05"]);
    let project = Project::example();
    project.use_smtp(server.port, "connections = 2\n");
    let readers = project.subscribers(40, "");
    let mut first = project.spawn(&["send", ISSUE, "--all"]);
    server.wait_for(2, Duration::from_secs(20));
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 5, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: another run is working on issue `2018-07-27` (pid "),
        "{stderr}"
    );
    assert!(first.wait().expect("first run").success());
    let counts = counts(&server);
    assert_eq!(
        counts.keys().cloned().collect::<BTreeSet<_>>(),
        set(&readers)
    );
    assert!(counts.values().all(|&n| n == 1));
}

#[test]
fn bad_rows_duplicates_and_suppressed_readers_are_skipped_and_reported() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(
        3,
        "not-an-address,Nobody,x\n,Empty,x\nREADER2@nhs.example,Again,x\ngone@nhs.example,Gone,x\n",
    );
    project.write(
        "config/suppressed.csv",
        "email,reason\ngone@nhs.example,unsubscribed\n",
    );
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("sent 3, failed 0, deferred 0, uncertain 0, not tried 0; skipped 1 suppressed, 2 invalid row(s), 1 duplicate(s)"), "{stdout}");
    assert!(stderr.contains("WARN subscribers.skipped at=config/subscribers.csv:5 why=\"`not-an-address` is not an email address"), "{stderr}");
    assert!(
        stderr.contains(
            "WARN subscribers.skipped at=config/subscribers.csv:6 why=\"no email address\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN subscribers.duplicate at=config/subscribers.csv:7 first=\"line 3\""),
        "{stderr}"
    );
    let rcpts: BTreeSet<String> = counts(&server).keys().cloned().collect();
    assert_eq!(
        rcpts,
        set(&[
            "reader1@nhs.example".into(),
            "reader2@nhs.example".into(),
            "reader3@nhs.example".into()
        ])
    );
}

#[test]
fn a_missing_password_variable_is_a_configuration_error_before_anything_happens() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(
        server.port,
        "username = \"catchup\"\npassword_env = \"CATCHUP_TEST_PASSWORD_UNSET\"\n",
    );
    project.subscribers(3, "");
    let (code, _, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: the SMTP password variable `CATCHUP_TEST_PASSWORD_UNSET` is not set (the password for [smtp] in config/newsletter.toml:"),
        "{stderr}"
    );
    assert!(server.deliveries().is_empty());
    assert!(!project.path().join("state").exists(), "no lock, no ledger");
}

#[test]
fn line_breaks_in_a_name_or_subject_cannot_add_a_header() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(
        1,
        "eve@nhs.example,\"Eve\r\nBcc: victim@elsewhere.example\r\nX-Evil: 1\",x\n",
    );
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let deliveries = server.deliveries();
    assert_eq!(deliveries.len(), 2);
    for d in &deliveries {
        assert_eq!(d.rcpts.len(), 1, "no extra recipient");
        let m = mime::parse(&server.message(d.n));
        assert_eq!(m.count("Bcc"), 0);
        assert_eq!(m.count("X-Evil"), 0);
        assert_eq!(m.count("To"), 1);
    }
    let eve = deliveries
        .iter()
        .find(|d| d.rcpt == "eve@nhs.example")
        .expect("eve");
    let m = mime::parse(&server.message(eve.n));
    assert_eq!(
        m.to_name.as_deref(),
        Some("Eve Bcc: victim@elsewhere.example X-Evil: 1")
    );

    // A subject with a line break never gets as far as sending.
    let issue = project.read(ISSUE).replace(
        "subject = \"Bold ambition for mental health, and the debt mountain\"",
        "subject = \"Hello\\r\\nBcc: victim@elsewhere.example\"",
    );
    project.write("config/issues/evil.toml", issue);
    let (code, _, stderr) = project.run(&["send", "config/issues/evil.toml", "--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("the subject contains a line break"),
        "{stderr}"
    );
    assert_eq!(server.deliveries().len(), 2);
}

#[test]
fn dry_run_says_who_would_get_what_and_touches_nothing() {
    let project = Project::example();
    project.subscribers(2, "bad,x,x\n");
    project.write("config/suppressed.csv", "reader2@nhs.example\n");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "config/subscribers.csv:2: would send to Reader 1 <reader1@nhs.example>\n\
         config/subscribers.csv:3: skip, suppressed\n\
         config/subscribers.csv:4: skip, `bad` is not an email address (Missing domain or user)\n\
         2018-07-27: would send 1; 0 already sent, 0 refused earlier, 0 uncertain, 1 suppressed, 1 invalid, 0 duplicate(s) (dry run: nothing sent, nothing recorded)\n"
    );
    assert!(!project.path().join("state").exists());
}

#[test]
fn the_file_transport_writes_each_readers_message_and_sends_nothing() {
    let project = Project::example();
    project.subscribers(3, "");
    let (code, stdout, stderr) = project.run(&["send", ISSUE, "--all", "--transport", "file"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "wrote 3 message(s) to previews/outbox/2018-07-27/ (nothing sent, nothing recorded)\n"
    );
    let files = files_under(&project.path().join("previews/outbox/2018-07-27"));
    assert_eq!(
        files,
        [
            "00001-reader1@nhs.example.eml",
            "00002-reader2@nhs.example.eml",
            "00003-reader3@nhs.example.eml"
        ]
    );
    let raw = std::fs::read(
        project
            .path()
            .join("previews/outbox/2018-07-27/00002-reader2@nhs.example.eml"),
    )
    .expect("eml");
    let m = mime::parse(&raw);
    assert_eq!(m.to_address, "reader2@nhs.example");
    assert!(
        m.header("List-Unsubscribe")
            .contains(&unsubscribe_url("reader2@nhs.example"))
    );
    assert!(!project.path().join("state").exists());
}

#[test]
fn the_smtp_url_can_come_from_the_environment() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let (code, stdout, stderr) = project
        .catchup()
        .env("CATCHUP_SMTP_URL", server.url())
        .args(["send", ISSUE, "--to", "ed@hsj.example"])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .expect("run");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(server.deliveries().len(), 1);
}

#[test]
fn unencrypted_smtp_to_a_remote_host_is_refused_without_a_connection() {
    let project = Project::example();
    let (code, _, stderr) = project.run(&[
        "send",
        ISSUE,
        "--to",
        "ed@hsj.example",
        "--smtp",
        "smtp://mail.example.com:25",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("sends unencrypted to `mail.example.com`, which is not a loopback host"),
        "{stderr}"
    );
}

#[test]
fn no_smtp_settings_at_all_is_explained() {
    let project = Project::example();
    let (code, _, stderr) = project.run(&["send", ISSUE, "--to", "ed@hsj.example"]);
    assert_eq!(code, 2);
    assert!(
        stderr
            .contains("nowhere to send: add [smtp] to config/newsletter.toml, pass --smtp URL, or add `CATCHUP_SMTP_URL=...` to `config/catchup.env` (mode 600)"),
        "{stderr}"
    );
}

#[test]
fn a_missing_subscriber_list_is_named_and_leaves_no_state_behind() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    let (code, _, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(
            "error: nothing was sent: cannot read the list `config/subscribers.csv`: it does not exist (os error 2)"
        ),
        "{stderr}"
    );
    assert!(!project.path().join("state").exists());

    project.write("config/subscribers.csv", "address,name\na@nhs.example,A\n");
    let (code, _, stderr) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("has no `email` column in its header row (found: address,name)"),
        "{stderr}"
    );
    assert!(!project.path().join("state").exists());
    assert!(server.deliveries().is_empty());
}

/// A lower bound only: a slow machine can make a run longer, never shorter,
/// so this cannot fail for noise.
#[test]
fn a_rate_limit_spaces_the_messages_out() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "rate = 20\n");
    project.subscribers(11, "");
    let start = Instant::now();
    let (code, stdout, _) = project.run(&["send", ISSUE, "--all"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(server.deliveries().len(), 11);
    // 11 messages at 20 per second: the last goes at least 10 × 50 ms after
    // the first.
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}

/// See: issue 9. The same content under another name, once the first file
/// has left the issues folder, asks for --force.
#[test]
fn an_issue_already_sent_under_another_name_needs_force() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(3, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    let example = project.read(ISSUE);
    std::fs::remove_file(project.path().join(ISSUE)).expect("move the sent issue away");
    project.write(
        "config/issues/2018-08-03.toml",
        example.replace("date = 2018-07-27", "date = 2018-08-03"),
    );
    project
        .expect(&["send", "config/issues/2018-08-03.toml", "--all"])
        .code(2)
        .stderr_has("error: this issue went out already: 10 of its 10 stories went out in issue `2018-07-27`, list-sent for 2018-07-27; every reader would get it twice");
    assert_eq!(server.deliveries().len(), 3);
    force_the_repeat(&project);
    assert_eq!(server.deliveries().len(), 6, "--force sends it");
}

/// `send --force` of `2018-08-03`, the example issue again to 3 readers:
/// it goes out, with the warning it would have been refused for.
fn force_the_repeat(project: &Project) {
    project
        .expect(&["send", "config/issues/2018-08-03.toml", "--all", "--force"])
        .sent_with_warning("2018-08-03", 3, "warning: this issue went out already: 10 of its 10 stories went out in issue `2018-07-27`, list-sent for 2018-07-27\n --> config/issues/2018-08-03.toml:3:11\n...");
}

/// See: issue 9. `check` warns when an issue reuses a story an earlier sent
/// issue carried.
#[test]
fn check_warns_about_a_story_an_earlier_sent_issue_carried() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 2);
    project.write(
        "config/issues/2018-08-03.toml",
        "date = 2018-08-03\nsubject = \"Next week\"\n[[sections]]\ntitle = \"Again\"\nstories = [\"002/debt-mountain\", \"000/workforce-upgrade\", \"002/stp-lead-steps-down\"]\n",
    );
    project
        .expect(&["check", "config/issues/2018-08-03.toml"])
        .code(0)
        .stdout_matches(
            "config/issues/2018-08-03.toml: 3 stories in 1 sections; [..]; 1 warning(s)\n",
        )
        .stderr_is(
            "warning: story `002/debt-mountain` already went out in issue `2018-07-27` (2018-07-27)
 --> config/issues/2018-08-03.toml:5:12
  |
5 | stories = [\"002/debt-mountain\", \"000/workforce-upgrade\", \"002/stp-lead-steps-down\"]
  |            ^^^^^^^^^^^^^^^^^^^

",
        );
}

/// See: issue 18, item 2. A sent issue's file renamed and one comma dropped
/// from its subject: the next `send --due` sent it to every reader again.
#[test]
fn a_renamed_sent_issue_is_refused_by_check_send_and_send_due() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(3, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    let renamed = project
        .read(ISSUE)
        .replace("date = 2018-07-27", "date = 2018-08-03")
        .replace("mental health, and", "mental health and");
    std::fs::remove_file(project.path().join(ISSUE)).expect("rename");
    project.write("config/issues/2018-08-03.toml", renamed);
    // What the README shows, whole.
    let (_, error) = crate::support::readme_block("error: this issue went out already");
    project
        .expect(&["check"])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{error}\n1 error(s), 0 warning(s); nothing written\n"
        ));
    let send = project
        .expect(&["send", "config/issues/2018-08-03.toml", "--all"])
        .code(2);
    assert!(send.stderr().starts_with(&error), "{send}");
    let due = project
        .expect(&["send", "--due", "--now", "2018-08-03T06:05:00Z"])
        .code(2);
    assert!(
        crate::support::events(due.stderr()).iter().any(|l| l.starts_with(
            "ERROR due.failed issue=2018-08-03 error=\"config/issues/2018-08-03.toml:3:11: this issue went out already: 10 of its 10 stories"
        )),
        "{due}"
    );
    assert_eq!(server.deliveries().len(), 3, "nobody got it twice");
    force_the_repeat(&project);
    assert_eq!(server.deliveries().len(), 6, "--force sends it");
}

/// PIPELINING (RFC 2920): MAIL, RCPT and DATA go in one write to a server
/// that offers it. Postfix's smtp-sink does; each reader arrives once,
/// whole, with their own headers.
#[test]
fn a_pipelining_server_gets_each_reader_once_and_whole() {
    let sink = match crate::support::sink::Sink::start() {
        Ok(sink) => sink,
        Err(why) => {
            crate::support::skip(
                "send::a_pipelining_server_gets_each_reader_once_and_whole",
                &why,
            );
            return;
        }
    };
    let project = Project::example();
    let readers = project.subscribers(60, "");
    project
        .expect(&["send", ISSUE, "--all", "--smtp", &sink.url()])
        .sent_to_all("2018-07-27", 60);
    sink.wait_for(60);
    let messages = sink.messages();
    let rcpts: BTreeSet<String> = messages.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(rcpts, set(&readers));
    assert_eq!(messages.len(), 60, "nobody twice");
    for (rcpt, raw) in &messages {
        let m = mime::parse(raw);
        assert_eq!(&m.to_address, rcpt);
        assert_eq!(m.part_types, ["text/plain", "text/html"]);
        assert!(m.text.contains(&unsubscribe_url(rcpt)), "{rcpt}");
        assert!(
            m.html.trim_end().ends_with("</html>"),
            "the whole body arrived"
        );
    }
}

/// See: issue 18, item 17. `status` had no `--state`, though `send` has.
#[test]
fn status_reads_the_state_folder_a_send_was_given() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(3, "");
    project
        .expect(&["send", ISSUE, "--all", "--state", "elsewhere"])
        .sent_to_all("2018-07-27", 3);
    let sent = |args: &[&str]| {
        let out = project.expect(args).code(0);
        let json: serde_json::Value = serde_json::from_str(out.stdout()).expect("JSON");
        json["sent"].as_u64().expect("sent")
    };
    assert_eq!(
        sent(&["status", ISSUE, "--json", "--state", "elsewhere"]),
        3
    );
    assert_eq!(sent(&["status", ISSUE, "--json"]), 0, "state/ saw nothing");
}

/// See: issue 18 (adversarial re-run, N1). Two copies of one issue, their
/// subjects a comma apart, started together: both passed the check before
/// either had recorded what it carried, and 200,000 readers got it twice.
#[test]
fn two_copies_of_one_issue_started_together_go_out_once() {
    let server = SmtpServer::start(&["--delay", "0.01"]);
    let project = Project::example();
    project.use_smtp(server.port, "connections = 2\n");
    project.subscribers(300, "");
    let example = project.read(ISSUE);
    std::fs::remove_file(project.path().join(ISSUE)).expect("rm");
    project.write(
        "config/issues/2018-08-03.toml",
        example.replace("date = 2018-07-27", "date = 2018-08-03"),
    );
    project.write(
        "config/issues/2018-08-10.toml",
        example
            .replace("date = 2018-07-27", "date = 2018-08-10")
            .replace("mental health, and", "mental health and"),
    );
    let a = project.spawn_piped(&["send", "config/issues/2018-08-03.toml", "--all"]);
    let b = project.spawn_piped(&["send", "config/issues/2018-08-10.toml", "--all"]);
    let (a, _, a_err) = crate::support::finish_within(a, Duration::from_secs(120));
    let (b, _, b_err) = crate::support::finish_within(b, Duration::from_secs(120));
    let mut codes = [a, b];
    codes.sort_unstable();
    assert_eq!(codes, [0, 2], "one sends, one is refused\n{a_err}\n{b_err}");
    let refusal = if a == 2 { &a_err } else { &b_err };
    assert!(refusal.contains("went out already"), "{refusal}");
    let deliveries = server.deliveries();
    let unique: BTreeSet<&str> = deliveries.iter().map(|d| d.rcpt.as_str()).collect();
    assert_eq!((deliveries.len(), unique.len()), (300, 300), "nobody twice");
}
