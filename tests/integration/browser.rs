//! The web pages in a real browser (headless Chromium over WebDriver): the
//! unsubscribe link from a real sent message, its button, and the archive.
//! See: issue 10.

use std::time::Duration;

use fantoccini::Locator;

use crate::support::browser::{Browser, runtime};
use crate::support::smtp::SmtpServer;
use crate::support::{Project, mime, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

#[test]
fn a_reader_unsubscribes_with_the_button_and_reads_the_archive_in_chromium() {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 2);
    let _service = project.serve(port);

    // The link a reader clicks: the one in their own message's footer.
    let delivery = server
        .deliveries()
        .into_iter()
        .find(|d| d.rcpt == "reader2@nhs.example")
        .expect("delivered");
    let html = mime::parse(&server.message(delivery.n)).html;
    let link = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("td.footer-last a").expect("selector"))
        .next()
        .and_then(|a| a.value().attr("href").map(str::to_string))
        .expect("the footer's unsubscribe link");

    runtime().block_on(async {
        let browser = match Browser::start().await {
            Ok(browser) => browser,
            Err(why) => {
                skip("browser::a_reader_unsubscribes_with_the_button", &why);
                return;
            }
        };
        let c = &browser.client;
        c.goto(&link).await.expect("open the link");
        let heading = c
            .find(Locator::Css("h1"))
            .await
            .expect("h1")
            .text()
            .await
            .expect("text");
        assert_eq!(heading, "Unsubscribe from HSJ Catch Up?");
        let list = project.path().join("config/suppressed.csv");
        assert!(
            std::fs::read_to_string(&list)
                .unwrap_or_default()
                .lines()
                .count()
                <= 1,
            "opening the page unsubscribed nobody"
        );
        press(
            c,
            Locator::Css("button[type=submit]"),
            "You are unsubscribed",
        )
        .await;
        let rows = std::fs::read_to_string(&list).expect("suppressed.csv");
        // Recorded as the page's, against the issue the link came in.
        assert!(
            rows.lines()
                .any(|l| l.starts_with("reader2@nhs.example,unsubscribe-page,")
                    && l.ends_with(",2018-07-27")),
            "{rows}"
        );

        // Changed their mind: the page's own Resubscribe button works in a
        // real browser (it was refused while the service sent
        // `Referrer-Policy: no-referrer`, under which Chromium's form POST
        // carries `Origin: null`).
        press(
            c,
            Locator::XPath("//button[.='Resubscribe']"),
            "You are subscribed again",
        )
        .await;

        // The archive: the index, then the issue's page.
        c.goto(&format!("http://127.0.0.1:{port}/"))
            .await
            .expect("index");
        let title = c.title().await.expect("title");
        assert_eq!(title, "HSJ Catch Up: archive");
        c.find(Locator::LinkText(
            "Bold ambition for mental health, and the debt mountain",
        ))
        .await
        .expect("the issue's link")
        .click()
        .await
        .expect("click");
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_url(
                &url::Url::parse(&format!("http://127.0.0.1:{port}/issues/2018-07-27.html"))
                    .expect("url"),
            )
            .await
            .expect("the issue page");
        let name = c
            .find(Locator::Css("h1.name"))
            .await
            .expect("masthead")
            .text()
            .await
            .expect("text");
        assert_eq!(name, "HSJ Catch Up");
        browser.close().await;
    });
}

/// Clicks what `button` finds, then waits (10 s at most) for the page
/// whose `h1` is `heading`.
async fn press(c: &fantoccini::Client, button: Locator<'_>, heading: &str) {
    c.find(button)
        .await
        .expect("the button")
        .click()
        .await
        .expect("click");
    let h1 = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(&format!("//h1[.='{heading}']")))
        .await
        .unwrap_or_else(|e| panic!("no page saying {heading:?}: {e}"));
    assert_eq!(h1.text().await.expect("text"), heading);
}

/// Runs `script` in the page and returns its value.
async fn js(c: &fantoccini::Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("script")
}

