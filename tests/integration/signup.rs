//! Readers joining: the form, the confirmation message and its page, the
//! limits, mail scanners, and the join surviving `kill -9`. See: issue 22.

use std::time::Duration;

use crate::support::smtp::SmtpServer;
use crate::support::web::{Answer, Service, request, request_with};
use crate::support::{Project, mime};

const ISSUE: &str = "config/issues/2018-07-27.toml";

pub const CONSENT: &str = "Send me HSJ Catch Up every Friday. I can unsubscribe at any time.";

/// The example project with `[subscribe]` (`extra` adds settings), an SMTP
/// server for its confirmations, and two readers on the list; the service
/// is not started.
pub fn project(extra: &str) -> (Project, SmtpServer, u16) {
    let server = SmtpServer::start(&[]);
    let project = Project::example();
    let port = project.use_web();
    project.use_smtp(server.port, "");
    project.subscribers(2, "");
    let mut settings = project.read("config/newsletter.toml");
    settings.push_str(&format!(
        "\n[subscribe]\nconsent = \"{CONSENT}\"\n{extra}\n"
    ));
    project.write("config/newsletter.toml", settings);
    (project, server, port)
}

/// The form's POST, as a browser sends it.
pub fn sign_up(service: &Service, fields: &str) -> Answer {
    request(
        "POST",
        &service.url("/subscribe"),
        Some("application/x-www-form-urlencoded"),
        fields.as_bytes(),
    )
}

/// The confirmation link in the message the server got for `to` (the
/// last one, if several).
pub fn confirmation_link(server: &SmtpServer, to: &str) -> String {
    server.wait_for_rcpt(to, Duration::from_secs(10));
    let delivery = server
        .deliveries()
        .into_iter()
        .filter(|d| d.rcpt == to)
        .last()
        .expect("a confirmation");
    let message = mime::parse(&server.message(delivery.n));
    message
        .text
        .split_whitespace()
        .find(|w| w.contains("/confirm/"))
        .expect("a confirmation link")
        .to_string()
}

/// The form token on a confirmation page.
pub fn form_token(page: &str) -> String {
    let document = scraper::Html::parse_document(page);
    let selector = scraper::Selector::parse("form input[name=form]").expect("selector");
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .expect("the page's form token")
        .to_string()
}

fn press(link: &str, form: &str) -> Answer {
    request_with(
        "POST",
        link,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("form={form}").as_bytes(),
    )
}

fn signups(project: &Project) -> Vec<serde_json::Value> {
    std::fs::read_to_string(project.path().join("state/signups.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn events(project: &Project) -> Vec<String> {
    signups(project)
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["event"].as_str().unwrap_or(""),
                r["email"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_reader_signs_up_confirms_with_the_button_and_gets_the_next_send() {
    let (project, server, port) = project("");
    let service = project.serve(port);
    let form = request("GET", &service.url("/subscribe"), None, b"");
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(CONSENT),
        "the consent wording: {}",
        form.body
    );

    let answer = sign_up(
        &service,
        "email=New.Reader%40nhs.example&name=New+Reader&consent=yes&website=",
    );
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("Check your inbox"), "{}", answer.body);
    let link = confirmation_link(&server, "New.Reader@nhs.example");
    let confirmation = mime::parse(
        &server.message(
            server
                .deliveries()
                .iter()
                .find(|d| d.rcpt == "New.Reader@nhs.example")
                .expect("sent")
                .n,
        ),
    );
    assert_eq!(
        confirmation.subject,
        "Confirm your subscription to HSJ Catch Up"
    );
    assert_eq!(
        events(&project)[..1],
        ["asked New.Reader@nhs.example".to_string()]
    );

    // Opening the link (twice, and its HEAD) confirms nobody.
    for method in ["GET", "HEAD", "GET"] {
        let seen = request(method, &link, None, b"");
        assert_eq!(seen.status, 200, "{method}");
    }
    let page = request("GET", &link, None, b"");
    assert!(page.body.contains("One more step"), "{}", page.body);
    assert!(!events(&project).iter().any(|e| e.starts_with("confirmed")));
    assert!(
        !project
            .read("config/subscribers.csv")
            .contains("New.Reader")
    );

    // A POST without the page's form token is refused.
    assert_eq!(press(&link, "forged").status, 403);
    let done = press(&link, &form_token(&page.body));
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You are subscribed"), "{}", done.body);
    wait_until(|| {
        project
            .read("config/subscribers.csv")
            .contains("New.Reader@nhs.example")
    });
    assert_eq!(
        project.read("config/subscribers.csv"),
        "email,name,team\n\
         reader1@nhs.example,Reader 1,team1\n\
         reader2@nhs.example,Reader 2,team2\n\
         New.Reader@nhs.example,New Reader,\n"
    );
    let record = &signups(&project)[0];
    assert_eq!(record["wording"], CONSENT);
    assert_eq!(record["source"], "form");
    assert!(
        record.get("client").is_none(),
        "no client address by default"
    );
    wait_until(|| events(&project).iter().any(|e| e.starts_with("joined")));
    let kinds: Vec<String> = events(&project);
    assert_eq!(
        kinds,
        [
            "asked New.Reader@nhs.example",
            "mailed New.Reader@nhs.example",
            "confirmed New.Reader@nhs.example",
            "joined New.Reader@nhs.example"
        ]
    );
    project
        .expect(&["send", ISSUE, "--all"])
        .sent_to_all("2018-07-27", 3);
    assert!(
        server
            .deliveries()
            .iter()
            .any(|d| d.rcpt == "New.Reader@nhs.example"
                && mime::parse(&server.message(d.n)).subject != confirmation.subject)
    );
}

pub fn wait_until(done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(15), "not within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}
