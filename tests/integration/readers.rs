//! `catchup readers`: imports that never bring back who left, and one
//! reader's data shown, exported and erased across every file catchup
//! keeps. See: issue 22.

use crate::support::Project;
use crate::support::smtp::SmtpServer;

const ISSUE: &str = "config/issues/2018-07-27.toml";

/// A project whose list holds `erased@`, `reader1@` and `reader2@`, and
/// whose suppression list has an unsubscribe, a hard bounce and a
/// complaint; then `erased@` is erased.
fn project() -> Project {
    let project = Project::example();
    project.write(
        "config/subscribers.csv",
        "email,name\nerased@nhs.example,Ed\nreader1@nhs.example,Reader 1\nreader2@nhs.example,Reader 2\n",
    );
    project.write(
        "config/suppressed.csv",
        "email,reason,at,issue\n\
         unsub@nhs.example,unsubscribe,2026-11-01T10:00:00Z,2018-07-27\n\
         bounced@nhs.example,hard-bounce 5.1.1 user-unknown,2026-11-02T10:00:00Z,\n\
         complained@nhs.example,complaint,2026-11-03T10:00:00Z,\n",
    );
    project
        .expect(&["readers", "erase", "erased@nhs.example"])
        .code(0)
        .stdout_is(
            "removed 1 line(s) from config/subscribers.csv\n\
             erased erased@nhs.example; config/suppressed.csv keeps a keyed hash of the address, so no import brings it back (a sign-up the reader confirms still can)\n",
        );
    project
}

const IMPORT: &str = "Email,Name,Team\n\
    reader1@nhs.example,Reader One,a\n\
    new1@nhs.example,New One,b\n\
    NEW1@nhs.example,New One again,b\n\
    Unsub@nhs.example,,c\n\
    bounced@nhs.example,,c\n\
    complained@nhs.example,,c\n\
    ERASED@nhs.example,Ed,c\n\
    not an address,,c\n\
    new2@nhs.example,\"Two, New\",d\n";

