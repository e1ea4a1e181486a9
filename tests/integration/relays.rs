//! Sending through a relay tier: a real Postfix relaying to a recording
//! sink, with its queue ids in the ledger; and two relays, one stopped in
//! the middle of a send. See: issue 14.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::postfix::Postfix;
use crate::support::smtp::SmtpServer;
use crate::support::{Project, finish_within, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// Each recipient and how many messages reached them, over `servers`.
fn arrivals(servers: &[&SmtpServer]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for server in servers {
        for d in server.deliveries() {
            *counts.entry(d.rcpt).or_insert(0) += 1;
        }
    }
    counts
}

/// The ledger's records, as JSON values.
fn ledger(project: &Project) -> Vec<serde_json::Value> {
    project
        .read("state/2018-07-27/ledger.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a record"))
        .collect()
}

#[test]
fn a_list_goes_through_a_real_postfix_relay_with_its_queue_ids_in_the_ledger() {
    let test = "relays::a_list_goes_through_a_real_postfix_relay";
    let sink = SmtpServer::start(&[]);
    let postfix = match Postfix::relay_to(sink.port) {
        Ok(postfix) => postfix,
        Err(why) => return skip(test, &why),
    };
    let project = Project::example();
    project.use_smtp(postfix.port, "");
    let readers = project.subscribers(20, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 20);
    sink.wait_for(20, Duration::from_secs(60));

    // Every reader arrived at the sink once, through Postfix.
    let counts = arrivals(&[&sink]);
    assert_eq!(counts.len(), 20, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let log = postfix.log();

    // The ledger holds, per reader, the relay and Postfix's queue id, and
    // Postfix's own log names the same ids.
    let relay = format!("127.0.0.1:{}", postfix.port);
    let sent: Vec<serde_json::Value> = ledger(&project)
        .into_iter()
        .filter(|r| r["event"] == "sent")
        .collect();
    assert_eq!(sent.len(), 20);
    for record in &sent {
        assert_eq!(record["relay"], relay.as_str());
        let reply = record["reply"].as_str().expect("reply");
        let id = reply
            .split("queued as ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no queue id in {reply:?}"));
        assert!(
            log.contains(&format!("{id}: to=<")),
            "Postfix's log has no {id}"
        );
    }
    // Postfix offers CHUNKING: the bodies went as BDAT, not dot-stuffed.
    assert!(log.contains(" bdat="), "no BDAT in Postfix's log:\n{log}");

    // One reader, traced.
    let trace = project
        .expect(&["status", ISSUE, "--reader", &readers[0]])
        .code(0);
    let lines: Vec<&str> = trace.stdout().lines().collect();
    assert_eq!(lines.len(), 3, "inflight, dot, sent: {}", trace.stdout());
    assert!(lines[0].ends_with(" inflight"), "{}", trace.stdout());
    assert!(
        lines[2].contains(&format!(" sent      via {relay}: 250 2.0.0 Ok: "))
            && lines[2].contains(" queued as "),
        "{}",
        trace.stdout()
    );
}

#[test]
fn a_relay_stopped_in_the_middle_costs_no_reader_and_sends_none_twice() {
    let first = SmtpServer::start(&["--delay", "0.02"]);
    let second = SmtpServer::start(&["--delay", "0.02"]);
    let project = Project::example();
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(&format!(
        "\n[smtp]\nretries = 2\nretry_delay_ms = 50\ntimeout_secs = 5\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nconnections = 2\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nconnections = 2\n",
        first.port, second.port
    ));
    project.write("config/newsletter.toml", settings);
    let readers = project.subscribers(120, "");
    let child = project.spawn_piped(&["send", ISSUE, "--all"]);
    // Stop the first relay once it has taken a few.
    let mut first = first;
    first.wait_for(15, Duration::from_secs(30));
    first.kill();
    let (code, stdout, stderr) = finish_within(child, Duration::from_secs(60));

    assert!(
        stderr.contains(&format!("relay=127.0.0.1:{}", first.port)),
        "the failing relay is named:\n{stderr}"
    );
    let counts = arrivals(&[&first, &second]);
    let uncertain: Vec<String> = ledger(&project)
        .into_iter()
        .filter(|r| r["event"] == "uncertain")
        .map(|r| r["email"].as_str().expect("email").to_string())
        .collect();
    for reader in &readers {
        let n = counts.get(reader).copied().unwrap_or(0);
        if uncertain.contains(reader) {
            // Its dot went to the relay that died; maybe it arrived.
            assert!(n <= 1, "{reader} arrived {n} times");
        } else {
            assert_eq!(n, 1, "{reader} arrived {n} times\n{stdout}\n{stderr}");
        }
    }
    assert!(
        stdout.contains("deferred 0") && stdout.contains("not tried 0"),
        "{stdout}"
    );
    let expected = if uncertain.is_empty() { 0 } else { 3 };
    assert_eq!(code, expected, "{stdout}{stderr}");
    assert!(second.deliveries().len() > 60, "the second relay took over");
}

