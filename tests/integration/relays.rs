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
        .code(0)
        .stdout_has("sent 20, failed 0");
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
    let lines: Vec<&str> = trace.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "inflight, dot, sent: {}", trace.stdout);
    assert!(lines[0].ends_with(" inflight"), "{}", trace.stdout);
    assert!(
        lines[2].contains(&format!(" sent      via {relay}: 250 2.0.0 Ok: "))
            && lines[2].contains(" queued as "),
        "{}",
        trace.stdout
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
        .code(0)
        .stdout_has("sent 40, failed 0");
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