#[test]
fn an_import_adds_the_new_and_brings_back_nobody_who_left() {
    let project = project();
    project.write("import.csv", IMPORT);
    let before = project.read("config/subscribers.csv");
    let skipped = "skipped import.csv:2: reader1@nhs.example: already on the list\n\
         skipped import.csv:4: NEW1@nhs.example: repeats line 3\n\
         skipped import.csv:5: Unsub@nhs.example: unsubscribed; only a sign-up they confirm brings them back\n\
         skipped import.csv:6: bounced@nhs.example: on the suppression list (returned mail, or the operator's entry)\n\
         skipped import.csv:7: complained@nhs.example: reported the newsletter as spam\n\
         skipped import.csv:8: ERASED@nhs.example: erased at their request; only a sign-up they confirm brings them back\n\
         skipped import.csv:9: `not an address` is not an email address (Missing domain or user)\n";
    project
        .expect(&["readers", "import", "import.csv", "--dry-run"])
        .code(0)
        .stdout_is(&format!(
            "{skipped}would add import.csv:3: new1@nhs.example\n\
             would add import.csv:10: new2@nhs.example\n\
             would add 2 reader(s) to config/subscribers.csv, skipped 7; nothing was changed\n"
        ));
    assert_eq!(project.read("config/subscribers.csv"), before);
    assert!(
        !project.path().join("state/signups.jsonl").exists()
            || !project.read("state/signups.jsonl").contains("imported")
    );

    project
        .expect(&[
            "readers",
            "import",
            "import.csv",
            "--source",
            "NHS Confed 2026 stand",
        ])
        .code(0)
        .stdout_is(&format!(
            "{skipped}added import.csv:3: new1@nhs.example\n\
             added import.csv:10: new2@nhs.example\n\
             added 2 reader(s) to config/subscribers.csv, skipped 7\n"
        ));
    assert_eq!(
        project.read("config/subscribers.csv"),
        "email,name\nreader1@nhs.example,Reader 1\nreader2@nhs.example,Reader 2\n\
         new1@nhs.example,New One\nnew2@nhs.example,\"Two, New\"\n"
    );
    let consent: Vec<serde_json::Value> = project
        .read("state/signups.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(consent.len(), 2);
    assert_eq!(consent[1]["event"], "imported");
    assert_eq!(consent[1]["source"], "NHS Confed 2026 stand");
    assert_eq!(consent[1]["file"], "import.csv");
    assert_eq!(consent[1]["line"], 10);
    assert_eq!(consent[1]["row"], "new2@nhs.example,\"Two, New\",d");

    // Imported again, nothing changes.
    project
        .expect(&["readers", "import", "import.csv"])
        .code(0)
        .stdout_has("added 0 reader(s)");
    project.expect(&["readers"]).code(0).stdout_is(
        "email                state         source\n\
             reader1@nhs.example  subscribed    list\n\
             reader2@nhs.example  subscribed    list\n\
             new1@nhs.example     subscribed    import: NHS Confed 2026 stand\n\
             new2@nhs.example     subscribed    import: NHS Confed 2026 stand\n\
             4 reader(s), 4 subscribed\n",
    );
}

/// Every file of catchup's that the next test leaves holding the reader.
const KEPT: [&str; 6] = [
    "config/subscribers.csv",
    "config/suppressed.csv",
    "state/2018-07-27/ledger.jsonl",
    "state/bounces.csv",
    "state/cron.log",
    "state/signups.jsonl",
];

#[test]
fn export_then_erase_then_export_across_every_file() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    project.write(
        "import.csv",
        "email,name\nann@nhs.example,Ann\njoann@nhs.example,Jo Ann\n",
    );
    project
        .expect(&["readers", "import", "import.csv"])
        .code(0)
        .stdout_has("added 2 reader(s)");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 4);
    // What earlier runs left: a soft bounce, an unsubscribe, a cron log.
    let mut log = String::from("message,email,outcome,status,issue,at,reason,provider\n");
    log.push_str("abc,ann@nhs.example,soft,4.2.2,2018-07-27,2026-11-20T10:00:00Z,mailbox-full,\n");
    project.write("state/bounces.csv", log);
    let mut suppressed = String::from("email,reason,at,issue\n");
    suppressed.push_str("ann@nhs.example,unsubscribe,2026-11-21T10:00:00Z,2018-07-27\n");
    project.write("config/suppressed.csv", suppressed);
    project.write(
        "state/cron.log",
        "send: 4 sent\nwarning: Ann@NHS.example deferred\nok\n",
    );
    // The editor's own note in an issue file: shown, never changed.
    let mut issue = project.read(ISSUE);
    issue.push_str("# asked for by ann@nhs.example\n");
    project.write(ISSUE, &issue);
    let note_line = issue.lines().count();

    let export = |project: &Project| -> serde_json::Value {
        let out = project
            .expect(&["readers", "export", "ann@nhs.example"])
            .code(0);
        serde_json::from_str(out.stdout()).expect("JSON")
    };
    let before = export(&project);
    assert_eq!(before["state"], "unsubscribed");
    let files: std::collections::BTreeSet<String> = before["held"]
        .as_array()
        .expect("held")
        .iter()
        .map(|h| h["file"].as_str().expect("file").to_string())
        .collect();
    let mut expected = vec!["config/issues/2018-07-27.toml"];
    expected.extend(KEPT);
    assert_eq!(files.into_iter().collect::<Vec<_>>(), expected);
    assert_eq!(before["consent"][0]["event"], "imported");

    let erased = project
        .expect(&["readers", "erase", "ann@nhs.example"])
        .code(0);
    for file in KEPT {
        assert!(
            erased.stdout().contains(&format!("{file}\n")),
            "{file}: {}",
            erased.stdout()
        );
    }
    assert!(
        erased.stdout().contains(&format!(
            "left config/issues/2018-07-27.toml:{note_line}: your own file; edit it yourself if the address should go\n"
        )),
        "{}",
        erased.stdout()
    );
    let after = export(&project);
    assert_eq!(
        after["held"],
        serde_json::json!([{
            "file": "config/issues/2018-07-27.toml",
            "line": note_line,
            "text": "# asked for by ann@nhs.example"
        }]),
        "only the editor's own note is left"
    );
    assert_eq!(after["consent"], serde_json::json!([]));
    std::fs::write(
        project.path().join(ISSUE),
        issue.replace("# asked for by ann@nhs.example\n", ""),
    )
    .expect("edit");
    assert_eq!(export(&project)["state"], "not held");
    for file in project_files(&project) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            !text
                .replace("joann@nhs.example", "")
                .contains("ann@nhs.example"),
            "{} still holds the address",
            file.display()
        );
    }
    assert!(
        project
            .read("config/subscribers.csv")
            .contains("joann@nhs.example,Jo Ann"),
        "another reader is untouched"
    );
    assert!(
        project
            .read("state/cron.log")
            .contains("send: 4 sent\nok\n")
    );
    // Nor does a send or an import bring them back.
    project.write("again.csv", "email\nann@nhs.example\n");
    project
        .expect(&["readers", "import", "again.csv"])
        .code(0)
        .stdout_has("ann@nhs.example: erased at their request");
}