#[test]
fn repeated_smtp_urls_are_relays_that_share_the_list() {
    let first = SmtpServer::start(&[]);
    let second = SmtpServer::start(&[]);
    let project = Project::example();
    let readers = project.subscribers(40, "");
    project
        .expect(&[
            "send",
            ISSUE,
            "--all",
            "--smtp",
            &format!("smtp://127.0.0.1:{}", first.port),
            "--smtp",
            &format!("smtp://127.0.0.1:{}", second.port),
        ])
        .sent_to_all("2018-07-27", 40);
    let counts = arrivals(&[&first, &second]);
    assert_eq!(counts.len(), readers.len());
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(!first.deliveries().is_empty() && !second.deliveries().is_empty());
    // The ledger says which relay took each reader.
    let relays: std::collections::BTreeSet<String> = ledger(&project)
        .into_iter()
        .filter(|r| r["event"] == "sent")
        .map(|r| r["relay"].as_str().expect("relay").to_string())
        .collect();
    assert_eq!(relays.len(), 2, "{relays:?}");
}

/// Two relays in `[smtp]`: `first` and `second` (ports), two connections
/// each, quick retries.
fn two_relays(project: &Project, first: u16, second: u16) {
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(&format!(
        "\n[smtp]\nretries = 2\nretry_delay_ms = 50\ntimeout_secs = 5\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {first}\nsecurity = \"none\"\nconnections = 2\n\n[[smtp.relays]]\nhost = \"127.0.0.1\"\nport = {second}\nsecurity = \"none\"\nconnections = 2\n"
    ));
    project.write("config/newsletter.toml", settings);
}

/// Readers the ledger records as failed.
fn failed(project: &Project) -> Vec<String> {
    ledger(project)
        .into_iter()
        .filter(|r| r["event"] == "failed")
        .map(|r| r["email"].as_str().expect("email").to_string())
        .collect()
}

/// See: issue 18, item 4. With two relays, one answering `554 5.7.1 Relay
/// access denied`, 819-835 of 1,000 readers were recorded failed for good
/// while the other relay was healthy.
#[test]
fn a_relay_that_will_not_relay_for_us_fails_no_reader() {
    let test = "relays::a_relay_that_will_not_relay_for_us_fails_no_reader";
    for refusing in ["relaying", "sender"] {
        let healthy = SmtpServer::start(&[]);
        let postfix = match refusing {
            "relaying" => Postfix::refusing_relay(),
            _ => Postfix::refusing_sender("hsj.example"),
        };
        let postfix = match postfix {
            Ok(postfix) => postfix,
            Err(why) => return skip(test, &why),
        };
        let project = Project::example();
        two_relays(&project, postfix.port, healthy.port);
        let readers = project.subscribers(200, "");
        let out = project.expect(&["send", ISSUE, "--all"]).code(0);
        assert!(
            out.stdout().contains("sent 200, failed 0"),
            "{refusing}: {out}"
        );
        assert!(failed(&project).is_empty(), "{refusing}: {out}");
        let counts = arrivals(&[&healthy]);
        assert_eq!(counts.len(), readers.len(), "{refusing}");
        assert!(counts.values().all(|&n| n == 1), "{refusing}: {counts:?}");
        let gave_up = crate::support::events(out.stderr())
            .into_iter()
            .find(|l| l.starts_with("ERROR smtp.gave_up "))
            .unwrap_or_else(|| panic!("{refusing}: the relay is given up, and says so\n{out}"));
        let why = match refusing {
            "relaying" => "Relay access denied",
            _ => "Sender address rejected: Access denied",
        };
        assert!(
            gave_up.contains(&format!("relay=127.0.0.1:{}", postfix.port)) && gave_up.contains(why),
            "{gave_up}"
        );
    }
}

