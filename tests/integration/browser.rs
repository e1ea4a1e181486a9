//! The web pages in a real browser (headless Chromium over WebDriver): the
//! unsubscribe link from a real sent message, its button, and the archive.
//! See: issue 10.

use std::time::Duration;

use fantoccini::Locator;

use crate::support::browser::Browser;
use crate::support::smtp::SmtpServer;
use crate::support::{Project, mime, skip};

const ISSUE: &str = "config/issues/2018-07-27.toml";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn a_reader_unsubscribes_with_the_button_and_reads_the_archive_in_chromium() {
    let server = SmtpServer::start(&[]);
    let project = Project::copy_of_repo();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    project.expect(&["send", ISSUE, "--all"]).code(0);
    let _service = project.serve(port);

    // The link a reader clicks: the one in their own message's footer.
    let delivery = server
        .deliveries()
        .into_iter()
        .find(|d| d.rcpt == "reader2@nhs.example")
        .expect("delivered");
    let html = mime::parse(&server.message(delivery.n)).html;
    let link = scraper::Html::parse_document(&html)
        .select(&scraper::Selector::parse("td.footer a").expect("selector"))
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
        c.find(Locator::Css("button[type=submit]"))
            .await
            .expect("the button")
            .click()
            .await
            .expect("click");
        let after = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//h1[.='You are unsubscribed']"))
            .await
            .expect("the confirmation page");
        assert_eq!(after.text().await.expect("text"), "You are unsubscribed");
        let rows = std::fs::read_to_string(&list).expect("suppressed.csv");
        assert!(
            rows.lines()
                .any(|l| l.starts_with("reader2@nhs.example,unsubscribe,")),
            "{rows}"
        );

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
