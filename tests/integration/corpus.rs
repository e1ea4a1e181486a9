//! `catchup bounces --explain` on real returned mail that never passed
//! through catchup: 685 messages from 71 mail systems (tests/bounces/corpus,
//! Sisimai's collection), each compared with what Sisimai's maintainers
//! recorded for it (expected.tsv). Prints the agreement per reason, and
//! fails if catchup reads fewer hard bounces and complaints right, or more
//! soft bounces as hard, than it did when these floors were set.

use std::collections::BTreeMap;

use crate::support::{Project, repo};

/// The floors, as measured when they were set (see the README's table):
/// what a change to the classifier may not make worse.
const HARD_RIGHT_AT_LEAST: f64 = 0.88;
const SOFT_AT_ONCE_AT_MOST: f64 = 0.10;

/// One recipient of one message, as expected.tsv has it.
struct Expected {
    file: String,
    recipient: String,
    reason: String,
    outcome: String,
}

fn expected() -> Vec<Expected> {
    let table = std::fs::read_to_string(repo().join("tests/bounces/corpus/expected.tsv"))
        .expect("expected.tsv");
    table
        .lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            Expected {
                file: fields[0].to_string(),
                recipient: fields[1].to_ascii_lowercase(),
                reason: fields[3].to_string(),
                outcome: fields[4].to_string(),
            }
        })
        .collect()
}

/// What `--explain --json` said of each file (`lf/arf-01.eml`), every
/// message of it.
fn explained() -> BTreeMap<String, Vec<serde_json::Value>> {
    let project = Project::example();
    let corpus = repo().join("tests/bounces/corpus");
    let folders: Vec<String> = ["lf", "crlf", "cr", "not"]
        .iter()
        .map(|f| corpus.join(f).display().to_string())
        .collect();
    let mut args = vec!["bounces", "--explain", "--json"];
    args.extend(folders.iter().map(String::as_str));
    let outcome = project.expect(&args);
    let mut by_file: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for line in outcome.stdout().lines() {
        let object: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
        let origin = object["message"].as_str().expect("message").to_string();
        let relative = origin
            .strip_prefix(&format!("{}/", corpus.display()))
            .expect("a corpus file");
        let file = relative.split(", message ").next().unwrap_or(relative);
        by_file.entry(file.to_string()).or_default().push(object);
    }
    // Nothing but the explanations: no file went unread.
    outcome.stderr_is("");
    by_file
}

/// The recipient `--explain` found for `expected`, if it found them: by
/// address, or the only one a one-recipient complaint names (complaints
/// are often redacted).
fn found<'a>(
    expected: &Expected,
    messages: &'a [serde_json::Value],
    recipients_expected: usize,
) -> Option<&'a serde_json::Value> {
    let recipients: Vec<&serde_json::Value> = messages
        .iter()
        .filter_map(|m| m["recipients"].as_array())
        .flatten()
        .collect();
    recipients
        .iter()
        .find(|r| {
            r["address"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&expected.recipient))
        })
        .or_else(|| {
            (expected.outcome == "complaint" && recipients.len() == 1 && recipients_expected == 1)
                .then(|| &recipients[0])
        })
        .copied()
}

#[test]
fn real_returned_mail_is_read_as_sisimai_reads_it() {
    let expected = expected();
    let explained = explained();
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &expected {
        *per_file.entry(&e.file).or_default() += 1;
    }
    let (mut hard, mut hard_right) = (0, 0);
    let (mut soft, mut soft_at_once) = (0, 0);
    let mut not_bounces_acted = Vec::new();
    let mut reasons: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misread = Vec::new();
    for e in &expected {
        let messages = explained
            .get(&e.file)
            .unwrap_or_else(|| panic!("{} was not explained", e.file));
        let kind = messages[0]["outcome"].as_str().unwrap_or("");
        let found = found(e, messages, per_file[e.file.as_str()]);
        let outcome = found.and_then(|f| f["outcome"].as_str());
        match e.outcome.as_str() {
            "hard" | "complaint" => {
                hard += 1;
                if outcome == Some(e.outcome.as_str()) {
                    hard_right += 1;
                } else {
                    misread.push(format!(
                        "{} {}: {} read as {outcome:?}",
                        e.file, e.recipient, e.outcome
                    ));
                }
            }
            "soft" => {
                soft += 1;
                if matches!(outcome, Some("hard" | "complaint")) {
                    soft_at_once += 1;
                    misread.push(format!(
                        "{} {}: soft ({}) read as {outcome:?}",
                        e.file, e.recipient, e.reason
                    ));
                }
            }
            _ => {
                if kind == "report" {
                    not_bounces_acted.push(e.file.clone());
                }
            }
        }
        let entry = reasons.entry(&e.reason).or_default();
        entry.0 += 1;
        let agrees = match found {
            Some(f) => f["reason"].as_str() == Some(e.reason.as_str()),
            None => e.outcome == "not-a-bounce" && kind == "not-a-bounce",
        };
        entry.1 += usize::from(agrees);
    }
    let hard_rate = hard_right as f64 / hard as f64;
    let soft_rate = soft_at_once as f64 / soft as f64;
    println!("reason           agree / of");
    for (reason, (of, agree)) in &reasons {
        println!(
            "{reason:<16} {agree:>5} / {of:<4} {:>5.1}%",
            100.0 * *agree as f64 / *of as f64
        );
    }
    println!(
        "hard bounces and complaints read right: {hard_right} of {hard} ({:.1}%); soft bounces read as hard: {soft_at_once} of {soft} ({:.1}%); not bounces acted on: {}",
        100.0 * hard_rate,
        100.0 * soft_rate,
        not_bounces_acted.len()
    );
    for line in &misread {
        println!("  {line}");
    }
    assert!(
        not_bounces_acted.is_empty(),
        "mail that is not a bounce was read as one: {not_bounces_acted:?}"
    );
    assert!(
        hard_rate >= HARD_RIGHT_AT_LEAST,
        "{hard_right} of {hard} hard bounces and complaints read right, below the floor of {HARD_RIGHT_AT_LEAST}"
    );
    assert!(
        soft_rate <= SOFT_AT_ONCE_AT_MOST,
        "{soft_at_once} of {soft} soft bounces read as hard, above the ceiling of {SOFT_AT_ONCE_AT_MOST}"
    );
}
