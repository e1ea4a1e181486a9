//! The email in the clients readers use, tested by the rules that make it
//! work there (there is no Outlook here): spacing only on table cells (what
//! Outlook's Word engine honours), a layout that survives webmail stripping
//! `<style>`, a real browser at phone and desktop widths in light and dark
//! mode, SpamAssassin's local tests, and the list headers. See: issue 13.

use std::time::Duration;

use scraper::{Html, Selector};

use crate::support::browser::{Browser, runtime};
use crate::support::smtp::SmtpServer;
use crate::support::{Project, mime, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

fn previewed_html() -> (Project, String) {
    let project = Project::example();
    project.expect(&["preview", ISSUE]).previewed("2018-07-27");
    let html = project.read("previews/2018-07-27.html");
    (project, html)
}

/// The declarations of an inline style, as (property, value) pairs.
fn declarations(style: &str) -> Vec<(String, String)> {
    style
        .split(';')
        .filter_map(|d| d.split_once(':'))
        .map(|(p, v)| (p.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// True if every length in a padding or margin value is zero.
fn is_zero(value: &str) -> bool {
    value
        .split_whitespace()
        .all(|v| v.trim_end_matches("px").trim_end_matches("pt") == "0")
}

#[test]
fn only_table_cells_carry_spacing_and_the_outlook_blocks_are_whole() {
    let (_, html) = previewed_html();
    let doc = Html::parse_document(&html);
    let mut offenders = Vec::new();
    for element in doc.select(&Selector::parse("[style]").expect("selector")) {
        let name = element.value().name();
        if matches!(name, "td" | "th" | "body") {
            continue;
        }
        for (property, value) in declarations(element.value().attr("style").unwrap_or("")) {
            let spacing = property.starts_with("padding") || property.starts_with("margin");
            if spacing && !is_zero(&value) {
                offenders.push(format!(
                    "<{name} class={:?}> {property}:{value}",
                    element.value().attr("class")
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "spacing Outlook drops: {offenders:#?}"
    );
    // Every line height is exact for Word.
    for element in doc.select(&Selector::parse("[style*=line-height]").expect("selector")) {
        let style = element.value().attr("style").unwrap_or("");
        assert!(style.contains("mso-line-height-rule:exactly"), "{style}");
    }

    // The MSO conditional comments open and close in pairs, and the ghost
    // table they hold is itself balanced.
    let opens = html.matches("<!--[if mso]>").count();
    let closes = html.matches("<![endif]-->").count();
    assert_eq!(
        opens, 3,
        "head settings, ghost table open, ghost table close"
    );
    assert_eq!(opens, closes);
    let ghost: String = html
        .split("<!--[if mso]>")
        .skip(1)
        .filter_map(|block| block.split("<![endif]-->").next())
        .collect();
    for tag in ["table", "tr", "td"] {
        assert_eq!(
            ghost.matches(&format!("<{tag}")).count(),
            ghost.matches(&format!("</{tag}>")).count(),
            "<{tag}> in the MSO blocks: {ghost}"
        );
    }
    assert!(ghost.contains(r#"<table role="presentation" width="600""#));
    // The serif headlines are not overridden for Outlook.
    assert!(!ghost.contains("font-family"), "{ghost}");
}

#[test]
fn without_its_style_block_the_email_keeps_its_width_fonts_and_colours() {
    let (_, html) = previewed_html();
    // What several webmails do: drop every <style> element.
    let start = html.find("<style>").expect("style");
    let end = html[start..].find("</style>").expect("end") + start + "</style>".len();
    let stripped = format!("{}{}", &html[..start], &html[end..]);
    let doc = Html::parse_document(&stripped);
    let style_of = |css: &str| -> Vec<String> {
        doc.select(&Selector::parse(css).expect("selector"))
            .map(|e| e.value().attr("style").unwrap_or("").to_string())
            .collect()
    };
    assert!(style_of("table.container")[0].contains("max-width:600px"));
    for css in ["p", "li", "h1", "h2", "h3", "h4", "td.view-online"] {
        for style in style_of(css) {
            assert!(style.contains("font-family:"), "{css} has no font: {style}");
            assert!(style.contains("color:"), "{css} has no colour: {style}");
        }
    }
    for style in style_of("h1, h3") {
        assert!(
            style.contains("font-family:Georgia"),
            "the serif face: {style}"
        );
    }
    for style in style_of("p, li, h2, h4") {
        assert!(
            style.contains("font-family:Arial"),
            "Arial first, for Outlook: {style}"
        );
    }
    for css in [
        "body",
        "table.wrapper",
        "table.container",
        "td.masthead-name",
    ] {
        assert!(style_of(css)[0].contains("background-color:"), "{css}");
    }
    for style in style_of("a") {
        assert!(
            style.contains("color:") && style.contains("text-decoration:underline"),
            "{style}"
        );
    }
}

/// Runs in the email's frame: horizontal scroll, text under 14px, the
/// contrast of every visible text against what is behind it, and the
/// weight of the rules.
const MEASURE: &str = r#"
const rgb = (s) => { const m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const behind = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
const out = {scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth, small: [], low: [], rules: {}};
for (const el of document.body.querySelectorAll('*')) {
  const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
  if (!text || el.getClientRects().length === 0) continue;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.visibility === 'hidden' || style.opacity === '0') continue;
  const size = parseFloat(style.fontSize);
  if (size < 14) out.small.push(`${el.tagName}.${el.className} ${size}px: ${text.slice(0, 40)}`);
  const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
  const r = ratio(rgb(style.color), behind(el));
  if (r < (large ? 3 : 4.5)) out.low.push(`${el.tagName}.${el.className} ${r.toFixed(2)}:1 ${style.color} on ${JSON.stringify(behind(el))}: ${text.slice(0, 40)}`);
}
const container = behind(document.querySelector('table.container'));
for (const [name, css] of [['section', 'td.section-cell'], ['story', 'td.story-cell']]) {
  const style = getComputedStyle(document.querySelector(css));
  out.rules[name] = {width: parseFloat(style.borderBottomWidth), contrast: ratio(rgb(style.borderBottomColor), container)};
}
return JSON.stringify(out);
"#;

#[test]
fn in_chromium_at_four_widths_in_light_and_dark_it_fits_reads_and_keeps_its_rules() {
    let (project, _) = previewed_html();
    let dir = project.path().join("previews");
    runtime().block_on(async {
        for (mode, switches) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
            let browser = match Browser::start_with(switches).await {
                Ok(browser) => browser,
                Err(why) => {
                    skip("clients::in_chromium_at_four_widths", &why);
                    return;
                }
            };
            let c = &browser.client;
            for width in [320, 375, 600, 1024] {
                // A frame of the reader's width: headless windows are no
                // narrower than 500px.
                let harness = dir.join(format!("at-{width}.html"));
                std::fs::write(
                    &harness,
                    format!(r#"<!DOCTYPE html><body style="margin:0"><iframe src="2018-07-27.html" style="width:{width}px;height:3000px;border:0"></iframe>"#),
                )
                .expect("harness");
                c.goto(&format!("file://{}", harness.display())).await.expect("open");
                tokio::time::sleep(Duration::from_millis(200)).await;
                c.enter_frame(0).await.expect("frame");
                let dark: bool = c
                    .execute("return matchMedia('(prefers-color-scheme: dark)').matches", vec![])
                    .await
                    .expect("media")
                    .as_bool()
                    .expect("bool");
                assert_eq!(dark, mode == "dark");
                let measured = c.execute(MEASURE, vec![]).await.expect("measure");
                let measured: serde_json::Value =
                    serde_json::from_str(measured.as_str().expect("json")).expect("json");
                let at = format!("{mode} at {width}px");
                assert_eq!(measured["scroll"], 0, "horizontal scroll {at}");
                assert_eq!(measured["small"], serde_json::json!([]), "text under 14px {at}");
                assert_eq!(measured["low"], serde_json::json!([]), "contrast under WCAG AA {at}");
                let rules = &measured["rules"];
                let (section, story) = (&rules["section"], &rules["story"]);
                assert!(
                    section["width"].as_f64() > story["width"].as_f64()
                        && section["contrast"].as_f64() > story["contrast"].as_f64(),
                    "the section rule is not the heaviest {at}: {rules}"
                );
                assert!(section["contrast"].as_f64() >= Some(3.0), "the section rule fades {at}: {rules}");
                c.enter_parent_frame().await.expect("back");
            }
            browser.close().await;
        }
    });
}

/// SpamAssassin's verdict on a message: the score and the rules hit.
fn spamassassin(test: &str, message: &[u8]) -> Option<(f64, Vec<String>)> {
    if !std::path::Path::new("/usr/bin/spamassassin").exists() {
        skip(test, "SpamAssassin is not installed (Debian: spamassassin)");
        return None;
    }
    let home = tempfile::tempdir().expect("home");
    let mut child = std::process::Command::new("/usr/bin/spamassassin")
        .args(["-L", "-t"])
        .env("HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spamassassin");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), message).expect("write");
    let out = child.wait_with_output().expect("spamassassin");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = report
        .lines()
        .find(|l| l.starts_with("X-Spam-Status:"))
        .expect("X-Spam-Status")
        .to_string();
    let score: f64 = status
        .split("score=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("score");
    let rules: Vec<String> = report
        .lines()
        .skip_while(|l| !l.starts_with(" pts rule name"))
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with(' ') || l.starts_with('-'))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    Some((score, rules))
}

#[test]
fn spamassassin_scores_a_readers_real_message_zero_and_the_list_headers_are_there() {
    let test = "clients::spamassassin_scores_a_readers_real_message";
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    project.use_smtp(server.port, "");
    project.subscribers(1, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 1);
    project
        .expect(&["send", ISSUE, "--to", "ed@hsj.example"])
        .test_sent(1);
    let deliveries = server.deliveries();
    let list = server.message(deliveries[0].n);
    let test_send = server.message(deliveries[1].n);

    let parsed = mime::parse(&list);
    assert_eq!(
        parsed.header("List-Id"),
        "\"HSJ Catch Up\" <hsj-catch-up.hsj.example>"
    );
    assert_eq!(
        parsed.header("Feedback-ID"),
        "2018-07-27:hsj-catch-up:newsletter:hsj.example"
    );
    assert_eq!(parsed.count("Precedence"), 0, "not set: see the README");
    assert_eq!(
        mime::parse(&test_send).count("Feedback-ID"),
        0,
        "a test send is no campaign"
    );
    assert!(
        list.len() <= 60 * 1024,
        "a 10-story issue is {} bytes as sent",
        list.len()
    );

    let Some((score, rules)) = spamassassin(test, &list) else {
        return;
    };
    eprintln!("SpamAssassin: {score} points; rules hit: {rules:?}");
    assert_eq!(score, 0.0, "rules hit: {rules:?}");
    assert!(!rules.iter().any(|r| r.contains("FONT_INVIS")), "{rules:?}");

    // Signed with DKIM: only the DKIM rules, which need DNS for the key,
    // may add anything.
    project.sign_with_dkim("rsa");
    project
        .expect(&["send", ISSUE, "--to", "ann@hsj.example"])
        .test_sent(1);
    let signed = server.message(server.deliveries().last().expect("sent").n);
    assert!(String::from_utf8_lossy(&signed).contains("DKIM-Signature:"));
    let (score, rules) = spamassassin(test, &signed).expect("spamassassin");
    eprintln!("SpamAssassin, DKIM-signed: {score} points; rules hit: {rules:?}");
    let scoring: Vec<&String> = rules
        .iter()
        .filter(|r| !r.starts_with("0.0 ") && !r.starts_with("-0.0 "))
        .collect();
    assert!(
        scoring.iter().all(|r| r.contains("DKIM")),
        "rules that scored: {scoring:?}"
    );
}
