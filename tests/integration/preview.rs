//! `catchup preview`: the example issue becomes an email that a real MIME
//! parser and a real HTML5 parser agree is well formed.

use scraper::{Html, Selector};

use crate::support::{PREVIEW_KEY, Project, files_under, mime, preview_unsubscribe_url, reader_id};

const ISSUE: &str = "config/issues/2018-07-27.toml";

fn previewed() -> Project {
    let project = Project::example();
    let (code, stdout, stderr) = project.run(&["preview", ISSUE]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("wrote previews/2018-07-27.html"),
        "{stdout}"
    );
    project
}

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).expect("selector"))
        .collect()
}

fn text_of(element: &scraper::ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn it_writes_html_text_eml_and_the_index() {
    let project = previewed();
    assert_eq!(
        files_under(&project.path().join("previews")),
        [
            "2018-07-27.eml",
            "2018-07-27.html",
            "2018-07-27.txt",
            "archive.json",
            "index.html"
        ]
    );
}

#[test]
fn the_html_snapshot() {
    let project = previewed();
    insta::assert_snapshot!(
        "example_issue_html",
        project.read("previews/2018-07-27.html")
    );
}

#[test]
fn the_text_snapshot() {
    let project = previewed();
    insta::assert_snapshot!(
        "example_issue_text",
        project.read("previews/2018-07-27.txt")
    );
}

#[test]
fn headings_nest_and_the_page_needs_nothing_external() {
    let project = previewed();
    let doc = Html::parse_document(&project.read("previews/2018-07-27.html"));

    let headlines: Vec<String> = select(&doc, "table.story h3.headline")
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(
        headlines,
        [
            "Bold ambition for mental health",
            "Debt mountain",
            "Hunt’s integration ambition",
            "Big changes at the top of the shop",
            "Merger milestone",
            "Leeds united",
            "The DH in ‘special measures’",
            "NHS goes back to school",
            "Integrated care model holds key to solvency",
            "Barker: radically reshape health and social care around need",
        ]
    );
    let sections: Vec<String> = select(&doc, "h2.section-title")
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(
        sections,
        [
            "Top stories",
            "Leadership",
            "Across the system",
            "Integrated care"
        ]
    );
    assert_eq!(
        select(&doc, "h1").iter().map(text_of).collect::<Vec<_>>(),
        ["HSJ Catch Up"]
    );
    // h1 the name, h2 "In this issue" and the sections, h3 the stories, h4
    // their subheads: no level is skipped, in document order.
    let mut last = 0;
    for heading in select(&doc, "h1, h2, h3, h4, h5, h6") {
        let level: usize = heading.value().name()[1..].parse().expect("level");
        assert!(
            level <= last + 1,
            "<{}> after <h{last}>: {}",
            heading.value().name(),
            text_of(&heading)
        );
        last = level;
    }
    assert!(
        !select(&doc, "h4.subhead").is_empty(),
        "the example has subheads"
    );
    // Webmail strips <html>: the language and the subject ride on a wrapper.
    let article = select(&doc, "body > div[role=article]")[0];
    assert_eq!(article.value().attr("lang"), Some("en-GB"));
    assert_eq!(article.value().attr("aria-roledescription"), Some("email"));
    assert_eq!(
        article.value().attr("aria-label"),
        Some("Bold ambition for mental health, and the debt mountain")
    );

    // Nothing outside the message is needed to read it.
    assert!(select(&doc, "link").is_empty(), "no <link> stylesheets");
    assert!(select(&doc, "script, img, iframe, object").is_empty());
    for style in select(&doc, "[style]") {
        let css = style.value().attr("style").expect("style");
        assert!(!css.contains("url("), "external resource in {css}");
    }
}

#[test]
fn content_carries_inline_styles_and_only_media_rules_stay_in_style() {
    let project = previewed();
    let doc = Html::parse_document(&project.read("previews/2018-07-27.html"));
    for element in select(
        &doc,
        "body p, body h1, body h2, body h3, body h4, body li, td, table",
    ) {
        let style = element.value().attr("style").unwrap_or("");
        assert!(
            !style.is_empty(),
            "<{}> has no inline style",
            element.value().name()
        );
    }
    let paragraph = select(&doc, "td.block-cell > p:not(.more)")[0];
    let style = paragraph.value().attr("style").expect("style");
    assert!(
        style.contains("font-size:16px") && style.contains("color:#1f2933"),
        "{style}"
    );

    // One <style>, in the head, holding only @media rules.
    let styles = select(&doc, "style");
    assert_eq!(styles.len(), 1);
    let css: String = styles[0].text().collect();
    let outside_media: String = {
        let mut depth = 0;
        let mut out = String::new();
        for c in css.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    assert_eq!(
        outside_media.split_whitespace().collect::<Vec<_>>(),
        [
            "@media",
            "screen",
            "and",
            "(max-width:620px)",
            "@media",
            "(prefers-color-scheme:dark)"
        ]
    );
}

#[test]
fn it_follows_email_client_practice() {
    let project = previewed();
    let html = project.read("previews/2018-07-27.html");
    let doc = Html::parse_document(&html);

    assert_eq!(select(&doc, "html")[0].value().attr("lang"), Some("en-GB"));
    assert_eq!(
        select(&doc, "meta[charset]")[0].value().attr("charset"),
        Some("utf-8")
    );
    let meta = |name: &str| {
        select(&doc, &format!("meta[name='{name}']"))
            .first()
            .and_then(|m| m.value().attr("content"))
            .map(str::to_string)
    };
    assert_eq!(
        meta("viewport").as_deref(),
        Some("width=device-width, initial-scale=1")
    );
    assert_eq!(meta("color-scheme").as_deref(), Some("light dark"));

    // Every table is presentational; the column is 600px for Outlook.
    let tables = select(&doc, "table");
    assert!(tables.len() >= 2);
    for table in &tables {
        assert_eq!(table.value().attr("role"), Some("presentation"));
    }
    let container = select(&doc, "table.container")[0];
    assert!(
        container
            .value()
            .attr("style")
            .expect("style")
            .contains("max-width:600px")
    );
    assert!(html.contains(r#"<!--[if mso]><table role="presentation" width="600""#));
    assert!(html.contains("<!--[if mso]></td></tr></table><![endif]-->"));

    // A hidden preheader comes first in the body.
    let preheader = select(&doc, "body > div[role=article] > div.preheader")[0];
    assert!(
        preheader
            .value()
            .attr("style")
            .expect("style")
            .contains("display:none")
    );
    assert!(text_of(&preheader).starts_with("21,000 new mental health posts"));

    // A shortened story ends in "Read more" linking to its url.
    let more = select(&doc, "p.more a");
    let links: Vec<&str> = more
        .iter()
        .map(|a| a.value().attr("href").expect("href"))
        .collect();
    assert_eq!(
        links,
        [
            "https://hsj.example/integrated-care/integrated-care-model-holds-key-to-solvency",
            "https://hsj.example/integrated-care/barker-commission"
        ]
    );

    // The footer's unsubscribe link is the placeholder reader's own.
    let unsubscribe = select(&doc, "td.footer-last a")[0];
    assert_eq!(
        unsubscribe.value().attr("href"),
        Some(preview_unsubscribe_url("reader@example.com").as_str())
    );
    assert!(
        !html.contains("unsubscribe.invalid"),
        "the placeholder leaked"
    );
    assert!(html.len() < 40 * 1024, "HTML is {} bytes", html.len());
}

#[test]
fn seed_text_is_escaped() {
    let project = Project::example();
    project.write(
        "seeds/009_hostile.txt",
        "Title\n\n<script>alert(1)</script> & co\n\nA <b>bold</b> claim & a \"quote\".\n",
    );
    project.write(
        "config/issues/hostile.toml",
        "date = 2018-08-03\nsubject = \"Escaping\"\n[[sections]]\ntitle = \"<i>Section</i>\"\nstories = [\"009/script-alert-1-script-co\"]\n",
    );
    let (code, _, stderr) = project.run(&["preview", "config/issues/hostile.toml"]);
    assert_eq!(code, 0, "{stderr}");
    let html = project.read("previews/hostile.html");
    let doc = Html::parse_document(&html);
    assert!(
        select(&doc, "script, b, i").is_empty(),
        "markup from seeds must not become elements"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
    assert_eq!(
        text_of(&select(&doc, "td.block-cell > p")[0]),
        "A <b>bold</b> claim & a \"quote\"."
    );
}

#[test]
fn the_eml_is_multipart_alternative_text_first_with_the_right_headers() {
    let project = previewed();
    let raw = std::fs::read(project.path().join("previews/2018-07-27.eml")).expect("eml");
    let message = mime::parse(&raw);

    assert_eq!(message.root_type, "multipart/alternative");
    assert_eq!(message.part_types, ["text/plain", "text/html"]);
    assert_eq!(
        message.subject,
        "Bold ambition for mental health, and the debt mountain"
    );
    assert_eq!(message.from_address, "catchup@hsj.example");
    assert_eq!(message.to_address, "reader@example.com");
    assert_eq!(message.to_name.as_deref(), Some("Reader"));
    // <issue>.<16 hex digits of HMAC of the address>@<sending domain>
    assert_eq!(
        message.message_id,
        format!(
            "2018-07-27.{}@hsj.example",
            reader_id(PREVIEW_KEY, "reader@example.com")
        )
    );
    // The issue's send moment: Friday 07:00 in London, BST in July.
    assert_eq!(message.date.as_deref(), Some("2018-07-27T06:00:00Z"));
    assert_eq!(message.header("MIME-Version"), "1.0");
    assert_eq!(
        message.header("Reply-To"),
        "\"HSJ Editor\" <editor@hsj.example>"
    );
    assert_eq!(
        message.header("List-Unsubscribe"),
        format!(
            "<{}>, <mailto:{}?subject=unsubscribe>",
            preview_unsubscribe_url("reader@example.com"),
            crate::support::preview_unsubscribe_mailto("reader@example.com")
        )
    );
    assert_eq!(
        message.header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );

    // The parts decode to exactly the preview files (MIME text has CRLF
    // line breaks; the files on disk have LF).
    assert_eq!(
        message.text.replace("\r\n", "\n"),
        project.read("previews/2018-07-27.txt")
    );
    assert_eq!(
        message.html.replace("\r\n", "\n"),
        project.read("previews/2018-07-27.html")
    );
    assert!(mime::longest_line(&raw) <= 998);
    assert!(raw.is_ascii(), "quoted-printable keeps the message 7-bit");
}

#[test]
fn the_text_part_is_wrapped_at_72_columns_and_lists_its_links() {
    let project = previewed();
    let text = project.read("previews/2018-07-27.txt");
    for line in text.lines() {
        let is_url = line
            .split_whitespace()
            .last()
            .is_some_and(|w| w.trim_start_matches('<').starts_with("https://"));
        assert!(line.chars().count() <= 72 || is_url, "too long: {line:?}");
    }
    // "Read more" where the reader is, with its URL (issue 23).
    assert!(text.contains(
        "Read more: <https://hsj.example/integrated-care/integrated-care-model-holds-key-to-solvency>\n"
    ));
    assert!(text.contains("Read more: <https://hsj.example/integrated-care/barker-commission>\n"));
    assert!(!text.contains("Links:"), "no link left to list at the end");
    assert!(text.contains(&format!(
        "Unsubscribe:\n{}\n",
        preview_unsubscribe_url("reader@example.com")
    )));
    assert!(text.contains(
        "  * NHSE and NHSI will move to a single “financial and operational\n    planning"
    ));
    // The contents list is numbered.
    assert!(text.contains("IN THIS ISSUE\n\n  1. "), "{text}");
    assert!(text.contains("\n 10. "), "{text}");
}

#[test]
fn previews_are_byte_identical_from_run_to_run() {
    let project = previewed();
    let first: Vec<Vec<u8>> = ["html", "txt", "eml"]
        .iter()
        .map(|e| {
            std::fs::read(project.path().join(format!("previews/2018-07-27.{e}"))).expect("read")
        })
        .collect();
    let (code, _, _) = project.run(&["preview", ISSUE]);
    assert_eq!(code, 0);
    for (e, before) in ["html", "txt", "eml"].iter().zip(first) {
        let after =
            std::fs::read(project.path().join(format!("previews/2018-07-27.{e}"))).expect("read");
        assert!(before == after, "{e} changed between runs");
    }
}

#[test]
fn a_rerun_rewrites_the_proofs_but_leaves_an_unchanged_archive_alone() {
    use std::os::unix::fs::MetadataExt as _;
    let project = previewed();
    let inode = |name: &str| {
        std::fs::metadata(project.path().join("previews").join(name))
            .expect("metadata")
            .ino()
    };
    let before: Vec<u64> = ["2018-07-27.html", "archive.json", "index.html"]
        .map(inode)
        .to_vec();
    let (code, stdout, stderr) = project.run(&["preview", ISSUE]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote previews/2018-07-27.eml"), "{stdout}");
    assert!(!stdout.contains("index.html"), "{stdout}");
    // The proof is written again, whole (a new file renamed into place)...
    assert_ne!(inode("2018-07-27.html"), before[0]);
    // ...while the archive and its page, unchanged, are not touched.
    assert_eq!(inode("archive.json"), before[1]);
    assert_eq!(inode("index.html"), before[2]);

    // A new subject changes the archive's record, so both are rewritten.
    let issue = project
        .read(ISSUE)
        .replacen("subject = ", "subject = \"New\" #", 1);
    project.write(ISSUE, &issue);
    let (code, _, stderr) = project.run(&["preview", ISSUE]);
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(inode("archive.json"), before[1]);
    assert_ne!(inode("index.html"), before[2]);
    assert!(project.read("previews/index.html").contains(">New<"));

    // Something planted where the page belongs is replaced, not waited on.
    std::fs::remove_file(project.path().join("previews/index.html")).expect("rm");
    crate::support::mkfifo(&project.path().join("previews/index.html"));
    let (code, stdout, stderr) = project.run(&["preview", ISSUE]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("wrote previews/index.html"), "{stdout}");
    assert!(project.read("previews/index.html").contains(">New<"));
}

#[test]
fn the_archive_lists_every_previewed_issue_newest_first() {
    let project = previewed();
    project.write(
        "config/issues/2018-08-03.toml",
        "date = 2018-08-03\nsubject = \"Workforce upgrade\"\n[[sections]]\ntitle = \"Top\"\nstories = [\"000/workforce-upgrade\"]\n",
    );
    project.write(
        "config/issues/2018-07-20.toml",
        "date = 2018-07-20\nsubject = \"Leading by example\"\n[[sections]]\ntitle = \"Top\"\nstories = [\"002/leading-by-example\"]\n",
    );
    // No argument: the newest issue by date.
    let (code, stdout, _) = project.run(&["preview"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("previews/2018-08-03.html"), "{stdout}");
    let (code, _, _) = project.run(&["preview", "config/issues/2018-07-20.toml"]);
    assert_eq!(code, 0);

    let doc = Html::parse_document(&project.read("previews/index.html"));
    let links: Vec<(String, String)> = select(&doc, "ol.issues > li > a:first-child")
        .iter()
        .map(|a| {
            (
                a.value().attr("href").expect("href").to_string(),
                text_of(a),
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            (
                "2018-08-03.html".to_string(),
                "Workforce upgrade".to_string()
            ),
            (
                "2018-07-27.html".to_string(),
                "Bold ambition for mental health, and the debt mountain".to_string()
            ),
            (
                "2018-07-20.html".to_string(),
                "Leading by example".to_string()
            ),
        ]
    );
}

#[test]
fn out_puts_the_previews_elsewhere() {
    let project = Project::example();
    let (code, stdout, _) = project.run(&["preview", ISSUE, "--out", "elsewhere"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("wrote elsewhere/2018-07-27.eml"));
    assert!(!project.path().join("previews").exists());
    assert_eq!(files_under(&project.path().join("elsewhere")).len(), 5);
}

/// Every "In this issue" link lands on a `name` anchor (what Outlook for
/// Windows and Gmail on the web follow) and an `id`. See: issue 23.
#[test]
fn every_contents_link_has_a_name_anchor_and_an_id() {
    let project = previewed();
    let html = scraper::Html::parse_document(&project.read("previews/2018-07-27.html"));
    let select = |css: &str| scraper::Selector::parse(css).expect("selector");
    let targets: Vec<String> = html
        .select(&select("a.contents-link"))
        .filter_map(|a| a.value().attr("href"))
        .map(|href| href.trim_start_matches('#').to_string())
        .collect();
    assert_eq!(targets.len(), 10);
    for target in &targets {
        assert_eq!(
            html.select(&select(&format!("a[name='{target}']"))).count(),
            1,
            "{target}"
        );
        assert_eq!(
            html.select(&select(&format!("[id='{target}']"))).count(),
            1,
            "{target}"
        );
    }
}