fn project_files(project: &Project) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![project.path().join("config"), project.path().join("state")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                folders.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

#[test]
fn erase_during_a_send_waits_for_it_says_so_and_then_takes_everything() {
    let server = SmtpServer::start(&["--delay", "0.2"]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(20, "");
    let mut send = project.spawn(&["send", ISSUE, "--all"]);
    server.wait_for(1, std::time::Duration::from_secs(10));
    let erased = project
        .expect(&["readers", "erase", "reader20@nhs.example"])
        .code(0)
        .stderr_is("waiting for `config/subscribers.csv`: a send is reading it, or the service writing it\n");
    assert!(
        erased.stdout().starts_with(
            "removed 1 line(s) from config/subscribers.csv\nremoved 3 line(s) from state/2018-07-27/ledger.jsonl\n"
        ),
        "{}",
        erased.stdout()
    );
    assert_eq!(
        send.wait().expect("send").code(),
        Some(0),
        "the send went on to its end"
    );
    assert_eq!(server.deliveries().len(), 20);
    assert!(!project.read("config/subscribers.csv").contains("reader20@"));
    assert!(
        !project
            .read("state/2018-07-27/ledger.jsonl")
            .contains("reader20@")
    );
}

#[test]
fn a_missing_file_or_a_bad_address_is_named() {
    let project = Project::example();
    project
        .expect(&["readers", "import", "nowhere.csv"])
        .code(2)
        .stderr_is("error: cannot read `nowhere.csv`: it does not exist (os error 2)\n");
    project
        .expect(&["readers", "erase", "not an address"])
        .code(2)
        .stderr_is("error: `not an address`: `not an address` is not an email address (Missing domain or user)\n");
    project
        .expect(&["readers", "show", "nobody@nhs.example"])
        .code(0)
        .stdout_is("catchup holds nothing about nobody@nhs.example\n");
}

/// Another reader's row that names the address (a name typed into the
/// form) is theirs: erase leaves it and export does not show it; a file
/// replaced by a link or a FIFO is refused, not skipped (adversarial run).
#[test]
fn erase_takes_only_the_readers_own_rows_and_refuses_what_it_cannot_read() {
    let project = Project::example();
    project.write(
        "config/subscribers.csv",
        "email,name\nann@nhs.example,Ann\nzed@nhs.example,\"cc ANN@nhs.example\"\n",
    );
    project.write(
        "state/signups.jsonl",
        "{\"event\":\"imported\",\"email\":\"yan@nhs.example\",\"name\":\"friend of ann@nhs.example\",\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"s\",\"file\":\"f\",\"line\":2,\"row\":\"yan@nhs.example,friend of ann@nhs.example\"}\n",
    );
    let export = project
        .expect(&["readers", "export", "ann@nhs.example"])
        .code(0);
    let held: serde_json::Value = serde_json::from_str(export.stdout()).expect("json");
    assert_eq!(held["held"].as_array().map(Vec::len), Some(1), "{held}");
    assert_eq!(held["consent"], serde_json::json!([]));

    std::fs::rename(
        project.path().join("state/signups.jsonl"),
        project.path().join("elsewhere.jsonl"),
    )
    .expect("move");
    std::os::unix::fs::symlink(
        project.path().join("elsewhere.jsonl"),
        project.path().join("state/signups.jsonl"),
    )
    .expect("link");
    project
        .expect(&["readers", "erase", "ann@nhs.example"])
        .code(2)
        .stderr_is("error: cannot read `state/signups.jsonl`: it is a symbolic link; remove it and run again\n");
    assert!(
        project
            .read("config/subscribers.csv")
            .contains("ann@nhs.example,Ann"),
        "nothing was erased"
    );
    std::fs::remove_file(project.path().join("state/signups.jsonl")).expect("unlink");
    crate::support::mkfifo(&project.path().join("state/signups.jsonl"));
    project
        .expect(&["readers", "erase", "ann@nhs.example"])
        .code(2)
        .stderr_is("error: cannot read `state/signups.jsonl`: it is a FIFO, not a regular file\n");
    std::fs::remove_file(project.path().join("state/signups.jsonl")).expect("unlink");

    project
        .expect(&["readers", "erase", "ann@nhs.example"])
        .code(0)
        .stdout_has("removed 1 line(s) from config/subscribers.csv\n");
    assert_eq!(
        project.read("config/subscribers.csv"),
        "email,name\nzed@nhs.example,\"cc ANN@nhs.example\"\n",
        "zed's row is zed's"
    );
}

/// A line of the consent records that cannot be read is named, with its
/// file and line, not passed over.
#[test]
fn an_unreadable_consent_line_is_named() {
    let project = Project::example();
    project.write("config/subscribers.csv", "email\nann@nhs.example\n");
    project.write(
        "state/signups.jsonl",
        "{\"event\":\"imported\",\"email\":\"ann@nhs.example\",\"at\":\"2026-11-01T10:00:00Z\",\"source\":\"s\",\"file\":\"f\",\"line\":2,\"row\":\"ann@nhs.example\"}\n{not json\n",
    );
    project
        .expect(&["readers"])
        .code(0)
        .stdout_has("ann@nhs.example  subscribed    import: s\n")
        .stderr_matches(
            "warning: state/signups.jsonl:2: key must be a string at line 1 column 2\n",
        );
}
