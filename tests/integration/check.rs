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
    let out = project.expect(&["check", "config/issues/test.toml"]);
    assert!(
        files_under(&project.path().join("previews")).is_empty(),
        "check must write nothing"
    );
    let summary = match out.exit_code() {
        0 | 1 => "config/issues/test.toml: [..] warning(s)\n",
        _ => "",
    };
    let out = out.stdout_matches(summary);
    (out.exit_code(), out.stderr().to_string())
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

/// What the README shows `check` printing is what it prints, whole.
#[test]
fn check_prints_what_the_readme_shows() {
    let project = Project::with_issue("");
    std::fs::remove_file(project.path().join("config/issues/test.toml")).expect("rm");
    project.write(
        "config/issues/2018-08-03.toml",
        GOOD.replace("date = 2018-07-27", "date = \"03/08/2018\"")
            .replace("002/debt-mountain", "002/debt-mountian"),
    );
    let (command, output) = crate::support::readme_block("error: `date` is the text");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    assert_eq!(args, ["check", "config/issues/2018-08-03.toml"]);
    project
        .expect(&args)
        .code(2)
        .stdout_is("")
        .stderr_is(&output);
}

#[test]
fn a_typo_in_a_story_id_suggests_the_nearest() {
    let (code, stderr) = check(&GOOD.replace("002/debt-mountain", "002/debt-mountian"));
    insta::assert_snapshot!(stderr, @r#"
    error: unknown story `002/debt-mountian`
     --> config/issues/test.toml:6:51
      |
    6 | stories = ["002/bold-ambition-for-mental-health", "002/debt-mountian"]
      |                                                   ^^^^^^^^^^^^^^^^^^^
      |
      = help: did you mean `002/debt-mountain`?

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn an_id_without_its_prefix_is_found() {
    let (code, stderr) = check(&GOOD.replace("\"002/debt-mountain\"", "\"debt-mountain\""));
    insta::assert_snapshot!(stderr, @r#"
    error: unknown story `debt-mountain`
     --> config/issues/test.toml:6:51
      |
    6 | stories = ["002/bold-ambition-for-mental-health", "debt-mountain"]
      |                                                   ^^^^^^^^^^^^^^^
      |
      = help: did you mean `002/debt-mountain`?

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn an_id_far_from_any_gets_a_pointer_to_the_list() {
    let (_, stderr) = check(&GOOD.replace("002/debt-mountain", "zzz/nothing-like-it"));
    insta::assert_snapshot!(stderr, @r#"
    error: unknown story `zzz/nothing-like-it`
     --> config/issues/test.toml:6:51
      |
    6 | stories = ["002/bold-ambition-for-mental-health", "zzz/nothing-like-it"]
      |                                                   ^^^^^^^^^^^^^^^^^^^^^
      |
      = help: `catchup stories` lists every story id

    1 error(s), 0 warning(s); nothing written
    "#);
}

#[test]
fn malformed_toml_points_at_the_syntax_error() {
    let (code, stderr) = check(&GOOD.replace("title = \"Top stories\"", "title = \"Top stories"));
    insta::assert_snapshot!(stderr, @r#"
    error: malformed TOML: invalid basic string, expected `"`
     --> config/issues/test.toml:5:21
      |
    5 | title = "Top stories
      |                     ^

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn a_missing_field_is_named() {
    let (code, stderr) = check(&GOOD.replace(
        "subject = \"Bold ambition for mental health, and the debt mountain\"\n",
        "",
    ));
    insta::assert_snapshot!(stderr, @"
    error: missing field `subject` in the file
     --> config/issues/test.toml:1:1
      |
    1 | date = 2018-07-27
      | ^

    1 error(s), 0 warning(s); nothing written
    ");
    assert_eq!(code, 2);
}

#[test]
fn an_unknown_field_is_named() {
    let (code, stderr) = check(&GOOD.replace("stories = [", "storys = ["));
    insta::assert_snapshot!(stderr, @r#"
    error: section `Top stories` has no `stories` list
     --> config/issues/test.toml:4:1
      |
    4 | [[sections]]
      | ^^^^^^^^^^^^

    error: unknown field `storys` in [[sections]]
     --> config/issues/test.toml:6:1
      |
    6 | storys = ["002/bold-ambition-for-mental-health", "002/debt-mountain"]
      | ^^^^^^
      |
      = help: did you mean `stories`?

    2 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn an_empty_section_is_an_error() {
    let text = format!("{GOOD}\n[[sections]]\ntitle = \"Later\"\nstories = []\n");
    let (code, stderr) = check(&text);
    insta::assert_snapshot!(stderr, @"
    error: section `Later` picks no stories
      --> config/issues/test.toml:10:11
       |
    10 | stories = []
       |           ^^

    1 error(s), 0 warning(s); nothing written
    ");
    assert_eq!(code, 2);
}

#[test]
fn an_issue_without_sections_is_an_error() {
    let (code, stderr) = check("date = 2018-07-27\nsubject = \"x\"\n");
    insta::assert_snapshot!(stderr, @r#"
    error: the issue has no sections
     --> config/issues/test.toml:1:1
      |
    1 | date = 2018-07-27
      | ^
      |
      = help: add one:
              [[sections]]
              title = "Top stories"
              stories = ["002/debt-mountain"]

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn a_story_picked_twice_points_at_the_second_and_names_the_first() {
    let text = format!(
        "{GOOD}\n[[sections]]\ntitle = \"Again\"\nstories = [\"002/leeds-united\", \"002/debt-mountain\"]\n"
    );
    let (code, stderr) = check(&text);
    insta::assert_snapshot!(stderr, @r#"
    error: story `002/debt-mountain` is picked twice
      --> config/issues/test.toml:10:32
       |
    10 | stories = ["002/leeds-united", "002/debt-mountain"]
       |                                ^^^^^^^^^^^^^^^^^^^
       |
       = help: it is already in section `Top stories`, line 6

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn a_bad_date_is_an_error() {
    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-13-27"));
    insta::assert_snapshot!(stderr, @"
    error: malformed TOML: invalid date, expected month between 01 and 12
     --> config/issues/test.toml:1:8
      |
    1 | date = 2018-13-27
      |        ^^^^^^^^^^

    1 error(s), 0 warning(s); nothing written
    ");
    assert_eq!(code, 2);

    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-07-27T09:00:00Z"));
    insta::assert_snapshot!(stderr, @"
    error: `date` is `2018-07-27T09:00:00Z`, not a date
     --> config/issues/test.toml:1:8
      |
    1 | date = 2018-07-27T09:00:00Z
      |        ^^^^^^^^^^^^^^^^^^^^
      |
      = help: write a plain date, e.g. `date = 2018-07-27`

    1 error(s), 0 warning(s); nothing written
    ");
    assert_eq!(code, 2);

    let (code, stderr) = check(&GOOD.replace("2018-07-27", "\"last Friday\""));
    insta::assert_snapshot!(stderr, @r#"
    error: `date` is the text "last Friday", not a date
     --> config/issues/test.toml:1:8
      |
    1 | date = "last Friday"
      |        ^^^^^^^^^^^^^
      |
      = help: write the date without quotes, year-month-day: `date = 2018-07-27`

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn a_bad_story_table_is_explained() {
    let (code, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", paragraphs = 0 }",
    ));
    insta::assert_snapshot!(stderr, @r#"
    error: `paragraphs` must be a whole number from 1 to 10000
     --> config/issues/test.toml:6:92
      |
    6 | stories = ["002/bold-ambition-for-mental-health", { id = "002/debt-mountain", paragraphs = 0 }]
      |                                                                                            ^

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
    let (_, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", url = \"ftp://x\" }",
    ));
    insta::assert_snapshot!(stderr, @r#"
    error: the link `ftp://x` must start with https:// or http://
     --> config/issues/test.toml:6:85
      |
    6 | stories = ["002/bold-ambition-for-mental-health", { id = "002/debt-mountain", url = "ftp://x" }]
      |                                                                                     ^^^^^^^^^

    1 error(s), 0 warning(s); nothing written
    "#);
    let (_, stderr) = check(&GOOD.replace(
        "\"002/debt-mountain\"",
        "{ id = \"002/debt-mountain\", para = 2 }",
    ));
    insta::assert_snapshot!(stderr, @r#"
    error: unknown field `para` in a story table
     --> config/issues/test.toml:6:79
      |
    6 | stories = ["002/bold-ambition-for-mental-health", { id = "002/debt-mountain", para = 2 }]
      |                                                                               ^^^^
      |
      = help: known fields: id, paragraphs, url, headline, byline, body, teaser

    1 error(s), 0 warning(s); nothing written
    "#);
}

#[test]
fn every_error_is_reported_in_one_run() {
    let text = GOOD
        .replace("002/debt-mountain", "002/debt-mountian")
        .replace("002/bold-ambition-for-mental-health", "002/bold-ambition");
    let (code, stderr) = check(&text);
    insta::assert_snapshot!(stderr, @r#"
    error: unknown story `002/bold-ambition`
     --> config/issues/test.toml:6:12
      |
    6 | stories = ["002/bold-ambition", "002/debt-mountian"]
      |            ^^^^^^^^^^^^^^^^^^^
      |
      = help: `catchup stories` lists every story id

    error: unknown story `002/debt-mountian`
     --> config/issues/test.toml:6:33
      |
    6 | stories = ["002/bold-ambition", "002/debt-mountian"]
      |                                 ^^^^^^^^^^^^^^^^^^^
      |
      = help: did you mean `002/debt-mountain`?

    2 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2);
}

#[test]
fn a_bad_address_in_the_newsletter_settings_is_an_error() {
    let project = Project::with_issue(GOOD);
    project.write(
        "config/newsletter.toml",
        "name = \"Test\"\ntagline = \"t\"\nfrom = \"T <t@hsj.example>\"\nreply_to = \"Ed <editor.hsj.example>\"\n[footer]\nreason = \"r\"\naddress = \"a\"\n[unsubscribe]\nurl = \"https://hsj.example/u?r={id}\"\n",
    );
    let out = project.expect(&["check"]).code(2);
    insta::assert_snapshot!(out.stderr(), @r#"
    error: missing section [web]
     --> config/newsletter.toml:1:1
      |
    1 | name = "Test"
      | ^
      |
      = help: add:
              [web]
              base_url = "https://news.example.com"   # where `catchup serve` is reached
              secret_env = "CATCHUP_SECRET"

    error: `Ed <editor.hsj.example>` is not an email address: Invalid input
     --> config/newsletter.toml:4:12
      |
    4 | reply_to = "Ed <editor.hsj.example>"
      |            ^^^^^^^^^^^^^^^^^^^^^^^^^

    error: the unsubscribe `url` is replaced by [web] base_url: links now point at `catchup serve`
     --> config/newsletter.toml:9:7
      |
    9 | url = "https://hsj.example/u?r={id}"
      |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: remove `url`, and add:
              [web]
              base_url = "https://news.example.com"
              secret_env = "CATCHUP_SECRET"

    3 error(s), 0 warning(s); nothing written
    "#);
}

#[test]
fn a_long_subject_is_a_warning_and_strict_makes_it_fail() {
    let long = "A".repeat(90);
    let text = GOOD.replace(
        "Bold ambition for mental health, and the debt mountain",
        &long,
    );
    let (code, stderr) = check(&text);
    insta::assert_snapshot!(stderr, @r#"
    warning: the subject is 90 characters; inboxes cut it off and RFC 5322 advises at most 78
     --> config/issues/test.toml:2:11
      |
    2 | subject = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
      |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
    "#);
    assert_eq!(code, 0, "{stderr}");

    let project = Project::with_issue(&text);
    let (code, _, _) = project.run(&["check", "--strict", "config/issues/test.toml"]);
    assert_eq!(code, 1);
}

#[test]
fn a_message_over_gmails_clip_is_a_warning() {
    let project = Project::with_issue(GOOD);
    project.long_story();
    project.write(
        "config/issues/long.toml",
        "date = 2018-08-03\nsubject = \"Long\"\n[[sections]]\ntitle = \"All\"\nstories = [\"009/a-very-long-story\"]\n",
    );
    let out = project
        .expect(&["check", "config/issues/long.toml"])
        .code(0)
        .stdout_matches("config/issues/long.toml: 1 stories in 1 sections; [..]; 1 warning(s)\n");
    insta::assert_snapshot!(out.stderr(), @"
    warning: the HTML part is 195.4 KB as sent; Gmail clips messages over 102.0 KB and hides the rest, footer and unsubscribe link included
     |
     = help: shorten long stories with `paragraphs = N` and a `url`
    ");
}

#[test]
fn preview_refuses_to_write_on_an_error() {
    let project = Project::with_issue(&GOOD.replace("002/debt-mountain", "002/nope"));
    let out = project
        .expect(&["preview", "config/issues/test.toml"])
        .code(2);
    insta::assert_snapshot!(out.stderr(), @r#"
    error: unknown story `002/nope`
     --> config/issues/test.toml:6:51
      |
    6 | stories = ["002/bold-ambition-for-mental-health", "002/nope"]
      |                                                   ^^^^^^^^^^
      |
      = help: `catchup stories` lists every story id
    "#);
    assert!(!project.path().join("previews").exists());
}

#[test]
fn no_settings_file_is_a_clear_error() {
    let project = Project::empty();
    let out = project.expect(&["check"]).code(2);
    insta::assert_snapshot!(out.stderr(), @"error: no newsletter settings at `config/newsletter.toml`; run catchup in the project folder (or pass -C DIR / --config FILE)");
}

#[test]
fn an_issue_dated_off_the_schedules_weekday_is_a_warning() {
    // The example schedule sends on Fridays; 2018-07-30 is a Monday.
    let (code, stderr) = check(&GOOD.replace("2018-07-27", "2018-07-30"));
    insta::assert_snapshot!(stderr, @"
    warning: the issue is dated a Monday but the newsletter goes out on Fridays; it will go out on its date unless you set send_at
     --> config/issues/test.toml:1:8
      |
    1 | date = 2018-07-30
      |        ^^^^^^^^^^
    ");
    assert_eq!(code, 0, "{stderr}");
    // With its own send_at, the date's weekday does not matter.
    let (_, stderr) =
        check(&GOOD.replace("2018-07-27", "2018-07-30\nsend_at = 2018-07-30T09:00:00"));
    insta::assert_snapshot!(stderr, @"");
}

#[test]
fn a_bad_send_at_is_an_error() {
    let (code, stderr) = check(&GOOD.replace(
        "date = 2018-07-27",
        "date = 2018-07-27\nsend_at = 2018-07-30",
    ));
    insta::assert_snapshot!(stderr, @"
    error: `send_at` is `2018-07-30`; write a date and time, e.g. 2018-07-30T07:00:00 (local) or 2018-07-30T06:00:00Z
     --> config/issues/test.toml:2:11
      |
    2 | send_at = 2018-07-30
      |           ^^^^^^^^^^

    1 error(s), 0 warning(s); nothing written
    ");
    assert_eq!(code, 2);
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
    insta::assert_snapshot!(out.stderr(), @r#"
    error: missing field `subject` in the file
     --> config/issues/test.toml:1:1
      |
    1 | date = "03/08/2018"
      | ^

    error: `date` is the text "03/08/2018", not a date
     --> config/issues/test.toml:1:8
      |
    1 | date = "03/08/2018"
      |        ^^^^^^^^^^^^
      |
      = help: write the date without quotes, year-month-day: `date = 2018-08-03`

    error: unknown field `subjct` in the file
     --> config/issues/test.toml:2:1
      |
    2 | subjct = "Typo in a key"
      | ^^^^^^
      |
      = help: did you mean `subject`?

    error: `preheader` must be a string in quotes, not a whole number
     --> config/issues/test.toml:3:13
      |
    3 | preheader = 42
      |             ^^

    error: the section title is empty
     --> config/issues/test.toml:6:9
      |
    6 | title = ""
      |         ^^
      |
      = help: every section needs a heading, e.g. title = "Top stories"

    error: unknown story `002/debt-mountian`
     --> config/issues/test.toml:8:3
      |
    8 |   "002/debt-mountian",
      |   ^^^^^^^^^^^^^^^^^^^
      |
      = help: did you mean `002/debt-mountain`?

    error: the link `https://hsj.example/leeds united` contains a space; write spaces as %20, or check it was pasted whole
     --> config/issues/test.toml:9:36
      |
    9 |   { id = "002/leeds-united", url = "https://hsj.example/leeds united" },
      |                                    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

    warning: story `004/integrated-care-model-holds-key-to-solvency` has 20 paragraph(s), so `paragraphs = 99` cuts nothing
      --> config/issues/test.toml:10:3
       |
    10 |   { id = "004/integrated-care-model-holds-key-to-solvency", paragraphs = 99, url = "https://hsj.example/x" },
       |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
       |
       = help: remove `paragraphs`, or give a number below the story's length

    error: unknown field `paragrafs` in a story table
      --> config/issues/test.toml:11:34
       |
    11 |   { id = "002/merger-milestone", paragrafs = 2 },
       |                                  ^^^^^^^^^
       |
       = help: did you mean `paragraphs`?

    8 error(s), 1 warning(s); nothing written
    "#);
}

/// See: issue 9. A typed `03/08/2018` got a misleading "must be quoted".
#[test]
fn an_unquoted_day_first_date_is_a_syntax_error_with_the_right_form() {
    let project = Project::with_issue(&GOOD.replace("2018-07-27", "27/07/2018"));
    let out = project
        .expect(&["check", "config/issues/test.toml"])
        .code(2);
    insta::assert_snapshot!(out.stderr(), @"
    error: malformed TOML: string values must be quoted, expected literal string
     --> config/issues/test.toml:1:8
      |
    1 | date = 27/07/2018
      |        ^^^^^^^^^^
      |
      = help: dates are written year-month-day without quotes: `2018-07-27`

    1 error(s), 0 warning(s); nothing written
    ");
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
    let out = project
        .expect(&["check", "config/issues/2018-08-03.toml"])
        .code(2);
    insta::assert_snapshot!(out.stderr(), @"
    error: `config/issues/2018-08-03.toml` and `config/issues/2018-07-27.toml` both go out at 2018-07-27 07:00 BST; every reader would get two issues
     --> config/issues/2018-08-03.toml:2:8
      |
    2 | date = 2018-07-27
      |        ^^^^^^^^^^
      |
      = help: change the date (or subject and stories) of one of them, or move the copy out of the issues folder

    1 error(s), 0 warning(s); nothing written
    ");
    // Either file is refused, and so is a preview of it.
    let out = project
        .expect(&["check", "config/issues/2018-07-27.toml"])
        .code(2);
    insta::assert_snapshot!(out.stderr(), @"
    error: `config/issues/2018-07-27.toml` and `config/issues/2018-08-03.toml` both go out at 2018-07-27 07:00 BST; every reader would get two issues
     --> config/issues/2018-07-27.toml:2:8
      |
    2 | date = 2018-07-27
      |        ^^^^^^^^^^
      |
      = help: change the date (or subject and stories) of one of them, or move the copy out of the issues folder

    1 error(s), 0 warning(s); nothing written
    ");
}

#[test]
fn two_issue_files_with_one_subject_and_the_same_stories_are_an_error() {
    let project = Project::example();
    let example = project.read("config/issues/2018-07-27.toml");
    project.write(
        "config/issues/2018-08-03.toml",
        example.replace("date = 2018-07-27", "date = 2018-08-03"),
    );
    let out = project
        .expect(&["check", "config/issues/2018-08-03.toml"])
        .code(2);
    insta::assert_snapshot!(out.stderr(), @r#"
    error: `config/issues/2018-08-03.toml` has the same subject and stories as `config/issues/2018-07-27.toml`; every reader would get the issue twice
     --> config/issues/2018-08-03.toml:3:11
      |
    3 | subject = "Bold ambition for mental health, and the debt mountain"
      |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: change the date (or subject and stories) of one of them, or move the copy out of the issues folder

    1 error(s), 0 warning(s); nothing written
    "#);
}

/// See: issue 9. `check` did not warn about an empty seed.
#[test]
fn an_empty_seed_is_a_warning_in_check() {
    let project = Project::with_issue(GOOD);
    project.write("seeds/009_empty.txt", "");
    project
        .expect(&["check", "config/issues/test.toml"])
        .code(0)
        .stdout_matches("config/issues/test.toml: [..]; 1 warning(s)\n")
        .stderr_is("warning: seeds/009_empty.txt:1: the seed is empty\n\n");
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
    insta::assert_snapshot!(stderr, @r#"
    error: the subject contains the control character U+0007
     --> config/issues/test.toml:2:11
      |
    2 | subject = "Bold \u0007ambition for mental health, and the debt mountain"
      |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

    1 error(s), 0 warning(s); nothing written
    "#);
    assert_eq!(code, 2, "{stderr}");
}

/// See: issue 20 (adversarial run, finding 6). A mailto address that is
/// the return path in other capitals was taken for another address, and
/// every VERP return read as a request to leave.
#[test]
fn the_mailto_address_may_not_be_the_return_path_in_any_case() {
    let project = Project::with_issue(GOOD);
    let settings = project
        .read("config/newsletter.toml")
        .replace(
            "mailto = \"unsubscribe@hsj.example\"",
            "mailto = \"Bounces@HSJ.example\"",
        )
        .replace(
            "# [bounces]\n# return_path = \"bounces@hsj.example\"",
            "[bounces]\nreturn_path = \"bounces@hsj.example\"",
        );
    project.write("config/newsletter.toml", settings);
    let out = project.expect(&["check"]).code(2);
    insta::assert_snapshot!(out.stderr(), @r#"
    error: `Bounces@HSJ.example` is also the return path, where returned mail comes: each return would read as a request to leave; give the mailto address one of its own (unsubscribe@…)
      --> config/newsletter.toml:31:10
       |
    31 | mailto = "Bounces@HSJ.example"
       |          ^^^^^^^^^^^^^^^^^^^^^

    1 error(s), 0 warning(s); nothing written
    "#);
}

/// A privacy notice is linked from every footer, so it must be a real
/// https page. See: issue 23.
#[test]
fn a_privacy_url_that_is_not_https_is_an_error() {
    let project = Project::with_issue(GOOD);
    let settings = project.read("config/newsletter.toml").replace(
        "[footer]\n",
        "[footer]\nprivacy_url = \"http://hsj.example/privacy\"\n",
    );
    project.write("config/newsletter.toml", settings);
    let out = project.expect(&["check"]).code(2);
    assert!(
        out.stderr().starts_with(
            "error: `privacy_url` is the https address of your privacy notice, e.g. \"https://hsj.example/privacy\"\n"
        ),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr()
            .contains("privacy_url = \"http://hsj.example/privacy\"")
    );
}