/// See: issue 18, item 4. A relay that refuses every reader with a code
/// that blames the reader (`550 5.1.1`): with another relay to ask, a
/// reader fails only when both refuse; the lying relay rests.
#[test]
fn a_reader_fails_only_when_every_relay_refuses_them() {
    let liar = SmtpServer::start(&["--rcpt-550", "*"]);
    let healthy = SmtpServer::start(&["--rcpt-550", "reader7@*"]);
    let project = Project::example();
    two_relays(&project, liar.port, healthy.port);
    project.subscribers(100, "");
    let out = project.expect(&["send", ISSUE, "--all"]).code(3);
    assert!(out.stdout().contains("sent 99, failed 1"), "{out}");
    assert_eq!(failed(&project), ["reader7@nhs.example"], "{out}");
    assert_eq!(arrivals(&[&healthy]).len(), 99);
    assert!(liar.deliveries().is_empty());
    assert!(
        crate::support::events(out.stderr()).iter().any(|l| l.starts_with(&format!(
            "WARN smtp.connect_failed relay=127.0.0.1:{} error=\"127.0.0.1:{} refuses readers that other relays take\"",
            liar.port, liar.port
        ))),
        "{out}"
    );
}

/// See: issue 18, item 4. The only relay will not relay for us: nobody is
/// failed, the run stops as a settings problem, and every reader waits.
#[test]
fn the_only_relay_refusing_to_relay_stops_the_run_and_fails_no_one() {
    let test = "relays::the_only_relay_refusing_to_relay_stops_the_run";
    let postfix = match Postfix::refusing_relay() {
        Ok(postfix) => postfix,
        Err(why) => return skip(test, &why),
    };
    let project = Project::example();
    project.use_smtp(postfix.port, "");
    project.subscribers(20, "");
    let relay = format!("127.0.0.1:{}", postfix.port);
    let refusal = format!(
        "{relay} refused to take our mail: 554 5.7.1 <reader1@nhs.example>: Relay access denied"
    );
    project
        .expect(&["send", ISSUE, "--all"])
        .code(2)
        .stdout_matches(&format!("2018-07-27: sent 0, failed 0, deferred 0, uncertain 0, not tried 20; skipped 0 suppressed, 0 invalid row(s), 0 duplicate(s); 0 sent earlier; [..] s, 0.0 messages/s
stopped early: {refusal}
20 reader(s) not delivered; run the same command again to resume
"))
        .stderr_matches(&format!("[..] INFO send.start issue=2018-07-27 to_send=20 already_sent=0 server=\"{relay} (none)\" connections=4
[..] ERROR smtp.gave_up relay={relay} error=\"{refusal}\" tries=1
[..] ERROR send.done issue=2018-07-27 sent=0 failed=0 uncertain=0 deferred=0 not_tried=20 seconds=[..] rate=0.0/s
"));
    assert!(failed(&project).is_empty());
}

/// See: issue 18 (adversarial re-run). With two healthy relays, 30 dead
/// addresses at the top of the list rested both relays (both refused
/// them), the run stopped with 989 not tried, and took 3 more runs.
/// Readers every relay refuses count against no relay.
#[test]
fn dead_addresses_refused_by_every_relay_rest_no_relay() {
    let first = SmtpServer::start(&["--rcpt-550", "dead*"]);
    let second = SmtpServer::start(&["--rcpt-550", "dead*"]);
    let project = Project::example();
    two_relays(&project, first.port, second.port);
    let dead: String = (1..=30)
        .map(|i| format!("dead{i}@nhs.example,Dead {i}\n"))
        .collect();
    let mut csv = String::from("email,name\n");
    csv.push_str(&dead);
    for i in 1..=70 {
        csv.push_str(&format!("reader{i}@nhs.example,Reader {i}\n"));
    }
    project.write("config/subscribers.csv", csv);
    let out = project.expect(&["send", ISSUE, "--all"]).code(3);
    assert!(
        out.stdout().contains("sent 70, failed 30, deferred 0"),
        "{out}"
    );
    assert!(out.stdout().contains("not tried 0"), "{out}");
    assert!(!out.stderr().contains("smtp.gave_up"), "{out}");
    assert!(!out.stderr().contains("smtp.connect_failed"), "{out}");
}