/// Waits (at most 2 s from `since`) until `script` is true in the page.
async fn until(c: &fantoccini::Client, script: &str, since: std::time::Instant) {
    loop {
        if js(c, script).await == serde_json::Value::Bool(true) {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "not within 2 s: {script}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_live_preview_updates_in_chromium_as_the_editor_saves() {
    use crate::support::watch::Watch;
    let project = Project::example();
    let watch = Watch::start(&project, &[ISSUE]);
    runtime().block_on(async {
        let browser = match Browser::start().await {
            Ok(browser) => browser,
            Err(why) => {
                skip("browser::the_live_preview_updates_in_chromium", &why);
                return;
            }
        };
        let c = &browser.client;
        c.goto(&watch.url).await.expect("open the preview");
        let start = std::time::Instant::now();
        until(c, "return document.body.dataset.generation === '1'", start).await;
        // The email itself, in its frame.
        c.enter_frame(0).await.expect("the frame");
        let name = c
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(Locator::Css("h1.name"))
            .await
            .expect("masthead");
        assert_eq!(name.text().await.expect("text"), "HSJ Catch Up");
        c.enter_parent_frame().await.expect("back");

        // Plain text, then the phone frame.
        c.find(Locator::Css("button[data-view=text]"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        let text = c.find(Locator::Css("#text")).await.expect("text");
        assert!(text.is_displayed().await.expect("shown"));
        assert!(text.text().await.expect("text").contains("HSJ CATCH UP"));
        assert!(
            !c.find(Locator::Css("#email"))
                .await
                .expect("frame")
                .is_displayed()
                .await
                .expect("hidden")
        );
        c.find(Locator::Css("button[data-view=phone]"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        // A 375px screen inside a 12px bezel.
        assert_eq!(
            js(c, "return document.getElementById('email').clientWidth").await,
            375
        );

        // A save shows without a reload.
        let original = project.read(ISSUE);
        let saved = std::time::Instant::now();
        project.write(
            ISSUE,
            original.replace(
                "title = \"Top stories\"",
                "title = \"Top stories this week\"",
            ),
        );
        until(c, "return document.body.dataset.generation === '2'", saved).await;
        c.enter_frame(0).await.expect("the frame");
        let mut titles = Vec::new();
        while saved.elapsed() < Duration::from_secs(2) {
            titles.clear();
            for h in c
                .find_all(Locator::Css("h2.section-title"))
                .await
                .expect("titles")
            {
                titles.push(h.text().await.expect("text"));
            }
            if titles
                .first()
                .is_some_and(|t| t.eq_ignore_ascii_case("Top stories this week"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            titles
                .first()
                .is_some_and(|t| t.eq_ignore_ascii_case("Top stories this week")),
            "{titles:?}"
        );
        c.enter_parent_frame().await.expect("back");

        // A mistake shows check's diagnostic in place of the email.
        let saved = std::time::Instant::now();
        project.write(
            ISSUE,
            original.replace("\"002/debt-mountain\"", "\"002/debt-mountin\""),
        );
        until(
            c,
            "return !document.getElementById('problems').hidden",
            saved,
        )
        .await;
        let problems = c
            .find(Locator::Css("#problems"))
            .await
            .expect("problems")
            .text()
            .await
            .expect("text");
        assert!(
            problems.contains("unknown story `002/debt-mountin`"),
            "{problems}"
        );
        assert!(
            problems.contains("did you mean `002/debt-mountain`?"),
            "{problems}"
        );
        browser.close().await;
    });
}

/// See: issue 18, item 15. A failing browser test left Chromium running.
#[test]
fn a_failing_browser_test_leaves_no_browser_running() {
    let runtime = crate::support::browser::runtime();
    let browser = match runtime.block_on(Browser::start()) {
        Ok(browser) => browser,
        Err(why) => {
            return crate::support::skip(
                "browser::a_failing_browser_test_leaves_no_browser_running",
                &why,
            );
        }
    };
    let profile = browser.profile().to_path_buf();
    let running = || {
        std::process::Command::new("pgrep")
            .arg("-f")
            .arg(&profile)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    assert!(!running().is_empty(), "Chromium runs while the test does");
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _browser = browser;
        panic!("a test that fails with its browser open");
    }));
    assert!(failed.is_err());
    // SIGKILL is sent at once; give the processes a moment to go.
    let killed = std::time::Instant::now();
    while !running().is_empty() && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(running(), "", "processes left running");
}

/// A reader joins in Chromium: the form (with its consent box), the
/// confirmation message, the link opened (which, like a scanner's visit,
/// confirms nobody), and the button; the next list send reaches them.
/// See: issue 22.
#[test]
fn a_reader_joins_from_the_form_in_chromium_and_gets_the_next_send() {
    use crate::signup::{confirmation_link, project, wait_until};
    let (project, server, port) = project("checkbox = true");
    let service = project.serve(port);
    let ran = runtime().block_on(async {
        let browser = match Browser::start().await {
            Ok(browser) => browser,
            Err(why) => {
                skip("browser::a_reader_joins_from_the_form_in_chromium", &why);
                return false;
            }
        };
        let c = &browser.client;
        c.goto(&service.url("/subscribe")).await.expect("the form");
        let field = |css: &'static str| c.find(Locator::Css(css));
        field("#email")
            .await
            .expect("email")
            .send_keys("joiner@nhs.example")
            .await
            .expect("type");
        field("#name")
            .await
            .expect("name")
            .send_keys("Jo Iner")
            .await
            .expect("type");
        // The box is required: unticked, the browser does not send the form.
        field("button[type=submit]")
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            server.deliveries().is_empty(),
            "not sent without the box ticked"
        );
        field("#consent")
            .await
            .expect("box")
            .click()
            .await
            .expect("tick");
        press(c, Locator::Css("button[type=submit]"), "Check your inbox").await;

        let link = confirmation_link(&server, "joiner@nhs.example");
        // Opened as a scanner running the page would: nothing confirmed.
        c.goto(&link).await.expect("open the link");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let heading = c
            .find(Locator::Css("h1"))
            .await
            .expect("h1")
            .text()
            .await
            .expect("text");
        assert_eq!(heading, "One more step");
        assert!(
            !project
                .read("state/signups.jsonl")
                .contains("\"confirmed\"")
        );
        press(c, Locator::Css("button[type=submit]"), "You are subscribed").await;
        browser.close().await;
        true
    });
    if !ran {
        return;
    }
    wait_until(|| {
        project
            .read("config/subscribers.csv")
            .contains("joiner@nhs.example,Jo Iner,")
    });
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    assert!(
        server
            .deliveries()
            .iter()
            .filter(|d| d.rcpt == "joiner@nhs.example")
            .count()
            == 2
    );
}

/// At 320px nothing in the live preview scrolls sideways, in any view,
/// and each warning is shown in full, as `check` prints it. See: issue 23.
#[test]
fn the_live_preview_fits_a_320px_screen_and_shows_warnings_in_full() {
    use crate::support::watch::Watch;
    let project = Project::example();
    // A story long enough for Gmail's clip: one warning.
    project.long_story();
    let mut issue = project.read(ISSUE);
    issue.push_str("\n[[sections]]\ntitle = \"Long\"\nstories = [\"009/a-very-long-story\"]\n");
    project.write(ISSUE, &issue);
    let watch = Watch::start(&project, &[ISSUE]);
    runtime().block_on(async {
        let browser = match Browser::start().await {
            Ok(browser) => browser,
            Err(why) => {
                skip("browser::the_live_preview_fits_a_320px_screen", &why);
                return;
            }
        };
        let c = &browser.client;
        c.set_window_size(320, 800).await.expect("size");
        c.goto(&watch.url).await.expect("open the preview");
        until(
            c,
            "return document.body.dataset.generation === '1'",
            std::time::Instant::now(),
        )
        .await;
        let warnings = c.find(Locator::Css("#warnings")).await.expect("warnings");
        assert!(warnings.is_displayed().await.expect("shown"));
        let text = warnings.text().await.expect("text");
        assert!(
            text.starts_with("warning: the HTML part is ")
                && text.contains("Gmail clips messages over 102.0 KB"),
            "{text}"
        );
        assert_eq!(
            js(c, "return window.innerWidth").await,
            320,
            "the window is 320px wide"
        );
        for view in ["html", "text", "phone"] {
            c.find(Locator::Css(&format!("button[data-view={view}]")))
                .await
                .expect("button")
                .click()
                .await
                .expect("click");
            let wide = js(c, "return document.documentElement.scrollWidth").await;
            assert!(
                wide.as_u64().is_some_and(|w| w <= 320),
                "{view}: {wide} px wide"
            );
        }
        browser.close().await;
    });
}
