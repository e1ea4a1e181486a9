//! `catchup check`: every bad input gets a message that names the file, line
//! and column, nothing is written, and the exit code says what happened.

use crate::support::{Project, files_under};

const GOOD: &str = r#"date = 2018-07-27
subject = "Bold ambition for mental health, and the debt mountain"

[[sections]]
title = "Top stories"
stories = ["002/bold-ambition-for-mental-health", "002/debt-mountain"]
"#;

/// Runs `check` on an issue file with `text` (the only issue), returning
/// (code, stderr).
fn check(text: &str) -> (i32, String) {
    let project = Project::with_issue(text);
    let (code, _, stderr) = project.run(&["check", "config/issues/test.toml"]);
    assert!(
        files_under(&project.path().join("previews")).is_empty(),
        "check must write nothing"
    );
    (code, stderr)
}

#[test]
fn a_good_issue_is_clean() {
    let project = Project::with_issue(GOOD);
    let (code, stdout, stderr) = project.run(&["check", "config/issues/test.toml"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "");
    assert!(
        stdout.starts_with("config/issues/test.toml: 2 stories in 1 sections; HTML "),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 warning(s)\n"), "{stdout}");
    assert!(!project.path().join("previews").exists());
}

#[test]
fn a_typo_in_a_story_id_suggests_the_nearest() {
    let (code, stderr) = check(&GOOD.replace("002/debt-mountain", "002/debt-mountian"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: unknown story `002/debt-mountian`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> config/issues/test.toml:6:51"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: did you mean `002/debt-mountain`?"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("1 error(s), 0 warning(s); nothing written\n"),
        "{stderr}"
    );
}

#[test]
fn an_id_without_its_prefix_is_found() {
    let (code, stderr) = check(&GOOD.replace("\"002/debt-mountain\"", "\"debt-mountain\""));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("help: did you mean `002/debt-mountain`?"),
        "{stderr}"
    );
}

#[test]
fn an_id_far_from_any_gets_a_pointer_to_the_list() {
    let (_, stderr) = check(&GOOD.replace("002/debt-mountain", "zzz/nothing-like-it"));
    assert!(
        stderr.contains("help: `catchup stories` lists every story id"),
        "{stderr}"
    );
}

#[test]
fn malformed_toml_points_at_the_syntax_error() {
    let (code, stderr) = check(&GOOD.replace("title = \"Top stories\"", "title = \"Top stories"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--> config/issues/test.toml:5:"),
        "{stderr}"
    );
    assert!(stderr.contains("error: "), "{stderr}");
}

#[test]
fn a_missing_field_is_named() {
    let (code, stderr) = check(&GOOD.replace(
        "subject = \"Bold ambition for mental health, and the debt mountain\"\n",
        "",
    ));
    assert_eq!(code, 2);
    assert!(stderr.contains("missing field `subject`"), "{stderr}");
    assert!(stderr.contains("config/issues/test.toml:1:1"), "{stderr}");
}

#[test]
fn an_unknown_field_is_named() {
    let (code, stderr) = check(&GOOD.replace("stories = [", "storys = ["));
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown field `storys`"), "{stderr}");
    assert!(stderr.contains("config/issues/test.toml:6:1"), "{stderr}");
}

#[test]
fn an_empty_section_is_an_error() {
    let text = format!("{GOOD}\n[[sections]]\ntitle = \"Later\"\nstories = []\n");
    let (code, stderr) = check(&text);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: section `Later` picks no stories"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> config/issues/test.toml:10:11"),
        "{stderr}"
    );
}

#[test]
fn an_issue_without_sections_is_an_error() {
    let (code, stderr) = check("date = 2018-07-27\nsubject = \"x\"\n");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: the issue has no sections"),
        "{stderr}"
    );
}

#[test]
fn a_story_picked_twice_points_at_the_second_and_names_the_first() {
    let text = format!(
        "{GOOD}\n[[sections]]\ntitle = \"Again\"\nstories = [\"002/leeds-united\", \"002/debt-mountain\"]\n"
    );
    let (code, stderr) = check(&text);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: story `002/debt-mountain` is picked twice"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> config/issues/test.toml:10:32"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: it is already in section `Top stories`, line 6"),
        "{stderr}"
    );
}

#[test]
fn a_bad_date_is_an_error() {
    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-13-27"));
    assert_eq!(code, 2);
    assert!(stderr.contains("config/issues/test.toml:1:8"), "{stderr}");

    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-07-27T09:00:00Z"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("error: `date` is `2018-07-27T09:00:00Z`, not a date"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: write a plain date, e.g. `date = 2018-07-27`"),
        "{stderr}"
    );

    let (code, stderr) = check(&GOOD.replace("2018-07-27", "\"last Friday\""));
    assert_eq!(code, 2);
    assert!(stderr.contains("config/issues/test.toml:1:8"), "{stderr}");
}

