//! The README's exit-code table, enforced: every code it lists is reached
//! by a run here, and no other code is listed. See: issue 9, "Exit codes a
//! script can trust".

use crate::support::smtp::SmtpServer;
use crate::support::{Project, repo};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// The codes in the README's "## Exit codes" table.
fn readme_codes() -> Vec<i32> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let table = readme
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("an Exit codes section");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_matches('|').split('|').next()?.trim().parse().ok())
        .collect()
}

/// A run that ends with `code`, as the README describes it.
fn reach(code: i32) -> i32 {
    let project = Project::example();
    let run = |args: &[&str]| project.run(args).0;
    match code {
        // Done: previews written.
        0 => run(&["preview"]),
        // `check --strict` found warnings.
        1 => {
            let long = project.read(ISSUE).replace(
                "Bold ambition for mental health, and the debt mountain",
                &"A".repeat(90),
            );
            project.write(ISSUE, long);
            run(&["check", "--strict"])
        }
        // Bad input: an unknown story.
        2 => {
            let bad = project.read(ISSUE).replace("002/debt-mountain", "002/nope");
            project.write(ISSUE, bad);
            run(&["check"])
        }
        // A reader refused (5xx); the send finished.
        3 => {
            let server = SmtpServer::start(&["--rcpt-550", "reader2@*"]);
            project.use_smtp(server.port, "");
            project.subscribers(3, "");
            run(&["send", ISSUE, "--all"])
        }
        // A reader deferred after repeated 4xx: run again to resume.
        4 => {
            let server = SmtpServer::start(&["--rcpt-451", "reader2@*"]);
            project.use_smtp(server.port, "retries = 0\n");
            project.subscribers(3, "");
            run(&["send", ISSUE, "--all"])
        }
        // Another run holds the issue's lock.
        5 => {
            let server = SmtpServer::start(&[]);
            project.use_smtp(server.port, "");
            project.subscribers(3, "");
            let lock = project.write("state/2018-07-27/lock", "pid 1 since then");
            let held = std::fs::File::open(&lock).expect("open");
            held.try_lock().expect("flock");
            run(&["send", ISSUE, "--all"])
        }
        // `send --due`: the 2018 example issue is long overdue.
        6 => run(&["send", "--due", "--now", "2026-11-25T09:00:00Z"]),
        // `bounces`: five readers at one provider refused alike, a block.
        7 => {
            let readers: Vec<String> = (0..5).map(|i| format!("r{i}@trust.example")).collect();
            let list: Vec<&str> = readers.iter().map(String::as_str).collect();
            crate::bounces::write_subscribers(&project, &list);
            for (i, email) in readers.iter().enumerate() {
                project.write(
                    &format!("mail/{i}.eml"),
                    crate::bounces::refusal(email, "2018-07-27", "5.7.1", "550 5.7.1 Blocked"),
                );
            }
            run(&["bounces", "mail"])
        }
        // `doctor`: DNS publishes no SPF, DKIM or DMARC (junked); and the
        // return path's domain takes no mail either (refused).
        8 | 9 => {
            let mut zone = "$ORIGIN hsj.example.\n$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\nnews A 127.0.0.1\n".to_string();
            if code == 8 {
                zone += "@ A 127.0.0.1\n";
            }
            let knot = match crate::support::knot::Knot::start(&[("hsj.example".into(), zone)]) {
                Ok(knot) => knot,
                Err(why) => {
                    crate::support::skip("exit_codes (doctor's 8 and 9)", &why);
                    return code;
                }
            };
            project.use_smtp(25, "");
            run(&["doctor", "--resolver", &format!("127.0.0.1:{}", knot.port)])
        }
        other => panic!("no scenario reaches exit code {other}"),
    }
}

#[test]
fn every_exit_code_in_the_readme_is_reached_and_no_other_is_listed() {
    let codes = readme_codes();
    assert_eq!(codes, (0..=9).collect::<Vec<_>>(), "the README's table");
    for code in codes {
        assert_eq!(reach(code), code, "the README's exit code {code}");
    }
}