#[test]
fn a_bad_story_table_is_explained() {
    let (code, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", paragraphs = 0 }",
    ));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`paragraphs` must be a whole number from 1 to 10000"),
        "{stderr}"
    );
    let (_, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", url = \"ftp://x\" }",
    ));
    assert!(
        stderr.contains("the link `ftp://x` must start with https:// or http://"),
        "{stderr}"
    );
    let (_, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", para = 2 }",
    ));
    assert!(
        stderr.contains("unknown field `para` in a story table"),
        "{stderr}"
    );
}

#[test]
fn every_error_is_reported_in_one_run() {
    let text = GOOD
        .replace("002/debt-mountain", "002/debt-mountian")
        .replace("002/bold-ambition-for-mental-health", "002/bold-ambition");
    let (code, stderr) = check(&text);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.matches("error: unknown story").count(),
        2,
        "{stderr}"
    );
}

#[test]
fn a_bad_address_in_the_newsletter_settings_is_an_error() {
    let project = Project::with_issue(GOOD);
    project.write(
        "config/newsletter.toml",
        "name = \"Test\"\ntagline = \"t\"\nfrom = \"T <t@hsj.example>\"\nreply_to = \"Ed <editor.hsj.example>\"\n[footer]\nreason = \"r\"\naddress = \"a\"\n[unsubscribe]\nurl = \"https://hsj.example/u?r={id}\"\n",
    );
    project
        .expect(&["check"])
        .code(2)
        .stderr_has("`Ed <editor.hsj.example>` is not an email address")
        .stderr_has("--> config/newsletter.toml:4:12");
}

#[test]
fn a_long_subject_is_a_warning_and_strict_makes_it_fail() {
    let long = "A".repeat(90);
    let text = GOOD.replace(
        "Bold ambition for mental health, and the debt mountain",
        &long,
    );
    let (code, stderr) = check(&text);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: the subject is 90 characters"),
        "{stderr}"
    );

    let project = Project::with_issue(&text);
    let (code, _, _) = project.run(&["check", "--strict", "config/issues/test.toml"]);
    assert_eq!(code, 1);
}

#[test]
fn a_message_over_gmails_clip_is_a_warning() {
    let project = Project::with_issue(GOOD);
    let paragraph =
        "Trusts reported a long list of pressures this week, and regulators responded. ";
    let body: String = (0..600)
        .map(|i| format!("{paragraph}Point {i}.\n\n"))
        .collect();
    project.write(
        "seeds/009_long.txt",
        format!("Title\n\nA very long story\n\n{body}"),
    );
    project.write(
        "config/issues/long.toml",
        "date = 2018-08-03\nsubject = \"Long\"\n[[sections]]\ntitle = \"All\"\nstories = [\"009/a-very-long-story\"]\n",
    );
    let (code, _, stderr) = project.run(&["check", "config/issues/long.toml"]);
    assert_eq!(code, 0);
    assert!(stderr.contains("warning: the HTML part is"), "{stderr}");
    assert!(
        stderr.contains("Gmail clips messages over 102.0 KB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: shorten long stories with `paragraphs = N` and a `url`"),
        "{stderr}"
    );
}

#[test]
fn preview_refuses_to_write_on_an_error() {
    let project = Project::with_issue(&GOOD.replace("002/debt-mountain", "002/nope"));
    let (code, stdout, stderr) = project.run(&["preview", "config/issues/test.toml"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: unknown story `002/nope`"),
        "{stderr}"
    );
    assert!(!project.path().join("previews").exists());
}

#[test]
fn no_settings_file_is_a_clear_error() {
    let project = Project::empty();
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 2, "a configuration error, as the README's table says");
    assert!(
        stderr.contains("no newsletter settings at `config/newsletter.toml`"),
        "{stderr}"
    );
}

#[test]
fn an_issue_dated_off_the_schedules_weekday_is_a_warning() {
    // The example schedule sends on Fridays; 2018-07-30 is a Monday.
    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-07-30"));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "warning: the issue is dated a Monday but the newsletter goes out on Fridays"
        ),
        "{stderr}"
    );
    // With its own send_at, the date's weekday does not matter.
    let (_, stderr) =
        check(&GOOD.replace("2018-07-27", "2018-07-30\nsend_at = 2018-07-30T09:00:00"));
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn a_bad_send_at_is_an_error() {
    let (code, stderr) = check(&GOOD.replace(
        "date = 2018-07-27",
        "date = 2018-07-27\nsend_at = 2018-07-30",
    ));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`send_at` is `2018-07-30`; write a date and time"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> config/issues/test.toml:2:11"),
        "{stderr}"
    );
}

/// See: issue 9. Eight mistakes took six runs of `check`; now one run
/// reports every mistake that does not stop parsing.
#[test]
fn every_mistake_in_a_file_is_reported_in_one_run() {
    let text = r#"date = "03/08/2018"
subjct = "Typo in a key"
preheader = 42

[[sections]]
title = ""
stories = [
  "002/debt-mountian",
  { id = "002/leeds-united", url = "https://hsj.example/leeds united" },
  { id = "004/integrated-care-model-holds-key-to-solvency", paragraphs = 99, url = "https://hsj.example/x" },
  { id = "002/merger-milestone", paragrafs = 2 },
]
"#;
    let project = Project::with_issue(text);
    let out = project
        .expect(&["check", "config/issues/test.toml"])
        .code(2);
    let expected = [
        "error: `date` is the text \"03/08/2018\", not a date\n --> config/issues/test.toml:1:8",
        "help: write the date without quotes, year-month-day: `date = 2018-08-03`",
        "error: missing field `subject` in the file",
        "error: `preheader` must be a string in quotes, not a whole number\n --> config/issues/test.toml:3:13",
        "error: the section title is empty\n --> config/issues/test.toml:6:9",
        "error: the link `https://hsj.example/leeds united` contains a space",
        "error: unknown field `paragrafs` in a story table\n  --> config/issues/test.toml:11:34",
        "help: did you mean `paragraphs`?",
        "error: unknown field `subjct` in the file\n --> config/issues/test.toml:2:1",
        "help: did you mean `subject`?",
        "error: unknown story `002/debt-mountian`\n --> config/issues/test.toml:8:3",
        "help: did you mean `002/debt-mountain`?",
        "warning: story `004/integrated-care-model-holds-key-to-solvency` has 20 paragraph(s), so `paragraphs = 99` cuts nothing",
    ];
    for part in expected {
        assert!(out.stderr.contains(part), "missing {part:?}\n{out}");
    }
    assert!(
        out.stderr
            .ends_with("8 error(s), 1 warning(s); nothing written\n"),
        "{out}"
    );
}

/// See: issue 9. A typed `03/08/2018` got a misleading "must be quoted".
#[test]
fn an_unquoted_day_first_date_is_a_syntax_error_with_the_right_form() {
    let project = Project::with_issue(&GOOD.replace("2018-07-27", "27/07/2018"));
    project
        .expect(&["check", "config/issues/test.toml"])
        .code(2)
        .stderr_has("error: malformed TOML: ")
        .stderr_has(" --> config/issues/test.toml:1:8")
        .stderr_has("help: dates are written year-month-day without quotes: `2018-07-27`")
        .stderr_has("1 error(s), 0 warning(s)");
}

/// See: issue 9. Last week's file copied with its date left unchanged would
/// have sent every reader two issues at once.
#[test]
fn two_issue_files_with_one_send_moment_are_an_error_naming_both() {
    let project = Project::example();
    let example = project.read("config/issues/2018-07-27.toml");
    project.write(
        "config/issues/2018-08-03.toml",
        example.replace(
            "Bold ambition for mental health, and the debt mountain",
            "Next week",
        ),
    );
    project
        .expect(&["check", "config/issues/2018-08-03.toml"])
        .code(2)
        .stderr_has("error: `config/issues/2018-08-03.toml` and `config/issues/2018-07-27.toml` both go out at 2018-07-27 07:00 BST; every reader would get two issues\n --> config/issues/2018-08-03.toml:2:8");
    // Either file is refused, and so is a preview of it.
    project
        .expect(&["check", "config/issues/2018-07-27.toml"])
        .code(2)
        .stderr_has("both go out at 2018-07-27 07:00 BST");
}

#[test]
fn two_issue_files_with_one_subject_and_the_same_stories_are_an_error() {
    let project = Project::example();
    let example = project.read("config/issues/2018-07-27.toml");
    project.write(
        "config/issues/2018-08-03.toml",
        example.replace("date = 2018-07-27", "date = 2018-08-03"),
    );
    project
        .expect(&["check", "config/issues/2018-08-03.toml"])
        .code(2)
        .stderr_has("error: `config/issues/2018-08-03.toml` has the same subject and stories as `config/issues/2018-07-27.toml`; every reader would get the issue twice\n --> config/issues/2018-08-03.toml:3:11");
}

/// See: issue 9. `check` did not warn about an empty seed.
#[test]
fn an_empty_seed_is_a_warning_in_check() {
    let project = Project::with_issue(GOOD);
    project.write("seeds/009_empty.txt", "");
    project
        .expect(&["check", "config/issues/test.toml"])
        .code(0)
        .stderr_has("warning: seeds/009_empty.txt:1: the seed is empty")
        .stdout_has("1 warning(s)");
}

#[test]
fn a_missing_issue_file_is_a_configuration_error() {
    let project = Project::example();
    project
        .expect(&["check", "config/issues/nope.toml"])
        .code(2)
        .stderr_is(
            "error: cannot read `config/issues/nope.toml`: it does not exist (os error 2)\n",
        );
}

/// See: adversarial run, defect 7. A control character in a subject made
/// the archive's feed invalid XML.
#[test]
fn a_control_character_in_the_subject_is_an_error() {
    let (code, stderr) = check(&GOOD.replace("Bold ambition", "Bold \\u0007ambition"));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("error: the subject contains the control character U+0007"),
        "{stderr}"
    );
}
